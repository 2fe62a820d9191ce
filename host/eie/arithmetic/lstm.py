"""LSTMs on the kernel: quantised gate matrices, the host's cell update, any backend.

``quantize_lstm`` turns a ``CompressedLSTM`` into one ``QuantModel`` per
gate matrix (4H x (I + H), activation none) and one for the head, with
activation formats calibrated on the vectors each matrix really sees
([x_t; h_{t-1}] from the compressed float reference).

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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eie.arithmetic.emulator import Emulator, dequantize_output, quantize_input, unpermute
from eie.compression.lstm import CompressedLSTM, LSTMSpec, run_sequence
from eie.format.qmodel import HWParams, QuantModel
from eie.safeio import atomic_write


@dataclass
class QuantLSTM:
    spec: LSTMSpec
    cells: list[QuantModel]
    head: QuantModel | None = None

    @property
    def models(self) -> list[QuantModel]:
        return [*self.cells, *([self.head] if self.head is not None else [])]


def _cell_inputs(model: CompressedLSTM, x: np.ndarray) -> list[np.ndarray]:
    """The [x_t; h_{t-1}] vectors each gate matrix sees on x (float reference), and the head's inputs."""
    spec = model.spec
    seen: list[list[np.ndarray]] = [[] for _ in model.cells]

    def recorder(k):
        layer = model.cells[k].layers[0]

        def gates(v):
            seen[k].append(v)
            return layer.forward(v)

        return gates

    h = np.asarray(x, dtype=np.float64)
    for l in range(spec.num_layers):
        k = l * spec.directions
        outs = [run_sequence(recorder(k), h, spec.hidden)]
        if spec.bidirectional:
            outs.append(run_sequence(recorder(k + 1), h, spec.hidden, reverse=True))
        h = np.concatenate(outs, axis=2)
    return [np.concatenate(s, axis=0) for s in seen] + [h[:, -1, :]]


def quantize_lstm(model: CompressedLSTM, params: HWParams, calib: np.ndarray) -> QuantLSTM:
    """Quantise every gate matrix and the head, calibrated on sequences ``calib`` (B x T x I)."""
    from eie.arithmetic.quant import quantize

    inputs = _cell_inputs(model, calib)
    cells = [quantize(c, params, calib=v) for c, v in zip(model.cells, inputs)]
    head = quantize(model.head, params, calib=inputs[-1]) if model.head is not None else None
    return QuantLSTM(model.spec, cells, head)


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
