"""Shared by the frontend tests: one small accelerator configuration for every C-simulation.

It is the ``n3_w4_i4`` configuration of tests/kernel/test_csim.py, so the
compiled kernel is shared with those tests through the build cache.
"""

from __future__ import annotations

import pytest

from eie.errors import ToolchainError
from eie.hardware.config import AcceleratorConfig

SMALL = dict(
    board="zcu104",
    n_pes=3,
    weight_bits=4,
    index_bits=4,
    entry_depth=512,
    ptr_depth=512,
    act_depth=48,
    bias_depth=128,
    max_layers=4,
)


@pytest.fixture(scope="session")
def small_config():
    from eie.kernel import csim

    try:
        csim.compiler()
        csim.ap_types_dir()
    except ToolchainError as e:  # pragma: no cover - depends on the machine
        pytest.skip(str(e))
    return AcceleratorConfig(**SMALL)
