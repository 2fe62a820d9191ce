"""Software co-simulation of the board: the PYNQ driver over the C-simulation.

``CoSimAccelerator`` behaves like ``pynq.Overlay("eie.bit").eie`` (``load``,
``run``, ``run_int``, ``predict``) but the IP is the g++-compiled kernel: the
driver's own protocol code (``eie.board.driver.EIEKernel``) writes the AXI4-Lite
registers by their Vitis HLS names, passes buffers by device address, starts
the kernel and reads its status, exactly as on the board. Notebooks and tests
use it where no board is present.
"""

from __future__ import annotations

import asyncio

import numpy as np

from eie.board.driver import AP_DONE, AP_IDLE, AP_START, GIE, IER, ISR, EIEKernel, KernelMethods
from eie.errors import EIEError
from eie.kernel.abi import KERNEL_STATUS, MODE_LOAD, MODE_RUN, registers, stream_pointers

_CODE = {name: code for code, name in KERNEL_STATUS.items()}


class HostMemory:
    """A stand-in for pynq.allocate: numpy buffers with distinct device addresses."""

    def __init__(self, base: int = 0x1_0000_0000):
        self.buffers: dict[int, np.ndarray] = {}
        self.next = base  # above 4 GiB, so the high address register matters
        self.synced: list[tuple[str, int]] = []

    def allocate(self, shape, dtype) -> DeviceBuffer:
        buf = np.zeros(shape, dtype=dtype).view(DeviceBuffer)
        buf.device_address = self.next
        buf.memory = self
        self.buffers[self.next] = buf
        self.next += (buf.nbytes + 0xFFF) & ~0xFFF
        return buf

    def resolve(self, address: int) -> np.ndarray:
        try:
            return self.buffers[address]
        except KeyError:
            raise EIEError(f"the kernel was given address {address:#x}, which no buffer holds") from None


class DeviceBuffer(np.ndarray):
    device_address: int
    memory: HostMemory

    def sync_to_device(self) -> None:
        self.memory.synced.append(("to", self.device_address))

    def sync_from_device(self) -> None:
        self.memory.synced.append(("from", self.device_address))

    def freebuffer(self) -> None:
        self.memory.buffers.pop(self.device_address, None)


