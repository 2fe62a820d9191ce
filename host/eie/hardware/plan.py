"""``eie plan``: choose the accelerator for a model and a board (docs/plan.md).

The search space is a list of dimensions, each a configuration field and its
candidate values (``DIMENSIONS``); a dimension whose field AcceleratorConfig
does not have is skipped, so a field added later (e.g. an HP-port count) is
searched as soon as it exists. Storage per layer (on chip or streamed) is a
dimension of its own (``storage_sets``). What the user pinned (a partial
configuration's keys, ``--board``) is kept.

Every candidate is priced twice:

* the resource estimate (eie.hardware.resources.estimate, logic included)
  of the configuration with its memory depths sized to the model for that
  storage; a candidate that does not fit the board is dropped. Its cost is
  the utilisation of the board's scarcest resource for it (the largest of
  BRAM36, URAM, DSP, LUT and FF used / available);
* the timing model (eie.performance.timing.simulate_layer) on the model's
  own layers and the representative inputs' activations.

The search is a branch and bound over latency lower bounds (``layer_bound``):
candidates are taken in increasing order of their bound, and one is skipped
without timing when an already timed design is at least as fast as its bound
and no more costly (it is dominated, so it can be neither the choice nor on
the Pareto front). Per-layer timings are cached by the parameters that
matter for that layer (its PE count and index bits, the timing parameters
of the configuration, its storage), so designs that differ only elsewhere
share them.

Everything is modelled: the plan is only as good as the timing model and the
resource estimate, neither of which has been checked against synthesis.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import CapacityError, ConfigError
from eie.format.csc import EncodedLayer, entries_per_word
from eie.hardware.boards import BOARDS, DEFAULT_BOARD, HP_PORTS, STREAM_PORT_CHOICES, STREAM_PORTS_DEFAULT
from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import estimate
from eie.hardware.streaming import SIZED_FIELDS, layer_storage
from eie.performance.timing import LayerTiming, TimingParams, simulate_layer

OBJECTIVES = ("latency", "throughput", "smallest")
# Representative inputs the timing model runs (evenly spaced rows of --calib).
MAX_VECTORS = 4
# Without representative inputs or a stored calibration: inputs with this share of
# non-zeros (uniform [0, 1) values), as `eie simulate` assumes.
DEFAULT_INPUT_DENSITY = 0.5
# Models of at most this many layers have every on-chip / streamed split tried;
# larger ones a nested family (``storage_sets``).
EXACT_STORAGE_LAYERS = 4
# Names an HP-port count field may have; the first the configuration has is
# searched (issue 19 added stream_ports), over the values the board allows.
PORT_FIELDS = ("hp_ports", "axi_ports", "stream_ports", "n_ports", "ports")
RESOURCES = ("bram36", "uram", "dsp", "lut", "ff")
ESE_GOPS = 282.0  # ESE (Han et al., FPGA 2017) on a KU060 at 200 MHz, its own accounting


@dataclass(frozen=True)
class Dimension:
    """One searched configuration field: its candidate values, or a function of the fields chosen before it."""

    field: str
    values: Sequence | Callable[[dict], Sequence]

    def candidates(self, chosen: dict) -> list:
        vals = self.values(chosen) if callable(self.values) else self.values
        return list(dict.fromkeys(vals))


def _windows(chosen: dict) -> list[int]:
    # A divisor of N or N times a power of two (AcceleratorConfig checks); the
    # kernel's default is N.
    n = int(chosen["n_pes"])
    return [w for w in (n, n // 2, 2 * n, 4 * n) if w >= 1 and w <= 1024 and (n % w == 0 or w % n == 0)]


def _stream_ports(chosen: dict) -> list[int]:
    # The kernel's port counts (column j of a streamed layer on port j mod P) that
    # the board's PS has HP ports for, its family's default first. A custom part
    # names its family in `resources` (AcceleratorConfig.board_spec).
    board = chosen.get("board", DEFAULT_BOARD)
    family = BOARDS[board].family if board in BOARDS else str((chosen.get("resources") or {}).get("family", "zynqmp"))
    allowed = [p for p in STREAM_PORT_CHOICES if p <= HP_PORTS[family]]
    return [STREAM_PORTS_DEFAULT[family], *allowed]


def _index_bits(chosen: dict) -> list[int]:
    w = int(chosen.get("weight_bits", 4))
    return [r for r in (4, 2, 3, 5, 6, 8) if w + r <= 16]


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("n_pes", (64, 32, 16, 8, 4, 2, 1)),
    Dimension("index_bits", _index_bits),
    Dimension("lnzd_window", _windows),
    Dimension("occupancy_mask", (True, False)),
    Dimension("fifo_depth", (32, 8, 16, 64)),
    *(Dimension(name, _stream_ports) for name in PORT_FIELDS),
)
"""The search space (besides the storage per layer); the first value of each is the kernel's default."""


def config_fields() -> set[str]:
    return {f.name for f in fields(AcceleratorConfig)}


def port_field() -> str | None:
    """The configuration's HP-port count field, None while it has none (one port)."""
    have = config_fields()
    return next((name for name in PORT_FIELDS if name in have), None)


# -- the workload: the model's layers and the activations the timing model sees ---------


@dataclass
class Workload:
    """The layers to plan for and, per layer, the non-zero pattern of its input for each representative vector."""

    layers: list[CompressedLayer]
    masks: list[np.ndarray]  # per layer: V x K booleans
    source: str  # where the activations came from (a sentence)
    weight_bits: int = 4
    ternary: bool = False
    acc_bits: int | None = None  # None: the configuration's
    name: str = "model"

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError("nothing to plan: the workload has no layers")
        if len(self.masks) != len(self.layers):
            raise ConfigError(f"{len(self.masks)} activation patterns for {len(self.layers)} layers")
        self.masks = [np.atleast_2d(np.asarray(m) != 0) for m in self.masks]
        for l, m in zip(self.layers, self.masks):
            if m.shape[1] != l.shape[1]:
                raise ConfigError(f"layer {l.name!r} takes {l.shape[1]} inputs; its activations have {m.shape[1]}")
        v = {m.shape[0] for m in self.masks}
        if len(v) != 1:
            raise ConfigError("every layer needs the same number of representative vectors")

    @property
    def vectors(self) -> int:
        return int(self.masks[0].shape[0])

    def densities(self) -> list[float]:
        return [float(m.mean()) for m in self.masks]


def _pick_rows(x: np.ndarray, vectors: int) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if x.shape[0] <= vectors:
        return x
    return x[np.unique(np.linspace(0, x.shape[0] - 1, vectors).round().astype(int))]


