"""The boards the toolkit knows: FPGA part, on-chip resources, default clock.

The one table of board facts; the overlay script reads them from the rendered
``params.tcl`` (eie.kernel.render), never from a table of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Board:
    """A board's FPGA part, the resources the PE array may use, and what Vivado needs.

    ``family`` is the device family: "zynq7" (DSP48E1 25x18, the Zynq-7000
    processing system ``processing_system7``) or "zynqmp" (DSP48E2 27x18, the
    Zynq UltraScale+ ``zynq_ultra_ps_e``); the resource estimate picks the DSP
    shape and the overlay script the PS from it. ``board_part`` is Vivado's
    board part (its board files apply the PS preset: DDR, MIO), None where
    there is none (a custom part: no overlay script, write the block design
    by hand).
    """

    name: str
    part: str
    bram36: int
    uram: int
    dsp: int
    clock_mhz: float
    family: str
    board_part: str | None = None
    # Logic: LUTs and flip-flops of the part (None where unknown, board: custom;
    # the resource estimate then does not check them).
    lut: int | None = None
    ff: int | None = None
    # The PS DDR the streaming master reads (docs/timing.md, "Streamed layers"):
    # type, data bus width and transfer rate; None where unknown (board: custom).
    ddr: str | None = None
    ddr_bus_bits: int | None = None
    ddr_mts: float | None = None

    @property
    def ddr_peak_gbps(self) -> float | None:
        """The DDR's peak, GB/s (10^9 bytes): bus bytes x mega-transfers per second."""
        if self.ddr_bus_bits is None or self.ddr_mts is None:
            return None
        return self.ddr_bus_bits / 8 * self.ddr_mts / 1000.0

    @property
    def axi_defaults(self) -> tuple[int, int, int]:
        """(data bits, burst beats, outstanding reads) of the streaming master on this family."""
        return AXI_DEFAULTS[self.family]

    @property
    def stream_ports_default(self) -> int:
        """How many HP ports a streaming kernel reads over unless told (``stream_ports``)."""
        return STREAM_PORTS_DEFAULT[self.family]


# Streaming master defaults per family: Zynq-7000 HP ports are AXI3, at most
# 64 bits wide with bursts of at most 16 beats; Zynq UltraScale+ HP ports are
# AXI4, up to 128 bits, bursts up to 256 beats. The outstanding-read counts
# are chosen defaults (Vitis HLS m_axi's own default is 16), to be checked
# against the PS's read acceptance (UG585, UG1085) when the kernel is built.
AXI_DEFAULTS = {"zynq7": (64, 16, 8), "zynqmp": (128, 64, 16)}
AXI_MAX_BITS = {"zynq7": 64, "zynqmp": 128}
# The PS's high-performance slave ports the streamed layers may spread over
# (S_AXI_HP0..3 on both families: UG585, UG1085), and how many a kernel uses by
# default: one on Zynq-7000, whose PE arrays are small enough for one 64-bit
# port (and whose LUTs are tight), two on Zynq UltraScale+, where one 128-bit
# port feeds only 16 one-byte entries per cycle (docs/timing.md).
HP_PORTS = {"zynq7": 4, "zynqmp": 4}
STREAM_PORTS_DEFAULT = {"zynq7": 1, "zynqmp": 2}
# Port counts the kernel supports: column j of a streamed layer goes to port j mod P.
STREAM_PORT_CHOICES = (1, 2, 4)
# The accumulator a DSP slice adds into natively (DSP48E1 on Zynq-7000, DSP48E2 on
# Zynq UltraScale+: a 48-bit post-adder, UG479 / UG579): the widest accumulator
# the default hardware is sized to (eie.hardware.target).
DSP_ACC_BITS = {"zynq7": 48, "zynqmp": 48}


