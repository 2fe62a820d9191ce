"""Row maps (eie.format.rowmap): hand-worked encodings, the inverse, the permutation check."""

from __future__ import annotations

import numpy as np
import pytest

from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import ConfigError
from eie.format.csc import encode, encode_dense
from eie.format.rowmap import (
    check_perm,
    encode_layer,
    encode_model,
    encode_positions,
    identity,
    inverse,
    physical_positions,
    to_physical,
)

# Logical 4 x 3 codes: rows 0 and 2 are the heavy ones.
CODES = np.array(
    [
        [1, 2, 0],
        [0, 0, 4],
        [5, 6, 0],
        [0, 0, 0],
    ],
    dtype=np.uint8,
)
PERM = np.array([2, 0, 3, 1])  # physical row i holds logical row PERM[i]
PREV = np.array([2, 0, 1])  # physical column c holds logical column PREV[c]


def layer():
    return CompressedLayer.from_dense_codes("fc", CODES, np.arange(16) * 0.5, activation="none")


def per_pe(enc):
    """(v, z, ptr) of each PE as plain lists."""
    out = []
    for p in range(enc.n_pes):
        lo, hi = int(enc.pe_start[p]), int(enc.pe_start[p + 1])
        out.append((enc.v[lo:hi].tolist(), enc.z[lo:hi].tolist(), enc.ptr[p].tolist()))
    return out


def test_inverse_hand_worked():
    # Logical row -> physical row: logical 2 is physical 0, logical 0 is physical 1,
    # logical 3 is physical 2, logical 1 is physical 3.
    assert inverse(PERM).tolist() == [1, 3, 0, 2]
    assert identity(4).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("seed", range(5))
def test_inverse_composed_with_perm_is_identity(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 200))
    perm = rng.permutation(m)
    inv = inverse(perm)
    assert np.array_equal(inv[perm], identity(m))
    assert np.array_equal(perm[inv], identity(m))
    assert np.array_equal(inverse(inv), perm)


def test_identity_map_is_eie_interleave():
    # 2 PEs, no map: PE 0 holds logical rows 0 and 2, PE 1 rows 1 and 3.
    # PE 0: col 0 -> (1, z=0), (5, z=0); col 1 -> (2, 0), (6, 0); col 2 empty.
    # PE 1: col 2 -> row 1 is local row 0: (4, 0).
    enc = encode_layer(layer(), 2, 2)
    assert per_pe(enc) == [
        ([1, 5, 2, 6], [0, 0, 0, 0], [0, 2, 4, 4]),
        ([4], [0], [0, 0, 0, 1]),
    ]
    assert enc.n_entries.tolist() == [4, 1]
    same = encode_layer(layer(), 2, 2, perm=identity(4), prev_perm=identity(3))
    assert per_pe(same) == per_pe(enc)


def test_row_map_hand_worked():
    # PERM = [2, 0, 3, 1]: PE 0 owns physical rows 0, 2 = logical rows 2, 3;
    # PE 1 owns physical rows 1, 3 = logical rows 0, 1.
    # PE 0: local 0 = [5, 6, 0], local 1 = [0, 0, 0]: col 0 (5, 0), col 1 (6, 0).
    # PE 1: local 0 = [1, 2, 0], local 1 = [0, 0, 4]: col 0 (1, 0), col 1 (2, 0),
    #       col 2 (4, z=1) (local row 0 skipped).
    enc = encode_layer(layer(), 2, 2, perm=PERM)
    assert per_pe(enc) == [
        ([5, 6], [0, 0], [0, 1, 2, 2]),
        ([1, 2, 4], [0, 0, 1], [0, 1, 2, 3]),
    ]
    assert enc.n_entries.tolist() == [2, 3]
    assert enc.shape == (4, 3) and enc.weight_bits == 4 and enc.index_bits == 2


def test_row_and_column_maps_hand_worked():
    # Columns too: physical column c is logical column PREV[c] = 2, 0, 1.
    # PE 0: local 0 = logical row 2 [5, 6, 0] -> [0, 5, 6]; local 1 empty:
    #       col 1 (5, 0), col 2 (6, 0).
    # PE 1: local 0 = logical row 0 [1, 2, 0] -> [0, 1, 2]; local 1 = row 1 [0, 0, 4] -> [4, 0, 0]:
    #       col 0 (4, z=1), col 1 (1, 0), col 2 (2, 0).
    enc = encode_layer(layer(), 2, 2, perm=PERM, prev_perm=PREV)
    assert per_pe(enc) == [
        ([5, 6], [0, 0], [0, 0, 1, 2]),
        ([4, 1, 2], [1, 0, 0], [0, 1, 2, 3]),
    ]
    # The same from bare arrays, and the physical positions themselves.
    l = layer()
    bare = encode_positions(l.rows, l.cols, l.codes, l.shape, 2, 2, 4, PERM, PREV)
    assert per_pe(bare) == per_pe(enc)
    rows, cols = physical_positions([0, 2, 1], [0, 1, 2], (4, 3), PERM, PREV)
    assert rows.tolist() == [1, 0, 3] and cols.tolist() == [1, 2, 0]


