"""An LSTM on scikit-learn's digits, read as sequences of 8 rows of 8 pixels.

Each 8x8 image is a sequence of T = 8 time steps with I = 8 inputs (one pixel
row per step, scaled to [0, 1]); an LSTM (``GateLSTM``, hidden H) reads the
rows and a Linear head classifies its last output. The float network is
trained, then compressed with Deep Compression's schedule
(``eie.train.retrain``): pruning with retraining, 4-bit sharing, centroid
fine-tuning. The split is the MLP demo's (``eie.train.digits.load_data``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from eie.compression.lstm import CompressedLSTM, FloatLSTM, LSTMSpec
from eie.train.digits import DigitsConfig, load_data
from eie.train.lstm import GateLSTM
from eie.train.retrain import RetrainConfig, fit, retrain_compress


@dataclass
class LSTMDigitsConfig:
    hidden: int = 32
    epochs: int = 25
    lr: float = 5e-3
    batch_size: int = 32
    density: float = 0.4
    head_density: float = 0.5
    weight_bits: int = 4
    retrain: RetrainConfig = field(
        default_factory=lambda: RetrainConfig(
            prune_steps=3, retrain_epochs=5, retrain_lr=3e-3, finetune_epochs=3, finetune_lr=5e-4
        )
    )
    threads: int = 1


@dataclass
class LSTMDigitsResult:
    float_model: FloatLSTM
    compressed: CompressedLSTM
    float_accuracy: float
    compressed_accuracy: float  # float reference of the compressed network
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    seconds: dict[str, float]


def as_sequences(x: np.ndarray) -> np.ndarray:
    """Flattened 8x8 digit images (B x 64) as B x 8 rows x 8 pixels."""
    return np.asarray(x, dtype=np.float32).reshape(-1, 8, 8)


def run(config: LSTMDigitsConfig | None = None, seed: int = 0, progress: bool = False) -> LSTMDigitsResult:
    config = config or LSTMDigitsConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, config.threads))
    try:
        seconds = {}
        t0 = time.perf_counter()
        x_train, y_train, x_test, y_test = load_data(DigitsConfig())
        x_train, x_test = as_sequences(x_train), as_sequences(x_test)
        torch.manual_seed(seed)
        net = GateLSTM(LSTMSpec(8, config.hidden), [10])
        xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
        fit(net, xt, yt, config.epochs, config.lr, config.batch_size, seed, progress=progress, desc="lstm float")
        float_model = net.to_float()
        float_acc = float(np.mean(float_model.forward(x_test).argmax(axis=1) == y_test))
        seconds["float"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        dens = {c.name: config.density for c in float_model.cells}
        dens.update({h.name: config.head_density for h in float_model.head})
        res = retrain_compress(
            float_model,
            x_train,
            y_train,
            density=dens,
            weight_bits=config.weight_bits,
            config=config.retrain,
            seed=seed,
            progress=progress,
        )
        seconds["compress"] = time.perf_counter() - t0
        comp = res.model
        comp_acc = float(np.mean(comp.forward(x_test).argmax(axis=1) == y_test))
        return LSTMDigitsResult(float_model, comp, float_acc, comp_acc, x_train, y_train, x_test, y_test, seconds)
    finally:
        torch.set_num_threads(threads)
