"""The deployment bundle on the board: read it, check it, run float inputs through the integer path.

``eie deploy`` (``eie.board.deploy``) writes a bundle directory:

* ``model.img``: the model image the kernel loads;
* ``config.yaml``: the accelerator configuration (also in the manifest as JSON);
* ``test_inputs.npy`` (float), ``test_inputs_int.npy``, ``test_expected_int.npy``
  and ``test_expected.npy``: test vectors with the emulator's outputs (logical order);
* ``build/``: the rendered kernel sources (``vitis_hls -f build.tcl -tclargs BUNDLE/build ...``);
* optionally the overlay (``<name>.bit`` and ``<name>.hwh``);
* ``manifest.json``: versions, the config (its sha256 and values), the image's
  CRC, the input/output fixed-point formats, the layer shapes, and every
  file's sha256.

This module runs on the board: numpy (and pynq for the ``board`` backend)
only; the manifest is JSON so no yaml is needed. ``Bundle.open`` refuses a
bundle whose files differ from the manifest, naming the file.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from eie.arithmetic.emulator import dequantize_output, quantize_input, unpermute
from eie.errors import EIEError
from eie.format.image import H_CHECKSUM, read_image

FORMAT = "eie-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
IMAGE = "model.img"
CONFIG = "config.yaml"
BUILD = "build"
VECTORS = {
    "inputs": "test_inputs.npy",
    "inputs_int": "test_inputs_int.npy",
    "expected_int": "test_expected_int.npy",
    "expected": "test_expected.npy",
}
RUN_BACKENDS = ("emulator", "csim", "csim-concurrent", "cosim", "board")


class BundleError(EIEError):
    """A bundle that is incomplete, altered since ``eie deploy`` wrote it, or unusable here."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_listed_files(root: Path, files: dict) -> None:
    """Every file the manifest lists is inside the bundle, present, and as 'eie deploy' wrote it."""
    for name, digest in sorted(files.items()):
        f = root / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise BundleError(f"{root / MANIFEST}: file entry {name!r} points outside the bundle")
        if not f.is_file():
            raise BundleError(f"{name}: listed in {MANIFEST} but missing from the bundle {str(root)!r}")
        if sha256_file(f) != digest:
            raise BundleError(
                f"{name}: its sha256 differs from {MANIFEST}: the file was changed after 'eie deploy' "
                "wrote the bundle; redeploy, or restore the file"
            )


def image_crc(data: bytes) -> int:
    """The image's checksum header word (CRC), as ``manifest.json`` records it."""
    if len(data) < 8 * (H_CHECKSUM + 1):
        raise BundleError(f"{IMAGE}: {len(data)} bytes is too short for a model image")
    return int(np.frombuffer(data[: 8 * (H_CHECKSUM + 1)], dtype="<u8")[H_CHECKSUM])


