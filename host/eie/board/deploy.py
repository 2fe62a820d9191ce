"""``eie deploy``: write the bundle that goes to the board (host side; read by ``eie.board.bundle``).

One directory holds everything the board needs: the model image, the
configuration (YAML, and as JSON in the manifest), test vectors with the
emulator's outputs, the rendered kernel build directory, optionally the
overlay's ``.bit``/``.hwh``, and ``manifest.json`` with every file's sha256.
The image's scales come from the calibration given (``calib``), else the one
stored with the model, else the default format (reported, never silent).

Deploying again into a bundle (``-o`` a directory eie marked): the files the
previous deploy wrote (its ``manifest.json``) that this one does not write
are removed, e.g. an earlier ``--overlay``'s ``.bit``/``.hwh`` or a kernel
source the renderer no longer writes, so the new manifest describes the
whole bundle. Nothing else is touched: a file the previous manifest does not
list is never removed (e.g. a Vitis HLS project built in ``build/``), and is
refused when this deploy would overwrite it (a ``build/`` without eie's mark,
a file of the user's named like a bundle file) unless ``force``; a listed
file changed since (its sha256 differs) is kept and reported, not removed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from eie.board.bundle import BUILD, CONFIG, FORMAT, FORMAT_VERSION, IMAGE, MANIFEST, VECTORS, sha256_file
from eie.errors import ConfigError
from eie.safeio import MARKER, atomic_open, atomic_write, prepare_output_dir, refuse_inputs_in


def overlay_files(overlay_dir: str | Path) -> tuple[Path, Path]:
    """The one ``NAME.bit`` in ``overlay_dir`` and its ``NAME.hwh`` (pynq needs both, same name)."""
    d = Path(overlay_dir)
    if not d.is_dir():
        raise ConfigError(f"--overlay {str(d)!r} is not a directory (expected one holding NAME.bit and NAME.hwh)")
    bits = sorted(d.glob("*.bit"))
    hwhs = sorted(d.glob("*.hwh"))
    if len(bits) != 1:
        found = ", ".join(p.name for p in bits) or "none"
        raise ConfigError(f"--overlay {str(d)!r} must hold exactly one .bit file (found {found})")
    hwh = bits[0].with_suffix(".hwh")
    if not hwh.is_file():
        found = ", ".join(p.name for p in hwhs) or "none"
        raise ConfigError(
            f"--overlay {str(d)!r}: {bits[0].name} has no {hwh.name} next to it (found .hwh: {found}); "
            "pynq needs the .hwh of the same name"
        )
    return bits[0], hwh


def _inside(name: str) -> bool:
    p = Path(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts


def previous_files(out_dir: str | Path) -> dict[str, str] | None:
    """What an earlier ``eie deploy`` wrote into ``out_dir``: {relative path: sha256}, from its manifest.

    None when ``out_dir`` is no bundle eie wrote (no mark, no readable
    manifest of this format): then nothing in it counts as the previous deploy's.
    """
    out = Path(out_dir)
    if not (out / MARKER).is_file():
        return None
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None
    if not isinstance(files, dict):
        return None
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str) and _inside(k)}


def refuse_foreign(out: Path, names: list[str], previous: dict[str, str] | None, force: bool) -> None:
    """Refuse to overwrite, in a bundle eie wrote before, what that deploy did not write (unless ``force``).

    ``names``: the top-level entries this deploy writes. Each that exists must
    be listed in the previous manifest (or be the manifest); ``build/`` must
    carry eie's mark. A marked directory without a manifest (another eie
    command's output, an interrupted deploy) is eie's as a whole.
    """
    if force or not (out / MARKER).is_file():
        return  # a new or empty directory (prepare_output_dir refuses a user's), or --force
    build = out / BUILD
    if build.exists() and not (build.is_dir() and (build / MARKER).is_file()):
        raise ConfigError(
            f"{str(build)!r} was not written by eie (no {MARKER} mark in it) and the bundle's kernel sources go "
            "there: move it out of the bundle, or pass --force to write into it"
        )
    if previous is None:
        return
    for name in names:
        if name in (MANIFEST, BUILD) or name in previous:
            continue
        path = out / name
        if path.exists() or path.is_symlink():
            raise ConfigError(
                f"{str(path)!r} is not a file the previous 'eie deploy' wrote (its {MANIFEST} does not list it) "
                "and this deploy writes a file of that name: move it out of the bundle, or pass --force"
            )


def remove_stale(out: Path, previous: dict[str, str], written: set[str], keep: tuple = ()) -> tuple[list, list]:
    """Remove the previous deploy's files that this one did not write; ``(removed, kept)`` relative paths.

    A file changed since the previous deploy (sha256 differs from its
    manifest), and any path in ``keep`` (this run's inputs), is kept.
    """
    removed, kept = [], []
    protected = [Path(k).resolve() for k in keep if k is not None]
    for name in sorted(set(previous) - written):
        path = out / name
        if path.is_symlink() or not path.is_file():
            continue
        if path.resolve() in protected or sha256_file(path) != previous[name]:
            kept.append(name)
            continue
        path.unlink()
        removed.append(name)
        parent = path.parent
        while parent != out and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return removed, kept


def _save_npy(path: Path, a: np.ndarray) -> None:
    with atomic_open(path, "wb") as f:
        np.save(f, a, allow_pickle=False)


def deploy(
    model,
    out_dir: str | Path,
    config=None,
    calib: np.ndarray | None = None,
    overlay: str | Path | None = None,
    vectors: int = 16,
    seed: int = 0,
    force: bool = False,
    inputs: tuple = (),
    board: str | None = None,
    n_pes: int | None = None,
    reports: dict[str, str] | None = None,
) -> dict:
    """Write the bundle into ``out_dir``; returns the manifest (plus ``calibration`` details).

    ``model``: a CompressedModel or its .npz path; ``config``: an
    AcceleratorConfig, a YAML path or None (the default hardware);
    ``calib``: representative float inputs (else the model's stored
    calibration, else the default format); ``overlay``: a directory with
    ``NAME.bit`` and ``NAME.hwh``; ``vectors``: test vectors (the first rows of
    ``calib`` when given, else random inputs inside the input format's range);
    ``inputs``: paths the bundle must not overwrite. Into a bundle an
    earlier deploy wrote, the files it listed that this deploy does not
    write are removed (``removed`` in the result; ``kept`` those changed
    since, which stay); files it did not write are never removed, and
    refused if this deploy would overwrite them (unless ``force``).

    ``board`` / ``n_pes`` pin those fields; what is not pinned is chosen for
    the model (eie.hardware.choice: the largest PE count that fits the board,
    depths sized to the model), and ``chosen`` in the result says what. A
    deploy that fails leaves no new directory behind. ``reports``: {file
    name: text} written into the bundle and listed in its manifest (``eie
    deploy --plan`` writes the plan and the estimate so).
    """
    from eie.compression.model import CompressedModel
    from eie.hardware.choice import choose_config
    from eie.hardware.config import TOP
    from eie.hardware.target import calibration_info
    from eie.kernel.abi import VLNV

    if vectors < 1:
        raise ConfigError(f"--vectors={vectors} must be at least 1")
    out = Path(out_dir)
    bit = hwh = None
    if overlay is not None:
        bit, hwh = overlay_files(overlay)
    from eie.board.wheel import wheel_name

    wheel = wheel_name()
    reports = dict(reports or {})
    names = [IMAGE, CONFIG, MANIFEST, BUILD, wheel, *VECTORS.values(), *reports] + ([bit.name, hwh.name] if bit else [])
    refuse_inputs_in(out, names, [*inputs, config if isinstance(config, (str, Path)) else None])
    if overlay is not None and out.resolve() == Path(overlay).resolve():
        raise ConfigError("--overlay is the bundle directory itself: choose another output directory")
    if not isinstance(model, CompressedModel):
        model = CompressedModel.load(model)
    config_path = config if isinstance(config, (str, Path)) else None
    choice = choose_config(model, config, board, n_pes, calib, vectors, seed)
    cfg, qm, xs = choice.config, choice.qm, choice.xs
    if cfg.top != TOP:
        # pynq binds the driver to the IP by its VLNV, which names the top function.
        raise ConfigError(
            f"top={cfg.top!r}: a bundle for the board needs the kernel's top function {TOP!r} (the PYNQ driver "
            f"binds the IP {VLNV}; an IP named after another top gets no driver). Remove 'top' from the "
            "configuration, or use 'eie generate' to render a kernel with another top for your own design"
        )
    if bit is not None:
        from eie.board.overlay import require_overlay

        require_overlay(bit, hwh, cfg)
    calibration = calibration_info(qm)
    previous = previous_files(out)
    if out.is_dir():
        refuse_foreign(out, names, previous, force)
    created = not out.exists()
    prepare_output_dir(out, force)
    try:
        for name, text in reports.items():
            atomic_write(out / name, text)
        manifest = _write(
            out, model, cfg, qm, xs, vectors, bit, hwh, overlay, previous, inputs, config_path, calibration, reports
        )
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)  # a failed deploy into a new directory leaves nothing
        raise
    return {**manifest, "chosen": choice.to_report, "pinned": choice.pinned}


def _write(
    out, model, cfg, qm, xs, vectors, bit, hwh, overlay, previous, inputs, config_path, calibration, reports=()
) -> dict:
    from eie import __version__
    from eie.arithmetic.emulator import Emulator, dequantize_output, quantize_input
    from eie.format.image import H_CHECKSUM, save_image
    from eie.kernel.render import render

    # Test vectors: float, integer, and the emulator's outputs (logical order).
    x = np.asarray(xs[:vectors], dtype=np.float64)
    x_int = quantize_input(qm, x)
    emu = Emulator(qm)
    y_phys = emu.run_layers(x_int)
    y_int = np.empty_like(y_phys)
    y_int[:, qm.out_perm] = y_phys
    arrays = {"inputs": x, "inputs_int": x_int, "expected_int": y_int, "expected": dequantize_output(qm, y_int)}
    for key, name in VECTORS.items():
        _save_npy(out / name, arrays[key])

    image = qm.to_image()
    save_image(out / IMAGE, image)
    cfg.to_yaml(out / CONFIG)
    config_text = (out / CONFIG).read_bytes()
    rendered = render(cfg, out / BUILD, qm, x_int)
    if not (out / BUILD / MARKER).exists():
        atomic_write(out / BUILD / MARKER, "This directory was written by eie-pynq; its files may be regenerated.\n")
    # The toolkit itself, for the board: `pip install BUNDLE/<wheel>` (numpy only; pynq is on the image).
    from eie.board.wheel import write_wheel

    wheel = write_wheel(out).name
    overlay_entry = None
    if bit is not None:
        for src in (bit, hwh):
            shutil.copyfile(src, out / f".{src.name}.tmp")
            (out / f".{src.name}.tmp").replace(out / src.name)
        # Names inside the bundle only: the host's folder means nothing on the board.
        overlay_entry = {"bit": bit.name, "hwh": hwh.name}

    # The manifest lists what this deploy wrote, nothing else that may be in the directory.
    written = [IMAGE, CONFIG, wheel, *VECTORS.values(), *reports] + ([bit.name, hwh.name] if bit else [])
    written += [Path(f).resolve().relative_to(out.resolve()).as_posix() for f in rendered.files]
    files = {rel: sha256_file(out / rel) for rel in sorted(set(written))}
    a = qm.params.act_bits
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "toolkit": {"name": "eie-pynq", "version": __version__},
        "numpy": np.__version__,
        "config": cfg.to_dict(),
        "config_file": CONFIG,
        "config_sha256": hashlib.sha256(config_text).hexdigest(),
        "config_source": None if config_path is None else str(config_path),
        "hardware": {"board": cfg.board, "n_pes": cfg.n_pes, "clock_mhz": cfg.clock, "part": cfg.fpga_part},
        "image": {"file": IMAGE, "crc": int(image[H_CHECKSUM]), "words": int(image.size)},
        "input": {
            "features": qm.in_features,
            "bits": a,
            "frac_bits": int(qm.fa_in),
            "scale": 2.0**-qm.fa_in,
            "range": calibration["input_range"],
        },
        "output": {"features": qm.out_features, "bits": a, "frac_bits": int(qm.fa_out), "scale": 2.0**-qm.fa_out},
        "layers": [
            {
                "name": l.name,
                "shape": list(l.shape),
                "fa_in": int(l.fa_in),
                "fw": int(l.fw),
                "fa_out": int(l.fa_out),
                "relu": bool(l.relu),
                "ternary": bool(l.ternary),
                # What the chosen formats cost (eie.arithmetic.quant): merged centroids, errors, notes.
                **{k: q.get(k) for k in ("fw_codebook", "merged", "weight_error", "output_error", "notes")},
            }
            for l, q in zip(qm.layers, _layer_infos(qm))
        ],
        "accumulator": dict((getattr(qm, "info", None) or {}).get("acc_bits") or {"chosen": qm.params.acc_bits}),
        "calibration": {k: v for k, v in calibration.items() if k != "input_range"},
        "vectors": {"count": int(x.shape[0]), **VECTORS},
        "build_dir": BUILD,
        "wheel": wheel,
        "install": f"pip install {wheel}",
        "overlay": overlay_entry,
        "files": files,
    }
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    removed, kept = remove_stale(out, previous or {}, set(files), inputs) if previous else ([], [])
    return {**manifest, "removed": removed, "kept": kept}


def _layer_infos(qm) -> list[dict]:
    """The quantiser's per-layer record (formats, errors, notes), or empty records for a model without one."""
    infos = list((getattr(qm, "info", None) or {}).get("layers") or [])
    return infos if len(infos) == len(qm.layers) else [{} for _ in qm.layers]
