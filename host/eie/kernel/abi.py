"""The kernel's software interface, shared by the renderer, C-simulation and driver.

Board-safe (eie.errors and the configuration's default top): the PYNQ driver needs these without jinja2.
"""

import re
from collections.abc import Iterable

from eie.errors import CapacityError, ConfigError, EIEError, ImageError, KernelTimeout  # noqa: F401 (KernelTimeout: the driver's)
from eie.format.image import VERSION as IMAGE_VERSION
from eie.hardware.boards import STREAM_PORT_CHOICES
from eie.hardware.config import TOP

# The kernel's top function and the VLNV that export_design gives its IP
# (build.tcl) and that the PYNQ driver binds to. The IP's major version is the
# image-format version the kernel reads, so a bitstream built before a format
# change carries another VLNV: pynq then binds no EIE driver to it and the
# overlay check (eie.board.overlay) names the stale version.
VENDOR = "eie-pynq.org"
LIBRARY = "hls"
IP_VERSION = f"{IMAGE_VERSION}.0"


def vlnv(top: str = TOP) -> str:
    return f"{VENDOR}:{LIBRARY}:{top}:{IP_VERSION}"


VLNV = vlnv()

# The AXI4-Lite control bundle of the rendered top as pynq's register_map names it
# (a 64-bit pointer is <name>_1 / <name>_2): name -> byte offset. Vitis HLS lays it
# out from the top's signature (tests/board/test_register_map.py derives it from the
# rendered source and checks this table); the driver writes these names, and an
# overlay's .hwh must carry them at these offsets.
REGISTERS = {
    "ap_return": 0x10,
    "mode": 0x18,
    "first": 0x20,
    "last": 0x28,
    "n_vectors": 0x30,
    "image_words": 0x38,
    "in_words": 0x40,
    "out_words": 0x48,
    "image_1": 0x50,
    "image_2": 0x54,
    "x_in_1": 0x5C,
    "x_in_2": 0x60,
    "y_out_1": 0x68,
    "y_out_2": 0x6C,
}
# The span of the control bundle (a power of two, as Vivado's address editor assigns).
REGISTER_SPACE = 0x10000

# A streaming kernel (dir_depth > 0) reads its streamed layers over P = config.ports
# AXI4 masters of its own, one per HP port: the top's arguments image_s0 .. image_s<P-1>
# (bundles gmem_s0 ..), after y_out. Each is a 64-bit pointer, so each takes a 12-byte
# slot of the control bundle; the host gives every one the image buffer's address.
STREAM_POINTER = "image_s"
_STREAM_REGISTER = re.compile(rf"{STREAM_POINTER}(0|[1-9][0-9]*)_([12])")


def stream_pointer_names(ports: int) -> tuple[str, ...]:
    """The top's stream-port pointer arguments of a kernel with ``ports`` stream ports."""
    return tuple(f"{STREAM_POINTER}{lane}" for lane in range(ports))


def registers(config_or_ports=0) -> dict[str, int]:
    """The control bundle's registers (pynq names -> byte offset) of a kernel with stream ports.

    ``config_or_ports`` is an AcceleratorConfig (its kernel's ports,
    ``stream_lanes``: none unless it streams) or the port count. With none this is ``REGISTERS``; each port's pointer
    follows y_out in a 12-byte slot, as Vitis HLS lays out the signature.
    """
    ports = config_or_ports if isinstance(config_or_ports, int) else config_or_ports.stream_lanes
    if ports and ports not in STREAM_PORT_CHOICES:
        raise ConfigError(f"a kernel has 0 or {', '.join(map(str, STREAM_PORT_CHOICES))} stream ports, not {ports}")
    regs = dict(REGISTERS)
    offset = REGISTERS["y_out_1"] + 12
    for name in stream_pointer_names(ports):
        regs[f"{name}_1"], regs[f"{name}_2"] = offset, offset + 4
        offset += 12
    return regs


