"""The PYNQ driver's protocol, run against the C-simulation of the kernel.

No board here. The stand-in below plays the IP's part at register level: it
keeps the AXI4-Lite registers the driver writes (by the names Vitis HLS gives
them in the .hwh), resolves buffer addresses the way the board's physical
memory would, and on AP_START calls the compiled C-simulation of the kernel.
So the same EIEKernel code that runs on the board is checked bit for bit.
"""

import numpy as np
import pytest

from eie.abi import KERNEL_STATUS, MODE_LOAD, MODE_RUN, VLNV
from eie.driver import AP_DONE, AP_IDLE, AP_START, EIEAccelerator, EIEKernel, KernelStatusError, _PynqRegisterPort
from eie.emulator import Emulator, predict
from eie.errors import EIEError
from eie.image import HWParams
from eie.model import CompressedLayer, CompressedModel
from eie.quant import quantize

CODE = {name: code for code, name in KERNEL_STATUS.items()}


class FakeMemory:
    """pynq.allocate stand-in: numpy buffers with device addresses."""

    def __init__(self):
        self.buffers = {}
        self.next = 0x1_0000_0000  # above 4 GiB, so the high address word matters
        self.synced = []

    def allocate(self, shape, dtype):
        buf = np.zeros(shape, dtype=dtype).view(Buffer)
        buf.device_address = self.next
        buf.memory = self
        self.buffers[self.next] = buf
        self.next += (buf.nbytes + 0xFFF) & ~0xFFF
        return buf


class Buffer(np.ndarray):
    def sync_to_device(self):
        self.memory.synced.append(("to", self.device_address))

    def sync_from_device(self):
        self.memory.synced.append(("from", self.device_address))


class CSimIP:
    """Register-level stand-in for the kernel IP, backed by the C-simulation."""

    def __init__(self, sim, memory):
        self.sim, self.memory = sim, memory
        self.regs = {}
        self.ctrl = AP_IDLE

    def write_reg(self, name, value):
        assert 0 <= value < 1 << 32, f"{name}: registers are 32 bits"
        self.regs[name] = value

    def read_reg(self, name):
        return self.regs[name]

    def read_ctrl(self):
        return self.ctrl

    def _buffer(self, name):
        return self.memory.buffers[self.regs[f"{name}_1"] | (self.regs[f"{name}_2"] << 32)]

    def write_ctrl(self, value):
        assert value == AP_START
        mode = self.regs["mode"]
        if mode == MODE_LOAD:
            status = self.sim.load_status(np.asarray(self._buffer("image")))
        elif mode == MODE_RUN:
            x, y = self._buffer("x_in"), self._buffer("y_out")
            n = self.regs["n_vectors"]
            try:
                y[:n] = self.sim.run(np.asarray(x[:n]), self.regs["first"], self.regs["last"])
                status = 0
            except EIEError as e:
                status = CODE[e.status]
        else:
            status = CODE["bad_mode"]
        self.regs["ap_return"] = status
        self.ctrl = AP_DONE | AP_IDLE


def small_model(rng):
    def layer(name, m, k, act, kind="shared"):
        if kind == "ternary":
            codes = (rng.random((m, k)) < 0.4) * rng.integers(1, 3, (m, k))
            cb = np.zeros(4)
            cb[1], cb[2] = 0.3, -0.2
            bits = 2
        else:
            codes = (rng.random((m, k)) < 0.3) * rng.integers(1, 16, (m, k))
            cb = np.concatenate(([0.0], np.sort(rng.normal(0, 0.4, 15))))
            bits = 4
        return CompressedLayer.from_dense_codes(name, codes, cb, rng.normal(0, 0.1, m), activation=act,
                                                weight_bits=bits, kind=kind)

    return CompressedModel([layer("fc1", 21, 12, "relu"), layer("fc2", 17, 21, "relu", "ternary"),
                            layer("fc3", 5, 17, "none")])


@pytest.fixture(scope="module")
def setup():
    from eie.csim import CSim
    from eie.resources import config_for_model

    rng = np.random.default_rng(11)
    model = small_model(rng)
    x = rng.uniform(0, 1, (9, 12))
    perms = [rng.permutation(21), rng.permutation(17), rng.permutation(5)]
    qm = quantize(model, HWParams(3), calib=x, row_maps=perms)
    sim = CSim(config_for_model(qm, board="pynq-z2"))
    return qm, x, sim


def test_driver_on_csim_equals_emulator_bit_for_bit(setup):
    qm, x, sim = setup
    mem = FakeMemory()
    drv = EIEKernel(CSimIP(sim, mem), mem.allocate)
    drv.load(qm)
    # float in, float out: the same floats as the emulator's integer path
    assert np.array_equal(drv.run(x), predict(qm, x))
    assert np.array_equal(drv.run(x[0]), predict(qm, x[:1])[0])
    # integer path, one layer at a time, physical order
    emu = Emulator(qm)
    xi = np.random.default_rng(0).integers(-500, 3000, (4, 12))
    h = drv.run_int(xi, 0, 0)
    assert np.array_equal(h, emu.run_layers(xi, 0, 0))
    assert np.array_equal(drv.run_int(h, 1, 2), emu.run_layers(xi))
    # the input buffer was flushed before the kernel read it, the output invalidated after
    assert ("to", min(mem.buffers)) in mem.synced and any(s[0] == "from" for s in mem.synced)


def test_kernel_statuses_reach_the_user(setup):
    qm, x, sim = setup
    mem = FakeMemory()
    drv = EIEKernel(CSimIP(sim, mem), mem.allocate)
    img = qm.to_image().copy()
    img[0] ^= np.uint64(1)
    # the host's strict reader refuses first ...
    with pytest.raises(EIEError, match="magic"):
        drv.load(img)
    # ... and without it, the kernel's own check reports the status
    with pytest.raises(KernelStatusError, match="bad_magic") as e:
        drv.load(img, check=False)
    assert e.value.name == "bad_magic"
    with pytest.raises(EIEError, match="load\\(\\) first"):
        drv.run(x)
    drv.load(qm)
    with pytest.raises(EIEError, match="out of range"):
        drv.run_int(np.zeros((1, 12), np.int64), 0, 3)
    with pytest.raises(EIEError, match="takes 12"):
        drv.run_int(np.zeros((1, 11), np.int64))


def test_pynq_register_port_uses_hwh_register_names():
    class Reg:
        def __init__(self, address):
            self.address = address

    class RegisterMap:
        image_1, image_2, mode, ap_return = Reg(0x10), Reg(0x14), Reg(0x20), Reg(0x18)

    class IP:
        register_map = RegisterMap()
        writes = []

        def write(self, offset, value):
            self.writes.append((offset, value))

        def read(self, offset):
            return {0x18: 3, 0x00: AP_DONE}[offset]

    ip = IP()
    port = _PynqRegisterPort(ip)
    port.write_reg("image_2", 7)
    port.write_reg("mode", MODE_RUN)
    port.write_ctrl(AP_START)
    assert ip.writes == [(0x14, 7), (0x20, MODE_RUN), (0x00, AP_START)]
    assert port.read_reg("ap_return") == 3 and port.read_ctrl() == AP_DONE
    with pytest.raises(EIEError, match="no register 'x_in_1'"):
        port.write_reg("x_in_1", 0)


def test_driver_binds_to_the_exported_ip():
    assert EIEAccelerator.bindto == [VLNV] == ["eie-pynq.org:hls:eie_top:1.0"]
