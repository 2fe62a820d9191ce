"""ONNX graphs in: Gemm/MatMul(+Add)/Relu chains and LSTM nodes; everything else refused by name."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import eie  # noqa: E402
from eie.compression.report import dense_forward  # noqa: E402
from eie.errors import FormatError  # noqa: E402
from eie.frontend import load_model  # noqa: E402


def graph_file(tmp_path, nodes, inits, name="g.onnx", inp=("x", [1, 4]), out=("y", [1, 2])):
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(inp[0], TensorProto.FLOAT, inp[1])],
        [helper.make_tensor_value_info(out[0], TensorProto.FLOAT, out[1])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()],
    )
    path = tmp_path / name
    onnx.save(helper.make_model(g), path)
    return path


def test_gemm_matmul_add_relu_chain_by_hand(tmp_path):
    # y = relu(x @ B^T * 2 + c) then z = h @ M + d
    b = np.array([[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 1.0]], dtype=np.float32)  # 3x4
    c = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    m = np.array([[1.0, 2.0], [0.0, -1.0], [4.0, 0.5]], dtype=np.float32)  # 3x2 (in x out)
    d = np.array([1.0, -1.0], dtype=np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "B", "C"], ["h0"], name="fc1", transB=1, alpha=2.0),
        helper.make_node("Relu", ["h0"], ["h1"]),
        helper.make_node("MatMul", ["h1", "M"], ["h2"], name="fc2"),
        helper.make_node("Add", ["h2", "D"], ["y"]),
    ]
    imp = load_model(graph_file(tmp_path, nodes, {"B": b, "C": c, "M": m, "D": d}))
    fc1, fc2 = imp.layers
    np.testing.assert_array_equal(fc1.weight, 2.0 * b)
    np.testing.assert_array_equal(fc1.bias, c.astype(np.float64))
    assert (fc1.activation, fc2.activation) == ("relu", "none")
    np.testing.assert_array_equal(fc2.weight, m.T)
    np.testing.assert_array_equal(fc2.bias, d)
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    # by hand: x @ B^T = [6, 2.5, 13] -> *2 + c = [12.1, 4.8, 26.3]; relu same;
    # @ M = [12.1 + 105.2, 24.2 - 4.8 + 13.15] = [117.3, 32.55]; + d = [118.3, 31.55]
    np.testing.assert_allclose(dense_forward(imp.layers, x), [[118.3, 31.55]], rtol=1e-6)


def test_unsupported_nodes_are_refused_by_name(tmp_path):
    nodes = [
        helper.make_node("Gemm", ["x", "B"], ["h0"], name="fc1", transB=1),
        helper.make_node("LayerNormalization", ["h0", "S"], ["y"], name="norm1"),
    ]
    path = graph_file(tmp_path, nodes, {"B": np.ones((2, 4)), "S": np.ones(2)})
    with pytest.raises(FormatError, match="LayerNormalization node 'norm1'.*EIE runs fully-connected.*LSTM"):
        load_model(path)
    conv = [helper.make_node("Conv", ["x", "W"], ["y"], name="conv0")]
    path = graph_file(tmp_path, conv, {"W": np.ones((2, 1, 3))}, name="c.onnx")
    with pytest.raises(FormatError, match="Conv node 'conv0'"):
        load_model(path)


def torch_export(model, x, path):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        buf = io.BytesIO()
        try:
            torch.onnx.export(model, x, buf, dynamo=False)
        except Exception as e:  # pragma: no cover - depends on the torch build
            pytest.skip(f"torch cannot export ONNX here: {e}")
    path.write_bytes(buf.getvalue())
    return path


def test_torch_exported_onnx_mlp_compresses_bit_exact_on_csim(tmp_path, small_config):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 8), torch.nn.ReLU(), torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)
    )
    path = torch_export(model, torch.zeros(1, 10), tmp_path / "mlp.onnx")
    net = eie.from_onnx(path)
    x = np.random.default_rng(0).standard_normal((5, 10))
    with torch.no_grad():
        ref = model(torch.tensor(x, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(net.predict(x, backend="float"), ref, atol=1e-5)
    net.fixed_config = small_config
    # Per-layer bits: few weights in the last layer, so few centroids for it.
    names = [l.name for l in net.layers]
    net.compress(density=0.5, weight_bits={names[0]: 4, names[1]: 3, names[2]: 2})
    assert [l.weight_bits for l in net.compressed.layers] == [4, 3, 2]
    assert net.verify(x, backend="csim")["bit_exact"]


def test_torch_exported_onnx_stacked_lstm_imports(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    path = torch_export(lstm, torch.zeros(5, 1, 3), tmp_path / "lstm.onnx")
    imp = load_model(path)
    spec = imp.lstm.spec
    assert (spec.input_size, spec.hidden, spec.num_layers, spec.bidirectional) == (3, 4, 2, True)
    x = np.random.default_rng(1).standard_normal((2, 5, 3))  # B x T x I for the toolkit
    with torch.no_grad():
        ref, _ = lstm(torch.tensor(x, dtype=torch.float32).transpose(0, 1))
    np.testing.assert_allclose(imp.lstm.forward(x), ref.transpose(0, 1).double().numpy(), atol=1e-5)


def test_onnx_lstm_node_gate_order_by_hand(tmp_path):
    # H = 1, I = 1: ONNX stores gates i, o, f, c; only the f gate's input weight is nonzero.
    w = np.array([[[0.0], [0.0], [5.0], [0.0]]], dtype=np.float32)  # 1 x 4H x I
    r = np.zeros((1, 4, 1), dtype=np.float32)
    b = np.zeros((1, 8), dtype=np.float32)
    b[0, 3] = 1.0  # Wb of gate c (g in PyTorch's order)
    nodes = [helper.make_node("LSTM", ["x", "W", "R", "B"], ["y"], hidden_size=1)]
    path = graph_file(tmp_path, nodes, {"W": w, "R": r, "B": b}, inp=("x", [2, 1, 1]), out=("y", [2, 1, 1, 1]))
    cell = load_model(path).lstm.cells[0]
    # toolkit order i, f, g, o over columns [x | h]
    np.testing.assert_array_equal(cell.weight, [[0.0, 0.0], [5.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(cell.bias, [0.0, 0.0, 1.0, 0.0])
