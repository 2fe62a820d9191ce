"""Stage 6, board: running on the PYNQ overlay, or on its co-simulation.

``driver`` the pynq DefaultIP driver; ``cosim`` the same driver protocol on the
C-simulated kernel. ``BOARD_SAFE`` lists every module the PYNQ image imports:
they need numpy (and pynq for the overlay) only.
"""

BOARD_SAFE = (
    "eie",
    "eie.errors",
    "eie.safeio",
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
    # LSTMs on the board: the host's cell update and the runner (eie.arithmetic.lstm
    # reads the deployed images with load_quant_lstm), and the backend adapters.
    "eie.compression",
    "eie.compression.weights",
    "eie.compression.model",
    "eie.compression.lstm",
    "eie.arithmetic.lstm",
    "eie.board.backends",
    # The deployment bundle's reader and runner (eie run BUNDLE --backend board).
    "eie.board.bundle",
    # Notebook 03 on the board: the bundle's configuration and the timing model beside the measurement.
    "eie.hardware.boards",
    "eie.hardware.config",
    "eie.format.rowmap",
    "eie.performance",
    "eie.performance.timing",
)
