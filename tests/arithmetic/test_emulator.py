"""The integer emulator against hand-worked cases and an independent float path."""

import numpy as np
import pytest

from eie.arithmetic.emulator import Emulator, quantize_input, run, wrap
from eie.arithmetic.quant import quantize
from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import ConfigError
from eie.format.csc import encode_dense
from eie.format.image import read_image
from eie.format.qmodel import HWParams, QuantLayer, QuantModel


def one_layer(codes, codebook, bias, shift, relu=False, n_pes=1, act_bits=16, acc_bits=32, weight_bits=4):
    codes = np.asarray(codes)
    params = HWParams(n_pes, weight_bits, 4, act_bits, 16, acc_bits)
    cb = np.zeros(1 << weight_bits, dtype=np.int64)
    cb[: len(codebook)] = codebook
    layer = QuantLayer(
        "l0",
        encode_dense(codes, n_pes, 4, weight_bits),
        cb,
        np.asarray(bias, dtype=np.int64),
        np.arange(codes.shape[0]),
        fa_in=0,
        fw=shift,
        fa_out=0,
        relu=relu,
    )
    return QuantModel(params, [layer])


def test_hand_worked_rounding_of_negative_values():
    # cb[1] = 3, cb[2] = -5; x = [7, -2]
    # row 0: 3*7 + (-5)*(-2) = 31, + bias 1 = 32, + 2 (half of 2^2) = 34, >> 2 = 8
    # row 1: -5*7 = -35, + 0, + 2 = -33, >> 2 = -9   (-8.75 rounds to -9)
    # row 2: -5*(-2) ... codes [0, 2]: 10, + bias -16 = -6, + 2 = -4 >> 2 = -1  (-1.5 rounds half up to -1)
    qm = one_layer([[1, 2], [2, 0], [0, 2]], [0, 3, -5], [1, 0, -16], shift=2)
    y = run(qm, np.array([[7, -2]]))
    assert y.tolist() == [[8, -9, -1]]


def test_relu_zero_shift_and_saturation_at_both_ends():
    # act_bits 8: range [-128, 127]; shift 0 means no rounding term.
    qm = one_layer([[1], [2], [1]], [0, 100, -100], [0, 0, -1], shift=0, act_bits=8)
    # x = 3: 300 -> 127; -300 -> -128; 300 - 1 = 299 -> 127
    assert run(qm, np.array([[3]])).tolist() == [[127, -128, 127]]
    qm_relu = one_layer([[1], [2], [1]], [0, 100, -100], [0, 0, -1], shift=0, act_bits=8, relu=True)
    assert run(qm_relu, np.array([[3]])).tolist() == [[127, 0, 127]]
    assert run(qm_relu, np.array([[-1]])).tolist() == [[0, 100, 0]]


def test_accumulator_wraps_modulo_acc_bits():
    # acc_bits 8: 100 + 100 = 200 wraps to -56; the order of additions does not matter.
    qm = one_layer([[1, 1]], [0, 100], [0], shift=0, acc_bits=8)
    assert run(qm, np.array([[1, 1]])).tolist() == [[-56]]
    assert wrap(np.array([200, -129, 127, 128]), 8).tolist() == [-56, 127, 127, -128]


def test_inputs_out_of_range_are_refused():
    qm = one_layer([[1]], [0, 1], [0], shift=0, act_bits=8)
    with pytest.raises(ConfigError, match="8-bit"):
        run(qm, np.array([[128]]))


def random_model(rng, sizes, density=0.3, bits=4, last="none"):
    layers = []
    for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
        codes = (rng.random((m, k)) < density) * rng.integers(1, 1 << bits, (m, k))
        cb = np.concatenate(([0.0], np.sort(rng.normal(0, 0.4, (1 << bits) - 1))))
        act = "relu" if i < len(sizes) - 2 else last
        layers.append(
            CompressedLayer.from_dense_codes(
                f"fc{i}", codes, cb, rng.normal(0, 0.1, m), activation=act, weight_bits=bits
            )
        )
    return CompressedModel(layers)


@pytest.mark.parametrize("n_pes", [1, 3, 8])
def test_agrees_with_independent_float_within_quantisation_bound(n_pes):
    rng = np.random.default_rng(n_pes)
    model = random_model(rng, [24, 40, 12])
    x = rng.uniform(-1, 1, (64, 24))
    qm = quantize(model, HWParams(n_pes), calib=x)
    xi = quantize_input(qm, x)
    y = run(qm, xi).astype(np.float64)
    # Independent float computation of the quantised integer model, layer by layer:
    # each layer's exact result before rounding differs from the integer path by at
    # most half an output LSB, plus the propagated input error.
    h = xi / 2.0**qm.fa_in
    bound = 0.5 / 2.0**qm.fa_in
    for ql, cl in zip(qm.layers, model.layers):
        w = np.zeros(cl.shape)
        w[cl.rows, cl.cols] = ql.codebook[cl.codes] / 2.0**ql.fw
        b = np.round(cl.bias * 2.0 ** (ql.fa_in + ql.fw)) / 2.0 ** (ql.fa_in + ql.fw)
        h = h @ w.T + b
        if cl.activation == "relu":
            h = np.maximum(h, 0)
        bound = bound * np.abs(w).sum(axis=1).max() + 0.5 / 2.0**ql.fa_out + 2.0 ** -(ql.fa_in + ql.fw)
    got = y / 2.0**qm.fa_out
    assert np.max(np.abs(got - h)) <= bound
    # And against the float compressed model, within the weight-quantisation error too.
    assert np.max(np.abs(got - model.forward(x))) < 0.05


def test_image_round_trip_runs_identically():
    rng = np.random.default_rng(7)
    model = random_model(rng, [16, 33, 9])
    perms = [rng.permutation(33), rng.permutation(9)]
    calib = rng.uniform(-1, 1, (10, 16))
    qm = quantize(model, HWParams(4), calib=calib, row_maps=perms)
    x = rng.integers(-3000, 3000, (20, 16))
    assert np.array_equal(run(read_image(qm.to_image()), x), run(qm, x))
    # The permutation changes the physical layout, never the logical result.
    plain = quantize(model, HWParams(4), calib=calib)
    assert not np.array_equal(plain.layers[0].encoded.decode(), qm.layers[0].encoded.decode())
    assert np.array_equal(run(plain, x), run(qm, x))


def test_layer_range_and_physical_outputs():
    rng = np.random.default_rng(3)
    model = random_model(rng, [8, 10, 6])
    qm = quantize(model, HWParams(2), row_maps=[rng.permutation(10), rng.permutation(6)])
    emu = Emulator(qm)
    x = rng.integers(0, 100, (3, 8))
    mid = emu.run_layers(x, 0, 0)
    assert np.array_equal(emu.run_layers(mid, 1, 1), emu.run_layers(x))
    with pytest.raises(ConfigError, match="out of range"):
        emu.run_layers(x, 1, 2)
