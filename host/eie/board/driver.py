"""PYNQ driver for the EIE kernel.

``EIEAccelerator`` is a ``pynq.DefaultIP`` bound to the kernel's VLNV, so
``pynq.Overlay("eie.bit").eie`` is one of these. It talks to the kernel's
AXI4-Lite registers (names from the overlay's .hwh, as Vitis HLS writes them)
and passes ``pynq.allocate`` buffers to its AXI4 master ports:

    ol = pynq.Overlay("eie.bit")
    ol.eie.load(qmodel_or_image)        # copy the model image on chip
    y = ol.eie.run(x)                   # float in, float out
    y = await ol.eie.run_async(x)       # the same, waiting for the interrupt
    ol.eie.benchmark(x, runs=100)       # latency and throughput, measured

A streaming kernel also has one AXI4 master per HP port, ``image_s0`` ..
``image_s<P-1>``. The driver takes that set from the IP's register names (the
.hwh), not from a configuration. Every stream port gets the image buffer's
address, and a set that is not the toolkit kernel's is refused
(overlays/README.md).

The protocol itself lives in ``EIEKernel``, which needs only a register port
and an allocator. The board supplies pynq's; the tests supply one backed by
the C-simulation, so this same code is checked bit for bit without a board.
This module imports numpy and, if present, pynq; nothing else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

import numpy as np

# pynq imports this module (its `pynq.lib` entry point) whenever any Overlay is
# created, the base overlay included, so importing it must not fail on a board:
# at module level it needs numpy, pynq (optional) and eie.kernel.abi (constants;
# numpy only). The emulator and image reader load when a model is loaded.
from eie.errors import EIEError, ImageError, KernelTimeout, int_array, real_array
from eie.kernel.abi import (  # noqa: F401
    MODE_LOAD,
    MODE_RUN,
    TOP,
    VLNV,
    KernelStatusError,
    status_error,
    stream_pointers,
)

if TYPE_CHECKING:
    from eie.format.qmodel import QuantModel

try:  # the board side; absent on a development machine
    from pynq import DefaultIP as _DefaultIP
    from pynq import allocate as _pynq_allocate

    PYNQ_IMPORT_ERROR: Exception | None = None
except ImportError as e:  # pragma: no cover - exercised only where pynq is missing or broken
    _DefaultIP = object
    _pynq_allocate = None
    # Kept to report as it is: "No module named 'pkg_resources'" (pynqutils with
    # setuptools 81 or later) is not the same fix as "No module named 'pynq'".
    PYNQ_IMPORT_ERROR = e


def pynq_missing_message(err: BaseException) -> str:
    """What to say when pynq cannot be imported, with pynq's own error."""
    if isinstance(err, ModuleNotFoundError) and err.name == "pynq":
        return "pynq is not installed: the board driver runs on a PYNQ image (pip install 'eie-pynq[board]')"
    return (
        f"pynq is installed but cannot be imported ({type(err).__name__}: {err}); "
        "on a PYNQ image, reinstall the board extra: pip install 'eie-pynq[board]' "
        "(it pins setuptools<81, which pynqutils needs for pkg_resources)"
    )


# AXI4-Lite block-level control registers (ap_ctrl_hs), at fixed offsets:
# control, global interrupt enable, IP interrupt enable and status (bit 0:
# ap_done; the status bit is toggle-on-write).
CTRL, GIE, IER, ISR = 0x00, 0x04, 0x08, 0x0C
AP_START, AP_DONE, AP_IDLE = 0x1, 0x2, 0x4


class RegisterPort(Protocol):
    def write_reg(self, name: str, value: int) -> None: ...

    def read_reg(self, name: str) -> int: ...

    def write_ctrl(self, value: int) -> None: ...

    def read_ctrl(self) -> int: ...

    def write_at(self, offset: int, value: int) -> None: ...

    def read_at(self, offset: int) -> int: ...

    def register_names(self) -> Iterable[str]: ...


def _address(buf) -> int:
    for attr in ("device_address", "physical_address"):
        if hasattr(buf, attr):
            return int(getattr(buf, attr))
    raise EIEError("buffer has no device address; allocate it with pynq.allocate")


