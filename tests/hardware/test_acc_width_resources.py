"""Issue 20: a wider accumulator costs what the estimate says (memories, adders, registers)."""

from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import estimate, logic_blocks, pe_memories


def test_wider_accumulators_are_counted():
    narrow = AcceleratorConfig(board="zcu104", n_pes=16, acc_bits=32)
    wide = narrow.replace(acc_bits=48)
    # The accumulator and bias memories are acc_bits wide.
    assert pe_memories(wide)["accumulators"] == (narrow.act_depth, 48)
    assert pe_memories(wide)["biases"] == (narrow.bias_depth, 48)
    # The accumulation loop's add and the epilogue (bias add, rounding add, shifter, compares) grow.
    for block in ("pe_accumulate", "pe_epilogue"):
        assert logic_blocks(wide)[block][1] > logic_blocks(narrow)[block][1]
        assert logic_blocks(wide)[block][2] > logic_blocks(narrow)[block][2]
    a, b = estimate(narrow), estimate(wide)
    assert b.lut > a.lut and b.ff > a.ff and b.bram36 >= a.bram36
