"""Integer emulator speed against scipy.sparse float32 CSR mat-vec, in one run.

Target (issue 3): one 4096 x 9216 layer at 9 % density within 3x of the
float32 CSR mat-vec time on the same matrix. Prints both figures and the ratio.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse

from eie.arithmetic.emulator import Emulator
from eie.format.csc import encode
from eie.format.qmodel import HWParams, QuantLayer, QuantModel


def best_of(fn, repeats: int = 20) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    m, k, density = 4096, 9216, 0.09
    nnz = int(m * k * density)
    flat = rng.choice(m * k, nnz, replace=False)
    rows, cols = flat % m, flat // m
    codes = rng.integers(1, 16, nnz)
    params = HWParams(64)
    codebook = np.concatenate(([0], rng.integers(-2000, 2000, 15)))
    layer = QuantLayer(
        "alex6",
        encode(rows, cols, codes, (m, k), 64, 4, 4),
        codebook,
        rng.integers(-1000, 1000, m),
        np.arange(m),
        8,
        12,
        8,
        relu=True,
    )
    emu = Emulator(QuantModel(params, [layer]))
    x_int = rng.integers(0, 32767, (1, k)) * (rng.random((1, k)) < 0.351)
    ref = sparse.csr_matrix((codebook[codes].astype(np.float32), (rows, cols)), shape=(m, k))
    xf = x_int[0].astype(np.float32)
    t_emu = best_of(lambda: emu.run_layers(x_int))
    t_csr = best_of(lambda: ref @ xf)
    print(f"layer {m} x {k}, {density:.0%} density, batch 1 (best of 20 runs each)")
    print(f"  scipy.sparse float32 CSR mat-vec : {t_csr * 1e3:8.3f} ms")
    print(f"  eie integer emulator (bit-exact) : {t_emu * 1e3:8.3f} ms")
    print(f"  ratio emulator / float CSR       : {t_emu / t_csr:8.2f}x   (target <= 3x)")


if __name__ == "__main__":
    main()