class EIEKernel:
    """The load / run protocol of the kernel, independent of where it runs."""

    def __init__(
        self,
        port: RegisterPort,
        allocate: Callable,
        timeout_s: float = 10.0,
        interrupt=None,
        timing_source: str = "host wall clock",
    ):
        self.port = port
        self.allocate = allocate
        # The stream ports (image_s0 ..) are the ones the IP's register map has, not the
        # count a configuration would give: an overlay is what it was built as. A set that
        # is not the toolkit kernel's is refused here, before any write.
        self.stream_pointers = stream_pointers(port.register_names())
        self.timeout_s = timeout_s
        # An object with ``async wait()`` that returns when the kernel's
        # interrupt fires (pynq.Interrupt where the overlay wires it).
        self.interrupt = interrupt
        self.timing_source = timing_source
        self.model: QuantModel | None = None
        self._image_buf = None
        # The input and output buffers of a run, allocated once per (batch, inputs,
        # outputs) shape and reused: CMA allocation costs far more than a run.
        self._io_bufs: dict[tuple[int, int, int], tuple] = {}
        self.last_kernel_s = 0.0  # start to done seen, of the last call
        self._irq_enabled = False

    # -- low level -----------------------------------------------------
    def _set_pointer(self, name: str, buf) -> None:
        addr = _address(buf)
        self.port.write_reg(f"{name}_1", addr & 0xFFFFFFFF)
        self.port.write_reg(f"{name}_2", (addr >> 32) & 0xFFFFFFFF)

    def _set_image(self, buf) -> None:
        """The image buffer on the loader's port and on every stream port (each lane reads its columns there)."""
        self._set_pointer("image", buf)
        for name in self.stream_pointers:
            self._set_pointer(name, buf)

    def _call(self, when: str) -> int:
        t0 = time.perf_counter()
        self.port.write_ctrl(AP_START)
        start = time.monotonic()
        deadline = start + self.timeout_s
        pause = 0.0
        # ap_done only: ap_idle may still show the previous call's idle if this read
        # lands before the start has taken effect (ap_done is clear-on-read in
        # ap_ctrl_hs, so a done seen here belongs to this call).
        while not self.port.read_ctrl() & AP_DONE:
            now = time.monotonic()
            if now > deadline:
                raise KernelTimeout(
                    when,
                    now - start,
                    f"kernel timeout in mode {when}: no ap_done after {now - start:.3g} s "
                    f"(timeout {self.timeout_s:g} s); is the overlay loaded and the kernel running?",
                )
            # Poll tightly at first (runs take microseconds), then back off up to 1 ms.
            if pause:
                time.sleep(pause)
            pause = min(1e-3, pause * 2 or 1e-6)
        self.last_kernel_s = time.perf_counter() - t0
        return self._status(when)

    async def _call_async(self, when: str) -> int:
        """Start the kernel and wait for its ap_done interrupt instead of polling."""
        if self.interrupt is None:
            raise EIEError(
                "this overlay does not wire the kernel's interrupt to the PS (no ip.interrupt); "
                "use run() (polling), or rebuild the overlay with overlays/build_overlay.tcl"
            )
        if not self._irq_enabled:
            self.port.write_at(IER, 0x1)  # ap_done
            self.port.write_at(GIE, 0x1)
            self._irq_enabled = True
        t0 = time.perf_counter()
        self.port.write_ctrl(AP_START)
        try:
            await asyncio.wait_for(self.interrupt.wait(), self.timeout_s)
        except asyncio.TimeoutError:
            waited = time.perf_counter() - t0
            raise KernelTimeout(
                when,
                waited,
                f"kernel timeout in mode {when}: no interrupt after {waited:.3g} s (timeout {self.timeout_s:g} s)",
            ) from None
        self.last_kernel_s = time.perf_counter() - t0
        self.port.write_at(ISR, 0x1)  # acknowledge (toggle-on-write)
        self.port.read_ctrl()  # clears ap_done, as the polling path does
        return self._status(when)

    def _status(self, when: str) -> int:
        status = self.port.read_reg("ap_return") & 0xFFFFFFFF
        if status >= 1 << 31:
            status -= 1 << 32
        if status != 0:
            # Every nonzero status is an error; one the driver does not know is a
            # KernelStatusError "unknown_<code>", never success.
            raise status_error(status, f"during {when}")
        return status

    # -- public ----------------------------------------------------------
    def load(self, model, check: bool = True) -> QuantModel | None:
        """Copy a model image (QuantModel, image array or bytes) into the PEs.

        With ``check`` the host's strict reader refuses a damaged image before
        the kernel sees it; without, the kernel's own checks report it.
        """
        from eie.format.image import build_image, image_words, read_image
        from eie.format.qmodel import QuantModel

        if isinstance(model, QuantModel):
            qm, img = model, build_image(model)
        else:
            img = image_words(model)
            qm = read_image(model) if check else None
        if img.size > 0xFFFFFFFF:
            raise ImageError("too_large", f"image of {img.size} words exceeds the kernel's 32-bit length register")
        buf = self.allocate(shape=(img.size,), dtype=np.uint64)
        buf[:] = img
        _sync_to_device(buf)
        self._set_image(buf)
        # image_words: the kernel reads no further than the allocation, whatever the image says.
        load_regs = (("mode", MODE_LOAD), ("first", 0), ("last", 0), ("n_vectors", 0), ("image_words", buf.size))
        for name, value in load_regs:
            self.port.write_reg(name, value)
        self.model = None
        self._call("load")
        _free(self._image_buf)
        self._image_buf = buf  # keep it alive while the kernel may read it
        self.model = qm if qm is not None else read_image(img)
        return self.model

    def run_int(self, x_int: np.ndarray, first: int = 0, last: int | None = None) -> np.ndarray:
        """Integer inputs (B x K, physical order) through layers first..last; physical outputs."""
        x, first, last, m = self._check_run(x_int, first, last)
        xin, yout = self._prepare_run(x, first, last, m)
        self._call("run")
        return self._finish_run(xin, yout)

    def _check_run(self, x_int: np.ndarray, first: int, last: int | None):
        if self.model is None:
            raise EIEError("no model loaded: call load() first")
        qm = self.model
        last = len(qm.layers) - 1 if last is None else last
        if not 0 <= first <= last < len(qm.layers):
            raise EIEError(f"layers {first}..{last} are out of range for a {len(qm.layers)}-layer model")
        try:
            x = np.atleast_2d(int_array("integer inputs", x_int, -(1 << 63), (1 << 63) - 1))
        except EIEError as e:
            raise EIEError(
                f"{e} (quantise float inputs with run(), or eie.arithmetic.emulator.quantize_input)"
            ) from None
        k = qm.layers[first].shape[1]
        m = qm.layers[last].shape[0]
        if x.shape[1] != k:
            raise EIEError(f"inputs have {x.shape[1]} values, layer {first} takes {k}")
        a = qm.params.act_bits
        if x.size and (x.min() < -(1 << (a - 1)) or x.max() > (1 << (a - 1)) - 1):
            raise EIEError(f"input integers exceed the signed {a}-bit activation range")
        return x, first, last, m

    async def run_int_async(self, x_int: np.ndarray, first: int = 0, last: int | None = None) -> np.ndarray:
        """``run_int`` that waits for the kernel's interrupt (asyncio) instead of polling its status."""
        x, first, last, m = self._check_run(x_int, first, last)
        xin, yout = self._prepare_run(x, first, last, m)
        await self._call_async("run")
        return self._finish_run(xin, yout)

    def _io_buffers(self, b: int, k: int, m: int):
        key = (b, k, m)
        if key not in self._io_bufs:
            if len(self._io_bufs) >= 4:  # a few shapes in turn stay allocated; more are recycled
                for old in self._io_bufs.pop(next(iter(self._io_bufs))):
                    _free(old)
            xin = self.allocate(shape=(b, k), dtype=np.int64)
            self._io_bufs[key] = (xin, self.allocate(shape=(b, m), dtype=np.int64))
        return self._io_bufs[key]

    def _prepare_run(self, x: np.ndarray, first: int, last: int, m: int):
        xin, yout = self._io_buffers(x.shape[0], x.shape[1], m)
        xin[:] = x
        _sync_to_device(xin)
        self._set_pointer("x_in", xin)
        self._set_pointer("y_out", yout)
        # Streamed layers are read from the loaded image during the run: point
        # the kernel at it again, with its length (the kernel checks it).
        self._set_image(self._image_buf)
        run_regs = (
            ("mode", MODE_RUN),
            ("first", first),
            ("last", last),
            ("n_vectors", x.shape[0]),
            ("image_words", self._image_buf.size),
            ("in_words", xin.size),
            ("out_words", yout.size),
        )
        for name, value in run_regs:
            self.port.write_reg(name, value)
        return xin, yout

    def _finish_run(self, xin, yout) -> np.ndarray:
        _sync_from_device(yout)
        return np.array(yout, dtype=np.int64)  # a copy: the buffer is reused by the next run

    def _float_inputs(self, x: np.ndarray):
        """(model, x as 2-D integers in its input format, whether x was one vector)."""
        from eie.arithmetic.emulator import quantize_input

        qm = self._loaded()
        x = real_array("inputs", x, EIEError)
        if x.ndim not in (1, 2):
            raise EIEError(f"inputs have shape {x.shape}; expected one vector (K,) or a batch (B, K)")
        return qm, quantize_input(qm, x), x.ndim == 1

    def _float_outputs(self, qm: QuantModel, y_int: np.ndarray, single: bool) -> np.ndarray:
        from eie.arithmetic.emulator import dequantize_output, unpermute

        y = dequantize_output(qm, unpermute(qm, y_int))
        return y[0] if single else y

    def run(self, x: np.ndarray) -> np.ndarray:
        """Float inputs (B x K or K) -> float outputs, logical order."""
        qm, x_int, single = self._float_inputs(x)
        return self._float_outputs(qm, self.run_int(x_int), single)

    async def run_async(self, x: np.ndarray) -> np.ndarray:
        """``run`` that waits for the kernel's interrupt (asyncio) instead of polling."""
        qm, x_int, single = self._float_inputs(x)
        return self._float_outputs(qm, await self.run_int_async(x_int), single)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(np.atleast_2d(self.run(x)), axis=1)

    def benchmark(self, x: np.ndarray | None = None, runs: int = 50, batch: int = 1, seed: int = 0) -> dict:
        """Latency and throughput of ``runs`` calls, in the manner of FINN's ``throughput_test``.

        ``x`` (float, B x K) or ``batch`` random inputs in the model's range.
        Each call is timed twice: end to end (``run_int``: copies into and out
        of the reused buffers, cache syncs, registers, the kernel) and the
        kernel alone (start written to done seen). The buffers are allocated
        by the warm-up call, outside both timings. ``source`` says what clock measured them: on the board, the
        board's; in co-simulation, the host running the C model, which is
        not a hardware figure.
        """
        from eie.arithmetic.emulator import quantize_input

        qm = self._loaded()
        if int(runs) < 1:
            raise EIEError(f"runs={runs} must be at least 1")
        if x is None:
            rng = np.random.default_rng(seed)
            lim = 1 << min(qm.params.act_bits - 1, 8)
            x_int = rng.integers(-lim, lim, size=(int(batch), qm.in_features))
        else:
            x_int = quantize_input(qm, np.atleast_2d(real_array("inputs", x, EIEError)))
        self.run_int(x_int)  # warm-up: first-touch allocations, caches
        total, kernel = [], []
        for _ in range(int(runs)):
            t0 = time.perf_counter()
            self.run_int(x_int)
            total.append(time.perf_counter() - t0)
            kernel.append(self.last_kernel_s)

        def stats(v: list[float]) -> dict:
            a = np.asarray(v) * 1e6
            return {
                "min": float(a.min()),
                "median": float(np.median(a)),
                "mean": float(a.mean()),
                "max": float(a.max()),
            }

        b = x_int.shape[0]
        t_med, k_med = float(np.median(total)), float(np.median(kernel))
        return {
            "runs": int(runs),
            "batch": int(b),
            "latency_us": stats(total),
            "kernel_us": stats(kernel),
            "throughput_vectors_per_s": b / t_med if t_med > 0 else float("inf"),
            "kernel_throughput_vectors_per_s": b / k_med if k_med > 0 else float("inf"),
            "source": self.timing_source,
        }

    def throughput_test(self, runs: int = 50, batch: int = 16) -> dict:
        """``benchmark`` on random inputs with a batch (FINN's driver name for it)."""
        return self.benchmark(None, runs=runs, batch=batch)

    def _loaded(self) -> QuantModel:
        if self.model is None:
            raise EIEError("no model loaded: call load() first")
        return self.model


