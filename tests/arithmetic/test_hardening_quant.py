"""Issue 9: every float-to-integer conversion in quantisation is range-checked."""

from __future__ import annotations

import numpy as np
import pytest

from eie.arithmetic.emulator import quantize_input
from eie.arithmetic.quant import accumulator_bound, activation_fa, codebook_fw, quantize, round_half_up
from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import ConfigError, FormatError, OverflowRisk
from eie.format.qmodel import HWParams


@pytest.fixture(scope="module")
def qm():
    rng = np.random.default_rng(1)
    codes = (rng.random((8, 6)) < 0.5) * rng.integers(1, 16, (8, 6))
    cb = np.concatenate(([0.0], np.linspace(-0.5, 0.5, 15)))
    model = CompressedModel([CompressedLayer.from_dense_codes("fc", codes, cb, rng.normal(0, 0.1, 8))])
    return quantize(model, HWParams(2), calib=rng.normal(size=(16, 6)))


def test_int64_min_bias_does_not_pass_the_overflow_proof():
    # np.abs(INT64_MIN) is INT64_MIN, which is negative: the old bound let it through.
    bias = np.array([np.iinfo(np.int64).min, 0])
    with pytest.raises(OverflowRisk, match="-2\\^63"):
        accumulator_bound(np.array([0, 1]), np.array([1, 1]), 2, bias, 0, 16)


def test_accumulator_bound_is_exact_beyond_int64():
    rows = np.zeros(4, dtype=np.int64)
    cb = np.full(4, 1 << 40, dtype=np.int64)
    bound = accumulator_bound(rows, cb, 1, np.array([1 << 61]), 0, 32)
    assert bound == 4 * (1 << 40) * (1 << 31) + (1 << 61)


def test_round_half_up_refuses_what_no_int64_holds():
    assert round_half_up(np.array([2.5, -2.5])).tolist() == [3, -2]
    for bad in (np.inf, np.nan, 2.0**63, -1e300):
        with pytest.raises(OverflowRisk, match="no 64-bit integer holds"):
            round_half_up(np.array([0.0, bad]), "a bias")


def test_codebook_fw_refuses_infinite_centroids_and_bounds_tiny_ones():
    with pytest.raises(ConfigError) as e:
        codebook_fw(np.array([0.0, np.inf]), 16)
    assert str(e.value) == "codebook contains NaN or infinity"
    assert codebook_fw(np.array([0.0, 5e-324]), 16) == 40  # MAX_FRAC, not OverflowError
    assert codebook_fw(np.array([0.0, 1e30]), 16) < 0  # quantize refuses fw < 0 naming the layer


@pytest.mark.parametrize("peak,expected", [(5e-324, 40), (1e-300, 40), (1e308, 0), (np.inf, 8), (0.0, 8), (1.0, 13)])
def test_activation_fa_for_extreme_calibration_peaks(peak, expected):
    assert activation_fa(peak, 16) == expected


def test_quantize_input_range_checks_and_refuses_complex(qm):
    lo, hi = -(1 << 15), (1 << 15) - 1
    # 5e-324 quantises to 0; 1e30 (the largest magnitude accepted) saturates
    assert quantize_input(qm, np.full((1, 6), 5e-324)).tolist() == [[0] * 6]
    assert quantize_input(qm, np.array([[1e30, -1e30, 0, 0, 0, 0]]))[0, :2].tolist() == [hi, lo]
    with pytest.raises(FormatError) as e:
        quantize_input(qm, np.full((1, 6), 1e308))
    assert str(e.value) == "inputs holds 1e+308, beyond the supported magnitude 1e+30"
    with pytest.raises(FormatError) as e:
        quantize_input(qm, np.ones((1, 6), complex))
    assert str(e.value) == "inputs holds complex values (complex128); expected real numbers"
    with pytest.raises(FormatError, match="NaN or infinity"):
        quantize_input(qm, np.array([[np.nan] * 6]))


def test_a_huge_bias_is_an_overflow_risk_naming_the_layer():
    codes = np.array([[1, 0], [0, 2]])
    cb = np.concatenate(([0.0], np.linspace(-0.5, 0.5, 15)))
    model = CompressedModel([CompressedLayer.from_dense_codes("fc", codes, cb, np.array([1e25, 0.0]))])
    with pytest.raises(OverflowRisk, match="layer 'fc': a bias is .* after scaling, which no 64-bit integer holds"):
        quantize(model, HWParams(2, acc_bits=64), calib=np.ones((4, 2)))