class Bundle:
    """A checked bundle: ``manifest`` (dict), ``qm`` (the QuantModel of model.img), ``path``."""

    def __init__(self, path: Path, manifest: dict, qm):
        self.path = path
        self.manifest = manifest
        self.qm = qm
        self._backends: dict = {}

    # -- reading -------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, check_files: bool = True) -> Bundle:
        """Read ``path/manifest.json`` and ``model.img``; with ``check_files`` every file's sha256 too."""
        root = Path(path)
        if not root.is_dir():
            raise BundleError(f"{str(root)!r} is not a bundle directory (write one with 'eie deploy MODEL.npz -o DIR')")
        mpath = root / MANIFEST
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BundleError(f"{str(root)!r} has no {MANIFEST}: not a bundle written by 'eie deploy'") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise BundleError(f"{mpath}: not valid JSON ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{mpath}: not an {FORMAT} manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(
                f"{mpath}: bundle format version {manifest.get('format_version')} is not supported "
                f"(this toolkit reads version {FORMAT_VERSION}); redeploy with this toolkit"
            )
        files = manifest.get("files")
        if not isinstance(files, dict) or IMAGE not in files:
            raise BundleError(f"{mpath}: the file list is missing or lacks {IMAGE}")
        if check_files:
            check_listed_files(root, files)
        data = (root / IMAGE).read_bytes()
        crc = image_crc(data)
        want = manifest.get("image", {}).get("crc")
        if crc != want:
            raise BundleError(f"{IMAGE}: its CRC {crc:#010x} is not the manifest's {want!r}; redeploy the bundle")
        qm = read_image(data)
        shapes = [list(layer.shape) for layer in qm.layers]
        if shapes != [layer["shape"] for layer in manifest.get("layers", [])]:
            raise BundleError(f"{IMAGE}: its layer shapes {shapes} are not the manifest's")
        return cls(root, manifest, qm)

    # -- what it holds -----------------------------------------------------------------
    @property
    def in_features(self) -> int:
        return self.qm.in_features

    @property
    def out_features(self) -> int:
        return self.qm.out_features

    def vectors(self) -> dict[str, np.ndarray]:
        """The test vectors: inputs (float), inputs_int, expected_int, expected (float)."""
        return {k: np.load(self.path / name, allow_pickle=False) for k, name in VECTORS.items()}

    def check_config(self, path: str | Path) -> dict:
        """The bundle's configuration (as a dict) if the YAML file ``path`` holds the same one, else a BundleError.

        The same bytes as the bundle's ``config.yaml`` (its sha256 in the
        manifest) match without pyyaml (the board has none); another file
        matches when the values it sets are the bundle's (read with pyyaml, on
        a host; the PE count and depths it leaves out were chosen by deploy).
        A different configuration is refused, naming the fields that differ
        and both hashes: the image was built for the bundle's.
        """
        f = Path(path)
        if not f.is_file():
            raise BundleError(f"--config {str(f)!r}: no such file")
        want = self.manifest.get("config_sha256")
        got = sha256_file(f)
        if got == want:
            return dict(self.manifest["config"])
        ours = f"the bundle's {CONFIG} (sha256 {str(want)[:12]})"
        try:
            import yaml
        except ImportError:
            raise BundleError(
                f"--config {str(f)!r} (sha256 {got[:12]}) is not byte for byte {ours}, and pyyaml is not "
                "installed here to compare their values: omit --config to use the bundle's configuration, "
                f"or pass {str(self.path / CONFIG)!r}"
            ) from None
        from eie.hardware.config import AcceleratorConfig
        from eie.hardware.streaming import SIZED_FIELDS

        given = AcceleratorConfig.from_yaml(f).to_dict()
        bundled = AcceleratorConfig.from_dict(self.manifest["config"]).to_dict()
        # What the file leaves out, deploy chose for the model (eie.hardware.choice): the PE
        # count, the accumulator width and the memory depths. Only what the file pins must agree.
        pinned = set(yaml.safe_load(f.read_text()) or {})
        for k in ("n_pes", "acc_bits", *SIZED_FIELDS):
            if k not in pinned:
                given[k] = bundled.get(k)
        if given != bundled:
            diff = ", ".join(
                f"{k}: {given.get(k)!r} here, {bundled.get(k)!r} in the bundle"
                for k in sorted(set(given) | set(bundled))
                if given.get(k) != bundled.get(k)
            )
            raise BundleError(
                f"--config {str(f)!r} (sha256 {got[:12]}) differs from {ours}: {diff}. The bundle's image and "
                "kernel were built for its own configuration: redeploy with this --config, or omit --config"
            )
        return bundled

    def overlay(self) -> Path:
        """The bundle's .bit file (``eie deploy --overlay DIR`` copied it in)."""
        bit = (self.manifest.get("overlay") or {}).get("bit")
        if not bit:
            raise BundleError(
                f"bundle {str(self.path)!r} holds no overlay: deploy with --overlay DIR (the eie.bit and eie.hwh "
                "that 'eie build --overlay' or Vivado wrote for this config)"
            )
        return self.path / bit

    # -- running -----------------------------------------------------------------------
    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float inputs (B x K) to the input's integer format (round half up, saturate)."""
        x = np.atleast_2d(np.asarray(x))
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise BundleError(f"inputs have shape {x.shape}; the bundle's model takes (B, {self.in_features})")
        return quantize_input(self.qm, x)

    def dequantize(self, y_int: np.ndarray) -> np.ndarray:
        return dequantize_output(self.qm, y_int)

    def auto_backend(self) -> tuple[str, str]:
        """(backend, why): the board where pynq finds a device and the bundle holds an overlay, else the emulator."""
        if not (self.manifest.get("overlay") or {}).get("bit"):
            return "emulator", "the bundle holds no overlay"
        try:
            import warnings

            from pynq.pl_server.device import Device

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "No devices found": said below instead
                found = bool(Device.devices)
        except Exception:  # pynq missing, or broken: the emulator, and say why
            return "emulator", "pynq is not usable here"
        if not found:
            return "emulator", "pynq finds no FPGA device here"
        return "board", "a PYNQ device and the bundle's overlay"

    def _backend(self, name: str):
        if name in self._backends:
            return self._backends[name]
        if name == "emulator":
            from eie.arithmetic.emulator import Emulator

            emu = Emulator(self.qm)
            run = emu.run_layers
        elif name in ("csim", "csim-concurrent"):
            from eie.hardware.config import AcceleratorConfig
            from eie.kernel.csim import CSim

            sim = CSim(AcceleratorConfig.from_dict(self.manifest["config"]), concurrent=name == "csim-concurrent")
            sim.load(self.qm.to_image())
            run = sim.run
        elif name == "cosim":  # the board's driver code over the C-simulation (host only)
            from eie.board.cosim import CoSimAccelerator
            from eie.hardware.config import AcceleratorConfig

            acc = CoSimAccelerator(AcceleratorConfig.from_dict(self.manifest["config"]))
            acc.load(self.qm)
            run = acc.run_int
        elif name == "board":
            from eie.board.driver import open_overlay

            try:
                import pynq  # noqa: F401
            except ImportError:
                raise BundleError(
                    "the board backend needs pynq, which is not installed here: run this on the PYNQ board "
                    "(or use --backend emulator / csim on a host)"
                ) from None
            bit = self.overlay()
            if not bit.is_file():
                raise BundleError(f"{bit.name}: the overlay named in {MANIFEST} is missing")
            ip = open_overlay(str(bit))
            ip.load(self.qm)
            run = ip.run_int
        else:
            raise BundleError(f"backend {name!r} is not one of {', '.join(RUN_BACKENDS)}")
        self._backends[name] = run
        return run

    def run_int(self, x_int: np.ndarray, backend: str = "emulator") -> np.ndarray:
        """Integer inputs (B x K) through the kernel on ``backend``: integer outputs, logical order."""
        run = self._backend(backend)
        y = np.asarray(run(np.ascontiguousarray(np.atleast_2d(x_int), dtype=np.int64)), dtype=np.int64)
        return unpermute(self.qm, y)

    def run(self, x: np.ndarray, backend: str = "emulator", timed: bool = False, batch: int = 1):
        """Float inputs through the integer path: float outputs (and integer outputs and latencies if ``timed``).

        ``timed`` runs the vectors ``batch`` at a time (one kernel start each:
        the driver passes the count in ``n_vectors``) and returns
        ``(y_float, y_int, seconds per vector)``: the wall-clock time of each
        host call shared among its vectors (for emulator/csim that is the
        host's time, not the hardware's).
        """
        x_int = self.quantize(x)
        if not timed:
            y_int = self.run_int(x_int, backend)
            return self.dequantize(y_int)
        if int(batch) < 1:
            raise BundleError(f"--batch {batch} must be at least 1")
        self._backend(backend)  # build/load before timing
        outs, secs = [], []
        for i in range(0, x_int.shape[0], int(batch)):
            chunk = x_int[i : i + int(batch)]
            t0 = time.perf_counter()
            outs.append(self.run_int(chunk, backend))
            secs += [(time.perf_counter() - t0) / chunk.shape[0]] * chunk.shape[0]
        y_int = np.concatenate(outs, axis=0) if outs else np.zeros((0, self.out_features), np.int64)
        return self.dequantize(y_int), y_int, secs
