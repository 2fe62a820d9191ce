"""The driver's registers against the AXI4-Lite map Vitis HLS lays out for the rendered top.

Issue 13 item 9. The map is derived here from the rendered ``eie_top.cpp``
(its top signature and ``#pragma HLS INTERFACE s_axilite ... bundle=control``
lines), so it follows the signature when the kernel gains or loses scalars,
and every register name the driver uses (read from driver.py's source, not
listed here) must exist in it. ``check_hw_h`` compares the derived map with
the ``x<top>_hw.h`` Vitis HLS writes (``<solution>/impl/misc/drivers/*/src``
or ``.autopilot/db/driver/src``); set ``EIE_HW_H`` to such a file to check a
real synthesis run (the test is skipped without it).

Layout rules (s_axilite, ap_ctrl_hs), as read in generated headers:

- 0x00 control (ap_start/done/idle/ready), 0x04 GIE, 0x08 IER, 0x0c ISR;
- a non-void return value: ``ap_return`` at 0x10 (read-only), arguments
  from 0x18 (dwf23/GIM-2024-2025
  spi_directio/hls_daw/pulse_gen/pulse_gen/hls/.autopilot/db/driver/src/xpulse_gen_hw.h,
  Vitis HLS 2024.1: ADDR_AP_RETURN 0x10);
- without a return value arguments start at 0x10;
- arguments in signature order; one of at most 32 bits takes an 8-byte slot
  (data, reserved); one of 33..64 bits (every pointer, an m_axi offset)
  takes a 12-byte slot (data[31:0], data[63:32], reserved)
  (UCLA-VAST/TAPA-CS apps/vadd/VecAdd_1/.autopilot/db/driver/src/xvecadd_1_hw.h,
  Vitis HLS 2022.1: pointers a, b, c at 0x10, 0x1c, 0x28 and 64-bit n at
  0x34; Xilinx/Vitis_Model_Composer
  Examples/AIENGINE/Export_to_Vitis/vitis_workspace/mm2s/mm2s/hls/.autopilot/db/coregen/control.h:
  pointer mem at 0x10, 32-bit size at 0x1c; timtran600/EECE4632
  HW3/Vitis/divby13/divby13/hls/.autopilot/db/coregen/control.h: 32-bit a
  at 0x10, the next argument at 0x18);
- the header names a register ``<PREFIX>_ADDR_<NAME>_DATA`` (its low word
  for a 64-bit one) and ``<PREFIX>_BITS_<NAME>_DATA``; PYNQ's register_map
  (from the .hwh) names the two words of a 64-bit one ``<name>_1`` and
  ``<name>_2``, which is what the driver writes.

Output scalars (``*_ap_vld`` control words) are not handled: the top has none.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from eie.hardware.config import AcceleratorConfig
from eie.kernel.render import render_kernel

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "host" / "eie" / "board" / "driver.py"
CONTROL = {"AP_CTRL": 0x00, "GIE": 0x04, "IER": 0x08, "ISR": 0x0C}


@dataclass(frozen=True)
class Arg:
    name: str
    bits: int  # 1..64; pointers are 64


def c_type_bits(ctype: str) -> int:
    """Width of a C/C++ argument type as the AXI4-Lite adapter stores it."""
    t = " ".join(ctype.replace("const ", "").split())
    if "*" in t:
        return 64
    if m := re.search(r"ap_u?int<\s*(\d+)\s*>", t):
        return int(m[1])
    base = t.split("::")[-1]
    widths = {
        "bool": 1,
        "char": 8,
        "short": 16,
        "int": 32,
        "unsigned": 32,
        "unsigned int": 32,
        "int32_t": 32,
        "uint32_t": 32,
        "u32": 32,
        "long long": 64,
        "unsigned long long": 64,
        "int64_t": 64,
        "uint64_t": 64,
        "u64": 64,
    }
    if base not in widths:
        raise ValueError(f"unknown argument type {ctype!r}: add its width")
    return widths[base]


def parse_top(source: str, top: str = "eie_top") -> tuple[int, list[Arg]]:
    """(return bits, 0 for void; the s_axilite control arguments in signature order)."""
    m = re.search(rf"^(\w[\w:<> ]*?)\s+{top}\s*\(([^)]*)\)\s*\{{", source, re.M)
    assert m, f"no definition of {top} in the rendered source"
    ret = m[1].strip()
    params = [p.strip() for p in m[2].split(",") if p.strip()]
    pragmas = re.findall(r"#pragma HLS INTERFACE s_axilite port=(\w+) bundle=(\w+)", source)
    axilite = {port for port, bundle in pragmas if bundle == "control"}
    args = []
    for p in params:
        pm = re.match(r"(.*?)(\w+)\s*$", p)
        assert pm, p
        ctype, name = pm[1], pm[2]
        if name in axilite:
            args.append(Arg(name, c_type_bits(ctype)))
    ret_bits = 0 if ret == "void" else c_type_bits(ret)
    if ret_bits:
        assert "return" in axilite, "a non-void top without s_axilite port=return has no ap_return register"
    return ret_bits, args


def layout(ret_bits: int, args: list[Arg]) -> dict[str, tuple[int, int]]:
    """Register name -> (offset of its data word, bits), as Vitis HLS lays out the control bundle."""
    regs = {name.lower(): (off, 32) for name, off in CONTROL.items()}
    offset = 0x10
    if ret_bits:
        regs["ap_return"] = (0x10, ret_bits)
        offset = 0x18
    for a in args:
        regs[a.name] = (offset, a.bits)
        offset += 8 if a.bits <= 32 else 12
    return regs


def pynq_names(regs: dict[str, tuple[int, int]]) -> dict[str, int]:
    """The names PYNQ's register_map gives: a 64-bit register as <name>_1 (low) and <name>_2 (high)."""
    out = {}
    for name, (off, bits) in regs.items():
        if bits > 32:
            out[f"{name}_1"], out[f"{name}_2"] = off, off + 4
        else:
            out[name] = off
    return out