def _free(buf) -> None:
    if buf is not None and hasattr(buf, "freebuffer"):
        buf.freebuffer()


def _sync_to_device(buf) -> None:
    if hasattr(buf, "sync_to_device"):
        buf.sync_to_device()
    elif hasattr(buf, "flush"):
        buf.flush()


def _sync_from_device(buf) -> None:
    if hasattr(buf, "sync_from_device"):
        buf.sync_from_device()
    elif hasattr(buf, "invalidate"):
        buf.invalidate()


class _PynqRegisterPort:
    """Registers by the names in the overlay's .hwh (pynq's register_map)."""

    def __init__(self, ip, names: Iterable[str] = ()):
        self.ip = ip
        self._offsets: dict[str, int] = {}
        self._names = tuple(names)  # the register names of the IP's description (from the .hwh)

    def register_names(self) -> tuple[str, ...]:
        return self._names

    def _offset(self, name: str) -> int:
        if name not in self._offsets:
            try:
                self._offsets[name] = int(getattr(self.ip.register_map, name).address)
            except AttributeError:
                raise EIEError(
                    f"the overlay's kernel has no register '{name}'; the bitstream was not built from this "
                    "toolkit's kernel (rebuild it with build.tcl and overlays/build_overlay.tcl)"
                ) from None
        return self._offsets[name]

    def write_reg(self, name: str, value: int) -> None:
        self.ip.write(self._offset(name), int(value))

    def read_reg(self, name: str) -> int:
        return int(self.ip.read(self._offset(name)))

    def write_ctrl(self, value: int) -> None:
        self.ip.write(CTRL, value)

    def read_ctrl(self) -> int:
        return int(self.ip.read(CTRL))

    def write_at(self, offset: int, value: int) -> None:
        self.ip.write(offset, int(value))

    def read_at(self, offset: int) -> int:
        return int(self.ip.read(offset))


