"""The board driver through the real pynq package, on a mock pynq Device backed by the C-simulation.

pynq 4 installs and imports on x86_64 but pins numpy<2 and, through pynqutils,
setuptools<=80, so it lives in a venv of its own: ``make test-pynq`` (part of
``make test``) builds it from the ``board`` extra and runs this file there with
EIE_REQUIRE_PYNQ=1, which turns a missing or broken pynq into a failure instead
of a skip. In the host venv the file is skipped.

What is pynq's own here: the driver lookup by VLNV (``pynq.overlay._assign_drivers``
via ``_complete_description``), ``_IPMap`` instantiating the driver, ``DefaultIP``,
``MMIO`` over a REGISTER_RW device, ``RegisterMap`` built from the .hwh-style
register description, ``pynq.allocate`` and ``PynqBuffer`` with its flush and
invalidate. What is ours: the Device (registers forwarded to
``eie.board.cosim.CSimRegisters`` and buffers resolved by device address), and the
interrupt stand-in, since ``pynq.Interrupt`` needs the PL's interrupt controller.
"""

import asyncio
import os
import warnings

import numpy as np
import pytest

if os.environ.get("EIE_REQUIRE_PYNQ") == "1":
    import pynq  # noqa: F401  (fails the run where the pynq venv is broken)
else:
    pytest.importorskip("pynq")

from pynq.buffer import PynqBuffer  # noqa: E402
from pynq.overlay import DefaultIP, _complete_description, _IPMap  # noqa: E402
from pynq.pl_server.device import Device  # noqa: E402
from pynq.registers import RegisterMap  # noqa: E402

from eie.arithmetic.emulator import Emulator, predict  # noqa: E402
from eie.board.cosim import CoSimInterrupt, CSimRegisters  # noqa: E402
from eie.board.driver import CTRL, GIE, IER, ISR, EIEAccelerator  # noqa: E402
from eie.errors import ConfigError  # noqa: E402
from eie.hardware.config import AcceleratorConfig  # noqa: E402
from eie.hardware.testmodel import demo_model, random_inputs  # noqa: E402
from eie.kernel.abi import REGISTER_SPACE, REGISTERS, VLNV, registers  # noqa: E402
from eie.kernel.csim import CSim  # noqa: E402

BASE = 0x4000_0000  # where the overlay's address editor puts the kernel's control bundle
# One small configuration the host suite also compiles (tests/board/test_driver.py), so the
# C-simulation library is usually in the cache already.
CONFIG = AcceleratorConfig(
    board="zcu104", n_pes=2, entry_depth=256, ptr_depth=256, act_depth=32, bias_depth=64, max_layers=4
)
# A streaming kernel that streams every layer, over the UltraScale+ default of 2 stream ports
# (image_s0, image_s1: registers after y_out).
STREAM_CONFIG = CONFIG.replace(storage="stream", dir_depth=64)


class CSimDevice(Device):
    """A pynq Device (REGISTER_RW, as pynq's remote and XRT devices are) whose kernel is the C-simulation.

    Register reads and writes at BASE+offset reach CSimRegisters by the names the
    driver's register table gives each offset; allocate() returns pynq's own
    PynqBuffer at distinct device addresses above 4 GiB, which the kernel resolves
    when it reads a pointer register.
    """

    def __init__(self, config: AcceleratorConfig, regs: dict[str, int] | None = None):
        super().__init__("eie-csim")
        self.capabilities = {"REGISTER_RW": True}
        self.buffers: dict[int, PynqBuffer] = {}
        self.next_address = 0x1_0000_0000
        self.flushed: list[int] = []
        self.invalidated: list[int] = []
        self.allocations = 0
        self.regs = registers(config) if regs is None else regs  # the kernel's, or an overlay built otherwise
        self.names = {off: name for name, off in self.regs.items()}
        self.kernel = CSimRegisters(CSim(config), self, self.regs)

    # -- memory: pynq.allocate(target=device) -> device.allocate ------------
    def allocate(self, shape, dtype, **kwargs):
        buf = PynqBuffer(shape, dtype, device=self, device_address=self.next_address, bo=self.next_address)
        self.buffers[self.next_address] = buf
        self.next_address += (buf.nbytes + 0xFFF) & ~0xFFF
        self.allocations += 1
        return buf

    def resolve(self, address: int) -> np.ndarray:
        return self.buffers[address]

    def flush(self, bo, offset, ptr, size):
        self.flushed.append(bo)

    def invalidate(self, bo, offset, ptr, size):
        self.invalidated.append(bo)

    # -- registers: MMIO(REGISTER_RW) -> device.read_registers / write_registers
    def read_registers(self, address: int, length: int) -> bytes:
        off = address - BASE
        if off == CTRL:
            value = self.kernel.read_ctrl()
        elif off in (GIE, IER, ISR):
            value = self.kernel.read_at(off)
        else:
            value = self.kernel.read_reg(self.names[off])
        return int(value).to_bytes(length, "little")

    def write_registers(self, address: int, data: bytes) -> None:
        off, value = address - BASE, int.from_bytes(data, "little")
        if off == CTRL:
            self.kernel.write_ctrl(value)
        elif off in (GIE, IER, ISR):
            self.kernel.write_at(off, value)
        else:
            self.kernel.write_reg(self.names[off], value)


