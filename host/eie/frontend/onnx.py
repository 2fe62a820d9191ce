"""ONNX graphs in: chains of Gemm / MatMul(+Add) / Relu, and LSTM nodes.

Needs the ``onnx`` package (``pip install eie-pynq[onnx]``). The graph is read
in its (topological) node order:

- ``Gemm`` (transA=0) and ``MatMul`` with a constant weight, optionally
  followed by an ``Add`` of a constant bias, are a fully-connected layer;
  a ``Relu`` after one sets its activation;
- ``LSTM`` nodes (forward, reverse or bidirectional, default activations,
  no peepholes, clip or coupled input-forget gate) are LSTM layers, one per
  node, stacked in order; Linear layers after them form the head, which
  reads the top layer's output at the last step;
- layout operators (Identity, Dropout, Flatten, Reshape, Squeeze, Unsqueeze,
  Transpose, Shape, Gather, Slice, Concat, Constant, Cast) carry tensors
  between those and are skipped; a final Softmax/LogSoftmax is dropped (it
  does not change the arg-max) with a note.

Shape-only subgraphs are folded away first: a node none of whose inputs
depends on the input's values (only on its shape, through ``Shape``/``Size``,
or on constants) computes a shape or a constant, whatever its operator (the
``Mul`` of a batch size that ``torch.onnx.export(dynamo=True)`` writes for
a dynamic batch, say), and is not read as a layer. An LSTM's initial state
computed that way must trace back to zeros (``Expand``/``ConstantOfShape``
of a zero constant), since the runner starts from the zero state.

Any other node (convolutions, attention, normalisations ...) is refused by
name, because EIE runs fully-connected and LSTM layers.
"""

from __future__ import annotations

import numpy as np

from eie.compression.lstm import FloatLSTM, LSTMSpec
from eie.compression.weights import DenseLayer
from eie.errors import FormatError
from eie.frontend import UNSUPPORTED, Imported

LAYOUT_OPS = {
    "Identity",
    "Dropout",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Shape",
    "Gather",
    "Slice",
    "Concat",
    "Constant",
    "Cast",
    "ConstantOfShape",
    "Expand",
}
FINAL_OPS = {"Softmax", "LogSoftmax"}
# ONNX gate blocks are i, o, f, c; PyTorch's (and this toolkit's) i, f, g, o.
ONNX_TO_TORCH_GATES = (0, 2, 3, 1)


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise FormatError("reading ONNX needs the onnx package: pip install 'eie-pynq[onnx]'") from None
    return onnx, numpy_helper


def _attrs(node) -> dict:
    onnx, _ = _onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _gates_to_torch(w: np.ndarray, hidden: int) -> np.ndarray:
    blocks = [w[k * hidden : (k + 1) * hidden] for k in range(4)]
    return np.concatenate([blocks[k] for k in ONNX_TO_TORCH_GATES], axis=0)


def load_onnx(path: str) -> Imported:
    onnx, numpy_helper = _onnx()
    try:
        model = onnx.load(path)
    except Exception as e:
        raise FormatError(f"{path}: onnx could not read it ({str(e).splitlines()[0][:200]})") from None
    imp = from_graph(model.graph, numpy_helper, where=f"{path}: ")
    imp.source = path
    return imp


def _node_name(node) -> str:
    return f"{node.op_type} node {node.name!r}" if node.name else f"{node.op_type} node (output {node.output[0]!r})"


