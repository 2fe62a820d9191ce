"""Stage 6, board: running on the PYNQ overlay, or on its co-simulation.

``driver`` the pynq DefaultIP driver; ``cosim`` the same driver protocol on the
C-simulated kernel. ``BOARD_SAFE`` lists every module the PYNQ image imports:
they need numpy (and pynq for the overlay) only.
"""

BOARD_SAFE = (
    "eie",
    "eie.errors",
    "eie.format",
    "eie.format.csc",
    "eie.format.qmodel",
    "eie.format.image",
    "eie.arithmetic",
    "eie.arithmetic.emulator",
    "eie.hardware",
    "eie.hardware.abi",
    "eie.board",
    "eie.board.driver",
)
