"""``eie compress`` on the models users have: .pt, pruned modules, ONNX, LSTMs; data, retraining, reports."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from eie.cli import main  # noqa: E402
from eie.compression.lstm import CompressedLSTM  # noqa: E402
from eie.compression.model import CompressedModel  # noqa: E402


def run_json(capsys, *argv):
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out.strip().splitlines()[-1])


def mlp(seed, sizes=(12, 10, 6, 4)):
    torch.manual_seed(seed)
    mods = OrderedDict()
    for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
        mods[f"fc{i + 1}"] = nn.Linear(k, m)
        if i < len(sizes) - 2:
            mods[f"relu{i + 1}"] = nn.ReLU()
    return nn.Sequential(mods)


@pytest.mark.slow
def test_digits_mlp_retrained_at_density_01_keeps_accuracy_within_one_point(tmp_path, capsys):
    from eie.train.digits import DigitsConfig, load_data
    from eie.train.digits import mlp as digits_mlp
    from eie.train.loop import FitConfig, fit

    x_train, y_train, x_test, y_test = load_data(DigitsConfig())
    torch.set_num_threads(1)
    model = digits_mlp([64, 300, 100, 10])
    fit(model, torch.from_numpy(x_train), torch.from_numpy(y_train), FitConfig(20, 1e-3, 32), seed=0)
    torch.save(model.state_dict(), tmp_path / "digits.pt")
    np.savez(tmp_path / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    s = run_json(
        capsys, "compress", str(tmp_path / "digits.pt"), "-o", str(tmp_path / "m.npz"),
        "--density", "0.1", "--data", str(tmp_path / "data.npz"), "--retrain",
    )
    scores = s["report"]["scores"]
    assert s["retrained"] and s["report"]["metric"] == "accuracy"
    assert set(scores) == {"float", "pruned (retrained)", "pruned + shared", "integer (emulator)"}
    assert scores["float"] > 0.95
    assert scores["integer (emulator)"] >= scores["float"] - 0.01
    assert [r["density"] for r in s["layers"]] == [0.1, 0.1, 0.1]
    # The model written is what was scored.
    m = CompressedModel.load(tmp_path / "m.npz")
    assert np.mean(m.forward(x_test).argmax(axis=1) == y_test) == pytest.approx(scores["pruned + shared"])

    # Without --retrain the same density loses accuracy, and the text says so.
    code = main(["compress", str(tmp_path / "digits.pt"), "-o", str(tmp_path / "n.npz"),
                 "--data", str(tmp_path / "data.npz")])
    text = capsys.readouterr().out
    assert code == 0 and "accuracy on the test data" in text and "float" in text
    assert "no retraining was done" in text


@pytest.fixture
def config_yaml(tmp_path, small_config):
    path = tmp_path / "small.yaml"
    small_config.to_yaml(path)
    return str(path)


def verify_csim(capsys, model_path, config_yaml):
    r = run_json(capsys, "verify", model_path, "--config", config_yaml, "--backend", "csim", "--vectors", "6")
    assert r["bit_exact"] and r["mismatches"] == 0


def test_pruned_module_state_dict_and_onnx_compress_and_verify_on_csim(tmp_path, capsys, config_yaml):
    import torch.nn.utils.prune as prune

    # torch.nn.utils.prune: a whole module saved with torch.save, masks kept
    pruned = mlp(1)
    prune.l1_unstructured(pruned.fc1, "weight", amount=0.6)
    torch.save(pruned, tmp_path / "pruned.pt")
    s = run_json(capsys, "compress", str(tmp_path / "pruned.pt"), "-o", str(tmp_path / "p.npz"), "--weight-bits", "3")
    assert s["layers"][0]["nnz"] == int(pruned.fc1.weight_mask.sum())
    m = CompressedModel.load(tmp_path / "p.npz")
    np.testing.assert_array_equal(m.layers[0].dense_codes() != 0, pruned.fc1.weight_mask.numpy() != 0)
    verify_csim(capsys, str(tmp_path / "p.npz"), config_yaml)

    # a state_dict .pt, per-layer density and bits
    torch.save(mlp(2).state_dict(), tmp_path / "sd.pt")
    s = run_json(
        capsys, "compress", str(tmp_path / "sd.pt"), "-o", str(tmp_path / "s.npz"),
        "--density", "fc1=0.5,fc2=0.3,fc3=0.5", "--weight-bits", "fc1=4,fc2=3,fc3=2",
    )
    assert [r["nnz"] for r in s["layers"]] == [60, 18, 12]
    assert [r["weight_bits"] for r in s["layers"]] == [4, 3, 2]
    verify_csim(capsys, str(tmp_path / "s.npz"), config_yaml)

    # an ONNX MLP
    pytest.importorskip("onnx")
    import io
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(mlp(3), torch.zeros(1, 12), buf, dynamo=False)
    (tmp_path / "m.onnx").write_bytes(buf.getvalue())
    s = run_json(capsys, "compress", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "o.npz"), "--density", "0.4",
                 "--weight-bits", "3")
    assert len(s["layers"]) == 3
    verify_csim(capsys, str(tmp_path / "o.npz"), config_yaml)


def test_stacked_lstm_weights_file_compresses(tmp_path, capsys):
    from eie.train.convert import save_module_weights

    torch.manual_seed(0)
    lstm = nn.LSTM(4, 3, num_layers=2)
    save_module_weights(tmp_path / "lstm.npz", lstm, lstm_mode="gates")
    s = run_json(capsys, "compress", str(tmp_path / "lstm.npz"), "-o", str(tmp_path / "c.npz"), "--density", "0.5")
    assert s["network"] == "lstm" and [r["name"] for r in s["layers"]] == ["l0", "l1"]
    assert [r["shape"] for r in s["layers"]] == [[12, 7], [12, 6]]
    c = CompressedLSTM.load(tmp_path / "c.npz")
    assert c.spec.num_layers == 2 and [l.nnz for l in c.layers] == [42, 36]


def test_refusals_and_reports_without_data(tmp_path, capsys):
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    torch.save(conv.state_dict(), tmp_path / "conv.pt")
    assert main(["compress", str(tmp_path / "conv.pt"), "-o", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert "'0.weight'" in err and "EIE runs fully-connected" in err and "LSTM" in err

    torch.save(mlp(4).state_dict(), tmp_path / "sd.pt")
    assert main(["compress", str(tmp_path / "sd.pt"), "-o", str(tmp_path / "x.npz"), "--retrain"]) == 2
    assert "--data" in capsys.readouterr().err

    assert main(["compress", str(tmp_path / "sd.pt"), "-o", str(tmp_path / "x.npz")]) == 0
    text = capsys.readouterr().out
    assert "weight reconstruction error" in text and "no retraining was done" in text


def test_sensitivity_scan_suggests_densities_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    model = mlp(5, (8, 16, 3))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    s = run_json(
        capsys, "compress", str(tmp_path / "m.pt"), "-o", str(tmp_path / "c.npz"), "--data", str(tmp_path / "d.npz"),
        "--sensitivity", "--target-drop", "0.05", "--plot", str(tmp_path / "scan.png"),
    )
    sens = s["sensitivity"]
    assert sens["baseline"] == 1.0 and set(sens["table"]) == {"fc1", "fc2"}
    assert all(v[0] == 1.0 for v in sens["table"].values())  # density 100 % changes nothing
    # the suggestion is the lowest scanned density within the drop
    for layer, d in sens["suggested_densities"].items():
        ok = [dd for dd, v in zip(sens["densities"], sens["table"][layer]) if 1.0 - v <= 0.05]
        assert d == min(ok)
    assert (tmp_path / "scan.png").stat().st_size > 1000
