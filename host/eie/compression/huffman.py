"""Huffman code lengths (Deep Compression, step 3), for the storage report.

Only the lengths matter for storage: the total is sum(count * length). Codes
themselves are not built. Ties between equal counts are broken by symbol
order so the lengths are deterministic.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Mapping

import numpy as np


def huffman_lengths(counts: np.ndarray) -> np.ndarray:
    """Code length per symbol for ``counts[symbol]``; 0 for unused symbols.

    A lone used symbol gets length 1: a stream still needs one bit per symbol.
    """
    counts = np.asarray(counts, dtype=np.int64).ravel()
    if counts.size and counts.min() < 0:
        raise ValueError("symbol counts must be >= 0")
    lengths = np.zeros(counts.size, dtype=np.int64)
    used = np.flatnonzero(counts > 0)
    if used.size == 1:
        lengths[used] = 1
    if used.size <= 1:
        return lengths
    # Heap items: (count, tie-break, symbols under this node). Every merge
    # puts its symbols one level deeper.
    heap = [(int(counts[s]), i, [int(s)]) for i, s in enumerate(used)]
    heapq.heapify(heap)
    tie = len(heap)
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        merged = s1 + s2
        lengths[merged] += 1
        heapq.heappush(heap, (c1 + c2, tie, merged))
        tie += 1
    return lengths


def huffman_code_lengths(counts: Mapping[Hashable, int]) -> dict[Hashable, int]:
    """``{symbol: length}`` for ``{symbol: count}`` (symbols in the given order)."""
    symbols = list(counts)
    lengths = huffman_lengths(np.array([counts[s] for s in symbols], dtype=np.int64))
    return {s: int(n) for s, n in zip(symbols, lengths)}


def huffman_bits(symbols: np.ndarray) -> int:
    """Total bits of ``symbols`` (non-negative integers) under their Huffman code."""
    symbols = np.asarray(symbols).ravel()
    if symbols.size == 0:
        return 0
    counts = np.bincount(symbols.astype(np.int64))
    return int(np.dot(counts, huffman_lengths(counts)))
