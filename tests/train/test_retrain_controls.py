"""Issue 20: the retraining schedule from the CLI and the API, --data calibrates, one progress bar per stage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eie.cli import main
from eie.compression.model import CompressedModel
from eie.compression.weights import DenseLayer, save_weights
from eie.errors import ConfigError
from eie.train.retrain import RetrainConfig, retrain_config


def test_retrain_config_changes_only_what_is_given():
    base = RetrainConfig()
    assert retrain_config() == base
    c = retrain_config(epochs=3, lr=2e-3, finetune_epochs=1, batch_size=64)
    assert (c.retrain_epochs, c.ttq_epochs, c.finetune_epochs, c.batch_size) == (3, 3, 1, 64)
    # The fine-tuning and TTQ rates keep their ratio to the retraining rate (default 1e-3 : 2e-4 : 5e-4).
    assert c.retrain_lr == 2e-3 and c.finetune_lr == pytest.approx(4e-4) and c.ttq_lr == pytest.approx(1e-3)
    assert c.prune_steps == base.prune_steps
    with pytest.raises(ConfigError, match="--epochs"):
        retrain_config(epochs=0)
    with pytest.raises(ConfigError, match="--lr"):
        retrain_config(lr=-1.0)


@pytest.fixture
def small(tmp_path):
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((16, 12)), rng.standard_normal((4, 16))
    x = rng.uniform(0, 3, (160, 12))
    y = np.argmax(np.maximum(x @ w1.T, 0) @ w2.T, axis=1)
    save_weights(tmp_path / "w.npz", [DenseLayer("fc1", w1, np.zeros(16)), DenseLayer("fc2", w2, np.zeros(4), "none")])
    np.savez(tmp_path / "d.npz", x_train=x[:120], y_train=y[:120], x_test=x[120:], y_test=y[120:])
    return tmp_path, x


def test_cli_schedule_progress_and_data_calibration(small, capsys):
    d, x = small
    argv = ["compress", d / "w.npz", "-o", d / "m.npz", "--density", "0.5", "--data", d / "d.npz", "--retrain"]
    argv += ["--epochs", "2", "--finetune-epochs", "1", "--lr", "5e-4", "--batch-size", "16"]
    assert main([str(a) for a in argv]) == 0
    out, err = capsys.readouterr()
    # One bar per stage: prune+retrain runs 4 pruning steps x 2 epochs on one bar, then the centroids.
    assert "prune+retrain: 100%" in err and "8/8" in err and "centroids: 100%" in err and "1/1" in err
    assert "4/4" not in err and "2/2" not in err  # no bar per pruning step
    # --data calibrated the model on x_train (no --calib given): the peaks of the training inputs.
    assert f"calibration from {d / 'd.npz'} (x_train) (120 inputs" in out
    cal = CompressedModel.load(d / "m.npz").calibration
    assert cal["samples"] == 120 and cal["peaks"][0] == pytest.approx(np.abs(x[:120]).max())
    # The schedule needs retraining.
    assert main([str(a) for a in ["compress", d / "w.npz", "-o", d / "n.npz", "--epochs", "2"]]) == 2
    assert "--epochs set the retraining schedule: add --retrain" in capsys.readouterr()[1]


def test_schedule_changes_the_result(small, capsys):
    d, _ = small
    outs = []
    for epochs in ("1", "3"):
        argv = ["compress", d / "w.npz", "-o", d / f"m{epochs}.npz", "--data", d / "d.npz", "--retrain", "--json"]
        assert main([str(a) for a in argv + ["--epochs", epochs, "--finetune-epochs", "1"]]) == 0
        outs.append(json.loads(capsys.readouterr()[0]))
    a, b = (CompressedModel.load(d / f"m{e}.npz") for e in ("1", "3"))
    assert not np.array_equal(a.layers[0].codebook, b.layers[0].codebook)
