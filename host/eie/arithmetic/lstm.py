"""LSTMs on the kernel: quantised gate matrices, the host's cell update, any backend.

``quantize_lstm`` turns a ``CompressedLSTM`` into one ``QuantModel`` per
gate matrix (4H x (I + H), activation none) and one for the head, with
activation formats calibrated on the vectors each matrix really sees
([x_t; h_{t-1}] from the compressed float reference) of the user's
sequences, or on those stored with the model (``eie compress --calib``),
else the default format, with a warning that names it.

``LSTMRunner`` runs a batch of sequences (B x T x I): for each LSTM layer
and direction it loads that gate matrix into the backend once, then per
time step quantises [x_t; h_{t-1}], runs the matrix on the kernel and turns
the integer outputs back into gate pre-activations; sigmoid, tanh and the
cell update run on the host (``eie.compression.lstm.run_sequence``, the
code the float models use). The head runs on the kernel last.

A backend is any object with ``load(qm)`` and ``run_int(x_int)`` (integer
inputs in, the kernel's integer outputs in physical order out):
``EmulatorBackend`` here, and the C-simulation, its co-simulated driver and
the board in ``eie.board.backends``. The host code is the same for all of
them, so equal kernel outputs give equal results; ``trace=True`` keeps every
kernel output for comparing backends bit for bit. numpy only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from eie.arithmetic.emulator import Emulator, dequantize_output, quantize_input, unpermute
from eie.compression.lstm import CompressedLSTM, LSTMSpec, cell_inputs, run_sequence
from eie.errors import ConfigError, real_array
from eie.format.qmodel import HWParams, QuantModel
from eie.safeio import atomic_write


@dataclass
class QuantLSTM:
    spec: LSTMSpec
    cells: list[QuantModel]
    head: QuantModel | None = None
    # Where the activation formats came from (``quantize_lstm``); empty for images read back.
    info: dict = field(default_factory=dict)

    @property
    def models(self) -> list[QuantModel]:
        return [*self.cells, *([self.head] if self.head is not None else [])]


def quantize_lstm(
    model: CompressedLSTM, params: HWParams, calib: np.ndarray | None = None, max_acc_bits: int | None = None
) -> QuantLSTM:
    """Quantise every gate matrix and the head.

    The activation formats come from ``calib`` (sequences B x T x I: each
    matrix calibrated on the vectors it sees on them), else from the
    calibration stored with the model (``CompressedLSTM.calibrate``, ``eie
    compress --calib``: the same formats), else the default format of every
    matrix; ``QuantLSTM.info`` says which (``calibration``: ``"inputs"``,
    ``"model"`` or ``"default"``) and, for the default, carries a
    ``warning`` naming the format and the range it covers. Never random data.
    ``max_acc_bits``: as for ``quantize`` (None: ``params.acc_bits`` is pinned);
    every part gets the widest accumulator any of them needs.
    """
    from eie.arithmetic.quant import quantize

    if calib is not None:
        calib = np.asarray(real_array("calibration sequences", calib, ConfigError))
        if calib.ndim != 3 or calib.shape[2] != model.spec.input_size or 0 in calib.shape:
            raise ConfigError(
                f"calibration sequences have shape {calib.shape}; the LSTM takes (B, T, {model.spec.input_size})"
            )
        inputs = cell_inputs(model, calib)
    else:
        inputs = [None] * len(model.parts)  # stored calibration, else the default
    models = [quantize(part, params, calib=v, max_acc_bits=max_acc_bits) for part, v in zip(model.parts, inputs)]
    widest = max(qm.params.acc_bits for qm in models)
    if any(qm.params.acc_bits != widest for qm in models):
        # One kernel runs every part: quantise them all for the widest accumulator any of them needs.
        wide = replace(params, acc_bits=widest)
        models = [quantize(part, wide, calib=v) for part, v in zip(model.parts, inputs)]
    sources = sorted({qm.info["calibration"] for qm in models})
    source = sources[0] if len(sources) == 1 else "partial"
    info: dict = {"calibration": source, "calibrated": source != "default", "warning": None}
    if source in ("default", "partial"):
        fa = [qm.fa_in for qm in models if qm.info["calibration"] == "default"][0]
        a = params.act_bits
        half = 2.0 ** (a - 1 - fa)
        info["warning"] = (
            f"no calibration: the LSTM's activations use the default format ({fa} fraction bits of signed {a} "
            f"bits, inputs and activations within +-{half:g}); values beyond saturate. Give calibration "
            "sequences (data= in eie.api, quantize_lstm(..., calib), or eie compress --calib SEQ.npy)"
        )
    n = len(model.cells)
    return QuantLSTM(model.spec, models[:n], models[n] if model.head is not None else None, info)


def save_quant_lstm(q: QuantLSTM, out_dir: str | os.PathLike) -> list[str]:
    """Write ``lstm.json`` and one model image per gate matrix (and the head) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for i, qm in enumerate(q.models):
        path = out / f"{i}_{qm.layers[0].name.replace('.', '_')}.image.bin"
        atomic_write(path, qm.to_image().astype("<u8").tobytes())
        files.append(path.name)
    meta = {"spec": q.spec.to_dict(), "cells": files[: len(q.cells)], "head": files[len(q.cells) :]}
    atomic_write(out / "lstm.json", json.dumps(meta, indent=1))
    return [str(out / f) for f in files]


def load_quant_lstm(out_dir: str | os.PathLike) -> QuantLSTM:
    """Read what ``save_quant_lstm`` wrote (numpy only: this runs on the board)."""
    import numpy as np

    from eie.format.image import read_image

    d = Path(out_dir)
    meta = json.loads((d / "lstm.json").read_text())

    def image(name):
        return read_image(np.fromfile(d / name, dtype="<u8"))

    head = [image(n) for n in meta["head"]]
    return QuantLSTM(LSTMSpec(**meta["spec"]), [image(n) for n in meta["cells"]], head[0] if head else None)


class EmulatorBackend:
    """The bit-exact integer emulator as an LSTM backend."""

    name = "emulator"

    def __init__(self) -> None:
        self._emu: Emulator | None = None

    def load(self, qm: QuantModel) -> None:
        self._emu = Emulator(qm)

    def run_int(self, x_int: np.ndarray) -> np.ndarray:
        return self._emu.run_layers(x_int)


@dataclass
class LSTMRunner:
    qlstm: QuantLSTM
    backend: object
    trace: bool = False
    kernel_outputs: list[np.ndarray] = field(default_factory=list)
    loads: int = 0

    def _kernel(self, qm: QuantModel):
        self.backend.load(qm)
        self.loads += 1

        def run(v: np.ndarray) -> np.ndarray:
            y = np.asarray(self.backend.run_int(quantize_input(qm, v)), dtype=np.int64)
            if self.trace:
                self.kernel_outputs.append(y.copy())
            return dequantize_output(qm, unpermute(qm, y))

        return run

    def run(self, x: np.ndarray) -> np.ndarray:
        """Sequences x (B x T x I) -> the head's outputs (or the top layer's outputs, B x T x D*H)."""
        q = self.qlstm
        spec = q.spec
        h = np.asarray(x, dtype=np.float64)
        for l in range(spec.num_layers):
            k = l * spec.directions
            outs = [run_sequence(self._kernel(q.cells[k]), h, spec.hidden)]
            if spec.bidirectional:
                outs.append(run_sequence(self._kernel(q.cells[k + 1]), h, spec.hidden, reverse=True))
            h = np.concatenate(outs, axis=2)
        if q.head is None:
            return h
        return self._kernel(q.head)(h[:, -1, :])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.run(x), axis=1)
