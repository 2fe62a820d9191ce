"""Magnitude pruning (Deep Compression, step 1): keep the largest weights.

A layer is pruned either to a target density (fraction of weights kept) or by
a magnitude threshold. Weights that are exactly zero are never kept: code 0
already means zero, so keeping them would only cost entries.

Ties at the cut are broken by flat (row-major) position, lowest first, so the
same weights always give the same mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eie.errors import ConfigError


def check_density(density: float, what: str = "density") -> float:
    """A density must be a number in (0, 1]."""
    try:
        d = float(density)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number in (0, 1], got {density!r}") from None
    if not 0.0 < d <= 1.0:
        raise ConfigError(f"{what}={density} is outside (0, 1]: give the fraction of weights to keep, e.g. 0.1")
    return d


def magnitude_mask(
    w: np.ndarray,
    density: float | None = None,
    threshold: float | None = None,
) -> np.ndarray:
    """Boolean mask of the weights to keep.

    With ``density`` keep the ``round(density * w.size)`` largest-|w| weights
    (fewer if the layer has fewer nonzero weights); with ``threshold`` keep
    the weights with |w| > threshold. Give exactly one of them.
    """
    w = np.asarray(w)
    if (density is None) == (threshold is None):
        raise ConfigError("give exactly one of density or threshold for magnitude pruning")
    mag = np.abs(w.astype(np.float64, copy=False))
    if not np.all(np.isfinite(mag)):
        raise ConfigError("weights contain NaN or infinity; cannot prune by magnitude")
    if threshold is not None:
        t = float(threshold)
        if not np.isfinite(t) or t < 0:
            raise ConfigError(f"threshold={threshold} must be a finite number >= 0")
        return mag > t
    d = check_density(density)
    flat = mag.ravel()
    keep = min(int(round(d * flat.size)), int(np.count_nonzero(flat)))
    mask = np.zeros(flat.size, dtype=bool)
    if keep == 0:
        return mask.reshape(w.shape)
    # argpartition finds the cut magnitude in O(n); a full sort of a
    # 38M-weight layer would take seconds.
    cut = flat[np.argpartition(flat, flat.size - keep)[flat.size - keep]]
    mask = flat > cut
    short = keep - int(np.count_nonzero(mask))
    if short > 0:
        tied = np.flatnonzero(flat == cut)[:short]
        mask[tied] = True
    return mask.reshape(w.shape)


def magnitude_masks(
    weights: list[np.ndarray],
    density: float | Sequence[float] | None = None,
    threshold: float | Sequence[float] | None = None,
) -> list[np.ndarray]:
    """Per-layer masks; ``density``/``threshold`` may be one value or one per layer."""

    def per_layer(value, what):
        if value is None or np.isscalar(value):
            return [value] * len(weights)
        values = list(value)
        if len(values) != len(weights):
            raise ConfigError(f"{len(values)} {what} values given for {len(weights)} layers")
        return values

    ds = per_layer(density, "density")
    ts = per_layer(threshold, "threshold")
    return [magnitude_mask(w, density=d, threshold=t) for w, d, t in zip(weights, ds, ts)]
