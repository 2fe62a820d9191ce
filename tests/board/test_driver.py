"""The PYNQ driver's protocol, run against the C-simulation of the kernel.

No board here. eie.board.cosim plays the IP's part at register level: it keeps the
AXI4-Lite registers the driver writes (by the names Vitis HLS gives them in
the .hwh), resolves buffer addresses the way the board's physical memory
would, and on AP_START calls the compiled C-simulation of the kernel. So the
same EIEKernel code that runs on the board is checked bit for bit.
"""

import numpy as np
import pytest

from eie.arithmetic.emulator import Emulator, predict
from eie.arithmetic.quant import quantize
from eie.board.cosim import CoSimAccelerator, CSimRegisters, HostMemory
from eie.board.driver import AP_DONE, AP_START, EIEAccelerator, EIEKernel, _PynqRegisterPort
from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import EIEError, ImageError
from eie.format.qmodel import HWParams
from eie.kernel.abi import MODE_RUN, VLNV


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
        return CompressedLayer.from_dense_codes(
            name, codes, cb, rng.normal(0, 0.1, m), activation=act, weight_bits=bits, kind=kind
        )

    return CompressedModel(
        [layer("fc1", 21, 12, "relu"), layer("fc2", 17, 21, "relu", "ternary"), layer("fc3", 5, 17, "none")]
    )


@pytest.fixture(scope="module")
def setup():
    from eie.hardware.resources import config_for_model
    from eie.kernel.csim import CSim

    rng = np.random.default_rng(11)
    model = small_model(rng)
    x = rng.uniform(0, 1, (9, 12))
    perms = [rng.permutation(21), rng.permutation(17), rng.permutation(5)]
    qm = quantize(model, HWParams(3), calib=x, row_maps=perms)
    config = config_for_model(qm, board="pynq-z2")
    return qm, x, CSim(config), config


def test_driver_on_csim_equals_emulator_bit_for_bit(setup):
    qm, x, sim, _ = setup
    mem = HostMemory()
    regs = CSimRegisters(sim, mem)
    drv = EIEKernel(regs, mem.allocate)
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
    assert mem.synced[0][0] == "to" and any(s[0] == "from" for s in mem.synced)
    # pointers above 4 GiB went through both address registers
    assert regs.regs["image_2"] == 1 and regs.starts == 5


def test_cosim_accelerator_is_the_board_api(setup):
    qm, x, _, config = setup
    acc = CoSimAccelerator(config)
    acc.load(qm.to_image())
    assert np.array_equal(acc.predict(x), np.argmax(predict(qm, x), axis=1))


def test_kernel_statuses_reach_the_user(setup):
    qm, x, sim, _ = setup
    mem = HostMemory()
    drv = EIEKernel(CSimRegisters(sim, mem), mem.allocate)
    img = qm.to_image().copy()
    img[0] ^= np.uint64(1)
    # the host's strict reader refuses first ...
    with pytest.raises(EIEError, match="magic"):
        drv.load(img)
    # ... and without it, the kernel's own check reports the status
    with pytest.raises(ImageError, match="bad_magic") as e:
        drv.load(img, check=False)
    assert e.value.code == e.value.status == "bad_magic"
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
    from eie.format.image import VERSION

    assert EIEAccelerator.bindto == [VLNV] == [f"eie-pynq.org:hls:eie_top:{VERSION}.0"]


