"""LSTMs as EIE runs them: gate matrices on the kernel, the cell update on the host.

One LSTM layer (one direction) is a single matrix of shape 4H x (I + H),
``[W_ih | W_hh]`` in PyTorch's gate order i, f, g, o, applied to
``[x_t; h_{t-1}]`` with bias ``b_ih + b_hh`` (activation none): one sparse
matrix-vector product per time step, as in EIE's NeuralTalk benchmark. The
host then computes

    i, f, o = sigmoid(.),  g = tanh(.),  c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t).

``run_sequence`` is that host loop for any ``gates(v) -> 4H pre-activations``
function, so the float model, the compressed float reference and the
integer runner (``eie.arithmetic.lstm``) share the same code.

Layer l > 0 reads layer l-1's output (both directions concatenated when
bidirectional). An optional fully-connected head reads the top layer's
output at the last time step (``output[:, -1]`` in PyTorch).

The weights file of an LSTM (``eie.train.convert.save_module_weights``) holds
the gate matrices in one of three layouts plus an ``__lstm__`` entry that
describes the network; ``load_lstm_weights`` reads any of them back into the
stacked form that compression uses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eie.compression.model import CompressedLayer, CompressedModel
from eie.compression.weights import DenseLayer, open_npz
from eie.errors import ConfigError, FormatError, real_array

LSTM_KEY = "__lstm__"  # in a weights file
MODEL_KEY = "__lstm_model__"  # in a compressed LSTM
SCHEMA = "eie-compressed-lstm"
SCHEMA_VERSION = 1
GATES = ("i", "f", "g", "o")
LSTM_MODES = ("concat", "stacked", "gates")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def cell_names(num_layers: int, bidirectional: bool) -> list[str]:
    """Names of the gate matrices, layer by layer, forward direction first."""
    out = []
    for l in range(num_layers):
        out.append(f"l{l}")
        if bidirectional:
            out.append(f"l{l}.reverse")
    return out


def run_sequence(
    gates: Callable[[np.ndarray], np.ndarray], x: np.ndarray, hidden: int, reverse: bool = False
) -> np.ndarray:
    """One LSTM direction over x (B x T x I); returns h for every step (B x T x H).

    ``gates(v)`` maps [x_t; h_{t-1}] (B x (I + H)) to the 4H gate pre-activations.
    """
    x = np.asarray(x, dtype=np.float64)
    b, t_len, _ = x.shape
    h = np.zeros((b, hidden))
    c = np.zeros((b, hidden))
    out = np.zeros((b, t_len, hidden))
    steps = range(t_len - 1, -1, -1) if reverse else range(t_len)
    for t in steps:
        z = np.asarray(gates(np.concatenate([x[:, t, :], h], axis=1)), dtype=np.float64)
        i, f, g, o = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out[:, t, :] = h
    return out


@dataclass
class LSTMSpec:
    input_size: int
    hidden: int
    num_layers: int = 1
    bidirectional: bool = False

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def names(self) -> list[str]:
        return cell_names(self.num_layers, self.bidirectional)

    def cell_input(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.hidden * self.directions

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def check_cells(self, shapes: list[tuple[int, int]], where: str = "") -> None:
        if len(shapes) != self.num_layers * self.directions:
            raise FormatError(f"{where}{len(shapes)} gate matrices for {self.num_layers * self.directions} cells")
        for k, shape in enumerate(shapes):
            l = k // self.directions
            want = (4 * self.hidden, self.cell_input(l) + self.hidden)
            if tuple(shape) != want:
                raise FormatError(
                    f"{where}gate matrix {self.names[k]} has shape {tuple(shape)}, expected {want} "
                    f"(4H x (I + H) with H={self.hidden})"
                )


def _forward(spec: LSTMSpec, cell_gates: list[Callable], head: Callable | None, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != spec.input_size:
        raise FormatError(f"LSTM inputs must be B x T x {spec.input_size}, got shape {x.shape}")
    h = x
    for l in range(spec.num_layers):
        k = l * spec.directions
        outs = [run_sequence(cell_gates[k], h, spec.hidden)]
        if spec.bidirectional:
            outs.append(run_sequence(cell_gates[k + 1], h, spec.hidden, reverse=True))
        h = np.concatenate(outs, axis=2)
    return h if head is None else head(h[:, -1, :])


def _layers_forward(layers, x):
    for l in layers:
        x = l.forward(x) if hasattr(l, "forward") else _dense(l, x)
    return x


def _dense(layer: DenseLayer, x: np.ndarray) -> np.ndarray:
    y = np.asarray(x, dtype=np.float64) @ np.asarray(layer.weight, dtype=np.float64).T + layer.bias
    return np.maximum(y, 0.0) if layer.activation == "relu" else y


@dataclass
class FloatLSTM:
    """An LSTM (optionally with a fully-connected head) in float, as imported."""

    spec: LSTMSpec
    cells: list[DenseLayer]
    head: list[DenseLayer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spec.check_cells([np.shape(c.weight) for c in self.cells])

    @property
    def layers(self) -> list[DenseLayer]:
        """Every matrix: the gate matrices, then the head."""
        return [*self.cells, *self.head]

    def forward(self, x: np.ndarray) -> np.ndarray:
        gates = [(lambda v, c=c: _dense(c, v)) for c in self.cells]
        head = (lambda h: _layers_forward(self.head, h)) if self.head else None
        return _forward(self.spec, gates, head, x)


def cell_inputs(model, x: np.ndarray) -> list[np.ndarray]:
    """The [x_t; h_{t-1}] vectors each gate matrix of ``model`` sees on sequences x, and the head's inputs.

    ``model``: a CompressedLSTM (or anything with ``spec`` and one-layer
    ``cells``), run in float; one array per gate matrix (all steps and
    sequences stacked, B*T x (I + H)), then the top layer's outputs at the
    last step (B x D*H). What calibration measures.
    """
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


def load_sequences(path: str | os.PathLike, input_size: int) -> np.ndarray:
    """Float sequences (B x T x ``input_size``) from a .npy file: an LSTM's ``--calib``."""
    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as e:
        raise FormatError(f"{path}: cannot read it as a .npy array ({' '.join(str(e).split())})") from None
    if not isinstance(x, np.ndarray) or x.ndim != 3 or x.shape[2] != input_size or 0 in x.shape:
        raise FormatError(
            f"{path}: sequences have shape {getattr(x, 'shape', None)}; the LSTM takes (B, T, {input_size})"
        )
    return real_array(f"{path}: sequences", x)


