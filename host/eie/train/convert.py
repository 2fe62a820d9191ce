"""Torch modules to and from the toolkit's float layers and weights file.

Fully-connected stacks: an ``nn.Sequential`` (nested ones are flattened) of
``nn.Linear`` layers with ``nn.ReLU`` between them. A layer's activation is
``relu`` when a ReLU follows it, else ``none``. Dropout, Identity and Flatten
are identities at inference and are skipped; any other module is refused,
because the toolkit could not run it. ``SharedLinear`` and ``TTQLinear``
export their effective (dequantised) weights.

LSTMs: EIE runs an LSTM step as matrix-vector products whose results the host
feeds through the gate non-linearities. ``lstm_layers`` exports the gate
matrices of every LSTM layer l, in PyTorch's gate order i, f, g, o:

- ``mode="concat"`` (default): one layer ``l{l}`` of shape 4H x (I + H),
  ``[W_ih | W_hh]`` applied to ``[x_t; h_{t-1}]``, bias ``b_ih + b_hh``. One
  sparse product per time step, as EIE does it; a one-layer LSTM exported
  this way is a valid weights file for ``eie compress``.
- ``mode="stacked"``: ``l{l}.ih`` (4H x I, bias b_ih) and ``l{l}.hh``
  (4H x H, bias b_hh).
- ``mode="gates"``: eight H-row layers ``l{l}.ih.i`` ... ``l{l}.hh.o``.

All LSTM layers have activation ``none``. ``save_module_weights`` writes any
of the layouts, for stacked and bidirectional LSTMs too, with an ``__lstm__``
entry that lets ``eie compress`` (``eie.compression.lstm``) rebuild the
network.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from eie.compression.weights import DenseLayer, save_weights
from eie.errors import ConfigError
from eie.train.sharing import SharedLinear
from eie.train.ttq import TTQLinear

LINEAR_TYPES = (nn.Linear, SharedLinear, TTQLinear)
SKIPPED_TYPES = (nn.Dropout, nn.Identity, nn.Flatten)
LSTM_MODES = ("concat", "stacked", "gates")
GATES = ("i", "f", "g", "o")


def _flat_children(seq: nn.Sequential, prefix: str = "") -> list[tuple[str, nn.Module]]:
    out = []
    for name, child in seq.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            out.extend(_flat_children(child, full + "."))
        else:
            out.append((full, child))
    return out


def linear_modules(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """``(name, layer, activation)`` of each fully-connected layer, in order."""
    if not isinstance(model, nn.Sequential):
        raise ConfigError(
            f"cannot read the layer order of a {type(model).__name__}: put its Linear and ReLU "
            "layers in an nn.Sequential (or use lstm_layers for an nn.LSTM)"
        )
    children = [(n, c) for n, c in _flat_children(model) if not isinstance(c, SKIPPED_TYPES)]
    found = []
    for i, (name, child) in enumerate(children):
        if isinstance(child, nn.ReLU):
            if i == 0 or not isinstance(children[i - 1][1], LINEAR_TYPES):
                raise ConfigError(
                    f"ReLU {name!r} does not follow a Linear layer; the toolkit fuses ReLU into the layer before it"
                )
            continue
        if not isinstance(child, LINEAR_TYPES):
            raise ConfigError(
                f"layer {name!r} is a {type(child).__name__}; only Linear layers with ReLU between them can be exported"
            )
        relu = i + 1 < len(children) and isinstance(children[i + 1][1], nn.ReLU)
        found.append((name, child, "relu" if relu else "none"))
    if not found:
        raise ConfigError("the model has no Linear layers to export")
    return found


def _effective_weight(layer: nn.Module) -> torch.Tensor:
    if isinstance(layer, TTQLinear):
        return layer.ternary_weight()
    return layer.weight


def dense_layers(model: nn.Module) -> list[DenseLayer]:
    """The fully-connected layers of ``model`` as float ``DenseLayer``s (float64 copies)."""
    out = []
    with torch.no_grad():
        for name, layer, act in linear_modules(model):
            w = _effective_weight(layer).detach().cpu().double().numpy().copy()
            b = np.zeros(w.shape[0]) if layer.bias is None else layer.bias.detach().cpu().double().numpy().copy()
            out.append(DenseLayer(name, w, b, act))
    return out


def sequential_from_layers(layers: list[DenseLayer]) -> nn.Sequential:
    """An ``nn.Sequential`` of Linear (+ ReLU) computing the same as ``layers`` (float32)."""
    mods: OrderedDict[str, nn.Module] = OrderedDict()
    for i, layer in enumerate(layers):
        m, k = np.shape(layer.weight)
        lin = nn.Linear(k, m)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(np.asarray(layer.weight, dtype=np.float32)))
            lin.bias.copy_(torch.as_tensor(np.asarray(layer.bias, dtype=np.float32)))
        name = layer.name if layer.name.isidentifier() else f"fc{i + 1}"
        if name in mods:
            name = f"fc{i + 1}"
        mods[name] = lin
        if layer.activation == "relu":
            mods[f"{name}_relu"] = nn.ReLU()
        elif layer.activation != "none":
            raise ConfigError(f"layer {layer.name!r}: activation {layer.activation!r} must be 'relu' or 'none'")
    return nn.Sequential(mods)


def lstm_spec(lstm: nn.LSTM):
    from eie.compression.lstm import LSTMSpec

    if lstm.proj_size:
        raise ConfigError("LSTMs with proj_size are not supported: EIE's LSTM cell has no projection")
    return LSTMSpec(lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bidirectional)


def lstm_layers(lstm: nn.LSTM, mode: str = "concat") -> list[DenseLayer]:
    """The gate matrices of ``lstm`` (see the module notes for the three layouts).

    Bidirectional LSTMs add the reverse direction of layer l as ``l{l}.reverse``
    (``l{l}.reverse.ih``, ``l{l}.reverse.ih.i`` ... in the other layouts).
    """
    if not isinstance(lstm, nn.LSTM):
        raise ConfigError(f"lstm_layers needs an nn.LSTM, got a {type(lstm).__name__}")
    if mode not in LSTM_MODES:
        raise ConfigError(f"LSTM export mode {mode!r} must be one of {LSTM_MODES}")
    spec = lstm_spec(lstm)
    h = lstm.hidden_size
    out = []

    def arr(name):
        t = getattr(lstm, name, None)
        return None if t is None else t.detach().cpu().double().numpy().copy()

    for k, cell in enumerate(spec.names):
        l = k // spec.directions
        sfx = "_reverse" if cell.endswith(".reverse") else ""
        w_ih, w_hh = arr(f"weight_ih_l{l}{sfx}"), arr(f"weight_hh_l{l}{sfx}")
        b_ih = arr(f"bias_ih_l{l}{sfx}")
        b_hh = arr(f"bias_hh_l{l}{sfx}")
        b_ih = np.zeros(4 * h) if b_ih is None else b_ih
        b_hh = np.zeros(4 * h) if b_hh is None else b_hh
        if mode == "concat":
            out.append(DenseLayer(cell, np.concatenate([w_ih, w_hh], axis=1), b_ih + b_hh, "none"))
        elif mode == "stacked":
            out.append(DenseLayer(f"{cell}.ih", w_ih, b_ih, "none"))
            out.append(DenseLayer(f"{cell}.hh", w_hh, b_hh, "none"))
        else:
            for part, w, b in (("ih", w_ih, b_ih), ("hh", w_hh, b_hh)):
                for g, gate in enumerate(GATES):
                    rows = slice(g * h, (g + 1) * h)
                    out.append(DenseLayer(f"{cell}.{part}.{gate}", w[rows].copy(), b[rows].copy(), "none"))
    return out


def save_module_weights(
    path: str | os.PathLike, model: nn.Module, lstm_mode: str = "concat", head: nn.Module | None = None
) -> list[DenseLayer]:
    """Write the weights file that ``eie compress`` reads; returns the layers written.

    An ``nn.LSTM`` (any number of layers, bidirectional or not, any
    ``lstm_mode``) is written with an ``__lstm__`` entry describing it, and
    ``head`` (Linear layers, an nn.Sequential) if given, reading the top
    layer's output at the last step.
    """
    if isinstance(model, nn.LSTM):
        from eie.compression.lstm import LSTM_KEY, lstm_meta

        layers = lstm_layers(model, lstm_mode)
        if head is not None and not isinstance(head, nn.Sequential):
            head = nn.Sequential(OrderedDict(fc=head))
        head_layers = [] if head is None else dense_layers(head)
        meta = lstm_meta(lstm_spec(model), lstm_mode, [l.name for l in head_layers])
        save_weights(path, layers + head_layers, extra={LSTM_KEY: meta})
        return layers + head_layers
    layers = dense_layers(model)
    save_weights(path, layers)
    return layers
