"""Checks of an overlay's ``.bit`` and ``.hwh`` against the kernel and the configuration (``eie deploy --overlay``).

A bundle's overlay must be the one the board can bind: the ``.hwh`` (Vivado's
hardware handoff, XML) must hold the EIE kernel's IP by its VLNV (its
version is the image-format version, eie.kernel.abi), with the AXI4-Lite
registers the driver writes at the offsets it expects, for the FPGA part of
the configuration's board; the ``.bit`` must be a Xilinx bitstream for that
part. Read with the standard library's XML parser (board-safe: no pynq, no
pynqmetadata needed on the host). ``check_overlay`` returns a list of
problems, each naming what is wrong; ``ConfigError`` carries them.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from eie.errors import ConfigError
from eie.kernel.abi import IP_VERSION, LIBRARY, VENDOR, registers, stream_pointers

# The 13 bytes every Xilinx .bit file starts with (a 9-byte padding field, then the key count).
BIT_MAGIC = bytes.fromhex("00090ff00ff00ff00ff0000001")
IP_NAME = "eie"  # the instance name overlays/build_overlay.tcl gives the kernel (ol.eie)


@dataclass
class HwhModule:
    instance: str
    vlnv: str
    registers: dict[str, int] = field(default_factory=dict)


@dataclass
class Hwh:
    part: str  # device + package (+ speed grade), as SYSTEMINFO gives them
    modules: list[HwhModule]


def _norm_part(part: str) -> str:
    p = part.lower().replace("-", "")
    return p[2:] if p.startswith("xc") else p


def same_part(found: str, part: str) -> bool:
    """A part as a .bit or .hwh names it (``7z020clg400``) against a configuration's (``xc7z020clg400-1``)."""
    a, b = _norm_part(found), _norm_part(part)
    return bool(a) and (b.startswith(a) or a.startswith(b))


def read_hwh(path: str | Path) -> Hwh:
    """The part and the modules (VLNV, registers) of a .hwh; ConfigError if it is not one."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ConfigError(f"{Path(path).name}: not a hardware handoff (.hwh): not valid XML ({e})") from None
    info = next(root.iter("SYSTEMINFO"), None)
    if info is None:
        raise ConfigError(
            f"{Path(path).name}: not a hardware handoff (.hwh): no SYSTEMINFO element (Vivado writes it "
            "with the bitstream: use the .hwh from the same implementation run as the .bit)"
        )
    part = "".join(info.get(k, "") for k in ("DEVICE", "PACKAGE", "SPEEDGRADE"))
    modules = []
    for m in root.iter("MODULE"):
        regs = {}
        for reg in m.iter("REGISTER"):
            for prop in reg.iter("PROPERTY"):
                if prop.get("NAME") == "ADDRESS_OFFSET":
                    try:
                        regs[reg.get("NAME", "")] = int(prop.get("VALUE", ""), 0)
                    except ValueError:
                        pass
        modules.append(HwhModule(m.get("INSTANCE", ""), m.get("VLNV", ""), regs))
    return Hwh(part, modules)


def read_bit_part(path: str | Path) -> str:
    """The part a Xilinx .bit file's header names; ConfigError if it is not a bitstream."""
    data = Path(path).read_bytes()
    name = Path(path).name
    if not data.startswith(BIT_MAGIC):
        raise ConfigError(f"{name}: not a Xilinx bitstream (.bit): its header does not start as a .bit file's does")
    pos, fields = len(BIT_MAGIC), {}
    try:
        while pos < len(data):
            key = chr(data[pos])
            pos += 1
            if key == "e":  # the configuration data: a 4-byte length, then the data itself
                (n,) = struct.unpack(">I", data[pos : pos + 4])
                if n == 0 or pos + 4 + n > len(data):
                    raise ConfigError(
                        f"{name}: the bitstream is cut short (its header announces {n} bytes of configuration "
                        f"data, the file holds {len(data) - pos - 4})"
                    )
                break
            (n,) = struct.unpack(">H", data[pos : pos + 2])
            fields[key] = data[pos + 2 : pos + 2 + n].rstrip(b"\0").decode("ascii", "replace")
            pos += 2 + n
        else:
            raise ConfigError(f"{name}: the bitstream holds no configuration data")
    except struct.error:
        raise ConfigError(f"{name}: the bitstream's header is cut short") from None
    if "b" not in fields:
        raise ConfigError(f"{name}: the bitstream's header names no part")
    return fields["b"]


def check_overlay(bit: str | Path, hwh: str | Path, config) -> list[str]:
    """Problems of the overlay for ``config`` (an AcceleratorConfig); empty when it fits."""
    problems = []
    part = config.fpga_part
    try:
        bit_part = read_bit_part(bit)
        if not same_part(bit_part, part):
            problems.append(
                f"{Path(bit).name} is a bitstream for part {bit_part}, the configuration's board "
                f"{config.board} has {part}"
            )
    except ConfigError as e:
        problems.append(str(e))
    try:
        h = read_hwh(hwh)
    except ConfigError as e:
        return problems + [str(e)]
    name = Path(hwh).name
    if not same_part(h.part, part):
        problems.append(
            f"{name} describes a design for part {h.part or '(none)'}, the configuration's board "
            f"{config.board} has {part}"
        )
    prefix = f"{VENDOR}:{LIBRARY}:{config.top}:"
    kernels = [m for m in h.modules if m.vlnv.startswith(prefix)]
    if not kernels:
        found = ", ".join(sorted({m.vlnv for m in h.modules if m.vlnv})) or "none"
        return problems + [f"{name} holds no EIE kernel (an IP {prefix}{IP_VERSION}); its IPs: {found}"]
    k = kernels[0]
    version = k.vlnv[len(prefix) :]
    if version != IP_VERSION:
        problems.append(
            f"{name}: the kernel IP is version {version}, this toolkit's is {IP_VERSION} (the image-format "
            "version): the bitstream was built by another toolkit version; rebuild it (eie build --overlay)"
        )
    if k.instance != IP_NAME:
        problems.append(f"{name}: the kernel instance is named {k.instance!r}; the driver opens it as {IP_NAME!r}")
    # The configuration's kernel: a streaming one has a stream-port pointer per HP port after y_out.
    expected = registers(config)
    missing = sorted(n for n in expected if n not in k.registers)
    moved = sorted(n for n in expected if n in k.registers and k.registers[n] != expected[n])
    if missing:
        problems.append(f"{name}: the kernel lacks the registers {', '.join(missing)} the driver writes")
    for n in moved:
        problems.append(f"{name}: register {n} is at {k.registers[n]:#x}, the driver's is at {expected[n]:#x}")
    try:
        ports = len(stream_pointers(k.registers, f"{name}: the kernel"))
    except ConfigError as e:
        problems.append(str(e))
    else:
        want = config.stream_lanes
        if ports > want:
            problems.append(
                f"{name}: the kernel has {ports} stream ports (image_s0 .. image_s{ports - 1}), this "
                f"configuration's kernel {want} (stream_ports, and none unless dir_depth > 0): it was built "
                "from another configuration"
            )
    return problems


def require_overlay(bit: str | Path, hwh: str | Path, config) -> None:
    problems = check_overlay(bit, hwh, config)
    if problems:
        raise ConfigError(
            "--overlay does not fit this kernel: "
            + "; ".join(problems)
            + ". Build the overlay for this configuration (eie build BUNDLE/build --overlay) and pass its folder"
        )
