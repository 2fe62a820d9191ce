"""PyTorch models in: ``nn.Module``s, state_dicts and ``.pt``/``.pth`` files.

What is read:

- an ``nn.Sequential`` (nested ones flattened) of ``nn.Linear`` with ``nn.ReLU``
  between them (Dropout, Identity and Flatten are skipped);
- an ``nn.LSTM`` (stacked, bidirectional), alone or followed by Linear layers
  (a module whose children are one LSTM then Linear/ReLU layers; the head
  reads the top layer's output at the last step);
- a state_dict: ``<layer>.weight``/``<layer>.bias`` in order (ReLU between
  layers, as in the weights ``.npz``), or an LSTM's ``weight_ih_l0`` ...

Pruned models: a layer pruned with ``torch.nn.utils.prune`` (``weight_orig``
and ``weight_mask``) or ``torch.ao.pruning`` (a ``FakeSparsity``
parametrization) keeps exactly the weights its mask keeps.

Files are loaded with ``torch.load(weights_only=True)``. A pickled whole
module is accepted when every class it names is one of torch's own (the
``torch.nn`` modules and pruning helpers); a module of your own class needs
``trust_pickle=True``, because unpickling it runs code from the file.
"""

from __future__ import annotations

import importlib
import re
from collections import OrderedDict

import numpy as np

from eie.compression.lstm import FloatLSTM, LSTMSpec
from eie.compression.weights import DenseLayer
from eie.errors import FormatError
from eie.frontend import UNSUPPORTED, Imported

