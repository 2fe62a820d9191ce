"""Which layers are streamed from DDR (config ``storage``).

The host-side decision that the image (``QuantLayer.storage``, flag bit 2 of
a layer descriptor; docs/image-format.md, "Streamed layers"), the timing
model and ``eie simulate`` follow (``assign_storage`` for a given
configuration, ``sized_for_model`` for the default hardware):

* ``storage: onchip`` keeps every layer on chip (the load refuses a model
  that does not fit, as today);
* ``storage: stream`` streams every layer;
* ``storage: auto`` walks the layers in order and keeps a layer on chip
  while its entry words (every PE) and its K + 1 pointers still fit what
  the earlier on-chip layers left of ``entry_depth`` and ``ptr_depth``;
  any other layer is streamed.

Activations, biases and codebooks stay on chip in every mode: a layer whose
input or output does not fit the activation buffers is refused, with the
``act_depth`` that would hold it.

``board_storage`` is the same decision for the default hardware, whose
memory depths are sized from the model (eie.hardware.target): a layer stays
on chip while the configuration sized for the on-chip layers still fits the
board (eie.hardware.resources). The sized configuration's ``dir_depth`` is
the streamed layers' K + 1, summed (0 when every layer is on chip: a kernel
without streaming hardware).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eie.errors import CapacityError, ConfigError
from eie.format.csc import EncodedLayer
from eie.format.qmodel import QuantModel
from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import fits_board


def layer_storage(config: AcceleratorConfig, layers: Sequence[EncodedLayer]) -> list[str]:
    """``"onchip"`` or ``"stream"`` for every layer, as ``config.storage`` decides (module docstring)."""
    n = config.n_pes
    for i, layer in enumerate(layers):
        m, k = layer.shape
        need = max(-(-m // n), -(-k // n))
        if need > config.act_depth:
            raise CapacityError(
                f"layer {i} ({m} x {k}) needs {need} activations per PE, act_depth is {config.act_depth}: "
                f"activations stay on chip in every storage mode; set act_depth >= {need} "
                f"(or use more PEs: {-(-max(m, k) // config.act_depth)} would fit)"
            )
    if config.storage in ("onchip", "stream"):
        return [config.storage] * len(layers)
    per = config.entries_per_word
    words_left = np.full(n, config.entry_depth, dtype=np.int64)
    ptrs_left = config.ptr_depth
    out = []
    for layer in layers:
        words = -(-layer.n_entries.astype(np.int64) // per)
        ptrs = layer.shape[1] + 1
        if np.all(words <= words_left) and ptrs <= ptrs_left:
            words_left -= words
            ptrs_left -= ptrs
            out.append("onchip")
        else:
            out.append("stream")
    return out


def board_storage(config: AcceleratorConfig, layers: Sequence[EncodedLayer]) -> tuple[list[str], AcceleratorConfig]:
    """Per-layer storage and the configuration sized for it, on the configuration's board.

    The activation, bias and layer depths are sized for every layer (they
    stay on chip); entry and pointer depths for the layers kept on chip.
    With ``storage: onchip`` or ``stream`` every layer follows it.
    """
    n = config.n_pes
    per = config.entries_per_word
    act = max([1] + [max(-(-l.shape[0] // n), -(-l.shape[1] // n)) for l in layers])
    bias = max(1, sum(-(-l.shape[0] // n) for l in layers))
    base = dict(act_depth=act, bias_depth=bias, max_layers=min(64, max(1, len(layers))))
    words = np.zeros(n, dtype=np.int64)
    ptrs = dirs = 0
    out = []
    for layer in layers:
        w = words + -(-layer.n_entries.astype(np.int64) // per)
        p = ptrs + layer.shape[1] + 1
        keep = config.storage == "onchip" or (config.storage == "auto" and _fits(config, base, w, p, dirs))
        if keep:
            words, ptrs = w, p
        else:
            dirs += layer.shape[1] + 1
        out.append("onchip" if keep else "stream")
    sized = config.replace(**base, entry_depth=int(max(1, words.max())), ptr_depth=max(2, ptrs), dir_depth=dirs)
    return out, sized


def _fits(config: AcceleratorConfig, base: dict, words: np.ndarray, ptrs: int, dirs: int) -> bool:
    try:
        trial = config.replace(**base, entry_depth=int(max(1, words.max())), ptr_depth=max(2, ptrs), dir_depth=dirs)
    except ConfigError:  # a depth beyond what a configuration may hold
        return False
    return fits_board(trial)


def assign_storage(config: AcceleratorConfig, qm: QuantModel) -> list[str]:
    """Set every layer's ``storage`` as ``layer_storage`` decides for a given configuration.

    The configuration is not changed: ``check_model_fits`` then checks that
    its depths (``dir_depth`` for the streamed layers) hold the model.
    """
    storage = layer_storage(config, [ql.encoded for ql in qm.layers])
    for ql, s in zip(qm.layers, storage):
        ql.storage = s
    return storage


def sized_for_model(config: AcceleratorConfig, qm: QuantModel) -> AcceleratorConfig:
    """Set every layer's ``storage`` as ``board_storage`` decides; the configuration sized for it."""
    storage, sized = board_storage(config, [ql.encoded for ql in qm.layers])
    for ql, s in zip(qm.layers, storage):
        ql.storage = s
    return sized


SIZED_FIELDS = ("entry_depth", "ptr_depth", "dir_depth", "act_depth", "bias_depth", "max_layers")
"""The memory depths ``board_storage`` sizes."""


def sized_for_models(config: AcceleratorConfig, models: Sequence[QuantModel]) -> AcceleratorConfig:
    """``sized_for_model`` for each model; one configuration with the largest of each depth."""
    sized = [sized_for_model(config, qm) for qm in models]
    return config.replace(**{k: max(getattr(c, k) for c in sized) for k in SIZED_FIELDS})
