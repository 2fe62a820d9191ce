"""The bit-exact integer emulator: the golden model of docs/arithmetic.md.

It runs a QuantModel (what a model image holds, not the float weights) on a
batch of integer input vectors, layer by layer, exactly as the kernel does:

    acc = sum cb[v] * a          (mod 2^acc_bits)
    t   = acc + bias             (mod 2^acc_bits)
    t   = t + 2^(shift-1)        (mod 2^acc_bits; only when shift > 0)
    y   = t >> shift             (arithmetic)
    y   = max(y, 0)              (ReLU layers)
    y   = clip(y, -2^(a-1), 2^(a-1)-1)

Sums are computed in int64 (wrapping mod 2^64) and reduced mod 2^acc_bits
afterwards; since reduction mod 2^acc_bits commutes with + and *, that equals
wrapping after every step, which is what ap_int<acc_bits> does.
"""

from __future__ import annotations

import numpy as np

from eie.errors import ConfigError, FormatError, real_array
from eie.format.qmodel import QuantLayer, QuantModel


def wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap of int64 values to signed ``bits``."""
    x = np.asarray(x, dtype=np.int64)
    if bits >= 64:
        return x
    u = x.view(np.uint64) if x.flags.c_contiguous else np.ascontiguousarray(x).view(np.uint64)
    half = np.uint64(1 << (bits - 1))
    mask = np.uint64((1 << bits) - 1)
    return (((u + half) & mask).astype(np.int64)) - np.int64(1 << (bits - 1))


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    return np.clip(x, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def requantize(acc: np.ndarray, layer: QuantLayer, acc_bits: int, act_bits: int) -> np.ndarray:
    """Bias, rounding shift, ReLU and saturation of wrapped accumulators (M x B)."""
    with np.errstate(over="ignore"):
        t = wrap(acc + layer.bias[:, None], acc_bits)
        s = layer.shift
        if s > 0:
            t = wrap(t + np.int64(1 << (s - 1)), acc_bits)
    y = t >> np.int64(s)
    if layer.relu:
        y = np.maximum(y, 0)
    return saturate(y, act_bits)


class Emulator:
    """A QuantModel prepared for repeated runs (sparse matrices built once)."""

    def __init__(self, qm: QuantModel):
        from scipy import sparse

        self.qm = qm
        # scipy.sparse CSR matrices of int64 codebook values, physical rows.
        self._mats: list = []
        for layer in qm.layers:
            rows, cols, codes = layer.encoded.coordinates()
            vals = layer.codebook[codes.astype(np.int64)]
            keep = vals != 0  # a code whose value is 0 contributes nothing
            m, k = layer.shape
            csr = sparse.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(m, k), dtype=np.int64)
            csr.sum_duplicates()
            self._mats.append(csr)

    def run_layers(self, x_int: np.ndarray, first: int = 0, last: int | None = None) -> np.ndarray:
        """Run layers first..last on physical-order integer inputs (B x K); physical outputs."""
        qm = self.qm
        last = len(qm.layers) - 1 if last is None else last
        if not 0 <= first <= last < len(qm.layers):
            raise ConfigError(f"layers {first}..{last} are out of range for a {len(qm.layers)}-layer model")
        p = qm.params
        x = np.atleast_2d(np.asarray(x_int, dtype=np.int64))
        if x.shape[1] != qm.layers[first].shape[1]:
            raise ConfigError(f"inputs have {x.shape[1]} values, layer {first} takes {qm.layers[first].shape[1]}")
        lo, hi = -(1 << (p.act_bits - 1)), (1 << (p.act_bits - 1)) - 1
        if x.size and (x.min() < lo or x.max() > hi):
            raise ConfigError(f"input integers exceed signed {p.act_bits}-bit range [{lo}, {hi}]")
        h = x.T  # K x B
        for i in range(first, last + 1):
            with np.errstate(over="ignore"):
                acc = wrap(np.asarray(self._mats[i] @ h), p.acc_bits)
            h = requantize(acc, qm.layers[i], p.acc_bits, p.act_bits)
        return np.ascontiguousarray(h.T)

    def run(self, x_int: np.ndarray) -> np.ndarray:
        """Whole model, logical output order (the last layer's permutation undone)."""
        y = self.run_layers(x_int)
        return unpermute(self.qm, y)


def unpermute(qm: QuantModel, y_phys: np.ndarray) -> np.ndarray:
    """Undo the last layer's row permutation: physical row i holds logical perm[i]."""
    out = np.empty_like(y_phys)
    out[:, qm.out_perm] = y_phys
    return out


def run(qm: QuantModel, x_int: np.ndarray) -> np.ndarray:
    """Integer outputs (logical order) of the whole model for integer inputs (B x K)."""
    return Emulator(qm).run(x_int)


def quantize_input(qm: QuantModel, x: np.ndarray) -> np.ndarray:
    """Float inputs to the first layer's signed act_bits format (round half up, saturate)."""
    x = np.atleast_2d(real_array("inputs", x, FormatError))
    a = qm.params.act_bits
    # Scaled and saturated in float64 (inputs are at most MAX_REAL, 2^fa_in at most 2^40:
    # no overflow), so the conversion below only sees values inside the act_bits range.
    q = saturate(np.floor(x * 2.0**qm.fa_in + 0.5), a)
    return q.astype(np.int64)


def dequantize_output(qm: QuantModel, y_int: np.ndarray) -> np.ndarray:
    return np.asarray(y_int, dtype=np.float64) / 2.0**qm.fa_out


def predict(qm: QuantModel, x: np.ndarray) -> np.ndarray:
    """Float in, float out through the integer path (what the board computes)."""
    return dequantize_output(qm, run(qm, quantize_input(qm, x)))


def error_report(qm: QuantModel, model, x: np.ndarray) -> dict:
    """Error of the integer path against the float reference of the compressed model."""
    ref = model.forward(x)
    got = predict(qm, x)
    err = np.abs(got - ref)
    scale = float(np.max(np.abs(ref))) or 1.0
    return {
        "max_abs_error": float(err.max()) if err.size else 0.0,
        "mean_abs_error": float(err.mean()) if err.size else 0.0,
        "max_relative_to_peak": float(err.max() / scale) if err.size else 0.0,
        "output_lsb": 2.0**-qm.fa_out,
    }
