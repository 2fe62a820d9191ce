"""A trained compressed network as a ``CompressedModel``.

Its size is counted in one place, ``eie.format.storage.storage_report``
(``n_pes=1`` gives Deep Compression's figure).

``SharedLinear`` layers export as kind ``"shared"`` (kept positions are the
nonzero codes); ``TTQLinear`` layers as kind ``"ternary"`` with weight_bits 2
and codebook ``[0, +Wp, -Wn, 0]``; their zero weights are not kept positions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import ConfigError
from eie.train.convert import linear_modules
from eie.train.sharing import SharedLinear
from eie.train.ttq import TTQLinear


def compressed_layer(name: str, layer: nn.Module, activation: str) -> CompressedLayer:
    bias = np.zeros(layer.out_features) if layer.bias is None else layer.bias.detach().cpu().double().numpy()
    with torch.no_grad():
        if isinstance(layer, SharedLinear):
            return CompressedLayer.from_dense_codes(
                name,
                layer.codes.cpu().numpy().astype(np.uint8),
                layer.codebook().detach().cpu().double().numpy(),
                bias,
                activation=activation,
                weight_bits=layer.weight_bits,
                kind="shared",
            )
        if isinstance(layer, TTQLinear):
            return CompressedLayer.from_dense_codes(
                name,
                layer.codes(),
                layer.codebook(),
                bias,
                activation=activation,
                weight_bits=2,
                kind="ternary",
            )
    raise ConfigError(
        f"layer {name!r} is a {type(layer).__name__}: share its weights (SharedLinear) or "
        "ternarise it (TTQLinear) before exporting a compressed model"
    )


def to_compressed_model(model: nn.Module, settings: dict[str, Any] | None = None) -> CompressedModel:
    """Every Linear-like layer of ``model`` (an nn.Sequential) as a compressed layer."""
    layers = [compressed_layer(name, layer, act) for name, layer, act in linear_modules(model)]
    return CompressedModel(layers=layers, settings=dict(settings or {}))
