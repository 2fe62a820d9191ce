"""Formats chosen to fit (issue 20): the accumulator sized from the model, or the formats searched when it is pinned."""

import numpy as np
import pytest

from eie.arithmetic.emulator import dequantize_output, quantize_input, run
from eie.arithmetic.quant import quantize
from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import OverflowRisk
from eie.format.qmodel import HWParams


def eight_bit_row(k=64, seed=0):
    """One dense row of k weights, 8-bit codes: 255 centroids spread over [-1, 1]."""
    rng = np.random.default_rng(seed)
    cb = np.r_[0.0, np.linspace(-1.0, 1.0, 255)]
    codes = rng.integers(1, 256, (1, k))
    return CompressedModel([CompressedLayer.from_dense_codes("fc", codes, cb, activation="none", weight_bits=8)])


def test_accumulator_is_sized_from_the_model_up_to_the_dsp_width():
    model = eight_bit_row()
    # Full precision: |centroid| <= 1 -> fw = 14 (1 * 2^14 <= 32767 < 2^15), so the row's
    # L1 norm in integers is sum |round(c * 2^14)| and the bound that sum * 2^15 (+ the rounding term).
    cb_int = np.floor(model.layers[0].codebook * 2.0**14 + 0.5).astype(np.int64)
    l1 = int(np.abs(cb_int[model.layers[0].codes]).sum())
    shift = 8 + 14 - 8
    need = (l1 * 2**15 + 2 ** (shift - 1)).bit_length() + 1
    assert need > 32
    with pytest.raises(OverflowRisk):  # pinned 32 bits, without the search: refused, naming the width
        quantize(model, HWParams(1, weight_bits=8), fit_accumulator=False)
    qm = quantize(model, HWParams(1, weight_bits=8), max_acc_bits=48)
    assert qm.params.acc_bits == need and qm.layers[0].fw == 14
    assert qm.info["acc_bits"] == {"pinned": False, "configured": 32, "needed": need, "limit": 48, "chosen": need}
    assert any("widened from 32 to" in n for n in qm.info["notes"])
    # A model that fits 32 bits keeps them (never narrower than configured).
    small = eight_bit_row(k=2)
    assert quantize(small, HWParams(1, weight_bits=8), max_acc_bits=48).params.acc_bits == 32


def test_pinned_accumulator_takes_the_finest_scale_that_fits_and_merges_centroids():
    model = eight_bit_row()
    qm = quantize(model, HWParams(1, weight_bits=8))  # acc_bits 32 pinned
    fw = qm.layers[0].fw
    info = qm.info["layers"][0]
    assert info["fw_codebook"] == 14 and fw < 14

    # The chosen scale fits and the next finer one does not: the smallest error the proof allows.
    def bits_at(f):
        cb = np.floor(model.layers[0].codebook * 2.0**f + 0.5).astype(np.int64)
        sh = 8 + f - 8
        return (int(np.abs(cb[model.layers[0].codes]).sum()) * 2**15 + (2 ** (sh - 1) if sh else 0)).bit_length() + 1

    assert bits_at(fw) <= 32 < bits_at(fw + 1)
    # Centroids that round together are merged (one integer, codes unchanged) and counted.
    used = np.unique(model.layers[0].codebook[1:])
    q = np.floor(used * 2.0**fw + 0.5)
    assert info["merged"] == used.size - np.unique(q).size
    assert info["weight_error"] == pytest.approx(np.max(np.abs(used - q * 2.0**-fw)))
    assert "lowered from 2^14 to 2^" + str(fw) in " ".join(info["notes"])


def test_output_error_is_measured_on_the_calibration_inputs():
    model = eight_bit_row()
    x = np.random.default_rng(1).uniform(-1, 1, (32, 64))
    qm = quantize(model, HWParams(1, weight_bits=8), calib=x)
    l = model.layers[0]
    fw, fa = qm.layers[0].fw, qm.layers[0].fa_in
    w = l.dense_weights()
    wq = (qm.layers[0].codebook[l.dense_codes()]) * 2.0**-fw
    bq = qm.layers[0].bias * 2.0 ** -(fa + fw)
    z = x @ w.T + l.bias
    want = np.max(np.abs(x @ (w - wq).T + (l.bias - bq))) / np.max(np.abs(z))
    assert qm.info["layers"][0]["output_error"] == pytest.approx(want)
    # and the integer result is that close to the float one (plus the activations' rounding)
    y = dequantize_output(qm, run(qm, quantize_input(qm, x)))
    assert np.max(np.abs(y - z)) / np.max(np.abs(z)) < 0.01


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("density", [1.0, 0.3])
def test_one_to_eight_bit_weights_quantise_with_default_settings(bits, density):
    # A 784-input layer of centroids up to 1: at 8 bits and dense its sums need 42 bits.
    rng = np.random.default_rng(bits)
    n = (1 << bits) - 1
    cb = np.r_[0.0, np.linspace(-1.0, 1.0, n)] if n > 1 else np.r_[0.0, 1.0]
    codes = rng.integers(1, n + 1, (30, 784)) * (rng.random((30, 784)) < density)
    model = CompressedModel([CompressedLayer.from_dense_codes("fc", codes, cb, activation="none", weight_bits=bits)])
    qm = quantize(model, HWParams(2, weight_bits=max(bits, 4)), max_acc_bits=48)
    assert qm.layers[0].fw == qm.info["layers"][0]["fw_codebook"]  # full precision, nothing coarsened
    assert qm.params.acc_bits <= 48