def from_graph(graph, numpy_helper=None, where: str = "") -> Imported:
    if numpy_helper is None:
        numpy_helper = _onnx()[1]
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            a = _attrs(node)
            if "value" in a:
                consts[node.output[0]] = numpy_helper.to_array(a["value"])
    on_data = _data_path(graph, consts)
    layers: list[DenseLayer] = []
    cells: list[DenseLayer] = []
    spec: LSTMSpec | None = None
    notes: list[str] = []
    last_fc_output: str | None = None
    pending_add: DenseLayer | None = None
    nodes = list(graph.node)
    producers = {o: n for n in nodes for o in n.output}
    for idx, node in enumerate(nodes):
        op = node.op_type
        if idx not in on_data:
            continue  # a shape or constant computation (module notes)
        if op == "LSTM":
            _check_zero_state(node, consts, producers, where)
        if op in ("Gemm", "MatMul"):
            a = _attrs(node)
            const_in = [x for x in node.input[:2] if x in consts]
            if len(const_in) != 1 or node.input[0] in consts:
                raise FormatError(f"{where}{_node_name(node)} multiplies two activations; EIE needs a constant weight")
            wmat = np.asarray(consts[node.input[1]], dtype=np.float64)
            if wmat.ndim != 2:
                raise FormatError(f"{where}{_node_name(node)} has a {wmat.ndim}-D weight; expected a matrix")
            if op == "Gemm":
                if a.get("transA", 0):
                    raise FormatError(f"{where}{_node_name(node)} uses transA=1, which is not a layer")
                weight = wmat if a.get("transB", 0) else wmat.T
                weight = weight * float(a.get("alpha", 1.0))
                bias = np.zeros(weight.shape[0])
                if len(node.input) > 2 and node.input[2]:
                    if node.input[2] not in consts:
                        raise FormatError(f"{where}{_node_name(node)}: its bias is not a constant")
                    c = np.asarray(consts[node.input[2]], dtype=np.float64).reshape(-1)
                    bias = np.broadcast_to(c, (weight.shape[0],)) * float(a.get("beta", 1.0))
            else:
                weight = wmat.T
                bias = np.zeros(weight.shape[0])
            name = node.name or f"fc{len(layers) + 1}"
            layer = DenseLayer(name, weight.copy(), np.array(bias, dtype=np.float64), "none")
            layers.append(layer)
            last_fc_output = node.output[0]
            pending_add = layer if op == "MatMul" else None
            continue
        if op == "Add" and pending_add is not None and last_fc_output in node.input:
            other = [x for x in node.input if x != last_fc_output]
            if len(other) == 1 and other[0] in consts:
                c = np.asarray(consts[other[0]], dtype=np.float64).reshape(-1)
                pending_add.bias = pending_add.bias + np.broadcast_to(c, pending_add.bias.shape)
                pending_add = None
                last_fc_output = node.output[0]
                continue
            raise FormatError(f"{where}{_node_name(node)} adds a non-constant; {UNSUPPORTED}")
        if op == "Relu":
            if not layers or last_fc_output not in node.input:
                raise FormatError(f"{where}{_node_name(node)} does not follow a Gemm/MatMul layer")
            layers[-1].activation = "relu"
            pending_add = None
            continue
        if op == "LSTM":
            if layers:
                raise FormatError(f"{where}{_node_name(node)} follows fully-connected layers; EIE runs LSTM then FC")
            cells_new, s = _lstm_node(node, consts, len(cells) // (spec.directions if spec else 1), where)
            if spec is None:
                spec = s
            else:
                if (s.hidden, s.bidirectional) != (spec.hidden, spec.bidirectional):
                    raise FormatError(f"{where}stacked LSTM nodes with different hidden sizes or directions")
                spec.num_layers += 1
            cells.extend(cells_new)
            continue
        if op in LAYOUT_OPS:
            continue
        if op in FINAL_OPS and all(n.op_type in LAYOUT_OPS or i not in on_data for i, n in enumerate(nodes) if i > idx):
            notes.append(f"dropped the final {op} (it does not change the arg-max); apply it on the host if needed")
            continue
        raise FormatError(f"{where}unsupported {_node_name(node)}: {UNSUPPORTED}")
    if spec is None and not layers:
        raise FormatError(f"{where}the graph has no Gemm, MatMul or LSTM nodes")
    for prev, nxt in zip(layers, layers[1:]):
        if nxt.weight.shape[1] != prev.weight.shape[0]:
            raise FormatError(
                f"{where}layer {nxt.name!r} takes {nxt.weight.shape[1]} inputs but {prev.name!r} gives "
                f"{prev.weight.shape[0]}"
            )
    if spec is None:
        return Imported(layers=layers, notes=notes)
    try:
        return Imported(lstm=FloatLSTM(spec, cells, layers), notes=notes)
    except FormatError as e:
        raise FormatError(f"{where}{e}") from None


SHAPE_OPS = {"Shape", "Size"}


def _data_path(graph, consts) -> set[int]:
    """Indices of the nodes that compute on the input's values (the rest compute shapes or constants)."""
    data = {i.name for i in graph.input if i.name not in consts}
    out = set()
    for idx, node in enumerate(graph.node):
        if node.op_type in SHAPE_OPS or node.op_type == "Constant":
            continue
        if any(x in data for x in node.input if x):
            out.add(idx)
            data.update(o for o in node.output if o)
    return out


_STATE_OPS = {"Expand", "ConstantOfShape", "Slice", "Reshape", "Unsqueeze", "Squeeze", "Identity", "Cast", "Tile"}


def _check_zero_state(node, consts, producers, where: str) -> None:
    """An LSTM's initial_h / initial_c computed at run time must be zeros (an Expand of a zero constant, say)."""
    numpy_helper = _onnx()[1]
    for k, what_in in ((5, "initial_h"), (6, "initial_c")):
        if len(node.input) <= k or not node.input[k] or node.input[k] in consts:
            continue  # absent, or a constant (checked with the node)
        name, value = node.input[k], None
        for _ in range(32):  # a short chain of layout operators back to its constant
            if name in consts:
                value = np.asarray(consts[name])
                break
            prod = producers.get(name)
            if prod is None or prod.op_type not in _STATE_OPS:
                raise FormatError(
                    f"{where}{_node_name(node)}: its {what_in} is computed at run time "
                    f"({'from the input' if prod is None else prod.op_type}); the runner starts from zero state"
                )
            if prod.op_type == "ConstantOfShape":
                a = _attrs(prod)
                value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1)
                break
            name = prod.input[0]
        if value is None:
            raise FormatError(f"{where}{_node_name(node)}: its {what_in} could not be traced to a constant")
        if np.any(value != 0):
            raise FormatError(f"{where}{_node_name(node)} has a nonzero {what_in}; the runner starts from zero state")