class CSimRegisters:
    """The kernel IP at register level, backed by the compiled C-simulation.

    Its registers are those of ``sim.config``'s kernel (eie.kernel.abi.registers:
    a streaming kernel's stream-port pointers included), or ``names`` to play an
    overlay built otherwise.
    """

    def __init__(self, sim, memory: HostMemory, names=None):
        self.sim = sim
        self.memory = memory
        self.names = tuple(registers(sim.config) if names is None else names)
        self.regs: dict[str, int] = {}
        self.ctrl = AP_IDLE
        self.starts = 0
        # Control-register reads for which a start has not yet taken effect
        # (the IP still shows its previous idle state), as a slow bus might.
        self.start_latency = 0
        self._pending = 0
        # Interrupt registers (ap_ctrl_hs): global enable, IP enable, status.
        self.irq = {GIE: 0, IER: 0, ISR: 0}

    def register_names(self) -> tuple[str, ...]:
        return self.names

    def write_reg(self, name: str, value: int) -> None:
        if name not in self.names:
            raise EIEError(f"the kernel has no register '{name}'")
        if not 0 <= int(value) < 1 << 32:
            raise EIEError(f"register {name}: {value} does not fit 32 bits")
        self.regs[name] = int(value)

    def read_reg(self, name: str) -> int:
        return self.regs.get(name, 0)

    def write_at(self, offset: int, value: int) -> None:
        if offset not in self.irq:
            raise EIEError(f"no control register at offset {offset:#x}")
        if offset == ISR:
            self.irq[ISR] ^= int(value) & 0x1  # toggle-on-write
        else:
            self.irq[offset] = int(value) & 0x1

    def read_at(self, offset: int) -> int:
        if offset not in self.irq:
            raise EIEError(f"no control register at offset {offset:#x}")
        return self.irq[offset]

    def tick(self) -> None:
        """One bus cycle of a start that has not yet taken effect (see start_latency)."""
        if self._pending:
            self._pending -= 1
            if not self._pending:
                self._execute()

    def read_ctrl(self) -> int:
        if self._pending:
            self._pending -= 1
            if not self._pending:
                self._execute()
            return AP_IDLE
        value = self.ctrl
        self.ctrl &= ~AP_DONE  # ap_done is clear-on-read, as in Vitis HLS's ap_ctrl_hs
        return value

    def _buffer(self, name: str, length_reg: str) -> np.ndarray:
        """The words the kernel may access: the buffer at the address registers, cut to the length register.

        A length beyond the buffer would be a DMA fault on the board (the
        driver's bug, never the model file's), so it is an error here.
        """
        buf = self.memory.resolve(self._pointer(name))
        words = np.asarray(buf).reshape(-1)
        n = self.regs.get(length_reg, 0)
        if n > words.size:
            raise EIEError(f"register {length_reg}={n} exceeds the {words.size}-word buffer at {name}")
        return words[:n]

    def write_ctrl(self, value: int) -> None:
        if not value & AP_START:
            return
        self.starts += 1
        if self.start_latency:
            self._pending = self.start_latency
            self.ctrl = AP_IDLE
            return
        self._execute()

    def _pointer(self, name: str) -> int:
        return self.regs.get(f"{name}_1", 0) | (self.regs.get(f"{name}_2", 0) << 32)

    def _check_stream_ports(self) -> None:
        """Every stream port holds the image's address: the C-simulation reads one image for all lanes,
        where the hardware's lane l reads its columns through image_s<l> (a port left elsewhere would
        make that lane read another buffer, or address 0)."""
        image = self._pointer("image")
        for name in stream_pointers(self.names, "the co-simulated kernel"):
            if self._pointer(name) != image:
                raise EIEError(
                    f"stream port {name} points at {self._pointer(name):#x}, the image at {image:#x}: "
                    "every stream port must be given the image buffer's address"
                )

    def _execute(self) -> None:
        self.ctrl = 0
        self._check_stream_ports()
        mode = self.regs.get("mode")
        if mode == MODE_LOAD:
            status = self.sim.load_status(self._buffer("image", "image_words"))
        elif mode == MODE_RUN:
            x, y = self._buffer("x_in", "in_words"), self._buffer("y_out", "out_words")
            if self.sim.layers is None:
                status = _CODE["not_loaded"]
            else:
                # Integer registers as the kernel sees them (first/last are C ints).
                first, last, n = (_as_int32(self.regs.get(r, 0)) for r in ("first", "last", "n_vectors"))
                # The image register at run time: streamed layers are read from it.
                img = self._buffer("image", "image_words") if self.regs.get("image_words", 0) else None
                status, out = self.sim.run_raw(first, last, n, x, y.size, img)
                if status == 0:
                    y[:] = out
        else:
            status = _CODE["bad_mode"]
        self.regs["ap_return"] = status & 0xFFFFFFFF
        self.ctrl = AP_DONE | AP_IDLE
        if self.irq[GIE] and self.irq[IER] & 0x1:
            self.irq[ISR] |= 0x1


class CoSimInterrupt:
    """A stand-in for pynq.Interrupt on the co-simulated IP: ``await wait()`` until the status bit is set."""

    def __init__(self, registers: CSimRegisters):
        self.registers = registers
        self.waits = 0

    async def wait(self) -> None:
        self.waits += 1
        while not self.registers.irq[ISR] & 0x1:
            self.registers.tick()
            await asyncio.sleep(0)


class CoSimAccelerator(KernelMethods):
    """The driver of ``eie.board.driver`` on the C-simulation of ``config``'s kernel
    (``concurrent=True``: the concurrent C-simulation, threads and bounded FIFOs)."""

    def __init__(self, config, interrupt: bool = True, concurrent: bool = False):
        from eie.kernel.csim import CSim

        self.config = config
        self.memory = HostMemory()
        self.registers = CSimRegisters(CSim(config, concurrent=concurrent), self.memory)
        # As on an overlay built by overlays/build_overlay.tcl, the interrupt is wired;
        # interrupt=False is an overlay without it.
        self.interrupt = CoSimInterrupt(self.registers) if interrupt else None
        self.kernel = EIEKernel(
            self.registers,
            self.memory.allocate,
            interrupt=self.interrupt,
            timing_source="co-simulation: host wall clock around the C model, not a hardware measurement",
        )


def _as_int32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value