def check_hw_h(regs: dict[str, tuple[int, int]], text: str) -> list[str]:
    """Differences between the derived map and an x<top>_hw.h; empty when they agree."""
    addr = {
        m[2]: int(m[3], 16)
        for m in re.finditer(r"#define\s+(\w+?)_ADDR_(\w+?)(?:_DATA)?\s+0x([0-9a-fA-F]+)", text)
        if not m[2].endswith("_CTRL") or m[2] == "AP_CTRL"
    }
    bits = {m[1]: int(m[2]) for m in re.finditer(r"#define\s+\w+?_BITS_(\w+?)(?:_DATA)?\s+(\d+)", text)}
    problems = []
    for name, (off, width) in regs.items():
        key = name.upper()
        if key not in addr:
            problems.append(f"{name}: not in the header")
            continue
        if addr[key] != off:
            problems.append(f"{name}: derived {off:#x}, header {addr[key]:#x}")
        if key in bits and bits[key] != width:
            problems.append(f"{name}: derived {width} bits, header {bits[key]}")
    for key in sorted(set(addr) - {n.upper() for n in regs}):
        problems.append(f"{key.lower()}: in the header, not derived from the signature")
    return problems


def write_hw_h(regs: dict[str, tuple[int, int]], prefix: str = "XEIE_TOP_CONTROL") -> str:
    """A header in the generated form, from a map (a test fixture)."""
    lines = []
    for name, (off, width) in regs.items():
        key = name.upper()
        if key in CONTROL:
            lines.append(f"#define {prefix}_ADDR_{key} {off:#04x}")
        elif key == "AP_RETURN":
            lines += [f"#define {prefix}_ADDR_{key} {off:#04x}", f"#define {prefix}_BITS_{key} {width}"]
        else:
            lines += [f"#define {prefix}_ADDR_{key}_DATA {off:#04x}", f"#define {prefix}_BITS_{key}_DATA {width}"]
    return "\n".join(lines) + "\n"