SAFE_PREFIXES = (
    "torch.nn.modules.",
    "torch.nn.utils.prune.",
    "torch.nn.utils.parametrize.",
    "torch.nn.utils.parametrizations.",
    "torch.ao.pruning.",
    "torch.nn.parameter.",
)
SAFE_NAMES = ("collections.OrderedDict", "builtins.set", "torch._utils._rebuild_parameter")
_LSTM_KEY = re.compile(r"^(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy().copy()


def _resolve(name: str):
    mod, _, attr = name.rpartition(".")
    obj = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def load_torch_file(path: str, trust_pickle: bool = False) -> Imported:
    """Read a ``.pt``/``.pth``: a state_dict, a checkpoint dict holding one, or a whole module."""
    import torch

    try:
        if trust_pickle:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        else:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
            refused = [g for g in unsafe if not (g.startswith(SAFE_PREFIXES) or g in SAFE_NAMES)]
            if refused:
                raise FormatError(
                    f"{path}: the file pickles {', '.join(sorted(refused)[:3])}"
                    f"{' ...' if len(refused) > 3 else ''}, which loading would run as code. Save the "
                    "state_dict instead (torch.save(model.state_dict(), path)), or, if you trust the file, "
                    "pass trust_pickle=True (eie compress --trust-pickle)"
                )
            allowed = [_resolve(g) for g in unsafe]
            with torch.serialization.safe_globals(allowed):
                obj = torch.load(path, map_location="cpu", weights_only=True)
    except FormatError:
        raise
    except Exception as e:  # torch raises many types for unreadable files
        raise FormatError(f"{path}: torch.load could not read it ({str(e).splitlines()[0][:200]})") from None
    if isinstance(obj, torch.nn.Module):
        imp = from_module(obj)
    elif isinstance(obj, dict):
        sd = obj
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                sd = obj[key]
                break
        imp = from_state_dict(sd, where=f"{path}: ")
    else:
        raise FormatError(f"{path}: holds a {type(obj).__name__}, not a state_dict or an nn.Module")
    imp.source = str(path)
    return imp


# -- modules -------------------------------------------------------------------


def _mask_of(module) -> np.ndarray | None:
    """The keep-mask of a pruned module's weight, or None."""
    mask = getattr(module, "weight_mask", None)
    if mask is not None:  # torch.nn.utils.prune
        return _np(mask) != 0
    params = getattr(module, "parametrizations", None)
    if params is not None and "weight" in params:
        for p in params["weight"]:
            if hasattr(p, "mask"):  # torch.ao.pruning's FakeSparsity
                return _np(p.mask) != 0
    return None


def _linear_layers(seq) -> list[DenseLayer]:
    from torch import nn

    from eie.train.convert import SKIPPED_TYPES, _flat_children
    from eie.train.sharing import SharedLinear
    from eie.train.ttq import TTQLinear

    linear = (nn.Linear, SharedLinear, TTQLinear)
    children = [(n, c) for n, c in _flat_children(seq) if not isinstance(c, SKIPPED_TYPES)]
    out: list[DenseLayer] = []
    for i, (name, child) in enumerate(children):
        if isinstance(child, nn.ReLU):
            if i == 0 or not isinstance(children[i - 1][1], linear):
                raise FormatError(f"ReLU {name!r} does not follow a Linear layer; EIE fuses ReLU into the layer before")
            continue
        if not isinstance(child, linear):
            raise FormatError(f"layer {name!r} is a {type(child).__name__}: {UNSUPPORTED}")
        relu = i + 1 < len(children) and isinstance(children[i + 1][1], nn.ReLU)
        w = child.ternary_weight() if isinstance(child, TTQLinear) else child.weight
        b = np.zeros(w.shape[0]) if child.bias is None else _np(child.bias)
        out.append(DenseLayer(name, _np(w), b, "relu" if relu else "none", _mask_of(child)))
    if not out:
        raise FormatError("the model has no Linear layers")
    return out


def _lstm(lstm) -> FloatLSTM:
    from eie.train.convert import lstm_layers, lstm_spec

    return FloatLSTM(lstm_spec(lstm), lstm_layers(lstm, "concat"))


def from_module(model) -> Imported:
    """An ``nn.Module`` as the toolkit's layers (see the module notes for what is read)."""
    from torch import nn

    from eie.errors import ConfigError

    try:
        if isinstance(model, nn.LSTM):
            return Imported(lstm=_lstm(model), source=type(model).__name__)
        if isinstance(model, nn.Sequential):
            kids = list(model.children())
            if kids and isinstance(kids[0], nn.LSTM):
                raise FormatError(
                    "an nn.LSTM inside nn.Sequential returns a tuple; wrap the LSTM and its head in a module"
                )
            return Imported(layers=_linear_layers(model), source=type(model).__name__)
        kids = list(model.named_children())
        if kids and isinstance(kids[0][1], nn.LSTM):
            lstm = _lstm(kids[0][1])
            head = _linear_layers(nn.Sequential(OrderedDict(kids[1:]))) if len(kids) > 1 else []
            note = (
                f"read {type(model).__name__} as its LSTM then its Linear layers in definition order, "
                "the head reading the last step's output"
            )
            imported = Imported(lstm=FloatLSTM(lstm.spec, lstm.cells, head), source=type(model).__name__, notes=[note])
            # The LSTM path reads the definition order, not forward(): check it computes what forward() does.
            _check_against_module(model, imported, batch_first=kids[0][1].batch_first)
            return imported
        bad = [f"{n} ({type(c).__name__})" for n, c in model.named_modules() if _unsupported_module(c)]
        if bad:
            raise FormatError(
                f"cannot read a {type(model).__name__}: it contains {', '.join(bad[:4])}; "
                f"{UNSUPPORTED}, in an nn.Sequential or an nn.LSTM followed by Linear layers"
            )
        layers = traced_layers(model)
        note = f"read {type(model).__name__} from a torch.fx trace of its forward()"
        imported = Imported(layers=layers, source=type(model).__name__, notes=[note])
        _check_against_module(model, imported)
        return imported
    except ConfigError as e:
        raise FormatError(str(e)) from None


def _check_against_module(model, imported: Imported, batch_first: bool = True, tol: float = 1e-4) -> None:
    """Refuse, saying so, when the layers read compute other outputs than ``model(x)`` (eval mode, random x)."""
    import torch

    from eie.compression.report import dense_forward

    rng = np.random.default_rng(0)
    if imported.lstm is not None:
        x = rng.normal(size=(3, 4, imported.lstm.spec.input_size))
        want_in = torch.as_tensor(x if batch_first else x.transpose(1, 0, 2), dtype=torch.float32)
        got = imported.lstm.forward(x)
    else:
        x = rng.normal(size=(3, np.shape(imported.layers[0].weight)[1]))
        want_in = torch.as_tensor(x, dtype=torch.float32)
        got = dense_forward(imported.layers, x)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            out = model(want_in)
    except Exception as e:  # the module's own forward refuses the input the layers read take
        raise FormatError(
            f"{type(model).__name__}: its forward() does not take the {tuple(want_in.shape)} input its layers read "
            f"imply ({type(e).__name__}: {str(e).splitlines()[0][:160]}); {UNSUPPORTED}"
        ) from None
    finally:
        for m, t in modes.items():
            m.train(t)
    want = out.detach().double().numpy() if isinstance(out, torch.Tensor) else None
    if want is None or want.shape != got.shape or not np.allclose(got, want, rtol=tol, atol=tol):
        raise FormatError(
            f"{type(model).__name__}: the layers read ({', '.join(imported.notes) or 'in definition order'}) do not "
            "compute what its forward() does; write it as an nn.Sequential of Linear/ReLU, or an LSTM whose "
            "Linear head reads the last step's output"
        )


# Operations of a traced forward() that are a ReLU, or pass the value through unchanged (eval mode).
_RELU_FUNCS = ("relu", "relu_")
_PASS_FUNCS = ("dropout", "flatten", "identity", "contiguous")


def _op_name(node) -> str:
    """How a traced node reads in the source: ``torch.sigmoid``, ``x.view()``, ``self.act``."""
    if node.op == "call_function":
        mod = getattr(node.target, "__module__", None) or ""
        name = getattr(node.target, "__name__", str(node.target))
        return f"{mod}.{name}" if mod else name
    if node.op == "call_method":
        return f"x.{node.target}()"
    return f"self.{node.target}"


def traced_layers(model) -> list[DenseLayer]:
    """The Linear/ReLU chain of ``model.forward`` as PyTorch runs it (a torch.fx trace).

    ``F.relu``, ``torch.relu``, ``x.relu()`` and ``nn.ReLU`` all mark the layer
    before as ReLU; Dropout, Identity and flattening the input pass the value
    through. Anything else (another function, a branch, a second input, a
    parameter used outside a Linear, a ReLU before any Linear) is refused by
    name: EIE runs a chain of fully-connected layers.
    """
    from torch import fx, nn

    from eie.train.convert import SKIPPED_TYPES
    from eie.train.sharing import SharedLinear
    from eie.train.ttq import TTQLinear

    linear = (nn.Linear, SharedLinear, TTQLinear)
    cls = type(model).__name__

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return isinstance(m, (*linear, nn.ReLU, *SKIPPED_TYPES)) or super().is_leaf_module(m, qualname)

    try:
        graph = _Tracer().trace(model)
    except Exception as e:  # torch.fx raises TraceError, TypeError, ... on code it cannot trace
        raise FormatError(
            f"cannot trace {cls}.forward with torch.fx ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            "write it without data-dependent control flow, or pass an nn.Sequential"
        ) from None
    mods = dict(model.named_modules())
    out: list[DenseLayer] = []
    relu: list[bool] = []
    current = None  # the node holding the chain's value
    shape_nodes: set = set()  # x.size(...) / x.shape of the chain's value: arguments of a view, not data
    for node in graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise FormatError(f"{cls}.forward takes more than one input ({node.target!r}); EIE runs one")
            current = node
            continue
        if node.op == "output":
            if node.args[0] is not current:
                raise FormatError(f"{cls}.forward returns {node.args[0]!r}, not the last layer's output alone")
            continue
        args = [a for a in node.args if isinstance(a, fx.Node)] + [
            a for a in node.kwargs.values() if isinstance(a, fx.Node)
        ]
        if (args == [current] and _is_shape_read(node)) or (args and all(a in shape_nodes for a in args)):
            shape_nodes.add(node)
            continue
        args = [a for a in args if a not in shape_nodes]
        if args != [current]:
            raise FormatError(
                f"{cls}.forward: {_op_name(node)} (node {node.name!r}) does not take the previous layer's output "
                "alone; EIE runs a chain of Linear layers (no branches, sums or constants)"
            )
        if node.op == "call_module":
            m = mods[node.target]
            if isinstance(m, linear):
                w = m.ternary_weight() if isinstance(m, TTQLinear) else m.weight
                b = np.zeros(w.shape[0]) if m.bias is None else _np(m.bias)
                out.append((str(node.target), _np(w), b, _mask_of(m)))
                relu.append(False)
            elif isinstance(m, nn.ReLU):
                _mark_relu(out, relu, node, cls)
            elif not isinstance(m, SKIPPED_TYPES):
                raise FormatError(f"{cls}.forward calls {node.target!r} ({type(m).__name__}): {UNSUPPORTED}")
        elif node.op in ("call_function", "call_method"):
            name = node.target if node.op == "call_method" else getattr(node.target, "__name__", "")
            if name in _RELU_FUNCS:
                _mark_relu(out, relu, node, cls)
            elif name in _PASS_FUNCS and (out == [] or name != "flatten"):
                pass
            elif name in ("view", "reshape", "flatten") and not out:
                pass  # flattening the input before the first layer: the model takes flat vectors
            else:
                raise FormatError(f"{cls}.forward uses {_op_name(node)} (node {node.name!r}): {UNSUPPORTED}")
        else:
            raise FormatError(f"{cls}.forward reads {_op_name(node)} (node {node.name!r}) outside a Linear layer")
        current = node
    if not out:
        raise FormatError(f"{cls}.forward has no Linear layers")
    return [DenseLayer(n, w, b, "relu" if r else "none", mask) for (n, w, b, mask), r in zip(out, relu)]


def _is_shape_read(node) -> bool:
    """``x.size(...)``, ``x.shape`` or ``x.shape[0]``-style reads: they give a view its shape, not data."""

    if node.op == "call_method" and node.target in ("size", "dim"):
        return True
    return node.op == "call_function" and node.target is getattr and node.args[1:] == ("shape",)


def _mark_relu(out: list, relu: list, node, cls: str) -> None:
    if not out or relu[-1]:
        raise FormatError(
            f"{cls}.forward: ReLU {node.name!r} does not follow a Linear layer; EIE fuses ReLU into the layer before"
        )
    relu[-1] = True


def _unsupported_module(m) -> bool:
    from torch import nn

    ok = (nn.Linear, nn.ReLU, nn.LSTM, nn.Sequential, nn.Dropout, nn.Identity, nn.Flatten)
    return not isinstance(m, ok) and len(list(m.children())) == 0


# -- state dicts -----------------------------------------------------------------


def from_state_dict(sd, where: str = "") -> Imported:
    """A state_dict of Linear layers (ReLU between them) or of one LSTM (and a Linear head)."""
    import torch

    arrays: OrderedDict[str, np.ndarray] = OrderedDict()
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise FormatError(f"{where}entry {k!r} is a {type(v).__name__}, not a tensor: is this a state_dict?")
        arrays[k] = _np(v)
    return from_arrays(arrays, where)


def from_arrays(arrays, where: str = "") -> Imported:
    names: list[str] = []  # layer prefixes in order
    w: dict[str, np.ndarray] = {}
    b: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray] = {}
    lstm: dict[str, dict[str, np.ndarray]] = OrderedDict()
    for key, a in arrays.items():
        prefix, _, leaf = key.rpartition(".")
        m = _LSTM_KEY.match(leaf)
        if m:
            lstm.setdefault(prefix, {})[leaf] = a
            continue
        if key.endswith(".parametrizations.weight.original"):
            raise FormatError(
                f"{where}{key!r}: a torch.ao.pruning model's state_dict holds the weights without their masks; "
                "call sparsifier.squash_mask() before saving, or pass the module itself"
            )
        if leaf in ("weight", "weight_orig"):
            if a.ndim != 2:
                raise FormatError(
                    f"{where}{key!r} has shape {a.shape}: a {a.ndim}-D weight (convolution or norm?); {UNSUPPORTED}"
                )
            names.append(prefix)
            w[prefix] = a
        elif leaf == "weight_mask":
            masks[prefix] = a != 0
        elif leaf == "bias":
            b[prefix] = a
        elif leaf in ("running_mean", "running_var", "num_batches_tracked", "in_proj_weight"):
            raise FormatError(f"{where}{key!r} belongs to a normalisation or attention layer; {UNSUPPORTED}")
        else:
            raise FormatError(f"{where}unexpected entry {key!r}; {UNSUPPORTED}")
    if len(lstm) > 1:
        raise FormatError(f"{where}{len(lstm)} LSTMs ({', '.join(lstm)}); one LSTM (and a Linear head) is supported")
    layers = []
    for i, n in enumerate(names):
        weight = w[n]
        bias = b.get(n, np.zeros(weight.shape[0]))
        mask = masks.get(n)
        if mask is not None:
            weight = weight * mask
        act = "relu" if i < len(names) - 1 else "none"
        layers.append(DenseLayer(n, weight, np.asarray(bias, dtype=np.float64), act, mask))
    for prev, nxt in zip(layers, layers[1:]):
        if nxt.weight.shape[1] != prev.weight.shape[0]:
            raise FormatError(
                f"{where}{nxt.name}.weight takes {nxt.weight.shape[1]} inputs but {prev.name}.weight gives "
                f"{prev.weight.shape[0]} outputs"
            )
    if not lstm:
        if not layers:
            raise FormatError(f"{where}no '<layer>.weight' tensors found")
        return Imported(layers=layers)
    ((prefix, t),) = lstm.items()
    return Imported(lstm=_lstm_from_arrays(t, layers, where))


