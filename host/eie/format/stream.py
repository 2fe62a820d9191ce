"""The streamed-layer layout: one layer's entries in DDR, laid out for the AXI bus.

The image (format version 3, ``eie.format.image``) holds a streamed layer's
section in this layout, with the headers in the blocks; the kernel's reader
and dispatcher read it (docs/kernel.md, "Streamed layers"), and the timing
model prices it (docs/image-format.md, "Streamed layers (format version 3)").

A streamed layer is K column blocks back to back, in physical column order
(the order the broadcaster walks). Block j starts at byte ``col_offset[j]``
(``col_offset[K]`` is the section length); a block is a little-endian bit
string (bit i is bit i mod 8 of byte i div 8):

* a header of N count fields, ``count_bits`` (c = 4, 6, 8, 12, 16 or 32) bits each, PE 0 first:
  PE p's entries in column j (padding entries included);
* then PE 0's entries of column j, PE 1's, ..., each ``b + r`` bits with the
  code v in the low b bits and the relative index z above, exactly the
  entries of ``eie.format.csc`` in the same order;
* zero bits up to the next whole byte.

``c`` is per layer: the narrowest of 4, 6, 8, 12, 16 and 32 bits that holds the largest count. With
``counts_on_chip`` the headers are left out of the blocks and the N x K
counts are kept on chip instead (the variant for N >= 16, where the header
outgrows a small column; docs/image-format.md). A reader
fetches the blocks of the columns whose activation is non-zero, column j over
lane (HP port) j mod P; blocks of a lane that touch or share a word are one run
of bursts (``read_plan``). numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie.errors import FormatError
from eie.format.csc import EncodedLayer

PAGE_BYTES = 4096  # an AXI burst never crosses a 4 KiB boundary


# A count field is 4, 6, 8, 12, 16 or 32 bits (format version 4), so the kernel's
# dispatcher splits a header with a 6:1 select per bit (two LUTs), not a shifter by a
# run-time multiple of 1..32 (docs/kernel.md, "Streamed layers").
COUNT_WIDTHS = (4, 6, 8, 12, 16, 32)


def count_bits(layer: EncodedLayer) -> int:
    """c: bits of one count field, the narrowest of COUNT_WIDTHS that holds the largest per-(PE, column) count."""
    counts = layer.column_entries()
    top = int(counts.max()) if counts.size else 0
    return next(w for w in COUNT_WIDTHS if top < (1 << w))


def column_offsets(layer: EncodedLayer, c: int | None = None, counts_on_chip: bool = False) -> np.ndarray:
    """Byte offset of every column block (K + 1 values; the last is the section length)."""
    c = 0 if counts_on_chip else count_bits(layer) if c is None else int(c)
    n, k = layer.n_pes, layer.shape[1]
    eb = layer.weight_bits + layer.index_bits
    bits = n * c + eb * layer.column_entries().sum(axis=0).astype(np.int64)
    off = np.zeros(k + 1, dtype=np.int64)
    np.cumsum((bits + 7) // 8, out=off[1:])
    return off


@dataclass
class StreamLayer:
    """One layer in the streamed layout: the section bytes and where each column block starts."""

    shape: tuple[int, int]
    n_pes: int
    weight_bits: int
    index_bits: int
    count_bits: int
    data: np.ndarray  # uint8, col_offset[K] bytes
    col_offset: np.ndarray  # int64, K + 1
    counts: np.ndarray | None = None  # N x K, kept on chip; None: in the block headers

    @property
    def header_bits(self) -> int:
        """Bits of one block header: N x c, or 0 with the counts on chip."""
        return 0 if self.counts is not None else self.n_pes * self.count_bits

    @property
    def entry_bits(self) -> int:
        return self.weight_bits + self.index_bits


def _write_fields(bits: np.ndarray, pos: np.ndarray, values: np.ndarray, width: int) -> None:
    """Set the little-endian bits of ``values`` (width bits each) at bit positions ``pos``."""
    if pos.size == 0:
        return
    shifts = np.arange(width, dtype=np.int64)
    on = (values.astype(np.int64)[:, None] >> shifts) & 1
    bits[(pos[:, None] + shifts)[on.astype(bool)]] = 1


def _read_fields(bits: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    shifts = np.arange(width, dtype=np.int64)
    return (bits[pos[:, None] + shifts].astype(np.int64) << shifts).sum(axis=1)


def encode_stream(layer: EncodedLayer, counts_on_chip: bool = False) -> StreamLayer:
    """The streamed layout of an encoded layer (vectorised; decode_stream inverts it).

    ``counts_on_chip``: blocks without headers; the counts go in ``StreamLayer.counts``.
    """
    n, k = layer.n_pes, layer.shape[1]
    b, r = layer.weight_bits, layer.index_bits
    eb = b + r
    c = count_bits(layer)
    counts = layer.column_entries()  # N x K
    off = column_offsets(layer, c, counts_on_chip)
    bits = np.zeros(int(off[-1]) * 8, dtype=np.uint8)
    hbits = 0 if counts_on_chip else n * c
    if not counts_on_chip:
        # Header fields: column j, PE p at bit 8 off[j] + p c.
        hpos = (8 * off[:-1])[None, :] + (np.arange(n, dtype=np.int64) * c)[:, None]
        _write_fields(bits, hpos.ravel(), counts.ravel(), c)
    # Entries are stored PE-major (PE, column, i); the stream wants (column, PE, i).
    group = np.repeat(np.arange(n * k, dtype=np.int64), counts.ravel())  # p * K + j of each entry
    col = group % k
    order = np.argsort(col * n + group // k, kind="stable")
    col_sorted = col[order]
    first_in_col = np.searchsorted(col_sorted, np.arange(k))
    rank = np.arange(order.size, dtype=np.int64) - first_in_col[col_sorted]
    epos = 8 * off[col_sorted] + hbits + rank * eb
    vals = layer.v[order].astype(np.int64) | (layer.z[order].astype(np.int64) << b)
    _write_fields(bits, epos, vals, eb)
    data = np.packbits(bits, bitorder="little")
    kept = counts.astype(np.int64).copy() if counts_on_chip else None
    return StreamLayer((int(layer.shape[0]), k), n, b, r, c, data, off, kept)


def stream_counts(stream: StreamLayer) -> np.ndarray:
    """The N x K counts: the on-chip table, or read from the block headers."""
    if stream.counts is not None:
        return np.asarray(stream.counts, dtype=np.int64)
    n, c = stream.n_pes, stream.count_bits
    off = np.asarray(stream.col_offset, dtype=np.int64)
    # Only the header bytes are unpacked: ceil(N c / 8) from each block start.
    hb = -(-n * c // 8)
    idx = np.minimum(off[:-1, None] + np.arange(hb), max(stream.data.size - 1, 0))
    bits = np.unpackbits(np.asarray(stream.data, dtype=np.uint8)[idx], axis=1, bitorder="little")
    pos = np.arange(n, dtype=np.int64)[:, None] * c + np.arange(c)
    return (bits[:, pos].astype(np.int64) << np.arange(c)).sum(axis=2).T


def decode_stream(stream: StreamLayer) -> EncodedLayer:
    """The EncodedLayer a streamed section holds (what the dispatcher hands the PEs)."""
    n, k = stream.n_pes, stream.shape[1]
    c, b, eb = stream.count_bits, stream.weight_bits, stream.entry_bits
    off = np.asarray(stream.col_offset, dtype=np.int64)
    if off.shape != (k + 1,) or off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] != stream.data.size:
        raise FormatError("streamed layer: column offsets are not K + 1 increasing byte offsets ending at the section")
    bits = np.unpackbits(np.asarray(stream.data, dtype=np.uint8), bitorder="little")
    hbits = stream.header_bits
    if stream.counts is not None:
        counts = np.asarray(stream.counts, dtype=np.int64)
        if counts.shape != (n, k):
            raise FormatError(f"streamed layer: on-chip counts have shape {counts.shape}, expected ({n}, {k})")
    else:
        hpos = (8 * off[:-1])[None, :] + (np.arange(n, dtype=np.int64) * c)[:, None]
        counts = _read_fields(bits, hpos.ravel(), c).reshape(n, k)
    need = (hbits + eb * counts.sum(axis=0) + 7) // 8
    if np.any(need != np.diff(off)):
        bad = int(np.argmax(need != np.diff(off)))
        raise FormatError(
            f"streamed layer: column {bad}'s counts need {int(need[bad])} bytes, its block has "
            f"{int(off[bad + 1] - off[bad])}"
        )
    # Entry positions in stream order (column, PE, i), then back to PE-major order.
    per_col = counts.sum(axis=0)
    col = np.repeat(np.arange(k, dtype=np.int64), per_col)
    first = np.cumsum(per_col) - per_col
    rank = np.arange(col.size, dtype=np.int64) - first[col]
    vals = _read_fields(bits, 8 * off[col] + hbits + rank * eb, eb)
    pe = np.repeat(np.tile(np.arange(n, dtype=np.int64), k), counts.T.ravel())
    order = np.argsort(pe * k + col, kind="stable")
    vals = vals[order]
    ptr = np.zeros((n, k + 1), dtype=np.int64)
    np.cumsum(counts, axis=1, out=ptr[:, 1:])
    pe_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(ptr[:, -1], out=pe_start[1:])
    v = (vals & ((1 << b) - 1)).astype(np.uint8)
    z = (vals >> b).astype(np.uint8)
    return EncodedLayer(stream.shape, n, b, stream.index_bits, v, z, pe_start, ptr)


@dataclass
class ReadPlan:
    """What the readers fetch for one input: runs of whole words, per lane (docs/timing.md, "Several ports").

    ``item_bytes`` is in item (column) order; a lane's items sum to its
    ``lane_bytes``. Totals are over all lanes.
    """

    item_bytes: np.ndarray  # bytes attributed to each active column (its block, plus its run's word rounding)
    total_bytes: int
    entry_bytes: float  # (b + r) / 8 per entry of the active columns, padding entries included
    bursts: int
    runs: int
    word_bytes: int = 1
    lanes: int = 1
    item_lane: np.ndarray | None = None  # lane of each active column (column mod lanes)
    lane_bursts: np.ndarray | None = None  # per lane, int64
    lane_bytes: np.ndarray | None = None  # per lane, int64 (whole words)
    lane_runs: np.ndarray | None = None  # per lane, int64

    @property
    def words(self) -> int:
        """Words read over all lanes (``word_bytes`` each; the kernel's ``stream_words`` counter)."""
        return self.total_bytes // self.word_bytes

    @property
    def lane_words(self) -> np.ndarray:
        return np.asarray(self.lane_bytes, dtype=np.int64) // self.word_bytes

    @property
    def mean_burst_bytes(self) -> float:
        return self.total_bytes / self.bursts if self.bursts else 0.0

    def lane_mean_burst_bytes(self) -> np.ndarray:
        """Mean burst of each lane (0 for a lane that reads nothing)."""
        b = np.asarray(self.lane_bursts, dtype=np.float64)
        return np.divide(np.asarray(self.lane_bytes, dtype=np.float64), b, out=np.zeros_like(b), where=b > 0)

    @property
    def overhead(self) -> float:
        """Bytes read beyond the active columns' entries, as a fraction of those entries."""
        return self.total_bytes / self.entry_bytes - 1.0 if self.entry_bytes else 0.0


def read_plan(
    layer: EncodedLayer | StreamLayer,
    cols,
    beat_bytes: int,
    burst_len: int,
    counts_on_chip: bool = False,
    lanes: int = 1,
) -> ReadPlan:
    """The reads of one input whose non-zero activations are at columns ``cols`` (increasing).

    Column j is read by lane ``j % lanes`` (one reader per HP port). A word is
    ``beat_bytes`` (the stream word, W bits: the kernel's m_axi beat).
    Within a lane the blocks come in increasing address order; a block with
    words ``[lo // w, ceil(hi / w))`` continues the lane's current run iff its
    first word is at most the run's end word (exclusive): word-contiguous, or
    sharing the run's last word, which is then read once. Otherwise a new run
    starts. An empty block (no bytes: counts on chip, empty column) reads
    nothing and neither ends nor extends a run. A run is cut into bursts at
    every multiple of min(burst_len words, 4 KiB), so no burst crosses a 4 KiB
    page; the section is assumed to start on a 4 KiB boundary.
    ``counts_on_chip`` (for an EncodedLayer; a StreamLayer knows) leaves the
    headers out. Each column is charged from the end of the previous block
    of its run (its run's first word, if it opens the run) to its block's end
    (its run's last word, if it closes the run): so a lane's items sum to the
    lane's words, and other lanes' bytes inside a run go to the later block.
    """
    cols = np.asarray(cols, dtype=np.int64)
    p = int(lanes)
    if p < 1 or p != lanes:
        raise FormatError(f"lanes={lanes!r} must be a positive integer (the HP ports a streamed layer is read over)")
    if isinstance(layer, StreamLayer):
        off = np.asarray(layer.col_offset, dtype=np.int64)
        eb = layer.entry_bits
        entry_bytes = float(stream_counts(layer)[:, cols].sum()) * eb / 8
    else:
        off = column_offsets(layer, None, counts_on_chip)
        eb = layer.weight_bits + layer.index_bits
        entry_bytes = float(layer.column_entries()[:, cols].sum()) * eb / 8
    w = int(beat_bytes)
    zeros = np.zeros(p, dtype=np.int64)
    if cols.size == 0:
        return ReadPlan(np.zeros(0), 0, 0.0, 0, 0, w, p, np.zeros(0, dtype=np.int64), zeros, zeros.copy(), zeros.copy())
    chunk = min(int(burst_len) * w, PAGE_BYTES)
    lane = cols % p
    order = np.argsort(lane, kind="stable")  # lane-major, column order within a lane
    ne = order[off[cols[order] + 1] > off[cols[order]]]  # the items that read something, lane-major
    lo, hi = off[cols[ne]], off[cols[ne] + 1]
    ln = lane[ne]
    if ne.size == 0:  # only empty blocks (counts on chip): nothing to read
        return ReadPlan(np.zeros(cols.size), 0, entry_bytes, 0, 0, w, p, lane, zeros, zeros.copy(), zeros.copy())
    fw, ew = lo // w, -(-hi // w)  # first word, end word (exclusive)
    new_run = np.ones(ne.size, dtype=bool)
    new_run[1:] = (ln[1:] != ln[:-1]) | (fw[1:] > ew[:-1])
    first = np.flatnonzero(new_run)
    last = np.append(first[1:] - 1, ne.size - 1)
    end = hi.copy()
    end[last] = ew[last] * w
    start = np.empty_like(end)
    start[1:] = end[:-1]
    start[first] = fw[first] * w
    item = np.zeros(cols.size, dtype=np.float64)
    item[ne] = end - start
    run_lo, run_hi = fw[first] * w, ew[last] * w
    run_bursts = (run_hi - 1) // chunk - run_lo // chunk + 1
    run_lane = ln[first]
    lane_bursts = np.bincount(run_lane, weights=run_bursts, minlength=p).astype(np.int64)
    lane_bytes = np.bincount(run_lane, weights=run_hi - run_lo, minlength=p).astype(np.int64)
    lane_runs = np.bincount(run_lane, minlength=p).astype(np.int64)
    return ReadPlan(
        item,
        int(lane_bytes.sum()),
        entry_bytes,
        int(lane_bursts.sum()),
        int(first.size),
        w,
        p,
        lane,
        lane_bursts,
        lane_bytes,
        lane_runs,
    )
