"""Row maps: which logical row of a layer each physical row holds.

The kernel always interleaves physical rows over the PEs (physical row i is
local row i div N of PE i mod N, ``eie.format.csc``), so PE p owns physical
rows p, p+N, p+2N... A row map ``perm`` (``perm[physical] = logical``) lets
the host choose which logical rows share a PE without changing the kernel
(docs/csc-format.md):

* the rows of layer l are stored permuted: logical row ``perm_l[i]`` is
  physical row i, so a kept weight in logical row r sits in physical row
  ``inverse(perm_l)[r]``; the bias follows (``bias[perm_l]``);
* layer l writes its outputs in physical order, so layer l+1 reads its input
  in that order: physical column c of layer l+1 is logical column
  ``perm_l[c]`` (``to_physical``), and its kept weights move the same way;
* the driver un-permutes the last layer's output.

The identity map is EIE's own interleave. This module is the one place that
turns logical positions into physical ones; everything that encodes a layer
under a row map calls ``encode_layer`` (or ``encode_positions`` for bare
arrays). numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from eie.errors import ConfigError
from eie.format.csc import EncodedLayer, encode

if TYPE_CHECKING:
    from eie.compression.model import CompressedLayer, CompressedModel


def identity(m: int) -> np.ndarray:
    """The identity row map of an m-row layer: EIE's interleave (physical row i holds logical row i)."""
    return np.arange(int(m), dtype=np.int64)


def check_perm(perm, m: int, what: str = "row map") -> np.ndarray:
    """``perm`` as int64 if it is a permutation of 0..m-1, else a ConfigError naming ``what``.

    ``what`` should name the layer (e.g. ``"row map of layer 'fc1'"``). Linear
    time: a range check and a bincount, no sort.
    """
    m = int(m)
    p = np.asarray(perm)
    head = f"{what} is not a permutation of 0..{m - 1}"
    if p.ndim != 1 or p.shape[0] != m:
        raise ConfigError(f"{head}: it has shape {p.shape}, expected ({m},)")
    if p.size == 0:
        return p.astype(np.int64)
    if not np.issubdtype(p.dtype, np.integer):
        raise ConfigError(f"{head}: it holds {p.dtype} values, expected integers")
    p = p.astype(np.int64, copy=False)
    lo, hi = int(p.min()), int(p.max())
    if lo < 0 or hi >= m:
        raise ConfigError(f"{head}: value {lo if lo < 0 else hi} is out of range")
    counts = np.bincount(p, minlength=m)
    if counts.max() > 1:
        dup = int(np.argmax(counts > 1))
        missing = m - int(np.count_nonzero(counts))
        raise ConfigError(f"{head}: {dup} appears {int(counts[dup])} times ({missing} of 0..{m - 1} missing)")
    return p


def inverse(perm) -> np.ndarray:
    """The inverse permutation: ``inverse(perm)[perm[i]] = i`` (logical row -> physical row).

    ``perm`` must already be a permutation (``check_perm``).
    """
    perm = np.asarray(perm, dtype=np.int64)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size, dtype=np.int64)
    return inv


def _where(name: str | None) -> str:
    return f"layer {name!r}" if name else "the layer"


def physical_positions(
    rows,
    cols,
    shape: tuple[int, int],
    perm=None,
    prev_perm=None,
    name: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Logical (row, column) positions of kept weights -> physical ones (int64).

    ``perm`` is the layer's row map, ``prev_perm`` the previous layer's (its
    column map); None is the identity. Both are checked, and a ConfigError
    names layer ``name``.
    """
    m, k = int(shape[0]), int(shape[1])
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if perm is not None:
        rows = inverse(check_perm(perm, m, f"row map of {_where(name)}"))[rows]
    if prev_perm is not None:
        cols = inverse(check_perm(prev_perm, k, f"column map (previous layer's row map) of {_where(name)}"))[cols]
    return rows, cols


def encode_positions(
    rows,
    cols,
    codes,
    shape: tuple[int, int],
    n_pes: int,
    index_bits: int,
    weight_bits: int,
    perm=None,
    prev_perm=None,
    name: str | None = None,
) -> EncodedLayer:
    """Encode kept weights given in logical order under a row map (and the previous layer's, for columns)."""
    prow, pcol = physical_positions(rows, cols, shape, perm, prev_perm, name)
    return encode(prow, pcol, codes, shape, n_pes, index_bits, weight_bits)


def encode_layer(
    layer: CompressedLayer,
    n_pes: int,
    index_bits: int,
    perm=None,
    prev_perm=None,
    weight_bits: int | None = None,
) -> EncodedLayer:
    """Encode a CompressedLayer for ``n_pes`` PEs with rows permuted by ``perm`` and columns by ``prev_perm``.

    None is the identity (EIE's interleave). ``weight_bits`` None keeps the
    layer's own code width.
    """
    b = layer.weight_bits if weight_bits is None else weight_bits
    return encode_positions(
        layer.rows, layer.cols, layer.codes, layer.shape, n_pes, index_bits, b, perm, prev_perm, layer.name
    )


def encode_model(
    model: CompressedModel | Sequence[CompressedLayer],
    perms: Sequence | None,
    n_pes: int,
    index_bits: int,
    weight_bits: int | None = None,
) -> list[EncodedLayer]:
    """Encode every layer with its row map and the previous layer's as its column map.

    ``perms`` holds one map per layer (None, or a None entry, is the
    identity). Biases follow the rows: the physical bias of layer l is
    ``bias[perms[l]]``.
    """
    layers = list(getattr(model, "layers", model))
    if perms is None:
        perms = [None] * len(layers)
    if len(perms) != len(layers):
        raise ConfigError(f"{len(perms)} row maps given for {len(layers)} layers")
    out = []
    prev = None
    for layer, perm in zip(layers, perms):
        out.append(encode_layer(layer, n_pes, index_bits, perm, prev, weight_bits))
        prev = perm
    return out


def to_physical(x, prev_perm=None) -> np.ndarray:
    """A layer's input (last axis, logical order) in physical column order.

    Physical column c holds logical column ``prev_perm[c]``; None is the identity.
    """
    x = np.asarray(x)
    return x if prev_perm is None else x[..., np.asarray(prev_perm, dtype=np.int64)]
