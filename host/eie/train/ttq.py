"""Trained Ternary Quantization (Zhu, Han, Mao, Dally, ICLR 2017).

Each layer keeps latent full-precision weights w and two learned positive
scalars Wp and Wn. With the threshold Δ = t·max|w| (t = 0.05 by default) the
layer computes with the ternary weights

    w^t = +Wp on Ip = {w > Δ},   -Wn on In = {w < -Δ},   0 on Iz (the rest).

Gradients, with g = dL/dw^t:

- dL/dWp = Σ_{Ip} g.
- dL/dWn = -Σ_{In} g. The paper writes Σ_{In} g, which is the gradient with
  respect to the signed value -Wn that those weights take; we train the
  positive scalar Wn itself, so its true gradient carries the minus sign and
  gradient descent moves both scales the way the paper intends.
- the latent weights get the scaled straight-through gradient
  Wp·g on Ip, g on Iz and Wn·g on In.

Δ is recomputed from the latent weights at every forward pass and treated as
a constant (no gradient flows through the max).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eie.errors import ConfigError

DEFAULT_THRESHOLD = 0.05


class _Ternarize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, wp, wn, delta):
        pos = w > delta
        neg = w < -delta
        ctx.save_for_backward(pos, neg, wp, wn)
        zero = torch.zeros((), dtype=w.dtype, device=w.device)
        return torch.where(pos, wp, torch.where(neg, -wn, zero))

    @staticmethod
    def backward(ctx, g):
        pos, neg, wp, wn = ctx.saved_tensors
        zero = torch.zeros((), dtype=g.dtype, device=g.device)
        grad_wp = torch.where(pos, g, zero).sum().reshape(wp.shape)
        grad_wn = -torch.where(neg, g, zero).sum().reshape(wn.shape)
        grad_w = torch.where(pos, wp * g, torch.where(neg, wn * g, g))
        return grad_w, grad_wp, grad_wn, None


def ternarize(w: torch.Tensor, wp: torch.Tensor, wn: torch.Tensor, delta: float | torch.Tensor) -> torch.Tensor:
    """w^t with the TTQ gradients above (wp, wn: 0-d tensors)."""
    return _Ternarize.apply(w, wp, wn, torch.as_tensor(delta, dtype=w.dtype))


class TTQLinear(nn.Module):
    """A fully-connected layer with ternary weights {-Wn, 0, +Wp}."""

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        wp: float | None = None,
        wn: float | None = None,
    ):
        super().__init__()
        if not 0.0 <= float(threshold) < 1.0:
            raise ConfigError(f"TTQ threshold t={threshold} must be in [0, 1) (the paper uses 0.05)")
        weight = torch.as_tensor(weight).detach().clone()
        if weight.ndim != 2:
            raise ConfigError(f"TTQLinear needs a 2-D (out x in) weight, got shape {tuple(weight.shape)}")
        self.threshold = float(threshold)
        self.weight = nn.Parameter(weight)
        b = torch.zeros(weight.shape[0], dtype=weight.dtype) if bias is None else torch.as_tensor(bias)
        self.bias = nn.Parameter(b.detach().clone().to(weight.dtype))
        # The scales start at the mean magnitude of the weights they replace,
        # so the first ternary forward pass is close to the float one.
        with torch.no_grad():
            d = self.delta()
            pos, neg = weight > d, weight < -d
            if wp is None:
                wp = float(weight[pos].mean()) if pos.any() else float(weight.abs().max())
            if wn is None:
                wn = float(-weight[neg].mean()) if neg.any() else float(weight.abs().max())
        self.wp = nn.Parameter(torch.tensor(float(wp), dtype=weight.dtype))
        self.wn = nn.Parameter(torch.tensor(float(wn), dtype=weight.dtype))

    @classmethod
    def from_linear(cls, linear: nn.Linear, threshold: float = DEFAULT_THRESHOLD) -> TTQLinear:
        return cls(linear.weight, linear.bias, threshold=threshold)

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def delta(self) -> torch.Tensor:
        return self.threshold * self.weight.detach().abs().max()

    def ternary_weight(self) -> torch.Tensor:
        return ternarize(self.weight, self.wp, self.wn, self.delta())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.ternary_weight(), self.bias)

    def codes(self) -> np.ndarray:
        """Dense code matrix of the ternary codebook [0, +Wp, -Wn, 0]: 1 on Ip, 2 on In, 0 else."""
        with torch.no_grad():
            w = self.weight.detach()
            d = self.delta()
            out = torch.zeros(w.shape, dtype=torch.uint8)
            out[w > d] = 1
            out[w < -d] = 2
        return out.numpy()

    def codebook(self) -> np.ndarray:
        return np.array([0.0, float(self.wp.detach()), -float(self.wn.detach()), 0.0])

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, t={self.threshold}"
