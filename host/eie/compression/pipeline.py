"""Deep Compression of float layers: magnitude pruning, then weight sharing.

Retraining between the steps (and centroid fine-tuning) belongs to the
training code, which reuses ``quantize_layer`` on its own masks.
"""

from __future__ import annotations

import numpy as np

from eie.compression.kmeans import INITS, share_weights
from eie.compression.model import CompressedLayer, CompressedModel
from eie.compression.prune import check_density, magnitude_mask
from eie.compression.weights import DenseLayer
from eie.errors import ConfigError, check_int


def quantize_layer(
    name: str,
    weight: np.ndarray,
    mask: np.ndarray,
    bias: np.ndarray,
    weight_bits: int = 4,
    init: str = "linear",
    seed: int = 0,
    activation: str = "relu",
) -> CompressedLayer:
    """Share the weights kept by ``mask`` (k-means) and build the layer."""
    weight = np.asarray(weight, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if weight.ndim != 2:
        raise ConfigError(f"layer {name!r}: weight has shape {weight.shape}; expected a 2-D (out x in) matrix")
    if mask.shape != weight.shape:
        raise ConfigError(f"layer {name!r}: mask shape {mask.shape} differs from weight shape {weight.shape}")
    # Column-major order, the order EIE stores the weights in.
    cols, rows = np.nonzero(mask.T)
    codebook, codes = share_weights(weight[rows, cols], weight_bits, init=init, seed=seed)
    return CompressedLayer(
        name=name,
        shape=weight.shape,
        rows=rows,
        cols=cols,
        codes=codes,
        codebook=codebook,
        bias=np.asarray(bias, dtype=np.float64),
        activation=activation,
        weight_bits=int(weight_bits),
        kind="shared",
    )


def compress(
    layers: list[DenseLayer],
    density: float | None = 0.1,
    prune: bool = True,
    weight_bits: int = 4,
    init: str = "linear",
    seed: int = 0,
    densities: dict[str, float] | None = None,
) -> CompressedModel:
    """Prune each layer to its density, then k-means its kept weights.

    ``densities`` overrides ``density`` for the layers it names. With
    ``prune=False`` every nonzero weight is kept.
    """
    if not layers:
        raise ConfigError("no layers to compress")
    b = check_int("weight_bits", weight_bits, 1, 8)
    if init not in INITS:
        raise ConfigError(f"init={init!r} is not one of {', '.join(INITS)}")
    densities = dict(densities or {})
    names = [l.name for l in layers]
    unknown = sorted(set(densities) - set(names))
    if unknown:
        raise ConfigError(f"densities name unknown layers {unknown}; the layers are {names}")
    used: dict[str, float] = {}
    if prune:
        for l in layers:
            d = densities.get(l.name, density)
            if d is None:
                raise ConfigError(f"layer {l.name!r} has no density: give density or densities[{l.name!r}]")
            used[l.name] = check_density(d, f"density of layer {l.name!r}")
    out = []
    for l in layers:
        w = np.asarray(l.weight, dtype=np.float64)
        mask = magnitude_mask(w, density=used[l.name]) if prune else w != 0
        out.append(quantize_layer(l.name, w, mask, l.bias, b, init, seed, l.activation))
    settings = {
        "method": "deep-compression",
        "prune": bool(prune),
        "density": float(density) if prune and density is not None else None,
        "densities": used,
        "weight_bits": b,
        "init": init,
        "seed": int(seed),
    }
    return CompressedModel(layers=out, settings=settings)
