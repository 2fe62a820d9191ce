"""overlays/build_overlay.tcl parses and drives Vivado's flow (commands stubbed).

No Vivado here: tclsh runs the script with every Vivado command replaced by a
proc that records its call, so the block-design steps, the board facts it
takes from the rendered params.tcl (eie.hardware.boards through
eie.hardware.render) and the error paths are checked; the bitstream itself is
not.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from eie.hardware.boards import BOARDS
from eie.hardware.config import AcceleratorConfig
from eie.hardware.render import params_tcl

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "overlays" / "build_overlay.tcl"

STUBS = r"""
set ::calls {}
foreach cmd {create_project set_property update_ip_catalog create_bd_design apply_bd_automation
             assign_bd_address validate_bd_design save_bd_design add_files launch_runs wait_on_run} {
    proc $cmd {args} "lappend ::calls \[concat $cmd \$args\]; return {}"
}
proc current_project {} { return prj }
proc current_fileset {} { return sources_1 }
proc get_files {args} { return eie.bd }
proc get_board_parts {args} { if {[string match *missing* [lindex $args end]]} { return {} }; return [lindex $args end] }
proc get_runs {args} { return impl_1 }
proc create_bd_cell {args} { lappend ::calls [concat create_bd_cell $args]; return [lindex $args end] }
proc get_bd_intf_pins {args} {
    if {[lsearch $args -of_objects] >= 0} { return {/eie/m_axi_gmem0 /eie/m_axi_gmem1} }
    return [lindex $args end]
}
proc make_wrapper {args} { return /tmp/eie_wrapper.v }
proc get_property {name obj} { if {$name eq "PROGRESS"} { return "100%" }; return "" }
rename exit tcl_exit
proc exit {code} { puts "EXIT $code"; foreach c $::calls { puts "CALL $c" }; tcl_exit $code }
"""


def run_tcl(tmp_path, *args):
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh not installed")
    driver = tmp_path / "driver.tcl"
    driver.write_text(
        STUBS
        + f"set argv {{{' '.join(args)}}}\nset argc {len(args)}\n"
        + f'source {{{SCRIPT}}}\nforeach c $::calls {{ puts "CALL $c" }}\n'
    )
    return subprocess.run(["tclsh", str(driver)], capture_output=True, text=True, timeout=60)


def build_dir(tmp_path, config: AcceleratorConfig):
    """What `eie generate` + `build.tcl export` leave: params.tcl (rendered) and the IP folder."""
    d = tmp_path / f"build-{config.board}"
    (d / "eie_prj" / "solution1" / "impl" / "ip").mkdir(parents=True, exist_ok=True)
    (d / "params.tcl").write_text(params_tcl(config))
    return d


PS_IP = {"zynq7": "processing_system7", "zynqmp": "zynq_ultra_ps_e"}
CLOCK_KEY = {"zynq7": "PCW_FPGA0_PERIPHERAL_FREQMHZ", "zynqmp": "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"}


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_block_design_steps_for_each_board(tmp_path, board):
    b = BOARDS[board]
    out = tmp_path / board
    # The script copies the .bit/.hwh it finds; the stubbed run made none, so it must say so.
    res = run_tcl(tmp_path, board, str(build_dir(tmp_path, AcceleratorConfig(board=board, clock_mhz=250))), str(out))
    text = res.stdout
    # Part, PS, board part and clock all come from params.tcl, i.e. from eie.hardware.boards.
    assert f"create_project eie_overlay {out}/vivado_{board} -part {b.part} -force" in text
    assert f"xilinx.com:ip:{PS_IP[b.family]}" in text
    assert f"CALL set_property board_part {b.board_part} prj" in text
    assert "eie-pynq.org:hls:eie_top:1.0" in text
    # The PL clock is the one the kernel was synthesised for (4 ns -> 250 MHz).
    assert f"CONFIG.{CLOCK_KEY[b.family]} 250.000" in text
    # one AXI4 automation for control plus one per kernel master port
    assert text.count("CALL apply_bd_automation -rule xilinx.com:bd_rule:axi4") == 3
    assert "launch_runs impl_1 -to_step write_bitstream" in text
    assert "bitstream or hardware handoff not found" in text and "EXIT 1" in text


def test_the_script_has_no_board_table():
    text = SCRIPT.read_text()
    for b in BOARDS.values():
        assert b.part not in text and b.board_part not in text


def test_wrong_board_custom_part_and_missing_ip_repo_are_clear_errors(tmp_path):
    z2 = build_dir(tmp_path, AcceleratorConfig(board="pynq-z2"))
    # A kernel generated for another board is refused.
    res = run_tcl(tmp_path, "zcu104", str(z2), str(tmp_path / "o"))
    assert "generated for board 'pynq-z2' (part xc7z020clg400-1), not 'zcu104'" in res.stdout
    assert "EXIT 2" in res.stdout
    res = run_tcl(tmp_path, "de10-nano", str(z2), str(tmp_path / "o"))
    assert "not 'de10-nano'" in res.stdout and "EXIT 2" in res.stdout
    res = run_tcl(tmp_path, "pynq-z2", str(tmp_path / "nope"), str(tmp_path / "o"))
    assert "params.tcl not found" in res.stdout and "EXIT 2" in res.stdout
    # A custom part has no board part: generate-only.
    custom = AcceleratorConfig(board="custom", part="xc7z045ffg900-2", resources={"bram36": 545, "dsp": 900})
    res = run_tcl(tmp_path, "custom", str(build_dir(tmp_path, custom)), str(tmp_path / "o"))
    assert "has no Vivado board part" in res.stdout and "EXIT 2" in res.stdout
    (z2 / "eie_prj" / "solution1" / "impl" / "ip").rmdir()
    res = run_tcl(tmp_path, "pynq-z2", str(z2), str(tmp_path / "o"))
    assert "IP repository" in res.stdout and "EXIT 2" in res.stdout
    res = run_tcl(tmp_path, "pynq-z2")
    assert "usage:" in res.stdout and "EXIT 2" in res.stdout
