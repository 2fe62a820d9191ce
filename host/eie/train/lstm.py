"""An LSTM whose gates are ``nn.Linear`` layers on ``[x_t; h_{t-1}]``, for training.

``GateLSTM`` computes what ``nn.LSTM`` computes (gate order i, f, g, o, zero
initial state, batch first), but each cell's gates are one Linear layer of
shape 4H x (I + H), exactly the matrix EIE runs (``eie.compression.lstm``).
So masked pruning (``MaskSet``), weight sharing (``SharedLinear``) and TTQ
work on it unchanged, and the trained network exports to a
``CompressedLSTM``. ``from_float`` and ``to_float`` convert from and to the
toolkit's ``FloatLSTM``; ``from_nn_lstm`` copies an ``nn.LSTM``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from eie.compression.lstm import CompressedLSTM, FloatLSTM, LSTMSpec
from eie.compression.model import CompressedModel
from eie.compression.weights import DenseLayer
from eie.errors import ConfigError


def _key(name: str) -> str:
    return name.replace(".", "_")


class GateLSTM(nn.Module):
    """Stacked (optionally bidirectional) LSTM with Linear gate matrices and an optional Linear head."""

    def __init__(self, spec: LSTMSpec, head_sizes: list[int] | None = None):
        super().__init__()
        self.spec = spec
        self.cells = nn.ModuleDict()
        for k, name in enumerate(spec.names):
            l = k // spec.directions
            self.cells[_key(name)] = nn.Linear(spec.cell_input(l) + spec.hidden, 4 * spec.hidden)
        mods: OrderedDict[str, nn.Module] = OrderedDict()
        sizes = [spec.hidden * spec.directions, *(head_sizes or [])]
        for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
            mods[f"fc{i + 1}"] = nn.Linear(k, m)
            if i < len(sizes) - 2:
                mods[f"relu{i + 1}"] = nn.ReLU()
        self.head = nn.Sequential(mods) if mods else None

    def cell_module_names(self) -> list[str]:
        return [f"cells.{_key(n)}" for n in self.spec.names]

    def head_module_names(self) -> list[str]:
        if self.head is None:
            return []
        return [f"head.{n}" for n, m in self.head.named_children() if not isinstance(m, nn.ReLU)]

    def _direction(self, cell: nn.Module, x: torch.Tensor, reverse: bool) -> torch.Tensor:
        b, t_len, _ = x.shape
        hsz = self.spec.hidden
        h = x.new_zeros(b, hsz)
        c = x.new_zeros(b, hsz)
        outs: list[torch.Tensor | None] = [None] * t_len
        for t in range(t_len - 1, -1, -1) if reverse else range(t_len):
            z = cell(torch.cat([x[:, t, :], h], dim=1))
            i, f, g, o = z.split(hsz, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs[t] = h
        return torch.stack(outs, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        names = self.spec.names
        h = x
        for l in range(self.spec.num_layers):
            k = l * self.spec.directions
            outs = [self._direction(self.cells[_key(names[k])], h, False)]
            if self.spec.bidirectional:
                outs.append(self._direction(self.cells[_key(names[k + 1])], h, True))
            h = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0]
        return h if self.head is None else self.head(h[:, -1, :])

    # -- conversion --------------------------------------------------------
    @classmethod
    def from_float(cls, model: FloatLSTM) -> GateLSTM:
        head_sizes = [np.shape(l.weight)[0] for l in model.head]
        acts = [l.activation for l in model.head]
        if any(a != "relu" for a in acts[:-1]) or (acts and acts[-1] != "none"):
            raise ConfigError("the LSTM's head must be Linear layers with ReLU between them and none after the last")
        net = cls(model.spec, head_sizes)
        mods = dict(net.named_modules())
        with torch.no_grad():
            for name, layer in zip(net.cell_module_names() + net.head_module_names(), model.layers):
                mods[name].weight.copy_(torch.as_tensor(np.asarray(layer.weight, dtype=np.float32)))
                mods[name].bias.copy_(torch.as_tensor(np.asarray(layer.bias, dtype=np.float32)))
        return net

    def to_float(self) -> FloatLSTM:
        mods = dict(self.named_modules())

        def dense(mod_name, name, act):
            m = mods[mod_name]
            w = m.weight.detach().double().numpy().copy()
            return DenseLayer(name, w, m.bias.detach().double().numpy().copy(), act)

        cells = [dense(m, n, "none") for m, n in zip(self.cell_module_names(), self.spec.names)]
        hn = self.head_module_names()
        head = [dense(m, m.split(".", 1)[1], "relu" if i < len(hn) - 1 else "none") for i, m in enumerate(hn)]
        return FloatLSTM(self.spec, cells, head)

    def to_compressed(self, settings: dict | None = None, names: list[str] | None = None) -> CompressedLSTM:
        """Every gate matrix and head layer must be SharedLinear or TTQLinear by now."""
        from eie.train.export import compressed_layer

        mods = dict(self.named_modules())
        all_names = names or [*self.spec.names, *(m.split(".", 1)[1] for m in self.head_module_names())]
        mod_names = self.cell_module_names() + self.head_module_names()
        layers = []
        for i, (m, n) in enumerate(zip(mod_names, all_names)):
            is_head_hidden = i >= len(self.spec.names) and i < len(mod_names) - 1
            layers.append(compressed_layer(n, mods[m], "relu" if is_head_hidden else "none"))
        nc = len(self.spec.names)
        cells = [CompressedModel([l], {}) for l in layers[:nc]]
        head = CompressedModel(layers[nc:], {}) if layers[nc:] else None
        return CompressedLSTM(self.spec, cells, head, dict(settings or {}))


def from_nn_lstm(lstm: nn.LSTM, head: nn.Module | None = None) -> GateLSTM:
    """A ``GateLSTM`` with the weights of ``lstm`` (and of a Linear ``head``)."""
    from eie.train.convert import dense_layers, lstm_layers, lstm_spec

    cells = lstm_layers(lstm, "concat")
    if head is not None and not isinstance(head, nn.Sequential):
        head = nn.Sequential(OrderedDict(fc=head))
    head_layers = [] if head is None else dense_layers(head)
    return GateLSTM.from_float(FloatLSTM(lstm_spec(lstm), cells, head_layers))