def driver_register_names(source: str) -> set[str]:
    """Every register name driver.py reads or writes by name.

    String constants passed to write_reg/read_reg, the <name>_1/<name>_2 pair
    of every _set_pointer(name, ...), and the names in the (name, value)
    tables (variables ending in _regs) it writes in a loop.
    """
    names: set[str] = set()
    tables = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            if node.func.attr in ("write_reg", "read_reg"):
                names.add(first.value)
            elif node.func.attr == "_set_pointer":
                names |= {f"{first.value}_1", f"{first.value}_2"}
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id.endswith("_regs") for t in node.targets
        ):
            tables += 1
            assert isinstance(node.value, ast.Tuple | ast.List), ast.unparse(node)
            for item in node.value.elts:
                assert isinstance(item, ast.Tuple) and isinstance(item.elts[0], ast.Constant), ast.unparse(item)
                names.add(item.elts[0].value)
    assert tables >= 2, "driver.py's load/run register tables (*_regs) were not found: update this parser"
    return names


CONFIGS = [AcceleratorConfig(), AcceleratorConfig(board="pynq-z2", n_pes=4, ternary=True)]


@pytest.fixture(params=CONFIGS, ids=["default", "pynq-z2-ternary"])
def rendered(request, tmp_path):
    render_kernel(request.param, tmp_path)
    return (tmp_path / "eie_top.cpp").read_text()


def test_every_register_the_driver_uses_is_in_the_derived_map(rendered):
    ret_bits, args = parse_top(rendered)
    assert ret_bits == 32  # the status word the driver reads from ap_return
    regs = pynq_names(layout(ret_bits, args))
    used = driver_register_names(DRIVER.read_text())
    assert {"mode", "ap_return", "image_1", "image_2", "x_in_1", "y_out_2"} <= used
    missing = sorted(used - set(regs))
    assert not missing, f"driver.py uses registers the rendered kernel does not have: {missing}"
    # ... and the driver sets every argument register (a pointer or scalar it never writes is stale).
    written = {n for n in regs if n not in ("ap_ctrl", "gie", "ier", "isr", "ap_return")}
    assert sorted(written - used) == []
    # The fixed control offsets are the driver's.
    from eie.board import driver

    assert (driver.CTRL, driver.GIE, driver.IER, driver.ISR) == (0x00, 0x04, 0x08, 0x0C)
    # eie.kernel.abi.REGISTERS (what an overlay's .hwh is checked against, and what the real-pynq
    # test's register description holds) is the derived map, name for name and offset for offset.
    from eie.kernel.abi import REGISTERS

    assert REGISTERS == {n: off for n, off in regs.items() if n not in ("ap_ctrl", "gie", "ier", "isr")}


def test_layout_of_the_rendered_top(rendered):
    ret_bits, args = parse_top(rendered)
    regs = layout(ret_bits, args)
    # ap_return first, then the arguments in signature order without overlaps or gaps.
    assert regs["ap_return"] == (0x10, 32)
    fixed = {"ap_ctrl", "gie", "ier", "isr", "ap_return"}
    spans = sorted((off, off + (8 if bits <= 32 else 12)) for n, (off, bits) in regs.items() if n not in fixed)
    assert spans[0][0] == 0x18
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    # Pointers take two words.
    for p in ("image", "x_in", "y_out"):
        assert regs[p][1] == 64
    names = [a.name for a in args]
    assert names[:4] == ["mode", "first", "last", "n_vectors"]
    assert names[-3:] == ["image", "x_in", "y_out"]