# Vendor data sheets: DS190 (Zynq-7000: XC7Z020 140 BRAM36, 220 DSP48E1),
# DS891 (Zynq UltraScale+: ZU3EG 216 BRAM36, 360 DSP; ZU7EV 312 BRAM36,
# 96 URAM, 1728 DSP), DS987 (Kria K26: 144 BRAM36, 64 URAM, 1248 DSP).
# Board parts: the vendors' Vivado board files (Digilent, TUL, Avnet, AMD).
# DDR (the boards' user guides): PYNQ-Z1/Z2 DDR3 32-bit at 1066 MT/s (4.3 GB/s);
# Ultra96-V2 LPDDR4 32-bit at 2133 MT/s (8.5 GB/s); ZCU104 and KV260 DDR4 64-bit
# at 2400 MT/s (19.2 GB/s).
# LUTs / flip-flops (DS190, DS891, DS987): XC7Z020 53,200 / 106,400;
# ZU3EG 70,560 / 141,120; ZU7EV 230,400 / 460,800; K26 117,120 / 234,240.
_LOGIC = {
    "pynq-z2": (53_200, 106_400),
    "pynq-z1": (53_200, 106_400),
    "ultra96v2": (70_560, 141_120),
    "zcu104": (230_400, 460_800),
    "kv260": (117_120, 234_240),
}
_DDR = {
    "pynq-z2": ("DDR3", 32, 1066),
    "pynq-z1": ("DDR3", 32, 1066),
    "ultra96v2": ("LPDDR4", 32, 2133),
    "zcu104": ("DDR4", 64, 2400),
    "kv260": ("DDR4", 64, 2400),
}
BOARDS: dict[str, Board] = {
    b.name: replace(
        b,
        ddr=_DDR[b.name][0],
        ddr_bus_bits=_DDR[b.name][1],
        ddr_mts=_DDR[b.name][2],
        lut=_LOGIC[b.name][0],
        ff=_LOGIC[b.name][1],
    )
    for b in (
        Board("pynq-z2", "xc7z020clg400-1", 140, 0, 220, 100.0, "zynq7", "tul.com.tw:pynq-z2:part0:1.0"),
        Board("pynq-z1", "xc7z020clg400-1", 140, 0, 220, 100.0, "zynq7", "www.digilentinc.com:pynq-z1:part0:1.0"),
        Board("ultra96v2", "xczu3eg-sbva484-1-i", 216, 0, 360, 200.0, "zynqmp", "avnet.com:ultra96v2:part0:1.2"),
        Board("zcu104", "xczu7ev-ffvc1156-2-e", 312, 96, 1728, 200.0, "zynqmp", "xilinx.com:zcu104:part0:1.1"),
        Board("kv260", "xck26-sfvc784-2LV-c", 144, 64, 1248, 200.0, "zynqmp", "xilinx.com:kv260_som:part0:1.3"),
    )
}
CUSTOM = "custom"

# The one default hardware: every command without --config (inspect, simulate,
# generate, verify, deploy, demo) assumes this board and PE count, at the board's
# clock (eie.hardware.target.default_config); eie run uses the bundle's configuration.
DEFAULT_BOARD = "zcu104"
DEFAULT_PES = 16


# -- what every command reports about the hardware it assumed -------------------------

DEFAULT = "default"
"""``source`` of the default hardware in ``hardware_dict`` (``eie.hardware.target.describe_hardware``)."""


def hardware_dict(
    board: str,
    n_pes: int,
    clock_mhz: float,
    source: str = DEFAULT,
    config_path: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> dict:
    """``describe_hardware`` from its values, also for hardware that is no AcceleratorConfig.

    ``source``: ``"default"``, ``"config"`` (then ``config_path``),
    ``"bundle"`` (``eie run``: the bundle's ``config.yaml``, ``config_path``)
    or the option that chose it (e.g. ``"--eie-asic"``).
    """
    return {
        "board": str(board),
        "n_pes": int(n_pes),
        "clock_mhz": float(clock_mhz),
        "source": source,
        "config": None if config_path is None else str(config_path),
        "overrides": list(overrides),
    }


def hardware_line(hw: dict) -> str:
    """One line for text output, e.g. ``hardware: zcu104, 16 PEs, 200 MHz (default; --config to change)``."""
    source = hw["source"]
    origin = {
        DEFAULT: "default",
        "config": f"from {hw.get('config')}",
        "bundle": f"the bundle's configuration, {hw.get('config')}",
    }.get(source, source)
    if hw.get("overrides"):
        origin += " with " + " ".join(hw["overrides"])
    if source == DEFAULT:
        origin += "; --config to change"
    return f"hardware: {hw['board']}, {hw['n_pes']} PEs, {hw['clock_mhz']:g} MHz ({origin})"
