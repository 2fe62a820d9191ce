"""The kernel's cycle structure against the timing model (docs/kernel.md).

The C-simulation counts loop iterations (instrumentation compiled only when
__SYNTHESIS__ is undefined). For every layer and input vector:

* PE p's accumulation loop runs exactly ``busy[p] + 2`` iterations, where
  busy[p] = sum over broadcast columns of max(1, entries of PE p in that
  column, padding included) is the timing model's per-PE busy time; the +2
  are the prologue iterations that fill and take the lookahead register.
  With the occupancy mask a PE receives only the columns it has entries in,
  and busy[p] is the sum of those entries (no max(1, .)).
* The broadcaster's scan loop runs ``broadcast_cycles + 1`` iterations:
  one per non-zero, one per all-zero window of ``lnzd_window`` activations,
  plus the two prologue iterations (prefetch the first window, make it current).
* PE p's write-out loop runs once per local row; the longest is ceil(M / N),
  the model's epilogue rows.

Each configuration is compiled once (module-scoped fixture, cached builds).
"""

from __future__ import annotations

import numpy as np
import pytest
from kernel_configs import kernel_config

from eie.arithmetic.emulator import Emulator
from eie.errors import ToolchainError
from eie.format.csc import encode
from eie.format.qmodel import QuantLayer, QuantModel
from eie.hardware.config import AcceleratorConfig
from eie.performance.timing import TimingParams, simulate_layer

csim = pytest.importorskip("eie.kernel.csim")

try:
    csim.compiler()
    csim.ap_types_dir()
except ToolchainError as e:  # pragma: no cover - depends on the machine
    pytest.skip(str(e), allow_module_level=True)

CONFIGS = {
    # The same parameters as test_csim's n1 kernel: one cached build serves both.
    "n1_w1_i2_fifo8_win1": dict(n_pes=1, weight_bits=1, index_bits=2, act_bits=8, cb_bits=8, acc_bits=16),
    "n2_w2_i2_fifo1_win8": dict(n_pes=2, weight_bits=2, index_bits=2, fifo_depth=1, lnzd_window=8),
    "n3_w4_i3_fifo2_win6": dict(n_pes=3, weight_bits=4, index_bits=3, fifo_depth=2, lnzd_window=6),
    "n4_w4_i4_fifo8_win2": dict(n_pes=4, weight_bits=4, index_bits=4, lnzd_window=2),
    "n8_w2_i3_fifo3_ternary": dict(n_pes=8, weight_bits=2, index_bits=3, fifo_depth=3, ternary=True),
    # The occupancy mask: windows wider than N, narrower than N, and ternary.
    "n4_w4_i3_fifo2_win8_mask": dict(n_pes=4, weight_bits=4, index_bits=3, fifo_depth=2, lnzd_window=8,
                                     occupancy_mask=True),
    "n3_w3_i2_fifo1_win1_mask": dict(n_pes=3, weight_bits=3, index_bits=2, fifo_depth=1, lnzd_window=1,
                                     occupancy_mask=True),
    "n8_w2_i3_fifo4_ternary_mask": dict(n_pes=8, weight_bits=2, index_bits=3, fifo_depth=4, ternary=True,
                                        occupancy_mask=True),
}


def make_config(name: str) -> AcceleratorConfig:
    return kernel_config(**CONFIGS[name])


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def sim(request):
    cfg = make_config(request.param)
    return cfg, csim.CSim(cfg)


def random_layer(rng, m: int, k: int, cfg: AcceleratorConfig, ternary: bool, relu: bool) -> QuantLayer:
    """Mixed densities per column: empty columns, dense columns, long zero runs (padding entries)."""
    col_density = rng.choice([0.0, 0.05, 0.3, 0.9], size=k)
    mask = rng.random((m, k)) < col_density
    if m > 10:
        mask[1 : m - 1, rng.integers(0, k)] = False  # a run of m-2 zeros: padding for small index_bits
    rows, cols = np.nonzero(mask)
    nb = 1 << cfg.weight_bits
    codes = rng.integers(1, 3 if ternary else nb, size=rows.size)
    enc = encode(rows, cols, codes, (m, k), cfg.n_pes, cfg.index_bits, cfg.weight_bits)
    cb = np.zeros(nb, dtype=np.int64)
    cb[1:] = rng.integers(-20, 20, size=nb - 1)
    if ternary:
        cb[1], cb[2:] = 7, 0
        cb[2] = -5
    bias = rng.integers(-50, 50, size=m)
    return QuantLayer("l", enc, cb, bias, np.arange(m), 4, 2, 4, relu, ternary)


