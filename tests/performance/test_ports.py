"""Several HP ports (lanes) in the reader plan and the timing model: hand-worked cases and the DDR cap."""

import numpy as np
import pytest

from eie.errors import ConfigError, FormatError
from eie.format.csc import encode_dense
from eie.format.stream import StreamLayer, read_plan
from eie.hardware.config import AcceleratorConfig
from eie.performance.timing import StreamParams, TimingParams, simulate_layer, stream_params_for_config

NO_OVERHEAD = dict(pipeline_fill=0, epilogue_per_row=0, epilogue_fixed=0)

# Block sizes in bytes of columns 0..7: one 8-bit entry per byte, no headers (counts on chip).
SIZES = [20, 10, 2, 30, 5, 0, 40, 9]
# Offsets: 0, 20, 30, 32, 62, 67, 67, 107, 116.


def sized_layer() -> StreamLayer:
    counts = np.array([SIZES], dtype=np.int64)  # one PE
    off = np.concatenate([[0], np.cumsum(SIZES)]).astype(np.int64)
    return StreamLayer((1, len(SIZES)), 1, 4, 4, 4, np.zeros(int(off[-1]), np.uint8), off, counts)


def test_read_plan_two_lanes_128_bit_words_hand_worked():
    # 16-byte words (W = 128), bursts of 2 words = 32 bytes. Active: 0, 2, 3, 4, 5, 6, 7 (1 is not).
    # Lane 0 (even columns 0, 2, 4, 6):
    #   col 0 bytes [0, 20)   words [0, 2): run A.
    #   col 2 bytes [30, 32)  words [1, 2): 1 < 2, shares word 1 (read once): run A stays [0, 2).
    #   col 4 bytes [62, 67)  words [3, 5): 3 > 2: run B.
    #   col 6 bytes [67, 107) words [4, 7): 4 < 5, shares word 4: run B [3, 7).
    #   A: bytes [0, 32) one 32-byte chunk -> 1 burst; B: bytes [48, 112) -> chunks 1, 2, 3 -> 3 bursts.
    #   6 words = 96 bytes, 4 bursts, 2 runs. Items: col 0 [0, 20) = 20, col 2 [20, 32) = 12 (closes A),
    #   col 4 [48, 67) = 19 (opens B), col 6 [67, 112) = 45.
    # Lane 1 (odd columns 3, 5, 7):
    #   col 3 bytes [32, 62)  words [2, 4): run C.   col 5: empty, reads nothing (item 0).
    #   col 7 bytes [107, 116) words [6, 8): 6 > 4: run D.
    #   C: [32, 64) 1 burst; D: [96, 128) 1 burst. 4 words = 64 bytes, 2 bursts, 2 runs. Items 32, 0, 32.
    s = sized_layer()
    p = read_plan(s, [0, 2, 3, 4, 5, 6, 7], beat_bytes=16, burst_len=2, lanes=2)
    assert p.item_lane.tolist() == [0, 0, 1, 0, 1, 0, 1]
    assert p.item_bytes.tolist() == [20, 12, 32, 19, 0, 45, 32]
    assert p.lane_bytes.tolist() == [96, 64] and p.lane_words.tolist() == [6, 4]
    assert p.lane_bursts.tolist() == [4, 2] and p.lane_runs.tolist() == [2, 2]
    assert (p.total_bytes, p.words, p.bursts, p.runs) == (160, 10, 6, 4)
    assert p.entry_bytes == 20 + 2 + 30 + 5 + 0 + 40 + 9  # 8-bit entries
    assert p.lane_mean_burst_bytes().tolist() == [24.0, 32.0]


def test_read_plan_one_lane_joins_blocks_that_share_a_word():
    # The same columns over one lane. col 0 words [0, 2); col 2 [1, 2) shares word 1; col 3 [2, 4)
    # contiguous; col 4 [3, 5), col 6 [4, 7), col 7 [6, 8) each share one: one run, words [0, 8) =
    # 128 bytes, chunks 0..3 -> 4 bursts. (The rule before issue 19 made col 0 a run of its own,
    # as column 1 is not active: 32 + 112 = 144 bytes, 1 + 4 = 5 bursts, word 1 read twice.)
    # Items: 20, 30 - 20 + 2 = 12, 30, 5, 0, 40, 116 -> 128 (closes the run): 9 + 12 = 21.
    p = read_plan(sized_layer(), [0, 2, 3, 4, 5, 6, 7], beat_bytes=16, burst_len=2)
    assert (p.total_bytes, p.words, p.bursts, p.runs) == (128, 8, 4, 1)
    assert p.item_bytes.tolist() == [20, 12, 30, 5, 0, 40, 21]
    assert p.lane_bytes.tolist() == [128] and p.item_lane.tolist() == [0] * 7
    # A block that starts past the run's end word opens a new run: col 0 words [0, 2) (bytes [0, 32),
    # one burst) and col 4 words [3, 5) (bytes [48, 80): chunks 1 and 2, two bursts).
    q = read_plan(sized_layer(), [0, 4], beat_bytes=16, burst_len=2)
    assert (q.total_bytes, q.bursts, q.runs, q.item_bytes.tolist()) == (64, 3, 2, [32, 32])
    with pytest.raises(FormatError, match="lanes"):
        read_plan(sized_layer(), [0], 16, 2, lanes=0)


def full_layer(n_pes: int):
    """16 x 2, every weight present, 4-bit codes and indices: 16 one-byte entries per column."""
    return encode_dense(np.ones((16, 2), dtype=np.uint8), n_pes=n_pes, index_bits=4, weight_bits=4)


def test_two_lanes_overlap_their_latencies_hand_worked():
    # 16 PEs, one entry per PE per column; counts on chip: blocks of 16 bytes = one 16-byte word each.
    # 1 outstanding burst of 1 word, latency 2: rate min(16, 1 x 16 / (2 + 1)) = 16/3 bytes/cycle.
    # One lane: t0 bytes arrive 2..5, dispatch cost 16 / 16 = 1 -> push max(0, 2, 5 - 1) = 4, PEs 4..5.
    #   t1: the buffer (16 bytes) has room once t0 is dispatched (5): bytes 7..10 -> push 9, PEs 9..10.
    #   Array max(10, dispatcher end 10) = 10.
    # Two lanes: t1 goes to lane 1, which reads in parallel: bytes 2..5 -> push max(0, broadcaster 1, 2, 4)
    #   = 4; the PEs take it after t0: 5..6. Array max(6, 5) = 6.
    kw = dict(axi_bits=128, burst_len=1, outstanding=1, latency_cycles=2, ddr_peak_gbps=100.0, counts_on_chip=True)
    layer = full_layer(16)
    one = simulate_layer(
        layer, np.ones(2), TimingParams(clock_mhz=100.0, stream=StreamParams(**kw), **NO_OVERHEAD), storage="stream"
    )
    two = simulate_layer(
        layer,
        np.ones(2),
        TimingParams(clock_mhz=100.0, stream=StreamParams(ports=2, **kw), **NO_OVERHEAD),
        storage="stream",
    )
    assert (one.array_cycles, two.array_cycles) == (10, 6)
    assert (one.requests, one.beats, two.requests, two.beats) == (2, 2, 2, 2)
    assert (two.ports, two.lane_requests, two.lane_beats) == (2, [1, 1], [1, 1])
    # ddr_bound: 32 bytes at min(P x 16, 100 GB/s = 1000 bytes/cycle) per cycle, 100 MHz.
    assert one.ddr_bound_us == pytest.approx(32 / 16 / 100.0)
    assert two.ddr_bound_us == pytest.approx(32 / 32 / 100.0)


def test_lanes_share_the_ddr_peak_hand_worked():
    # As above with 4 outstanding bursts and a DDR of 0.8 GB/s at 100 MHz: 8 bytes/cycle for both
    # lanes, so each gets 4 (its port could take 16; Little's law 4 x 16 / 3 = 21.3).
    # Each lane: bytes 2..6, push max(0, 2, 6 - 1) = 5. PEs: t0 5..6, t1 6..7. Array 7.
    # ddr_bound = 32 bytes / min(2 x 16, 8) = 4 cycles = 0.04 us.
    sp = StreamParams(
        axi_bits=128, burst_len=1, outstanding=4, latency_cycles=2, ddr_peak_gbps=0.8, counts_on_chip=True, ports=2
    )
    t = simulate_layer(full_layer(16), np.ones(2), TimingParams(clock_mhz=100.0, stream=sp, **NO_OVERHEAD), "stream")
    assert t.array_cycles == 7
    assert t.ddr_bound_us == pytest.approx(0.04)
    assert sp.lane_rate(100.0, 16.0) == pytest.approx(4.0)
    assert sp.peak_bytes_per_cycle(100.0) == pytest.approx(8.0)


def test_four_ports_are_capped_by_a_small_ddr():
    # A custom Zynq UltraScale+ board with 2 GB/s of DDR: four 128-bit ports at 200 MHz would
    # take 4 x 3.2 = 12.8 GB/s, so the DDR (2 GB/s = 10 bytes/cycle) is the bound.
    cfg = AcceleratorConfig(
        board="custom",
        part="xczu7ev-ffvc1156-2-e",
        resources={"bram36": 312, "uram": 96, "dsp": 1728, "family": "zynqmp", "ddr_gbps": 2.0},
        n_pes=4,
        stream_ports=4,
        storage="stream",
        occupancy_mask=True,
        clock_mhz=200.0,
    )
    sp = stream_params_for_config(cfg)
    assert (sp.ports, sp.stream_bits, sp.word_bytes, sp.dispatch_bytes) == (4, 128, 16, 16)
    assert sp.port_peak_gbps(200.0) * 4 == pytest.approx(12.8)
    assert sp.peak_bytes_per_cycle(200.0) == pytest.approx(10.0)
    rng = np.random.default_rng(3)
    layer = encode_dense((rng.random((64, 300)) < 0.3).astype(np.uint8), n_pes=4, index_bits=4, weight_bits=4)
    x = rng.random(300) < 0.5
    t = simulate_layer(layer, x, TimingParams.for_config(cfg), storage="stream")
    assert t.ports == 4 and sum(t.lane_beats) == t.beats and sum(t.lane_requests) == t.requests
    assert t.ddr_bound_us == pytest.approx(t.bytes_streamed / 2.0e3)  # bytes / (2 GB/s = 2000 bytes/us)
    # The lanes together never read faster than the DDR peak, nor the compute bound beats the latency.
    assert t.bytes_streamed / (t.array_cycles / 200.0) <= 2.0e3 * (1 + 1e-9)
    assert t.latency_us >= max(t.compute_bound_us, t.ddr_bound_us)
    # With a DDR faster than the four ports, the ports' sum is the bound.
    fast = TimingParams.for_config(cfg.replace(resources={**cfg.resources, "ddr_gbps": 100.0}))
    tf = simulate_layer(layer, x, fast, storage="stream")
    assert tf.ddr_bound_us == pytest.approx(tf.bytes_streamed / (4 * 16) / 200.0)


def test_stream_params_check_ports_and_width():
    with pytest.raises(ConfigError, match="ports"):
        StreamParams(ports=3)
    with pytest.raises(ConfigError, match="stream_bits"):
        StreamParams(axi_bits=128, stream_bits=64)
    assert StreamParams(axi_bits=32).word_bytes == 4  # stream_bits None: the port's beat
    assert StreamParams(axi_bits=32, stream_bits=64).word_bytes == 8
