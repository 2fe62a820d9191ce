"""Weight sharing with centroid fine-tuning (Deep Compression, step 2).

A ``SharedLinear`` layer holds fixed codes and a trainable codebook; its
weight matrix is ``codebook[codes]``. Indexing's backward pass adds up the
gradients that land on one index, so autograd gives each centroid the sum of
the gradients of the weights that share it, which is exactly the paper's
centroid update. Code 0 is the pruned value zero and is not a parameter, so
pruned weights stay zero and their gradients are dropped.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eie.errors import ConfigError


class SharedLinear(nn.Module):
    """A fully-connected layer whose weights are ``codebook[codes]``."""

    def __init__(self, codes, codebook, bias=None, weight_bits: int | None = None):
        super().__init__()
        codes = torch.as_tensor(np.asarray(codes), dtype=torch.long)
        codebook = torch.as_tensor(np.asarray(codebook, dtype=np.float64), dtype=torch.float32)
        if codes.ndim != 2:
            raise ConfigError(f"SharedLinear needs a 2-D (out x in) code matrix, got shape {tuple(codes.shape)}")
        if codebook.ndim != 1 or codebook.numel() < 2:
            raise ConfigError("the codebook must be a 1-D array of at least 2 values (code 0 is zero)")
        if float(codebook[0]) != 0.0:
            raise ConfigError("codebook[0] must be 0: code 0 means a pruned weight")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= codebook.numel()):
            raise ConfigError(f"codes must be in 0..{codebook.numel() - 1}")
        bits = int(np.log2(codebook.numel())) if weight_bits is None else int(weight_bits)
        if codebook.numel() != 1 << bits:
            raise ConfigError(f"the codebook has {codebook.numel()} values; weight_bits={bits} needs {1 << bits}")
        self.weight_bits = bits
        self.register_buffer("codes", codes)
        self.centroids = nn.Parameter(codebook[1:].clone())
        b = torch.zeros(codes.shape[0]) if bias is None else torch.as_tensor(bias, dtype=torch.float32)
        self.bias = nn.Parameter(b.detach().clone().float())

    @classmethod
    def from_linear(
        cls,
        linear: nn.Module,
        weight_bits: int = 4,
        mask: np.ndarray | None = None,
        init: str = "linear",
        seed: int = 0,
    ) -> SharedLinear:
        """Cluster the kept weights of ``linear`` (nonzero, or ``mask``) into 2^b - 1 centroids."""
        from eie.compression.kmeans import share_weights

        w = linear.weight.detach().cpu().numpy().astype(np.float64)
        keep = (w != 0) if mask is None else (np.asarray(mask, dtype=bool) & (w != 0))
        codes = np.zeros(w.shape, dtype=np.uint8)
        if keep.any():
            codebook, kept_codes = share_weights(w[keep], weight_bits, init=init, seed=seed)
            codes[keep] = kept_codes
        else:
            codebook = np.zeros(1 << weight_bits)
        bias = None if linear.bias is None else linear.bias.detach().cpu()
        return cls(codes, codebook, bias, weight_bits=weight_bits)

    @property
    def in_features(self) -> int:
        return self.codes.shape[1]

    @property
    def out_features(self) -> int:
        return self.codes.shape[0]

    def codebook(self) -> torch.Tensor:
        return torch.cat([self.centroids.new_zeros(1), self.centroids])

    @property
    def weight(self) -> torch.Tensor:
        return self.codebook()[self.codes]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, weight_bits={self.weight_bits}"
