"""Retraining in PyTorch: conversion, masked retraining, centroid fine-tuning, TTQ, the digits pipeline."""

import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from eie.compression.lstm import load_lstm_weights  # noqa: E402
from eie.compression.model import CompressedLayer, CompressedModel  # noqa: E402
from eie.compression.weights import load_weights  # noqa: E402
from eie.errors import ConfigError, FormatError  # noqa: E402
from eie.format.storage import storage_report  # noqa: E402
from eie.train.convert import (  # noqa: E402
    dense_layers,
    lstm_layers,
    save_module_weights,
    sequential_from_layers,
)
from eie.train.export import to_compressed_model  # noqa: E402
from eie.train.pruning import MaskSet, density_schedule, iterative_prune  # noqa: E402
from eie.train.sharing import SharedLinear  # noqa: E402
from eie.train.ttq import TTQLinear  # noqa: E402


def small_mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(6, 8),
            relu1=nn.ReLU(),
            drop=nn.Dropout(0.1),
            fc2=nn.Linear(8, 5),
            relu2=nn.ReLU(),
            fc3=nn.Linear(5, 3),
        )
    )


# ---------------------------------------------------------------- conversion


def test_package_import_does_not_import_torch():
    code = "import sys, eie.train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_dense_layers_read_linear_relu_stack_and_round_trip(tmp_path):
    model = small_mlp()
    layers = dense_layers(model)
    assert [l.name for l in layers] == ["fc1", "fc2", "fc3"]
    assert [l.activation for l in layers] == ["relu", "relu", "none"]
    np.testing.assert_array_equal(layers[1].weight, model.fc2.weight.detach().double().numpy())
    np.testing.assert_array_equal(layers[2].bias, model.fc3.bias.detach().double().numpy())

    path = tmp_path / "w.npz"
    save_module_weights(path, model)
    back = load_weights(path)
    assert [l.name for l in back] == ["fc1", "fc2", "fc3"]
    for a, b in zip(layers, back):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.bias, b.bias)
        assert a.activation == b.activation

    rebuilt = sequential_from_layers(back)
    x = torch.randn(4, 6)
    model.eval()
    np.testing.assert_array_equal(rebuilt(x).detach().numpy(), model(x).detach().numpy())


def test_nested_sequential_and_refused_modules():
    model = nn.Sequential(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), nn.Flatten(), nn.Linear(4, 2))
    assert [l.activation for l in dense_layers(model)] == ["relu", "none"]
    with pytest.raises(ConfigError, match="Conv1d"):
        dense_layers(nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1)))
    with pytest.raises(ConfigError, match="nn.Sequential"):
        dense_layers(nn.Linear(3, 4))


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_lstm_concat_export_computes_the_lstm_step(tmp_path):
    torch.manual_seed(1)
    lstm = nn.LSTM(input_size=5, hidden_size=3, num_layers=1)
    (layer,) = lstm_layers(lstm, "concat")
    assert layer.weight.shape == (12, 8) and layer.activation == "none"
    # One step, with the gate non-linearities done on the host as EIE does.
    x = np.random.default_rng(0).normal(size=(2, 5))
    h = np.zeros(3)
    c = np.zeros(3)
    outs = []
    for t in range(2):
        z = layer.weight @ np.concatenate([x[t], h]) + layer.bias
        i, f, g, o = _sigmoid(z[0:3]), _sigmoid(z[3:6]), np.tanh(z[6:9]), _sigmoid(z[9:12])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    ref, _ = lstm(torch.tensor(x, dtype=torch.float32).unsqueeze(1))
    np.testing.assert_allclose(np.array(outs), ref.squeeze(1).detach().numpy(), atol=1e-6)

    # The weights file describes the LSTM; the plain reader points to the LSTM reader.
    save_module_weights(tmp_path / "lstm.npz", lstm)
    with pytest.raises(FormatError, match="LSTM weights file"):
        load_weights(tmp_path / "lstm.npz")
    (back,) = load_lstm_weights(tmp_path / "lstm.npz").cells
    assert back.name == "l0" and back.weight.shape == (12, 8)
    np.testing.assert_allclose(back.weight, layer.weight, atol=1e-7)


