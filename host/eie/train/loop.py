"""The small supervised training loop the pruning, sharing and TTQ stages share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eie.train.pruning import MaskSet


@dataclass
class FitConfig:
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.0


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: FitConfig,
    seed: int = 0,
    masks: MaskSet | None = None,
    params=None,
    progress: bool = False,
    desc: str = "train",
) -> float:
    """Train with Adam on cross-entropy; returns the last epoch's mean loss.

    ``params`` restricts what is trained (default: every parameter);
    ``masks`` are kept through every step.
    """
    from tqdm.auto import tqdm

    params = [p for p in (model.parameters() if params is None else params) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    handles = masks.attach(opt) if masks is not None else []
    # Own generator: the batch order depends only on the seed, not on how
    # many random numbers earlier stages drew.
    gen = torch.Generator().manual_seed(int(seed))
    n = x.shape[0]
    loss_mean = float("nan")
    model.train()
    try:
        bar = tqdm(range(config.epochs), desc=desc, disable=not progress, leave=False)
        for _ in bar:
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for start in range(0, n, config.batch_size):
                idx = order[start : start + config.batch_size]
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.numel()
            loss_mean = total / n
            bar.set_postfix(loss=f"{loss_mean:.4f}")
    finally:
        for h in handles:
            h.remove()
        model.eval()
    return loss_mean


def predict(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return model(x).argmax(dim=1).cpu().numpy()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(np.mean(predict(model, x) == y.cpu().numpy()))
