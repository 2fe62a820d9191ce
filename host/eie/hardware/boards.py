"""The boards the toolkit knows: FPGA part, on-chip resources, default clock.

The one table of board facts; the overlay script reads them from the rendered
``params.tcl`` (eie.hardware.render), never from a table of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    """A board's FPGA part and the resources the PE array may use."""

    name: str
    part: str
    bram36: int
    uram: int
    dsp: int
    clock_mhz: float
    family: str  # "zynq7" (DSP48E1, 25x18) or "zynqmp" (DSP48E2, 27x18)


# Vendor data sheets: DS190 (Zynq-7000: XC7Z020 140 BRAM36, 220 DSP48E1),
# DS891 (Zynq UltraScale+: ZU3EG 216 BRAM36, 360 DSP; ZU7EV 312 BRAM36,
# 96 URAM, 1728 DSP), DS987 (Kria K26: 144 BRAM36, 64 URAM, 1248 DSP).
BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        Board("pynq-z2", "xc7z020clg400-1", 140, 0, 220, 100.0, "zynq7"),
        Board("pynq-z1", "xc7z020clg400-1", 140, 0, 220, 100.0, "zynq7"),
        Board("ultra96v2", "xczu3eg-sbva484-1-i", 216, 0, 360, 200.0, "zynqmp"),
        Board("zcu104", "xczu7ev-ffvc1156-2-e", 312, 96, 1728, 200.0, "zynqmp"),
        Board("kv260", "xck26-sfvc784-2LV-c", 144, 64, 1248, 200.0, "zynqmp"),
    )
}
CUSTOM = "custom"