def test_lstm_stacked_and_gates_modes():
    lstm = nn.LSTM(input_size=4, hidden_size=2, num_layers=2)
    stacked = lstm_layers(lstm, "stacked")
    assert [(l.name, l.weight.shape) for l in stacked] == [
        ("l0.ih", (8, 4)),
        ("l0.hh", (8, 2)),
        ("l1.ih", (8, 2)),
        ("l1.hh", (8, 2)),
    ]
    gates = lstm_layers(lstm, "gates")
    assert [l.name for l in gates[:8]] == [f"l0.{p}.{g}" for p in ("ih", "hh") for g in "ifgo"]
    w_ih = lstm.weight_ih_l0.detach().double().numpy()
    np.testing.assert_array_equal(gates[2].weight, w_ih[4:6])  # the g gate: rows 2H..3H
    np.testing.assert_array_equal(gates[7].bias, lstm.bias_hh_l0.detach().double().numpy()[6:8])
    with pytest.raises(ConfigError, match="mode"):
        lstm_layers(lstm, "rows")


# ---------------------------------------------------------------- pruning


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
        lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=1e-2),
    ],
    ids=["sgd-momentum", "adam"],
)
def test_masks_hold_through_optimiser_steps(make_opt):
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(0))
    y = torch.arange(32) % 3

    def run(hold_masks):
        model = small_mlp()
        opt = make_opt(model.parameters())

        def step():
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        for _ in range(3):  # momentum / moment estimates from before pruning
            step()
        masks = MaskSet.by_magnitude(model, {"fc1": 0.25, "fc2": 0.5})
        before = {n: p.detach().clone() for n, p in masks.params.items()}
        if hold_masks:
            masks.attach(opt)
        else:  # zeroing the gradients only: not enough
            opt.register_step_pre_hook(lambda *_: masks.zero_masked_grads())
        for _ in range(5):
            step()
        return masks, before

    masks, before = run(hold_masks=True)
    for name, p in masks.params.items():
        m = masks.masks[name]
        assert torch.all(p[~m] == 0)
        assert torch.any(p[m] != before[name][m])  # the kept weights did train
    assert masks.density() == {"fc1": 12 / 48, "fc2": 20 / 40}

    masks, _ = run(hold_masks=False)
    assert any(torch.any(p[~masks.masks[n]] != 0) for n, p in masks.params.items())


def test_iterative_prune_gives_nested_masks_at_target_density():
    assert density_schedule(0.125, 3) == pytest.approx([0.5, 0.25, 0.125])
    model = small_mlp()
    seen = []

    def retrain(masks):
        seen.append(masks.numpy())
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        masks.attach(opt)
        x = torch.randn(16, 6)
        for _ in range(3):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()

    final = iterative_prune(model, {"fc1": 0.125, "fc2": 0.25}, retrain, steps=3)
    assert len(seen) == 3
    assert [int(s["fc1"].sum()) for s in seen] == [24, 12, 6]
    for a, b in zip(seen, seen[1:]):
        assert not np.any(b["fc1"] & ~a["fc1"]) and not np.any(b["fc2"] & ~a["fc2"])
    assert np.count_nonzero(model.fc1.weight.detach().numpy()) == 6
    assert np.count_nonzero(model.fc2.weight.detach().numpy()) == 10
    assert final.nnz() == 16


# ---------------------------------------------------------------- weight sharing