def workload_from_model(
    model: CompressedModel, calib: np.ndarray | None = None, vectors: int = MAX_VECTORS, seed: int = 0
) -> Workload:
    """The model's layers and the activations of representative inputs (module docstring of docs/plan.md).

    ``calib``: float inputs (B x K); up to ``vectors`` evenly spaced rows run
    through the float reference. Without them: random inputs inside the
    stored calibration's input range, else the stated default
    (``DEFAULT_INPUT_DENSITY`` non-zeros, uniform [0, 1) values). The hidden
    layers' patterns always come from the model's own forward pass.
    """
    vectors = max(1, int(vectors))
    rng = np.random.default_rng(seed)
    k = model.in_features
    if calib is not None:
        x = np.atleast_2d(np.asarray(calib, dtype=np.float64))
        if x.ndim != 2 or x.shape[1] != k:
            raise ConfigError(f"representative inputs have shape {x.shape}; the model takes (B, {k})")
        x = _pick_rows(x, vectors)
        source = f"representative inputs: {x.shape[0]} of the {np.atleast_2d(calib).shape[0]} given"
    elif model.calibration is not None:
        peak = float(model.calibration["peaks"][0]) or 1.0
        x = rng.uniform(-peak, peak, size=(vectors, k))
        source = (
            f"the model's stored calibration: {vectors} random inputs within its input range +-{peak:g} "
            "(every input non-zero); pass --calib X.npy for real activation densities"
        )
    else:
        x = rng.random((vectors, k)) * (rng.random((vectors, k)) < DEFAULT_INPUT_DENSITY)
        source = (
            f"DEFAULT: {vectors} random inputs with {DEFAULT_INPUT_DENSITY:.0%} non-zeros (no --calib, no stored "
            "calibration); pass --calib X.npy for real activation densities"
        )
    masks = [x != 0]
    h = x
    for layer in model.layers[:-1]:
        h = layer.forward(h)
        masks.append(h != 0)
    return Workload(
        list(model.layers),
        masks,
        source,
        weight_bits=max([4] + [l.weight_bits for l in model.layers]),
        ternary=any(l.kind == "ternary" for l in model.layers),
    )


# -- per-(PE, column) counts: what the timing model and the sizing read ----------------


class CountedLayer(EncodedLayer):
    """An EncodedLayer holding only what the timing model, the stream reader and the sizing read.

    Pointers (per-PE column counts, padding included) and the padding count;
    no entry values (``v``, ``z`` are empty). ``encode`` gives the same
    counts (tests/hardware/test_plan.py checks it).
    """

    def __init__(self, shape, n_pes, weight_bits, index_bits, ptr, padding: int):
        pe_start = np.zeros(n_pes + 1, dtype=np.int64)
        np.cumsum(ptr[:, -1], out=pe_start[1:])
        empty = np.zeros(0, dtype=np.uint8)
        super().__init__(tuple(shape), int(n_pes), int(weight_bits), int(index_bits), empty, empty, pe_start, ptr)
        self._padding = int(padding)
        self._columns = np.diff(ptr, axis=1)  # read for every bound and timing: kept, not recomputed
        self._entries = np.diff(pe_start)

    @property
    def padding(self) -> int:
        return self._padding

    @property
    def n_entries(self) -> np.ndarray:
        return self._entries

    def column_entries(self) -> np.ndarray:
        return self._columns