@dataclass
class CompressedLSTM:
    """The compressed LSTM: one single-layer ``CompressedModel`` per gate matrix, and the head."""

    spec: LSTMSpec
    cells: list[CompressedModel]
    head: CompressedModel | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for c in self.cells:
            if len(c.layers) != 1:
                raise FormatError("each LSTM cell must be a one-layer model (its stacked gate matrix)")
        self.spec.check_cells([c.layers[0].shape for c in self.cells])
        width = self.spec.hidden * self.spec.directions
        if self.head is not None and self.head.in_features != width:
            raise FormatError(f"the head takes {self.head.in_features} inputs but the LSTM gives {width}")

    @property
    def layers(self) -> list[CompressedLayer]:
        return [c.layers[0] for c in self.cells] + (list(self.head.layers) if self.head else [])

    @property
    def parts(self) -> list[CompressedModel]:
        """The gate matrices' models, then the head's: one model image each on the kernel."""
        return [*self.cells, *([self.head] if self.head is not None else [])]

    @property
    def calibration(self) -> dict[str, Any] | None:
        """The calibration stored with every part (``calibrate``), or None if a part has none."""
        cals = [p.calibration for p in self.parts]
        if any(c is None for c in cals):
            return None
        return {"samples": int(cals[0]["samples"]), "parts": cals}

    def calibrate(self, x: np.ndarray) -> dict[str, Any]:
        """Measure the activation peaks on representative sequences x (B x T x I) and keep them with the model.

        Each gate matrix is calibrated on the [x_t; h_{t-1}] vectors it sees
        on x (the compressed float reference), the head on the top layer's
        last outputs: the peaks ``eie.arithmetic.lstm.quantize_lstm`` would
        measure given x, stored so that quantising later without x gives the
        same images.
        """
        x = np.asarray(real_array("calibration sequences", x))
        if x.ndim != 3 or x.shape[2] != self.spec.input_size or x.shape[0] == 0 or x.shape[1] == 0:
            raise FormatError(
                f"calibration sequences have shape {x.shape}; the LSTM takes (B, T, {self.spec.input_size}) "
                "with B, T >= 1"
            )
        for part, v in zip(self.parts, cell_inputs(self, x)):
            part.calibrate(v)
        cal = self.calibration
        return {
            "samples": int(x.shape[0]),
            "steps": int(x.shape[1]),
            "peaks": [float(np.max(np.abs(x)))],
            "parts": cal["parts"],
        }

    @property
    def in_features(self) -> int:
        return self.spec.input_size

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Float reference: the dequantised compressed LSTM."""
        gates = [c.layers[0].forward for c in self.cells]
        return _forward(self.spec, gates, self.head.forward if self.head else None, x)

    def save(self, path: str | os.PathLike) -> None:
        parts = [*self.cells, *([self.head] if self.head else [])]
        meta = {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "spec": self.spec.to_dict(),
            "head": self.head is not None,
            "settings": self.settings,
            "parts": [
                {
                    "settings": p.settings,
                    **({} if p.calibration is None else {"calibration": p.calibration}),
                    "layers": [
                        {
                            "name": l.name,
                            "shape": list(l.shape),
                            "activation": l.activation,
                            "weight_bits": l.weight_bits,
                            "kind": l.kind,
                        }
                        for l in p.layers
                    ],
                }
                for p in parts
            ],
        }
        arrays = {MODEL_KEY: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        for j, p in enumerate(parts):
            for i, l in enumerate(p.layers):
                for key in ("rows", "cols", "codes", "codebook", "bias"):
                    arrays[f"{j}.{i}.{key}"] = getattr(l, key)
        from eie.safeio import atomic_open

        with atomic_open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CompressedLSTM:
        arrays = open_npz(path)
        if MODEL_KEY not in arrays:
            raise FormatError(f"{path}: not a compressed LSTM (no {MODEL_KEY!r} entry)")
        try:
            meta = json.loads(bytes(arrays[MODEL_KEY].astype(np.uint8)).decode())
        except (ValueError, UnicodeDecodeError):
            raise FormatError(f"{path}: the LSTM's metadata is corrupted") from None
        if meta.get("schema") != SCHEMA or meta.get("version") != SCHEMA_VERSION:
            raise FormatError(f"{path}: schema {meta.get('schema')!r} v{meta.get('version')} is not {SCHEMA!r} v1")
        parts = []
        for j, pm in enumerate(meta["parts"]):
            layers = []
            for i, lm in enumerate(pm["layers"]):
                try:
                    layers.append(
                        CompressedLayer(
                            name=lm["name"],
                            shape=tuple(lm["shape"]),
                            activation=lm["activation"],
                            weight_bits=int(lm["weight_bits"]),
                            kind=lm["kind"],
                            **{k: arrays[f"{j}.{i}.{k}"] for k in ("rows", "cols", "codes", "codebook", "bias")},
                        )
                    )
                except KeyError as e:
                    raise FormatError(f"{path}: part {j} layer {i} lacks {e.args[0]!r}") from None
            try:
                parts.append(CompressedModel(layers, pm.get("settings", {}), calibration=pm.get("calibration")))
            except FormatError as e:
                raise FormatError(f"{path}: part {j}: {e}") from None
        spec = LSTMSpec(**meta["spec"])
        n = spec.num_layers * spec.directions
        head = parts[n] if meta.get("head") else None
        return cls(spec, parts[:n], head, meta.get("settings", {}))


def is_compressed_lstm(path: str | os.PathLike) -> bool:
    try:
        with np.load(path, allow_pickle=False) as z:
            return MODEL_KEY in z.files
    except Exception:
        return False


# -- the weights file ------------------------------------------------------------


def lstm_matrices(spec: LSTMSpec, mode: str, arrays: dict[str, np.ndarray], where: str = "") -> list[DenseLayer]:
    """The stacked 4H x (I + H) gate matrices from arrays in any export layout."""
    if mode not in LSTM_MODES:
        raise FormatError(f"{where}LSTM layout {mode!r} is not one of {LSTM_MODES}")
    h = spec.hidden

    def get(key):
        if key not in arrays:
            raise FormatError(f"{where}the LSTM file lacks {key!r} (layout {mode})")
        return np.asarray(arrays[key], dtype=np.float64)

    cells = []
    for name in spec.names:
        if mode == "concat":
            w, b = get(f"{name}.weight"), get(f"{name}.bias")
        elif mode == "stacked":
            w = np.concatenate([get(f"{name}.ih.weight"), get(f"{name}.hh.weight")], axis=1)
            b = get(f"{name}.ih.bias") + get(f"{name}.hh.bias")
        else:
            ih = [get(f"{name}.ih.{g}.weight") for g in GATES]
            hh = [get(f"{name}.hh.{g}.weight") for g in GATES]
            w = np.concatenate([np.concatenate(ih, axis=0), np.concatenate(hh, axis=0)], axis=1)
            b = np.concatenate([get(f"{name}.ih.{g}.bias") + get(f"{name}.hh.{g}.bias") for g in GATES])
        if b.shape != (4 * h,):
            raise FormatError(f"{where}{name}: bias has shape {b.shape}, expected ({4 * h},)")
        cells.append(DenseLayer(name, w, b, "none"))
    spec.check_cells([c.weight.shape for c in cells], where)
    return cells


def lstm_meta(spec: LSTMSpec, mode: str, head: list[str]) -> np.ndarray:
    meta = {"spec": spec.to_dict(), "mode": mode, "head": head}
    return np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


def load_lstm_weights(path: str | os.PathLike) -> FloatLSTM:
    """Read an LSTM weights file (any layout, with its ``__lstm__`` description)."""
    arrays = open_npz(path)
    if LSTM_KEY not in arrays:
        raise FormatError(f"{path}: not an LSTM weights file (no {LSTM_KEY!r} entry)")
    try:
        meta = json.loads(bytes(arrays[LSTM_KEY].astype(np.uint8)).decode())
        spec = LSTMSpec(**meta["spec"])
        mode = meta["mode"]
        head_names = list(meta.get("head", []))
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise FormatError(f"{path}: the {LSTM_KEY!r} description is corrupted") from None
    cells = lstm_matrices(spec, mode, arrays, f"{path}: ")
    head = []
    for i, name in enumerate(head_names):
        w = np.asarray(arrays.get(f"{name}.weight"), dtype=np.float64)
        b = arrays.get(f"{name}.bias")
        b = np.zeros(w.shape[0]) if b is None else np.asarray(b, dtype=np.float64)
        head.append(DenseLayer(name, w, b, "relu" if i < len(head_names) - 1 else "none"))
    return FloatLSTM(spec, cells, head)


def compress_lstm(
    model: FloatLSTM,
    density: float | dict[str, float] | None = 0.1,
    prune: bool = True,
    weight_bits: int | dict[str, int] = 4,
    init: str = "linear",
    seed: int = 0,
) -> CompressedLSTM:
    """Prune and share each gate matrix (and the head) on its own, as ``compress`` does for an MLP."""
    from eie.compression.pipeline import compress

    def part(layers):
        names = {l.name for l in layers}
        d = {k: v for k, v in density.items() if k in names} if isinstance(density, dict) else density
        b = {k: v for k, v in weight_bits.items() if k in names} if isinstance(weight_bits, dict) else weight_bits
        return compress(layers, density=d, prune=prune, weight_bits=b, init=init, seed=seed)

    known = {l.name for l in model.layers}
    for what, value in (("density", density), ("weight_bits", weight_bits)):
        if isinstance(value, dict) and set(value) - known:
            unknown = sorted(set(value) - known)
            raise ConfigError(f"{what} names unknown layers {unknown}; the layers are {sorted(known)}")
    cells = [part([c]) for c in model.cells]
    head = part(model.head) if model.head else None
    settings = {"method": "deep-compression", "network": "lstm", "prune": bool(prune), "init": init, "seed": int(seed)}
    parts = [*cells, *([head] if head else [])]
    settings["densities"] = {k: v for p in parts for k, v in p.settings["densities"].items()}
    return CompressedLSTM(model.spec, cells, head, settings)
