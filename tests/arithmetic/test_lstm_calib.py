"""LSTM calibration (issue 10): the user's sequences set the activation formats, are stored with the
compressed LSTM (``eie compress --calib``, ``Network.calibrate``) and used by its images; without them
the default format is used and named in a warning, never random data."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from eie.arithmetic.lstm import EmulatorBackend, LSTMRunner, load_quant_lstm, quantize_lstm
from eie.compression.lstm import CompressedLSTM, FloatLSTM, LSTMSpec, compress_lstm, lstm_meta
from eie.compression.weights import DenseLayer
from eie.errors import ConfigError, FormatError
from eie.format.qmodel import HWParams

PARAMS = HWParams(2, 6, 4)  # 16-bit activations: the default format covers +-128


def float_lstm(seed=0):
    """An LSTM made for inputs of a few hundred (raw sensor counts, pixel sums): small input weights."""
    rng = np.random.default_rng(seed)
    spec = LSTMSpec(input_size=3, hidden=4)
    w = np.concatenate([0.008 * rng.standard_normal((16, 3)), 0.5 * rng.standard_normal((16, 4))], axis=1)
    cells = [DenseLayer("l0", w, 0.1 * rng.standard_normal(16), "none")]
    head = [DenseLayer("fc", rng.standard_normal((2, 4)), 0.1 * rng.standard_normal(2), "none")]
    return FloatLSTM(spec, cells, head)


def sequences(rng, b, t=6):
    return rng.uniform(150, 450, (b, t, 3))  # far beyond the default format's +-128


def images(q):
    return [qm.to_image().tobytes() for qm in q.models]


def test_calibrated_lstm_tracks_its_float_outputs_better_than_the_default_format():
    rng = np.random.default_rng(1)
    model = compress_lstm(float_lstm(), prune=False, weight_bits=6)
    x_cal, x = sequences(rng, 64), sequences(rng, 32)
    ref = model.forward(x)
    assert np.ptp(ref) > 0.5  # the outputs depend on the inputs

    calibrated = quantize_lstm(model, PARAMS, x_cal)
    default = quantize_lstm(model, PARAMS)
    assert calibrated.info["calibration"] == "inputs" and calibrated.info["warning"] is None
    assert default.info["calibration"] == "default" and not default.info["calibrated"]
    assert "default format (8 fraction bits of signed 16 bits" in default.info["warning"]
    assert "+-128" in default.info["warning"]
    # The calibrated input format covers the inputs; the default one saturates them at 128.
    assert calibrated.cells[0].fa_in < 8 == default.cells[0].fa_in
    err = {}
    for name, q in (("calibrated", calibrated), ("default", default)):
        err[name] = float(np.max(np.abs(LSTMRunner(q, EmulatorBackend()).run(x) - ref)))
    assert err["calibrated"] < 0.05, err
    assert err["default"] > 0.3, err
    assert err["calibrated"] < err["default"] / 10, err


def test_stored_calibration_gives_the_same_images_as_the_sequences(tmp_path):
    rng = np.random.default_rng(2)
    x_cal = sequences(rng, 40)
    model = compress_lstm(float_lstm(), prune=False, weight_bits=6)
    want = quantize_lstm(model, PARAMS, x_cal)
    assert model.calibration is None
    cal = model.calibrate(x_cal)
    assert cal["samples"] == 40 and cal["steps"] == 6 and cal["peaks"][0] == pytest.approx(np.max(x_cal))
    assert [len(p["peaks"]) for p in cal["parts"]] == [2, 2]  # the gate matrix, the one-layer head
    model.save(tmp_path / "c.npz")
    loaded = CompressedLSTM.load(tmp_path / "c.npz")
    assert loaded.calibration == model.calibration
    got = quantize_lstm(loaded, PARAMS)  # no sequences: the stored calibration
    assert got.info["calibration"] == "model" and got.info["warning"] is None
    assert images(got) == images(want)
    assert images(got) != images(quantize_lstm(compress_lstm(float_lstm(), prune=False, weight_bits=6), PARAMS))


def test_bad_calibration_sequences_are_refused():
    model = compress_lstm(float_lstm(), prune=False, weight_bits=6)
    with pytest.raises(FormatError, match=r"\(B, T, 3\)"):
        model.calibrate(np.ones((4, 3)))
    with pytest.raises(ConfigError, match=r"\(B, T, 3\)"):
        quantize_lstm(model, PARAMS, np.ones((2, 5, 4)))
    with pytest.raises(ConfigError, match="NaN"):
        quantize_lstm(model, PARAMS, np.full((2, 5, 3), np.nan))


def save_lstm_weights(path, f: FloatLSTM):
    arrays = {"__lstm__": lstm_meta(f.spec, "concat", ["fc"])}
    for layer in f.layers:
        arrays[f"{layer.name}.weight"] = layer.weight
        arrays[f"{layer.name}.bias"] = layer.bias
    np.savez(path, **arrays)


def test_eie_compress_calib_stores_the_lstms_calibration(tmp_path, capsys):
    from eie.cli import main

    rng = np.random.default_rng(3)
    save_lstm_weights(tmp_path / "w.npz", float_lstm())
    x_cal = sequences(rng, 32)
    np.save(tmp_path / "seq.npy", x_cal)
    code = main(
        [str(a) for a in ("compress", tmp_path / "w.npz", "-o", tmp_path / "c.npz", "--no-prune", "--weight-bits",
                          "6", "--calib", tmp_path / "seq.npy", "--json")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["network"] == "lstm" and summary["calibration"]["samples"] == 32
    loaded = CompressedLSTM.load(tmp_path / "c.npz")
    assert loaded.calibration is not None
    assert images(quantize_lstm(loaded, PARAMS)) == images(quantize_lstm(loaded, PARAMS, x_cal))
    # Without --calib: said, and nothing stored.
    code = main([str(a) for a in ("compress", tmp_path / "w.npz", "-o", tmp_path / "d.npz", "--no-prune")])
    out, _ = capsys.readouterr()
    assert code == 0 and "no --calib or --data: the LSTM stores no calibration" in out
    assert CompressedLSTM.load(tmp_path / "d.npz").calibration is None
    # Sequences of the wrong shape are refused, naming the file and the shape wanted.
    np.save(tmp_path / "flat.npy", x_cal[:, 0, :])
    code = main([str(a) for a in ("compress", tmp_path / "w.npz", "-o", tmp_path / "e.npz", "--calib",
                                  tmp_path / "flat.npy")])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2 and "flat.npy" in err and "(B, T, 3)" in err


def test_network_warns_without_calibration_and_deploys_the_stored_one(tmp_path):
    import eie
    from eie.hardware.config import AcceleratorConfig

    small_config = AcceleratorConfig(board="zcu104", n_pes=2, weight_bits=6, index_bits=4)

    rng = np.random.default_rng(4)
    save_lstm_weights(tmp_path / "w.npz", float_lstm())
    m = eie.load(tmp_path / "w.npz")
    m.fixed_config = small_config
    m.compress(prune=False, weight_bits=6)
    x_cal, x = sequences(rng, 32), sequences(rng, 8)
    with pytest.warns(UserWarning, match=r"default format \(8 fraction bits of signed 16 bits.*\+-128"):
        m.quantized()
    assert any("default format" in n for n in m.notes)
    uncal = m.predict(x, backend="emulator")
    m.calibrate(x_cal)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # calibrated: no warning
        out = m.deploy(tmp_path / "dep")
    assert out["calibration"] == "model"
    # The deployed images and compressed model carry the calibration of x_cal.
    want = quantize_lstm(compress_lstm(float_lstm(), prune=False, weight_bits=6), small_config.to_hwparams(), x_cal)
    assert images(load_quant_lstm(tmp_path / "dep")) == images(want)
    assert CompressedLSTM.load(tmp_path / "dep" / "compressed.npz").calibration is not None
    ref = m.predict(x, backend="compressed")
    cal = m.predict(x, backend="emulator")
    assert np.max(np.abs(cal - ref)) < np.max(np.abs(uncal - ref)) / 10