def test_weight_bits_override_and_padding():
    # One PE, index_bits 1 (a run of 2 zeros costs a padding entry): logical column 2
    # holds only row 1; under PERM it is physical row 3 -> gap 3 = one pad (0, 1) then (4, 1).
    enc = encode_layer(layer(), 1, 1, perm=PERM, weight_bits=5)
    assert enc.weight_bits == 5
    lo = int(enc.ptr[0, 2])
    assert enc.v[lo:].tolist() == [0, 4] and enc.z[lo:].tolist() == [1, 1]


@pytest.mark.parametrize("seed", range(4))
def test_decode_is_the_permuted_matrix(seed):
    rng = np.random.default_rng(seed)
    m, k, n = int(rng.integers(1, 40)), int(rng.integers(1, 40)), int(rng.integers(1, 6))
    codes = ((rng.random((m, k)) < 0.3) * rng.integers(1, 16, (m, k))).astype(np.uint8)
    l = CompressedLayer.from_dense_codes("x", codes, np.arange(16) * 1.0)
    perm, prev = rng.permutation(m), rng.permutation(k)
    enc = encode_layer(l, n, 3, perm, prev)
    assert np.array_equal(enc.decode(), codes[perm][:, prev])
    plain = encode_dense(codes, n, 3, 4)
    assert per_pe(encode_layer(l, n, 3)) == per_pe(plain)


def test_encode_model_chains_the_maps():
    # A 3 x 2 layer feeding the 4 x 3 one.
    a = CompressedLayer.from_dense_codes("a", np.array([[1, 0], [0, 2], [3, 0]], np.uint8), np.arange(16) * 1.0)
    b = layer()
    model = CompressedModel([a, b])
    pa = np.array([1, 2, 0])
    encs = encode_model(model, [pa, PERM], 2, 2)
    assert np.array_equal(encs[0].decode(), a.dense_codes()[pa])
    # The second layer's columns follow the first layer's rows.
    assert np.array_equal(encs[1].decode(), CODES[PERM][:, pa])
    ident = encode_model(model, None, 2, 2)
    assert per_pe(ident[1]) == per_pe(encode(b.rows, b.cols, b.codes, b.shape, 2, 2, 4))
    with pytest.raises(ConfigError, match="1 row maps given for 2 layers"):
        encode_model(model, [pa], 2, 2)
    # A bad map is caught at the first layer that uses it, as a row map.
    with pytest.raises(ConfigError, match="row map of layer 'a'"):
        encode_model(model, [np.array([0, 0, 1]), PERM], 2, 2)
    with pytest.raises(ConfigError, match=r"column map \(previous layer's row map\) of layer 'fc'.*2 appears 2 times"):
        encode_layer(b, 2, 2, PERM, np.array([2, 2, 0]))


def test_to_physical():
    x = np.array([[10, 20, 30], [1, 2, 3]])
    assert to_physical(x, PREV).tolist() == [[30, 10, 20], [3, 1, 2]]
    assert to_physical(x, None).tolist() == x.tolist()


@pytest.mark.parametrize(
    "perm, why",
    [
        ([0, 0, 2, 3], r"0 appears 2 times \(1 of 0\.\.3 missing\)"),
        ([0, 1, 2, 4], "value 4 is out of range"),
        ([0, -1, 2, 3], "value -1 is out of range"),
        ([0, 1, 2], r"shape \(3,\), expected \(4,\)"),
        ([[0, 1], [2, 3]], r"shape \(2, 2\), expected \(4,\)"),
        ([0.0, 1.0, 2.0, 3.0], "float64 values"),
    ],
)
def test_check_perm_refuses_non_permutations(perm, why):
    with pytest.raises(ConfigError, match=r"row map of layer 'fc' is not a permutation of 0\.\.3: .*" + why):
        encode_layer(layer(), 2, 2, perm=np.array(perm))
    with pytest.raises(ConfigError, match=why):
        check_perm(np.array(perm), 4, "row map of layer 'fc'")


def test_check_perm_accepts_and_normalises():
    p = check_perm([3, 1, 0, 2], 4)
    assert p.dtype == np.int64 and p.tolist() == [3, 1, 0, 2]
    assert check_perm(np.array([0], np.uint8), 1).tolist() == [0]
