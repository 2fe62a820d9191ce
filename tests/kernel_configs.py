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

# The bit-exact kernel tests' configurations (tests/kernel/test_csim.py), shared
# with the concurrent stress tests so that each compiles once per mode.
CSIM_CONFIGS = {
    # N, weight_bits, index_bits, act/cb/acc bits, ternary, fifo
    "n1_w1_i2_narrow": dict(n_pes=1, weight_bits=1, index_bits=2, act_bits=8, cb_bits=8, acc_bits=16),
    "n2_w2_i3_ternary": dict(n_pes=2, weight_bits=2, index_bits=3, ternary=True),
    "n3_w4_i4": dict(n_pes=3, weight_bits=4, index_bits=4),
    "n8_w8_i6_fifo1": dict(n_pes=8, weight_bits=8, index_bits=6, act_bits=12, cb_bits=10, acc_bits=24, fifo_depth=1),
    "n16_w4_i5_ternary": dict(n_pes=16, weight_bits=4, index_bits=5, ternary=True),
    "n3_w2_i2_acc64_mask": dict(
        n_pes=3, weight_bits=2, index_bits=2, act_bits=32, cb_bits=32, acc_bits=64, occupancy_mask=True
    ),
}

# Kernels with streaming hardware (tests/kernel/test_kernel_stream.py): make_config there adds STREAM_DEPTHS.
STREAM_DEPTHS = dict(dir_depth=256, storage="auto")
# One port of 64 bits (as on a Zynq-7000), two and four of 128 (UltraScale+).
STREAM_CONFIGS = {
    "n1_w2_i2_p1x64": dict(
        n_pes=1, weight_bits=2, index_bits=2, act_bits=8, cb_bits=8, acc_bits=20, stream_ports=1, axi_data_bits=64
    ),
    "n3_w4_i3_mask_p2": dict(n_pes=3, weight_bits=4, index_bits=3, fifo_depth=2, occupancy_mask=True, stream_ports=2),
    "n8_w2_i3_ternary_p4": dict(
        n_pes=8, weight_bits=2, index_bits=3, ternary=True, occupancy_mask=False, stream_ports=4
    ),
}


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
