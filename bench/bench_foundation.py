"""Foundation speed figures (printed, not asserted): EIE encoding and k-means.

Targets on the project's 2-core machine: encoding a 4096 x 9216 layer at 9 %
density for 64 PEs (encode + pack every PE) under 2 s, and the k-means
weight sharing of its ~3.4 M kept weights under 5 s.
"""

from __future__ import annotations

import time

import numpy as np

from eie.compression.kmeans import share_weights
from eie.compression.prune import magnitude_mask
from eie.format.csc import encode

ROWS, COLS, DENSITY, PES, INDEX_BITS, WEIGHT_BITS = 4096, 9216, 0.09, 64, 4, 4


def main() -> None:
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((ROWS, COLS), dtype=np.float32).astype(np.float64) * 0.02
    t0 = time.perf_counter()
    mask = magnitude_mask(weight, density=DENSITY)
    t_prune = time.perf_counter() - t0
    cols, rows = np.nonzero(mask.T)
    values = weight[rows, cols]

    import sklearn.cluster  # noqa: F401  (import time is not clustering time)

    t0 = time.perf_counter()
    codebook, codes = share_weights(values, WEIGHT_BITS, init="linear")
    t_kmeans = time.perf_counter() - t0

    t0 = time.perf_counter()
    enc = encode(rows, cols, codes, (ROWS, COLS), PES, INDEX_BITS, WEIGHT_BITS)
    words = [enc.pack(p) for p in range(PES)]
    t_encode = time.perf_counter() - t0

    print(f"layer {ROWS} x {COLS}, density {DENSITY:.0%}: {values.size} kept weights")
    print(f"prune (magnitude mask):            {t_prune:6.2f} s")
    print(f"k-means, {WEIGHT_BITS}-bit codes:             {t_kmeans:6.2f} s   (target < 5 s)")
    print(
        f"encode + pack for {PES} PEs, {INDEX_BITS}-bit indices: {t_encode:6.2f} s   (target < 2 s); "
        f"{enc.total_entries} entries, {enc.padding} padding, {sum(w.size for w in words)} words"
    )


if __name__ == "__main__":
    main()
