"""Deep Compression's schedule for any imported network, as ``eie compress --retrain`` runs it.

1. iterative magnitude pruning to each layer's density, retraining with the
   masks held after every step;
2. k-means weight sharing of the kept weights (``SharedLinear``);
3. centroid fine-tuning.

With ``ternary=True`` the middle layers are instead trained as TTQ layers
(``TTQLinear``), first and last pruned and shared as above (all layers
ternary when there are fewer than three). Works on MLPs (a list of
``DenseLayer``) and LSTMs (``FloatLSTM``, trained as a ``GateLSTM``). Labels
train with cross-entropy, regression targets with mean squared error.

Returns the compressed network and, for the report, the float network after
pruning and retraining (the "pruned" stage).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eie.compression.lstm import CompressedLSTM, FloatLSTM
from eie.compression.model import CompressedModel
from eie.compression.weights import DenseLayer
from eie.errors import ConfigError
from eie.train.pruning import MaskSet, iterative_prune
from eie.train.sharing import SharedLinear
from eie.train.ttq import DEFAULT_THRESHOLD, TTQLinear


@dataclass
class RetrainConfig:
    prune_steps: int = 4
    retrain_epochs: int = 8
    retrain_lr: float = 1e-3
    finetune_epochs: int = 5
    finetune_lr: float = 2e-4
    ttq_epochs: int = 10
    ttq_lr: float = 5e-4
    ttq_threshold: float = DEFAULT_THRESHOLD
    batch_size: int = 32
    init: str = "linear"
    threads: int = 1


def retrain_config(
    epochs: int | None = None,
    lr: float | None = None,
    finetune_epochs: int | None = None,
    batch_size: int | None = None,
    prune_steps: int | None = None,
    base: RetrainConfig | None = None,
) -> RetrainConfig:
    """``RetrainConfig`` with the given fields changed (None keeps the default), checked.

    ``epochs``: of each retraining round after a pruning step (and of TTQ);
    ``lr``: their learning rate; the centroid fine-tuning keeps its ratio to
    it (``finetune_lr`` = lr / 5 by default) and runs ``finetune_epochs``.
    """
    from dataclasses import replace

    from eie.errors import check_int

    c = base or RetrainConfig()
    changes: dict = {}
    if epochs is not None:
        check_int("--epochs", epochs, 1, 100000)
        changes.update(retrain_epochs=int(epochs), ttq_epochs=int(epochs))
    if finetune_epochs is not None:
        check_int("--finetune-epochs", finetune_epochs, 0, 100000)
        changes["finetune_epochs"] = int(finetune_epochs)
    if batch_size is not None:
        check_int("--batch-size", batch_size, 1, 1 << 20)
        changes["batch_size"] = int(batch_size)
    if prune_steps is not None:
        check_int("prune_steps", prune_steps, 1, 100)
        changes["prune_steps"] = int(prune_steps)
    if lr is not None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0 < float(lr) < 10):
            raise ConfigError(f"--lr={lr!r} must be a learning rate in (0, 10), e.g. 1e-3")
        ratio = float(lr) / c.retrain_lr
        changes.update(retrain_lr=float(lr), finetune_lr=c.finetune_lr * ratio, ttq_lr=c.ttq_lr * ratio)
    return replace(c, **changes)


@dataclass
class RetrainResult:
    model: CompressedModel | CompressedLSTM
    pruned: list[DenseLayer] | FloatLSTM  # float weights after pruning + retraining
    losses: dict[str, float]


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int = 0,
    masks: MaskSet | None = None,
    classification: bool = True,
    progress: bool = False,
    desc: str = "train",
    bar=None,
) -> float:
    """Adam on cross-entropy (labels) or MSE (targets), masks held; returns the last epoch's loss.

    ``bar``: a progress bar of the whole stage to advance by one per epoch
    (``stage_bar``); without it, ``progress`` shows a bar of this call's epochs.
    """
    from tqdm.auto import tqdm

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    handles = masks.attach(opt) if masks is not None else []
    gen = torch.Generator().manual_seed(int(seed))
    n = x.shape[0]
    loss_mean = float("nan")
    model.train()
    try:
        epochs_iter = (
            range(epochs) if bar is not None else tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
        )
        for _ in epochs_iter:
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                opt.zero_grad(set_to_none=True)
                out = model(x[idx])
                if classification:
                    loss = F.cross_entropy(out, y[idx])
                else:
                    loss = F.mse_loss(out.reshape(y[idx].shape), y[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.numel()
            loss_mean = total / n
            if bar is not None:
                bar.set_postfix(loss=f"{loss_mean:.4f}", refresh=False)
                bar.update(1)
    finally:
        for h in handles:
            h.remove()
        model.eval()
    return loss_mean


def stage_bar(desc: str, epochs: int, progress: bool):
    """One progress bar on stderr for a whole stage (every pruning step's epochs, say); a no-op bar when off."""
    import sys

    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc=desc, disable=not progress, file=sys.stderr, leave=True, unit="epoch")


def _per_layer(value, names: Sequence[str], what: str) -> dict:
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ConfigError(f"{what} name unknown layers {unknown}; the layers are {list(names)}")
        missing = [n for n in names if n not in value]
        if missing:
            raise ConfigError(f"{what} gives no value for {missing}")
        return dict(value)
    return {n: value for n in names}


