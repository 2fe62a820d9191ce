"""The quantised model: a network as the accelerator runs it.

``HWParams`` are the accelerator parameters a model is built for; a
``QuantLayer`` is an EIE-encoded layer with its integer codebook, bias, row
permutation and fixed-point formats (docs/arithmetic.md). ``eie.format.image``
serialises a ``QuantModel`` into the bytes the kernel loads. numpy only (runs
on the board).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eie.errors import ConfigError, ImageError, check_int
from eie.format.csc import EncodedLayer, entries_per_word

STORAGES = ("onchip", "stream")
"""Where a layer's entries live: loaded on chip, or streamed from the image in DDR."""


@dataclass(frozen=True)
class HWParams:
    """The accelerator parameters an image is built for (checked by the kernel)."""

    n_pes: int
    weight_bits: int = 4
    index_bits: int = 4
    act_bits: int = 16
    cb_bits: int = 16
    acc_bits: int = 32

    def __post_init__(self) -> None:
        check_int("n_pes", self.n_pes, 1, 256)
        check_int("weight_bits", self.weight_bits, 1, 8)
        check_int("index_bits", self.index_bits, 1, 8)
        check_int("act_bits", self.act_bits, 2, 32)
        check_int("cb_bits", self.cb_bits, 2, 32)
        check_int("acc_bits", self.acc_bits, 8, 64)
        if self.weight_bits + self.index_bits > 16:
            raise ImageError(
                "params_mismatch",
                f"weight_bits + index_bits = {self.weight_bits + self.index_bits} exceeds 16",
            )

    def as_tuple(self) -> tuple[int, ...]:
        return (self.n_pes, self.weight_bits, self.index_bits, self.act_bits, self.cb_bits, self.acc_bits)

    @property
    def entries_per_word(self) -> int:
        return entries_per_word(self.weight_bits, self.index_bits)


@dataclass
class QuantLayer:
    """A layer as the hardware runs it: encoded entries plus integer arithmetic.

    ``codebook`` are the integers cb_int (scale 2^fw); ``bias`` the integers at
    scale 2^(fa_in + fw), in physical row order; ``perm[i]`` is the logical row
    held by physical row i. ``storage`` is where the kernel keeps the entries:
    ``"onchip"`` (loaded into the PEs' memories) or ``"stream"`` (left in the
    image in DDR and read for every input; docs/image-format.md, "Streamed
    layers"); the image records it per layer.
    """

    name: str
    encoded: EncodedLayer
    codebook: np.ndarray
    bias: np.ndarray
    perm: np.ndarray
    fa_in: int
    fw: int
    fa_out: int
    relu: bool
    ternary: bool = False
    storage: str = "onchip"

    def __post_init__(self) -> None:
        if self.storage not in STORAGES:
            raise ConfigError(f"layer {self.name!r}: storage={self.storage!r} must be one of {', '.join(STORAGES)}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.encoded.shape

    @property
    def shift(self) -> int:
        return self.fa_in + self.fw - self.fa_out


@dataclass
class QuantModel:
    params: HWParams
    layers: list[QuantLayer] = field(default_factory=list)
    # How the host chose the formats (not part of the image).
    info: dict = field(default_factory=dict)

    @property
    def in_features(self) -> int:
        return self.layers[0].shape[1]

    @property
    def out_features(self) -> int:
        return self.layers[-1].shape[0]

    @property
    def fa_in(self) -> int:
        return self.layers[0].fa_in

    @property
    def fa_out(self) -> int:
        return self.layers[-1].fa_out

    @property
    def out_perm(self) -> np.ndarray:
        return self.layers[-1].perm

    def to_image(self) -> np.ndarray:
        from eie.format.image import build_image

        return build_image(self)
