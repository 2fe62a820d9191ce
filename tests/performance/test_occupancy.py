"""Occupancy mask, decoupled PEs and streamed layers in the timing model: hand-worked schedules and properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.errors import ConfigError
from eie.format.csc import encode_dense
from eie.performance.timing import StreamParams, TimingParams, simulate_layer, simulate_model

NO_OVERHEAD = dict(pipeline_fill=0, epilogue_per_row=0, epilogue_fixed=0)


def two_pe_layer():
    """Entries per (PE, column): col0 (3, 0), col1 (2, 2), col2 (1, 1), col3 (0, 3) (as in test_timing)."""
    codes = np.zeros((6, 4), dtype=np.uint8)
    codes[[0, 2, 4], 0] = 1
    codes[[0, 1, 2, 3], 1] = 2
    codes[[0, 1], 2] = 3
    codes[[1, 3, 5], 3] = 4
    return encode_dense(codes, n_pes=2, index_bits=4, weight_bits=4)


X = np.array([1.0, 0.0, -2.0, 5.0])  # broadcast items: columns 0, 2, 3


def test_mask_fifo1_pop_hand_worked():
    # Receivers and work: t0 col0 {PE0: 3}; t1 col2 {PE0: 1, PE1: 1}; t2 col3 {PE1: 3}.
    # t0: push 0; PE0 0..3 (slot of PE0 frees at its pop, cycle 0).
    # t1: push 1; PE0's FIFO held t0, popped at 0 -> room; PE0 starts max(3, 1) = 3, ends 4; PE1 1..2.
    # t2: push 2; only PE1 receives, its last item was popped at 1 -> no stall; PE1 starts 2, ends 5.
    # Array time 5 (without the mask: 6 with one stall, test_timing). Ideal (3+2+3)/2 = 4.
    t = simulate_layer(two_pe_layer(), X, TimingParams(fifo_depth=1, occupancy_mask=True, **NO_OVERHEAD))
    assert (t.array_cycles, t.stall_cycles, t.last_push) == (5, 0, 2)
    assert t.efficiency == pytest.approx(4 / 5)
    assert t.busy.tolist() == [4, 4]  # entries only: 3 + 1 and 1 + 3
    assert t.receptions == 4  # (item, PE) deliveries: 1 + 2 + 1 (6 without the mask)


def test_mask_fifo1_finish_hand_worked():
    # Slots held to the finish. t0: push 0; PE0 0..3 (slot busy to 3).
    # t1: push max(1, PE0's slot 3) = 3; PE0 3..4, PE1 3..4.
    # t2: push max(4, PE1's slot 4) = 4; PE1 4..7. Array 7, stalls 4 - 2 = 2.
    p = TimingParams(fifo_depth=1, slot_frees="finish", occupancy_mask=True, **NO_OVERHEAD)
    t = simulate_layer(two_pe_layer(), X, p)
    assert (t.array_cycles, t.stall_cycles) == (7, 2)


def full_fifo_layer():
    """2 PEs, 4 columns: PE0 has 4 entries in column 0 only, PE1 one entry in each of columns 1..3."""
    codes = np.zeros((8, 4), dtype=np.uint8)
    codes[[0, 2, 4, 6], 0] = 1
    codes[1, 1] = codes[3, 2] = codes[5, 3] = 2
    return encode_dense(codes, n_pes=2, index_bits=4, weight_bits=4)


def test_full_fifo_of_a_non_receiver_does_not_stall():
    layer = full_fifo_layer()
    ones = np.ones(4)
    # Without the mask (work PE0 4,1,1,1; PE1 1,1,1,1), FIFO 1, slots free at pop:
    # t0 push 0: PE0 0..4, PE1 0..1.  t1 push 1: PE0 4..5, PE1 1..2 (PE0 popped t1 at 4).
    # t2 push max(2, 4) = 4: PE0 5..6, PE1 4..5.  t3 push max(5, 5) = 5: PE0 6..7, PE1 5..6. Array 7;
    # last push 5 where 3 was possible: 2 stall cycles.
    t = simulate_layer(layer, ones, TimingParams(fifo_depth=1, **NO_OVERHEAD))
    assert (t.array_cycles, t.stall_cycles) == (7, 2)
    # With the mask PE0 receives only t0, so its busy FIFO holds up nobody:
    # t0 push 0: PE0 0..4.  t1 push 1: PE1 1..2.  t2 push 2: PE1 2..3.  t3 push 3: PE1 3..4. Array 4.
    t = simulate_layer(layer, ones, TimingParams(fifo_depth=1, occupancy_mask=True, **NO_OVERHEAD))
    assert (t.array_cycles, t.stall_cycles) == (4, 0)
    assert t.efficiency == pytest.approx(3.5 / 4)


def test_decoupled_removes_the_stall_not_the_empty_column_cycles():
    layer = full_fifo_layer()
    ones = np.ones(4)
    # No back-pressure: pushes at 0, 1, 2, 3; PE0 runs 4 + 1 + 1 + 1 = 7 cycles back to back.
    t = simulate_layer(layer, ones, TimingParams(fifo_depth=1, decoupled=True, **NO_OVERHEAD))
    assert (t.array_cycles, t.stall_cycles) == (7, 0)
    t = simulate_layer(layer, ones, TimingParams(fifo_depth=1, decoupled=True, occupancy_mask=True, **NO_OVERHEAD))
    assert t.array_cycles == 4


def test_all_empty_column_still_costs_the_broadcaster_a_cycle():
    # Column 1 of a 1-PE layer is empty: no receiver, but the broadcaster spends its cycle.
    codes = np.zeros((2, 3), dtype=np.uint8)
    codes[0, 0] = codes[1, 2] = 1
    layer = encode_dense(codes, n_pes=1, index_bits=4, weight_bits=4)
    # t0 push 0: 0..1; t1 (col 1) push 1, nobody; t2 push 2: 2..3. Array 3 (mask) = 3 (no mask: 1 + 1 + 1).
    t = simulate_layer(layer, np.ones(3), TimingParams(occupancy_mask=True, **NO_OVERHEAD))
    assert (t.array_cycles, t.busy.tolist(), t.receptions) == (3, [2], 2)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 25), st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_mask_properties(n, m, k, seed):
    rng = np.random.default_rng(seed)
    codes = (rng.random((m, k)) < rng.random()).astype(np.uint8)
    layer = encode_dense(codes, n_pes=n, index_bits=int(rng.integers(1, 5)), weight_bits=2)
    x = rng.random(k) < rng.random()
    depth = int(rng.integers(1, 6))
    window = [None, int(rng.integers(1, 5))][int(rng.integers(0, 2))]
    plain = simulate_layer(layer, x, TimingParams(fifo_depth=depth, lnzd_window=window))
    mask = simulate_layer(layer, x, TimingParams(fifo_depth=depth, lnzd_window=window, occupancy_mask=True))
    free = simulate_layer(
        layer, x, TimingParams(fifo_depth=depth, lnzd_window=window, occupancy_mask=True, decoupled=True)
    )
    entries = layer.column_entries()[:, np.flatnonzero(x)]
    # Busy cycles with the mask are the entries; without, max(1, entries).
    assert mask.busy.tolist() == entries.sum(axis=1).tolist()
    assert plain.busy.tolist() == np.maximum(entries, 1).sum(axis=1).tolist()
    # The mask never costs a cycle; decoupling never costs one either: it is a FIFO
    # as deep as the input, and no faster than the busiest PE or the broadcast.
    assert free.array_cycles <= mask.array_cycles <= plain.array_cycles
    deep = TimingParams(fifo_depth=max(1, int(x.sum())), lnzd_window=window, occupancy_mask=True)
    assert free.array_cycles == simulate_layer(layer, x, deep).array_cycles
    assert free.array_cycles >= max(int(entries.sum(axis=1).max(initial=0)), free.broadcast_cycles)
    assert mask.ideal_cycles == plain.ideal_cycles <= mask.array_cycles


# --- streamed layers ----------------------------------------------------------


def one_pe_stream_layer():
    """1 PE, 4 x 2: column 0 rows 0, 1, 2 (3 entries), column 1 row 3 (1 entry)."""
    codes = np.zeros((4, 2), dtype=np.uint8)
    codes[[0, 1, 2], 0] = 1
    codes[3, 1] = 2
    return encode_dense(codes, n_pes=1, index_bits=4, weight_bits=4)


def test_stream_hand_worked():
    # Layout: count_bits 4; block 0 = 4 + 3*8 = 28 bits -> 4 bytes, block 1 = 4 + 8 -> 2 bytes.
    # Both columns active: one run of bytes 0..6 -> two 4-byte beats = 8 bytes; item bytes (4, 2 + 2).
    # 4-byte beats, bursts of 1 beat -> 2 bursts; 1 outstanding, latency 2:
    # rate = min(4, 1 * 4 / (2 + 1)) = 4/3 bytes/cycle; read buffer 4 bytes.
    # t0: first byte at 0 + 2 = 2, last at 2 + 4 / (4/3) = 5; dispatch cost 1 -> push max(0, 2, 5 - 1) = 4;
    #     PE 4..7; dispatcher free at 5.
    # t1: the buffer had room once t0 was dispatched (5): first byte 5 + 2 = 7, last 7 + 3 = 10;
    #     push max(5, 7, 10 - 1) = 9; PE 9..10. Array 10; stalls 10 - 2 = 8.
    # Compute bound (on chip, mask): t0 0..3, t1 pushed at 1, runs 3..4 -> 4 cycles.
    sp = StreamParams(axi_bits=32, burst_len=1, outstanding=1, latency_cycles=2, ddr_peak_gbps=100.0)
    p = TimingParams(fifo_depth=8, clock_mhz=100.0, stream=sp, **NO_OVERHEAD)
    t = simulate_layer(one_pe_stream_layer(), np.ones(2), p, storage="stream")
    assert (t.array_cycles, t.stall_cycles, t.bytes_streamed) == (10, 8, 8)
    assert t.latency_us == pytest.approx(0.10)
    assert t.compute_bound_us == pytest.approx(0.04)
    assert t.ddr_bound_us == pytest.approx(8 / 4 / 100.0)  # 8 bytes at 4 bytes/cycle, 100 MHz
    assert t.storage == "stream"
    # Enough outstanding bursts and buffer hide the latency after the first burst:
    # rate = min(4, 4 * 4 / 3) = 4; t0 bytes arrive 2..3 -> push max(0, 2, 2) = 2, PE 2..5;
    # t1: the buffer (4 * 4 = 16 bytes) never fills: 3..4 -> push max(3, 3, 3) = 3, PE 5..6. Array 6.
    sp4 = StreamParams(axi_bits=32, burst_len=1, outstanding=4, latency_cycles=2, ddr_peak_gbps=100.0)
    t4 = simulate_layer(
        one_pe_stream_layer(), np.ones(2), TimingParams(fifo_depth=8, stream=sp4, **NO_OVERHEAD), storage="stream"
    )
    assert t4.array_cycles == 6
    # Counts on chip: blocks of 3 and 1 bytes, one 4-byte beat, one burst; rate 4/3, buffer 4 bytes (never full).
    # t0: bytes 2..4.25 -> push max(0, 2, 5 - 1) = 4, PE 4..7.  t1: bytes 4.25..5 -> push max(5, 5, 4) = 5,
    # PE 7..8. Array 8.
    spc = StreamParams(
        axi_bits=32, burst_len=1, outstanding=1, latency_cycles=2, ddr_peak_gbps=100.0, counts_on_chip=True
    )
    tc = simulate_layer(
        one_pe_stream_layer(), np.ones(2), TimingParams(fifo_depth=8, stream=spc, **NO_OVERHEAD), storage="stream"
    )
    assert (tc.bytes_streamed, tc.array_cycles) == (4, 8)


def test_stream_needs_memory_params_and_valid_storage():
    with pytest.raises(ConfigError, match="TimingParams.stream"):
        simulate_layer(one_pe_stream_layer(), np.ones(2), TimingParams(), storage="stream")
    with pytest.raises(ConfigError, match="storage"):
        simulate_layer(one_pe_stream_layer(), np.ones(2), TimingParams(), storage="ddr")
    with pytest.raises(ConfigError, match="burst_len"):
        StreamParams(burst_len=12)
    with pytest.raises(ConfigError, match="axi_bits"):
        StreamParams(axi_bits=48)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 60), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_stream_never_beats_the_peaks_nor_the_compute_bound(n, m, k, seed):
    rng = np.random.default_rng(seed)
    codes = (rng.random((m, k)) < rng.random()).astype(np.uint8)
    layer = encode_dense(codes, n_pes=n, index_bits=int(rng.integers(1, 5)), weight_bits=int(rng.integers(1, 5)))
    x = rng.random(k) < rng.random()
    clock = float(rng.choice([100.0, 200.0, 300.0]))
    sp = StreamParams(
        axi_bits=int(rng.choice([32, 64, 128])),
        burst_len=int(2 ** rng.integers(0, 9)),
        outstanding=int(rng.integers(1, 17)),
        latency_cycles=int(rng.integers(0, 100)),
        ddr_peak_gbps=float(rng.uniform(0.2, 20.0)),
        ports=int(rng.choice([1, 2, 4])),
    )
    p = TimingParams(fifo_depth=int(rng.integers(1, 9)), clock_mhz=clock, stream=sp, lnzd_window=None)
    s = simulate_layer(layer, x, p, storage="stream")
    on = simulate_layer(layer, x, TimingParams(fifo_depth=p.fifo_depth, clock_mhz=clock, occupancy_mask=True))
    if s.bytes_streamed:
        array_us = s.array_cycles / clock
        gbps = s.bytes_streamed / array_us / 1000.0  # bytes per us = MB/s
        assert gbps <= sp.ddr_peak_gbps * (1 + 1e-9)
        assert gbps <= sp.ports * sp.port_peak_gbps(clock) * (1 + 1e-9)
        # Each lane alone: at most its port's peak and its share of the DDR.
        lane_gbps = np.array(s.lane_beats) * sp.word_bytes / array_us / 1000.0
        assert np.all(lane_gbps <= min(sp.port_peak_gbps(clock), sp.ddr_peak_gbps / sp.ports) * (1 + 1e-9))
    assert sum(s.lane_requests) == s.requests and sum(s.lane_beats) == s.beats
    assert s.latency_us >= max(s.compute_bound_us, s.ddr_bound_us) - 1e-12
    assert s.compute_bound_us == pytest.approx(on.latency_us)
    # The same PE work either way: the stream's per-PE counts are the mask.
    assert s.busy.tolist() == on.busy.tolist()


def test_model_with_mixed_storage():
    layer = one_pe_stream_layer()
    sp = StreamParams(axi_bits=32, burst_len=1, outstanding=1, latency_cycles=2, ddr_peak_gbps=100.0)
    p = TimingParams(fifo_depth=8, clock_mhz=100.0, stream=sp, occupancy_mask=True, **NO_OVERHEAD)
    mt = simulate_model([layer, layer], [np.ones(2), np.ones(2)], p, storage=["onchip", "stream"])
    assert [l.storage for l in mt.layers] == ["onchip", "stream"]
    assert [l.array_cycles for l in mt.layers] == [4, 10]
    d = mt.to_dict()["total"]
    assert d["bytes_streamed"] == 8 and d["cycles"] == 14
    with pytest.raises(ConfigError, match="storage modes"):
        simulate_model([layer], [np.ones(2)], p, storage=["onchip", "stream"])
