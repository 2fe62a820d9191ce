"""The EIE compressed sparse column format, per PE (docs/csc-format.md).

Rows are interleaved over N PEs: physical row i lives in PE i mod N as local
row i div N. Inside a PE, column j is a list of entries (v, z): v is the
weight code, z the number of zero local rows skipped since the previous
entry of the column. A gap of g zeros costs floor(g / 2^r) padding entries
(v = 0, z = 2^r - 1). Everything here is vectorised numpy; it imports numpy
only, so the board side can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie.errors import FormatError, check_int


def entries_per_word(weight_bits: int, index_bits: int) -> int:
    return 64 // (weight_bits + index_bits)


@dataclass
class EncodedLayer:
    """One layer in EIE form.

    ``v``/``z`` hold the entries of all PEs back to back; PE p's entries are
    ``v[pe_start[p]:pe_start[p+1]]``. ``ptr[p, j]`` is the index of the first
    entry of column j within PE p's list, ``ptr[p, K]`` its length.
    """

    shape: tuple[int, int]
    n_pes: int
    weight_bits: int
    index_bits: int
    v: np.ndarray
    z: np.ndarray
    pe_start: np.ndarray
    ptr: np.ndarray

    @property
    def n_entries(self) -> np.ndarray:
        """Entries (padding included) per PE."""
        return np.diff(self.pe_start)

    @property
    def total_entries(self) -> int:
        return int(self.pe_start[-1])

    @property
    def padding(self) -> int:
        return int(np.count_nonzero(self.v == 0))

    @property
    def nnz(self) -> int:
        return self.total_entries - self.padding

    def column_entries(self) -> np.ndarray:
        """Entries per (PE, column): an N x K array (what the timing model uses)."""
        return np.diff(self.ptr, axis=1)

    def local_rows(self, pe: int) -> int:
        m = self.shape[0]
        return (m - pe + self.n_pes - 1) // self.n_pes

    def pack(self, pe: int) -> np.ndarray:
        """PE ``pe``'s entries packed little-endian into uint64 words."""
        lo, hi = int(self.pe_start[pe]), int(self.pe_start[pe + 1])
        return pack_entries(self.v[lo:hi], self.z[lo:hi], self.weight_bits, self.index_bits)

    def coordinates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(physical row, column, code) of every real (non-padding) entry."""
        m, k = self.shape
        n = self.n_pes
        if self.total_entries == 0:
            e = np.zeros(0, np.int64)
            return e, e, np.zeros(0, np.uint8)
        counts = self.column_entries().ravel()  # (pe, col) groups in entry order
        group = np.repeat(np.arange(n * k), counts)
        cs = np.cumsum(self.z.astype(np.int64) + 1)
        group_first = np.cumsum(counts) - counts
        base = np.zeros(n * k, dtype=np.int64)
        nonfirst = group_first > 0
        base[nonfirst] = cs[group_first[nonfirst] - 1]
        local = cs - base[group] - 1
        real = self.v != 0
        local, group = local[real], group[real]
        pe = group // k
        if local.size and np.any(local * n + pe >= m):
            raise FormatError("encoded layer: an entry's row index runs past the PE's rows")
        return local * n + pe, group % k, self.v[real]

    def decode(self) -> np.ndarray:
        """Rebuild the dense M x K code matrix (physical row order)."""
        out = np.zeros(self.shape, dtype=np.uint8)
        rows, cols, codes = self.coordinates()
        out[rows, cols] = codes
        return out


def pack_entries(v: np.ndarray, z: np.ndarray, weight_bits: int, index_bits: int) -> np.ndarray:
    width = weight_bits + index_bits
    per = 64 // width
    n = v.size
    nwords = -(-n // per)
    vals = np.zeros(nwords * per, dtype=np.uint64)
    vals[:n] = v.astype(np.uint64) | (z.astype(np.uint64) << np.uint64(weight_bits))
    shifts = np.arange(per, dtype=np.uint64) * np.uint64(width)
    # Fields in a word are disjoint, so OR-reduction packs them.
    return np.bitwise_or.reduce(vals.reshape(nwords, per) << shifts, axis=1).astype(np.uint64)


def unpack_entries(words: np.ndarray, n: int, weight_bits: int, index_bits: int) -> tuple[np.ndarray, np.ndarray]:
    width = weight_bits + index_bits
    per = 64 // width
    if words.size * per < n:
        raise FormatError(f"entry section holds {words.size * per} entries, {n} expected")
    shifts = np.arange(per, dtype=np.uint64) * np.uint64(width)
    mask = np.uint64((1 << width) - 1)
    vals = ((words.astype(np.uint64)[:, None] >> shifts) & mask).ravel()[:n]
    v = (vals & np.uint64((1 << weight_bits) - 1)).astype(np.uint8)
    z = (vals >> np.uint64(weight_bits)).astype(np.uint8)
    return v, z


def encode(
    rows: np.ndarray,
    cols: np.ndarray,
    codes: np.ndarray,
    shape: tuple[int, int],
    n_pes: int,
    index_bits: int,
    weight_bits: int,
) -> EncodedLayer:
    """Encode kept weights (physical row order) for ``n_pes`` PEs."""
    m, k = int(shape[0]), int(shape[1])
    n = int(n_pes)
    if n < 1:
        raise FormatError(f"n_pes={n_pes} must be at least 1")
    r = check_int("index_bits", index_bits, 1, 8)
    b = check_int("weight_bits", weight_bits, 1, 8)
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    codes = np.asarray(codes)
    if codes.size and (codes.min() < 1 or codes.max() >= (1 << b)):
        raise FormatError(f"codes must be 1..{(1 << b) - 1} for weight_bits={b}")
    pe = rows % n
    local = rows // n
    # One int64 sort key (PE, column, local row) is much faster than lexsort.
    mloc = -(-m // n) if m else 1
    key = (pe * k + cols) * mloc + local
    order = np.argsort(key, kind="stable")
    key = key[order]
    codes = codes[order]
    gkey = key // mloc
    local = key - gkey * mloc
    pe = gkey // k
    first = np.ones(gkey.size, dtype=bool)
    first[1:] = gkey[1:] != gkey[:-1]
    prev = np.empty_like(local)
    prev[0:1] = -1
    prev[1:] = local[:-1]
    prev[first] = -1
    gap = local - prev - 1
    span = 1 << r
    pads = gap // span
    pos = np.arange(gkey.size) + np.cumsum(pads)
    total = int(gkey.size + pads.sum())
    v = np.zeros(total, dtype=np.uint8)
    z = np.full(total, span - 1, dtype=np.uint8)
    v[pos] = codes
    z[pos] = gap - pads * span
    per_group = np.bincount(gkey, weights=pads + 1, minlength=n * k).astype(np.int64).reshape(n, k)
    ptr = np.zeros((n, k + 1), dtype=np.int64)
    np.cumsum(per_group, axis=1, out=ptr[:, 1:])
    pe_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(ptr[:, -1], out=pe_start[1:])
    return EncodedLayer((m, k), n, b, r, v, z, pe_start, ptr)


def encode_dense(codes: np.ndarray, n_pes: int, index_bits: int, weight_bits: int) -> EncodedLayer:
    """Encode a dense code matrix (0 = zero weight)."""
    codes = np.asarray(codes)
    cols, rows = np.nonzero(codes.T)
    return encode(rows, cols, codes[rows, cols], codes.shape, n_pes, index_bits, weight_bits)


def from_sections(
    shape: tuple[int, int],
    n_pes: int,
    weight_bits: int,
    index_bits: int,
    ptr: np.ndarray,
    words: list[np.ndarray],
) -> EncodedLayer:
    """Rebuild an EncodedLayer from per-PE pointers and packed entry words."""
    n_entries = ptr[:, -1]
    vs, zs = [], []
    for p in range(n_pes):
        v, z = unpack_entries(words[p], int(n_entries[p]), weight_bits, index_bits)
        vs.append(v)
        zs.append(z)
    pe_start = np.zeros(n_pes + 1, dtype=np.int64)
    np.cumsum(n_entries, out=pe_start[1:])
    return EncodedLayer(
        (int(shape[0]), int(shape[1])),
        n_pes,
        weight_bits,
        index_bits,
        np.concatenate(vs) if vs else np.zeros(0, np.uint8),
        np.concatenate(zs) if zs else np.zeros(0, np.uint8),
        pe_start,
        ptr.astype(np.int64),
    )