def test_centroid_gradient_is_the_sum_of_shared_weight_gradients():
    codes = np.array([[1, 2, 0], [2, 1, 1]])
    codebook = np.array([0.0, 0.5, -1.0, 0.25])
    layer = SharedLinear(codes, codebook, bias=np.zeros(2))
    np.testing.assert_array_equal(layer.weight.detach().numpy(), [[0.5, -1.0, 0.0], [-1.0, 0.5, 0.5]])
    x = torch.tensor([[1.0, 2.0, 3.0]])
    c = torch.tensor([[2.0, -1.0]])
    lr = 0.1
    opt = torch.optim.SGD([layer.centroids], lr=lr)
    opt.zero_grad()
    (layer(x) * c).sum().backward()
    opt.step()
    # dL/dW[i, j] = c_i x_j: [[2, 4, 6], [-1, -2, -3]].
    # code 1 at (0,0), (1,1), (1,2): 2 - 2 - 3 = -3; code 2 at (0,1), (1,0): 4 - 1 = 3;
    # code 3 unused: 0. Position (0,2) is pruned and stays zero.
    np.testing.assert_allclose(layer.centroids.detach().numpy(), [0.5 + lr * 3, -1.0 - lr * 3, 0.25], rtol=1e-6)
    np.testing.assert_array_equal(layer.codes.numpy(), codes)
    assert float(layer.weight.detach()[0, 2]) == 0.0
    assert float(layer.codebook().detach()[0]) == 0.0


def test_shared_linear_from_pruned_linear_keeps_positions():
    torch.manual_seed(3)
    lin = nn.Linear(20, 10)
    masks = MaskSet.by_magnitude(nn.Sequential(OrderedDict(fc=lin)), {"fc": 0.3})
    keep = masks.numpy()["fc"]
    layer = SharedLinear.from_linear(lin, weight_bits=3, mask=keep)
    assert layer.centroids.numel() == 7
    np.testing.assert_array_equal(layer.codes.numpy() != 0, keep)
    w = lin.weight.detach().numpy()
    # Every kept weight is replaced by its nearest centroid.
    cents = layer.centroids.detach().numpy()
    nearest = np.abs(w[keep][:, None] - cents[None, :]).min(axis=1)
    np.testing.assert_allclose(np.abs(w[keep] - layer.weight.detach().numpy()[keep]), nearest, atol=1e-6)
    with pytest.raises(ConfigError, match="codebook\\[0\\]"):
        SharedLinear(np.ones((2, 2)), np.array([1.0, 2.0]))


# ---------------------------------------------------------------- TTQ


def test_ttq_forward_has_three_values_and_paper_gradients():
    w = torch.tensor([[1.0, -0.6], [0.2, 0.5]])
    layer = TTQLinear(w, torch.zeros(2), threshold=0.3, wp=2.0, wn=3.0)
    assert float(layer.delta()) == pytest.approx(0.3)
    np.testing.assert_array_equal(layer.ternary_weight().detach().numpy(), [[2.0, -3.0], [0.0, 2.0]])
    x = torch.tensor([[1.0, -2.0]])
    c = torch.tensor([[3.0, 5.0]])
    (layer(x) * c).sum().backward()
    # g = dL/dw^t = c x^T = [[3, -6], [5, -10]]. Ip = {(0,0), (1,1)}, In = {(0,1)}, Iz = {(1,0)}.
    assert float(layer.wp.grad) == pytest.approx(3.0 - 10.0)
    # w^t = -Wn on In, so dL/dWn = -sum_In g = -(-6).
    assert float(layer.wn.grad) == pytest.approx(6.0)
    np.testing.assert_allclose(layer.weight.grad.numpy(), [[2.0 * 3, 3.0 * -6], [5.0, 2.0 * -10]])

    # Wp/Wn gradients agree with autograd through an explicit three-valued weight.
    wp = torch.tensor(2.0, requires_grad=True)
    wn = torch.tensor(3.0, requires_grad=True)
    pos = (w > 0.3).float()
    neg = (w < -0.3).float()
    wt = wp * pos - wn * neg
    (nn.functional.linear(x, wt) * c).sum().backward()
    assert float(wp.grad) == pytest.approx(float(layer.wp.grad))
    assert float(wn.grad) == pytest.approx(float(layer.wn.grad))


