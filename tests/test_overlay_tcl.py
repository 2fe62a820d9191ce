"""overlays/build_overlay.tcl parses and drives Vivado's flow (commands stubbed).

No Vivado here: tclsh runs the script with every Vivado command replaced by a
proc that records its call, so the block-design steps, the board table and
the error paths are checked; the bitstream itself is not.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
        + f"source {{{SCRIPT}}}\nforeach c $::calls {{ puts \"CALL $c\" }}\n"
    )
    return subprocess.run(["tclsh", str(driver)], capture_output=True, text=True, timeout=60)


def test_block_design_steps_for_each_board(tmp_path):
    ip = tmp_path / "ip"
    ip.mkdir()
    for board, part, ps in [
        ("pynq-z2", "xc7z020clg400-1", "processing_system7"),
        ("zcu104", "xczu7ev-ffvc1156-2-e", "zynq_ultra_ps_e"),
        ("kv260", "xck26-sfvc784-2LV-c", "zynq_ultra_ps_e"),
    ]:
        out = tmp_path / board
        # The script copies the .bit/.hwh it finds; the stubbed run made none, so it must say so.
        res = run_tcl(tmp_path, board, str(ip), str(out))
        text = res.stdout
        assert f"create_project eie_overlay {out}/vivado_{board} -part {part} -force" in text
        assert f"xilinx.com:ip:{ps}" in text
        assert "eie-pynq.org:hls:eie_top:1.0" in text
        # one AXI4 automation for control plus one per kernel master port
        assert text.count("CALL apply_bd_automation -rule xilinx.com:bd_rule:axi4") == 3
        assert "launch_runs impl_1 -to_step write_bitstream" in text
        assert "bitstream or hardware handoff not found" in text and "EXIT 1" in text


def test_unknown_board_and_missing_ip_repo_are_clear_errors(tmp_path):
    res = run_tcl(tmp_path, "de10-nano", str(tmp_path), str(tmp_path / "o"))
    assert "unknown board 'de10-nano'" in res.stdout and "EXIT 2" in res.stdout
    res = run_tcl(tmp_path, "pynq-z2", str(tmp_path / "nope"), str(tmp_path / "o"))
    assert "IP repository" in res.stdout and "EXIT 2" in res.stdout
    res = run_tcl(tmp_path, "pynq-z2")
    assert "usage:" in res.stdout and "EXIT 2" in res.stdout
