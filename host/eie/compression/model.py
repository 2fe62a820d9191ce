"""The compressed model: sparse positions, weight-sharing codes and codebooks.

A ``CompressedModel`` is what compression produces and what the EIE encoder,
the quantiser and the float reference consume. It is saved as an ``.npz``
with a schema version; the loader is strict and says what is wrong.

The float-weights file that compression reads is ``eie.compression.weights``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eie.compression.weights import open_npz
from eie.errors import FormatError, int_array, real_array
from eie.safeio import atomic_open

SCHEMA = "eie-compressed"
SCHEMA_VERSION = 1
ACTIVATIONS = ("relu", "none")
KINDS = ("shared", "ternary")
MAX_DIM = 1 << 26
"""Largest layer dimension: 64 PEs of 2^20 activations, the biggest accelerator configuration."""


def _meta_int(where: str, value, lo: int, hi: int) -> int:
    """An integer metadata field (not a bool, not a float such as 20.7 or 4.0) in [lo, hi]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise FormatError(f"{where} must be an integer, got {value!r}")
    if not lo <= int(value) <= hi:
        raise FormatError(f"{where}={value} is out of range {lo}..{hi}")
    return int(value)


def _meta_str(where: str, value) -> str:
    if not isinstance(value, str):
        raise FormatError(f"{where} must be a string, got {value!r}")
    return value


def check_calibration(cal, n_layers: int) -> dict[str, Any]:
    """A stored calibration: ``peaks`` (n_layers + 1 finite values >= 0) and ``samples`` (>= 1)."""
    if not isinstance(cal, dict):
        raise FormatError(f"the model's calibration must be a mapping, got {cal!r}")
    peaks = cal.get("peaks")
    if (
        not isinstance(peaks, list)
        or len(peaks) != n_layers + 1
        or not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in peaks)
        or not all(np.isfinite(p) and p >= 0 for p in peaks)
    ):
        raise FormatError(
            f"the model's calibration peaks must be {n_layers + 1} finite values >= 0 (inputs and each layer), "
            f"got {peaks!r}; recompress with --calib"
        )
    samples = _meta_int("the model's calibration samples", cal.get("samples"), 1, 1 << 62)
    return {"peaks": [float(p) for p in peaks], "samples": samples}