def test_ttq_layer_stays_ternary_while_training():
    torch.manual_seed(0)
    layer = TTQLinear.from_linear(nn.Linear(30, 20))
    opt = torch.optim.Adam(layer.parameters(), lr=0.01)
    x = torch.randn(64, 30)
    target = torch.randn(64, 20)
    wp0, wn0 = float(layer.wp.detach()), float(layer.wn.detach())
    for _ in range(5):
        opt.zero_grad()
        (layer(x) - target).pow(2).mean().backward()
        opt.step()
    vals = torch.unique(layer.ternary_weight().detach())
    assert vals.numel() == 3
    np.testing.assert_allclose(vals.numpy(), [-float(layer.wn.detach()), 0.0, float(layer.wp.detach())], rtol=1e-6)
    assert (float(layer.wp.detach()), float(layer.wn.detach())) != (wp0, wn0)
    codes = layer.codes()
    assert set(np.unique(codes)) == {0, 1, 2}
    np.testing.assert_array_equal(layer.codebook()[codes], layer.ternary_weight().detach().double().numpy())


# ---------------------------------------------------------------- export


def test_export_mixed_model_to_compressed_model():
    torch.manual_seed(2)
    model = small_mlp()
    model.fc1 = SharedLinear.from_linear(model.fc1, weight_bits=4, mask=np.abs(model.fc1.weight.detach().numpy()) > 0.2)
    model.fc2 = TTQLinear.from_linear(model.fc2, threshold=0.3)
    model.fc3 = SharedLinear.from_linear(model.fc3, weight_bits=4)
    cm = to_compressed_model(model)
    assert [(l.name, l.kind, l.weight_bits, l.shape, l.activation) for l in cm.layers] == [
        ("fc1", "shared", 4, (8, 6), "relu"),
        ("fc2", "ternary", 2, (5, 8), "relu"),
        ("fc3", "shared", 4, (3, 5), "none"),
    ]
    t = cm.layers[1]
    np.testing.assert_array_equal(t.codebook, [0.0, float(model.fc2.wp.detach()), -float(model.fc2.wn.detach()), 0.0])
    tw = model.fc2.ternary_weight().detach().numpy()
    assert t.nnz == np.count_nonzero(tw) < tw.size  # zeros are not kept positions
    assert cm.layers[0].nnz == np.count_nonzero(np.abs(model[0].weight.detach().numpy()) > 0)
    model.eval()
    x = np.random.default_rng(0).uniform(size=(7, 6)).astype(np.float32)
    np.testing.assert_allclose(cm.forward(x), model(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="Linear"):
        to_compressed_model(small_mlp())


def test_compression_ratio_by_hand():
    shared = CompressedLayer.from_dense_codes(
        "a", np.array([[1, 0, 0, 2], [0, 0, 3, 0]]), np.arange(16) * 0.1, np.ones(2)
    )
    tern = CompressedLayer.from_dense_codes(
        "b", np.array([[1, 2], [0, 0], [0, 1]]), [0.0, 0.5, -0.5, 0.0], np.ones(3), weight_bits=2, kind="ternary"
    )
    cm = CompressedModel([shared, tern])
    # The one storage definition (eie.format.storage), Deep Compression's figure (one PE), 4-bit indices.
    rep = storage_report(cm, n_pes=1, index_bits=4)
    a, b = rep.layers
    # Layer a (2 x 4): entries (column-major) (1, z=0) col 0, (3, z=1) col 2, (2, z=0) col 3; no padding.
    # Codes 3 x 4 bits -> 2 bytes; indices 3 x 4 bits -> 2 bytes; centroids 1..3 -> 12 bytes;
    # bias 2 floats -> 8 bytes; pointers 0..3 in 2 bits, 1 x 5 of them = 10 bits -> 2 bytes.
    fields = ("entries", "code_bytes", "index_bytes", "codebook_bytes", "bias_bytes", "pointer_bytes")
    assert [getattr(a, f) for f in fields] == [3, 2, 2, 12, 8, 2]
    assert (a.total_bytes, a.dense_bytes) == (26, 4 * (8 + 2))
    # Layer b (3 x 2, ternary): col 0 rows 0 and 2 -> (1, 0), (1, 1); col 1 row 0 -> (2, 0).
    # Codes 3 x 2 bits -> 1 byte; indices 2 bytes; centroids 1..2 -> 8; bias 12; pointers 3 x 2 bits -> 1.
    assert [getattr(b, f) for f in fields] == [3, 1, 2, 8, 12, 1]
    assert (b.total_bytes, b.dense_bytes) == (24, 4 * (6 + 3))
    assert rep.compression_ratio == pytest.approx(76 / 50)
    # Huffman: a's codes {1,3,2} -> 1+2+2 bits, its indices {0:2, 1:1} -> 3 bits, 1 byte each;
    # b's codes {1:2, 2:1} and indices {0:2, 1:1} -> 3 bits each, 1 byte each.
    assert rep.compression_ratio_huffman == pytest.approx(76 / ((1 + 1 + 22) + (1 + 1 + 21)))


# ---------------------------------------------------------------- pipeline


def test_digits_fast_pipeline_runs_every_stage():
    from eie.train import digits

    r = digits.run(fast=True, progress=False, seed=0)
    for cm, kinds in ((r.compressed, ["shared"] * 3), (r.ternary, ["shared", "ternary", "shared"])):
        assert [l.kind for l in cm.layers] == kinds
        assert [l.shape for l in cm.layers] == [(300, 64), (100, 300), (10, 100)]
        assert [l.activation for l in cm.layers] == ["relu", "relu", "none"]
    assert [l.weight_bits for l in r.ternary.layers] == [4, 2, 4]
    assert [l.nnz for l in r.compressed.layers] == [1920, 2100, 250]  # 10 %, 7 %, 25 % kept
    assert 0.08 <= r.density <= 0.10
    assert storage_report(r.compressed, n_pes=1, index_bits=4).compression_ratio >= 20
    assert r.x_test.shape == (540, 64) and r.y_test.shape == (540,)
    assert r.x_calib.shape[1] == 64 and r.x_test.min() >= 0 and r.x_test.max() <= 1
    # Accuracy recomputed here from the exported model, far above chance (10 %).
    for cm, reported in ((r.compressed, r.compressed_accuracy), (r.ternary, r.ternary_accuracy)):
        acc = np.mean(cm.forward(r.x_test).argmax(axis=1) == r.y_test)
        assert acc == reported and acc > 0.8
    assert r.float_accuracy > 0.8
    # Calibration images are training images.
    x_train, _, x_test, _ = digits.load_data(r.config)
    np.testing.assert_array_equal(x_test, r.x_test)
    train_rows = {row.tobytes() for row in x_train}
    assert all(row.tobytes() in train_rows for row in r.x_calib)


def test_digits_all_ternary_option_and_reproducibility():
    from dataclasses import replace

    from eie.train import digits

    config = replace(digits.FAST, ternary_first_last=True, float_epochs=2, ttq_epochs=1)
    a = digits.run(progress=False, seed=4, config=config)
    b = digits.run(progress=False, seed=4, config=config)
    assert [l.kind for l in a.ternary.layers] == ["ternary"] * 3
    for la, lb in zip(a.ternary.layers + a.compressed.layers, b.ternary.layers + b.compressed.layers):
        np.testing.assert_array_equal(la.codes, lb.codes)
        np.testing.assert_array_equal(la.codebook, lb.codebook)
    assert a.ternary_accuracy == b.ternary_accuracy
