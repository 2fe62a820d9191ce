"""Row maps (balanced vs interleaved) and the index-bits choice."""

import numpy as np
import pytest

from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import CapacityError, ConfigError
from eie.format.csc import encode
from eie.format.rowmap import check_perm, encode_model, encode_positions, identity, to_physical
from eie.performance.balance import balance, balance_model, candidate
from eie.performance.index_bits import choose_index_bits, index_bits_table
from eie.performance.synthetic import random_activation_mask, random_positions
from eie.performance.timing import TimingParams, simulate_layer


def test_interleave_candidate_is_identity():
    assert candidate("interleave", [0], [0], (5, 1), 2).tolist() == [0, 1, 2, 3, 4]


def test_lpt_hand_worked():
    # 4 rows, 2 PEs; rows 0 and 2 hold 4 weights, rows 1 and 3 none.
    # Interleave puts rows 0 and 2 both on PE0 (8 entries vs 0).
    # LPT round 0 deals the heaviest rows 0, 2 to PEs 0, 1; round 1 rows 1, 3.
    # perm[physical] = logical = [0, 2, 1, 3]; each PE then holds 4 entries.
    rows = np.repeat([0, 2], 4)
    cols = np.tile(np.arange(4), 2)
    perm = candidate("lpt", rows, cols, (4, 4), 2)
    assert perm.tolist() == [0, 2, 1, 3]
    layer = encode_positions(rows, cols, np.ones(8, np.uint8), (4, 4), 2, 4, 4, perm)
    assert layer.n_entries.tolist() == [4, 4]
    plain = encode(rows, cols, np.ones(8, np.uint8), (4, 4), 2, 4, 4)
    assert plain.n_entries.tolist() == [8, 0]
    # All four columns broadcast, FIFO 1: interleave takes 4 * 2 = 8 array cycles
    # on PE0; balanced takes 4 * 1 = 4.
    p = TimingParams(fifo_depth=1, pipeline_fill=0, epilogue_per_row=0, epilogue_fixed=0)
    assert simulate_layer(plain, np.ones(4), p).cycles == 8
    assert simulate_layer(layer, np.ones(4), p).cycles == 4
    res = balance(rows, cols, (4, 4), 2, 4, params=p)
    assert res.cycles["interleave"] == 8 and min(res.cycles.values()) == 4


def test_uneven_rounds_fill_only_owned_slots():
    # M = 7 rows over 3 PEs: PE0 owns physical rows 0, 3, 6; the last round has one slot.
    rng = np.random.default_rng(1)
    r, c = random_positions(7, 20, 0.4, rng)
    for s in ("lpt", "columns", "blocks"):
        check_perm(candidate(s, r, c, (7, 20), 3), 7)


@pytest.mark.parametrize("seed", range(4))
def test_balanced_never_worse_than_interleave(seed):
    rng = np.random.default_rng(seed)
    m, k = int(rng.integers(50, 300)), int(rng.integers(50, 300))
    n = int(rng.choice([2, 4, 8, 16]))
    r, c = random_positions(m, k, float(rng.uniform(0.03, 0.3)), rng)
    mask = random_activation_mask(k, float(rng.uniform(0.2, 1.0)), rng)
    params = TimingParams(fifo_depth=int(rng.choice([1, 2, 8])))
    perm = balance(r, c, (m, k), n, 3, 4, mask, params).perm
    check_perm(perm, m)
    ones = np.ones(r.size, np.uint8)
    bal = simulate_layer(encode_positions(r, c, ones, (m, k), n, 3, 4, perm), mask, params)
    plain = simulate_layer(encode(r, c, ones, (m, k), n, 3, 4), mask, params)
    assert bal.cycles <= plain.cycles


