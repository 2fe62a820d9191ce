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


def _per_layer(what: str, value, names: list[str]) -> tuple[object, dict]:
    """Split a scalar-or-{layer: value} setting into (default, overrides); unknown layers are refused."""
    if isinstance(value, dict):
        over = dict(value)
        unknown = sorted(set(over) - set(names))
        if unknown:
            raise ConfigError(f"{what} name unknown layers {unknown}; the layers are {names}")
        return None, over
    return value, {}


def compress(
    layers: list[DenseLayer],
    density: float | dict[str, float] | None = 0.1,
    prune: bool = True,
    weight_bits: int | dict[str, int] = 4,
    init: str = "linear",
    seed: int = 0,
    densities: dict[str, float] | None = None,
    respect_masks: bool = True,
) -> CompressedModel:
    """Prune each layer to its density, then k-means its kept weights.

    ``density`` and ``weight_bits`` are one value for every layer or a
    ``{layer: value}`` dict; ``densities`` overrides ``density`` for the
    layers it names. With ``prune=False`` every nonzero weight is kept. A
    layer that carries a ``mask`` (a model pruned before, e.g. with
    ``torch.nn.utils.prune``) keeps exactly its masked weights, pruned further
    only when ``densities`` (or a density dict) names it.
    """
    if not layers:
        raise ConfigError("no layers to compress")
    if init not in INITS:
        raise ConfigError(f"init={init!r} is not one of {', '.join(INITS)}")
    names = [l.name for l in layers]
    density, d_over = _per_layer("density", density, names)
    d_over.update(_per_layer("densities", dict(densities or {}), names)[1])
    bits_default, b_over = _per_layer("weight_bits", weight_bits, names)
    bits = {}
    for n in names:
        v = b_over.get(n, bits_default)
        if v is None:
            raise ConfigError(f"layer {n!r} has no weight_bits: give weight_bits[{n!r}]")
        bits[n] = check_int(f"weight_bits of layer {n!r}", v, 1, 8)
    used: dict[str, float] = {}
    out = []
    for l in layers:
        w = np.asarray(l.weight, dtype=np.float64)
        base = w != 0
        has_mask = respect_masks and l.mask is not None
        if has_mask:
            m = np.asarray(l.mask, dtype=bool)
            if m.shape != w.shape:
                raise ConfigError(f"layer {l.name!r}: mask shape {m.shape} differs from weight shape {w.shape}")
            base = base & m
        d = d_over.get(l.name, None if has_mask else density)
        if prune and d is None and not has_mask:
            raise ConfigError(f"layer {l.name!r} has no density: give density or densities[{l.name!r}]")
        if prune and d is not None:
            d = check_density(d, f"density of layer {l.name!r}")
            # Keep round(d * size) weights, chosen among those the mask keeps.
            mask = magnitude_mask(np.where(base, w, 0.0), density=d)
            if base.any() and not mask.any():
                raise ConfigError(
                    f"density {d:g} keeps none of layer {l.name!r}'s {w.size} weights: "
                    f"give at least {1 / w.size:.3g} (one weight)"
                )
            used[l.name] = d
        else:
            mask = base
            used[l.name] = float(mask.mean())
        out.append(quantize_layer(l.name, w, mask, l.bias, bits[l.name], init, seed, l.activation))
    settings = {
        "method": "deep-compression",
        "prune": bool(prune),
        "density": float(density) if prune and density is not None else None,
        "densities": used,
        "weight_bits": max(bits.values()),
        "init": init,
        "seed": int(seed),
    }
    if len(set(bits.values())) > 1:
        settings["layer_weight_bits"] = bits
    masked = [l.name for l in layers if respect_masks and l.mask is not None]
    if masked:
        settings["masks_respected"] = masked
    return CompressedModel(layers=out, settings=settings)
