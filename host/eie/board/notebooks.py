"""Which notebooks go to the board.

03 runs on a PYNQ image with the board install (numpy, pynq and the image's
matplotlib): it is the one the bundle's wheel carries, so ``pynq
get-notebooks eie-pynq`` delivers it. 01 and 02 train and sweep with
scikit-learn and threadpoolctl, which the image does not have: they are
host-only (their first cell says so) and stay in the repository.
"""

from __future__ import annotations

from pathlib import Path

BOARD_NOTEBOOKS = ("03_pynq_board",)
HOST_ONLY_NOTEBOOKS = ("01_deep_compression", "02_eie_timing_and_balance")


def board_notebooks() -> list[Path]:
    """The .ipynb files delivered to the board, from the checkout or the installed package data."""
    from eie.kernel.sources import notebooks_dir

    d = notebooks_dir()
    return [d / f"{name}.ipynb" for name in BOARD_NOTEBOOKS if (d / f"{name}.ipynb").is_file()]