def test_the_map_follows_the_signature():
    """Adding a 32-bit scalar before the pointers moves each pointer by one 8-byte slot."""
    src = (
        "int eie_top(int mode, unsigned extra, const eie::word_t* image) {\n"
        "#pragma HLS INTERFACE m_axi port=image offset=slave bundle=gmem0\n"
        "#pragma HLS INTERFACE s_axilite port=mode bundle=control\n"
        "#pragma HLS INTERFACE s_axilite port=extra bundle=control\n"
        "#pragma HLS INTERFACE s_axilite port=image bundle=control\n"
        "#pragma HLS INTERFACE s_axilite port=return bundle=control\n"
    )
    ret_bits, args = parse_top(src)
    assert pynq_names(layout(ret_bits, args)) == {
        "ap_ctrl": 0, "gie": 4, "ier": 8, "isr": 0xC, "ap_return": 0x10,
        "mode": 0x18, "extra": 0x20, "image_1": 0x28, "image_2": 0x2C,
    }  # fmt: skip
    # A name the driver uses that the kernel lacks is reported.
    regs = pynq_names(layout(*parse_top(src.replace("unsigned extra, ", ""))))
    assert "extra" not in regs and regs["image_1"] == 0x20


@pytest.mark.parametrize(
    ("ret_bits", "args", "expected"),
    [
        # xvecadd_1_hw.h (TAPA-CS, Vitis HLS 2022.1): void VecAdd(float* a, float* b, float* c, uint64_t n)
        (0, [Arg("a", 64), Arg("b", 64), Arg("c", 64), Arg("n", 64)], {"a": 0x10, "b": 0x1C, "c": 0x28, "n": 0x34}),
        # mm2s control.h (Vitis_Model_Composer): a pointer then a 32-bit size
        (0, [Arg("mem", 64), Arg("size", 32)], {"mem": 0x10, "size": 0x1C}),
        # divby13 control.h: 32-bit scalars 8 bytes apart
        (0, [Arg("a", 32), Arg("result", 32)], {"a": 0x10, "result": 0x18}),
        # xpulse_gen_hw.h (Vitis HLS 2024.1): ap_return alone at 0x10
        (1, [], {"ap_return": 0x10}),
    ],
    ids=["vecadd-pointers-and-u64", "mm2s-pointer-then-u32", "divby13-u32", "pulse_gen-ap_return"],
)
def test_layout_rules_on_published_headers(ret_bits, args, expected):
    regs = layout(ret_bits, args)
    assert {n: off for n, (off, _) in regs.items() if n in expected} == expected


def test_check_hw_h_accepts_the_derived_map_and_reports_each_difference(rendered):
    regs = layout(*parse_top(rendered))
    header = write_hw_h(regs)
    assert "#define XEIE_TOP_CONTROL_ADDR_IMAGE_DATA" in header
    assert check_hw_h(regs, header) == []
    # A moved register, a missing one, an extra one and a wrong width are each named.
    moved = header.replace(f"ADDR_X_IN_DATA {regs['x_in'][0]:#04x}", f"ADDR_X_IN_DATA {regs['x_in'][0] + 4:#04x}")
    assert check_hw_h(regs, moved) == [f"x_in: derived {regs['x_in'][0]:#x}, header {regs['x_in'][0] + 4:#x}"]
    dropped = "\n".join(line for line in header.splitlines() if "_MODE_" not in line)
    assert check_hw_h(regs, dropped) == ["mode: not in the header"]
    extra = header + "#define XEIE_TOP_CONTROL_ADDR_SPARE_DATA 0x80\n"
    assert check_hw_h(regs, extra) == ["spare: in the header, not derived from the signature"]
    narrow = header.replace("BITS_Y_OUT_DATA 64", "BITS_Y_OUT_DATA 32")
    assert check_hw_h(regs, narrow) == ["y_out: derived 64 bits, header 32"]


def test_real_hw_h_if_given(rendered):
    """EIE_HW_H=<solution>/impl/misc/drivers/eie_top_v1_0/src/xeie_top_hw.h after csynth."""
    path = os.environ.get("EIE_HW_H")
    if not path:
        pytest.skip("set EIE_HW_H to a synthesised xeie_top_hw.h to check it")
    regs = layout(*parse_top(rendered))
    assert check_hw_h(regs, Path(path).read_text()) == []


