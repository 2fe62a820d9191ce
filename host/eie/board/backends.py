"""Backends that run quantised models: one interface for emulator, C-simulation and board.

A backend has ``load(qm)`` (a ``QuantModel``) and ``run_int(x_int)`` (integer
inputs, physical order, in; the kernel's integer outputs, physical order,
out). ``eie.arithmetic.lstm.LSTMRunner`` and ``eie.api`` drive them.

- ``emulator``: the bit-exact integer emulator (``EmulatorBackend``);
- ``csim``: the rendered kernel compiled with g++ (``CSimBackend``);
- ``csim-concurrent``: the same kernel with every DATAFLOW process a thread
  and every stream a bounded FIFO of its declared depth, as the board runs it;
- ``cosim``: the PYNQ driver's register protocol over the C-simulation
  (``DriverBackend`` on a ``CoSimAccelerator``);
- ``board``: the PYNQ driver on a loaded overlay (``DriverBackend`` on
  ``pynq.Overlay(...).eie``).

``config_for_models`` sizes one accelerator configuration that holds every
model of a network (an LSTM's gate matrices and head are loaded one after
another into the same kernel).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eie.arithmetic.lstm import EmulatorBackend
from eie.errors import ConfigError
from eie.format.qmodel import QuantModel

BACKENDS = ("emulator", "csim", "csim-concurrent", "cosim", "board")
# The backends that run the rendered kernel, so need an accelerator configuration.
KERNEL_BACKENDS = ("csim", "csim-concurrent", "cosim")


class CSimBackend:
    def __init__(self, config, concurrent: bool = False):
        from eie.kernel.csim import CSim

        self.config = config
        self.name = "csim-concurrent" if concurrent else "csim"
        self.sim = CSim(config, concurrent=concurrent)

    def load(self, qm: QuantModel) -> None:
        self.sim.load(qm.to_image())

    def run_int(self, x_int: np.ndarray) -> np.ndarray:
        return self.sim.run(x_int)


class DriverBackend:
    """The PYNQ driver (``EIEKernel`` methods): a board overlay's IP or a ``CoSimAccelerator``."""

    name = "board"

    def __init__(self, accelerator, name: str = "board"):
        self.accelerator = accelerator
        self.name = name

    def load(self, qm: QuantModel) -> None:
        self.accelerator.load(qm)

    def run_int(self, x_int: np.ndarray) -> np.ndarray:
        return self.accelerator.run_int(x_int)


def config_for_models(models: Sequence[QuantModel], board: str = "zcu104"):
    """One configuration that holds each model, checked against the board."""
    from eie.hardware.resources import check_fits_board
    from eie.hardware.resources import config_for_models as sized

    config = sized(models, board)
    check_fits_board(config)
    return config


def make_backend(name: str, config=None, overlay_ip=None):
    """A backend by name; ``csim``/``csim-concurrent``/``cosim`` need ``config``, ``board`` the overlay's IP."""
    if name == "emulator":
        return EmulatorBackend()
    if name in KERNEL_BACKENDS and config is None:
        raise ConfigError(f"backend {name!r} needs an accelerator configuration")
    if name in ("csim", "csim-concurrent"):
        return CSimBackend(config, concurrent=name == "csim-concurrent")
    if name == "cosim":
        from eie.board.cosim import CoSimAccelerator

        return DriverBackend(CoSimAccelerator(config), "cosim")
    if name == "board":
        if overlay_ip is None:
            raise ConfigError("backend 'board' needs the overlay's IP: pynq.Overlay('eie.bit').eie")
        return DriverBackend(overlay_ip, "board")
    raise ConfigError(f"backend {name!r} is not one of {', '.join(BACKENDS)}")