@dataclass
class CompressedLayer:
    """One fully-connected layer y = act(W x + b) after compression.

    ``rows``/``cols``/``codes`` list the kept weights (column-major order);
    ``codebook[c]`` is the value of code c and ``codebook[0]`` is always 0.
    ``kind`` is ``"ternary"`` for TTQ layers, whose codebook is
    ``[0, +Wp, -Wn, 0]``.
    """

    name: str
    shape: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray
    codes: np.ndarray
    codebook: np.ndarray
    bias: np.ndarray
    activation: str = "relu"
    weight_bits: int = 4
    kind: str = "shared"

    def __post_init__(self) -> None:
        # Every field checked for type and range before any cast: a float where
        # an integer belongs, a wrapping uint64, NaN or a complex value is refused.
        where = f"layer {self.name!r}"
        _meta_str("a layer name", self.name)
        shape = self.shape
        if isinstance(shape, np.ndarray):
            shape = shape.tolist()
        if not isinstance(shape, (tuple, list)) or len(shape) != 2:
            raise FormatError(f"{where}: shape {shape!r} must be two integers (out, in)")
        self.shape = (
            _meta_int(f"{where}: shape[0]", shape[0], 1, MAX_DIM),
            _meta_int(f"{where}: shape[1]", shape[1], 1, MAX_DIM),
        )
        self.weight_bits = _meta_int(f"{where}: weight_bits", self.weight_bits, 1, 8)
        _meta_str(f"{where}: activation", self.activation)
        _meta_str(f"{where}: kind", self.kind)
        m, k = self.shape
        self.rows = int_array(f"{where}: rows", self.rows, 0, m - 1).astype(np.int32)
        self.cols = int_array(f"{where}: cols", self.cols, 0, k - 1).astype(np.int32)
        self.codes = int_array(f"{where}: codes", self.codes, 0, 255).astype(np.uint8)
        self.codebook = real_array(f"{where}: codebook", self.codebook)
        self.bias = real_array(f"{where}: bias", self.bias)
        self.validate()

    def validate(self) -> None:
        m, k = self.shape
        where = f"layer {self.name!r}"
        if not (0 < m <= MAX_DIM and 0 < k <= MAX_DIM):
            raise FormatError(f"{where}: shape {self.shape} must be positive and at most {MAX_DIM}")
        if not (self.rows.shape == self.cols.shape == self.codes.shape) or self.rows.ndim != 1:
            raise FormatError(f"{where}: rows, cols and codes must be 1-D arrays of one length")
        if self.rows.size and (self.rows.min() < 0 or self.rows.max() >= m):
            raise FormatError(f"{where}: a row index is outside 0..{m - 1}")
        if self.cols.size and (self.cols.min() < 0 or self.cols.max() >= k):
            raise FormatError(f"{where}: a column index is outside 0..{k - 1}")
        if not 1 <= self.weight_bits <= 8:
            raise FormatError(f"{where}: weight_bits={self.weight_bits} must be 1..8")
        if self.codebook.shape != (1 << self.weight_bits,):
            raise FormatError(f"{where}: codebook has {self.codebook.size} values, expected 2^{self.weight_bits}")
        if self.codebook[0] != 0.0:
            raise FormatError(f"{where}: codebook[0] must be 0 (code 0 means zero)")
        if self.codes.size and (self.codes.min() < 1 or self.codes.max() >= self.codebook.size):
            raise FormatError(f"{where}: kept weights need codes 1..{self.codebook.size - 1}")
        if self.bias.shape != (m,):
            raise FormatError(f"{where}: bias has shape {self.bias.shape}, expected ({m},)")
        if self.activation not in ACTIVATIONS:
            raise FormatError(f"{where}: activation {self.activation!r} must be one of {ACTIVATIONS}")
        if self.kind not in KINDS:
            raise FormatError(f"{where}: kind {self.kind!r} must be one of {KINDS}")
        if self.rows.size > 1:
            # Column-major order (column, then row) strictly increasing: sorted and
            # no position listed twice, checked in one linear pass.
            flat = self.cols.astype(np.int64) * m + self.rows
            step = np.diff(flat)
            if not np.all(step > 0):
                i = int(np.argmax(step <= 0))
                what = "is listed twice" if step[i] == 0 else "is out of column-major order"
                raise FormatError(
                    f"{where}: weight {i + 1} at (row {self.rows[i + 1]}, column {self.cols[i + 1]}) {what}; "
                    "kept weights must be listed column by column, rows increasing within a column"
                )

    @property
    def nnz(self) -> int:
        return int(self.codes.size)

    @property
    def density(self) -> float:
        return self.nnz / float(self.shape[0] * self.shape[1])

    def dense_codes(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=np.uint8)
        out[self.rows, self.cols] = self.codes
        return out

    def forward(self, x: np.ndarray) -> np.ndarray:
        """act(W x + b) for inputs x (B x K or K), W kept sparse (VGG-size layers fit)."""
        from scipy import sparse

        x = np.asarray(x, dtype=np.float64)
        single = x.ndim == 1
        w = sparse.csr_matrix((self.codebook[self.codes], (self.rows, self.cols)), shape=self.shape)
        y = np.asarray(w @ np.atleast_2d(x).T).T + self.bias
        if self.activation == "relu":
            y = np.maximum(y, 0.0)
        return y[0] if single else y

    def dense_weights(self) -> np.ndarray:
        """The dequantised weight matrix W[c] = codebook[code]."""
        out = np.zeros(self.shape, dtype=np.float64)
        out[self.rows, self.cols] = self.codebook[self.codes]
        return out

    @classmethod
    def from_dense_codes(cls, name: str, codes: np.ndarray, codebook, bias=None, **kw) -> CompressedLayer:
        codes = np.asarray(codes)
        # Column-major order is the order EIE stores them in.
        cols, rows = np.nonzero(codes.T)
        m = codes.shape[0]
        return cls(
            name=name,
            shape=codes.shape,
            rows=rows,
            cols=cols,
            codes=codes[rows, cols],
            codebook=codebook,
            bias=np.zeros(m) if bias is None else bias,
            **kw,
        )


def activation_peaks(layers: list[CompressedLayer], x: np.ndarray) -> list[float]:
    """max |value| of the inputs and of each layer's outputs on float inputs ``x`` (B x K).

    What calibration measures: ``eie.arithmetic.quant.quantize`` picks each
    activation format from these peaks (the same numbers whether it is given
    the inputs or the peaks stored with the model).
    """
    h = np.atleast_2d(x)
    peaks = [float(np.max(np.abs(h))) if h.size else 0.0]
    for l in layers:
        h = l.forward(h)
        peaks.append(float(np.max(np.abs(h))) if h.size else 0.0)
    return peaks


