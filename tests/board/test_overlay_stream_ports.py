"""An overlay's .hwh against a streaming configuration: its kernel's stream-port registers (issue 19).

``eie deploy --overlay`` (eie.board.overlay.check_overlay) checks the .hwh's kernel registers against
eie.kernel.abi.registers(config): a streaming kernel (dir_depth > 0) has a pointer image_s<l> per HP port
after y_out. The .hwh files are written in Vivado's form by tests/overlay_files.py.
"""

from overlay_files import write_overlay

from eie.board.overlay import check_overlay
from eie.hardware.boards import BOARDS
from eie.hardware.config import AcceleratorConfig
from eie.kernel.abi import REGISTERS, registers

STREAM2 = AcceleratorConfig(board="zcu104", dir_depth=64)  # the UltraScale+ default: 2 ports
PART = BOARDS["zcu104"].part


def problems(tmp_path, config, regs):
    bit, hwh = write_overlay(tmp_path / "ov", PART, registers=regs)
    return check_overlay(bit, hwh, config)


def test_the_streaming_kernels_registers_fit(tmp_path):
    assert STREAM2.ports == 2
    assert problems(tmp_path, STREAM2, registers(STREAM2)) == []
    # The same overlay for a configuration without streaming: its kernel was built from another one.
    plain = STREAM2.replace(dir_depth=0)
    assert problems(tmp_path, plain, registers(STREAM2)) == [
        "eie.hwh: the kernel has 2 stream ports (image_s0 .. image_s1), this configuration's kernel 0 "
        "(stream_ports, and none unless dir_depth > 0): it was built from another configuration"
    ]


def test_a_kernel_without_the_stream_ports_is_refused(tmp_path):
    # A bitstream built before the stream ports (or for dir_depth 0): the registers the driver writes are missing.
    assert problems(tmp_path, STREAM2, REGISTERS) == [
        "eie.hwh: the kernel lacks the registers image_s0_1, image_s0_2, image_s1_1, image_s1_2 the driver writes"
    ]
    four = STREAM2.replace(stream_ports=4)
    got = problems(tmp_path, four, registers(STREAM2))
    assert got == [
        "eie.hwh: the kernel lacks the registers image_s2_1, image_s2_2, image_s3_1, image_s3_2 the driver writes"
    ]


def test_moved_and_inconsistent_stream_ports_are_named(tmp_path):
    regs = registers(STREAM2)
    moved = {**regs, "image_s1_1": 0x84, "image_s1_2": 0x88}
    assert problems(tmp_path, STREAM2, moved) == [
        "eie.hwh: register image_s1_1 is at 0x84, the driver's is at 0x80",
        "eie.hwh: register image_s1_2 is at 0x88, the driver's is at 0x84",
    ]
    # image_s1 without image_s0: the kernel lacks image_s0, and the port set is not the toolkit's.
    lone = {n: off for n, off in regs.items() if not n.startswith("image_s0")}
    got = problems(tmp_path, STREAM2, lone)
    assert got[0] == "eie.hwh: the kernel lacks the registers image_s0_1, image_s0_2 the driver writes"
    assert got[1].startswith("eie.hwh: the kernel has the stream port image_s1 but not image_s0") and len(got) == 2
