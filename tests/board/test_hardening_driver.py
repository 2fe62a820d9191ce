"""Issue 9: the driver waits with a timeout, and no unknown status or bad input passes as success."""

from __future__ import annotations

import time

import numpy as np
import pytest

from eie.arithmetic.emulator import predict
from eie.arithmetic.quant import quantize
from eie.board.cosim import CoSimAccelerator
from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import EIEError, KernelTimeout
from eie.format.qmodel import HWParams
from eie.kernel.abi import KernelStatusError


@pytest.fixture(scope="module")
def setup():
    from eie.hardware.resources import config_for_model

    rng = np.random.default_rng(5)
    codes = (rng.random((9, 7)) < 0.4) * rng.integers(1, 16, (9, 7))
    cb = np.concatenate(([0.0], np.linspace(-0.6, 0.6, 15)))
    model = CompressedModel([CompressedLayer.from_dense_codes("fc", codes, cb, rng.normal(0, 0.1, 9))])
    x = rng.normal(size=(4, 7))
    qm = quantize(model, HWParams(2), calib=x)
    return qm, x, config_for_model(qm, board="pynq-z2")


class NeverDone:
    """Wraps the co-simulated IP's registers: started, it never raises ap_done (nor ap_idle)."""

    def __init__(self, regs):
        self.regs = regs
        self.hang = False

    def __getattr__(self, name):
        return getattr(self.regs, name)

    def write_ctrl(self, value):
        if self.hang:
            self.regs.ctrl = 0  # running, forever
            return
        self.regs.write_ctrl(value)

    def read_ctrl(self):
        return self.regs.read_ctrl()


@pytest.mark.parametrize("mode", ["load", "run"])
def test_a_kernel_that_never_finishes_times_out_naming_mode_and_time(setup, mode):
    qm, x, config = setup
    acc = CoSimAccelerator(config)
    port = NeverDone(acc.registers)
    acc.kernel.port = port
    acc.kernel.timeout_s = 0.2
    if mode == "run":
        acc.load(qm)
    port.hang = True
    t0 = time.monotonic()
    with pytest.raises(KernelTimeout) as e:
        acc.load(qm) if mode == "load" else acc.run(x)
    waited = time.monotonic() - t0
    assert 0.2 <= waited < 2.0
    assert e.value.mode == mode and 0.2 <= e.value.seconds < 2.0
    assert str(e.value).startswith(f"kernel timeout in mode {mode}: no ap_done after 0.2")
    assert "(timeout 0.2 s)" in str(e.value)
    assert isinstance(e.value, EIEError)
    # the board works again once the kernel does: the driver did not wedge
    port.hang = False
    acc.load(qm)
    assert np.array_equal(acc.run(x), predict(qm, x))


@pytest.mark.parametrize("code", [10, 77, -5])
def test_an_unknown_status_is_an_error_not_success(setup, code):
    qm, x, config = setup
    acc = CoSimAccelerator(config)
    acc.load(qm)
    regs = acc.registers
    real = regs.write_ctrl

    def odd_status(value):
        real(value)
        regs.regs["ap_return"] = code & 0xFFFFFFFF

    regs.write_ctrl = odd_status
    with pytest.raises(KernelStatusError) as e:
        acc.run(x)
    assert e.value.status == f"unknown_{code}"
    assert str(e.value) == f"kernel returned status {code} (unknown_{code}): unexpected status -- during run"


def test_driver_inputs_are_refused_not_cast(setup):
    qm, x, config = setup
    acc = CoSimAccelerator(config)
    acc.load(qm)
    with pytest.raises(EIEError, match="inputs holds complex values"):
        acc.run(x.astype(complex))
    with pytest.raises(EIEError, match="inputs contains NaN or infinity"):
        acc.run(np.full((1, 7), np.inf))
    with pytest.raises(EIEError, match=r"inputs holds 1e\+308, beyond the supported magnitude"):
        acc.run(np.full((1, 7), 1e308))
    with pytest.raises(EIEError, match="integer inputs holds float64 values; expected integers"):
        acc.run_int(np.full((1, 7), 3.7))  # not truncated to 3
    with pytest.raises(EIEError, match="integer inputs holds 18446744073709551615"):
        acc.run_int(np.full((1, 7), 2**64 - 1, dtype=np.uint64))  # not wrapped to -1
    with pytest.raises(EIEError, match=r"inputs have shape \(1, 1, 7\)"):
        acc.run(np.zeros((1, 1, 7)))
