"""Timing model (docs/timing.md): hand-worked schedules and properties."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.cli import main
from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import ConfigError, FormatError
from eie.format.csc import encode_dense
from eie.performance.timing import TimingParams, schedule, simulate_layer, simulate_model

NO_OVERHEAD = dict(pipeline_fill=0, epilogue_per_row=0, epilogue_fixed=0)


def two_pe_layer():
    """2 PEs (PE0 = rows 0,2,4; PE1 = rows 1,3,5), 4 columns.

    entries per (PE, column): col0 (3, 0), col1 (2, 2), col2 (1, 1), col3 (0, 3).
    """
    codes = np.zeros((6, 4), dtype=np.uint8)
    codes[[0, 2, 4], 0] = 1
    codes[[0, 1, 2, 3], 1] = 2
    codes[[0, 1], 2] = 3
    codes[[1, 3, 5], 3] = 4
    return encode_dense(codes, n_pes=2, index_bits=4, weight_bits=4)


# Input skips column 1, so the broadcast items are columns 0, 2, 3 and the
# per-item work (max(1, entries)) is PE0: 3, 1, 1 and PE1: 1, 1, 3.
X = np.array([1.0, 0.0, -2.0, 5.0])


def test_two_pes_fifo1_slot_frees_at_pop():
    # t0: push 0; start (0, 0); finish (3, 1).
    # t1: push max(1, max start t0 = 0) = 1; start (3, 1); finish (4, 2).
    # t2: push max(2, max start t1 = 3) = 3 (one stall); start (4, 3); finish (5, 6).
    # Array time 6; ideal = (3+0 + 1+1 + 0+3) / 2 = 4; efficiency 4/6.
    # Epilogue = 1 * ceil(6/2) + 2 = 5, fill 4: total 15 cycles.
    p = TimingParams(fifo_depth=1, clock_mhz=100.0, pipeline_fill=4, epilogue_per_row=1, epilogue_fixed=2)
    t = simulate_layer(two_pe_layer(), X, p)
    assert t.array_cycles == 6
    assert t.stall_cycles == 1
    assert t.ideal_cycles == 4.0
    assert t.efficiency == pytest.approx(4 / 6)
    assert t.epilogue_cycles == 5 and t.fill_cycles == 4
    assert t.cycles == 15
    assert t.latency_us == pytest.approx(0.15)
    assert t.busy.tolist() == [5, 5]
    assert t.broadcasts == 3


def test_two_pes_fifo1_slot_frees_at_finish():
    # t0: push 0; finish (3, 1).
    # t1: push max(1, max finish t0 = 3) = 3; start (3, 3); finish (4, 4).
    # t2: push max(4, 4) = 4; start (4, 4); finish (5, 7). Array 7, push 4 -> 2 stalls.
    p = TimingParams(fifo_depth=1, slot_frees="finish", **NO_OVERHEAD)
    t = simulate_layer(two_pe_layer(), X, p)
    assert (t.array_cycles, t.stall_cycles, t.cycles) == (7, 2, 7)


def test_two_pes_fifo2():
    # t0: push 0; finish (3, 1).  t1: push 1; start (3, 1); finish (4, 2).
    # t2: push max(2, max start t0 = 0) = 2; start (4, 2); finish (5, 5). Array 5, no stall.
    t = simulate_layer(two_pe_layer(), X, TimingParams(fifo_depth=2, **NO_OVERHEAD))
    assert (t.array_cycles, t.stall_cycles) == (5, 0)
    assert t.efficiency == pytest.approx(4 / 5)


def test_boolean_mask_equals_values():
    a = simulate_layer(two_pe_layer(), X, TimingParams(fifo_depth=1))
    b = simulate_layer(two_pe_layer(), X != 0, TimingParams(fifo_depth=1))
    assert a.cycles == b.cycles


def test_padding_entries_cost_cycles():
    # One PE, index_bits 1 (runs of 2): column 0 has one weight at row 5, a gap of
    # 5 zeros -> floor(5/2) = 2 padding entries -> 3 entries, 3 cycles.
    # Column 1 has rows 0 and 1: 2 entries. Padding fraction 2/5.
    codes = np.zeros((6, 2), dtype=np.uint8)
    codes[5, 0] = 1
    codes[[0, 1], 1] = 1
    layer = encode_dense(codes, n_pes=1, index_bits=1, weight_bits=2)
    t = simulate_layer(layer, np.ones(2), TimingParams(fifo_depth=4, **NO_OVERHEAD))
    assert t.array_cycles == 5
    assert t.ideal_cycles == 5.0
    assert t.padding_fraction == pytest.approx(2 / 5)


def test_zero_input_costs_only_fill_and_epilogue():
    t = simulate_layer(two_pe_layer(), np.zeros(4), TimingParams())
    assert t.array_cycles == 0 and t.broadcasts == 0
    assert t.cycles == 4 + 3 + 2


def test_model_total_is_sum_and_bad_inputs():
    layer = two_pe_layer()
    mt = simulate_model([layer, layer], [X, np.ones(4)], TimingParams(fifo_depth=1))
    assert mt.cycles == sum(l.cycles for l in mt.layers)
    with pytest.raises(FormatError):
        simulate_layer(layer, np.ones(5))
    with pytest.raises(ConfigError):
        TimingParams(fifo_depth=0)


work_arrays = st.integers(1, 5).flatmap(
    lambda n: st.lists(st.lists(st.integers(1, 6), min_size=n, max_size=n), min_size=1, max_size=25)
)


@settings(max_examples=60, deadline=None)
@given(work_arrays, st.integers(1, 6))
def test_schedule_bounds_and_monotone(work, depth):
    w = np.array(work)
    busy_max = w.sum(axis=0).max()
    sync = w.max(axis=1).sum()
    t_d, _, _ = schedule(w, depth)
    t_more, _, _ = schedule(w, depth + 1)
    # Never faster than the busiest PE, never slower than fully synchronous,
    # and a deeper FIFO never hurts.
    assert busy_max <= t_d <= sync
    assert t_more <= t_d
    # Depth 1 with slots held to the finish is the synchronous schedule exactly.
    assert schedule(w, 1, "finish")[0] == sync
    # Holding a slot to the finish is one slot less: finish(D+1) == pop(D).
    assert schedule(w, depth + 1, "finish")[0] == t_d
    # A FIFO as deep as the input never stalls: each PE runs back to back.
    assert schedule(w, len(w))[0] == busy_max


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 30), st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_ideal_never_exceeds_actual(n, m, k, seed):
    rng = np.random.default_rng(seed)
    codes = (rng.random((m, k)) < rng.random()).astype(np.uint8)
    layer = encode_dense(codes, n_pes=n, index_bits=int(rng.integers(1, 5)), weight_bits=2)
    x = rng.random(k) < rng.random()
    t = simulate_layer(layer, x, TimingParams(fifo_depth=int(rng.integers(1, 9))))
    assert t.ideal_cycles <= t.array_cycles
    assert 0.0 <= t.efficiency <= 1.0


def test_deep_fifo_approaches_ideal_on_random_layer():
    from eie.format.csc import encode
    from eie.performance.synthetic import random_activation_mask, random_positions

    rng = np.random.default_rng(3)
    r, c = random_positions(512, 800, 0.1, rng)
    layer = encode(r, c, np.ones(r.size, np.uint8), (512, 800), 16, 4, 4)
    mask = random_activation_mask(800, 0.5, rng)
    eff = [simulate_layer(layer, mask, TimingParams(fifo_depth=d)).efficiency for d in (1, 8, 10_000)]
    assert eff[0] < eff[1] <= eff[2]
    # With an unbounded FIFO only whole-PE imbalance and empty columns remain.
    cols = np.flatnonzero(mask)
    per_pe = np.maximum(layer.column_entries()[:, cols], 1).sum(axis=1)
    assert simulate_layer(layer, mask, TimingParams(fifo_depth=10_000)).array_cycles == per_pe.max()


# --- eie simulate ------------------------------------------------------------


def run_cli(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_simulate_synthetic_json(capsys):
    rc, out, _ = run_cli(
        [
            "simulate",
            "--rows",
            "256",
            "--cols",
            "300",
            "--density",
            "0.1",
            "--act-density",
            "0.4",
            "--pes",
            "8",
            "--fifo",
            "4",
            "--index-bits",
            "3",
            "--clock-mhz",
            "200",
            "--seed",
            "5",
            "--json",
        ],
        capsys,
    )
    assert rc == 0
    d = json.loads(out)
    (layer,) = d["layers"]
    for key in ("cycles", "ideal_cycles", "efficiency", "padding_fraction", "latency_us"):
        assert key in layer
    assert layer["broadcasts"] == 120  # exactly round(0.4 * 300) non-zeros
    assert d["total"]["cycles"] == layer["cycles"]
    assert d["total"]["latency_us"] == pytest.approx(layer["cycles"] / 200.0)
    assert layer["ideal_cycles"] <= layer["array_cycles"]
    assert d["params"]["index_bits"] == 3


def small_model(tmp_path):
    rng = np.random.default_rng(0)
    layers = []
    for i, (m, k) in enumerate([(40, 30), (20, 40)]):
        codes = ((rng.random((m, k)) < 0.3) * rng.integers(1, 4, (m, k))).astype(np.uint8)
        cb = np.array([0.0, 0.5, -0.25, 1.0])
        layers.append(
            CompressedLayer.from_dense_codes(
                f"fc{i}", codes, cb, rng.normal(size=m), weight_bits=2, activation="relu" if i == 0 else "none"
            )
        )
    path = tmp_path / "m.npz"
    CompressedModel(layers).save(path)
    return path


def test_simulate_model_text_and_json(tmp_path, capsys):
    path = small_model(tmp_path)
    rc, out, _ = run_cli(["simulate", str(path), "--pes", "4"], capsys)
    assert rc == 0 and "not a hardware measurement" in out and "RANDOM input" in out
    x = np.linspace(-1, 1, 30)
    np.save(tmp_path / "x.npy", x)
    rc, out, _ = run_cli(
        ["simulate", str(path), "--pes", "4", "--input", str(tmp_path / "x.npy"), "--row-map", "balanced", "--json"],
        capsys,
    )
    d = json.loads(out)
    assert rc == 0 and len(d["layers"]) == 2
    assert d["layers"][0]["broadcasts"] == np.count_nonzero(x)
    assert d["total"]["cycles"] == sum(l["cycles"] for l in d["layers"])


def test_simulate_errors(tmp_path, capsys):
    path = small_model(tmp_path)
    np.save(tmp_path / "bad.npy", np.ones(7))
    rc, _, err = run_cli(["simulate", str(path), "--input", str(tmp_path / "bad.npy")], capsys)
    assert rc == 2 and "30" in err and "shape" in err
    rc, _, err = run_cli(["simulate", "--rows", "10", "--density", "0.1"], capsys)
    assert rc == 2 and "--cols" in err
    rc, _, err = run_cli(["simulate", "--rows", "10", "--cols", "10", "--density", "0.1", "--fifo", "0"], capsys)
    assert rc == 2 and "fifo_depth" in err


# --- lnzd_window: the FPGA broadcaster's cost of skipping zeros ---------------


def test_lnzd_window_one_charges_each_skipped_zero():
    # Windows of 1 over X = [1, 0, -2, 5]: items at windows 0, 2, 3, gaps (0, 1, 0).
    # t0: push 0; start (0, 0); finish (3, 1).
    # t1: push 0 + 1 + 1 = 2 (FIFO 1: slot of t0 freed at its pop, cycle 0); start (3, 2); finish (4, 3).
    # t2: push max(3, max start t1 = 3) = 3; start (4, 3); finish (5, 6).
    # The skipped window absorbed the stall the ASIC model has (test_two_pes_fifo1_slot_frees_at_pop).
    p = TimingParams(fifo_depth=1, lnzd_window=1, **NO_OVERHEAD)
    t = simulate_layer(two_pe_layer(), X, p)
    assert (t.array_cycles, t.stall_cycles, t.scan_cycles, t.broadcast_cycles) == (6, 0, 1, 4)
    # Windows of 2: [1, 0] and [-2, 5] both hold a non-zero, nothing to skip: the ASIC schedule.
    t2 = simulate_layer(two_pe_layer(), X, TimingParams(fifo_depth=1, lnzd_window=2, **NO_OVERHEAD))
    assert (t2.array_cycles, t2.stall_cycles, t2.scan_cycles, t2.broadcast_cycles) == (6, 1, 0, 3)


def test_lnzd_window_leading_and_trailing_zeros():
    layer = two_pe_layer()
    p = TimingParams(fifo_depth=8, lnzd_window=1, **NO_OVERHEAD)
    # Trailing: only column 0 (work 3, 1); the PEs finish at 3 but the scan ends at 0 + 1 + 3 = 4.
    t = simulate_layer(layer, np.array([3, 0, 0, 0]), p)
    assert (t.array_cycles, t.broadcast_cycles, t.scan_cycles) == (4, 4, 3)
    assert simulate_layer(layer, np.array([3, 0, 0, 0]), TimingParams(fifo_depth=8, **NO_OVERHEAD)).array_cycles == 3
    # Leading: column 3 is pushed in cycle 3 after three skipped windows; work (1, 3) -> 6, no stall.
    t = simulate_layer(layer, np.array([0, 0, 0, 1]), p)
    assert (t.array_cycles, t.stall_cycles, t.broadcast_cycles) == (6, 0, 4)
    # All zero: one cycle per window, ceil(4 / 3) = 2 windows of 3.
    t = simulate_layer(layer, np.zeros(4), TimingParams(lnzd_window=3))
    assert (t.array_cycles, t.broadcasts, t.broadcast_cycles) == (2, 0, 2)
    assert t.cycles == 4 + 2 + 3 + 2


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 25), st.integers(1, 40), st.integers(1, 9), st.integers(0, 2**31 - 1))
def test_lnzd_window_properties(n, m, k, w, seed):
    rng = np.random.default_rng(seed)
    codes = (rng.random((m, k)) < rng.random()).astype(np.uint8)
    layer = encode_dense(codes, n_pes=n, index_bits=int(rng.integers(1, 5)), weight_bits=2)
    x = rng.random(k) < rng.random()
    depth = int(rng.integers(1, 6))
    free = simulate_layer(layer, x, TimingParams(fifo_depth=depth))
    scan = simulate_layer(layer, x, TimingParams(fifo_depth=depth, lnzd_window=w))
    # Windows with no non-zero, counted by reshaping the padded mask.
    padded = np.zeros(-(-k // w) * w, dtype=bool)
    padded[:k] = x
    empty_windows = int((~padded.reshape(-1, w).any(axis=1)).sum())
    assert scan.scan_cycles == empty_windows
    assert scan.broadcast_cycles == np.count_nonzero(x) + empty_windows
    # Skipping costs cycles, never saves them; the PEs' work is the same.
    assert free.array_cycles <= scan.array_cycles <= free.array_cycles + empty_windows
    assert scan.busy.tolist() == free.busy.tolist()
    assert scan.array_cycles >= scan.broadcast_cycles
    # A window of 1 visits every activation once.
    assert simulate_layer(layer, x, TimingParams(fifo_depth=depth, lnzd_window=1)).broadcast_cycles == k


def test_params_for_config_and_validation():
    from eie.hardware.config import AcceleratorConfig

    c = AcceleratorConfig(n_pes=4, fifo_depth=3, clock_mhz=150)
    p = TimingParams.for_config(c)
    # The FIFO plus the PE's one-column lookahead register (hls/eie_pe.hpp).
    assert (p.fifo_depth, p.clock_mhz, p.lnzd_window) == (3 + 1, 150.0, 4)
    assert TimingParams.for_config(c.replace(lnzd_window=8)).lnzd_window == 8
    assert TimingParams.for_config(c.replace(lnzd_window=2), pipeline_fill=0).pipeline_fill == 0
    assert TimingParams().lnzd_window is None  # the EIE ASIC default: free zero skipping
    with pytest.raises(ConfigError, match="lnzd_window=3 must be a multiple or a divisor of n_pes=4"):
        c.replace(lnzd_window=3)
    assert c.replace(lnzd_window=16).lnzd_window == 16 and c.replace(lnzd_window=1).lnzd_window == 1
    with pytest.raises(ConfigError, match="lnzd_window=12 must be n_pes=4 times a power of two .*use 8 or 16"):
        c.replace(lnzd_window=12)
    with pytest.raises(ConfigError, match="lnzd_window=0"):
        c.replace(lnzd_window=0)
    with pytest.raises(ConfigError, match="lnzd_window"):
        TimingParams(lnzd_window=0)
