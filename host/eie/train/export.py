"""A trained compressed network as a ``CompressedModel``, and its size.

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


def dense_bytes(model: CompressedModel) -> int:
    """float32 storage of the uncompressed model: all weights and biases."""
    return 4 * sum(l.shape[0] * l.shape[1] + l.shape[0] for l in model.layers)


def compressed_bytes(model: CompressedModel, index_bits: int = 4) -> float:
    """Storage with each kept weight as a ``weight_bits`` code plus an ``index_bits``
    relative index, float32 codebooks and biases.

    Padding entries for long zero runs are not counted: how many there are
    depends on how the rows are spread over the PEs, which the encoder knows.
    """
    total = 0.0
    for l in model.layers:
        total += l.nnz * (l.weight_bits + index_bits) / 8.0
        total += 4 * l.codebook.size + 4 * l.bias.size
    return total


def compression_ratio(model: CompressedModel, index_bits: int = 4) -> float:
    return dense_bytes(model) / compressed_bytes(model, index_bits)