class KernelMethods:
    """The user-facing methods, shared by the board driver and its co-simulation."""

    kernel: EIEKernel

    def load(self, model, check: bool = True) -> QuantModel:
        return self.kernel.load(model, check=check)

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.kernel.run(x)

    def run_int(self, x_int: np.ndarray, first: int = 0, last: int | None = None) -> np.ndarray:
        return self.kernel.run_int(x_int, first, last)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.kernel.predict(x)

    async def run_async(self, x: np.ndarray) -> np.ndarray:
        return await self.kernel.run_async(x)

    def benchmark(self, x: np.ndarray | None = None, runs: int = 50, batch: int = 1) -> dict:
        return self.kernel.benchmark(x, runs=runs, batch=batch)

    def throughput_test(self, runs: int = 50, batch: int = 16) -> dict:
        return self.kernel.throughput_test(runs=runs, batch=batch)


class EIEAccelerator(KernelMethods, _DefaultIP):
    """pynq driver bound to the EIE kernel IP (see module docstring)."""

    bindto = [VLNV]

    def __init__(self, description):
        if PYNQ_IMPORT_ERROR is not None:
            raise EIEError(pynq_missing_message(PYNQ_IMPORT_ERROR)) from PYNQ_IMPORT_ERROR
        super().__init__(description=description)
        # pynq gives the IP an `interrupt` attribute when the overlay connects its
        # interrupt pin to an AXI interrupt controller (overlays/build_overlay.tcl).
        self.kernel = EIEKernel(
            # The register names pynq read from the .hwh (the ones its register_map has).
            _PynqRegisterPort(self, (description.get("registers") or {}).keys()),
            # On the IP's own device (the overlay's), not whichever device pynq made active.
            lambda shape, dtype: _pynq_allocate(shape, dtype, target=self.device),
            interrupt=getattr(self, "interrupt", None),
            timing_source="measured on the board: its clock, start written to ap_done seen",
        )


def open_overlay(bitfile: str, ip_name: str = "eie"):
    """Load the overlay and return its EIE kernel driver."""
    try:
        import pynq
    except ImportError as e:
        raise EIEError(pynq_missing_message(e)) from e
    try:
        ol = pynq.Overlay(bitfile)
    except EIEError:
        raise
    except Exception as e:  # pynq's own: no device, no XRT, a bitstream it cannot load
        if "No Devices Found" in str(e):
            raise EIEError(
                "no PYNQ device found (pynq is installed, but this is not a board with its FPGA): the board "
                "backend runs on the PYNQ board; use --backend emulator or csim here"
            ) from None
        raise EIEError(f"pynq could not load the overlay {bitfile}: {type(e).__name__}: {e}") from None
    try:
        return getattr(ol, ip_name)
    except AttributeError:
        raise ImageError("bad_overlay", f"overlay {bitfile} has no IP named '{ip_name}'") from None
