"""PyTorch models in: state_dicts, whole modules (weights_only), pruning masks, LSTMs."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import eie  # noqa: E402
from eie.compression.lstm import CompressedLSTM, compress_lstm, load_lstm_weights  # noqa: E402
from eie.errors import FormatError  # noqa: E402
from eie.frontend import load_model  # noqa: E402
from eie.frontend.torch import from_module  # noqa: E402
from eie.train.convert import save_module_weights  # noqa: E402


def mlp(seed=0, sizes=(12, 10, 6, 4)):
    torch.manual_seed(seed)
    mods = OrderedDict()
    for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
        mods[f"fc{i + 1}"] = nn.Linear(k, m)
        if i < len(sizes) - 2:
            mods[f"relu{i + 1}"] = nn.ReLU()
    return nn.Sequential(mods)


class Custom(nn.Module):  # a class of the test's own: unpickling it would run this module's code
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)


def w(t):
    return t.detach().double().numpy()


def test_state_dict_pt_reads_layers_in_order(tmp_path):
    model = mlp()
    path = tmp_path / "m.pt"
    torch.save(model.state_dict(), path)
    imp = load_model(path)
    assert imp.kind == "mlp"
    assert [l.name for l in imp.layers] == ["fc1", "fc2", "fc3"]
    assert [l.activation for l in imp.layers] == ["relu", "relu", "none"]
    np.testing.assert_array_equal(imp.layers[1].weight, w(model.fc2.weight))
    np.testing.assert_array_equal(imp.layers[2].bias, w(model.fc3.bias))
    # A checkpoint dict holding the state_dict is read the same way.
    torch.save({"epoch": 3, "state_dict": model.state_dict()}, tmp_path / "ckpt.pth")
    np.testing.assert_array_equal(load_model(tmp_path / "ckpt.pth").layers[0].weight, w(model.fc1.weight))
    torch.save({"epoch": 3, "weights": model.state_dict()}, tmp_path / "other.pth")
    with pytest.raises(FormatError, match="'epoch' is a int, not a tensor"):
        load_model(tmp_path / "other.pth")


def test_whole_module_loads_with_weights_only_and_custom_classes_need_opt_in(tmp_path):
    model = mlp()
    torch.save(model, tmp_path / "whole.pt")
    imp = load_model(tmp_path / "whole.pt")
    np.testing.assert_array_equal(imp.layers[0].weight, w(model.fc1.weight))

    torch.save(Custom(), tmp_path / "custom.pt")
    with pytest.raises(FormatError, match="trust_pickle"):
        load_model(tmp_path / "custom.pt")
    imp = load_model(tmp_path / "custom.pt", trust_pickle=True)
    assert [l.name for l in imp.layers] == ["fc"]


def test_unsupported_layers_are_refused_by_name(tmp_path):
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    torch.save(conv.state_dict(), tmp_path / "conv.pt")
    with pytest.raises(FormatError, match=r"'0.weight' has shape \(2, 1, 3, 3\).*EIE runs fully-connected"):
        load_model(tmp_path / "conv.pt")
    with pytest.raises(FormatError, match="Conv2d.*EIE runs fully-connected.*LSTM"):
        from_module(conv)
    norm = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    with pytest.raises(FormatError, match="LayerNorm"):
        from_module(norm)


def test_nn_utils_prune_masks_are_the_sparsity(tmp_path, small_config):
    import torch.nn.utils.prune as prune

    model = mlp(1)
    prune.l1_unstructured(model.fc1, "weight", amount=0.7)
    prune.random_unstructured(model.fc2, "weight", amount=0.5)
    mask1 = w(model.fc1.weight_mask) != 0
    mask2 = w(model.fc2.weight_mask) != 0
    # The module as it is, and its state_dict (weight_orig + weight_mask) both keep the masks.
    torch.save(model.state_dict(), tmp_path / "pruned.pt")
    for net in (eie.from_torch(model), eie.load(tmp_path / "pruned.pt")):
        np.testing.assert_array_equal(net.layers[0].mask, mask1)
        net.fixed_config = small_config
        # density only applies to the layer without a mask (fc3)
        net.compress(density=0.5, weight_bits=4)
        c1, c2, c3 = net.compressed.layers
        np.testing.assert_array_equal(c1.dense_codes() != 0, mask1)
        np.testing.assert_array_equal(c2.dense_codes() != 0, mask2)
        assert c3.nnz == round(0.5 * 6 * 4)
    x = np.random.default_rng(0).standard_normal((6, 12))
    assert net.verify(x, backend="csim")["bit_exact"]


def test_ao_pruning_masks_are_the_sparsity():
    from torch.ao.pruning import WeightNormSparsifier

    model = mlp(2)
    sp = WeightNormSparsifier(sparsity_level=0.75, sparse_block_shape=(1, 1), zeros_per_block=1)
    sp.prepare(model, [{"tensor_fqn": "fc1.weight"}])
    sp.step()
    mask = w(model.fc1.parametrizations.weight[0].mask) != 0
    assert mask.mean() == 0.25
    net = eie.from_torch(model)
    net.compress(density=1.0)
    np.testing.assert_array_equal(net.compressed.layers[0].dense_codes() != 0, mask)
    # Its state_dict lacks the masks: refused with what to do.
    with pytest.raises(FormatError, match="squash_mask"):
        from eie.frontend.torch import from_state_dict

        from_state_dict(model.state_dict())


def test_state_dict_pt_compresses_bit_exact_on_csim(tmp_path, small_config):
    model = mlp(3)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    net = eie.load(tmp_path / "sd.pt")
    net.fixed_config = small_config
    net.compress(density=0.3, weight_bits=4)
    x = np.random.default_rng(1).standard_normal((8, 12))
    rep = net.verify(x, backend="csim")
    assert rep["bit_exact"] and rep["outputs"] == 8 * 4


# ------------------------------------------------------------------- LSTMs


def lstm_ref(lstm, x):
    with torch.no_grad():
        out, _ = lstm(torch.tensor(x, dtype=torch.float32))
    return out.double().numpy()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stacked_lstm_state_dict_imports_and_computes_like_torch(tmp_path, bidirectional):
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 4, num_layers=2, bidirectional=bidirectional, batch_first=True)
    torch.save(lstm.state_dict(), tmp_path / "lstm.pt")
    imp = load_model(tmp_path / "lstm.pt")
    assert imp.kind == "lstm"
    spec = imp.lstm.spec
    assert (spec.input_size, spec.hidden, spec.num_layers, spec.bidirectional) == (5, 4, 2, bidirectional)
    x = np.random.default_rng(0).standard_normal((3, 6, 5))
    np.testing.assert_allclose(imp.lstm.forward(x), lstm_ref(lstm, x), atol=1e-6)
    # The same from the module.
    np.testing.assert_allclose(from_module(lstm).lstm.forward(x), lstm_ref(lstm, x), atol=1e-6)


@pytest.mark.parametrize("mode", ["concat", "stacked", "gates"])
def test_lstm_weights_file_in_every_mode_reads_back_and_compresses(tmp_path, mode):
    torch.manual_seed(1)
    lstm = nn.LSTM(3, 2, num_layers=2, bidirectional=True, batch_first=True)
    head = nn.Linear(4, 3)
    path = tmp_path / f"{mode}.npz"
    save_module_weights(path, lstm, lstm_mode=mode, head=head)
    back = load_lstm_weights(path)
    assert [c.name for c in back.cells] == ["l0", "l0.reverse", "l1", "l1.reverse"]
    np.testing.assert_allclose(
        back.cells[3].weight,
        np.concatenate([w(lstm.weight_ih_l1_reverse), w(lstm.weight_hh_l1_reverse)], axis=1),
        atol=1e-7,
    )
    x = np.random.default_rng(2).standard_normal((2, 4, 3))
    with torch.no_grad():
        ref = head(torch.tensor(lstm_ref(lstm, x)[:, -1, :], dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(back.forward(x), ref, atol=1e-5)
    # what eie compress does with it
    imp = load_model(path)
    comp = compress_lstm(imp.lstm, density=0.5, weight_bits=3)
    comp.save(tmp_path / "c.npz")
    again = CompressedLSTM.load(tmp_path / "c.npz")
    assert [l.nnz for l in again.layers] == [l.nnz for l in comp.layers]
    np.testing.assert_array_equal(again.forward(x), comp.forward(x))


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


def test_lstm_with_head_module_reads_as_lstm_then_head():
    torch.manual_seed(3)
    model = Classifier()
    imp = from_module(model)
    assert imp.kind == "lstm" and [l.name for l in imp.lstm.head] == ["fc"]
    x = np.random.default_rng(3).standard_normal((4, 5, 3))
    with torch.no_grad():
        ref = model(torch.tensor(x, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(imp.lstm.forward(x), ref, atol=1e-6)
