"""The EIE paper's nine benchmark layers (Han et al., ISCA 2016, Table III).

Each is (name, inputs K, outputs M, weight density, activation density).
The experiments use synthetic random layers with these shapes and densities
(eie.performance.synthetic: uniformly placed weights, exactly round(a*K) uniformly placed
non-zero activations), not the trained AlexNet/VGG/NeuralTalk weights, so
the figures show the format and the schedule rather than a given network.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "host"))

from eie.format.csc import EncodedLayer  # noqa: E402
from eie.format.rowmap import encode_positions  # noqa: E402
from eie.performance.synthetic import random_activation_mask, random_codes, random_positions  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")

# EIE ASIC settings.
PES, FIFO, INDEX_BITS, WEIGHT_BITS, CLOCK_MHZ = 64, 8, 4, 4, 800.0


@dataclass(frozen=True)
class BenchLayer:
    name: str
    k: int  # inputs
    m: int  # outputs
    density: float
    act_density: float


LAYERS = (
    BenchLayer("Alex-6", 9216, 4096, 0.09, 0.351),
    BenchLayer("Alex-7", 4096, 4096, 0.09, 0.353),
    BenchLayer("Alex-8", 4096, 1000, 0.25, 0.375),
    BenchLayer("VGG-6", 25088, 4096, 0.04, 0.183),
    BenchLayer("VGG-7", 4096, 4096, 0.04, 0.375),
    BenchLayer("VGG-8", 4096, 1000, 0.23, 0.411),
    BenchLayer("NT-We", 4096, 600, 0.10, 1.0),
    BenchLayer("NT-Wd", 600, 8791, 0.11, 1.0),
    BenchLayer("NT-LSTM", 1201, 2400, 0.10, 1.0),
)


@dataclass
class Instance:
    layer: BenchLayer
    rows: np.ndarray
    cols: np.ndarray
    codes: np.ndarray
    mask: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (self.layer.m, self.layer.k)

    def encode(self, n_pes: int = PES, index_bits: int = INDEX_BITS, perm: np.ndarray | None = None) -> EncodedLayer:
        """Encode for ``n_pes`` PEs under row map ``perm`` (None: EIE's interleave)."""
        return encode_positions(
            self.rows, self.cols, self.codes, self.shape, n_pes, index_bits, WEIGHT_BITS, perm, name=self.layer.name
        )


def instance(layer: BenchLayer, seed: int = 0) -> Instance:
    rng = np.random.default_rng(seed)
    r, c = random_positions(layer.m, layer.k, layer.density, rng)
    return Instance(
        layer, r, c, random_codes(r.size, WEIGHT_BITS, rng), random_activation_mask(layer.k, layer.act_density, rng)
    )


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fewer sweep points / layers (about a minute)")
    p.add_argument("--seed", type=int, default=0)
    return p


def save_plot(fig, name: str) -> str:
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