def ip_description(vlnv: str, regs: dict[str, int] = REGISTERS) -> dict:
    """The kernel's entry in a pynq ip_dict, as pynq parses it from the overlay's .hwh."""
    described = {
        name: {
            "address_offset": off,
            "size": 32,
            "access": "read-only" if name == "ap_return" else "read-write",
            "description": f"{name} register of the EIE kernel",
        }
        for name, off in regs.items()
    }
    return {
        "fullpath": "eie",
        "type": vlnv,
        "phys_addr": BASE,
        "addr_range": REGISTER_SPACE,
        "registers": described,
        "state": None,
        "parameters": {},
    }


def overlay_ip(device: Device, vlnv: str = VLNV):
    """The kernel's driver as ``pynq.Overlay(...).eie`` would give it: pynq picks the class by VLNV."""
    desc = _complete_description({"eie": ip_description(vlnv, device.regs)}, {}, False, {}, device, None)
    return _IPMap(desc).eie


@pytest.fixture(scope="module")
def board():
    device = CSimDevice(CONFIG)
    qm = demo_model(CONFIG, seed=3)
    return device, overlay_ip(device), qm


def test_pynq_binds_the_driver_by_vlnv_through_its_own_classes(board):
    device, ip, _ = board
    assert type(ip) is EIEAccelerator and isinstance(ip, DefaultIP)
    assert ip.device is device and ip.mmio.base_addr == BASE
    assert isinstance(ip.register_map, RegisterMap)
    # pynq's RegisterMap gives the driver's offsets (the driver looks them up by name).
    assert {n: int(getattr(ip.register_map, n).address) for n in REGISTERS} == REGISTERS
    # A bitstream of another image-format version has another VLNV: pynq does not bind the driver.
    stale = VLNV.rpartition(":")[0] + ":1.0"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = overlay_ip(device, stale)
    assert type(old) is DefaultIP
    assert any(VLNV in str(w.message) for w in caught)


def test_load_run_run_int_bit_exact_through_pynq(board):
    device, ip, qm = board
    allocs = device.allocations
    ip.load(qm)
    assert device.allocations == allocs + 1  # the image buffer
    image_addr = device.kernel.regs["image_1"] | device.kernel.regs["image_2"] << 32
    assert isinstance(device.buffers[image_addr], PynqBuffer) and image_addr >= 1 << 32
    assert device.flushed[-1] == image_addr  # PynqBuffer.flush before the kernel read it

    emu = Emulator(qm)
    x = random_inputs(qm, 5, seed=4)
    want = emu.run_layers(x)
    got = ip.run_int(x)
    assert np.array_equal(got, want) and np.unique(want).size > 3
    # The output buffer was invalidated after the run, the input flushed before it.
    xin = device.kernel.regs["x_in_1"] | device.kernel.regs["x_in_2"] << 32
    yout = device.kernel.regs["y_out_1"] | device.kernel.regs["y_out_2"] << 32
    assert device.flushed[-1] == xin and device.invalidated[-1] == yout
    assert device.kernel.regs["n_vectors"] == 5  # all five vectors in one kernel start

    # Layer by layer, the same integers.
    h = ip.run_int(x, 0, 0)
    assert np.array_equal(h, emu.run_layers(x, 0, 0))
    assert np.array_equal(ip.run_int(h, 1, len(qm.layers) - 1), want)

    # Floats in, floats out, as the emulator's integer path gives them.
    xf = np.random.default_rng(5).uniform(-1, 1, (4, qm.in_features))
    assert np.array_equal(ip.run(xf), predict(qm, xf))
    assert np.array_equal(ip.run(xf[0]), predict(qm, xf[:1])[0])


def test_buffers_are_allocated_once_per_shape(board):
    device, ip, qm = board
    ip.load(qm)
    x = random_inputs(qm, 3, seed=6)
    ip.run_int(x)
    allocs, starts = device.allocations, device.kernel.starts
    for _ in range(4):
        ip.run_int(x)
    assert device.allocations == allocs and device.kernel.starts == starts + 4
    ip.run_int(x[:2])  # a new shape: one new pair
    assert device.allocations == allocs + 2