def stream_pointers(names: Iterable[str], where: str = "the overlay's kernel") -> tuple[str, ...]:
    """The stream-port pointers (image_s0, ...) among a kernel's register names, checked.

    The set must be what this toolkit's kernel has: image_s0 .. image_s<P-1>, P one
    of STREAM_PORT_CHOICES (or none), each as its two 32-bit halves <name>_1 and
    <name>_2. Anything else (image_s1 without image_s0, a lone half, three ports)
    is a ConfigError naming the register: the driver would leave a port pointing
    nowhere, and that lane of the kernel would read from address 0.
    """
    fix = (
        "rebuild the overlay from this toolkit's kernel (eie build --overlay: build.tcl, then "
        "overlays/build_overlay.tcl) and copy its .bit and .hwh together"
    )
    halves: dict[int, set[str]] = {}
    for name in names:
        if not name.startswith(STREAM_POINTER):
            continue
        m = _STREAM_REGISTER.fullmatch(name)
        if m is None:
            raise ConfigError(
                f"{where} has a register {name!r}, which is not a stream-port pointer half "
                f"({STREAM_POINTER}<lane>_1 or _2): {fix}"
            )
        halves.setdefault(int(m[1]), set()).add(m[2])
    ports = len(halves)
    for lane in range(ports):
        name = f"{STREAM_POINTER}{lane}"
        if lane not in halves:
            other = f"{STREAM_POINTER}{max(halves)}"
            raise ConfigError(
                f"{where} has the stream port {other} but not {name} (registers {name}_1/{name}_2): "
                f"its stream ports must be {STREAM_POINTER}0 .. {STREAM_POINTER}<P-1>; {fix}"
            )
        if halves[lane] != {"1", "2"}:
            have, lack = (f"{name}_{h}" for h in sorted(halves[lane]) + sorted({"1", "2"} - halves[lane]))
            raise ConfigError(f"{where} has the register {have} but not {lack} (a 64-bit pointer is both); {fix}")
    if ports and ports not in STREAM_PORT_CHOICES:
        raise ConfigError(
            f"{where} has {ports} stream ports ({STREAM_POINTER}0 .. {STREAM_POINTER}{ports - 1}); this toolkit's "
            f"kernels have {', '.join(map(str, STREAM_PORT_CHOICES))}: {fix}"
        )
    return stream_pointer_names(ports)


MODE_LOAD = 0
MODE_RUN = 1

# Status codes the kernel returns (hls/eie_params.h.j2 renders them).
KERNEL_STATUS = {
    0: "ok",
    1: "bad_magic",
    2: "bad_version",
    3: "params_mismatch",
    4: "capacity",
    5: "layer_range",
    6: "bad_image",
    7: "not_loaded",
    8: "bad_mode",
    9: "buffer_size",
}

# The C-simulation bridge (hls/eie_bridge.cpp.j2 renders both from these;
# eie.kernel.csim reads them by these names).
# eie_info: the AcceleratorConfig fields the kernel was compiled with, in this
# order, each the constant eie::<FIELD upper-cased> of eie_params.h.
CSIM_INFO_FIELDS = (
    "n_pes",
    "weight_bits",
    "index_bits",
    "act_bits",
    "cb_bits",
    "acc_bits",
    "fifo_depth",
    "entry_depth",
    "ptr_depth",
    "act_depth",
    "bias_depth",
    "max_layers",
    "ternary",
    "lnzd_window",
)
# eie_counters: per layer index, the loop trip counters of eie::counters_t in
# this order, each one value ("one"), one per PE ("pe"), or one per stream
# lane ("lane"; eie_counters gives their sum, and eie_lane_counters each).
CSIM_COUNTERS = (
    ("broadcast", "one"),  # the broadcaster's scan loop
    ("pe", "pe"),  # each PE's accumulation loop
    ("epilogue", "pe"),  # each PE's write-out loop
    ("dispatch", "lane"),  # the streamed-layer dispatchers' header loops (0 for on-chip layers)
    ("stream_words", "lane"),  # stream words (config.stream_bits) the stream readers read from DDR
    ("stream_requests", "lane"),  # read requests (bursts) the stream readers issued
)


_STATUS_HELP = {
    "bad_magic": "the buffer is not an EIE model image",
    "bad_version": "the image format version is not the one the kernel reads; rebuild the image with this toolkit",
    "params_mismatch": "the image was built for other accelerator parameters (N or bit widths); "
    "rebuild it for this configuration",
    "capacity": "the model does not fit the kernel's on-chip memories; raise the depths or use more PEs",
    "layer_range": "the requested layers first..last are not in the loaded model",
    "bad_image": "the image is damaged or inconsistent (length, CRC, section offsets, formats, permutation, "
    "codebook, biases, pointers or row indices)",
    "not_loaded": "no model is loaded; call load() first",
    "bad_mode": "unknown kernel mode",
    "buffer_size": "the input or output buffer holds fewer words than n_vectors vectors of the layers need",
}


class KernelStatusError(EIEError):
    """The kernel returned a status other than ok (``status`` is its name)."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def status_error(code: int, context: str = "") -> EIEError:
    """The exception for a kernel status: ImageError for image problems, CapacityError, or KernelStatusError."""
    name = KERNEL_STATUS.get(int(code), f"unknown_{code}")
    msg = f"kernel returned status {code} ({name}): {_STATUS_HELP.get(name, 'unexpected status')}"
    if context:
        msg += f" -- {context}"
    if name in ("bad_magic", "bad_version", "params_mismatch", "bad_image"):
        err: EIEError = ImageError(name, msg)
    elif name == "capacity":
        err = CapacityError(msg)
    else:
        err = KernelStatusError(name, msg)
    err.status = name  # type: ignore[attr-defined]
    return err
