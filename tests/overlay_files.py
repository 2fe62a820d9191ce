"""An overlay's .bit and .hwh in the form Vivado writes them, for the tests of ``eie deploy --overlay``.

The .hwh carries what eie.board.overlay reads (SYSTEMINFO's part, the kernel's
MODULE with its VLNV, instance name and AXI4-Lite registers); the .bit a
Xilinx header (design name, part, date, time) and a few bytes of data.
"""

from __future__ import annotations

import struct
from pathlib import Path

from eie.board.overlay import BIT_MAGIC
from eie.kernel.abi import REGISTERS, VLNV


def split_part(part: str) -> tuple[str, str, str]:
    """``xc7z020clg400-1`` -> (``7z020``, ``clg400``, ``-1``); ``xczu7ev-ffvc1156-2-e`` -> (``xczu7ev``,
    ``ffvc1156``, ``-2-e``): device, package and speed grade as SYSTEMINFO names them."""
    chunks = part.split("-")
    if not chunks[0].startswith("xc7"):  # UltraScale+: device-package-speed
        return chunks[0], chunks[1], "".join("-" + c for c in chunks[2:])
    base = chunks[0][2:]
    for i in range(len(base) - 1, 0, -1):
        if base[i].isalpha() and base[i - 1].isdigit():  # 7-series: the package follows the device
            return base[:i], base[i:], "".join("-" + c for c in chunks[1:])
    raise ValueError(part)


def write_overlay(
    folder, part: str, vlnv: str = VLNV, instance: str = "eie", registers: dict | None = None, name: str = "eie"
) -> tuple[Path, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    device, package, speed = split_part(part)
    regs = REGISTERS if registers is None else registers
    reg_xml = "".join(
        f'<REGISTER NAME="{n}"><PROPERTY NAME="ADDRESS_OFFSET" VALUE="{off:#x}"/>'
        f'<PROPERTY NAME="SIZE" VALUE="32"/></REGISTER>'
        for n, off in regs.items()
    )
    hwh = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<EDKSYSTEM><SYSTEMINFO ARCH="zynq" DEVICE="{device}" NAME="{name}" PACKAGE="{package}" '
        f'SPEEDGRADE="{speed}"/><MODULES>'
        '<MODULE FULLNAME="/ps" INSTANCE="ps" MODTYPE="processing_system7" '
        'VLNV="xilinx.com:ip:processing_system7:5.5"/>'
        f'<MODULE FULLNAME="/{instance}" INSTANCE="{instance}" MODTYPE="{vlnv.split(":")[2]}" VLNV="{vlnv}">'
        '<MEMORYMAP><MEMRANGE INSTANCE="eie"/></MEMORYMAP>'
        '<ADDRESSBLOCKS><ADDRESSBLOCK NAME="Reg" INTERFACE="s_axi_control" USAGE="register"><REGISTERS>'
        f"{reg_xml}</REGISTERS></ADDRESSBLOCK></ADDRESSBLOCKS></MODULE></MODULES></EDKSYSTEM>\n"
    )
    (folder / f"{name}.hwh").write_text(hwh)

    def field(key: bytes, text: str) -> bytes:
        b = text.encode() + b"\0"
        return key + struct.pack(">H", len(b)) + b

    data = b"\xff" * 32 + b"\xaa\x99\x55\x66" + bytes(28)  # dummy words, sync word, padding
    bit = (
        BIT_MAGIC
        + field(b"a", f"{name};UserID=0XFFFFFFFF;Version=2024.1")
        + field(b"b", device + package)
        + field(b"c", "2026/12/06")
        + field(b"d", "09:00:00")
        + b"e"
        + struct.pack(">I", len(data))
        + data
    )
    (folder / f"{name}.bit").write_bytes(bit)
    return folder / f"{name}.bit", folder / f"{name}.hwh"
