"""The one-object API: eie.from_torch(model) -> compress -> report / predict / verify / deploy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import eie  # noqa: E402
from eie.errors import ConfigError  # noqa: E402
from eie.train.retrain import RetrainConfig  # noqa: E402


def test_import_eie_stays_numpy_only():
    code = "import sys, eie; eie.from_torch; print(sorted(m for m in ('torch', 'onnx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_mlp_end_to_end(tmp_path, small_config):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
    x = rng.standard_normal((120, 8)).astype(np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    m = eie.from_torch(model)
    m.fixed_config = small_config
    with pytest.raises(ConfigError, match="compress"):
        m.predict(x, backend="compressed")
    with pytest.raises(ConfigError, match="needs data"):
        m.compress(retrain=True)
    fast = RetrainConfig(prune_steps=2, retrain_epochs=3, finetune_epochs=2, batch_size=16)
    m.compress(density=0.5, weight_bits=3, data=(x, y), retrain=True, retrain_config=fast)
    ref = model(torch.from_numpy(x[:4])).detach().double().numpy()
    np.testing.assert_allclose(m.predict(x[:4], backend="float"), ref, atol=1e-6)  # float64 vs float32
    rep = m.report(x, y)
    assert list(rep.scores) == ["float", "pruned (retrained)", "pruned + shared", "integer (emulator)"]
    assert rep.scores["float"] == 1.0
    # the integer path is the compressed float reference up to rounding
    assert abs(rep.scores["integer (emulator)"] - rep.scores["pruned + shared"]) <= 0.02
    assert [r["layer"] for r in rep.layers] == ["0", "2"] and all("output_error" in r for r in rep.layers)
    assert "accuracy on the test data" in rep.format()
    y_csim = m.predict(x[:10], backend="csim")
    np.testing.assert_array_equal(y_csim, m.predict(x[:10], backend="emulator"))
    assert m.verify(x[:10], backend="cosim")["bit_exact"]
    out = m.deploy(tmp_path / "dep")
    # The bundle `eie deploy` writes, for the fixed configuration.
    assert (tmp_path / "dep" / "model.img").stat().st_size % 8 == 0
    assert (tmp_path / "dep" / "manifest.json").exists() and out["next"].startswith("eie run ")
    assert (tmp_path / "dep" / "build").is_dir() and out["config"] == small_config.to_dict()


def test_report_without_data_warns_when_aggressive():
    torch.manual_seed(1)
    m = eie.from_torch(torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)))
    m.compress(density=0.1, weight_bits=4)
    rep = m.report()
    assert rep.scores == {} and len(rep.layers) == 2
    assert any("no retraining was done" in n for n in rep.notes)
    assert all(0 < r["weight_error"] <= 1 for r in rep.layers)


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


def test_lstm_network_runs_on_csim_and_deploys(tmp_path, small_config):
    torch.manual_seed(2)
    model = Classifier()
    x = np.random.default_rng(2).uniform(0, 1, (6, 5, 3))
    m = eie.from_torch(model)
    assert m.kind == "lstm"
    m.fixed_config = small_config
    m.compress(density=0.6, weight_bits=3, data=(x, np.zeros(6, dtype=np.int64)))
    rep = m.verify(x, backend="csim")
    assert rep["bit_exact"] and rep["kernel_runs"] == 2 * 5 + 1
    y = m.predict(x, backend="csim")
    assert np.max(np.abs(y - m.predict(x, backend="compressed"))) < 0.05
    out = m.deploy(tmp_path / "dep")
    assert [p.rsplit("/", 1)[1] for p in out["images"]] == ["0_l0.image.bin", "1_l1.image.bin", "2_fc.image.bin"]
    # What the board reads back (numpy only) runs the same integers.
    from eie.arithmetic.lstm import LSTMRunner, load_quant_lstm
    from eie.board.backends import make_backend

    back = LSTMRunner(load_quant_lstm(tmp_path / "dep"), make_backend("cosim", m.config()))
    np.testing.assert_array_equal(back.run(x), y)
