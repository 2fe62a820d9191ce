"""The streamed-layer layout (eie.format.stream): hand-worked bytes, round trip, bytes read on Table III shapes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.errors import FormatError
from eie.format.csc import encode, encode_dense
from eie.format.stream import StreamLayer, column_offsets, count_bits, decode_stream, encode_stream, read_plan


def tiny():
    """2 PEs, b = r = 2. Column 0: rows 0, 1, 2 (codes 1, 2, 3); column 1: row 3 (code 1)."""
    codes = np.zeros((4, 2), dtype=np.uint8)
    codes[[0, 1, 2], 0] = [1, 2, 3]
    codes[3, 1] = 1
    return encode_dense(codes, n_pes=2, index_bits=2, weight_bits=2)


def test_tiny_layout_hand_worked():
    # PE0 holds rows 0, 2 (local 0, 1), PE1 rows 1, 3. Counts: column 0 (2, 1), column 1 (0, 1): the
    # largest is 2, so c = 4 (count fields are 4, 6, 8, 12, 16 or 32 bits).
    # Block 0 (bits, little-endian): count PE0 = 2 at 0..3, count PE1 = 1 at 4..7 (0x12),
    #   PE0 (v1, z0) = 1 at 8..11, PE0 (v3, z0) = 3 at 12..15 (0x31), PE1 (v2, z0) = 2 at 16..19 (0x02).
    # Block 1: count 0, count 1 (0x10), PE1 (v1, z1) = 1 | 1 << 2 = 5 at 8..11 (0x05): 2 bytes.
    layer = tiny()
    s = encode_stream(layer)
    assert s.count_bits == count_bits(layer) == 4
    assert s.data.tolist() == [0x12, 0x31, 0x02, 0x10, 0x05]
    assert s.col_offset.tolist() == column_offsets(layer).tolist() == [0, 3, 5]
    # Both columns: one run, bytes 0..5 -> 2-byte beats 0..6; item bytes (3, 2 + 1); bursts of 1 beat: 3.
    p = read_plan(s, [0, 1], beat_bytes=2, burst_len=1)
    assert (p.total_bytes, p.item_bytes.tolist(), p.bursts, p.runs) == (6, [3.0, 3.0], 3, 1)
    assert p.entry_bytes == 2.0 and p.overhead == pytest.approx(2.0)  # 4 entries of 4 bits
    # Column 1 alone: bytes 3..5 -> the beats 2..6; from the EncodedLayer the plan is the same.
    for src in (s, layer):
        q = read_plan(src, [1], beat_bytes=2, burst_len=4)
        assert (q.total_bytes, q.bursts, q.entry_bytes) == (4, 1, 0.5)
    assert read_plan(s, [], 2, 1).total_bytes == 0


def test_count_fields_are_4_6_8_12_16_or_32_bits():
    """The narrowest of 4, 6, 8, 12, 16, 32 bits that holds the largest count of a PE in a column."""
    for top, want in (
        (1, 4),
        (15, 4),
        (16, 6),
        (63, 6),
        (64, 8),
        (255, 8),
        (256, 12),
        (4095, 12),
        (4096, 16),
        (65535, 16),
        (65536, 32),
    ):
        codes = np.zeros((top, 1), dtype=np.uint8)
        codes[:, 0] = 1
        assert count_bits(encode_dense(codes, n_pes=1, index_bits=2, weight_bits=2)) == want, top


def test_decode_refuses_inconsistent_sections():
    s = encode_stream(tiny())
    bad = StreamLayer(s.shape, s.n_pes, s.weight_bits, s.index_bits, s.count_bits, s.data, np.array([0, 2, 5]))
    with pytest.raises(FormatError, match="column 0"):
        decode_stream(bad)
    with pytest.raises(FormatError, match="offsets"):
        decode_stream(StreamLayer(s.shape, 2, 2, 2, 4, s.data[:3], s.col_offset))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 70), st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_round_trip(n, m, k, seed):
    rng = np.random.default_rng(seed)
    b = int(rng.integers(1, 9))
    r = int(rng.integers(1, 9 if b <= 8 else 2))
    dense = (rng.random((m, k)) < rng.random()) * rng.integers(1, 1 << b, (m, k))
    layer = encode_dense(dense.astype(np.uint8), n_pes=n, index_bits=r, weight_bits=b)
    s = encode_stream(layer)
    back = decode_stream(s)
    assert back.v.tolist() == layer.v.tolist() and back.z.tolist() == layer.z.tolist()
    assert back.ptr.tolist() == layer.ptr.tolist() and back.pe_start.tolist() == layer.pe_start.tolist()
    assert (back.decode() == dense).all()
    # Every block is its header plus its entries, rounded up to a byte.
    sizes = (n * s.count_bits + (b + r) * layer.column_entries().sum(axis=0) + 7) // 8
    assert np.diff(s.col_offset).tolist() == sizes.tolist()
    # Reading every column reads the whole section, rounded up to whole beats.
    p = read_plan(s, np.arange(k), 8, 4)
    assert p.total_bytes == -(-s.data.size // 8) * 8
    assert p.item_bytes.sum() == p.total_bytes
    # The plan is the same from the section as from the encoded layer, for any subset of columns.
    cols = np.flatnonzero(rng.random(k) < 0.5)
    a, e = read_plan(s, cols, 4, 2), read_plan(layer, cols, 4, 2)
    assert (a.total_bytes, a.bursts, a.entry_bytes) == (e.total_bytes, e.bursts, e.entry_bytes)
    assert e.entry_bytes == layer.column_entries()[:, cols].sum() * (b + r) / 8
    # The variant with the counts on chip: no headers, same entries.
    s2 = encode_stream(layer, counts_on_chip=True)
    assert s2.header_bits == 0 and s2.counts.tolist() == layer.column_entries().tolist()
    assert np.diff(s2.col_offset).tolist() == (((b + r) * layer.column_entries().sum(axis=0) + 7) // 8).tolist()
    back2 = decode_stream(s2)
    assert back2.v.tolist() == layer.v.tolist() and back2.ptr.tolist() == layer.ptr.tolist()
    a2, e2 = read_plan(s2, cols, 4, 2), read_plan(layer, cols, 4, 2, counts_on_chip=True)
    assert (a2.total_bytes, a2.bursts, a2.entry_bytes) == (e2.total_bytes, e2.bursts, e2.entry_bytes)
    # Smaller blocks; the beat rounding at the runs' ends may still fall either way.
    blocks = np.diff(s.col_offset)[cols].sum()
    assert np.diff(s2.col_offset)[cols].sum() <= blocks <= a.total_bytes
    assert a2.total_bytes <= blocks + 2 * 4 * a.runs


# The EIE paper's Table III layers: (K, M, weight density, activation density).
TABLE_III = {
    "Alex-6": (9216, 4096, 0.09, 0.351),
    "Alex-7": (4096, 4096, 0.09, 0.353),
    "Alex-8": (4096, 1000, 0.25, 0.375),
    "VGG-6": (25088, 4096, 0.04, 0.183),
    "VGG-7": (4096, 4096, 0.04, 0.375),
    "VGG-8": (4096, 1000, 0.23, 0.411),
    "NT-We": (4096, 600, 0.10, 1.0),
    "NT-Wd": (600, 8791, 0.11, 1.0),
    "NT-LSTM": (1201, 2400, 0.10, 1.0),
}


@pytest.mark.parametrize("name", list(TABLE_III))
def test_bytes_read_within_ten_percent_of_active_entries(name):
    """PYNQ-Z2 kernel: 8 PEs, 4-bit codes and indices, 64-bit port, bursts of 16.

    Random instances with the layer's M and densities, K cut to 1024 columns
    for time (the overhead is per column: it depends on M, N and the densities).
    """
    from eie.performance.synthetic import random_activation_mask, random_positions

    k, m, d, a = TABLE_III[name]
    k = min(k, 1024)
    rng = np.random.default_rng(12)
    rows, cols = random_positions(m, k, d, rng)
    layer = encode(rows, cols, np.ones(rows.size, np.uint8), (m, k), 8, 4, 4)
    active = np.flatnonzero(random_activation_mask(k, a, rng))
    plan = read_plan(layer, active, beat_bytes=8, burst_len=16)
    entries = layer.column_entries()[:, active].sum()
    assert plan.entry_bytes == entries  # 8-bit entries
    assert entries <= plan.total_bytes <= 1.10 * entries


@pytest.mark.parametrize("name", list(TABLE_III))
def test_counts_on_chip_keep_64_pes_within_ten_percent(name):
    """ZCU104-like kernel: 64 PEs, 128-bit port, bursts of 64, counts on chip (K cut to 1024 for time).

    With the headers in the stream NT-We would read about 40 % extra at 64 PEs
    (docs/image-format.md); without them only the beat rounding of each run remains.
    """
    from eie.performance.synthetic import random_activation_mask, random_positions

    k, m, d, a = TABLE_III[name]
    k = min(k, 1024)
    rng = np.random.default_rng(13)
    rows, cols = random_positions(m, k, d, rng)
    layer = encode(rows, cols, np.ones(rows.size, np.uint8), (m, k), 64, 4, 4)
    active = np.flatnonzero(random_activation_mask(k, a, rng))
    plan = read_plan(layer, active, beat_bytes=16, burst_len=64, counts_on_chip=True)
    entries = layer.column_entries()[:, active].sum()
    assert entries <= plan.total_bytes <= 1.10 * entries
    with_headers = read_plan(layer, active, beat_bytes=16, burst_len=64)
    assert with_headers.total_bytes > plan.total_bytes


def _reference_reads(off, cols, w, burst_len, lanes):
    """The reader rule, one block at a time (what each lane's request process does): per lane
    (requests, words), and the runs as (lane, first word, end word)."""
    chunk = min(burst_len * w, 4096) // w
    runs = []
    for lane in range(lanes):
        cur = None
        for c in cols:
            if c % lanes != lane or off[c + 1] == off[c]:
                continue
            fw, ew = off[c] // w, -(-off[c + 1] // w)
            if cur is not None and fw <= cur[1]:
                cur[1] = max(cur[1], ew)
            else:
                if cur is not None:
                    runs.append((lane, *cur))
                cur = [fw, ew]
        if cur is not None:
            runs.append((lane, *cur))
    req, words = [0] * lanes, [0] * lanes
    for lane, a, b in runs:
        words[lane] += b - a
        req[lane] += (b - 1) // chunk - a // chunk + 1
    return req, words


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 40), st.integers(1, 60), st.integers(0, 2**31 - 1))
def test_read_plan_matches_the_reader_rule_block_by_block(n, m, k, seed):
    """The vectorised plan against a block-by-block reading of the rule, for 1, 2 and 4 lanes."""
    rng = np.random.default_rng(seed)
    codes = (rng.random((m, k)) < rng.random()).astype(np.uint8)
    layer = encode_dense(codes, n_pes=n, index_bits=int(rng.integers(1, 5)), weight_bits=int(rng.integers(1, 5)))
    on_chip = bool(rng.integers(2))
    off = column_offsets(layer, None, on_chip).tolist()
    cols = np.flatnonzero(rng.random(k) < rng.random())
    for lanes in (1, 2, 4):
        w, bl = int(rng.choice([4, 8, 16])), int(2 ** rng.integers(0, 4))
        p = read_plan(layer, cols, w, bl, on_chip, lanes=lanes)
        req, words = _reference_reads(off, cols.tolist(), w, bl, lanes)
        assert p.lane_bursts.tolist() == req and p.lane_words.tolist() == words
        assert (p.bursts, p.words) == (sum(req), sum(words))
        assert p.item_lane.tolist() == (cols % lanes).tolist()
        # Each lane's items add up to its bytes; nothing is charged twice.
        per_lane = np.bincount(p.item_lane, weights=p.item_bytes, minlength=lanes)
        assert per_lane.tolist() == p.lane_bytes.tolist()
