"""The EIE CSC format (docs/csc-format.md): paper example, round trips, padding, packing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.errors import ConfigError, FormatError
from eie.format.csc import encode, encode_dense, entries_per_word, from_sections, pack_entries, unpack_entries


def reference_encode(codes: np.ndarray, n: int, r: int):
    """Plain-loop encoder written from docs/csc-format.md, for comparison."""
    m, k = codes.shape
    span = 1 << r
    per_pe = []
    for p in range(n):
        local_rows = list(range(p, m, n))
        v, z, ptr = [], [], [0]
        for j in range(k):
            zeros = 0
            for i in local_rows:
                c = int(codes[i, j])
                if c == 0:
                    zeros += 1
                    continue
                # Trailing zeros of a column need no entries.
                while zeros >= span:
                    v.append(0)
                    z.append(span - 1)
                    zeros -= span
                v.append(c)
                z.append(zeros)
                zeros = 0
            ptr.append(len(v))
        per_pe.append((v, z, ptr))
    return per_pe


def independent_padding(codes: np.ndarray, n: int, r: int) -> int:
    """Sum of floor(gap / 2^r) over the PE-local zero gaps before each nonzero."""
    m, k = codes.shape
    total = 0
    for p in range(n):
        for j in range(k):
            last = -1
            for local, i in enumerate(range(p, m, n)):
                if codes[i, j] != 0:
                    total += (local - last - 1) // (1 << r)
                    last = local
    return total


def test_paper_column():
    col = np.array([0, 0, 1, 2] + [0] * 18 + [3], dtype=np.uint8)
    enc = encode_dense(col[:, None], n_pes=1, index_bits=4, weight_bits=4)
    assert enc.v.tolist() == [1, 2, 0, 3]
    assert enc.z.tolist() == [2, 0, 15, 2]
    assert enc.ptr.tolist() == [[0, 4]]
    assert enc.padding == 1 and enc.nnz == 3
    assert np.array_equal(enc.decode()[:, 0], col)


@st.composite
def layers(draw):
    m = draw(st.integers(1, 40))
    k = draw(st.integers(1, 12))
    b = draw(st.integers(1, 8))
    kind = draw(st.sampled_from(["random", "sparse", "dense", "zero", "holes"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    top = 1 << b
    codes = rng.integers(1, top, size=(m, k)).astype(np.uint8)
    if kind == "random":
        codes[rng.random((m, k)) < draw(st.floats(0.0, 1.0))] = 0
    elif kind == "sparse":
        codes[rng.random((m, k)) < 0.95] = 0
    elif kind == "zero":
        codes[:] = 0
    elif kind == "holes":
        # Whole empty rows and empty columns.
        codes[rng.random((m, k)) < 0.3] = 0
        codes[rng.random(m) < 0.4, :] = 0
        codes[:, rng.random(k) < 0.4] = 0
    return codes, b


@settings(max_examples=150, deadline=None)
@given(layers(), st.sampled_from([1, 2, 3, 7, 64]), st.integers(1, 8))
def test_round_trip_matches_reference(layer, n, r):
    codes, b = layer
    enc = encode_dense(codes, n_pes=n, index_bits=r, weight_bits=b)
    assert np.array_equal(enc.decode(), codes)
    ref = reference_encode(codes, n, r)
    for p, (v, z, ptr) in enumerate(ref):
        lo, hi = int(enc.pe_start[p]), int(enc.pe_start[p + 1])
        assert enc.v[lo:hi].tolist() == v
        assert enc.z[lo:hi].tolist() == z
        assert enc.ptr[p].tolist() == ptr
    assert enc.padding == independent_padding(codes, n, r)
    assert enc.nnz == int(np.count_nonzero(codes))
    # Through the packed words, as the image stores them.
    words = [enc.pack(p) for p in range(n)]
    per = entries_per_word(b, r)
    assert [w.size for w in words] == [-(-int(c) // per) for c in enc.n_entries]
    back = from_sections(enc.shape, n, b, r, enc.ptr, words)
    assert np.array_equal(back.v, enc.v) and np.array_equal(back.z, enc.z)
    assert np.array_equal(back.decode(), codes)


def test_dense_and_zero_layers_entry_counts():
    dense = np.full((9, 5), 3, dtype=np.uint8)
    enc = encode_dense(dense, n_pes=2, index_bits=2, weight_bits=2)
    assert enc.total_entries == 45 and enc.padding == 0
    assert np.all(enc.z == 0)
    assert enc.n_entries.tolist() == [5 * 5, 4 * 5]
    zero = np.zeros((9, 5), dtype=np.uint8)
    enc = encode_dense(zero, n_pes=3, index_bits=1, weight_bits=4)
    assert enc.total_entries == 0
    assert enc.ptr.tolist() == [[0] * 6] * 3
    assert np.array_equal(enc.decode(), zero)


def test_padding_in_a_pe_local_gap():
    # 20 rows, 2 PEs: column 0 holds physical rows 0 and 18 (both PE 0,
    # local rows 0 and 9): a PE-local gap of 8 zeros; with r = 2 that costs
    # floor(8 / 4) = 2 padding entries, then z = 0.
    codes = np.zeros((20, 1), dtype=np.uint8)
    codes[0, 0] = 1
    codes[18, 0] = 2
    enc = encode_dense(codes, n_pes=2, index_bits=2, weight_bits=2)
    assert enc.v.tolist() == [1, 0, 0, 2]
    assert enc.z.tolist() == [0, 3, 3, 0]
    assert enc.n_entries.tolist() == [4, 0]


def test_hand_worked_packed_word():
    # b = 4, r = 4: 8-bit entries v | z << 4, eight per word, entry 0 lowest.
    v = np.array([1, 2, 0, 3], dtype=np.uint8)
    z = np.array([2, 0, 15, 2], dtype=np.uint8)
    words = pack_entries(v, z, 4, 4)
    assert words.tolist() == [0x23F00221]
    # b = 2, r = 3: 5-bit entries, 12 per word; entry 12 starts word 1.
    v = np.array([3, 1] + [0] * 10 + [2], dtype=np.uint8)
    z = np.array([1, 7] + [0] * 10 + [5], dtype=np.uint8)
    words = pack_entries(v, z, 2, 3)
    assert entries_per_word(2, 3) == 12
    assert words.tolist() == [(3 | 1 << 2) | (1 | 7 << 2) << 5, 2 | 5 << 2]
    back_v, back_z = unpack_entries(words, 13, 2, 3)
    assert np.array_equal(back_v, v) and np.array_equal(back_z, z)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(0, 200), st.integers(0, 2**32 - 1))
def test_pack_matches_plain_integer_packing(b, r, n, seed):
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 1 << b, n).astype(np.uint8)
    z = rng.integers(0, 1 << r, n).astype(np.uint8)
    per = 64 // (b + r)
    expect = [0] * (-(-n // per))
    for e in range(n):
        expect[e // per] |= (int(v[e]) | int(z[e]) << b) << ((e % per) * (b + r))
    words = pack_entries(v, z, b, r)
    assert words.dtype == np.uint64
    assert words.tolist() == expect
    back_v, back_z = unpack_entries(words, n, b, r)
    assert np.array_equal(back_v, v) and np.array_equal(back_z, z)


def test_encode_refuses_bad_settings():
    codes = np.array([[1, 0], [0, 2]], dtype=np.uint8)
    with pytest.raises(ConfigError):
        encode_dense(codes, n_pes=1, index_bits=0, weight_bits=4)
    with pytest.raises(ConfigError):
        encode_dense(codes, n_pes=1, index_bits=4, weight_bits=9)
    with pytest.raises(FormatError):
        encode_dense(codes * 8, n_pes=1, index_bits=4, weight_bits=4)  # code 16 > 15
    with pytest.raises(FormatError):
        encode_dense(codes, n_pes=0, index_bits=4, weight_bits=4)
    with pytest.raises(FormatError):
        unpack_entries(np.zeros(1, np.uint64), 9, 4, 4)  # 8 entries fit, 9 asked


def test_encode_keeps_order_of_unsorted_input():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 8, (30, 11)).astype(np.uint8)
    rows, cols = np.nonzero(codes)
    shuffle = rng.permutation(rows.size)
    enc = encode(rows[shuffle], cols[shuffle], codes[rows, cols][shuffle], codes.shape, 4, 3, 3)
    assert np.array_equal(enc.decode(), codes)