def test_benchmark_times_the_kernel_apart_from_allocation(board):
    device, ip, qm = board
    ip.load(qm)
    x = np.random.default_rng(7).uniform(-1, 1, (6, qm.in_features))
    allocs, starts = device.allocations, device.kernel.starts
    r = ip.benchmark(x, runs=3)
    assert device.kernel.starts - starts == 4  # warm-up, then three timed runs
    assert device.allocations - allocs <= 2  # the warm-up's buffers (if this shape is new), then none
    assert (r["runs"], r["batch"]) == (3, 6)
    assert 0 < r["kernel_us"]["min"] <= r["kernel_us"]["max"] and r["kernel_us"]["median"] <= r["latency_us"]["max"]
    assert "on the board" in r["source"]


def test_run_async_waits_for_the_interrupt(board):
    device, ip, qm = board
    ip.load(qm)
    xf = np.random.default_rng(8).uniform(-1, 1, (3, qm.in_features))
    want = predict(qm, xf)
    # pynq.Interrupt needs the PL's interrupt controller: the C-simulation's stand-in waits on ISR.
    ip.kernel.interrupt = CoSimInterrupt(device.kernel)
    device.kernel.start_latency = 3
    try:
        got = asyncio.run(ip.run_async(xf))
    finally:
        device.kernel.start_latency = 0
    assert np.array_equal(got, want)
    # Enabled through pynq's MMIO (IER bit 0 and GIE), and acknowledged (ISR toggle-on-write).
    assert (ip.read(GIE), ip.read(IER), ip.read(ISR)) == (1, 1, 0)
    assert ip.kernel.interrupt.waits == 1


def test_no_device_is_one_clear_error(tmp_path, monkeypatch):
    """pynq installed, no FPGA (this machine): the overlay cannot load; the driver says so in one line
    instead of pynq's RuntimeError surfacing as an internal error."""
    from eie.board.driver import open_overlay
    from eie.errors import EIEError

    # pynq probes its Device subclasses once per process: start from none found, as on a host.
    monkeypatch.setattr(Device, "_devices", [], raising=False)
    monkeypatch.delattr(Device, "_active_device", raising=False)
    with pytest.raises(EIEError) as e:
        open_overlay(str(tmp_path / "eie.bit"))
    msg = str(e.value)
    assert msg.startswith("no PYNQ device found") and "--backend emulator" in msg and "\n" not in msg


def test_stream_ports_get_the_image_address_through_pynq():
    """A streaming kernel's overlay: the driver finds image_s0 and image_s1 in pynq's register map (the
    .hwh's names, not a count it assumes), writes the image buffer's address to each through pynq's MMIO
    at their offsets after y_out, and the C-simulation (which checks every stream port against the image
    pointer at each start) runs the streamed layers bit-exact."""
    device = CSimDevice(STREAM_CONFIG)
    ip = overlay_ip(device)
    assert type(ip) is EIEAccelerator and ip.kernel.stream_pointers == ("image_s0", "image_s1")
    offsets = {n: int(getattr(ip.register_map, n).address) for n in ("image_s0_1", "image_s0_2", "image_s1_1")}
    assert offsets == {"image_s0_1": 0x74, "image_s0_2": 0x78, "image_s1_1": 0x80}
    qm = demo_model(STREAM_CONFIG, seed=3)
    assert {layer.storage for layer in qm.layers} == {"stream"}
    ip.load(qm)
    regs = device.kernel.regs
    image = regs["image_1"] | regs["image_2"] << 32
    assert image >= 1 << 32 and isinstance(device.buffers[image], PynqBuffer)
    for lane in (0, 1):
        assert regs[f"image_s{lane}_1"] | regs[f"image_s{lane}_2"] << 32 == image
    x = random_inputs(qm, 3, seed=4)
    want = Emulator(qm).run_layers(x)
    assert np.array_equal(ip.run_int(x), want) and np.unique(want).size > 3
    # A stream port the driver did not point at the image is caught by the co-simulated IP.
    device.kernel.regs["image_s1_1"] ^= 0x1000
    with pytest.raises(Exception, match="stream port image_s1 points at"):
        device.kernel.write_ctrl(1)


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ({"image_s0_1", "image_s0_2"}, "has the stream port image_s1 but not image_s0"),
        ({"image_s1_2"}, "has the register image_s1_1 but not image_s1_2"),
    ],
    ids=["image_s1-without-image_s0", "half-a-pointer"],
)
def test_an_inconsistent_stream_port_set_is_refused_when_pynq_binds_the_driver(drop, message):
    regs = {n: off for n, off in registers(2).items() if n not in drop}
    device = CSimDevice(STREAM_CONFIG, regs)
    with pytest.raises(ConfigError) as e:
        overlay_ip(device)
    msg = str(e.value)
    assert msg.startswith(f"the overlay's kernel {message}") and "rebuild the overlay" in msg
    assert device.kernel.starts == 0 and device.allocations == 0  # refused before any write
