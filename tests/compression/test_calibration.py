"""The calibration stored with a compressed model (eie compress --calib) and its use by quantize."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eie.arithmetic.quant import quantize
from eie.compression.model import CompressedModel, activation_peaks
from eie.compression.pipeline import compress
from eie.compression.weights import DenseLayer
from eie.errors import FormatError
from eie.format.qmodel import HWParams


def model():
    rng = np.random.default_rng(0)
    return compress(
        [
            DenseLayer("fc1", rng.standard_normal((20, 12)), rng.standard_normal(20)),
            DenseLayer("fc2", rng.standard_normal((5, 20)), rng.standard_normal(5), activation="none"),
        ],
        density=0.5,
    )


def test_stored_peaks_round_trip_and_give_the_same_image_as_the_inputs(tmp_path):
    m = model()
    x = np.random.default_rng(1).uniform(0, 16, (30, 12))
    cal = m.calibrate(x)
    assert cal == {"peaks": activation_peaks(m.layers, x), "samples": 30}
    m.save(tmp_path / "m.npz")
    back = CompressedModel.load(tmp_path / "m.npz")
    assert back.calibration == cal
    p = HWParams(4)
    stored = quantize(back, p)
    assert stored.info["calibration"] == "model"
    assert np.array_equal(stored.to_image(), quantize(model(), p, calib=x).to_image())
    assert np.array_equal(stored.to_image(), quantize(model(), p, peaks=cal["peaks"]).to_image())
    plain = quantize(model(), p)
    assert plain.info["calibration"] == "default" and not plain.info["calibrated"]


def test_a_model_without_calibration_still_loads(tmp_path):
    m = model()
    m.save(tmp_path / "m.npz")
    assert CompressedModel.load(tmp_path / "m.npz").calibration is None


@pytest.mark.parametrize(
    "cal,message",
    [
        ({"peaks": [1.0, 2.0], "samples": 3}, "peaks must be 3 finite values"),
        ({"peaks": [1.0, float("nan"), 2.0], "samples": 3}, "peaks must be 3 finite values"),
        ({"peaks": [1.0, -1.0, 2.0], "samples": 3}, "peaks must be 3 finite values"),
        ({"peaks": [1.0, 1.0, 2.0], "samples": 0}, "samples=0 is out of range"),
        ([1.0], "calibration must be a mapping"),
    ],
)
def test_a_damaged_calibration_is_refused(tmp_path, cal, message):
    m = model()
    m.save(tmp_path / "m.npz")
    arrays = dict(np.load(tmp_path / "m.npz"))
    meta = json.loads(bytes(arrays["__meta__"]).decode())
    meta["calibration"] = cal
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(FormatError, match=message):
        CompressedModel.load(tmp_path / "bad.npz")


def test_calibration_inputs_of_the_wrong_width_are_refused():
    with pytest.raises(FormatError, match=r"the model takes \(B, 12\)"):
        model().calibrate(np.ones((3, 11)))