@dataclass
class CompressedModel:
    layers: list[CompressedLayer]
    settings: dict[str, Any] = field(default_factory=dict)
    # The calibration stored with the model (``calibrate``): {"peaks": [input, layer 1, ...], "samples": B}.
    calibration: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.layers:
            raise FormatError("a model needs at least one layer")
        for prev, nxt in zip(self.layers, self.layers[1:]):
            if nxt.shape[1] != prev.shape[0]:
                raise FormatError(
                    f"layer {nxt.name!r} takes {nxt.shape[1]} inputs but layer {prev.name!r} "
                    f"gives {prev.shape[0]} outputs"
                )

        if self.calibration is not None:
            self.calibration = check_calibration(self.calibration, len(self.layers))

    @property
    def in_features(self) -> int:
        return self.layers[0].shape[1]

    def calibrate(self, x: np.ndarray) -> dict[str, Any]:
        """Measure the activation peaks on representative float inputs (B x K) and keep them with the model."""
        x = np.atleast_2d(real_array("calibration inputs", x))
        if x.ndim != 2 or x.shape[1] != self.in_features or x.shape[0] == 0:
            raise FormatError(
                f"calibration inputs have shape {x.shape}; the model takes (B, {self.in_features}) with B >= 1"
            )
        self.calibration = {"peaks": activation_peaks(self.layers, x), "samples": int(x.shape[0])}
        return self.calibration

    @property
    def out_features(self) -> int:
        return self.layers[-1].shape[0]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Float reference: the dequantised compressed model on inputs x (B x K)."""
        h = np.atleast_2d(np.asarray(x, dtype=np.float64))
        for layer in self.layers:
            h = layer.forward(h)
        return h

    def save(self, path: str | os.PathLike) -> None:
        meta = {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "settings": self.settings,
            **({} if self.calibration is None else {"calibration": self.calibration}),
            "layers": [
                {
                    "name": l.name,
                    "shape": list(l.shape),
                    "activation": l.activation,
                    "weight_bits": l.weight_bits,
                    "kind": l.kind,
                }
                for l in self.layers
            ],
        }
        arrays = {"__meta__": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        for i, l in enumerate(self.layers):
            arrays[f"{i}.rows"] = l.rows
            arrays[f"{i}.cols"] = l.cols
            arrays[f"{i}.codes"] = l.codes
            arrays[f"{i}.codebook"] = l.codebook
            arrays[f"{i}.bias"] = l.bias
        with atomic_open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CompressedModel:
        arrays = open_npz(path)
        if "__meta__" not in arrays:
            raise FormatError(
                f"{path}: not a compressed model (no '__meta__' entry); "
                "make one with 'eie compress WEIGHTS.npz -o MODEL.npz'"
            )
        try:
            meta = json.loads(bytes(arrays["__meta__"].astype(np.uint8)).decode())
        except (ValueError, UnicodeDecodeError):
            raise FormatError(f"{path}: the model's metadata is corrupted") from None
        if not isinstance(meta, dict):
            raise FormatError(f"{path}: the model's metadata is not a mapping")
        if meta.get("schema") != SCHEMA:
            raise FormatError(f"{path}: schema {meta.get('schema')!r} is not {SCHEMA!r}")
        if meta.get("version") != SCHEMA_VERSION:
            raise FormatError(
                f"{path}: schema version {meta.get('version')} is not supported "
                f"(this toolkit reads version {SCHEMA_VERSION})"
            )
        layer_meta = meta.get("layers", [])
        if not isinstance(layer_meta, list):
            raise FormatError(f"{path}: metadata 'layers' must be a list, got {type(layer_meta).__name__}")
        settings = meta.get("settings", {})
        if not isinstance(settings, dict):
            raise FormatError(f"{path}: metadata 'settings' must be a mapping, got {type(settings).__name__}")
        layers = []
        for i, lm in enumerate(layer_meta):
            if not isinstance(lm, dict):
                raise FormatError(f"{path}: metadata of layer {i} must be a mapping, got {lm!r}")
            try:
                layers.append(
                    CompressedLayer(
                        name=lm["name"],
                        shape=lm["shape"],
                        rows=arrays[f"{i}.rows"],
                        cols=arrays[f"{i}.cols"],
                        codes=arrays[f"{i}.codes"],
                        codebook=arrays[f"{i}.codebook"],
                        bias=arrays[f"{i}.bias"],
                        activation=lm["activation"],
                        weight_bits=lm["weight_bits"],
                        kind=lm.get("kind", "shared"),
                    )
                )
            except KeyError as e:
                raise FormatError(f"{path}: layer {i} lacks {e.args[0]!r}") from None
            except FormatError as e:
                raise FormatError(f"{path}: {e}") from None
        try:
            return cls(layers=layers, settings=settings, calibration=meta.get("calibration"))
        except FormatError as e:
            raise FormatError(f"{path}: {e}") from None