class _Groups:
    """One layer's kept weights grouped by (PE, column) for N PEs: the counts for any index width."""

    def __init__(self, layer: CompressedLayer, n: int, rows=None, cols=None):
        m, k = layer.shape
        mloc = max(1, -(-m // n))
        shift = max(1, (mloc - 1).bit_length())
        # Key (PE * K + column) << shift | local row: positions are unique, so a plain sort gives
        # encode's (PE, column, local row) order; 32-bit keys where they fit sort about twice as fast.
        dt = np.int32 if ((n * k) << shift) < 2**31 else np.int64
        rows = np.asarray(layer.rows if rows is None else rows).astype(dt, copy=False)
        cols = np.asarray(layer.cols if cols is None else cols).astype(dt, copy=False)
        if n & (n - 1) == 0:
            key = (rows & (n - 1)) * k
            key += cols
            key <<= shift
            key |= rows >> (n.bit_length() - 1)
        else:
            key = ((rows % n) * k + cols) << shift
            key |= rows // n
        key.sort()
        g = key >> shift
        local = key & ((1 << shift) - 1)
        gap = np.empty_like(local)
        self.shape, self.n = (m, k), n
        self.base = np.zeros(n * k, dtype=np.int64)
        if gap.size:
            gap[0] = local[0]
            np.subtract(local[1:], local[:-1], out=gap[1:])
            gap[1:] -= 1
            first = np.flatnonzero(g[1:] != g[:-1]) + 1
            gap[first] = local[first]
            # g is sorted: each group's size is the distance between its first entries.
            starts = np.concatenate(([0], first))
            self.base[g[starts]] = np.diff(np.append(starts, g.size))
        far = np.flatnonzero(gap >= 2)  # only these can need padding (at least one index bit)
        far_gap = gap[far]
        # Ordered by the gap's bit length, capped at 8 (index widths are 1..8; a radix sort of
        # small integers): for index width r the entries that take padding, gap >= 2^r, are a suffix.
        bucket = _LOG2[np.minimum(far_gap, 511)]
        order = np.argsort(bucket, kind="stable")
        self.far_g = g[far[order]]
        self.far_gap = far_gap[order].astype(np.int64)
        self.starts = np.searchsorted(bucket[order], np.arange(10), side="left")

    def counted(self, index_bits: int, weight_bits: int) -> CountedLayer:
        r = int(index_bits)
        lo = int(self.starts[min(r, 9)])  # a gap of 2^r or more local rows takes padding entries
        pads = self.far_gap[lo:] >> r
        n, k = self.n, self.shape[1]
        per = self.base.copy()
        if pads.size:
            per += np.bincount(self.far_g[lo:], weights=pads, minlength=per.size).astype(np.int64)
        ptr = np.zeros((n, k + 1), dtype=np.int64)
        np.cumsum(per.reshape(n, k), axis=1, out=ptr[:, 1:])
        return CountedLayer(self.shape, n, weight_bits, r, ptr, int(pads.sum()))


_LOG2 = np.array([0, 0] + [int(x).bit_length() - 1 for x in range(2, 512)], dtype=np.uint8)


# -- the latency bound and the exact timing ---------------------------------------------


def _busy(layer: EncodedLayer, masks: np.ndarray, masked: bool) -> np.ndarray:
    """The busiest PE's work per vector (cycles; every column costs a PE at least one without the mask)."""
    ce = layer.column_entries()
    work = ce if masked else np.maximum(ce, 1)
    return (masks.astype(np.int64) @ work.T).max(axis=1)


def _scan(masks: np.ndarray, window: int | None) -> np.ndarray:
    """Broadcast items plus the all-zero windows the broadcaster skips, per vector."""
    items = masks.sum(axis=1)
    if window is None:
        return items
    v, k = masks.shape
    windows = -(-k // int(window))
    pad = np.zeros((v, windows * int(window)), dtype=bool)
    pad[:, :k] = masks
    return items + (~pad.reshape(v, windows, int(window)).any(axis=2)).sum(axis=1)


def _stream_cycles(layer: EncodedLayer, masks: np.ndarray, params: TimingParams, ddr_bpc: float) -> np.ndarray:
    """A streamed layer's memory side, per vector: the entries' bytes at the DDR peak, and the
    busiest lane's dispatcher: one stream word (StreamParams.dispatch_bytes) and at most one column
    per cycle."""
    from eie.format.stream import read_plan

    eb = layer.weight_bits + layer.index_bits
    col_total = layer.column_entries().sum(axis=0)
    out = np.floor((masks.astype(np.int64) @ col_total) * eb / 8.0 / ddr_bpc)
    if params.stream is not None:
        sp = params.stream
        for j, m in enumerate(masks):
            rp = read_plan(layer, np.flatnonzero(m), sp.word_bytes, sp.burst_len, sp.counts_on_chip, lanes=sp.ports)
            own = np.bincount(rp.item_lane, weights=np.maximum(1.0, rp.item_bytes / sp.dispatch_bytes))
            out[j] = max(out[j], math.floor(float(own.max(initial=0.0))))
    return out


def layer_bound(
    layer: EncodedLayer, masks: np.ndarray, params: TimingParams, storage: str, ddr_bpc: float
) -> np.ndarray:
    """A lower bound of ``simulate_layer(...).latency_us`` for each row of ``masks`` (no schedule run).

    The PE array takes at least the busiest PE's work (each PE handles its
    items one after another), at least one cycle per broadcast item and per
    all-zero window the broadcaster skips, and, streamed, at least the
    entries' bytes at the board's DDR peak (``ddr_bpc`` bytes per cycle) and
    the dispatcher's cycles; fill and epilogue come on top.
    tests/hardware/test_plan.py checks it against the timing model.
    """
    masks = np.atleast_2d(masks)
    masked = params.occupancy_mask or storage == "stream"
    array = np.maximum(_busy(layer, masks, masked), _scan(masks, params.lnzd_window))
    if storage == "stream":
        array = np.maximum(array, _stream_cycles(layer, masks, params, ddr_bpc))
    return _overhead_us(layer, params, array)


def _overhead_us(layer: EncodedLayer, params: TimingParams, array: np.ndarray) -> np.ndarray:
    m = layer.shape[0]
    epilogue = params.epilogue_per_row * (-(-m // layer.n_pes)) + params.epilogue_fixed
    return (params.pipeline_fill + array + epilogue) / params.clock_mhz


@dataclass
class _Timed:
    latency: np.ndarray  # per vector, us
    worst: LayerTiming  # the slowest vector's timing


def classify(t: LayerTiming) -> str:
    """What bounds a layer: ``DDR`` (the memory side of a streamed layer), ``broadcast`` (the
    broadcaster's one item per cycle and its all-zero windows), ``load imbalance`` (PEs wait on
    the busiest or on full FIFOs) or ``compute`` (the entries themselves, spread over the PEs)."""
    if t.storage == "stream" and t.latency_us > 1.05 * t.compute_bound_us:
        return "DDR"
    busy_max = int(t.busy.max()) if t.busy.size else 0
    if t.broadcast_cycles >= busy_max and t.broadcast_cycles >= 0.9 * t.array_cycles:
        return "broadcast"
    if t.array_cycles > 1.1 * t.ideal_cycles:
        return "load imbalance"
    return "compute"


# -- designs -----------------------------------------------------------------------------


@dataclass
class Design:
    """One candidate: the configuration, each layer's storage, its cost and (once timed) its latency."""

    config: AcceleratorConfig
    storage: tuple[str, ...]
    key: tuple  # canonical order among equals (smaller first)
    util: dict  # resource -> used / available
    bound_us: float
    latency_us: float | None = None  # the objective's latency (max or mean over the vectors)
    per_vector_us: np.ndarray | None = None
    layers: list[LayerTiming] | None = None

    @property
    def cost(self) -> float:
        """Utilisation of the board's scarcest resource for this design."""
        return max(self.util.values())

    @property
    def scarcest(self) -> str:
        return max(self.util, key=self.util.get)

    def summary(self, varied: Sequence[str]) -> dict:
        c = self.config.to_dict()
        return {
            **{f: c.get(f) if f != "lnzd_window" else self.config.lnzd_window for f in varied},
            "storage": list(self.storage),
            "latency_us": self.latency_us,
            "cost": self.cost,
            "scarcest": self.scarcest,
        }


def _utilisation(config: AcceleratorConfig) -> tuple[dict, object] | None:
    est = estimate(config)
    out = {}
    for name in RESOURCES:
        need = getattr(est, name)
        have = getattr(est, f"board_{name}")
        if have is None:
            continue  # unknown on a custom board: not checked, as check_fits_board does
        if need > have:
            return None
        if have:
            out[name] = need / have
    return out, est


@dataclass
class Plan:
    """What ``plan`` found: the choice, the Pareto front, the default for comparison, the search's figures."""

    workload: Workload
    objective: str
    target_latency_us: float | None
    chosen: Design
    front: list[Design]
    default: Design | None
    evaluated: list[Design]
    varied: list[str]
    pinned: list[str]
    stats: dict
    port_field: str | None
    met_target: bool = True

    @property
    def config(self) -> AcceleratorConfig:
        return self.chosen.config

    def gops(self, design: Design) -> float:
        """Modelled GOP/s: 2 operations per kept weight in an active column, over the mean latency."""
        ops = 0.0
        for l, m in zip(self.workload.layers, self.workload.masks):
            counts = np.bincount(np.asarray(l.cols, dtype=np.int64), minlength=l.shape[1])
            ops += 2.0 * float((m.astype(np.int64) @ counts).mean())
        return ops / float(np.mean(design.per_vector_us)) / 1e3

    def to_dict(self) -> dict:
        c = self.chosen
        ports = (
            {"field": self.port_field, "value": getattr(c.config, self.port_field)}
            if self.port_field
            else {"field": None, "value": 1, "note": "the configuration has no HP-port field yet: one port"}
        )
        layers = []
        for i, (l, t, s) in enumerate(zip(self.workload.layers, c.layers, c.storage)):
            layers.append(
                {
                    "index": i,
                    "name": l.name,
                    "shape": list(l.shape),
                    "storage": s,
                    "bound": classify(t),
                    "latency_us": t.latency_us,
                    "compute_bound_us": t.compute_bound_us,
                    "ddr_bound_us": t.ddr_bound_us,
                    "efficiency": t.efficiency,
                    "broadcast_cycles": t.broadcast_cycles,
                    "busy_max": int(t.busy.max()) if t.busy.size else 0,
                    "ideal_cycles": t.ideal_cycles,
                    "array_cycles": t.array_cycles,
                    "bytes_streamed": t.bytes_streamed,
                }
            )
        d = self.default
        return {
            "source": "modelled: EIE timing model and resource estimate, neither checked against synthesis",
            "objective": self.objective,
            "target_latency_us": self.target_latency_us,
            "met_target": self.met_target,
            "activations": self.workload.source,
            "activation_densities": self.workload.densities(),
            "config": c.config.to_dict(),
            "storage": list(c.storage),
            "streams": any(s == "stream" for s in c.storage),
            "ports": ports,
            "latency_us": c.latency_us,
            "latency_us_max": float(np.max(c.per_vector_us)),
            "latency_us_mean": float(np.mean(c.per_vector_us)),
            "inputs_per_s": 1e6 / float(np.mean(c.per_vector_us)),
            "gops": self.gops(c),
            "ese_gops": ESE_GOPS,
            "utilisation": c.util,
            "scarcest": c.scarcest,
            "layers": layers,
            "front": [x.summary(self.varied) for x in self.front],
            "default": None
            if d is None
            else {**d.summary(self.varied), "speedup": d.latency_us / c.latency_us if c.latency_us else None},
            "pinned": self.pinned,
            "searched": self.varied + ([] if "config: storage" in self.pinned else ["storage"]),
            "search": self.stats,
        }


# -- the search ---------------------------------------------------------------------------


class Planner:
    """The cached pieces of one search: grouped layers per N, counted layers per (N, r), bounds and timings."""

    def __init__(self, workload: Workload):
        self.w = workload
        self._groups: dict[tuple, _Groups] = {}
        self._rc: dict[int, tuple] = {}
        self._counted: dict[tuple, CountedLayer] = {}
        self._pieces: dict[tuple, np.ndarray] = {}
        self._timed: dict[tuple, _Timed] = {}
        self._by_fifo: dict[tuple, list] = {}
        self.timings_run = 0
        self.timing_hits = 0

    def layers(self, n: int, r: int) -> list[CountedLayer]:
        out = []
        for i, l in enumerate(self.w.layers):
            key = (i, n, r)
            if key not in self._counted:
                gk = (i, n)
                if gk not in self._groups:
                    if i not in self._rc:
                        self._rc[i] = (np.asarray(l.rows).astype(np.int32), np.asarray(l.cols).astype(np.int32))
                    self._groups[gk] = _Groups(l, n, *self._rc[i])
                self._counted[key] = self._groups[gk].counted(r, self.w.weight_bits)
            out.append(self._counted[key])
        return out

    def real_counts(self, i: int, n: int) -> np.ndarray:
        """N x K kept weights (no padding) per PE and column; folded from a multiple of N when one is cached."""
        key = ("real", i, n)
        if key not in self._pieces:
            l = self.w.layers[i]
            m, k = l.shape
            top = next((q for q in (64, 128, 256) if q % n == 0 and ("real", i, q) in self._pieces), None)
            if top is not None:
                self._pieces[key] = self._pieces[("real", i, top)].reshape(top // n, n, k).sum(axis=0)
            else:
                big = 64 if 64 % n == 0 else n
                rows = np.asarray(l.rows, dtype=np.int64)
                cols = np.asarray(l.cols, dtype=np.int64)
                real = np.bincount((rows % big) * k + cols, minlength=big * k).reshape(big, k)
                self._pieces[("real", i, big)] = real
                self._pieces[key] = real.reshape(big // n, n, k).sum(axis=0)
        return self._pieces[key]

    def _piece(self, key: tuple, make) -> np.ndarray:
        if key not in self._pieces:
            self._pieces[key] = make()
        return self._pieces[key]

    def bound(self, i: int, n: int, r: int, params: TimingParams, storage: str, ddr_bpc: float) -> np.ndarray:
        """``layer_bound`` from cached pieces (each keyed by what it depends on)."""
        layer = self.layers(n, r)[i]
        masks = self.w.masks[i]
        masked = params.occupancy_mask or storage == "stream"
        array = np.maximum(
            self._piece(("busy", i, n, r, masked), lambda: _busy(layer, masks, masked)),
            self._piece(("scan", i, params.lnzd_window), lambda: _scan(masks, params.lnzd_window)),
        )
        if storage == "stream":
            array = np.maximum(
                array,
                self._piece(
                    ("stream", i, n, r, params.stream, ddr_bpc), lambda: _stream_cycles(layer, masks, params, ddr_bpc)
                ),
            )
        return _overhead_us(layer, params, array)

    def _params_key(self, i: int, params: TimingParams, storage: str):
        """The timing parameters that matter for layer i: designs that differ only elsewhere share its timing.

        On chip the memory side is not read; streamed, every PE gets only its
        columns whatever ``occupancy_mask`` says (timing.simulate_layer); an LNZD
        window under which no vector has an all-zero window costs what free
        skipping does (no gaps). tests/hardware/test_plan.py checks all three.
        """
        changes: dict = {}
        if storage == "stream":
            changes["occupancy_mask"] = True
        else:
            changes["stream"] = None
        w = params.lnzd_window
        if w is not None:
            masks = self.w.masks[i]
            if np.array_equal(self._piece(("scan", i, w), lambda: _scan(masks, w)), masks.sum(axis=1)):
                changes["lnzd_window"] = None
        return dataclasses.replace(params, **changes)

    def refined(self, i: int, n: int, r: int, params: TimingParams, storage: str) -> np.ndarray | None:
        """The timing model is monotone in the FIFO depth (a deeper FIFO never delays a push; a test checks
        it): a layer timed with a deeper FIFO bounds it with this one. None when there is none."""
        pk = self._params_key(i, params, storage)
        best = None
        for fifo, lat in self._by_fifo.get((i, n, r, dataclasses.replace(pk, fifo_depth=1), storage), ()):
            if fifo >= params.fifo_depth:
                best = lat if best is None else np.maximum(best, lat)
        return best

    def timed(self, i: int, n: int, r: int, params: TimingParams, storage: str) -> _Timed:
        pk = self._params_key(i, params, storage)
        key = (i, n, r, pk, storage)
        hit = self._timed.get(key)
        if hit is not None:
            self.timing_hits += 1
            return hit
        layer = self.layers(n, r)[i]
        runs = [simulate_layer(layer, m, params, storage) for m in self.w.masks[i]]
        self.timings_run += len(runs)
        lat = np.array([t.latency_us for t in runs])
        out = _Timed(lat, runs[int(np.argmax(lat))])
        self._timed[key] = out
        fk = (i, n, r, dataclasses.replace(pk, fifo_depth=1), storage)
        self._by_fifo.setdefault(fk, []).append((params.fifo_depth, lat))
        return out

    def sized(self, cfg: AcceleratorConfig, onchip: Sequence[bool], pinned: set) -> dict:
        """The memory depths (those not pinned) that hold the layers with this split (board_storage's sizing)."""
        n = cfg.n_pes
        layers = self.layers(n, cfg.index_bits)
        per = entries_per_word(cfg.weight_bits, cfg.index_bits)
        words = np.zeros(n, dtype=np.int64)
        ptrs = dirs = 0
        for l, keep in zip(layers, onchip):
            if keep:
                words += -(-l.n_entries // per)
                ptrs += l.shape[1] + 1
            else:
                dirs += l.shape[1] + 1
        d = {
            "entry_depth": int(max(1, words.max())),
            "ptr_depth": max(2, ptrs),
            "dir_depth": dirs,
            "act_depth": max(max(-(-l.shape[0] // n), -(-l.shape[1] // n)) for l in layers),
            "bias_depth": max(1, sum(-(-l.shape[0] // n) for l in layers)),
            "max_layers": min(64, len(layers)),
        }
        return {k: v for k, v in d.items() if k not in pinned}


def pe_bound(planner: Planner, cfg: AcceleratorConfig, r_min: int, pinned_storage: str | None, aggregate) -> float:
    """A lower bound of the latency of every candidate with ``cfg.n_pes`` PEs, without encoding a layer.

    Per layer and vector: on chip, the busiest PE's real entries (no padding)
    or the broadcast items, whichever is larger; streamed, also the real
    entries' bytes at the DDR peak and through the dispatcher. Which layers
    may stay on chip is bounded by the board's block memory (BRAM and URAM
    bits; an entry takes at least ``weight_bits + r_min`` bits, and a layer
    with fewer than 64 entry words per PE is let go free, as LUTRAM could
    hold it): the best split under that capacity, relaxed to fractions of a
    layer (a fractional knapsack), is no slower than any real one.
    """
    from eie.hardware.boards import STREAM_PORT_CHOICES

    n = cfg.n_pes
    params = dataclasses.replace(TimingParams.for_config(cfg), lnzd_window=None)
    ddr = cfg.ddr_peak_gbps
    bpc = (float(ddr) if ddr else cfg.axi_bits / 8 * cfg.clock / 1000.0) * 1000.0 / cfg.clock
    # Every lane's dispatcher takes one stream word per cycle; the busiest of P lanes has at least
    # 1/P of the dispatch cycles, and the bound holds for every port count searched.
    word = params.stream.dispatch_bytes if params.stream is not None else None
    lanes = max(STREAM_PORT_CHOICES)
    eb = cfg.weight_bits + r_min
    e_max = entries_per_word(cfg.weight_bits, r_min)
    on_lb, st_lb, bits = [], [], []
    for i, l in enumerate(planner.w.layers):
        m, k = l.shape
        masks = planner.w.masks[i]
        real = planner.real_counts(i, n)
        mi = masks.astype(np.int64)
        array = np.maximum((mi @ real.T).max(axis=1), masks.sum(axis=1))
        col_bytes = real.sum(axis=0) * eb / 8.0
        stream = np.maximum(array, np.floor((mi @ col_bytes) / bpc))
        if word:
            stream = np.maximum(stream, np.floor(mi @ np.maximum(1.0, col_bytes / word) / lanes))
        epi = params.epilogue_per_row * (-(-m // n)) + params.epilogue_fixed
        on_lb.append((params.pipeline_fill + array + epi) / params.clock_mhz)
        st_lb.append((params.pipeline_fill + stream + epi) / params.clock_mhz)
        per_pe = int(real.sum(axis=1).max())
        bits.append(0 if per_pe / e_max < 64 else int(real.sum()) * eb)
    if pinned_storage in ("onchip", "stream"):
        return float(aggregate(sum(on_lb if pinned_storage == "onchip" else st_lb)))
    b = cfg.board_spec
    capacity = float(b.bram36 * 36 * 1024 + b.uram * 288 * 1024)
    if cfg.board == "custom" or (b.bram36 == 0 and b.uram == 0):
        capacity = math.inf
    out = []
    vecs = range(planner.w.vectors) if aggregate is np.max else [None]
    for v in vecs:
        on = [float(x[v]) if v is not None else float(x.mean()) for x in on_lb]
        st = [float(x[v]) if v is not None else float(x.mean()) for x in st_lb]
        total = sum(st)
        room = capacity
        gains = sorted(range(len(on)), key=lambda j: -(st[j] - on[j]) / bits[j] if bits[j] else -math.inf)
        for j in gains:
            gain = st[j] - on[j]
            if gain <= 0:
                continue
            take = 1.0 if bits[j] <= room else max(0.0, room / bits[j])
            total -= gain * take
            room -= bits[j] * take
        out.append(total)
    return float(max(out)) if aggregate is np.max else float(out[0])


def _with(cfg: AcceleratorConfig, **changes) -> AcceleratorConfig:
    """``cfg`` with fields changed (validated); an LNZD window that follows n_pes keeps following it."""
    if getattr(cfg, "_lnzd_follows_pes", False) and "lnzd_window" not in changes:
        changes["lnzd_window"] = None
    return dataclasses.replace(cfg, **changes)


def storage_sets(layers: Sequence[EncodedLayer], masks: Sequence[np.ndarray], exact: int = EXACT_STORAGE_LAYERS):
    """Candidate on-chip sets (tuples of booleans, one per layer).

    Up to ``exact`` layers: every split. More: nested sets, adding layers in
    decreasing order of the share of their entries the inputs touch (a layer
    read mostly in full gains the most from staying on chip per word it
    takes), from none to all. The search also keeps whatever the ``auto``
    rule makes of each set (``layer_storage``) and the default's set.
    """
    L = len(layers)
    if L <= exact:
        return [tuple(bool(b) for b in bits) for bits in itertools.product((True, False), repeat=L)]
    share = []
    for l, m in zip(layers, masks):
        col = l.column_entries().sum(axis=0)
        total = max(1, int(col.sum()))
        share.append(float((m.astype(np.int64) @ col).mean()) / total)
    order = sorted(range(L), key=lambda i: (-share[i], int(layers[i].n_entries.max()), i))
    out = []
    for j in range(L, -1, -1):
        keep = set(order[:j])
        out.append(tuple(i in keep for i in range(L)))
    return out


def _storage_field(onchip: Sequence[bool], pinned_storage: str | None) -> str:
    if pinned_storage is not None:
        return pinned_storage
    if all(onchip):
        return "onchip"
    if not any(onchip):
        return "stream"
    return "auto"


def _pareto(designs: Sequence[Design]) -> list[Design]:
    """The designs no other is at least as fast and as cheap as (one per cost, the fastest), by latency."""
    out: list[Design] = []
    for d in sorted(designs, key=lambda d: (d.cost, d.latency_us, d.key)):
        if not out or d.latency_us < out[-1].latency_us:
            out.append(d)
    return sorted(out, key=lambda d: (d.latency_us, d.cost, d.key))


def _better(a: Design, b: Design, objective: str, target: float | None) -> bool:
    """a is preferred to b (both timed): faster, then cheaper, then the kernel's defaults; for the
    smallest objective, meeting the target, then cheaper, then faster."""
    if objective == "smallest":
        ma, mb = a.latency_us <= target, b.latency_us <= target
        if ma != mb:
            return ma
        if ma:
            return (a.cost, a.latency_us, a.key) < (b.cost, b.latency_us, b.key)
    return (a.latency_us, a.cost, a.key) < (b.latency_us, b.cost, b.key)


def _pinned_keys(config) -> dict:
    """{pinned field: value} of a partial YAML file, an AcceleratorConfig (every field) or None."""
    if config is None:
        return {}
    if isinstance(config, AcceleratorConfig):
        return config.to_dict()
    import yaml

    AcceleratorConfig.from_yaml(config)  # checks every key and value, naming the file
    data = yaml.safe_load(Path(config).read_text()) or {}
    return dict(data) if isinstance(data, dict) else {}


def default_design_config(
    planner: Planner, board_base: AcceleratorConfig
) -> tuple[AcceleratorConfig, tuple[str, ...]] | None:
    """The board's default configuration for the workload (eie.hardware.choice's rule): the largest of
    its PE candidates that fits, the kernel's default fields, depths and storage from board_storage."""
    from eie.hardware.choice import PE_CANDIDATES
    from eie.hardware.streaming import board_storage

    for n in PE_CANDIDATES:
        try:
            cfg = board_base.replace(n_pes=n)
            storage, sized = board_storage(cfg, planner.layers(n, cfg.index_bits))
        except (ConfigError, CapacityError):
            continue
        if _utilisation(sized) is not None:
            return sized, tuple(storage)
    return None


@dataclass
class _Candidate:
    combo_cfg: AcceleratorConfig
    params: TimingParams
    onchip: tuple[bool, ...]
    changes: dict  # depths and storage
    key: tuple
    bound: np.ndarray  # per vector
    design: Design | None = None


RUNNER_UPS = 4
# Relative latency under which two designs count as equally fast for pruning: the timing
# model is far coarser than this (docs/timing.md), and near-ties are what cost search time.
TOLERANCE = 0.002


def plan_workload(
    workload: Workload,
    board: str | None = None,
    config: AcceleratorConfig | str | Path | None = None,
    objective: str = "latency",
    target_latency_us: float | None = None,
    dimensions: Sequence[Dimension] = DIMENSIONS,
    exhaustive: bool = False,
    runner_ups: int = RUNNER_UPS,
    tolerance: float = TOLERANCE,
) -> Plan:
    """Search the design space for ``workload`` (module docstring).

    ``board`` and the keys of ``config`` (a partial YAML path, or an
    AcceleratorConfig, pinned as a whole) are kept. ``objective``:
    ``latency`` (the slowest representative input), ``throughput`` (inputs
    per second: the mean over them; the kernel runs one vector at a time) or
    ``smallest`` (the lowest cost of the scarcest resource among designs
    meeting ``target_latency_us``; the fastest when none does).
    The search stops once no remaining candidate can be the choice or one of
    the ``runner_ups`` fastest designs of the Pareto front after it;
    ``exhaustive`` times every candidate instead (for tests). A candidate
    whose bound is within ``tolerance`` (relative) of a timed design that
    costs no more is not timed: the choice is then within that of the best
    the search space holds (0: exact); the board's default is always timed
    and chosen if it is better.
    """
    t0 = time.perf_counter()
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective {objective!r} must be one of {', '.join(OBJECTIVES)}")
    if objective == "smallest" and (target_latency_us is None or not target_latency_us > 0):
        raise ConfigError("the smallest design needs a target latency: --target-latency-us T (microseconds, > 0)")
    if board is not None and board not in BOARDS:
        raise ConfigError(f"--board {board!r} is not known: use one of {', '.join(BOARDS)}")
    pins = _pinned_keys(config)
    pinned_desc = [f"config: {k}" for k in pins]
    if board is not None:
        pins["board"] = board
        pinned_desc.append(f"--board {board}")
    board_name = pins.get("board", DEFAULT_BOARD)
    defaults = {"board": board_name, "weight_bits": workload.weight_bits, "ternary": workload.ternary}
    if workload.acc_bits is not None:
        defaults["acc_bits"] = workload.acc_bits
    base = AcceleratorConfig(**{**defaults, **pins})
    have = config_fields()
    dims = [d for d in dimensions if d.field in have and d.field not in pins]
    varied = [d.field for d in dims]
    planner = Planner(workload)
    pinned_storage = pins.get("storage")
    pinned_depths = {k for k in SIZED_FIELDS if k in pins}
    aggregate = np.mean if objective == "throughput" else np.max

    def ddr_bpc(cfg: AcceleratorConfig) -> float:
        ddr = cfg.ddr_peak_gbps
        return (float(ddr) if ddr else cfg.axi_bits / 8 * cfg.clock / 1000.0) * 1000.0 / cfg.clock

    base_ctx = {**base.to_dict(), "n_pes": base.n_pes}

    def key_of(cfg: AcceleratorConfig, onchip: Sequence[bool]) -> tuple:
        """Canonical order among equals: each field's place in its candidate list (the default first)."""
        ctx = dict(base_ctx)
        idx = []
        for d in dims:
            v = getattr(cfg, d.field)
            vals = d.candidates(ctx)
            idx.append(vals.index(v) if v in vals else len(vals))
            ctx[d.field] = v
        return (tuple(idx), tuple(not k for k in onchip))

    # -- the board's default, for the comparison (and a candidate where it keeps the pins) --
    default_cfg = default_design_config(planner, AcceleratorConfig(**defaults))

    # -- every candidate with its latency bound (no estimate, no timing yet) --------------
    skeletons: dict[tuple, list] = {}

    def splits(combo_cfg: AcceleratorConfig) -> list:
        """(on-chip split, depth and storage changes) the auto rule reproduces, per (N, r)."""
        n, r = combo_cfg.n_pes, combo_cfg.index_bits
        if (n, r) in skeletons:
            return skeletons[(n, r)]
        layers = planner.layers(n, r)
        if pinned_storage in ("onchip", "stream"):
            sets = [tuple([pinned_storage == "onchip"] * len(layers))]
        else:
            sets = storage_sets(layers, workload.masks)
            if default_cfg is not None and default_cfg[0].n_pes == n:
                sets.append(tuple(s == "onchip" for s in default_cfg[1]))
        out = {}
        for onchip in dict.fromkeys(sets):
            for _ in range(3):  # size for the split; take the split the auto rule then makes
                changes = {**planner.sized(combo_cfg, onchip, pinned_depths)}
                changes["storage"] = _storage_field(onchip, pinned_storage)
                try:
                    cfg = _with(combo_cfg, **changes)
                    got = tuple(s == "onchip" for s in layer_storage(cfg, layers))
                    _check_holds(cfg, layers, got)
                except (ConfigError, CapacityError):
                    break
                if got == onchip:
                    out[onchip] = changes
                    break
                onchip = got
        skeletons[(n, r)] = list(out.items())
        return skeletons[(n, r)]

    heap: list = []
    seq = itertools.count()
    n_combos = 0

    def walk(i: int, chosen: dict):
        if i == len(dims):
            yield dict(chosen)
            return
        ctx = {**base.to_dict(), "n_pes": base.n_pes, **chosen}
        for v in dims[i].candidates(ctx):
            chosen[dims[i].field] = v
            yield from walk(i + 1, chosen)
        chosen.pop(dims[i].field, None)

    by_n: dict[int, list] = {}
    for combo in walk(0, {}):
        n_combos += 1
        try:
            combo_cfg = _with(base, **combo)
        except ConfigError:
            continue
        by_n.setdefault(combo_cfg.n_pes, []).append(combo_cfg)

    seen: set = set()

    def expand(n: int) -> None:
        """Push every candidate with n PEs, with its latency bound."""
        for combo_cfg in by_n.pop(n, []):
            params = TimingParams.for_config(combo_cfg)
            bpc = ddr_bpc(combo_cfg)
            r = combo_cfg.index_bits
            fields_key = key_of(combo_cfg, ())[0]
            per_layer = {}
            for onchip, changes in splits(combo_cfg):
                key = (fields_key, tuple(not k for k in onchip))
                if key in seen:
                    continue
                seen.add(key)
                storage = ["onchip" if k else "stream" for k in onchip]
                for i, s in enumerate(storage):
                    if (i, s) not in per_layer:
                        per_layer[(i, s)] = planner.bound(i, n, r, params, s, bpc)
                bound = sum(per_layer[(i, s)] for i, s in enumerate(storage))
                cand = _Candidate(combo_cfg, params, onchip, changes, key, bound)
                heapq.heappush(heap, (float(aggregate(bound)), key, next(seq), cand))
                counts["candidates"] += 1

    # PE counts are expanded lazily, in order of a bound that needs no encoding (``pe_bound``).
    r_min = min([c.index_bits for cs in by_n.values() for c in cs] or [base.index_bits])
    for n, cs in by_n.items():
        lb = pe_bound(planner, cs[0], r_min, pinned_storage, aggregate)
        heapq.heappush(heap, (lb, ((-1,), (n,)), next(seq), n))
    counts = {"candidates": 0}
    default_design = None
    default_keeps = False
    if default_cfg is not None:
        cfg, storage = default_cfg
        onchip = tuple(s == "onchip" for s in storage)
        key = key_of(cfg, onchip)
        params = TimingParams.for_config(cfg)
        bound = sum(planner.bound(i, cfg.n_pes, cfg.index_bits, params, s, ddr_bpc(cfg)) for i, s in enumerate(storage))
        cand = _Candidate(cfg, params, onchip, {}, key, bound)
        # A candidate only where it keeps every pinned field (storage and depths included).
        keeps = all(getattr(cfg, k) == getattr(base, k) for k in pins)
        default_keeps = keeps
        if keeps and key not in seen:
            seen.add(key)
            heapq.heappush(heap, (float(aggregate(bound)), key, next(seq), cand))
            counts["candidates"] += 1
        default_cand = cand

    def materialise(c: _Candidate) -> Design | None:
        if c.design is None:
            try:
                cfg = _with(c.combo_cfg, **c.changes) if c.changes else c.combo_cfg
            except ConfigError:
                return None
            res = _utilisation(cfg)
            if res is None:
                return None
            storage = tuple("onchip" if k else "stream" for k in c.onchip)
            c.design = Design(cfg, storage, c.key, res[0], float(aggregate(c.bound)))
        return c.design

    def evaluate(d: Design) -> None:
        cfg = d.config
        params = TimingParams.for_config(cfg)
        timed = [planner.timed(i, cfg.n_pes, cfg.index_bits, params, s) for i, s in enumerate(d.storage)]
        d.per_vector_us = sum(t.latency for t in timed)
        d.latency_us = float(aggregate(d.per_vector_us))
        d.layers = [t.worst for t in timed]

    # -- branch and bound -------------------------------------------------------------------
    evaluated: list[Design] = []
    front: list[Design] = []  # Pareto front of the timed designs, fastest first
    pruned = over = left = 0
    left_pes: list[int] = []
    while heap:
        b, key, _, c = heapq.heappop(heap)
        if isinstance(c, int):
            expand(c)
            continue
        if not exhaustive:
            if objective == "smallest":
                stop = b > target_latency_us and any(e.latency_us <= target_latency_us for e in front)
            else:
                stop = len(front) > runner_ups and b > front[runner_ups].latency_us
            if stop:
                left = sum(1 for e in heap if not isinstance(e[3], int)) + 1
                left_pes = sorted(e[3] for e in heap if isinstance(e[3], int))
                break
        d = materialise(c)
        if d is None:
            over += 1
            continue
        if not exhaustive:
            n, r = d.config.n_pes, d.config.index_bits
            refined = [planner.refined(i, n, r, c.params, s) for i, s in enumerate(d.storage)]
            if all(x is not None for x in refined):
                tighter = float(aggregate(np.maximum(c.bound, sum(refined))))
                if tighter > b * (1 + 1e-12):
                    d.bound_us = tighter
                    heapq.heappush(heap, (tighter, key, next(seq), c))
                    continue
            slack = d.bound_us * (1.0 + tolerance)
            if any(
                e.latency_us <= slack
                and e.cost <= d.cost
                and (e.latency_us < slack or e.cost < d.cost or e.key <= d.key)
                for e in front
            ):
                pruned += 1
                continue
        evaluate(d)
        evaluated.append(d)
        front = _pareto(front + [d])
    if default_cfg is not None:
        default_design = materialise(default_cand)
        if default_design is not None and default_design.latency_us is None:
            evaluate(default_design)
    if not evaluated:
        raise CapacityError(
            f"no design fits {board_name} with this model"
            + (f" and the pinned fields ({', '.join(pinned_desc)})" if pinned_desc else "")
            + f": {over} of {counts['candidates']} candidates were over the board's resources (the estimate). Use a "
            "larger board or pin fewer fields"
        )
    best = evaluated[0]
    for d in evaluated[1:]:
        if _better(d, best, objective, target_latency_us):
            best = d
    if (
        default_design is not None
        and default_keeps
        and not any(e is default_design for e in evaluated)
        and _better(default_design, best, objective, target_latency_us)
    ):
        best = default_design  # only where the tolerance skipped it
        evaluated.append(default_design)
        front = _pareto(front + [default_design])
    met = objective != "smallest" or best.latency_us <= target_latency_us
    stats = {
        "combinations": n_combos,
        "candidates": counts["candidates"],
        "over_board": over,
        "timed": len(evaluated),
        "pruned": pruned,
        "not_reached": left,
        "pe_counts_not_expanded": left_pes,
        "layer_timings_run": planner.timings_run,
        "layer_timings_reused": planner.timing_hits,
        "vectors": workload.vectors,
        "seconds": time.perf_counter() - t0,
    }
    return Plan(
        workload,
        objective,
        target_latency_us,
        best,
        front,
        default_design,
        evaluated,
        varied,
        pinned_desc,
        stats,
        port_field(),
        met,
    )


def _check_holds(cfg: AcceleratorConfig, layers: Sequence[EncodedLayer], onchip: Sequence[bool]) -> None:
    """CapacityError unless the configuration's depths hold the layers with this split."""
    n = cfg.n_pes
    per = cfg.entries_per_word
    words = sum((-(-l.n_entries // per) for l, k in zip(layers, onchip) if k), np.zeros(n, dtype=np.int64))
    need = {
        "entry_depth": int(words.max()),
        "ptr_depth": sum(l.shape[1] + 1 for l, k in zip(layers, onchip) if k),
        "dir_depth": sum(l.shape[1] + 1 for l, k in zip(layers, onchip) if not k),
        "act_depth": max(max(-(-l.shape[0] // n), -(-l.shape[1] // n)) for l in layers),
        "bias_depth": sum(-(-l.shape[0] // n) for l in layers),
        "max_layers": len(layers),
    }
    for k, v in need.items():
        if v > getattr(cfg, k):
            raise CapacityError(f"{k}={getattr(cfg, k)} holds less than the {v} the layers need")


def _acc_bits(model: CompressedModel, board: str, calib, pins: dict) -> int | None:
    """The accumulator the default hardware would get (eie.hardware.target): sized from the model."""
    if "acc_bits" in pins:
        return None
    from eie.arithmetic.quant import quantize
    from eie.hardware.boards import DSP_ACC_BITS
    from eie.hardware.target import default_config

    cfg = default_config(model, board=board)
    qm = quantize(
        model,
        cfg.to_hwparams(),
        calib=None if calib is None else np.atleast_2d(calib),
        max_acc_bits=DSP_ACC_BITS[cfg.board_spec.family],
    )
    return int(qm.params.acc_bits)


def plan_model(
    model: CompressedModel | str | Path,
    board: str | None = None,
    config: AcceleratorConfig | str | Path | None = None,
    calib: np.ndarray | None = None,
    objective: str = "latency",
    target_latency_us: float | None = None,
    vectors: int = MAX_VECTORS,
    seed: int = 0,
    **kwargs,
) -> Plan:
    """``eie plan``: the accelerator for a compressed model (an MLP) on a board (``plan_workload``)."""
    if not isinstance(model, CompressedModel):
        model = CompressedModel.load(model)
    workload = workload_from_model(model, calib, vectors, seed)
    pins = _pinned_keys(config)
    b = board or pins.get("board") or DEFAULT_BOARD
    workload.acc_bits = _acc_bits(model, b, calib, pins)
    return plan_workload(workload, board, config, objective, target_latency_us, **kwargs)


# -- text, plot, file ----------------------------------------------------------------------


def plan_text(plan: Plan, limit: int = 8) -> str:
    d = plan.to_dict()
    c = plan.chosen
    cfg = c.config
    what = {
        "latency": "lowest latency (the slowest representative input)",
        "throughput": "highest throughput (inputs per second, the mean over the representative inputs)",
        "smallest": f"smallest design (scarcest resource) meeting {plan.target_latency_us or 0:g} us",
    }[plan.objective]
    ports = d["ports"]
    lines = [
        "eie plan: MODELLED (timing model and resource estimate; neither checked against synthesis)",
        f"objective: {what}" + ("" if plan.met_target else " — NOT MET by any design; the fastest is shown"),
        f"activations: {plan.workload.source}",
        f"pinned: {', '.join(plan.pinned) if plan.pinned else 'nothing'}; searched: {', '.join(d['searched'])}",
        f"chosen: {cfg.board}, {cfg.n_pes} PEs at {cfg.clock:g} MHz, index_bits {cfg.index_bits}, FIFO "
        f"{cfg.fifo_depth}, LNZD window {cfg.lnzd_window}, occupancy mask {'on' if cfg.occupancy_mask else 'off'}, "
        f"storage {cfg.storage}",
        "  "
        + (
            f"streams {sum(s == 'stream' for s in c.storage)} of {len(c.storage)} layers from DDR"
            + (
                f" over {ports['value']} HP port(s) ({ports['field']})"
                if ports["field"]
                else " over 1 HP port (the configuration has no HP-port field yet)"
            )
            if d["streams"]
            else "every layer on chip: nothing streamed (the configuration has no HP-port field yet)"
            if not ports["field"]
            else "every layer on chip: nothing streamed"
        ),
        f"  latency {c.latency_us:.2f} us (max {d['latency_us_max']:.2f}, mean {d['latency_us_mean']:.2f} over "
        f"{plan.workload.vectors} input(s)); {d['inputs_per_s']:,.0f} inputs/s; {d['gops']:.2f} GOP/s modelled "
        f"(ESE: {ESE_GOPS:g} GOP/s on a KU060, its own accounting)",
        "  resources: "
        + ", ".join(f"{k} {v:.0%}" for k, v in sorted(c.util.items(), key=lambda kv: -kv[1]))
        + f" (scarcest: {c.scarcest})",
    ]
    if plan.default is not None:
        df = plan.default
        lines.append(
            f"  default for {cfg.board} ({df.config.n_pes} PEs, index_bits {df.config.index_bits}, FIFO "
            f"{df.config.fifo_depth}): {df.latency_us:.2f} us, {df.scarcest} {df.cost:.0%}; the plan is "
            f"{df.latency_us / c.latency_us:.2f}x faster by the model"
        )
    lines.append(f"{'layer':<14} {'M x K':>12} {'storage':>7} {'us':>10} {'eff':>6} {'bound':>15}")
    for row in d["layers"]:
        shape = f"{row['shape'][0]}x{row['shape'][1]}"
        lines.append(
            f"{row['name'][:14]:<14} {shape:>12} {row['storage']:>7} {row['latency_us']:>10.2f} "
            f"{row['efficiency']:>6.1%} {row['bound']:>15}"
        )
    lines.append(f"Pareto front (latency vs the scarcest resource; {len(plan.front)} designs):")
    show = [f for f in plan.front if f is not c][: limit - 1]
    for f in [c] + show:
        cf = f.config
        streamed = sum(s == "stream" for s in f.storage)
        lines.append(
            f"  {'*' if f is c else ' '} {f.latency_us:>10.2f} us  {f.scarcest} {f.cost:>5.0%}  N={cf.n_pes} "
            f"r={cf.index_bits} FIFO={cf.fifo_depth} W={cf.lnzd_window} mask={'on' if cf.occupancy_mask else 'off'}"
            + (f" {ports['field']}={getattr(cf, ports['field'])}" if ports["field"] else "")
            + f" streamed={streamed}/{len(f.storage)}"
        )
    s = plan.stats
    lines.append(
        f"search: {s['combinations']} field combinations, {s['candidates']} candidates with their storage splits "
        f"(PE counts never expanded: {s['pe_counts_not_expanded'] or 'none'}); {s['over_board']} over the board, "
        f"{s['timed']} timed, {s['pruned']} pruned as dominated, {s['not_reached']} beyond the front's bound; "
        f"{s['layer_timings_run']} layer timings run, {s['layer_timings_reused']} reused; {s['seconds']:.1f} s"
    )
    return "\n".join(lines)


def plot_front(plan: Plan, path: str | Path) -> Path:
    """Latency against the scarcest resource: every timed design, the front, the choice (headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eie.safeio import atomic_open

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([100 * d.cost for d in plan.evaluated], [d.latency_us for d in plan.evaluated], s=10, c="0.7",
               label="timed designs")  # fmt: skip
    fx = [100 * d.cost for d in plan.front]
    fy = [d.latency_us for d in plan.front]
    ax.step(fx, fy, where="post", color="C0")
    ax.scatter(fx, fy, s=18, color="C0", label="Pareto front")
    ax.scatter([100 * plan.chosen.cost], [plan.chosen.latency_us], s=60, color="C3", marker="*", label="chosen")
    if plan.default is not None:
        ax.scatter([100 * plan.default.cost], [plan.default.latency_us], s=40, color="C2", marker="x",
                   label="board default")  # fmt: skip
    ax.set_xlabel("scarcest resource used (%)")
    ax.set_ylabel(f"modelled latency ({plan.objective}), us")
    ax.set_yscale("log")
    ax.set_title(f"eie plan: {plan.chosen.config.board} (modelled)")
    ax.legend(fontsize=8)
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


PLAN_HEADER = "# written by eie plan (eie-pynq): "
PLAN_REPORT = "plan_report.json"


def plan_report(plan: Plan) -> str:
    """The bundle's report (``eie deploy --plan``): the plan and the chosen design's resource estimate (JSON)."""
    import json

    return (
        json.dumps(
            {
                "source": "eie plan: MODELLED (timing model and resource estimate; neither checked against synthesis)",
                "plan": plan.to_dict(),
                "estimate": estimate(plan.config).to_dict(),
            },
            indent=1,
        )
        + "\n"
    )


def check_writable(path: str | Path, force: bool = False) -> Path:
    """``path`` if eie plan may write it: new, written by eie plan before, or ``force``; else OutputError."""
    from eie.safeio import OutputError

    path = Path(path)
    if path.exists() and not force:
        try:
            first = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
        except OSError:
            first = []
        if not first or not first[0].startswith(PLAN_HEADER):
            raise OutputError(
                f"{str(path)!r} exists and was not written by eie plan: choose another path, or pass --force "
                "to replace it"
            )
    return path


def write_config(plan: Plan, path: str | Path, force: bool = False) -> Path:
    """The chosen configuration as YAML, atomically; a file eie plan did not write is refused unless ``force``."""
    import yaml

    from eie.safeio import atomic_write

    path = check_writable(path, force)
    c = plan.chosen
    head = (
        f"{PLAN_HEADER}objective {plan.objective}, modelled latency {c.latency_us:.2f} us, "
        f"{c.scarcest} {c.cost:.0%}\n# storage per layer: {', '.join(c.storage)}\n"
    )
    atomic_write(path, head + yaml.safe_dump(c.config.to_dict(), sort_keys=False))
    return path
