"""Quantisation for the hardware: formats, and the accumulator overflow proof."""

import numpy as np
import pytest

from eie.arithmetic.emulator import quantize_input, run
from eie.arithmetic.quant import activation_fa, codebook_fw, quantize
from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import ConfigError, OverflowRisk
from eie.format.qmodel import HWParams


def four_equal_weights():
    # One output row with four weights of code 1 (value 0.5), codebook [0, 0.5, -0.25, 0...].
    cb = np.zeros(16)
    cb[1], cb[2] = 0.5, -0.25
    return CompressedModel(
        [CompressedLayer.from_dense_codes("crafted", np.array([[1, 1, 1, 1]]), cb, activation="none")]
    )


def test_codebook_and_activation_formats_by_hand():
    # 0.5 * 2^15 = 16384 fits 16 bits; 0.5 * 2^16 = 32768 does not.
    assert codebook_fw(np.array([0.0, 0.5, -0.25]), 16) == 15
    # -1.0 * 2^15 = -32768 would fit a two's complement range, but we keep symmetry: 2^14.
    assert codebook_fw(np.array([0.0, -1.0]), 16) == 14
    # max |x| = 3 with one guard bit: 6 * 2^fa <= 32767 -> fa = 12.
    assert activation_fa(3.0, 16, guard_bits=1) == 12


def test_overflow_refusal_names_layer_and_bits():
    # Hand count at full precision: fw = 15, cb_int = 16384, row L1 = 4 * 16384 = 2^16,
    # times the largest activation 2^15 = 2^31, plus the rounding term 2^(shift-1) with
    # shift = 8 + 15 - 8 = 15: 2^31 + 2^14 needs 33 signed bits.
    with pytest.raises(OverflowRisk, match=r"layer 'crafted'.*need 33 bits.*acc_bits >= 33"):
        quantize(four_equal_weights(), HWParams(1), fit_accumulator=False)
    # With 33-bit accumulators the same layer is safe at full precision.
    qm = quantize(four_equal_weights(), HWParams(1, acc_bits=33), fit_accumulator=False)
    assert qm.layers[0].fw == 15


def test_accumulator_fit_lowers_codebook_scale_by_one_bit():
    # At fw = 14: 4 * 8192 * 2^15 = 2^30, + 2^13 rounding: fits 32 bits.
    qm = quantize(four_equal_weights(), HWParams(1))
    assert qm.layers[0].fw == 14
    assert qm.layers[0].codebook[1:3].tolist() == [8192, -4096]
    assert "lowered" in " ".join(qm.info["layers"][0]["notes"])
    # The largest admissible input then gives exactly the bound, no wrap:
    x = np.full((1, 4), 32767)
    y = run(qm, x)
    # 4 * 8192 * 32767 = 1073709056, + 2^13, >> 14 = 65534.5 -> saturates to 32767 (16-bit)
    assert y.tolist() == [[32767]]


def test_refused_only_when_no_scale_fits():
    # 8-bit accumulators: even at fw = 0 (centroids 0.5 -> 1, -0.25 -> 0) the row sums
    # 4 * 1 * 2^15 = 2^17, which needs 19 bits.
    with pytest.raises(OverflowRisk, match=r"no coarser codebook scale fits \(fw=0 needs 19 bits\).*acc_bits >= 19"):
        quantize(four_equal_weights(), HWParams(1, acc_bits=8))


def test_default_format_is_reported_and_calibration_changes_it():
    qm = quantize(four_equal_weights(), HWParams(1))
    assert qm.fa_in == 8 and "no calibration data" in qm.info["notes"][0]
    qm2 = quantize(four_equal_weights(), HWParams(1), calib=np.full((2, 4), 0.25))
    # max |x| = 0.25 with a guard bit: 0.5 * 2^fa <= 32767 -> fa = 15 (2^16 is one too many)
    assert qm2.fa_in == 15 and qm2.info["notes"] == []
    assert quantize_input(qm2, np.array([[0.25, -0.25, 0, 1e9]])).tolist() == [[8192, -8192, 0, 32767]]


def test_weight_bits_and_row_maps_are_checked():
    with pytest.raises(ConfigError, match="weight_bits"):
        quantize(four_equal_weights(), HWParams(1, weight_bits=2))
    with pytest.raises(ConfigError, match="row map of layer 'crafted' is not a permutation of 0..0"):
        quantize(four_equal_weights(), HWParams(1), row_maps=[np.array([1])])
    with pytest.raises(ConfigError, match="2 row maps given for 1 layers"):
        quantize(four_equal_weights(), HWParams(1), row_maps=[np.array([0])] * 2)
    # Balanced maps come from eie.performance.balance, not from the quantiser.
    with pytest.raises(ConfigError, match="balance_model"):
        quantize(four_equal_weights(), HWParams(1), row_maps="balanced")


def test_balanced_row_maps_from_performance_keep_the_result():
    from eie.performance.balance import balance_model

    rng = np.random.default_rng(5)
    layers = []
    for i, (m, k) in enumerate([(30, 12), (9, 30)]):
        codes = (rng.random((m, k)) < np.linspace(0.05, 0.9, m)[:, None]) * rng.integers(1, 16, (m, k))
        cb = np.concatenate(([0.0], np.sort(rng.normal(0, 0.3, 15))))
        layers.append(CompressedLayer.from_dense_codes(f"fc{i}", codes, cb, activation="relu" if i == 0 else "none"))
    model = CompressedModel(layers)
    params = HWParams(4, index_bits=2)
    perms = balance_model(model, params.n_pes, params.index_bits)
    assert any(not np.array_equal(p, np.arange(p.size)) for p in perms)
    x = rng.uniform(0, 1, (8, 12))
    qm = quantize(model, params, calib=x, row_maps=perms)
    plain = quantize(model, params, calib=x)
    assert [l.perm.tolist() for l in qm.layers] == [p.tolist() for p in perms]
    assert np.array_equal(run(qm, quantize_input(qm, x)), run(plain, quantize_input(plain, x)))