def retrain_compress(
    net: list[DenseLayer] | FloatLSTM,
    x_train: np.ndarray,
    y_train: np.ndarray,
    density: float | dict[str, float] = 0.1,
    weight_bits: int | dict[str, int] = 4,
    ternary: bool = False,
    config: RetrainConfig | None = None,
    seed: int = 0,
    classification: bool | None = None,
    progress: bool = False,
) -> RetrainResult:
    """Prune with retraining, share, fine-tune the centroids (or TTQ); see the module notes."""
    from eie.compression.report import is_classification

    config = config or RetrainConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(config.threads)))
    try:
        torch.manual_seed(seed)
        if classification is None:
            classification = is_classification(y_train)
        xt = torch.as_tensor(np.asarray(x_train, dtype=np.float32))
        yt = torch.as_tensor(np.asarray(y_train), dtype=torch.long if classification else torch.float32)
        return _run(net, xt, yt, density, weight_bits, ternary, config, seed, classification, progress)
    finally:
        torch.set_num_threads(threads)


def _build(net):
    """(torch module, module names, toolkit names) for an MLP or an LSTM."""
    if isinstance(net, FloatLSTM):
        from eie.train.lstm import GateLSTM

        g = GateLSTM.from_float(net)
        return g, g.cell_module_names() + g.head_module_names(), [l.name for l in net.layers]
    from eie.train.convert import linear_modules, sequential_from_layers

    seq = sequential_from_layers(list(net))
    return seq, [n for n, _, _ in linear_modules(seq)], [l.name for l in net]


def _run(net, xt, yt, density, weight_bits, ternary, config, seed, classification, progress) -> RetrainResult:
    module, mod_names, names = _build(net)
    to_mod = dict(zip(names, mod_names))
    dens = _per_layer(density, names, "density")
    bits = _per_layer(weight_bits, names, "weight_bits")
    losses: dict[str, float] = {}
    common = dict(batch_size=config.batch_size, classification=classification)

    is_lstm = isinstance(net, FloatLSTM)
    if ternary:
        tern = names if len(names) < 3 else names[1:-1]
    else:
        tern = []
    shared = [n for n in names if n not in tern]
    modules = dict(module.named_modules())

    def swap(name: str, new: nn.Module) -> None:
        parent_name, _, child = to_mod[name].rpartition(".")
        parent = modules[parent_name] if parent_name else module
        if isinstance(parent, nn.ModuleDict):
            parent[child] = new
        else:
            setattr(parent, child, new)

    if tern:
        for n in tern:
            swap(n, TTQLinear.from_linear(modules[to_mod[n]], config.ttq_threshold))
        with stage_bar("ttq", config.ttq_epochs, progress) as bar:
            losses["ttq"] = fit(module, xt, yt, config.ttq_epochs, config.ttq_lr, seed=seed, bar=bar, **common)
        modules = dict(module.named_modules())

    step = iter(range(1, 1 + config.prune_steps))

    prune_bar = stage_bar("prune+retrain", config.prune_steps * config.retrain_epochs, progress)

    def retrain(masks: MaskSet) -> None:
        losses["prune"] = fit(
            module,
            xt,
            yt,
            config.retrain_epochs,
            config.retrain_lr,
            seed=seed + next(step),
            masks=masks,
            bar=prune_bar,
            **common,
        )

    with prune_bar:
        masks = iterative_prune(module, {to_mod[n]: dens[n] for n in shared}, retrain, steps=config.prune_steps)
    pruned = _float_copy(module, net, names, to_mod)
    keep = masks.numpy()
    modules = dict(module.named_modules())
    for n in shared:
        swap(
            n, SharedLinear.from_linear(modules[to_mod[n]], bits[n], mask=keep[to_mod[n]], init=config.init, seed=seed)
        )
    with stage_bar("centroids", config.finetune_epochs, progress) as bar:
        losses["centroids"] = fit(
            module, xt, yt, config.finetune_epochs, config.finetune_lr, seed=seed, bar=bar, **common
        )
    settings = {
        "method": "deep-compression+retrain" if not tern else "ttq+deep-compression",
        "densities": {n: dens[n] for n in shared},
        "weight_bits": max(bits[n] for n in shared) if shared else 2,
        "ternary_layers": tern,
        "prune_steps": config.prune_steps,
        "seed": int(seed),
    }
    if is_lstm:
        model = module.to_compressed(settings, names=names)
    else:
        from eie.train.export import to_compressed_model

        cm = to_compressed_model(module, settings)
        for l, n in zip(cm.layers, names):
            l.name = n
        model = cm
    return RetrainResult(model, pruned, losses)


def _float_copy(module: nn.Module, net, names, to_mod):
    """The current float weights (after pruning) in the input's form."""
    mods = dict(module.named_modules())
    if isinstance(net, FloatLSTM):
        out = module.to_float()
        for l, n in zip(out.layers, names):
            l.name = n
        return out
    layers = []
    for src, n in zip(net, names):
        m = mods[to_mod[n]]
        w = m.ternary_weight() if isinstance(m, TTQLinear) else m.weight
        layers.append(
            DenseLayer(n, w.detach().double().numpy().copy(), m.bias.detach().double().numpy().copy(), src.activation)
        )
    return layers
