"""Stage 6, board: running on the PYNQ overlay, or on its co-simulation.

``driver`` the pynq DefaultIP driver; ``cosim`` the same driver protocol on the
C-simulated kernel. ``BOARD_SAFE`` lists every module the PYNQ image imports:
they need numpy (and pynq for the overlay) only. That includes the ``eie``
command's modules: ``eie run BUNDLE --backend emulator`` (or ``board``) runs
there, its emulator on numpy alone (``eie.arithmetic.emulator.IntMatrix``).
"""

BOARD_SAFE = (
    "eie",
    "eie.errors",
    "eie.safeio",
    "eie.format",
    "eie.format.csc",
    "eie.format.qmodel",
    "eie.format.image",
    "eie.format.stream",  # the streamed-layer layout the image reader checks
    "eie.arithmetic",
    "eie.arithmetic.emulator",
    "eie.hardware",
    "eie.kernel",
    "eie.kernel.abi",
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
    # The deployment bundle's reader and runner (eie run BUNDLE --backend emulator|board).
    "eie.board.bundle",
    "eie.board.lstm_bundle",  # an LSTM bundle's reader (eie run: the emulator through the host cell)
    # The eie command: ``eie run`` and what it reads (--input files), and every other
    # sub-command's module, which the command line registers (they import numpy only at
    # module level; host commands load scipy, scikit-learn, jinja2 or pyyaml when run
    # and say which extra to install when those are missing).
    "eie.format.vectors",
    "eie.cli",
    "eie.cli.output",
    "eie.cli.run",
    "eie.cli.lstm",
    "eie.cli.compress",
    "eie.cli.inspect",
    "eie.cli.simulate",
    "eie.cli.plan",
    "eie.cli.generate",
    "eie.cli.verify",
    "eie.cli.deploy",
    "eie.cli.build",
    "eie.cli.report",
    "eie.cli.demo",
    "eie.compression.kmeans",
    # Notebook 03 on the board: the bundle's configuration and the timing model beside the measurement.
    "eie.hardware.boards",
    "eie.hardware.config",
    "eie.format.rowmap",
    "eie.performance",
    "eie.performance.timing",
)
