"""``eie deploy``: write the bundle that goes to the board (host side; read by ``eie.board.bundle``).

One directory holds everything the board needs: the model image, the
configuration (YAML, and as JSON in the manifest), test vectors with the
emulator's outputs, the rendered kernel build directory, optionally the
overlay's ``.bit``/``.hwh``, and ``manifest.json`` with every file's sha256.
The image's scales come from the calibration given (``calib``), else the one
stored with the model, else the default format (reported, never silent).
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
) -> dict:
    """Write the bundle into ``out_dir``; returns the manifest (plus ``calibration`` details).

    ``model``: a CompressedModel or its .npz path; ``config``: an
    AcceleratorConfig, a YAML path or None (the default hardware);
    ``calib``: representative float inputs (else the model's stored
    calibration, else the default format); ``overlay``: a directory with
    ``NAME.bit`` and ``NAME.hwh``; ``vectors``: test vectors (the first rows of
    ``calib`` when given, else random inputs inside the input format's range);
    ``inputs``: paths the bundle must not overwrite.
    """
    from eie import __version__
    from eie.arithmetic.emulator import Emulator, dequantize_output, quantize_input
    from eie.compression.model import CompressedModel
    from eie.format.image import H_CHECKSUM, save_image
    from eie.hardware.render import render
    from eie.hardware.resources import check_fits_board
    from eie.hardware.target import calibration_info, quantized_model

    if vectors < 1:
        raise ConfigError(f"--vectors={vectors} must be at least 1")
    out = Path(out_dir)
    bit = hwh = None
    if overlay is not None:
        bit, hwh = overlay_files(overlay)
    names = [IMAGE, CONFIG, MANIFEST, BUILD, *VECTORS.values()] + ([bit.name, hwh.name] if bit else [])
    refuse_inputs_in(out, names, [*inputs, config if isinstance(config, (str, Path)) else None])
    if overlay is not None and out.resolve() == Path(overlay).resolve():
        raise ConfigError("--overlay is the bundle directory itself: choose another output directory")
    if not isinstance(model, CompressedModel):
        model = CompressedModel.load(model)
    config_path = config if isinstance(config, (str, Path)) else None
    cfg, qm, xs = quantized_model(model, config, calib, vectors, seed)
    check_fits_board(cfg)
    calibration = calibration_info(qm)
    prepare_output_dir(out, force)

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
    render(cfg, out / BUILD, qm, x_int)
    if not (out / BUILD / MARKER).exists():
        atomic_write(out / BUILD / MARKER, "This directory was written by eie-pynq; its files may be regenerated.\n")
    overlay_entry = None
    if bit is not None:
        for src in (bit, hwh):
            shutil.copyfile(src, out / f".{src.name}.tmp")
            (out / f".{src.name}.tmp").replace(out / src.name)
        overlay_entry = {"bit": bit.name, "hwh": hwh.name, "source": str(Path(overlay))}

    files = {}
    for f in sorted(out.rglob("*")):
        rel = f.relative_to(out).as_posix()
        if f.is_file() and rel != MANIFEST and f.name != MARKER:
            files[rel] = sha256_file(f)
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
            }
            for l in qm.layers
        ],
        "calibration": {k: v for k, v in calibration.items() if k != "input_range"},
        "vectors": {"count": int(x.shape[0]), **VECTORS},
        "build_dir": BUILD,
        "overlay": overlay_entry,
        "files": files,
    }
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest
