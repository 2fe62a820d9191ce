"""The EIE timing model (docs/timing.md): what one layer costs in cycles.

The model is a queueing schedule, not a hardware measurement. It describes
two machines with one set of rules, told apart by ``TimingParams``:
the EIE ASIC (``EIE_ASIC``: 64 PEs, FIFO 8, 800 MHz, free zero skipping) and
the generated FPGA kernel (``TimingParams.for_config(config)``: the config's
FIFO depth, clock and leading-non-zero window). docs/kernel.md describes the
kernel loops this model counts.

* The broadcaster walks the layer's input in column order and pushes at most
  one non-zero activation per cycle into a FIFO of depth ``fifo_depth`` in
  every PE. It stalls while any PE's FIFO is full; every PE receives every
  item.
* Zero skipping. ``lnzd_window=None`` (the EIE ASIC): skipping zeros is
  free. ``lnzd_window=W`` (the FPGA kernel): the input is cut into
  ceil(K / W) windows of W consecutive activations; the broadcaster loads
  the next window in the cycle it emits the current window's last non-zero,
  so a window with n non-zeros costs n cycles and an all-zero window costs
  one cycle. Before item t it therefore spends ``gap[t]`` extra cycles, one
  per all-zero window between item t-1's window and item t's (before item 0:
  the all-zero windows before its window), and after the last item one per
  trailing all-zero window.
* A PE pops the head of its FIFO and spends ``work = max(1, entries of that
  column in this PE)`` cycles on it (padding entries included; an empty
  column costs one cycle). The kernel prefetches the next column's pointers
  in the cycle of the current column's last entry, which is what makes the
  pointer read free.

Cycle conventions (hand-worked tests follow exactly these):

* Item t is pushed in cycle ``push[t]``; with no all-zero windows in front of
  it the first push is in cycle 0.
* A PE may pop an item in the cycle it is pushed (the FIFO is a bypassing
  queue), so ``start_p[t] = max(push[t], finish_p[t-1])`` and
  ``finish_p[t] = start_p[t] + work_p[t]`` (the item occupies cycles
  ``start .. finish-1``).
* The FIFO holds items that have been pushed but not yet popped; a slot frees
  at the pop (``start``), and a push in that same cycle may reuse it. So with
  depth D, item t can be pushed once every PE has popped item t - D:
  ``push[t] = max(push[t-1] + 1 + gap[t], max_p start_p[t-D])``. With
  ``slot_frees="finish"`` the item being processed keeps its slot until it
  is done (``max_p finish_p[t-D]``): a FIFO of depth 1 then makes every
  column wait for the slowest PE, the fully synchronous case.
* The scan ends at ``scan_end = push[T-1] + 1 + trailing all-zero windows``
  (``= number of windows`` when the input is all zeros; 0 with free
  skipping). Array time = ``max(max_p finish_p[T-1], scan_end)``: a PE is
  only done when it has seen the end of the broadcast.
* Layer cycles = ``pipeline_fill + array time + epilogue`` with
  ``epilogue = epilogue_per_row * ceil(M / N) + epilogue_fixed``: after the
  last item, each PE writes its local rows (bias, ReLU, requantise), one row
  per cycle, in parallel. ``pipeline_fill`` covers the PE pipeline stages
  (pointer read, entry read, multiply-accumulate, activation write), which EIE
  has four of; in the FPGA kernel it also covers the prologue iterations
  of the broadcaster loop and of each PE loop (the first window's prefetch
  and its move into the current-window register, ``broadcast_prologue``; the
  first pointer fetch), which nothing precedes to overlap with.
* Busy cycles (what the kernel's C-simulation counters measure, docs/kernel.md):
  ``busy[p] = sum_t work_p[t]`` per PE, and ``broadcast_cycles = T +
  scan_cycles`` for the broadcaster (``scan_cycles`` = all-zero windows
  skipped; 0 with free skipping). The kernel's loop trip counts are exactly
  these plus the prologue iterations (``broadcast_prologue`` for the
  broadcaster, ``pe_prologue`` for each PE); stalls lengthen cycles, not trips.
* Ideal cycles = entries of the broadcast columns summed over all PEs / N;
  ``efficiency = ideal / array time`` is the load-balance efficiency (fill and
  epilogue are excluded, they are not load imbalance).
* Stall cycles = ``push[T-1] - (T-1) - sum_t gap[t]``: cycles the broadcaster
  had an item ready but some FIFO was full.

Options (in the kernel, docs/kernel.md; docs/timing.md states the assumptions):

* ``occupancy_mask``: a PE receives only the columns where it has entries
  and spends exactly its entry count on each; the broadcaster waits only
  for the FIFOs of the column's receivers (each PE's FIFO holds only its
  own items).
* ``decoupled``: no FIFO limit (every PE reads the non-zero list at its own
  pace): the same as a FIFO as deep as the input.
* ``simulate_layer(..., storage="stream")`` with ``stream`` (StreamParams):
  the layer's column blocks (eie.format.stream) come from DDR through
  ``stream.ports`` AXI ports (column j over port j mod P); each port's
  reader, buffer and dispatcher and the PEs form one recurrence
  (``schedule_items``; docs/timing.md, "Several ports").

The loop runs over broadcast items only; each step is a handful of numpy
operations over the N PEs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from eie.errors import ConfigError, FormatError
from eie.format.csc import EncodedLayer
from eie.format.rowmap import encode_model


@dataclass(frozen=True)
class TimingParams:
    """Parameters of the timing model that are not in the encoded layer."""

    fifo_depth: int = 8
    clock_mhz: float = 800.0
    pipeline_fill: int = 4
    # Broadcaster loop iterations before its first push: 2 in the FPGA kernel
    # (prefetch window 0, then make it current: the memory read and the
    # leading-non-zero detection are in different cycles); counted in
    # pipeline_fill, here for the trip-count comparison with the C-simulation.
    broadcast_prologue: int = 1
    # PE loop iterations before its first column: 2 in the FPGA kernel (fill
    # the one-column lookahead register, then take it); also in pipeline_fill.
    pe_prologue: int = 1
    epilogue_per_row: int = 1
    epilogue_fixed: int = 2
    slot_frees: str = "pop"
    # Activations the broadcaster's leading-non-zero detection scans per cycle;
    # None = free zero skipping (the EIE ASIC).
    lnzd_window: int | None = None
    # Occupancy mask: a PE receives only the broadcast columns in which it has
    # entries, and spends exactly its entry count on each (not max(1, count)).
    occupancy_mask: bool = False
    # Decoupled PEs: no broadcaster back-pressure (every PE reads the layer's
    # list of non-zero activations at its own pace; docs/timing.md prices it).
    decoupled: bool = False
    # Streamed layers (docs/timing.md, "Streamed layers"): the memory side.
    stream: StreamParams | None = None

    def __post_init__(self) -> None:
        if self.slot_frees not in ("pop", "finish"):
            raise ConfigError(f"slot_frees={self.slot_frees!r} must be 'pop' or 'finish'")
        if int(self.fifo_depth) != self.fifo_depth or self.fifo_depth < 1:
            raise ConfigError(f"fifo_depth={self.fifo_depth} must be an integer >= 1")
        if not self.clock_mhz > 0:
            raise ConfigError(f"clock_mhz={self.clock_mhz} must be positive")
        for name in ("pipeline_fill", "epilogue_per_row", "epilogue_fixed", "broadcast_prologue", "pe_prologue"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 0")
        if self.lnzd_window is not None and (int(self.lnzd_window) != self.lnzd_window or self.lnzd_window < 1):
            raise ConfigError(f"lnzd_window={self.lnzd_window} must be None (free zero skipping) or an integer >= 1")

    @classmethod
    def for_config(cls, config, **overrides) -> TimingParams:
        """The generated FPGA kernel of an AcceleratorConfig: its FIFO depth, clock and LNZD window.

        ``overrides`` replace any other field (e.g. ``pipeline_fill``).
        """
        values = dict(
            # The PE's lookahead register holds one popped token besides its
            # FIFO's fifo_depth: a FIFO slot frees when the token before is
            # taken, one column earlier than the pop of a PE without it.
            fifo_depth=int(config.fifo_depth) + 1,
            clock_mhz=float(config.clock),
            # EIE's four pipeline stages plus the kernel's second broadcaster
            # prologue iteration (the window prefetch, hls/eie_broadcast.hpp)
            # and the PE's (its lookahead register's first fill, hls/eie_pe.hpp).
            pipeline_fill=6,
            broadcast_prologue=2,
            pe_prologue=2,
            lnzd_window=int(config.lnzd_window),
            occupancy_mask=bool(getattr(config, "occupancy_mask", False)),
            stream=stream_params_for_config(config),
        )
        values.update(overrides)
        return cls(**values)


def stream_params_for_config(config, **overrides) -> StreamParams:
    """The streaming master of an AcceleratorConfig and its board's DDR peak.

    A custom board without ``resources.ddr_gbps`` is capped by one port's peak
    (``axi_bits / 8`` bytes per cycle) whatever the port count. ``ports`` and
    ``stream_bits`` come from ``config.ports`` and ``config.stream_bits``.
    """
    ddr = config.ddr_peak_gbps
    values = dict(
        axi_bits=int(config.axi_bits),
        burst_len=int(config.burst_len),
        outstanding=int(config.outstanding),
        ddr_peak_gbps=float(ddr) if ddr else config.axi_bits / 8 * config.clock / 1000.0,
        ports=int(getattr(config, "ports", 1)),
        stream_bits=int(getattr(config, "stream_bits", max(64, int(config.axi_bits)))),
    )
    values.update(overrides)
    return StreamParams(**values)


STORAGE_MODES = ("onchip", "stream")

# The EIE ASIC (Han et al., ISCA 2016): 64 PEs, FIFO depth 8, 4-bit codes and
# 4-bit relative indices, 800 MHz.
EIE_ASIC = TimingParams(fifo_depth=8, clock_mhz=800.0)
EIE_ASIC_PES = 64
EIE_ASIC_INDEX_BITS = 4
EIE_ASIC_WEIGHT_BITS = 4


@dataclass
class LayerTiming:
    """Modelled cost of one layer for one input vector."""

    cycles: int
    array_cycles: int
    ideal_cycles: float
    efficiency: float
    padding_fraction: float
    stall_cycles: int
    busy: np.ndarray
    broadcasts: int
    fill_cycles: int
    epilogue_cycles: int
    latency_us: float
    n_pes: int
    scan_cycles: int = 0
    broadcast_cycles: int = 0
    storage: str = "onchip"
    bytes_streamed: int = 0
    compute_bound_us: float = 0.0
    ddr_bound_us: float = 0.0
    last_push: int = -1
    receptions: int = 0  # (item, PE) deliveries: T x N without the mask
    # Streamed: the readers' read requests (bursts: runs of a lane's blocks that touch or share a
    # word, cut at multiples of min(burst_len words, 4 KiB); eie.format.stream.read_plan) and the
    # words they read (stream_bits each), summed over the lanes; each request holds one of its
    # lane's `outstanding` slots for latency_cycles plus its beats (StreamParams.lane_rate).
    requests: int = 0
    beats: int = 0
    ports: int = 0  # lanes (HP ports) of a streamed layer; 0 on chip
    lane_requests: list[int] = field(default_factory=list)
    lane_beats: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "storage": self.storage,
            "bytes_streamed": int(self.bytes_streamed),
            "requests": int(self.requests),
            "beats": int(self.beats),
            "ports": int(self.ports),
            "lane_requests": [int(v) for v in self.lane_requests],
            "lane_beats": [int(v) for v in self.lane_beats],
            "compute_bound_us": float(self.compute_bound_us),
            "ddr_bound_us": float(self.ddr_bound_us),
            "cycles": int(self.cycles),
            "array_cycles": int(self.array_cycles),
            "ideal_cycles": float(self.ideal_cycles),
            "efficiency": float(self.efficiency),
            "padding_fraction": float(self.padding_fraction),
            "stall_cycles": int(self.stall_cycles),
            "broadcasts": int(self.broadcasts),
            "fill_cycles": int(self.fill_cycles),
            "epilogue_cycles": int(self.epilogue_cycles),
            "latency_us": float(self.latency_us),
            "n_pes": int(self.n_pes),
            "scan_cycles": int(self.scan_cycles),
            "broadcast_cycles": int(self.broadcast_cycles),
            "busy_min": int(self.busy.min()) if self.busy.size else 0,
            "busy_max": int(self.busy.max()) if self.busy.size else 0,
            "busy_mean": float(self.busy.mean()) if self.busy.size else 0.0,
        }


@dataclass
class ModelTiming:
    layers: list[LayerTiming] = field(default_factory=list)

    @property
    def cycles(self) -> int:
        return int(sum(l.cycles for l in self.layers))

    @property
    def latency_us(self) -> float:
        return float(sum(l.latency_us for l in self.layers))

    @property
    def bytes_streamed(self) -> int:
        return int(sum(l.bytes_streamed for l in self.layers))

    def to_dict(self) -> dict:
        return {
            "layers": [l.to_dict() for l in self.layers],
            "total": {
                "cycles": self.cycles,
                "latency_us": self.latency_us,
                "bytes_streamed": self.bytes_streamed,
                "compute_bound_us": float(sum(l.compute_bound_us for l in self.layers)),
                "ddr_bound_us": float(sum(l.ddr_bound_us for l in self.layers)),
            },
        }


def schedule(
    work: np.ndarray, fifo_depth: int, slot_frees: str = "pop", gaps: np.ndarray | None = None
) -> tuple[int, int, np.ndarray]:
    """Run the broadcast/FIFO/PE recurrence.

    ``work`` is T x N (cycles PE p spends on broadcast item t, each >= 1);
    ``gaps`` (T,) are the broadcaster's extra cycles before item t (all-zero
    windows it skips; None = none). Returns (max_p finish_p[T-1], last push
    cycle, push cycle of every item) — see the module docstring for the
    cycle conventions.
    """
    work = np.ascontiguousarray(work, dtype=np.int64)
    t_items, n = work.shape
    if t_items == 0:
        return 0, -1, np.zeros(0, dtype=np.int64)
    gap = [0] * t_items if gaps is None else [int(g) for g in np.asarray(gaps, dtype=np.int64)]
    d = int(fifo_depth)
    finish = np.zeros(n, dtype=np.int64)
    frees = np.zeros(t_items, dtype=np.int64)  # when item t's slot is free in every PE
    pushes = np.zeros(t_items, dtype=np.int64)
    at_pop = slot_frees == "pop"
    push = -1
    # Python ints for the scalar recurrence; numpy only over the PEs.
    for t in range(t_items):
        push += 1 + gap[t]
        if t >= d:
            room = int(frees[t - d])
            if room > push:
                push = room
        pushes[t] = push
        start = np.maximum(finish, push)
        finish = start + work[t]
        frees[t] = start.max() if at_pop else finish.max()
    return int(finish.max()), push, pushes


@dataclass(frozen=True)
class StreamParams:
    """The memory side of a streamed layer (docs/timing.md, "Streamed layers").

    ``ports`` P lanes, each with its own AXI port, reader, read buffer and
    dispatcher (column j goes to lane j mod P; docs/timing.md, "Several
    ports"). Per lane: ``axi_bits`` the port's data width (one beat per cycle
    at the kernel clock at most), ``stream_bits`` the stream word W (the
    m_axi beat the reader requests and the dispatcher consumes per cycle;
    None: ``axi_bits``; the configuration's is max(64, axi_bits)),
    ``burst_len`` words per burst (a power of two; bursts also never cross a
    4 KiB boundary), ``outstanding`` read bursts in flight,
    ``latency_cycles`` from a burst's request to its first beat. The read
    buffer holds ``outstanding * burst_len`` words per lane.
    ``ddr_peak_gbps`` is the board's DDR peak (GB/s, 10^9 bytes), shared by
    the lanes: each gets at most 1/P of it, so their sum never exceeds it.
    ``counts_on_chip``: the blocks carry no count headers (the counts are an
    on-chip table; eie.format.stream).
    """

    axi_bits: int = 64
    burst_len: int = 16
    outstanding: int = 8
    latency_cycles: int = 64
    ddr_peak_gbps: float = 4.264
    # The variant without block headers: the per-PE counts kept on chip (eie.format.stream).
    counts_on_chip: bool = False
    ports: int = 1
    stream_bits: int | None = None

    def __post_init__(self) -> None:
        if self.axi_bits not in (32, 64, 128, 256, 512):
            raise ConfigError(f"axi_bits={self.axi_bits} must be 32, 64, 128, 256 or 512")
        if isinstance(self.ports, bool) or self.ports not in (1, 2, 4):
            raise ConfigError(f"ports={self.ports!r} must be 1, 2 or 4 (HP ports a streamed layer is read over)")
        if self.stream_bits is not None and (
            self.stream_bits not in (32, 64, 128, 256, 512) or self.stream_bits < self.axi_bits
        ):
            raise ConfigError(
                f"stream_bits={self.stream_bits} must be 32, 64, 128, 256 or 512 and at least axi_bits={self.axi_bits}"
            )
        b = self.burst_len
        if int(b) != b or not 1 <= b <= 256 or b & (b - 1):
            raise ConfigError(f"burst_len={b} must be a power of two from 1 to 256 beats")
        if int(self.outstanding) != self.outstanding or not 1 <= self.outstanding <= 64:
            raise ConfigError(f"outstanding={self.outstanding} must be an integer from 1 to 64")
        if int(self.latency_cycles) != self.latency_cycles or self.latency_cycles < 0:
            raise ConfigError(f"latency_cycles={self.latency_cycles} must be an integer >= 0")
        if not self.ddr_peak_gbps > 0:
            raise ConfigError(f"ddr_peak_gbps={self.ddr_peak_gbps} must be positive")

    @property
    def beat_bytes(self) -> int:
        return self.axi_bits // 8

    @property
    def word_bytes(self) -> int:
        """The stream word W / 8: what the reader requests per beat and coalesces on (read_plan)."""
        return (self.axi_bits if self.stream_bits is None else self.stream_bits) // 8

    @property
    def dispatch_bytes(self) -> int:
        """What a lane's dispatcher consumes per cycle: one stream word."""
        return self.word_bytes

    @property
    def burst_bytes(self) -> int:
        """The longest burst: min(burst_len words, 4 KiB)."""
        return min(self.burst_len * self.word_bytes, 4096)

    @property
    def buffer_bytes(self) -> int:
        """One lane's read buffer: outstanding x burst_len words."""
        return self.outstanding * self.burst_len * self.word_bytes

    def port_peak_gbps(self, clock_mhz: float) -> float:
        """One beat per cycle: one port's peak in GB/s."""
        return self.beat_bytes * clock_mhz / 1000.0

    def peak_bytes_per_cycle(self, clock_mhz: float) -> float:
        """All lanes together: min(ports x port peak, DDR peak) in bytes per kernel cycle."""
        return min(float(self.ports * self.beat_bytes), self.ddr_peak_gbps * 1000.0 / clock_mhz)

    def lane_peak_bytes_per_cycle(self, clock_mhz: float) -> float:
        """One lane: min(its port's peak, the DDR peak / ports) bytes per cycle (the lanes share the DDR)."""
        return min(float(self.beat_bytes), self.ddr_peak_gbps * 1000.0 / clock_mhz / self.ports)

    def lane_rate(self, clock_mhz: float, mean_burst_bytes: float) -> float:
        """One lane's sustained read rate: its peak, and Little's law over its outstanding bursts.

        ``outstanding`` bursts of ``mean_burst_bytes`` each, each occupying a
        slot for ``latency_cycles`` plus its beats, deliver at most
        outstanding * bytes / (latency + beats) per cycle.
        """
        peak = self.lane_peak_bytes_per_cycle(clock_mhz)
        if mean_burst_bytes <= 0:
            return peak
        beats = mean_burst_bytes / self.beat_bytes
        little = self.outstanding * mean_burst_bytes / (self.latency_cycles + beats)
        return min(peak, little)

    def rate_bytes_per_cycle(self, clock_mhz: float, mean_burst_bytes: float) -> float:
        """All lanes at ``mean_burst_bytes`` each: ports x lane_rate (at most the DDR peak)."""
        return self.ports * self.lane_rate(clock_mhz, mean_burst_bytes)


# The Zynq-7000 dispatcher word (stream_bits 64); a configuration's is StreamParams.dispatch_bytes
# (stream_bits / 8, per lane).
DISPATCH_BYTES = 8


@dataclass
class MemoryPlan:
    """What the readers fetch for one layer and input (eie.format.stream.read_plan), per broadcast item.

    Every lane has its own reader, buffer and dispatcher; ``rates`` are per lane.
    """

    item_bytes: np.ndarray  # bytes read for each broadcast item (word rounding of its run included)
    rates: Sequence[float]  # sustained bytes per cycle of each lane
    latency: int
    buffer_bytes: int  # one lane's read buffer
    burst_bytes: int  # the longest burst: min(burst_len words, 4 KiB)
    dispatch_bytes: int = DISPATCH_BYTES  # what a lane's dispatcher takes per cycle: one stream word
    item_lane: np.ndarray | None = None  # lane of each item; None: one lane


def _lane_memory(memory: MemoryPlan, t_items: int) -> tuple:
    """Per-item constants of the memory side (vectorised per lane; the recurrence only reads them).

    Returns (lane, cost, transfer, tail, u1, f1, u2, f2) as Python lists: item t's lane, its dispatch
    cycles, its bytes' transfer time, its last burst's transfer, and the two buffer constraints
    (the item u whose dispatch frees the room for t's first / last burst, -1 for none, and how far
    into u's dispatch, in cycles).
    """
    b = np.asarray(memory.item_bytes, dtype=np.float64)
    lane = np.zeros(t_items, dtype=np.int64) if memory.item_lane is None else np.asarray(memory.item_lane, np.int64)
    cost_a = np.maximum(1.0, b / memory.dispatch_bytes)
    rate = np.asarray(memory.rates, dtype=np.float64)[lane]
    first_burst = np.minimum(b, memory.burst_bytes)
    u1 = np.full(t_items, -1, dtype=np.int64)
    u2 = np.full(t_items, -1, dtype=np.int64)
    f1 = np.zeros(t_items)
    f2 = np.zeros(t_items)
    for lane_id in np.unique(lane):
        idx = np.flatnonzero(lane == lane_id)  # the lane's items, in column order
        bl, cl = b[idx], cost_a[idx]
        q = np.cumsum(bl)
        q_before = q - bl
        # The lane's read buffer: byte x can be requested once its dispatcher has consumed
        # byte x - buffer. Item t's first burst needs x1, its last burst x2; the dispatcher
        # consumes item u's bytes evenly over its c_u cycles.
        for x, u_out, f_out in (
            (q_before + first_burst[idx] - memory.buffer_bytes, u1, f1),
            (q - memory.buffer_bytes, u2, f2),
        ):
            u = np.searchsorted(q, x, side="left")
            # Only bytes of earlier items constrain (within an item the sustained rate covers it).
            ok = (x > 0) & (u < np.arange(idx.size))
            uc = np.minimum(u, idx.size - 1)
            frac = (x - q_before[uc]) / np.maximum(bl[uc], 1e-12) * cl[uc]
            u_out[idx[ok]] = idx[u[ok]]
            f_out[idx[ok]] = frac[ok]
    return (
        lane.tolist(),
        cost_a.tolist(),
        (b / rate).tolist(),
        (first_burst / rate).tolist(),  # the last burst's transfer (at most one burst)
        u1.tolist(),
        f1.tolist(),
        u2.tolist(),
        f2.tolist(),
    )


def schedule_items(
    work: np.ndarray,
    fifo_depth: int,
    slot_frees: str = "pop",
    gaps: np.ndarray | None = None,
    receivers: np.ndarray | None = None,
    decoupled: bool = False,
    memory: MemoryPlan | None = None,
) -> tuple[int, int, np.ndarray, float]:
    """The general recurrence: per-PE receivers, decoupled PEs and a streamed memory side.

    ``work`` T x N (cycles of PE p on item t; 0 allowed where p is no
    receiver), ``receivers`` T x N booleans (None: every PE receives every
    item). A PE's FIFO holds only the items it receives, so item t waits only
    for the FIFOs of its receivers. ``decoupled``: no FIFO limit at all.
    ``memory``: item t goes through its lane's reader and dispatcher
    (``memory.item_lane``); the lane's dispatcher spends ``c_t = max(1,
    bytes_t / dispatch_bytes)`` cycles on it (one word per cycle from a
    continuous byte stream, at most one item per cycle; its clock is kept
    fractional, items are pushed at whole cycles), no earlier than its bytes
    allow, and the broadcaster hands out at most one item per cycle over all
    lanes (docs/timing.md). The PEs take the items in column order whatever
    their lane (the approximation of the kernel's merge, docs/timing.md
    "Several ports"). Returns (PE finish, last dispatcher end, push cycle of
    each item, last byte's arrival).
    """
    work = np.ascontiguousarray(work, dtype=np.int64)
    t_items, n = work.shape
    if t_items == 0:
        return 0, 0, np.zeros(0, dtype=np.int64), 0.0
    recv = np.ones((t_items, n), dtype=bool) if receivers is None else np.asarray(receivers, dtype=bool)
    gap = [0] * t_items if gaps is None else [int(g) for g in np.asarray(gaps, dtype=np.int64)]
    d = int(fifo_depth)
    at_pop = slot_frees == "pop"
    finish = np.zeros(n, dtype=np.int64)
    ring = np.zeros((n, d), dtype=np.int64)  # when each of a PE's last d received items frees its slot
    count = np.zeros(n, dtype=np.int64)
    pe_index = np.arange(n)
    pushes = np.zeros(t_items, dtype=np.int64)
    if memory is not None:
        lanes, cost, xfer, tail, u1l, f1, u2l, f2 = _lane_memory(memory, t_items)
        lat = memory.latency
        n_lanes = max(lanes) + 1
    else:
        lanes, cost, n_lanes = [0] * t_items, [1] * t_items, 1
    lane_end = [0.0] * n_lanes  # each lane's dispatcher: end of its last item
    arrived = [0.0] * n_lanes  # each lane's last byte so far
    # The broadcaster hands out at most one item per cycle over all lanes, plus the all-zero
    # windows it skips; it runs ahead of the dispatchers (their queues are not modelled).
    bcast = -1
    starts = [0.0] * t_items  # the dispatchers' (fractional) start of each item
    for t in range(t_items):
        l = lanes[t]
        bcast += 1 + gap[t]
        # The skipped windows also delay the lane after its previous item (one lane: the
        # single-dispatcher rule, whose start is never before the broadcaster's).
        at = max(lane_end[l] + gap[t], bcast)
        if memory is not None:
            room1 = 0.0 if u1l[t] < 0 else starts[u1l[t]] + f1[t]
            first = max(arrived[l], room1 + lat)
            arr = first + xfer[t]
            if u2l[t] >= 0:
                arr = max(arr, starts[u2l[t]] + f2[t] + lat + tail[t])
            arrived[l] = arr
            # The dispatcher walks the item's words as they arrive: it starts no
            # earlier than the first and ends no earlier than the last.
            at = max(at, first, arr - cost[t])
        push = math.ceil(at - 1e-9)
        r = recv[t]
        if not decoupled:
            full = r & (count >= d)
            if full.any():
                room = int(ring[full, count[full] % d].max())
                if room > push:
                    push = room
                    at = room
        pushes[t] = push
        starts[t] = at
        lane_end[l] = at + cost[t]
        start = np.maximum(finish[r], push)
        done = start + work[t, r]
        finish[r] = done
        if not decoupled:
            slot = count[r] % d
            ring[pe_index[r], slot] = start if at_pop else done
            count[r] += 1
    return int(finish.max()), math.ceil(max(lane_end) - 1e-9), pushes, float(max(arrived))


def scan_gaps(cols: np.ndarray, n_cols: int, window: int | None) -> tuple[np.ndarray, int, int]:
    """All-zero windows the broadcaster skips: (before each item, after the last, total).

    ``cols`` are the non-zero columns in increasing order, ``n_cols`` = K.
    With ``window=None`` skipping is free and everything is 0.
    """
    cols = np.asarray(cols, dtype=np.int64)
    if window is None:
        return np.zeros(cols.size, dtype=np.int64), 0, 0
    windows = -(-int(n_cols) // int(window))
    if cols.size == 0:
        return np.zeros(0, dtype=np.int64), windows, windows
    w = cols // int(window)
    # Windows strictly between the windows of consecutive items hold no non-zero;
    # items sharing a window have no gap.
    gaps = np.maximum(np.diff(w, prepend=-1) - 1, 0)
    trailing = windows - 1 - int(w[-1])
    return gaps, trailing, int(gaps.sum()) + trailing


def _active_columns(layer: EncodedLayer, activations: np.ndarray) -> np.ndarray:
    a = np.asarray(activations)
    k = layer.shape[1]
    if a.ndim != 1 or a.shape[0] != k:
        raise FormatError(f"activation vector has shape {a.shape}; the layer takes {k} inputs, so pass a vector of {k}")
    return np.flatnonzero(a)


def simulate_layer(
    layer: EncodedLayer, activations: np.ndarray, params: TimingParams = EIE_ASIC, storage: str = "onchip"
) -> LayerTiming:
    """Model one layer on one input (values or a boolean non-zero mask, physical column order).

    ``storage="stream"`` models the layer streamed from DDR (``params.stream``
    is then required; the per-PE counts of the stream layout give every PE
    only its own columns, with or without ``occupancy_mask``).
    """
    if storage not in STORAGE_MODES:
        raise ConfigError(f"storage={storage!r} must be one of {', '.join(STORAGE_MODES)}")
    if storage == "stream" and params.stream is None:
        raise ConfigError("a streamed layer needs TimingParams.stream (the AXI port and the board's DDR)")
    cols = _active_columns(layer, activations)
    per_col = layer.column_entries()  # N x K, padding included
    n = layer.n_pes
    m = layer.shape[0]
    entries = per_col[:, cols]  # N x T
    masked = params.occupancy_mask or storage == "stream"
    gaps, trailing, skipped = scan_gaps(cols, layer.shape[1], params.lnzd_window)
    fill = params.pipeline_fill
    epilogue = params.epilogue_per_row * (-(-m // n)) + params.epilogue_fixed
    if masked:
        work = entries.T
        recv = work > 0
        pe_time, disp_end, pushes, _ = schedule_items(
            work, params.fifo_depth, params.slot_frees, gaps, recv, params.decoupled
        )
    elif params.decoupled:
        work = np.maximum(entries, 1).T
        pe_time, disp_end, pushes, _ = schedule_items(work, params.fifo_depth, params.slot_frees, gaps, None, True)
    else:
        work = np.maximum(entries, 1).T
        pe_time, last_push, pushes = schedule(work, params.fifo_depth, params.slot_frees, gaps)
        disp_end = last_push + 1
    t_items = cols.size
    array_time = max(pe_time, disp_end + trailing)  # = number of windows when nothing is broadcast
    compute_total = fill + array_time + epilogue
    bytes_streamed = 0
    arrived = 0.0
    stall_base = t_items
    if storage == "stream":
        from eie.format.stream import read_plan

        sp = params.stream
        plan = read_plan(layer, cols, sp.word_bytes, sp.burst_len, sp.counts_on_chip, lanes=sp.ports)
        bytes_streamed = int(plan.total_bytes)
        mem = MemoryPlan(
            plan.item_bytes,
            [sp.lane_rate(params.clock_mhz, float(b)) for b in plan.lane_mean_burst_bytes()],
            sp.latency_cycles,
            sp.buffer_bytes,
            sp.burst_bytes,
            sp.dispatch_bytes,
            plan.item_lane,
        )
        pe_time, disp_end, pushes, arrived = schedule_items(
            work, params.fifo_depth, params.slot_frees, gaps, recv, params.decoupled, mem
        )
        array_time = max(pe_time, disp_end + trailing)
        # The busiest lane's own dispatch and skip cycles (one lane: all items and all gaps).
        own = np.maximum(1.0, plan.item_bytes / sp.dispatch_bytes) + gaps
        stall_base = math.ceil(float(np.bincount(plan.item_lane, weights=own, minlength=sp.ports).max()) - 1e-9)
        stall_base -= int(gaps.sum())
    ideal = float(entries.sum()) / n
    total = fill + array_time + epilogue
    total_entries = layer.total_entries
    last_push = int(pushes[-1]) if t_items else -1
    if storage == "stream":
        peak = params.stream.peak_bytes_per_cycle(params.clock_mhz)
        ddr_us = bytes_streamed / peak / params.clock_mhz
    else:
        ddr_us = 0.0
    return LayerTiming(
        cycles=int(total),
        array_cycles=int(array_time),
        ideal_cycles=ideal,
        efficiency=(ideal / array_time) if array_time else 1.0,
        padding_fraction=(layer.padding / total_entries) if total_entries else 0.0,
        # Cycles the dispatcher had an item ready but waited (a full FIFO or, streamed, the bytes).
        stall_cycles=int(disp_end - stall_base - int(gaps.sum())) if t_items else 0,
        busy=work.sum(axis=0) if t_items else np.zeros(n, dtype=np.int64),
        broadcasts=int(t_items),
        fill_cycles=int(fill),
        epilogue_cycles=int(epilogue),
        latency_us=total / params.clock_mhz,
        n_pes=n,
        scan_cycles=int(skipped),
        broadcast_cycles=int(t_items + skipped),
        storage=storage,
        bytes_streamed=bytes_streamed,
        compute_bound_us=compute_total / params.clock_mhz,
        ddr_bound_us=ddr_us,
        last_push=last_push,
        receptions=int((work > 0).sum()) if masked else int(t_items * n),
        requests=int(plan.bursts) if storage == "stream" else 0,
        beats=int(plan.words) if storage == "stream" else 0,
        ports=int(params.stream.ports) if storage == "stream" else 0,
        lane_requests=plan.lane_bursts.tolist() if storage == "stream" else [],
        lane_beats=plan.lane_words.tolist() if storage == "stream" else [],
    )


def simulate_model(
    layers: Sequence[EncodedLayer],
    activations: Sequence[np.ndarray],
    params: TimingParams = EIE_ASIC,
    storage: Sequence[str] | None = None,
) -> ModelTiming:
    """Model a whole network: ``activations[l]`` is layer l's input (physical column order).

    ``storage[l]`` is "onchip" or "stream" (None: every layer on chip).
    """
    if len(layers) != len(activations):
        raise ConfigError(f"{len(layers)} layers but {len(activations)} activation vectors")
    storage = ["onchip"] * len(layers) if storage is None else list(storage)
    if len(storage) != len(layers):
        raise ConfigError(f"{len(storage)} storage modes given for {len(layers)} layers")
    return ModelTiming([simulate_layer(l, a, params, s) for l, a, s in zip(layers, activations, storage)])


def simulate_eie_asic(model, activations: Sequence[np.ndarray]) -> ModelTiming:
    """A CompressedModel on the EIE ASIC: 64 PEs, FIFO 8, 4-bit indices, 800 MHz, interleaved rows.

    ``activations[l]`` is the input of layer l (logical order; interleaving
    keeps logical = physical). Layers whose codes need more than 4 bits are
    encoded with their own weight_bits (the ASIC's 4-bit codes only change
    the memory, not the cycles).
    """
    return simulate_model(encode_model(model, None, EIE_ASIC_PES, EIE_ASIC_INDEX_BITS), activations, EIE_ASIC)