def _lstm_node(node, consts, layer: int, where: str) -> tuple[list[DenseLayer], LSTMSpec]:
    a = _attrs(node)
    what = _node_name(node)
    acts = [x.decode() if isinstance(x, bytes) else x for x in a.get("activations", [])]
    if acts and any(x != y for x, y in zip(acts, ["Sigmoid", "Tanh", "Tanh"] * 2)):
        raise FormatError(f"{where}{what} uses activations {acts}; EIE's host runs sigmoid/tanh only")
    if a.get("clip") is not None or a.get("input_forget", 0):
        raise FormatError(f"{where}{what} uses clip or input_forget, which EIE's LSTM cell does not have")
    if len(node.input) > 7 and node.input[7]:
        raise FormatError(f"{where}{what} has peephole weights (P), which EIE's LSTM cell does not have")
    for k, what_in in ((4, "sequence_lens"), (5, "initial_h"), (6, "initial_c")):
        if len(node.input) > k and node.input[k] and node.input[k] in consts:
            v = np.asarray(consts[node.input[k]])
            if k > 4 and np.any(v != 0):
                raise FormatError(f"{where}{what} has a nonzero {what_in}; the runner starts from zero state")
    try:
        w = np.asarray(consts[node.input[1]], dtype=np.float64)
        r = np.asarray(consts[node.input[2]], dtype=np.float64)
    except KeyError:
        raise FormatError(f"{where}{what}: its W and R weights must be constant initialisers") from None
    directions = w.shape[0]
    hidden = int(a.get("hidden_size", r.shape[-1]))
    b = None
    if len(node.input) > 3 and node.input[3]:
        if node.input[3] not in consts:
            raise FormatError(f"{where}{what}: its bias B must be a constant initialiser")
        b = np.asarray(consts[node.input[3]], dtype=np.float64)
    direction = a.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction == "reverse":
        raise FormatError(f"{where}{what}: a reverse-only LSTM is not supported (use forward or bidirectional)")
    bidirectional = direction == "bidirectional"
    if directions != (2 if bidirectional else 1):
        raise FormatError(f"{where}{what}: W has {directions} directions but direction={direction}")
    spec = LSTMSpec(w.shape[2], hidden, 1, bidirectional)
    cells = []
    for d in range(directions):
        wi = _gates_to_torch(w[d], hidden)
        wh = _gates_to_torch(r[d], hidden)
        bias = np.zeros(4 * hidden)
        if b is not None:
            bias = _gates_to_torch(b[d][: 4 * hidden], hidden) + _gates_to_torch(b[d][4 * hidden :], hidden)
        name = f"l{layer}" + (".reverse" if d == 1 else "")
        cells.append(DenseLayer(name, np.concatenate([wi, wh], axis=1), bias, "none"))
    return cells, spec
