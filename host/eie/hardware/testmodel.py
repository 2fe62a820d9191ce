"""Random models and inputs that fit a configuration: test vectors without a user model."""

from __future__ import annotations

import numpy as np

from eie.errors import check_alloc
from eie.format.qmodel import QuantModel
from eie.hardware.config import AcceleratorConfig


def demo_model(config: AcceleratorConfig, seed: int = 0) -> QuantModel:
    """A small random two-layer model that fits ``config`` (test vectors without a model)."""
    from eie.format.csc import encode
    from eie.format.qmodel import QuantLayer

    rng = np.random.default_rng(seed)
    n = config.n_pes
    width = max(1, min(config.act_depth * n, 4 * n + 3))
    shapes = [(width, width), (max(1, width // 2 + 1), width)][: config.max_layers]
    layers = []
    for i, (m, k) in enumerate(shapes):
        mask = rng.random((m, k)) < 0.3
        rows, cols = np.nonzero(mask)
        order = np.lexsort((rows, cols))
        rows, cols = rows[order], cols[order]
        codes = rng.integers(1, 1 << config.weight_bits, size=rows.size)
        enc = encode(rows, cols, codes, (m, k), n, config.index_bits, config.weight_bits)
        cb = np.zeros(1 << config.weight_bits, dtype=np.int64)
        lim = 1 << min(config.cb_bits - 1, 7)
        cb[1:] = rng.integers(-lim, lim, size=cb.size - 1)
        bias = rng.integers(-64, 64, size=m)
        layers.append(QuantLayer(f"fc{i}", enc, cb, bias, np.arange(m), 4, 4, 4, relu=i + 1 < len(shapes)))
    qm = QuantModel(config.to_hwparams(), layers)
    from eie.hardware.resources import check_model_fits
    from eie.hardware.streaming import assign_storage

    assign_storage(config, qm)  # on chip where it fits, unless the configuration streams every layer
    check_model_fits(config, qm)
    return qm


def random_inputs(qm: QuantModel, vectors: int, seed: int = 0, density: float = 0.5) -> np.ndarray:
    """Integer inputs in the first layer's act_bits range, about half of them zero."""
    check_alloc(f"{vectors} test vectors", (vectors, qm.in_features))
    rng = np.random.default_rng(seed)
    a = qm.params.act_bits
    lim = 1 << min(a - 1, 8)
    x = rng.integers(-lim, lim, size=(vectors, qm.in_features))
    x[rng.random(x.shape) >= density] = 0
    return x.astype(np.int64)
