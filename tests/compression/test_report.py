"""Error figures, per-stage scores, sensitivity scan, per-layer settings and masks in compress."""

from __future__ import annotations

import numpy as np
import pytest

from eie.compression.model import CompressedLayer, CompressedModel
from eie.compression.pipeline import compress
from eie.compression.report import (
    aggressive_warnings,
    is_classification,
    layer_output_errors,
    relative_l2,
    score,
    sensitivity,
    weight_errors,
)
from eie.compression.weights import DenseLayer
from eie.errors import ConfigError


def test_relative_l2_and_score_by_hand():
    assert relative_l2([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert relative_l2([3.0, 4.0], [0.0, 4.0]) == pytest.approx(3.0 / 5.0)
    assert relative_l2([0.0], [0.0]) == 0.0 and relative_l2([0.0], [1.0]) == float("inf")
    out = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert score(out, np.array([1, 0, 0, 0])) == ("accuracy", 0.75)
    m, v = score(np.array([[1.0], [2.0]]), np.array([1.0, 2.5]))
    assert m == "relative_error" and v == pytest.approx(0.5 / np.sqrt(1 + 6.25))
    assert is_classification(np.array([0, 2, 1])) and not is_classification(np.array([0.5, 1.0]))


def test_weight_and_output_errors_by_hand():
    # one layer 2x2: W = [[3, 0], [0, 4]]; compressed keeps only 4 (code 1 -> 4.0)
    w = np.array([[3.0, 0.0], [0.0, 4.0]])
    dense = [DenseLayer("a", w, np.zeros(2), "none")]
    layer = CompressedLayer.from_dense_codes("a", np.array([[0, 0], [0, 1]]), [0.0, 4.0], None, weight_bits=1)
    model = CompressedModel([layer])
    (row,) = weight_errors(dense, model)
    assert row["weight_error"] == pytest.approx(3.0 / 5.0) and row["density"] == 0.25
    # x = [1, 1]: float [3, 4], compressed [0, 4] -> 3/5 again
    assert layer_output_errors(dense, model, np.array([[1.0, 1.0]])) == [pytest.approx(0.6)]
    notes = aggressive_warnings(model, retrained=False)
    assert len(notes) == 1 and "no retraining was done" in notes[0] and "density below 30 % in a" in notes[0]
    assert aggressive_warnings(model, retrained=True) == []


def test_sensitivity_scan_and_suggestion_by_hand():
    # l1 = diag(1, 0.1), l2 = diag(1, 2); x = the unit vectors, labels 0 and 1.
    l1 = DenseLayer("l1", np.array([[1.0, 0.0], [0.0, 0.1]]), np.zeros(2), "none")
    l2 = DenseLayer("l2", np.array([[1.0, 0.0], [0.0, 2.0]]), np.zeros(2), "none")
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 1])
    s = sensitivity([l1, l2], x, y, densities=[1.0, 0.5, 0.25])
    assert s.metric == "accuracy" and s.baseline == 1.0
    # 50 % keeps both nonzero weights of either layer: nothing changes.
    # 25 % of l1 keeps only the 1.0: x2 -> [0, 0] -> [0, 0] -> class 0, wrong: 0.5.
    # 25 % of l2 keeps only the 2.0: x1 -> [1, 0] -> [0, 0] -> class 0 (first of a tie), right: 1.0.
    assert s.table == {"l1": [1.0, 1.0, 0.5], "l2": [1.0, 1.0, 1.0]}
    assert s.drop("l1") == [0.0, 0.0, 0.5]
    assert s.suggest(0.0) == {"l1": 0.5, "l2": 0.25}
    assert s.suggest(0.5) == {"l1": 0.25, "l2": 0.25}
    text = s.format()
    assert "l1" in text and "#" in text


def test_per_layer_density_bits_and_masks():
    rng = np.random.default_rng(0)
    a = DenseLayer("a", rng.standard_normal((8, 6)), np.zeros(8), "relu")
    b = DenseLayer("b", rng.standard_normal((4, 8)), np.zeros(4), "none")
    m = compress([a, b], density={"a": 0.5, "b": 0.25}, weight_bits={"a": 3, "b": 2})
    assert [l.nnz for l in m.layers] == [24, 8] and [l.weight_bits for l in m.layers] == [3, 2]
    assert m.settings["layer_weight_bits"] == {"a": 3, "b": 2}
    with pytest.raises(ConfigError, match="unknown layers"):
        compress([a, b], weight_bits={"c": 3})
    # A mask is the sparsity; a density for that layer prunes further within it.
    mask = np.zeros((8, 6), bool)
    mask[:, :3] = True
    a.mask = mask
    m = compress([a, b], density=0.5)
    assert np.array_equal(m.layers[0].dense_codes() != 0, mask) and m.layers[1].nnz == 16
    m = compress([a, b], density=0.5, densities={"a": 0.25})
    kept = m.layers[0].dense_codes() != 0
    assert kept.sum() == 12 and not kept[:, 3:].any()
    assert m.settings["masks_respected"] == ["a"]
