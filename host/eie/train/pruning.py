"""Magnitude pruning with masked retraining (Deep Compression, step 1).

Masks must hold through optimiser steps: zeroing the gradients alone is not
enough, because momentum, Adam's moment estimates from before the pruning and
weight decay all move a weight whose gradient is zero. ``MaskSet.attach``
therefore zeroes the masked gradients before each step (so the optimiser's
state for them stops growing) and re-applies the masks after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from eie.compression.prune import check_density, magnitude_mask
from eie.errors import ConfigError


class MaskSet:
    """Boolean keep-masks for the ``weight`` of named sub-modules of ``model``."""

    def __init__(self, model: nn.Module, masks: Mapping[str, np.ndarray | torch.Tensor]):
        modules = dict(model.named_modules())
        self.params: dict[str, nn.Parameter] = {}
        self.masks: dict[str, torch.Tensor] = {}
        for name, mask in masks.items():
            if name not in modules or not isinstance(getattr(modules[name], "weight", None), nn.Parameter):
                raise ConfigError(f"no layer {name!r} with a weight parameter in the model to prune")
            p = modules[name].weight
            m = torch.as_tensor(np.asarray(mask), dtype=torch.bool)
            if m.shape != p.shape:
                raise ConfigError(f"mask for {name!r} has shape {tuple(m.shape)}, the weight {tuple(p.shape)}")
            self.params[name] = p
            self.masks[name] = m.to(p.device)
        self.apply()

    @classmethod
    def by_magnitude(cls, model: nn.Module, densities: Mapping[str, float], within: MaskSet | None = None) -> MaskSet:
        """Keep the largest-|w| fraction ``densities[name]`` of each named layer.

        With ``within``, weights already pruned there stay pruned, so a
        schedule of falling densities gives nested masks.
        """
        modules = dict(model.named_modules())
        masks = {}
        for name, density in densities.items():
            if name not in modules:
                raise ConfigError(f"no layer {name!r} in the model to prune")
            check_density(density, f"density of {name!r}")
            w = modules[name].weight.detach().cpu().numpy()
            if within is not None and name in within.masks:
                w = np.where(within.masks[name].cpu().numpy(), w, 0.0)
            masks[name] = magnitude_mask(w, density=density)
        return cls(model, masks)

    def apply(self) -> None:
        with torch.no_grad():
            for name, p in self.params.items():
                p.mul_(self.masks[name])

    def zero_masked_grads(self) -> None:
        for name, p in self.params.items():
            if p.grad is not None:
                p.grad.mul_(self.masks[name])

    def attach(self, optimizer: torch.optim.Optimizer) -> list:
        """Make ``optimizer`` respect the masks; returns the hook handles (``.remove()`` to detach)."""
        pre = optimizer.register_step_pre_hook(lambda *_: self.zero_masked_grads())
        post = optimizer.register_step_post_hook(lambda *_: self.apply())
        return [pre, post]

    def density(self) -> dict[str, float]:
        return {name: float(m.float().mean()) for name, m in self.masks.items()}

    def nnz(self) -> int:
        return int(sum(int(m.sum()) for m in self.masks.values()))

    def size(self) -> int:
        return int(sum(m.numel() for m in self.masks.values()))

    def numpy(self) -> dict[str, np.ndarray]:
        return {name: m.cpu().numpy() for name, m in self.masks.items()}


def density_schedule(target: float, steps: int) -> list[float]:
    """Geometric steps from dense to ``target``: each step prunes the same fraction of what is left."""
    check_density(target, "target density")
    if steps < 1:
        raise ConfigError(f"pruning steps={steps} must be at least 1")
    return [float(target ** ((k + 1) / steps)) for k in range(steps)]


def iterative_prune(
    model: nn.Module,
    targets: Mapping[str, float],
    retrain: Callable[[MaskSet], None],
    steps: int = 3,
) -> MaskSet:
    """Prune ``model`` to ``targets`` in ``steps`` rounds, calling ``retrain(masks)`` after each.

    ``retrain`` must keep the masks, e.g. with ``masks.attach(optimizer)``.
    """
    schedules = {name: density_schedule(d, steps) for name, d in targets.items()}
    masks = None
    for k in range(steps):
        masks = MaskSet.by_magnitude(model, {n: s[k] for n, s in schedules.items()}, within=masks)
        retrain(masks)
        masks.apply()
    return masks
