"""A compressed LSTM as a deployment bundle: the gate matrices on the kernel, the cell on the host.

``deploy_lstm`` writes, like ``eie.board.deploy.deploy`` for an MLP:

* ``lstm/``: ``lstm.json`` and one model image per gate matrix and the head
  (``eie.arithmetic.lstm.save_quant_lstm``);
* ``config.yaml``: one configuration that holds every part;
* ``test_inputs.npy`` (float sequences B x T x I) and ``test_expected.npy``
  (the emulator's outputs through the same host cell);
* ``build/``: the rendered kernel;
* ``manifest.json`` with ``"kind": "lstm"``, the spec, every file's sha256.

``LSTMBundle.open`` checks the files against the manifest and runs float
sequences with the kernel on ``emulator``, ``csim`` or ``cosim`` (the
sigmoid/tanh cell update on the host, ``eie.arithmetic.lstm.LSTMRunner``).
Reading and the emulator need numpy only (board-safe); the ``board``
backend for LSTM bundles (the overlay loaded once per gate matrix) is not
built yet.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from eie.board.bundle import (
    BUILD,
    CONFIG,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    BundleError,
    check_listed_files,
    sha256_file,
)
from eie.errors import ConfigError
from eie.safeio import MARKER, atomic_open, atomic_write, prepare_output_dir, refuse_inputs_in

KIND = "lstm"
LSTM_DIR = "lstm"
INPUTS = "test_inputs.npy"
EXPECTED = "test_expected.npy"
LSTM_BACKENDS = ("emulator", "csim", "csim-concurrent", "cosim")


def deploy_lstm(
    model,
    out_dir: str | Path,
    config=None,
    calib: np.ndarray | None = None,
    vectors: int = 16,
    seed: int = 0,
    force: bool = False,
    inputs: tuple = (),
) -> dict:
    """Write the LSTM bundle into ``out_dir`` (a new or eie-written directory); returns the manifest."""
    from eie import __version__
    from eie.arithmetic.emulator import quantize_input
    from eie.arithmetic.lstm import EmulatorBackend, LSTMRunner, save_quant_lstm
    from eie.board.deploy import previous_files, refuse_foreign
    from eie.hardware.resources import check_fits_board
    from eie.hardware.target import quantized_lstm
    from eie.kernel.render import render

    if vectors < 1:
        raise ConfigError(f"--vectors={vectors} must be at least 1")
    out = Path(out_dir)
    names = [LSTM_DIR, CONFIG, MANIFEST, BUILD, INPUTS, EXPECTED]
    refuse_inputs_in(out, names, [*inputs, config if isinstance(config, (str, Path)) else None])
    cfg, q, xs = quantized_lstm(model, config, calib, vectors, seed)
    check_fits_board(cfg)
    previous = previous_files(out)
    if out.is_dir():
        refuse_foreign(out, names, previous, force)
    prepare_output_dir(out, force)

    x = np.asarray(xs[:vectors], dtype=np.float64)
    expected = LSTMRunner(q, EmulatorBackend()).run(x)
    images = save_quant_lstm(q, out / LSTM_DIR)
    for name, a in ((INPUTS, x), (EXPECTED, expected)):
        with atomic_open(out / name, "wb") as f:
            np.save(f, a, allow_pickle=False)
    cfg.to_yaml(out / CONFIG)
    first = q.models[0]
    # The kernel's testbench runs the first gate matrix on the first test step ([x_0; h = 0]).
    v0 = np.concatenate([x[:, 0, :], np.zeros((x.shape[0], first.in_features - x.shape[2]))], axis=1)
    rendered = render(cfg, out / BUILD, first, quantize_input(first, v0))
    if not (out / BUILD / MARKER).exists():
        atomic_write(out / BUILD / MARKER, "This directory was written by eie-pynq; its files may be regenerated.\n")
    written = [CONFIG, INPUTS, EXPECTED, f"{LSTM_DIR}/lstm.json"]
    written += [f"{LSTM_DIR}/{Path(f).name}" for f in images]
    written += [Path(f).resolve().relative_to(out.resolve()).as_posix() for f in rendered.files]
    files = {rel: sha256_file(out / rel) for rel in sorted(set(written))}
    calib_source = [m.info.get("calibration") for m in q.models]
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "toolkit": {"name": "eie-pynq", "version": __version__},
        "numpy": np.__version__,
        "config": cfg.to_dict(),
        "config_file": CONFIG,
        "config_sha256": hashlib.sha256((out / CONFIG).read_bytes()).hexdigest(),
        "config_source": str(config) if isinstance(config, (str, Path)) else None,
        "hardware": {"board": cfg.board, "n_pes": cfg.n_pes, "clock_mhz": cfg.clock, "part": cfg.fpga_part},
        "lstm": {
            "spec": q.spec.to_dict(),
            "images": [f"{LSTM_DIR}/{Path(f).name}" for f in images],
            "image_crcs": [_crc(m) for m in q.models],
        },
        "input": {"shape": ["B", "T", int(q.spec.input_size)]},
        "output": {"features": int(expected.shape[-1])},
        "accumulator": dict(first.info.get("acc_bits") or {"chosen": first.params.acc_bits}),
        "calibration": {"source": calib_source[0] if len(set(calib_source)) == 1 else "partial"},
        "warning": q.info.get("warning"),
        "vectors": {"count": int(x.shape[0]), "inputs": INPUTS, "expected": EXPECTED},
        "build_dir": BUILD,
        "overlay": None,
        "files": files,
    }
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest


def _crc(qm) -> int:
    from eie.format.image import H_CHECKSUM

    return int(qm.to_image()[H_CHECKSUM])


class LSTMBundle:
    """A checked LSTM bundle: ``manifest``, ``q`` (the QuantLSTM of its images), ``path``."""

    def __init__(self, path: Path, manifest: dict, q):
        self.path, self.manifest, self.q = path, manifest, q

    @classmethod
    def open(cls, path: str | Path, manifest: dict | None = None) -> LSTMBundle:
        from eie.arithmetic.lstm import load_quant_lstm

        root = Path(path)
        if manifest is None:
            manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("kind") != KIND:
            raise BundleError(f"{root / MANIFEST}: not an LSTM bundle")
        check_listed_files(root, manifest.get("files") or {})
        q = load_quant_lstm(root / LSTM_DIR)
        return cls(root, manifest, q)

    @property
    def input_size(self) -> int:
        return int(self.q.spec.input_size)

    def runner(self, backend: str = "emulator", trace: bool = False):
        from eie.arithmetic.lstm import EmulatorBackend, LSTMRunner

        if backend == "emulator":
            be = EmulatorBackend()
        elif backend in LSTM_BACKENDS:
            from eie.board.backends import make_backend
            from eie.hardware.config import AcceleratorConfig

            be = make_backend(backend, AcceleratorConfig.from_dict(self.manifest["config"]))
        else:
            raise BundleError(
                f"backend {backend!r}: an LSTM bundle runs on {', '.join(LSTM_BACKENDS)} here (the cell runs on "
                "the host; the board backend for LSTM bundles has not been built)"
            )
        return LSTMRunner(self.q, be, trace=trace)

    def run(self, x: np.ndarray, backend: str = "emulator", timed: bool = False):
        """Float sequences (B x T x I) through the kernel and the host cell; ``timed``: (y, kernel outputs, s/seq)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise BundleError(f"inputs have shape {x.shape}; the bundle's LSTM takes (B, T, {self.input_size})")
        runner = self.runner(backend, trace=True)
        t0 = time.perf_counter()
        y = runner.run(x)
        secs = (time.perf_counter() - t0) / max(1, x.shape[0])
        if not timed:
            return y
        return y, runner.kernel_outputs, [secs] * x.shape[0]