def test_driver_waits_for_done_when_start_takes_effect_late():
    """A start that takes effect late leaves ap_idle showing from the previous
    call: completion by ap_idle would return before the kernel ran; the driver
    waits for ap_done (clear-on-read) and gets this call's outputs."""
    pytest.importorskip("eie.kernel.csim")
    from eie.board.driver import AP_IDLE
    from eie.hardware.config import AcceleratorConfig
    from eie.hardware.testmodel import demo_model, random_inputs

    cfg = AcceleratorConfig(
        board="zcu104", n_pes=2, entry_depth=256, ptr_depth=256, act_depth=32, bias_depth=64, max_layers=4
    )
    try:
        acc = CoSimAccelerator(cfg)
    except EIEError as e:
        pytest.skip(str(e))
    qm = demo_model(cfg, seed=3)
    acc.load(qm)
    x = random_inputs(qm, 3, seed=4)
    want = Emulator(qm).run_layers(x)

    regs = acc.registers
    regs.start_latency = 3
    regs.write_ctrl(AP_START)
    first = regs.read_ctrl()
    # The race: idle shows, done does not, and the kernel has not run yet.
    assert first & AP_IDLE and not first & AP_DONE
    while regs._pending:
        regs.read_ctrl()
    assert regs.read_ctrl() & AP_DONE
    assert not regs.read_ctrl() & AP_DONE  # clear-on-read

    got = acc.run_int(x)
    assert np.array_equal(got, want)


def test_interrupt_driven_run_equals_polling(setup):
    """run_async waits for the ap_done interrupt (pynq.Interrupt on a board; its co-simulated
    stand-in here): it enables the interrupt once (IER bit 0, GIE), acknowledges it (ISR is
    toggle-on-write) and returns the same integers as the polling run, with a late start too."""
    import asyncio

    from eie.board.driver import GIE, IER, ISR

    qm, x, _, config = setup
    acc = CoSimAccelerator(config)
    acc.load(qm)
    want = acc.run(x)
    acc.registers.start_latency = 4  # the start takes effect while the driver waits
    got = asyncio.run(acc.run_async(x))
    np.testing.assert_array_equal(got, want)
    irq = acc.registers.irq
    assert (irq[GIE], irq[IER], irq[ISR]) == (1, 1, 0)  # enabled, and this call's interrupt acknowledged
    assert acc.interrupt.waits == 1
    np.testing.assert_array_equal(asyncio.run(acc.run_async(x[:2])), want[:2])
    assert acc.interrupt.waits == 2


def test_interrupt_path_refuses_an_overlay_without_it(setup):
    import asyncio

    qm, x, _, config = setup
    acc = CoSimAccelerator(config, interrupt=False)
    acc.load(qm)
    with pytest.raises(EIEError, match="does not wire the kernel's interrupt"):
        asyncio.run(acc.run_async(x))
    assert acc.run(x).shape == (x.shape[0], qm.out_features)  # polling still works


def test_benchmark_reports_latency_throughput_and_what_measured_it(setup):
    qm, x, _, config = setup
    acc = CoSimAccelerator(config)
    acc.load(qm)
    starts = acc.registers.starts
    r = acc.benchmark(x, runs=5)
    assert acc.registers.starts - starts == 6  # one warm-up call, then the timed runs
    assert (r["runs"], r["batch"]) == (5, x.shape[0])
    for key in ("latency_us", "kernel_us"):
        s = r[key]
        assert 0 < s["min"] <= s["median"] <= s["max"] and s["min"] <= s["mean"] <= s["max"]
    # The kernel's share of a call cannot exceed the call.
    assert r["kernel_us"]["min"] <= r["latency_us"]["max"]
    assert r["throughput_vectors_per_s"] == pytest.approx(x.shape[0] / (r["latency_us"]["median"] * 1e-6))
    assert "not a hardware measurement" in r["source"]
    t = acc.throughput_test(runs=2, batch=4)
    assert (t["runs"], t["batch"]) == (2, 4)
    with pytest.raises(EIEError, match="runs=0"):
        acc.benchmark(x, runs=0)


def test_interrupt_that_never_comes_times_out(setup):
    import asyncio

    from eie.errors import KernelTimeout

    qm, x, _, config = setup
    acc = CoSimAccelerator(config)
    acc.load(qm)
    acc.kernel.timeout_s = 0.2
    acc.registers.start_latency = 10**12  # the kernel never finishes
    with pytest.raises(KernelTimeout, match="no interrupt after"):
        asyncio.run(acc.run_async(x))
