"""Shared by the kernel tests: small memory depths, so each C-simulation build
stays quick, and one way to name a kernel configuration."""

from __future__ import annotations

from eie.hardware.config import AcceleratorConfig

# Depths small enough for fast g++ builds, large enough for the random models.
KERNEL_DEPTHS = dict(entry_depth=512, ptr_depth=512, act_depth=48, bias_depth=128, max_layers=4)


def kernel_config(**params) -> AcceleratorConfig:
    """A ZCU104 kernel with KERNEL_DEPTHS and the given parameters."""
    return AcceleratorConfig(board="zcu104", **{**KERNEL_DEPTHS, **params})