def _lstm_from_arrays(t: dict[str, np.ndarray], head: list[DenseLayer], where: str) -> FloatLSTM:
    from eie.compression.lstm import cell_names

    num_layers = 1 + max(int(_LSTM_KEY.match(k).group(3)) for k in t)
    bidirectional = any(k.endswith("_reverse") for k in t)
    if "weight_ih_l0" not in t:
        raise FormatError(f"{where}the LSTM has no weight_ih_l0")
    w_ih = t["weight_ih_l0"]
    hidden = w_ih.shape[0] // 4
    spec = LSTMSpec(w_ih.shape[1], hidden, num_layers, bidirectional)
    cells = []
    for k, name in enumerate(cell_names(num_layers, bidirectional)):
        l = k // spec.directions
        sfx = "_reverse" if name.endswith(".reverse") else ""
        try:
            wi, wh = t[f"weight_ih_l{l}{sfx}"], t[f"weight_hh_l{l}{sfx}"]
        except KeyError as e:
            raise FormatError(f"{where}the LSTM lacks {e.args[0]}") from None
        if wh.shape[1] != hidden:
            raise FormatError(
                f"{where}weight_hh_l{l}{sfx} has shape {wh.shape}: an LSTM with proj_size is not supported"
            )
        bias = t.get(f"bias_ih_l{l}{sfx}", np.zeros(4 * hidden)) + t.get(f"bias_hh_l{l}{sfx}", np.zeros(4 * hidden))
        cells.append(DenseLayer(name, np.concatenate([wi, wh], axis=1), bias, "none"))
    try:
        return FloatLSTM(spec, cells, head)
    except FormatError as e:
        raise FormatError(f"{where}{e}") from None
