"""Stage 3, arithmetic: fixed-point formats and the bit-exact integer path.

``quant`` chooses formats and proves the accumulator cannot overflow;
``emulator`` is the golden integer model (docs/arithmetic.md). The emulator is
board-safe.
"""
