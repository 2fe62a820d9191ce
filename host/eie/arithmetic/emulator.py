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

The sparse products (``IntMatrix``) need numpy only, so the emulator runs on
the PYNQ image. With scipy installed (the host) they go through
``scipy.sparse`` instead; both engines give the same integers bit for bit
(``engine=`` picks one; tests compare them).
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


ENGINES = ("numpy", "scipy")
DENSE_LIMIT = 1 << 22
"""Most entries (M x K) of a layer that the numpy engine multiplies as a dense float64 matrix."""
CHUNK = 1 << 22
"""Most products the numpy engine's sparse path holds at once (it splits the batch to stay below)."""
FLOAT_EXACT = 1 << 53
"""Integers below this magnitude are exact in float64, and so are sums of them that stay below it."""


def default_engine() -> str:
    """``"scipy"`` where scipy is installed (the host), else ``"numpy"`` (the PYNQ image)."""
    try:
        import scipy.sparse  # noqa: F401
    except ImportError:
        return "numpy"
    return "scipy"


class IntMatrix:
    """An M x K integer matrix whose products with K x B int64 inputs are exact (wrapping mod 2^64).

    ``engine="numpy"`` needs numpy only: a dense float64 matrix where the
    layer is small and no partial sum can reach 2^53 (every value then is an
    exact integer in float64, whatever the summation order), else per-row
    sums of the products in uint64 (``np.add.reduceat`` over the entries in
    row order; unsigned arithmetic wraps mod 2^64 by definition, which is
    int64's two's complement). ``engine="scipy"``: ``scipy.sparse`` CSR.
    ``act_bits`` bounds the inputs (|x| <= 2^(act_bits-1)) for the float64
    choice; inputs beyond it take the exact uint64 path.
    """

    def __init__(self, rows, cols, vals, shape, act_bits: int = 64, engine: str | None = None):
        engine = default_engine() if engine is None else engine
        if engine not in ENGINES:
            raise ConfigError(f"emulator engine {engine!r} is not one of {', '.join(ENGINES)}")
        m, k = (int(shape[0]), int(shape[1]))
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        vals = np.asarray(vals, dtype=np.int64)
        keep = vals != 0  # a zero value contributes nothing
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        # Row-major order with duplicate (row, col) entries summed: what a CSR matrix holds.
        order = np.lexsort((cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        if rows.size:
            first = np.flatnonzero(np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])])
            if first.size < rows.size:
                vals = np.add.reduceat(vals.view(np.uint64), first).view(np.int64)
                rows, cols = rows[first], cols[first]
                keep = vals != 0
                rows, cols, vals = rows[keep], cols[keep], vals[keep]
        self.shape = (m, k)
        self.engine = engine
        self.nnz = int(vals.size)
        self._rows, self._cols, self._vals = rows, cols, vals
        self._dense = None
        self._csr = None
        self._bound = 1 << 63 if act_bits >= 64 else 1 << (act_bits - 1)
        if engine == "scipy":
            from scipy import sparse

            self._csr = sparse.csr_matrix((vals, (rows, cols)), shape=(m, k), dtype=np.int64)
            return
        if self.nnz:
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            self._starts, self._out_rows = starts, rows[starts]
        # Largest |row sum| for inputs within the bound, in Python integers (exact at any width).
        l1 = 0
        if self.nnz:
            # In float64: its rounding (relative 2^-52 per addition) is far inside the factor 2 below.
            mag = np.abs(vals.astype(np.float64))
            l1 = int(np.max(np.add.reduceat(mag, self._starts))) + 1
        if m * k <= DENSE_LIMIT and l1 * self._bound * 2 < FLOAT_EXACT:
            d = np.zeros((m, k), dtype=np.float64)
            d[rows, cols] = vals  # |vals| <= l1 < 2^53: exact
            self._dense = d

    @property
    def path(self) -> str:
        """How products are computed: ``scipy``, ``float64`` (dense, exact) or ``uint64`` (sparse, wrapping)."""
        return "scipy" if self._csr is not None else "float64" if self._dense is not None else "uint64"

    def __matmul__(self, h: np.ndarray) -> np.ndarray:
        """The M x B int64 product with ``h`` (K x B int64), wrapping mod 2^64."""
        h = np.asarray(h, dtype=np.int64)
        m, k = self.shape
        if h.ndim != 2 or h.shape[0] != k:
            raise ConfigError(f"a {m} x {k} matrix cannot multiply inputs of shape {h.shape}")
        b = h.shape[1]
        if self._csr is not None:
            with np.errstate(over="ignore"):
                return np.asarray(self._csr @ h, dtype=np.int64)
        if self._dense is not None and (h.size == 0 or -self._bound <= int(h.min()) and int(h.max()) <= self._bound):
            # Every product and partial sum is an integer below 2^53: exact in float64.
            return (self._dense @ h.astype(np.float64)).astype(np.int64)
        out = np.zeros((m, b), dtype=np.uint64)
        if self.nnz == 0 or b == 0:
            return out.view(np.int64)
        hu = np.ascontiguousarray(h).view(np.uint64)
        vu = self._vals.view(np.uint64)[:, None]
        step = max(1, CHUNK // self.nnz)
        for b0 in range(0, b, step):  # batch chunks (the entries are one vectorised step each)
            part = hu[self._cols, b0 : b0 + step] * vu
            out[self._out_rows, b0 : b0 + step] = np.add.reduceat(part, self._starts, axis=0)
        return out.view(np.int64)


class Emulator:
    """A QuantModel prepared for repeated runs (sparse matrices built once).

    ``engine``: ``"numpy"`` (numpy only: the board), ``"scipy"``, or None for
    scipy where installed, else numpy; every engine gives the same integers.
    """

    def __init__(self, qm: QuantModel, engine: str | None = None):
        self.qm = qm
        self.engine = default_engine() if engine is None else engine
        # Codebook values (int64) at physical rows, one IntMatrix per layer.
        self._mats: list[IntMatrix] = []
        for layer in qm.layers:
            rows, cols, codes = layer.encoded.coordinates()
            vals = layer.codebook[codes.astype(np.int64)]
            self._mats.append(IntMatrix(rows, cols, vals, layer.shape, qm.params.act_bits, self.engine))

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
            acc = wrap(self._mats[i] @ h, p.acc_bits)
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


def run(qm: QuantModel, x_int: np.ndarray, engine: str | None = None) -> np.ndarray:
    """Integer outputs (logical order) of the whole model for integer inputs (B x K)."""
    return Emulator(qm, engine).run(x_int)


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