def random_model(cfg: AcceleratorConfig, seed: int, widths=(45, 37, 29, 11)) -> QuantModel:
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(len(widths) - 1):
        tern = cfg.ternary and i == 1
        layers.append(random_layer(rng, widths[i + 1], widths[i], cfg, tern, relu=i + 2 < len(widths)))
    return QuantModel(cfg.to_hwparams(), layers)


def random_inputs(cfg: AcceleratorConfig, k: int, rng) -> np.ndarray:
    """All-zero, dense, sparse and clustered inputs (clusters leave whole windows of zeros)."""
    lim = 1 << (cfg.act_bits - 2)
    x = rng.integers(-lim, lim, size=(6, k))
    x[x == 0] = 1
    x[0] = 0
    x[2][rng.random(k) < 0.9] = 0
    x[3][rng.random(k) < 0.5] = 0
    x[4][: k // 2] = 0
    x[5][k // 3 :] = 0
    return x.astype(np.int64)


def local_rows(m: int, n: int) -> np.ndarray:
    return np.array([len(range(p, m, n)) for p in range(n)])


def test_loop_trip_counts_equal_the_timing_model(sim):
    cfg, s = sim
    params = TimingParams.for_config(cfg)
    # The model's FIFO is the kernel's plus the PE's lookahead register.
    assert params.lnzd_window == cfg.lnzd_window and params.fifo_depth == cfg.fifo_depth + 1
    for seed in range(2):
        qm = random_model(cfg, seed)
        emu = Emulator(qm)
        s.load(qm.to_image())
        xs = random_inputs(cfg, qm.in_features, np.random.default_rng(50 + seed))
        nl = len(qm.layers)
        checked_scan = 0
        for x in xs:
            y = s.run(x[None])
            np.testing.assert_array_equal(y, emu.run_layers(x[None]))
            c = s.counters()
            acts = x
            for l, ql in enumerate(qm.layers):
                t = simulate_layer(ql.encoded, acts, params)
                np.testing.assert_array_equal(
                    c["pe"][l], t.busy + params.pe_prologue, err_msg=f"layer {l} PE loop trips"
                )
                assert params.pe_prologue == 2
                assert c["broadcast"][l] == t.broadcast_cycles + params.broadcast_prologue == t.broadcast_cycles + 2, (
                    f"layer {l} broadcaster trips"
                )
                m = ql.shape[0]
                np.testing.assert_array_equal(c["epilogue"][l], local_rows(m, cfg.n_pes))
                assert c["epilogue"][l].max() * params.epilogue_per_row + params.epilogue_fixed == t.epilogue_cycles
                checked_scan += t.scan_cycles
                acts = emu.run_layers(acts[None], l, l)[0]
            assert not c["pe"][nl:].any() and not c["broadcast"][nl:].any()
        # The inputs make the broadcaster skip all-zero windows somewhere.
        assert checked_scan > 0


def test_counters_sum_over_vectors_and_layer_ranges(sim):
    cfg, s = sim
    qm = random_model(cfg, 3)
    s.load(qm.to_image())
    emu = Emulator(qm)
    params = TimingParams.for_config(cfg)
    rng = np.random.default_rng(9)
    x = random_inputs(cfg, qm.layers[1].shape[1], rng)[1:4]
    s.run(x, 1, 2)
    c = s.counters()
    h = emu.run_layers(x, 1, 1)
    want_pe = sum(simulate_layer(qm.layers[1].encoded, v, params).busy + 2 for v in x)
    want_pe2 = sum(simulate_layer(qm.layers[2].encoded, v, params).busy + 2 for v in h)
    np.testing.assert_array_equal(c["pe"][1], want_pe)
    np.testing.assert_array_equal(c["pe"][2], want_pe2)
    assert c["broadcast"][1] == sum(simulate_layer(qm.layers[1].encoded, v, params).broadcast_cycles + 2 for v in x)
    assert not c["pe"][0].any() and not c["broadcast"][0].any()  # layer 0 not run


def test_hand_worked_trip_counts():
    """N=1, r=2, window 1: the csc-format.md example column [0,0,1,2, 18 zeros, 3] and an empty column."""
    cfg = make_config("n1_w1_i2_fifo8_win1")
    s = csim.CSim(cfg)
    m = 23
    dense = np.zeros((m, 2), dtype=np.int64)
    dense[[2, 3, 22], 0] = 1
    rows, cols = np.nonzero(dense)
    enc = encode(rows, cols, np.ones(rows.size, int), (m, 2), 1, 2, 1)
    ql = QuantLayer("l", enc, np.array([0, 3]), np.zeros(m, np.int64), np.arange(m), 0, 0, 0, relu=False)
    s.load(QuantModel(cfg.to_hwparams(), [ql]).to_image())
    # Column 0: 3 weights + 18 // 4 = 4 padding entries = 7 iterations; column 1 (empty): 1; prologue: 2
    # (fill the lookahead register, take it).
    # Broadcaster: windows of 1, both non-zero: 2 emissions + 2 prologue (prefetch window 0, make it current).
    s.run(np.array([[5, 7]]))
    c = s.counters()
    assert (c["pe"][0, 0], c["broadcast"][0], c["epilogue"][0, 0]) == (10, 4, 23)
    # a_0 = 0: the broadcaster spends a cycle on the all-zero window 0; the PE only sees column 1.
    s.run(np.array([[0, 7]]))
    c = s.counters()
    assert (c["pe"][0, 0], c["broadcast"][0]) == (3, 4)
    # All zero: two skipped windows; the PE only pops the end of the layer.
    s.run(np.array([[0, 0]]))
    c = s.counters()
    assert (c["pe"][0, 0], c["broadcast"][0]) == (2, 4)
    t = simulate_layer(
        enc, np.array([0, 0]), TimingParams.for_config(cfg, pipeline_fill=0, epilogue_per_row=0, epilogue_fixed=0)
    )
    assert (t.broadcast_cycles, t.scan_cycles, t.array_cycles) == (2, 2, 2)


def test_hand_worked_trip_counts_with_the_occupancy_mask():
    """The same column pair with the mask: the empty column costs the PE nothing, the broadcaster the same."""
    cfg = kernel_config(**{**CONFIGS["n1_w1_i2_fifo8_win1"], "occupancy_mask": True})
    s = csim.CSim(cfg)
    m = 23
    dense = np.zeros((m, 2), dtype=np.int64)
    dense[[2, 3, 22], 0] = 1
    rows, cols = np.nonzero(dense)
    enc = encode(rows, cols, np.ones(rows.size, int), (m, 2), 1, 2, 1)
    ql = QuantLayer("l", enc, np.array([0, 3]), np.zeros(m, np.int64), np.arange(m), 0, 0, 0, relu=False)
    qm = QuantModel(cfg.to_hwparams(), [ql])
    s.load(qm.to_image())
    # Column 0: 7 entries; column 1 is not sent (the PE has no entry there); prologue 2.
    y = s.run(np.array([[5, 7]]))
    np.testing.assert_array_equal(y, Emulator(qm).run_layers(np.array([[5, 7]])))
    c = s.counters()
    assert (c["pe"][0, 0], c["broadcast"][0]) == (9, 4)
    # Only column 1 active: the PE sees no column, only the end of the layer.
    s.run(np.array([[0, 7]]))
    c = s.counters()
    assert (c["pe"][0, 0], c["broadcast"][0]) == (2, 4)