# -- stream ports (issue 19): image_s0 .. image_s<P-1> after y_out, one per HP port --------------------
# A streaming kernel (dir_depth > 0) of each port count its board allows: pynq-z2 (1 port, the Zynq-7000
# default), zcu104 (2, the UltraScale+ default) and zcu104 with 4.
STREAM_CONFIGS = {
    "pynq-z2-stream-1": AcceleratorConfig(board="pynq-z2", n_pes=4, dir_depth=64),
    "zcu104-stream-2": AcceleratorConfig(board="zcu104", n_pes=4, dir_depth=64),
    "zcu104-stream-4": AcceleratorConfig(board="zcu104", n_pes=4, dir_depth=64, stream_ports=4),
}


def with_stream_ports(source: str, ports: int) -> str:
    """A rendered top with ``ports`` stream-port arguments appended as the streaming kernel declares them
    (a fixture: the same declaration the kernel's template writes, so the layout rules see a real signature)."""
    args = "".join(f", const eie::sword_t* image_s{lane}" for lane in range(ports))
    pragmas = "".join(
        f"#pragma HLS INTERFACE m_axi port=image_s{lane} offset=slave bundle=gmem_s{lane} depth=65536\n"
        f"#pragma HLS INTERFACE s_axilite port=image_s{lane} bundle=control\n"
        for lane in range(ports)
    )
    signature, axilite = "eie::io_t* y_out)", "#pragma HLS INTERFACE s_axilite port=y_out bundle=control\n"
    assert source.count(signature) == 1 and source.count(axilite) == 1, "the rendered top changed: update this fixture"
    return source.replace(signature, f"eie::io_t* y_out{args})").replace(axilite, axilite + pragmas)


class RecordingPort:
    """A register port with the derived map's names that records what the driver writes; every call succeeds."""

    def __init__(self, names):
        self.names = tuple(names)
        self.regs: dict[str, int] = {}

    def register_names(self):
        return self.names

    def write_reg(self, name, value):
        assert name in self.names, f"the driver wrote {name!r}, which the kernel does not have"
        self.regs[name] = int(value)

    def read_reg(self, name):
        assert name in self.names, name
        return 0  # ap_return: ok

    def write_ctrl(self, value):
        pass

    def read_ctrl(self):
        from eie.board.driver import AP_DONE

        return AP_DONE

    def write_at(self, offset, value):
        pass

    def read_at(self, offset):
        return 0


def driver_writes(config: AcceleratorConfig, regs: dict[str, int]) -> dict[str, int]:
    """The registers the driver writes in a load and a run, on a port that has the names of ``regs``."""
    from eie.board.cosim import HostMemory
    from eie.board.driver import EIEKernel
    from eie.hardware.testmodel import demo_model, random_inputs

    port = RecordingPort(regs)
    kernel = EIEKernel(port, HostMemory().allocate)
    qm = demo_model(config, seed=1)
    kernel.load(qm)
    kernel.run_int(random_inputs(qm, 2, seed=2))
    return port.regs