def two_layer_model(seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for i, (m, k) in enumerate([(37, 23), (19, 37)]):
        codes = ((rng.random((m, k)) < 0.3) * rng.integers(1, 8, (m, k))).astype(np.uint8)
        cb = np.concatenate([[0.0], rng.normal(size=7)])
        layers.append(
            CompressedLayer.from_dense_codes(
                f"fc{i}", codes, cb, rng.normal(size=m), weight_bits=3, activation="relu" if i == 0 else "none"
            )
        )
    return CompressedModel(layers)


def test_row_maps_preserve_the_product():
    model = two_layer_model()
    rng = np.random.default_rng(7)
    perms = [rng.permutation(l.shape[0]) for l in model.layers]
    encoded = encode_model(model, perms, n_pes=4, index_bits=2)
    x = rng.normal(size=(5, model.in_features))
    # Physical pipeline: decoded codes -> values, biases permuted with the rows.
    h = x
    for layer, enc, perm in zip(model.layers, encoded, perms):
        w = layer.codebook[enc.decode()]
        h = h @ w.T + layer.bias[perm]
        if layer.activation == "relu":
            h = np.maximum(h, 0)
    out = np.empty_like(h)
    out[:, perms[-1]] = h  # the driver's un-permutation
    np.testing.assert_allclose(out, model.forward(x), rtol=1e-12, atol=1e-12)
    with pytest.raises(ConfigError, match="row map of layer 'fc0'"):
        encode_model(model, [np.zeros(37, int), perms[1]], 4, 2)
    with pytest.raises(ConfigError, match="3 row maps given for 2 layers"):
        encode_model(model, perms + [perms[1]], 4, 2)


def test_balance_model_not_slower_and_valid():
    model = two_layer_model(3)
    from eie.performance.timing import simulate_model

    acts = [np.ones(23, bool), np.random.default_rng(0).random(37) < 0.5]
    params = TimingParams(fifo_depth=2)
    perms = balance_model(model, 4, 2, acts, params)
    phys = [acts[0], to_physical(acts[1], perms[0])]
    bal = simulate_model(encode_model(model, perms, 4, 2), phys, params)
    plain = simulate_model(encode_model(model, [identity(37), identity(19)], 4, 2), acts, params)
    assert bal.cycles <= plain.cycles


def test_index_bits_table_hand_worked():
    # One PE, one column, weights at rows 0 and 100: the 99-zero gap costs
    # floor(99 / 2^r) padding entries -> 51, 26, 14, 8, 5, 3, 2, 2 entries for r = 1..8.
    layer = CompressedLayer(
        "l", (101, 1), [0, 100], [0, 0], [1, 1], np.array([0, 1.0, 2, 3]), np.zeros(101), weight_bits=2
    )
    p = TimingParams(fifo_depth=1, pipeline_fill=0, epilogue_per_row=0, epilogue_fixed=0)
    table = index_bits_table([layer], 1, None, params=p)
    assert [o.entries for o in table] == [51, 26, 14, 8, 5, 3, 2, 2]
    assert [o.cycles for o in table] == [51, 26, 14, 8, 5, 3, 2, 2]
    # Words: entries per 64-bit word = 64 // (2 + r) -> 21, 16, 12, 10, 9, 8, 7, 6,
    # so ceil(entries / that) = 3, 2, 2, 1, 1, 1, 1, 1; plus one pointer word
    # (K + 1 = 2 uint32).
    assert [o.memory_bits // 64 for o in table] == [4, 3, 3, 2, 2, 2, 2, 2]
    # Fastest is r = 7 (tie with r = 8, same memory, the smaller r first).
    assert choose_index_bits([layer], 1, None, params=p) == 7
    # A budget of 3 words rules out r = 1 only; a budget under 2 words allows none.
    assert choose_index_bits([layer], 1, None, budget_bits=3 * 64, params=p) == 7
    with pytest.raises(CapacityError):
        choose_index_bits([layer], 1, None, budget_bits=64, params=p)


@pytest.mark.parametrize("seed", range(3))
def test_strategies_beat_interleave_on_skewed_layers(seed):
    # Heavy rows sit at every N-th row, so interleave piles them all on PE 0;
    # every rebalancing strategy must then be strictly faster on its own, and
    # balance() must pick one of them (not the interleave fallback).
    rng = np.random.default_rng(seed)
    m, k, n = 64, 96, 8
    density = np.where(np.arange(m) % n == 0, 0.6, 0.05)
    dense = rng.random((m, k)) < density[:, None]
    rows, cols = np.nonzero(dense)
    p = TimingParams(fifo_depth=4)
    plain = encode(rows, cols, np.ones(rows.size, np.uint8), (m, k), n, 4, 4)
    base = simulate_layer(plain, np.ones(k), p).cycles
    # The per-PE load under interleave, counted directly from the matrix:
    assert plain.n_entries[0] >= dense[::n].sum()
    for s in ("lpt", "columns", "blocks"):
        perm = candidate(s, rows, cols, (m, k), n)
        lay = encode_positions(rows, cols, np.ones(rows.size, np.uint8), (m, k), n, 4, 4, perm)
        assert lay.n_entries.max() < plain.n_entries.max(), s
        assert simulate_layer(lay, np.ones(k), p).cycles < base, s
    res = balance(rows, cols, (m, k), n, 4, params=p)
    assert res.strategy != "interleave" and res.cycles[res.strategy] < res.cycles["interleave"]
