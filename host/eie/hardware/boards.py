"""The boards the toolkit knows: FPGA part, on-chip resources, default clock.

The one table of board facts; the overlay script reads them from the rendered
``params.tcl`` (eie.hardware.render), never from a table of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


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


# Vendor data sheets: DS190 (Zynq-7000: XC7Z020 140 BRAM36, 220 DSP48E1),
# DS891 (Zynq UltraScale+: ZU3EG 216 BRAM36, 360 DSP; ZU7EV 312 BRAM36,
# 96 URAM, 1728 DSP), DS987 (Kria K26: 144 BRAM36, 64 URAM, 1248 DSP).
# Board parts: the vendors' Vivado board files (Digilent, TUL, Avnet, AMD).
BOARDS: dict[str, Board] = {
    b.name: b
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
# generate, verify, demo) assumes this board and PE count, at the board's clock
# (eie.hardware.target.default_config).
DEFAULT_BOARD = "zcu104"
DEFAULT_PES = 16
