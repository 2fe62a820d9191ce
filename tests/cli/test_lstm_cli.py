"""Issue 20: compressed LSTM files go wherever models go (inspect, generate, verify, deploy, run),
the gate matrices on the kernel and the cell on the host; eie demo --lstm."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from eie.cli import main  # noqa: E402


class LSTMHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def lstm_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("lstm")
    torch.manual_seed(0)
    torch.save(LSTMHead().state_dict(), d / "lstm.pt")
    rng = np.random.default_rng(0)
    np.save(d / "seq.npy", rng.uniform(0, 1, (12, 6, 8)))
    assert main([str(a) for a in ("compress", d / "lstm.pt", "-o", d / "c.npz", "--density", "0.5",
                                  "--calib", d / "seq.npy")]) == 0  # fmt: skip
    return d


def test_inspect_verify_generate_read_a_compressed_lstm(lstm_file, tmp_path, capsys):
    d = lstm_file
    code, out, _ = run(capsys, "inspect", d / "c.npz", "--json")
    assert code == 0 and [l["name"] for l in json.loads(out)["layers"]] == ["l0", "fc"]
    code, out, err = run(capsys, "verify", d / "c.npz", "--backend", "emulator", "--json")
    rep = json.loads(out)
    assert code == 0 and rep["bit_exact"] and rep["network"] == "lstm"
    # 8 random sequences of 8 steps: one gate-matrix run per step, then the head.
    assert rep["kernel_runs"] == 8 + 1 and rep["outputs"] == 8 * (8 * 48) + 8 * 10
    code, out, err = run(capsys, "generate", d / "c.npz", "-o", tmp_path / "gen", "--json")
    assert code == 0 and json.loads(out)["lstm_images"] == ["0_l0.image.bin", "1_fc.image.bin"]
    assert (tmp_path / "gen" / "lstm" / "lstm.json").is_file()


def test_deploy_and_run_a_compressed_lstm_on_the_emulator_and_csim(lstm_file, tmp_path, capsys):
    from eie.compression.lstm import CompressedLSTM

    d = lstm_file
    code, out, err = run(capsys, "deploy", d / "c.npz", "-o", tmp_path / "b", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["lstm"]["spec"]["hidden"] == 12 and len(summary["lstm"]["images"]) == 2
    # The bundle's expected outputs are the emulator's, through the host cell, on the stored calibration.
    expected = np.load(tmp_path / "b" / "test_expected.npy")
    x = np.load(tmp_path / "b" / "test_inputs.npy")
    np.save(tmp_path / "x.npy", x)
    code, out, err = run(capsys, "run", tmp_path / "b", "--input", tmp_path / "x.npy", "-o", tmp_path / "ye.npy")
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "ye.npy"), expected)
    # Close to the compressed float reference (8 steps of fixed-point rounding).
    ref = CompressedLSTM.load(d / "c.npz").forward(x)
    assert np.abs(expected - ref).max() < 0.05 * max(1.0, np.abs(ref).max())
    code, out, err = run(capsys, "run", tmp_path / "b", "--input", tmp_path / "x.npy", "--backend", "csim",
                         "-o", tmp_path / "yc.npy")  # fmt: skip
    if code != 0 and "compiler" in err:  # pragma: no cover - no g++ here
        pytest.skip(err)
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "yc.npy"), expected)
    # An altered image is refused by name.
    img = tmp_path / "b" / "lstm" / "1_fc.image.bin"
    img.write_bytes(img.read_bytes()[:-8] + bytes(8))
    code, out, err = run(capsys, "run", tmp_path / "b", "--input", tmp_path / "x.npy")
    assert code == 2 and "lstm/1_fc.image.bin: its sha256 differs" in err


def test_demo_lstm_runs_the_lstm_demo_with_the_options_given(monkeypatch, capsys):
    import eie.demo_lstm as demo_lstm

    seen = {}

    def fake_run(opts, log=print):
        seen.update(opts.__dict__)
        return {"bit_exact": False, "accuracy": {}}

    monkeypatch.setattr(demo_lstm, "run", fake_run)
    code = main(
        ["demo", "--lstm", "--pes", "4", "--board", "pynq-z2", "--backend", "emulator", "--seed", "3", "--json"]
    )
    out = json.loads(capsys.readouterr()[0])
    # Its summary is printed and a kernel that differs from the emulator fails the command.
    assert code == 1 and out == {"bit_exact": False, "accuracy": {}}
    assert (seen["n_pes"], seen["board"], seen["backend"], seen["seed"]) == (4, "pynq-z2", "emulator", 3)
    assert main(["demo", "--lstm", "--config", "x.yaml"]) == 2
    assert "use --board and --pes instead of --config" in capsys.readouterr()[1]


def test_target_drop_searches_an_lstm_too(lstm_file, tmp_path, capsys):
    d = lstm_file
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (60, 6, 8))
    with torch.no_grad():  # labels the float LSTM itself gives: float accuracy 100 %
        torch.manual_seed(0)
        y = LSTMHead()(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy()
    np.savez(tmp_path / "d.npz", x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    argv = ["compress", d / "lstm.pt", "-o", tmp_path / "s.npz", "--data", tmp_path / "d.npz"]
    code, out, err = run(capsys, *argv, "--target-drop", "0.1", "--weight-bits", "8", "--json")
    assert code == 0, err
    search = json.loads(out)["search"]
    best = search["trials"][search["best"]]
    assert search["baseline"] == 1.0 and best["ok"] and best["size_bytes"] > 0
    assert all(t["size_bytes"] > 0 for t in search["trials"])
