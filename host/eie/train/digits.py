"""The demo's learning pipeline on scikit-learn's bundled handwritten digits.

8x8 digit images (1797 of them, shipped with scikit-learn: no download),
pixels scaled to [0, 1], a fixed stratified train/test split. A 64-300-100-10
MLP (the LeNet-300-100 shape) is trained in float, then compressed two ways:

(a) Deep Compression: iterative magnitude pruning with masked retraining to
    about 8-10 % overall density, then 4-bit k-means weight sharing with
    centroid fine-tuning (every layer kind "shared").
(b) TTQ: the middle layer(s) ternary, trained from the float weights; the
    first and last layers pruned and 4-bit shared as in (a) (or ternary too
    with ``ternary_first_last``).

Both come back as ``CompressedModel``s with their float-reference accuracy
(``CompressedModel.forward``), ready for quantisation and the hardware path.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from eie.compression.model import CompressedModel
from eie.compression.weights import DenseLayer
from eie.errors import ConfigError
from eie.train.convert import dense_layers, linear_modules
from eie.train.export import to_compressed_model
from eie.train.loop import FitConfig, accuracy, fit
from eie.train.pruning import MaskSet, iterative_prune
from eie.train.sharing import SharedLinear
from eie.train.ttq import DEFAULT_THRESHOLD, TTQLinear


@dataclass
class DigitsConfig:
    hidden: tuple[int, ...] = (300, 100)
    test_size: float = 0.3
    # The split is fixed (independent of the training seed) so accuracies
    # of different runs are measured on the same images.
    split_seed: int = 0
    calib_size: int = 256
    batch_size: int = 32
    lr: float = 1e-3
    float_epochs: int = 40
    # Per layer, first to last. The first layer sees many always-blank
    # pixels and the last is small and sensitive, as in Deep Compression's
    # LeNet-300-100 (8 %, 9 %, 26 %).
    densities: tuple[float, ...] = (0.10, 0.07, 0.25)
    prune_steps: int = 4
    retrain_epochs: int = 10
    retrain_lr: float = 5e-4
    weight_bits: int = 4
    finetune_epochs: int = 10
    finetune_lr: float = 2e-4
    ttq_threshold: float = DEFAULT_THRESHOLD
    ttq_epochs: int = 30
    ttq_lr: float = 5e-4
    ternary_first_last: bool = False
    # The matrices are small (batch 32 x 300): a second thread gains little,
    # and OpenMP threads that spin while another process holds the core made
    # the full run six times slower on a busy 2-core machine.
    threads: int = 1


FAST = DigitsConfig(float_epochs=6, prune_steps=2, retrain_epochs=2, finetune_epochs=1, ttq_epochs=3, calib_size=64)


@dataclass
class DigitsResult:
    float_accuracy: float
    compressed_accuracy: float
    ternary_accuracy: float
    compressed: CompressedModel
    ternary: CompressedModel
    float_layers: list[DenseLayer]
    x_test: np.ndarray
    y_test: np.ndarray
    x_calib: np.ndarray
    density: float
    seconds: dict[str, float] = field(default_factory=dict)
    config: DigitsConfig = field(default_factory=DigitsConfig)


def load_data(config: DigitsConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=config.test_size, stratify=y, random_state=config.split_seed
    )
    return x_train, y_train, x_test, y_test


def mlp(sizes: list[int]) -> nn.Sequential:
    mods: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
        mods[f"fc{i + 1}"] = nn.Linear(k, m)
        if i < len(sizes) - 2:
            mods[f"relu{i + 1}"] = nn.ReLU()
    return nn.Sequential(mods)


def _float_accuracy(model: CompressedModel, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.forward(x).argmax(axis=1) == y))


def _share(model: nn.Sequential, names: list[str], masks: MaskSet, config: DigitsConfig, seed: int) -> None:
    modules = dict(model.named_modules())
    keep = masks.numpy()
    for name in names:
        setattr(model, name, SharedLinear.from_linear(modules[name], config.weight_bits, mask=keep[name], seed=seed))


def run(
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    fast: bool = False,
    config: DigitsConfig | None = None,
) -> DigitsResult:
    """Train, compress and ternarise the digits MLP; ``epochs`` overrides the float training epochs."""
    config = copy.deepcopy(config) if config is not None else (replace(FAST) if fast else DigitsConfig())
    if epochs is not None:
        config.float_epochs = int(epochs)
    n_layers = len(config.hidden) + 1
    if len(config.densities) != n_layers:
        raise ConfigError(f"{len(config.densities)} densities given for {n_layers} layers")
    if n_layers < 3 and not config.ternary_first_last:
        raise ConfigError("a TTQ model with first and last layers kept shared needs at least 3 layers")

    threads_before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(config.threads)))
    try:
        return _run(config, seed, progress)
    finally:
        torch.set_num_threads(threads_before)


def _run(config: DigitsConfig, seed: int, progress: bool) -> DigitsResult:
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    seconds: dict[str, float] = {}
    torch.manual_seed(seed)
    np.random.seed(seed)

    x_train, y_train, x_test, y_test = load_data(config)
    rng = np.random.default_rng(seed)
    x_calib = x_train[rng.choice(x_train.shape[0], size=min(config.calib_size, x_train.shape[0]), replace=False)]
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xv, yv = torch.from_numpy(x_test), torch.from_numpy(y_test)

    stages = tqdm(total=4, desc="digits", disable=not progress)

    def lap(name: str, t0: float) -> float:
        now = time.perf_counter()
        seconds[name] = now - t0
        stages.update(1)
        return now

    t0 = time.perf_counter()
    model = mlp([x_train.shape[1], *config.hidden, 10])
    fit(
        model,
        xt,
        yt,
        FitConfig(config.float_epochs, config.lr, config.batch_size),
        seed,
        progress=progress,
        desc="float",
    )
    float_acc = accuracy(model, xv, yv)
    float_layers = dense_layers(model)
    names = [name for name, _, _ in linear_modules(model)]
    targets = dict(zip(names, config.densities))
    retrain = FitConfig(config.retrain_epochs, config.retrain_lr, config.batch_size)
    finetune = FitConfig(config.finetune_epochs, config.finetune_lr, config.batch_size)
    t0 = lap("float", t0)

    def prune_share_finetune(net: nn.Sequential, layer_names: list[str], prefix: str) -> None:
        """Iterative pruning with retraining, k-means sharing, centroid fine-tuning."""
        step = iter(range(1, 1 + config.prune_steps))
        masks = iterative_prune(
            net,
            {n: targets[n] for n in layer_names},
            lambda m: fit(net, xt, yt, retrain, seed + next(step), masks=m, progress=progress, desc=f"{prefix}prune"),
            steps=config.prune_steps,
        )
        _share(net, layer_names, masks, config, seed)
        fit(net, xt, yt, finetune, seed, progress=progress, desc=f"{prefix}centroids")

    # (a) prune with retraining, share, fine-tune the centroids.
    pruned = copy.deepcopy(model)
    prune_share_finetune(pruned, names, "")
    compressed = to_compressed_model(pruned, {"source": "eie.train.digits", "stage": "pruned+shared"})
    t0 = lap("compressed", t0)

    # (b) TTQ for the middle layers (all with ternary_first_last).
    ternary_names = names if config.ternary_first_last else names[1:-1]
    shared_names = [n for n in names if n not in ternary_names]
    tern = copy.deepcopy(model)
    modules = dict(tern.named_modules())
    for name in ternary_names:
        setattr(tern, name, TTQLinear.from_linear(modules[name], config.ttq_threshold))
    ttq_fit = FitConfig(config.ttq_epochs, config.ttq_lr, config.batch_size)
    fit(tern, xt, yt, ttq_fit, seed, progress=progress, desc="ttq")
    if shared_names:
        prune_share_finetune(tern, shared_names, "ttq ")
    ternary = to_compressed_model(tern, {"source": "eie.train.digits", "stage": "ttq"})
    t0 = lap("ternary", t0)

    result = DigitsResult(
        float_accuracy=float_acc,
        compressed_accuracy=_float_accuracy(compressed, x_test, y_test),
        ternary_accuracy=_float_accuracy(ternary, x_test, y_test),
        compressed=compressed,
        ternary=ternary,
        float_layers=float_layers,
        x_test=x_test,
        y_test=y_test,
        x_calib=x_calib,
        density=sum(l.nnz for l in compressed.layers) / sum(l.shape[0] * l.shape[1] for l in compressed.layers),
        seconds=seconds,
        config=config,
    )
    lap("evaluate", t0)
    stages.close()
    seconds["total"] = time.perf_counter() - t_start
    return result
