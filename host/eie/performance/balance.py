"""Balanced row maps: which logical rows share a PE.

A row map ``perm`` (``perm[physical] = logical``, ``eie.format.rowmap``) lets
the host choose which logical rows share a PE without changing the kernel;
``eie.format.rowmap`` encodes a layer under one. This module chooses them.

``balanced`` builds candidate maps and keeps the one the timing model says is
fastest, with ``interleave`` (the identity map, EIE's own assignment) always among
the candidates, so it is never worse than interleave in modelled cycles:

* ``lpt``: rows sorted by non-zeros, dealt out in rounds of N (each PE gets
  one row per round, as the interleaved slots require); in each round the
  heaviest rows go to the least-loaded PEs (longest-processing-time first).
  This evens out each PE's total entries.
* ``columns`` / ``blocks``: the same rounds, but each row goes to the free PE
  whose load in the row's active columns is smallest (greedy minimisation of
  the sum of squared per-column loads). ``columns`` balances every broadcast
  column; ``blocks`` balances windows of ``fifo_depth`` consecutive broadcast
  columns, which is the imbalance the FIFO cannot absorb.

Padding depends on which rows are adjacent inside a PE, so candidates are
compared on their real encodings (padding included), not on non-zero counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eie.errors import ConfigError, FormatError
from eie.format.rowmap import encode_model, encode_positions, identity, physical_positions, to_physical
from eie.performance.timing import EIE_ASIC, TimingParams, simulate_layer, simulate_model

STRATEGIES = ("interleave", "lpt", "columns", "blocks")


def _rounds(m: int, n: int) -> list[np.ndarray]:
    """The PEs that own a physical row in each round of the interleave."""
    full, rest = divmod(m, n)
    out = [np.arange(n)] * full
    if rest:
        out.append(np.arange(rest))
    return out


def _lpt(row_load: np.ndarray, n: int) -> np.ndarray:
    m = row_load.size
    order = np.argsort(-row_load, kind="stable")
    pe_load = np.zeros(n)
    perm = np.empty(m, dtype=np.int64)
    pos = 0
    for q, pes in enumerate(_rounds(m, n)):
        rows = order[pos : pos + pes.size]  # heaviest first
        pos += pes.size
        # Least-loaded PE (among those with a slot this round) takes the heaviest row.
        pes = pes[np.argsort(pe_load[pes], kind="stable")]
        perm[q * n + pes] = rows
        pe_load[pes] += row_load[rows]
    return perm


def _greedy_columns(rows: np.ndarray, bins: np.ndarray, m: int, n: int, n_bins: int) -> np.ndarray:
    """Assign rows to PEs minimising per-bin load overlap; ``bins`` is each kept weight's bin (or -1)."""
    keep = bins >= 0
    r, b = rows[keep], bins[keep]
    order_by_row = np.argsort(r, kind="stable")
    r, b = r[order_by_row], b[order_by_row]
    starts = np.searchsorted(r, np.arange(m + 1))
    nnz = np.diff(starts)
    order = np.argsort(-nnz, kind="stable")
    load = np.zeros((n, n_bins), dtype=np.float64)
    total = np.zeros(n)
    perm = np.empty(m, dtype=np.int64)
    pos = 0
    for q, pes in enumerate(_rounds(m, n)):
        free = np.zeros(n, dtype=bool)
        free[pes] = True
        for row in order[pos : pos + pes.size]:
            cb = b[starts[row] : starts[row + 1]]
            # Sum of current loads in this row's bins = half the growth of the
            # squared loads; the tiny total term breaks ties toward light PEs.
            score = load[:, cb].sum(axis=1) + 1e-6 * total
            score[~free] = np.inf
            p = int(np.argmin(score))
            free[p] = False
            np.add.at(load[p], cb, 1.0)
            total[p] += cb.size
            perm[q * n + p] = row
        pos += pes.size
    return perm


