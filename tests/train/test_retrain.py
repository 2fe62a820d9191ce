"""Deep Compression's schedule on imported networks (MLP and LSTM), and the trainable GateLSTM."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from eie.compression.lstm import CompressedLSTM, FloatLSTM  # noqa: E402
from eie.compression.pipeline import compress  # noqa: E402
from eie.compression.report import dense_forward, relative_l2  # noqa: E402
from eie.compression.weights import DenseLayer  # noqa: E402
from eie.train.lstm import from_nn_lstm  # noqa: E402
from eie.train.retrain import RetrainConfig, retrain_compress  # noqa: E402

FAST = RetrainConfig(prune_steps=2, retrain_epochs=3, finetune_epochs=2, ttq_epochs=3, batch_size=16)


def mlp_layers(rng, sizes=(6, 16, 12, 3)):
    out = []
    for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
        act = "relu" if i < len(sizes) - 2 else "none"
        out.append(DenseLayer(f"fc{i + 1}", rng.standard_normal((m, k)) / np.sqrt(k), np.zeros(m), act))
    return out


def test_retrain_keeps_densities_and_shares_weights():
    rng = np.random.default_rng(0)
    layers = mlp_layers(rng)
    x = rng.standard_normal((200, 6)).astype(np.float32)
    y = np.argmax(dense_forward(layers, x), axis=1)
    res = retrain_compress(layers, x, y, density={"fc1": 0.5, "fc2": 0.25, "fc3": 0.5}, weight_bits=3, config=FAST)
    m = res.model
    assert [l.name for l in m.layers] == ["fc1", "fc2", "fc3"]
    assert [l.nnz for l in m.layers] == [48, 48, 18]
    assert all(l.weight_bits == 3 and l.kind == "shared" and l.codes.max() <= 7 for l in m.layers)
    # The pruned stage has the same zeros as the compressed model.
    for p, c in zip(res.pruned, m.layers):
        np.testing.assert_array_equal(p.weight != 0, c.dense_codes() != 0)
    assert set(res.losses) == {"prune", "centroids"}
    # Retraining recovers what pruning alone loses on the labels it was trained on.
    plain = compress(layers, density={"fc1": 0.5, "fc2": 0.25, "fc3": 0.5}, weight_bits=3)
    acc = lambda out: float(np.mean(np.argmax(out, axis=1) == y))  # noqa: E731
    assert acc(m.forward(x)) > acc(plain.forward(x))


def test_ternary_middle_layers_and_regression_loss():
    rng = np.random.default_rng(1)
    layers = mlp_layers(rng, (4, 10, 8, 2))
    x = rng.standard_normal((160, 4)).astype(np.float32)
    t = dense_forward(layers, x).astype(np.float32)  # regression targets
    res = retrain_compress(layers, x, t, density=0.5, weight_bits=4, ternary=True, config=FAST)
    assert [l.kind for l in res.model.layers] == ["shared", "ternary", "shared"]
    assert set(np.unique(res.model.layers[1].codes)) <= {1, 2}
    assert res.losses["ttq"] >= 0 and relative_l2(t, res.model.forward(x)) < 1.0


def test_gate_lstm_computes_like_nn_lstm_and_retrains():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    head = nn.Linear(8, 2)
    g = from_nn_lstm(lstm, head)
    x = torch.randn(5, 6, 3)
    with torch.no_grad():
        out, _ = lstm(x)
        torch.testing.assert_close(g(x), head(out[:, -1, :]), atol=1e-6, rtol=1e-5)
    flt = g.to_float()
    assert isinstance(flt, FloatLSTM) and [l.name for l in flt.layers][-1] == "fc1"
    y = torch.argmax(g(x), dim=1).numpy()
    res = retrain_compress(flt, x.numpy(), y, density=0.5, weight_bits=3, config=FAST)
    assert isinstance(res.model, CompressedLSTM)
    assert [round(l.density, 2) for l in res.model.layers] == [0.5] * 5
    assert res.model.forward(x.numpy()).shape == (5, 2)
