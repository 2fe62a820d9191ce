"""Issue 20: ONNX as torch exports it today (torch.onnx.export with a dynamic batch, dynamo and TorchScript
exporters); shape-only subgraphs are folded before reading."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
from onnx import TensorProto, helper  # noqa: E402
from torch import nn  # noqa: E402

import eie  # noqa: E402
from eie.errors import FormatError  # noqa: E402
from eie.frontend.onnx import load_onnx  # noqa: E402


class LSTMHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def export(model, x, path, dynamo: bool):
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(model, (x,), path, input_names=["x"], dynamo=True,
                              dynamic_shapes=({0: torch.export.Dim("batch")},))  # fmt: skip
        else:
            torch.onnx.export(model, (x,), path, input_names=["x"], dynamo=False, dynamic_axes={"x": {0: "batch"}})


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
def test_dynamic_batch_lstm_export_loads_computes_like_torch_and_compresses(tmp_path, dynamo):
    torch.manual_seed(0)
    model = LSTMHead()
    x = torch.randn(3, 6, 8)
    export(model, x, tmp_path / "m.onnx", dynamo)
    if dynamo:  # the export computes its batch size with arithmetic on Shape: that subgraph is folded
        ops = {n.op_type for n in onnx.load(tmp_path / "m.onnx").graph.node}
        assert "Mul" in ops and "Shape" in ops
    net = eie.from_onnx(str(tmp_path / "m.onnx"))
    xs = np.random.default_rng(1).normal(size=(4, 6, 8))  # another batch size than the export's
    with torch.no_grad():
        want = model(torch.as_tensor(xs, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(net.predict(xs, backend="float"), want, rtol=1e-5, atol=1e-5)
    net.compress(density=0.5, weight_bits=6)
    assert net.compressed.spec.hidden == 12
    assert np.abs(net.predict(xs, backend="compressed") - want).max() < 0.2


def test_dynamic_batch_mlp_export_loads(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 4))
    export(model, torch.randn(2, 10), tmp_path / "m.onnx", dynamo=True)
    imp = load_onnx(str(tmp_path / "m.onnx"))
    assert [l.activation for l in imp.layers] == ["relu", "none"]
    xs = np.random.default_rng(2).normal(size=(5, 10))
    with torch.no_grad():
        want = model(torch.as_tensor(xs, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(eie.from_onnx(str(tmp_path / "m.onnx")).predict(xs, backend="float"), want, atol=1e-5)


def lstm_graph(initial_value: float):
    """A hand-made LSTM node whose initial_h is an Expand of a constant to a shape computed from the input."""
    h, i = 2, 3
    rng = np.random.default_rng(0)
    inits = [
        helper.make_tensor("W", TensorProto.FLOAT, (1, 4 * h, i), rng.normal(size=4 * h * i).tolist()),
        helper.make_tensor("R", TensorProto.FLOAT, (1, 4 * h, h), rng.normal(size=4 * h * h).tolist()),
        helper.make_tensor("v", TensorProto.FLOAT, (), [initial_value]),
        helper.make_tensor("two", TensorProto.INT64, (1,), [2]),
    ]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Mul", ["s", "two"], ["s2"]),  # shape arithmetic: folded
        helper.make_node("Expand", ["v", "s2"], ["h0"]),
        helper.make_node("LSTM", ["x", "W", "R", "", "", "h0"], ["y"], hidden_size=h),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ("T", "B", i))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph)


def test_initial_state_computed_from_shapes_must_be_zero(tmp_path):
    onnx.save(lstm_graph(0.0), tmp_path / "zero.onnx")
    assert load_onnx(str(tmp_path / "zero.onnx")).lstm.spec.hidden == 2
    onnx.save(lstm_graph(0.5), tmp_path / "half.onnx")
    with pytest.raises(FormatError, match="nonzero initial_h; the runner starts from zero state"):
        load_onnx(str(tmp_path / "half.onnx"))