def check_stream_registers(config: AcceleratorConfig, source: str, ports: int) -> None:
    from eie.kernel.abi import registers

    ret_bits, args = parse_top(source)
    names = [a.name for a in args]
    stream = [f"image_s{lane}" for lane in range(ports)]
    # The stream ports follow y_out, in lane order, each a pointer on its own m_axi bundle gmem_s<l>
    # (the interface m_axi_gmem_s<l> that overlays/build_overlay.tcl wires to an HP port of its own).
    assert names[-3 - ports :] == ["image", "x_in", "y_out", *stream]
    for a in args[-ports:]:
        assert a.bits == 64, a
    for lane in range(ports):
        assert re.search(rf"#pragma HLS INTERFACE m_axi port=image_s{lane} offset=slave bundle=gmem_s{lane}\b", source)
    derived = pynq_names(layout(ret_bits, args))
    table = registers(ports)
    assert table == {n: off for n, off in derived.items() if n not in ("ap_ctrl", "gie", "ier", "isr")}
    # image_s0 takes the slot after y_out's 12 bytes; each further port 12 bytes on.
    assert [table[f"{s}_1"] for s in stream] == [0x74 + 0x0C * lane for lane in range(ports)]
    assert all(table[f"{s}_2"] == table[f"{s}_1"] + 4 for s in stream)
    # The configuration's table (what an overlay's .hwh is checked against) is this one.
    if config.streaming:
        assert registers(config) == table and config.ports == ports
    # The driver writes every argument register, and the image buffer's address to each stream port.
    written = driver_writes(config, table)
    assert sorted(written) == sorted(n for n in table if n != "ap_return")
    for s in stream:
        assert (written[f"{s}_1"], written[f"{s}_2"]) == (written["image_1"], written["image_2"])
    assert written["image_2"] > 0  # HostMemory places buffers above 4 GiB: both halves are checked


@pytest.mark.parametrize("ports", [1, 2, 4])
def test_stream_port_registers_follow_the_signature(ports, tmp_path):
    """The rendered top with the stream ports appended: the layout rules give abi.registers(ports)."""
    config = AcceleratorConfig(board="zcu104", n_pes=4)
    render_kernel(config, tmp_path)
    check_stream_registers(config, with_stream_ports((tmp_path / "eie_top.cpp").read_text(), ports), ports)


@pytest.mark.parametrize("name", sorted(STREAM_CONFIGS))
def test_stream_port_registers_of_the_rendered_streaming_top(name, tmp_path):
    """The streaming kernel as rendered: its image_s<l> arguments, their offsets, and the driver's writes."""
    config = STREAM_CONFIGS[name]
    render_kernel(config, tmp_path)
    check_stream_registers(config, (tmp_path / "eie_top.cpp").read_text(), config.ports)


def test_a_kernel_without_stream_ports_has_the_plain_table(rendered):
    """A non-streaming kernel (dir_depth 0) has no stream ports, whatever its board's default port count."""
    from eie.kernel.abi import REGISTERS, registers

    assert not any(a.name.startswith("image_s") for a in parse_top(rendered)[1])
    for config in CONFIGS:
        assert not config.streaming and registers(config) == REGISTERS
    assert registers(0) == REGISTERS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: {n: o for n, o in r.items() if not n.startswith("image_s0")},
            "the stream port image_s1 but not image_s0",
        ),
        (lambda r: {n: o for n, o in r.items() if n != "image_s1_1"}, "the register image_s1_2 but not image_s1_1"),
        (lambda r: {**r, "image_s2_1": 0x8C, "image_s2_2": 0x90}, "3 stream ports (image_s0 .. image_s2)"),
        (lambda r: {**r, "image_s01_1": 0xA4}, "a register 'image_s01_1', which is not a stream-port pointer half"),
    ],
    ids=["s1-without-s0", "half-a-pointer", "three-ports", "malformed"],
)
def test_the_driver_refuses_an_inconsistent_stream_port_set(change, message):
    """Before any register write, naming the register and what to do."""
    from eie.board.cosim import HostMemory
    from eie.board.driver import EIEKernel
    from eie.errors import ConfigError
    from eie.kernel.abi import registers

    port = RecordingPort(change(registers(2)))
    with pytest.raises(ConfigError) as e:
        EIEKernel(port, HostMemory().allocate)
    msg = str(e.value)
    assert msg.startswith(f"the overlay's kernel has {message}") and "rebuild the overlay" in msg, msg
    assert port.regs == {}
    # The toolkit's sets are accepted, as the ports they are (the driver does not count on a configuration).
    for ports in (0, 1, 2, 4):
        assert EIEKernel(RecordingPort(registers(ports)), HostMemory().allocate).stream_pointers == tuple(
            f"image_s{lane}" for lane in range(ports)
        )
