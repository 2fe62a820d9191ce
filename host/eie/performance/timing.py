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
  has four of; in the FPGA kernel it also covers the one prologue iteration
  of the broadcaster loop and of each PE loop (the first window load and the
  first pointer fetch, which nothing precedes to overlap with).
* Busy cycles (what the kernel's C-simulation counters measure, docs/kernel.md):
  ``busy[p] = sum_t work_p[t]`` per PE, and ``broadcast_cycles = T +
  scan_cycles`` for the broadcaster (``scan_cycles`` = all-zero windows
  skipped; 0 with free skipping). The kernel's loop trip counts are exactly
  these plus 1 (the prologue iteration); stalls lengthen cycles, not trips.
* Ideal cycles = entries of the broadcast columns summed over all PEs / N;
  ``efficiency = ideal / array time`` is the load-balance efficiency (fill and
  epilogue are excluded, they are not load imbalance).
* Stall cycles = ``push[T-1] - (T-1) - sum_t gap[t]``: cycles the broadcaster
  had an item ready but some FIFO was full.

The loop runs over broadcast items only; each step is a handful of numpy
operations over the N PEs.
"""

from __future__ import annotations

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
    epilogue_per_row: int = 1
    epilogue_fixed: int = 2
    slot_frees: str = "pop"
    # Activations the broadcaster's leading-non-zero detection scans per cycle;
    # None = free zero skipping (the EIE ASIC).
    lnzd_window: int | None = None

    def __post_init__(self) -> None:
        if self.slot_frees not in ("pop", "finish"):
            raise ConfigError(f"slot_frees={self.slot_frees!r} must be 'pop' or 'finish'")
        if int(self.fifo_depth) != self.fifo_depth or self.fifo_depth < 1:
            raise ConfigError(f"fifo_depth={self.fifo_depth} must be an integer >= 1")
        if not self.clock_mhz > 0:
            raise ConfigError(f"clock_mhz={self.clock_mhz} must be positive")
        for name in ("pipeline_fill", "epilogue_per_row", "epilogue_fixed"):
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
            fifo_depth=int(config.fifo_depth), clock_mhz=float(config.clock), lnzd_window=int(config.lnzd_window)
        )
        values.update(overrides)
        return cls(**values)


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

    def to_dict(self) -> dict:
        return {
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

    def to_dict(self) -> dict:
        return {
            "layers": [l.to_dict() for l in self.layers],
            "total": {"cycles": self.cycles, "latency_us": self.latency_us},
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


def simulate_layer(layer: EncodedLayer, activations: np.ndarray, params: TimingParams = EIE_ASIC) -> LayerTiming:
    """Model one layer on one input (values or a boolean non-zero mask, physical column order)."""
    cols = _active_columns(layer, activations)
    per_col = layer.column_entries()  # N x K, padding included
    n = layer.n_pes
    m = layer.shape[0]
    entries = per_col[:, cols]  # N x T
    work = np.maximum(entries, 1).T
    gaps, trailing, skipped = scan_gaps(cols, layer.shape[1], params.lnzd_window)
    pe_time, last_push, _ = schedule(work, params.fifo_depth, params.slot_frees, gaps)
    t_items = cols.size
    scan_end = last_push + 1 + trailing  # = number of windows when nothing is broadcast
    array_time = max(pe_time, scan_end)
    ideal = float(entries.sum()) / n
    fill = params.pipeline_fill
    epilogue = params.epilogue_per_row * (-(-m // n)) + params.epilogue_fixed
    total = fill + array_time + epilogue
    total_entries = layer.total_entries
    return LayerTiming(
        cycles=int(total),
        array_cycles=int(array_time),
        ideal_cycles=ideal,
        efficiency=(ideal / array_time) if array_time else 1.0,
        padding_fraction=(layer.padding / total_entries) if total_entries else 0.0,
        stall_cycles=int(last_push - (t_items - 1) - int(gaps.sum())) if t_items else 0,
        busy=work.sum(axis=0) if t_items else np.zeros(n, dtype=np.int64),
        broadcasts=int(t_items),
        fill_cycles=int(fill),
        epilogue_cycles=int(epilogue),
        latency_us=total / params.clock_mhz,
        n_pes=n,
        scan_cycles=int(skipped),
        broadcast_cycles=int(t_items + skipped),
    )


def simulate_model(
    layers: Sequence[EncodedLayer],
    activations: Sequence[np.ndarray],
    params: TimingParams = EIE_ASIC,
) -> ModelTiming:
    """Model a whole network: ``activations[l]`` is layer l's input (physical column order)."""
    if len(layers) != len(activations):
        raise ConfigError(f"{len(layers)} layers but {len(activations)} activation vectors")
    return ModelTiming([simulate_layer(l, a, params) for l, a in zip(layers, activations)])


def simulate_eie_asic(model, activations: Sequence[np.ndarray]) -> ModelTiming:
    """A CompressedModel on the EIE ASIC: 64 PEs, FIFO 8, 4-bit indices, 800 MHz, interleaved rows.

    ``activations[l]`` is the input of layer l (logical order; interleaving
    keeps logical = physical). Layers whose codes need more than 4 bits are
    encoded with their own weight_bits (the ASIC's 4-bit codes only change
    the memory, not the cycles).
    """
    return simulate_model(encode_model(model, None, EIE_ASIC_PES, EIE_ASIC_INDEX_BITS), activations, EIE_ASIC)
