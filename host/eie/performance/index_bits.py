"""Choosing ``index_bits`` (r) for a model: modelled cycles against memory.

A small r makes each entry narrow but costs a padding entry for every 2^r
zeros in a run, which at low densities adds 20 % or more entries (and as
many cycles); a large r removes padding but widens every entry, so fewer
fit in a 64-bit word. The table encodes every layer at each candidate r
(interleaved rows), runs the timing model on the given activations, counts
the on-chip words (entries plus pointers, as the model image stores them),
and ``choose_index_bits`` picks the fastest option within the budget,
breaking ties by memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eie.errors import CapacityError, ConfigError
from eie.format.csc import entries_per_word
from eie.format.rowmap import encode_layer
from eie.performance.timing import EIE_ASIC, TimingParams, simulate_layer


@dataclass
class IndexBitsOption:
    index_bits: int
    entries: int
    padding_fraction: float
    memory_bits: int
    cycles: int
    fits: bool


def _layers(model_or_layers) -> list:
    layers = getattr(model_or_layers, "layers", model_or_layers)
    layers = list(layers)
    if not layers:
        raise ConfigError("no layers to choose index_bits for")
    return layers


def _masks(layers: list, activations, seed: int) -> list[np.ndarray]:
    if activations is None:
        return [np.ones(l.shape[1], dtype=bool) for l in layers]
    if np.isscalar(activations):
        from eie.performance.synthetic import random_activation_mask

        rng = np.random.default_rng(seed)
        return [random_activation_mask(l.shape[1], float(activations), rng) for l in layers]
    if len(activations) != len(layers):
        raise ConfigError(f"{len(activations)} activation vectors for {len(layers)} layers")
    return [np.asarray(a) != 0 for a in activations]


def layer_memory_bits(entries_per_pe: np.ndarray, k: int, weight_bits: int, index_bits: int) -> int:
    """On-chip bits of one layer: packed entry words plus 32-bit pointers (K+1 per PE, in word pairs)."""
    per = entries_per_word(weight_bits, index_bits)
    entry_words = int(np.sum(-(-entries_per_pe // per)))
    ptr_words = entries_per_pe.size * (-(-(k + 1) // 2))
    return 64 * (entry_words + ptr_words)


def index_bits_table(
    model_or_layers,
    n_pes: int,
    activations: float | Sequence[np.ndarray] | None = None,
    budget_bits: int | None = None,
    candidates: Sequence[int] | None = None,
    params: TimingParams = EIE_ASIC,
    seed: int = 0,
) -> list[IndexBitsOption]:
    """Cycles and memory at each candidate r.

    ``activations`` is a list of per-layer inputs (values or masks), an
    activation density (random masks drawn with ``seed``), or None (every
    column broadcast).
    """
    layers = _layers(model_or_layers)
    masks = _masks(layers, activations, seed)
    wbits = max(l.weight_bits for l in layers)
    if candidates is None:
        candidates = range(1, min(8, 16 - wbits) + 1)
    table = []
    for r in candidates:
        entries = padding = memory = cycles = 0
        for layer, mask in zip(layers, masks):
            enc = encode_layer(layer, n_pes, r)
            entries += enc.total_entries
            padding += enc.padding
            memory += layer_memory_bits(enc.n_entries, layer.shape[1], layer.weight_bits, r)
            cycles += simulate_layer(enc, mask, params).cycles
        fits = budget_bits is None or memory <= budget_bits
        table.append(IndexBitsOption(int(r), entries, padding / entries if entries else 0.0, memory, cycles, fits))
    return table


def pick(table: Sequence[IndexBitsOption], budget_bits: int | None = None) -> int:
    fitting = [o for o in table if o.fits]
    if not fitting:
        smallest = min(table, key=lambda o: o.memory_bits)
        raise CapacityError(
            f"no index width fits the memory budget of {budget_bits} bits; the smallest needs "
            f"{smallest.memory_bits} bits (index_bits={smallest.index_bits}); raise the budget, "
            "use more PEs' memory, or prune further"
        )
    return min(fitting, key=lambda o: (o.cycles, o.memory_bits)).index_bits


def choose_index_bits(
    model_or_layers,
    n_pes: int,
    activations: float | Sequence[np.ndarray] | None = None,
    budget_bits: int | None = None,
    params: TimingParams = EIE_ASIC,
) -> int:
    """The r with the fewest modelled cycles whose memory fits ``budget_bits`` (None: no limit)."""
    return pick(index_bits_table(model_or_layers, n_pes, activations, budget_bits, params=params), budget_bits)


def format_table(table: Sequence[IndexBitsOption], chosen: int | None = None) -> str:
    lines = [f"{'r':>2} {'entries':>10} {'padding':>8} {'memory KiB':>11} {'cycles':>9}  fits"]
    for o in table:
        mark = "  <- chosen" if o.index_bits == chosen else ""
        lines.append(
            f"{o.index_bits:>2} {o.entries:>10} {100 * o.padding_fraction:>7.1f}% "
            f"{o.memory_bits / 8192:>11.1f} {o.cycles:>9}  {'yes' if o.fits else 'no'}{mark}"
        )
    return "\n".join(lines)
