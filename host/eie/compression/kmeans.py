"""Weight sharing (Deep Compression, step 2): per-layer 1-D k-means.

The kept weights of a layer are clustered into at most 2^b - 1 centroids with
scikit-learn's KMeans, started from an explicit initialisation (linear,
density or random, as in the paper; linear is the paper's best). Code 0 is
reserved for zero, so centroid i gets code i + 1, centroids ascending.

Speed: a 4096 x 9216 layer at 9 % keeps 3.4 M weights. Clustering them
point by point is slow, so KMeans is fitted on a weighted summary (the
distinct values, or the means of 2^16 fine histogram bins when there are
more), then Lloyd's iterations finish on the exact values. In 1-D on sorted
values a cluster is a contiguous run, so those iterations cost a few
``searchsorted`` and ``reduceat`` calls. Finally every value is assigned to
its nearest centroid, checked in floating point against both neighbours.
"""

from __future__ import annotations

import numpy as np

from eie.errors import ConfigError, check_int

INITS = ("linear", "density", "random")
SUMMARY_BINS = 1 << 16
MAX_REFINE = 100


def share_weights(
    values: np.ndarray,
    weight_bits: int,
    init: str = "linear",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ``values`` into a codebook.

    Returns ``(codebook, codes)``: ``codebook`` is float64 of length
    2^weight_bits with ``codebook[0] = 0``, the centroids ascending in codes
    1.. and 0.0 in unused codes; ``codes`` (uint8, one per value, 1..) names
    each value's nearest centroid.
    """
    b = check_int("weight_bits", weight_bits, 1, 8)
    if init not in INITS:
        raise ConfigError(f"init={init!r} is not one of {', '.join(INITS)}")
    values = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        raise ConfigError("weights contain NaN or infinity; cannot cluster them")
    k = (1 << b) - 1
    codebook = np.zeros(1 << b, dtype=np.float64)
    if values.size == 0:
        return codebook, np.zeros(0, dtype=np.uint8)

    s = np.sort(values)
    distinct = np.concatenate(([True], s[1:] != s[:-1]))
    uniq = s[distinct]
    if uniq.size <= k:
        # Every distinct value gets its own code: no error, nothing to fit.
        centroids = uniq
    else:
        counts = np.diff(np.append(np.flatnonzero(distinct), s.size))
        x, wts = _summary(s, uniq, counts, k)
        start = _initial_centroids(init, k, s, uniq, counts, seed)
        centroids = _fit_sklearn(x, wts, start, seed)
        centroids = _refine(s, centroids)
    codebook[1 : 1 + centroids.size] = centroids
    codes = (_nearest(values, centroids) + 1).astype(np.uint8)
    return codebook, codes


def _summary(s, uniq, counts, k) -> tuple[np.ndarray, np.ndarray]:
    """Weighted points that stand for the sorted values ``s`` in KMeans."""
    if uniq.size <= SUMMARY_BINS:
        return uniq, counts.astype(np.float64)
    edges = np.linspace(s[0], s[-1], SUMMARY_BINS + 1)
    bounds = np.searchsorted(s, edges[1:-1], side="left")
    first = np.unique(np.concatenate(([0], bounds)))
    first = first[first < s.size]
    sums = np.add.reduceat(s, first)
    n = np.diff(np.append(first, s.size)).astype(np.float64)
    if first.size <= k:
        # A few far outliers leave most bins empty: too few points to fit.
        return uniq, counts.astype(np.float64)
    return sums / n, n


def _initial_centroids(init, k, s, uniq, counts, seed) -> np.ndarray:
    if init == "linear":
        start = np.linspace(s[0], s[-1], k)
    elif init == "density":
        # Evenly spaced levels of the CDF, mapped back to weight values.
        q = (np.arange(k) + 0.5) / k
        start = s[np.minimum((q * s.size).astype(np.int64), s.size - 1)]
    else:
        rng = np.random.default_rng(seed)
        start = rng.choice(uniq, size=k, replace=False, p=counts / counts.sum())
    # Duplicate starting centroids (density init on peaked weights) would
    # only produce empty clusters.
    return np.unique(start)


def _fit_sklearn(x, wts, start, seed) -> np.ndarray:
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    km = KMeans(n_clusters=start.size, init=start.reshape(-1, 1), n_init=1, random_state=seed)
    with warnings.catch_warnings():
        # Fewer distinct clusters than requested is handled by _refine.
        warnings.simplefilter("ignore", ConvergenceWarning)
        km.fit(x.reshape(-1, 1), sample_weight=wts)
    return np.unique(np.asarray(km.cluster_centers_, dtype=np.float64).ravel())


def _bounds(s: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Start index in sorted ``s`` of each centroid's run, plus the end."""
    mids = centroids[:-1] / 2 + centroids[1:] / 2
    inner = np.searchsorted(s, mids, side="right")
    return np.concatenate(([0], inner, [s.size]))


def _refine(s: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Lloyd's iterations on the exact sorted values until assignments settle.

    Centroids that nobody is nearest to are dropped: removing them changes
    no value's nearest centroid.
    """
    c = np.sort(centroids)
    prev = None
    for _ in range(MAX_REFINE):
        bounds = _bounds(s, c)
        sizes = np.diff(bounds)
        keep = sizes > 0
        if prev is not None and np.array_equal(bounds, prev):
            break
        prev = bounds
        first = bounds[:-1][keep]
        c = np.add.reduceat(s, first) / sizes[keep]
        # Means of disjoint ascending runs are ascending; unique guards
        # against equal means from rounding.
        c = np.unique(c)
    sizes = np.diff(_bounds(s, c))
    return c[sizes > 0]


def _nearest(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of each value's nearest centroid (ties to the lower one)."""
    if centroids.size == 1:
        return np.zeros(values.size, dtype=np.int64)
    mids = centroids[:-1] / 2 + centroids[1:] / 2
    idx = np.searchsorted(mids, values, side="left")
    # The midpoint is rounded; settle values within an ulp of it by the
    # same distance arithmetic a user would check with.
    dist = np.abs(values - centroids[idx])
    up = np.minimum(idx + 1, centroids.size - 1)
    move_up = np.abs(values - centroids[up]) < dist
    down = np.maximum(idx - 1, 0)
    move_down = np.abs(values - centroids[down]) < dist
    idx = np.where(move_up, up, np.where(move_down, down, idx))
    return idx
