"""The emulator's numpy engine (the PYNQ image has no scipy) against its scipy engine, bit for bit.

Both compute the same wrapped int64 sums: the numpy engine as an exact dense
float64 product where no partial sum can reach 2^53, else as uint64 per-row
sums; the scipy engine through scipy.sparse. An independent Python-integer
reference checks the wrapping case by hand.
"""

import numpy as np
import pytest

from eie.arithmetic.emulator import Emulator, IntMatrix, default_engine
from eie.arithmetic.quant import quantize
from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import ConfigError
from eie.format.csc import encode_dense
from eie.format.qmodel import HWParams, QuantLayer, QuantModel

pytest.importorskip("scipy")


def random_model(rng, sizes, density, ternary=False, bits=4):
    layers = []
    for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
        mask = rng.random((m, k)) < density
        if ternary:
            codes = mask * rng.integers(1, 3, (m, k))
            cb = np.array([0.0, rng.uniform(0.2, 0.9), -rng.uniform(0.2, 0.9)] + [0.0] * ((1 << bits) - 3))
            kw = {"kind": "ternary", "weight_bits": bits}
        else:
            codes = mask * rng.integers(1, 1 << bits, (m, k))
            cb = np.concatenate(([0.0], np.sort(rng.normal(0, 0.5, (1 << bits) - 1))))
            kw = {"weight_bits": bits}
        act = "relu" if i < len(sizes) - 2 else "none"
        layers.append(
            CompressedLayer.from_dense_codes(f"fc{i}", codes, cb, rng.normal(0, 0.2, m), activation=act, **kw)
        )
    return CompressedModel(layers)


@pytest.mark.parametrize("ternary", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_numpy_engine_equals_scipy_engine_on_random_layers(seed, ternary):
    rng = np.random.default_rng(100 + seed + 10 * ternary)
    sizes = [int(v) for v in rng.integers(5, 70, size=3)]
    density = [0.05, 0.3, 0.7, 1.0][seed]
    model = random_model(rng, sizes, density, ternary)
    n_pes = int(rng.integers(1, 9))
    maps = [rng.permutation(m) for m in sizes[1:]]
    calib = rng.uniform(-3, 3, (16, sizes[0]))
    qm = quantize(model, HWParams(n_pes), calib=calib, row_maps=maps)
    x = rng.integers(-(1 << 15), 1 << 15, (33, sizes[0]))
    fast, board = Emulator(qm, "scipy"), Emulator(qm, "numpy")
    a, b = fast.run_layers(x), board.run_layers(x)
    assert a.dtype == b.dtype == np.int64
    np.testing.assert_array_equal(a, b)
    # Every layer's accumulators too, not only the saturated outputs.
    h = x.T
    for i, (ms, mn) in enumerate(zip(fast._mats, board._mats)):
        np.testing.assert_array_equal(ms @ h, mn @ h)
        assert mn.path == "float64" and ms.path == "scipy"
        h = fast.run_layers(x, 0, i).T
    # The outputs are not trivial: both engines computed something that depends on the inputs.
    assert np.unique(a).size > 3


def one_layer(codes, codebook, act_bits=32, acc_bits=64, n_pes=3, weight_bits=4):
    codes = np.asarray(codes)
    cb = np.zeros(1 << weight_bits, dtype=np.int64)
    cb[: len(codebook)] = codebook
    layer = QuantLayer(
        "l0",
        encode_dense(codes, n_pes, 4, weight_bits),
        cb,
        np.zeros(codes.shape[0], dtype=np.int64),
        np.arange(codes.shape[0]),
        0,
        0,
        0,
        relu=False,
    )
    return QuantModel(HWParams(n_pes, weight_bits, 4, act_bits, 32, acc_bits), [layer])


def python_reference(codes, codebook, x):
    """Exact Python-integer sums, wrapped to signed 64 bits by hand."""
    out = []
    for row in x:
        r = []
        for crow in codes:
            s = sum(int(codebook[c]) * int(v) for c, v in zip(crow, row) if c)
            s = (s + (1 << 63)) % (1 << 64) - (1 << 63)
            r.append(s)
        out.append(r)
    return np.array(out, dtype=np.int64)


def test_wrapping_sums_take_the_uint64_path_and_wrap_like_int64():
    rng = np.random.default_rng(5)
    codes = (rng.random((7, 40)) < 0.6) * rng.integers(1, 16, (7, 40))
    codebook = [0] + [int(v) for v in rng.integers(-(1 << 31) + 1, 1 << 31, 15)]
    qm = one_layer(codes, codebook)
    x = rng.integers(-(1 << 31), 1 << 31, (6, 40))
    numpy_engine = Emulator(qm, "numpy")
    assert numpy_engine._mats[0].path == "uint64"  # 2^31 x 2^31 x 40 entries: beyond float64's exact range
    want = python_reference(codes, codebook, x)
    # The sums really wrap: the exact values exceed int64.
    exact = [sum(int(codebook[c]) * int(v) for c, v in zip(cr, r) if c) for r in x for cr in codes]
    assert max(abs(v) for v in exact) >= 1 << 63
    h = x.T
    np.testing.assert_array_equal((numpy_engine._mats[0] @ h).T, want)
    np.testing.assert_array_equal(Emulator(qm, "scipy")._mats[0] @ h, numpy_engine._mats[0] @ h)
    np.testing.assert_array_equal(Emulator(qm, "scipy").run(x), numpy_engine.run(x))


def test_dense_float64_path_is_exact_at_its_limit():
    # Row sums of about 1.5 * 2^50 with 16-bit inputs (the largest the dense path takes): still exact.
    big = (1 << 35) - 1
    codes = np.ones((2, 3), dtype=np.int64)
    codes[1, 2] = 2
    m = IntMatrix(*np.nonzero(codes), np.array([big, big, big, big, big, -big]), (2, 3), act_bits=16, engine="numpy")
    assert m.path == "float64"
    x = np.array([[(1 << 15) - 1, (1 << 15) - 3, -(1 << 15)]]).T
    want = [[big * int(x[0, 0] + x[1, 0] + x[2, 0])], [big * int(x[0, 0] + x[1, 0] - x[2, 0])]]
    np.testing.assert_array_equal(m @ x, np.array(want, dtype=np.int64))
    # Inputs beyond the bound the matrix was built for take the exact (wrapping) uint64 path instead.
    wide = np.array([[1 << 40], [0], [1]])

    def w64(v):
        return (v + (1 << 63)) % (1 << 64) - (1 << 63)

    want = [[w64(big * (1 << 40) + big)], [w64(big * (1 << 40) - big)]]
    np.testing.assert_array_equal(m @ wide, np.array(want, dtype=np.int64))


def test_duplicate_and_zero_entries_are_summed_and_dropped_like_a_csr_matrix():
    rows, cols = np.array([0, 0, 1, 1, 2]), np.array([1, 1, 0, 2, 2])
    vals = np.array([3, 4, 0, 5, -2])
    for engine in ("numpy", "scipy"):
        m = IntMatrix(rows, cols, vals, (4, 3), act_bits=16, engine=engine)
        assert m.nnz == 3
        np.testing.assert_array_equal(m @ np.array([[1], [10], [100]]), [[70], [500], [-200], [0]])


def test_engine_choice():
    assert default_engine() == "scipy"  # installed on the host
    with pytest.raises(ConfigError, match="engine"):
        IntMatrix([], [], [], (1, 1), engine="cuda")
    empty = IntMatrix([], [], [], (3, 2), engine="numpy")
    np.testing.assert_array_equal(empty @ np.ones((2, 4), dtype=np.int64), np.zeros((3, 4)))
