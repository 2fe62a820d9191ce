"""Shared by the kernel tests: small memory depths, so each C-simulation build
stays quick, and one way to name a kernel configuration."""

from __future__ import annotations

from eie.hardware.config import AcceleratorConfig

# Depths small enough for fast g++ builds, large enough for the random models.
KERNEL_DEPTHS = dict(entry_depth=512, ptr_depth=512, act_depth=48, bias_depth=128, max_layers=4)
# The kernel tests name the mask and the FIFO where they matter; elsewhere
# they keep EIE's schedule (FIFO 8, every PE sees every column), whatever the
# configuration's defaults.
KERNEL_SCHEDULE = dict(fifo_depth=8, occupancy_mask=False)


def kernel_config(**params) -> AcceleratorConfig:
    """A ZCU104 kernel with KERNEL_DEPTHS, KERNEL_SCHEDULE and the given parameters."""
    return AcceleratorConfig(board="zcu104", **{**KERNEL_DEPTHS, **KERNEL_SCHEDULE, **params})


# The two C-simulations every bit-exact kernel test runs on: Vitis HLS's
# sequential one, and the concurrent one (each DATAFLOW process a thread, each
# stream a bounded FIFO of its declared depth), here with schedule jitter.
MODES = ("sequential", "concurrent")


def make_sim(config: AcceleratorConfig, mode: str, seed: int = 0):
    """The C-simulation of ``config`` in ``mode``; the concurrent one jitters its schedule from ``seed``."""
    from eie.kernel.csim import CSim, Schedule

    if mode == "sequential":
        return CSim(config)
    assert mode == "concurrent", mode
    return CSim(config, concurrent=True, schedule=Schedule(jitter=3, seed=seed))