def candidate(
    strategy: str,
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    n_pes: int,
    active: np.ndarray | None = None,
    fifo_depth: int = 8,
) -> np.ndarray:
    """One candidate row map (no timing check); ``active`` is the broadcast mask over columns."""
    m, k = int(shape[0]), int(shape[1])
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    active = np.ones(k, dtype=bool) if active is None else np.asarray(active) != 0
    if strategy == "interleave":
        return identity(m)
    if strategy == "lpt":
        # Load as the PE sees it: entries in broadcast columns, plus the
        # one-cycle cost of every broadcast column is the same for all rows.
        return _lpt(np.bincount(rows[active[cols]], minlength=m).astype(np.float64), n_pes)
    if strategy in ("columns", "blocks"):
        rank = np.cumsum(active) - 1  # position of each active column in broadcast order
        width = 1 if strategy == "columns" else max(1, int(fifo_depth))
        bins = np.where(active[cols], rank[cols] // width, -1)
        n_bins = int(-(-int(active.sum()) // width))
        return _greedy_columns(rows, bins, m, n_pes, max(n_bins, 1))
    raise ConfigError(f"row map {strategy!r} must be one of {STRATEGIES}")


@dataclass
class BalanceResult:
    perm: np.ndarray
    strategy: str
    cycles: dict[str, int]


def balance(
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    n_pes: int,
    index_bits: int,
    weight_bits: int = 4,
    active: np.ndarray | None = None,
    params: TimingParams = EIE_ASIC,
    strategies: Sequence[str] = STRATEGIES,
) -> BalanceResult:
    """Try each strategy and keep the fastest in modelled cycles (interleave wins ties)."""
    m, k = int(shape[0]), int(shape[1])
    active = np.ones(k, dtype=bool) if active is None else np.asarray(active) != 0
    if active.shape != (k,):
        raise FormatError(f"activation mask has shape {active.shape}; the layer takes {k} inputs")
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    codes = np.ones(rows.size, dtype=np.uint8)  # codes do not change the timing
    names = ["interleave"] + [s for s in strategies if s != "interleave"]
    best, cycles = None, {}
    for name in names:
        perm = candidate(name, rows, cols, (m, k), n_pes, active, params.fifo_depth)
        layer = encode_positions(rows, cols, codes, (m, k), n_pes, index_bits, weight_bits, perm)
        cycles[name] = simulate_layer(layer, active, params).cycles
        if best is None or cycles[name] < cycles[best[0]]:
            best = (name, perm)
    return BalanceResult(best[1], best[0], cycles)


def balanced(
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    n_pes: int,
    index_bits: int,
    weight_bits: int = 4,
    active: np.ndarray | None = None,
    params: TimingParams = EIE_ASIC,
) -> np.ndarray:
    """The balanced row map (``perm[physical] = logical``) of one layer.

    ``cols`` and ``active`` are in the layer's physical column order (the
    order the broadcaster walks); ``active`` defaults to all columns.
    """
    return balance(rows, cols, shape, n_pes, index_bits, weight_bits, active, params).perm


def balance_model(
    model,
    n_pes: int,
    index_bits: int,
    activations: Sequence[np.ndarray] | None = None,
    params: TimingParams = EIE_ASIC,
    weight_bits: int | None = None,
) -> list[np.ndarray]:
    """Balanced row maps for every layer, chosen in order.

    ``activations[l]`` is layer l's input in logical order (values or a
    mask); None means every column is broadcast. Layer l's columns are
    broadcast in the order layer l-1's map leaves them, so each choice sees
    its real broadcast order. If the whole model is slower than
    all-interleave (column orders changed by earlier maps can cost a few
    cycles), all-interleave is returned.
    """
    perms: list[np.ndarray] = []
    prev = None
    phys_acts = []
    for l, layer in enumerate(model.layers):
        k = layer.shape[1]
        act = np.ones(k, dtype=bool) if activations is None else np.asarray(activations[l]) != 0
        act = to_physical(act, prev)
        phys_acts.append(act)
        _, cols = physical_positions(layer.rows, layer.cols, layer.shape, None, prev, layer.name)
        b = layer.weight_bits if weight_bits is None else weight_bits
        perm = balanced(layer.rows, cols, layer.shape, n_pes, index_bits, b, act, params)
        perms.append(perm)
        prev = perm
    plain = [identity(l.shape[0]) for l in model.layers]
    logical_acts = [
        np.ones(l.shape[1], dtype=bool) if activations is None else np.asarray(activations[i]) != 0
        for i, l in enumerate(model.layers)
    ]
    t_bal = simulate_model(encode_model(model, perms, n_pes, index_bits, weight_bits), phys_acts, params)
    t_plain = simulate_model(encode_model(model, plain, n_pes, index_bits, weight_bits), logical_acts, params)
    return perms if t_bal.cycles <= t_plain.cycles else plain
