"""overlays/build_overlay.tcl parses and drives Vivado's flow (commands stubbed).

No Vivado here: tclsh runs the script with every Vivado command replaced by a
proc that records its call, so the block-design steps, the board facts it
takes from the rendered params.tcl (eie.hardware.boards through
eie.kernel.render) and the error paths are checked; the bitstream itself is
not.

The stubs record every connection (connect_bd_intf_net, connect_bd_net) and
answer the address queries (get_bd_addr_spaces, get_bd_addr_segs) with a DDR
segment per master unless a test removes one, so the explicit wiring of issue
13 items 7 and 8 is asserted: both kernel masters on the SmartConnect, the
SmartConnect on the PS's HP0 port, the PS ports enabled (and the unused ones
disabled) by property, every enabled port clocked, the kernel's interrupt
through an axi_intc to the PS, and the DDR segment check failing loudly. With
stream ports (issue 19: EIE_STREAM_PORTS in params.tcl), each m_axi_gmem_s<l>
through a SmartConnect of its own to HP port (l+1) mod 4, that port enabled and
clocked, and its DDR segment checked to be that port's.
The implemented design's queries (get_cells, get_timing_paths, the worst
path's SLACK) answer from ::stub_eie_cells and ::stub_slack, so the reports the script
writes into OUT_DIR (issue 10) and its failure on negative WNS are asserted.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from eie.format.image import VERSION as IMAGE_VERSION
from eie.hardware.boards import BOARDS
from eie.hardware.config import AcceleratorConfig
from eie.kernel.render import params_tcl

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "overlays" / "build_overlay.tcl"

STUBS = r"""
set ::calls {}
foreach cmd {create_project set_property update_ip_catalog create_bd_design apply_bd_automation
             assign_bd_address validate_bd_design save_bd_design add_files launch_runs wait_on_run
             connect_bd_intf_net connect_bd_net open_run report_utilization report_timing_summary} {
    proc $cmd {args} "lappend ::calls \[concat $cmd \$args\]; return {}"
}
proc current_project {} { return prj }
proc current_fileset {} { return sources_1 }
proc get_files {args} { return eie.bd }
proc get_board_parts {args} { if {[string match *missing* [lindex $args end]]} { return {} }; return [lindex $args end] }
proc get_runs {args} { return impl_1 }
proc create_bd_cell {args} { lappend ::calls [concat create_bd_cell $args]; return [lindex $args end] }
# The kernel's masters: gmem0, gmem1 and a stream master per port params.tcl names
# (::stub_stream_masters, if a test sets it, lists the stream lanes the IP has instead).
proc get_bd_intf_pins {args} {
    if {[lsearch $args -of_objects] >= 0} {
        set lanes {}
        for {set l 0} {$l < $::EIE_STREAM_PORTS} {incr l} { lappend lanes $l }
        if {[info exists ::stub_stream_masters]} { set lanes $::stub_stream_masters }
        set pins {}
        foreach l $lanes { lappend pins /eie/m_axi_gmem_s$l }
        return [concat $pins {/eie/m_axi_gmem0 /eie/m_axi_gmem1}]
    }
    return [lindex $args end]
}
proc get_bd_pins {args} { return [lindex $args end] }
proc get_bd_cells {args} { return [lindex $args end] }
# Address queries: a master's space is /eie/Data_<port>; it holds its HP port's DDR segment (gmem0 and
# gmem1 on HP0, stream lane l on HP (l+1) mod 4, the documented mapping) unless the test lists the port
# in ::seg_override (port -> the segments to report instead).
set ::seg_override [dict create]
proc get_bd_addr_spaces {args} {
    lappend ::calls [concat get_bd_addr_spaces $args]
    return /eie/Data_[file tail [lindex $args end]]
}
proc get_bd_addr_segs {args} {
    lappend ::calls [concat get_bd_addr_segs $args]
    set space [lindex $args end]
    set port [string range [file tail $space] 5 end]
    if {[dict exists $::seg_override $port]} { return [dict get $::seg_override $port] }
    set hp 0
    regexp {gmem_s([0-9]+)$} $port -> lane
    if {[info exists lane]} { set hp [expr {($lane + 1) % 4}] }
    return $space/SEG_ps_HP${hp}_DDR_LOWOCM
}
proc make_wrapper {args} { return /tmp/eie_wrapper.v }
# The implemented design: the kernel's cell (::stub_eie_cells) and the worst setup path (slack ::stub_slack).
set ::stub_eie_cells eie_i/eie
set ::stub_slack 0.250
proc get_cells {args} { lappend ::calls [concat get_cells $args]; return $::stub_eie_cells }
proc get_timing_paths {args} { lappend ::calls [concat get_timing_paths $args]; return path_1 }
proc get_property {name obj} {
    switch -- $name {
        PROGRESS { return "100%" }
        SLACK { return $::stub_slack }
        STARTPOINT_PIN { return "eie_i/eie/inst/pe_0/acc_reg\[3\]/C" }
        ENDPOINT_PIN { return "eie_i/eie/inst/pe_0/out_reg\[3\]/D" }
        ENDPOINT_CLOCK { return clk_pl_0 }
    }
    return ""
}
rename exit tcl_exit
proc exit {code} { puts "EXIT $code"; foreach c $::calls { puts "CALL $c" }; tcl_exit $code }
"""


def run_tcl(tmp_path, *args, preamble: str = ""):
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh not installed")
    driver = tmp_path / "driver.tcl"
    driver.write_text(
        STUBS
        + preamble
        + f"\nset argv {{{' '.join(args)}}}\nset argc {len(args)}\n"
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
    assert f"eie-pynq.org:hls:eie_top:{IMAGE_VERSION}.0" in text
    # The PL clock is the one the kernel was synthesised for (4 ns -> 250 MHz).
    assert f"CONFIG.{CLOCK_KEY[b.family]} 250.000" in text
    # No connection automation for AXI ports any more: the wiring is explicit.
    assert "bd_rule:axi4" not in text
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


# Per family: the PS ports the script names, and the PS properties that enable (1) or disable (0) them.
PS_PORTS = {
    "zynq7": {
        "hp": "ps/S_AXI_HP0",
        "gp": "ps/M_AXI_GP0",
        "clk": "ps/FCLK_CLK0",
        "resetn": "ps/FCLK_RESET0_N",
        "irq": "ps/IRQ_F2P",
        "port_clks": ["ps/S_AXI_HP0_ACLK", "ps/M_AXI_GP0_ACLK"],
        "props": {
            "PCW_USE_S_AXI_HP0": "1",
            "PCW_USE_M_AXI_GP0": "1",
            "PCW_USE_M_AXI_GP1": "0",
            "PCW_USE_S_AXI_ACP": "0",
            "PCW_USE_FABRIC_INTERRUPT": "1",
            "PCW_IRQ_F2P_INTR": "1",
            "PCW_EN_CLK0_PORT": "1",
            "PCW_EN_RST0_PORT": "1",
        },
    },
    "zynqmp": {
        "hp": "ps/S_AXI_HP0_FPD",
        "gp": "ps/M_AXI_HPM0_FPD",
        "clk": "ps/pl_clk0",
        "resetn": "ps/pl_resetn0",
        "irq": "ps/pl_ps_irq0",
        "port_clks": ["ps/saxihp0_fpd_aclk", "ps/maxihpm0_fpd_aclk"],
        "props": {
            "PSU__USE__M_AXI_GP0": "1",
            "PSU__USE__M_AXI_GP1": "0",
            "PSU__USE__M_AXI_GP2": "0",  # the LPD master: off, so no unclocked port
            "PSU__USE__S_AXI_GP2": "1",  # HP0_FPD
            "PSU__USE__S_AXI_GP0": "0",
            "PSU__USE__IRQ0": "1",
            "PSU__FPGA_PL0_ENABLE": "1",
        },
    },
}
FAMILY_BOARDS = ["pynq-z2", "zcu104", "ultra96v2", "kv260"]


def calls(text: str) -> list[str]:
    return [line[len("CALL ") :] for line in text.splitlines() if line.startswith("CALL ")]


def nets(text: str, kind: str) -> list[list[str]]:
    """The endpoints of each recorded connect_bd_<kind>_net call, in order."""
    return [c.split()[1:] for c in calls(text) if c.split()[0] == f"connect_bd_{kind}"]


def ps_property(text: str, key: str) -> str | None:
    """The value the script sets for CONFIG.<key> on the PS (set_property -dict {... } ps)."""
    for c in calls(text):
        if c.startswith("set_property -dict ") and c.endswith(" ps"):
            words = c[len("set_property -dict ") : -len(" ps")].strip("{}").split()
            if f"CONFIG.{key}" in words:
                return words[words.index(f"CONFIG.{key}") + 1]
    return None


@pytest.mark.parametrize("board", FAMILY_BOARDS)
def test_masters_reach_ddr_through_one_smartconnect(tmp_path, board):
    b = BOARDS[board]
    ports = PS_PORTS[b.family]
    res = run_tcl(tmp_path, board, str(build_dir(tmp_path, AcceleratorConfig(board=board))), str(tmp_path / "o"))
    text = res.stdout
    intf = nets(text, "intf_net")
    # Each kernel master on its own SmartConnect slave port, the SmartConnect's master on HP0.
    assert ["/eie/m_axi_gmem0", "mem_sc/S00_AXI"] in intf
    assert ["/eie/m_axi_gmem1", "mem_sc/S01_AXI"] in intf
    assert ["mem_sc/M00_AXI", ports["hp"]] in intf
    assert "CALL create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_sc" in text
    assert "CONFIG.NUM_SI 2 CONFIG.NUM_MI 1" in text
    # No other connection reaches the HP port (the old automation's second call did).
    assert sum(ports["hp"] in n for n in intf) == 1
    # Control: the general-purpose master through its own SmartConnect to the kernel and the intc.
    assert [ports["gp"], "ctrl_sc/S00_AXI"] in intf
    assert ["ctrl_sc/M00_AXI", "eie/s_axi_control"] in intf
    assert ["ctrl_sc/M01_AXI", "intc/s_axi"] in intf
    # The PS ports are enabled / disabled by property, not left to the preset.
    for key, value in ports["props"].items():
        assert ps_property(text, key) == value, key
    # Clocks: the PL clock drives the kernel, both SmartConnects, the intc and every enabled PS AXI port.
    net = nets(text, "net")
    clk_net = next(n for n in net if n[0] == ports["clk"] and "eie/ap_clk" in n)
    for sink in ["eie/ap_clk", "mem_sc/aclk", "ctrl_sc/aclk", "intc/s_axi_aclk", *ports["port_clks"]]:
        assert sink in clk_net, sink
    assert [ports["clk"], "rst/slowest_sync_clk"] in net
    assert [ports["resetn"], "rst/ext_reset_in"] in net
    assert ["rst/peripheral_aresetn", "eie/ap_rst_n", "intc/s_axi_aresetn"] in net
    assert ["rst/interconnect_aresetn", "mem_sc/aresetn", "ctrl_sc/aresetn"] in net
    # Interrupt: kernel -> xlconcat -> axi_intc -> PS (the path PYNQ's ip.interrupt needs).
    assert ["eie/interrupt", "irq_concat/In0"] in net
    assert ["irq_concat/dout", "intc/intr"] in net
    assert ["intc/irq", ports["irq"]] in net
    assert "xilinx.com:ip:axi_intc intc" in text
    # Addresses assigned, then both masters' segments checked, all before validation.
    order = [c.split()[0] for c in calls(text)]
    assert "assign_bd_address" in order
    seg_queries = [c for c in calls(text) if c.startswith("get_bd_addr_segs")]
    assert [q.split()[-1] for q in seg_queries] == ["/eie/Data_m_axi_gmem0", "/eie/Data_m_axi_gmem1"]
    first_seg = order.index("get_bd_addr_segs")
    assert order.index("assign_bd_address") < first_seg < order.index("validate_bd_design")
    assert "save_bd_design" in order and "launch_runs" in order


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
@pytest.mark.parametrize("segments", ["{}", "/eie/Data_m_axi_gmem1/SEG_intc_Reg"], ids=["none", "not_ddr"])
def test_a_master_without_a_ddr_segment_fails_the_script(tmp_path, board, segments):
    res = run_tcl(
        tmp_path,
        board,
        str(build_dir(tmp_path, AcceleratorConfig(board=board))),
        str(tmp_path / "o"),
        preamble=f"dict set ::seg_override m_axi_gmem1 {segments}\n",
    )
    text = res.stdout
    assert "error: kernel master(s) /eie/m_axi_gmem1 have no address segment covering DDR" in text
    assert "EXIT 1" in text
    order = [c.split()[0] for c in calls(text)]
    # It stops before validating, saving or implementing.
    assert "validate_bd_design" not in order and "launch_runs" not in order


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_reports_are_written_where_eie_report_reads_them(tmp_path, board):
    from eie.hardware.reports import find_reports

    out = tmp_path / "o"
    build = build_dir(tmp_path, AcceleratorConfig(board=board))
    res = run_tcl(tmp_path, board, str(build), str(out))
    text = res.stdout
    cs = calls(text)
    assert f"report_utilization -file {out}/utilization.rpt" in cs
    assert f"report_utilization -cells eie_i/eie -file {out}/utilization_eie.rpt" in cs
    timing = [c for c in cs if c.startswith("report_timing_summary ")]
    assert len(timing) == 1 and timing[0].endswith(f"-file {out}/timing_summary.rpt")
    # The kernel's cells are found by their block-design name, anywhere in the hierarchy.
    query = next(c for c in cs if c.startswith("get_cells "))
    assert "-hierarchical" in query and "*/eie" in query
    # After the routed run is opened, before the bitstream is looked for.
    order = [c.split()[0] for c in cs]
    assert order.index("wait_on_run") < order.index("open_run") < order.index("report_utilization")
    assert order.index("report_timing_summary") < order.index("get_timing_paths")
    assert "timing met at" in text and "WNS 0.250 ns" in text
    assert "bitstream or hardware handoff not found" in text and "EXIT 1" in text
    # Exactly the files 'eie report --overlay OUT_DIR' takes first.
    for c in cs:
        if c.startswith("report_"):
            Path(c.split("-file ")[1]).write_text("x")
    files = find_reports(build, "eie_top", board, out)
    assert (files.utilization, files.timing) == (out / "utilization_eie.rpt", out / "timing_summary.rpt")


def test_negative_wns_fails_naming_the_worst_path(tmp_path):
    out = tmp_path / "o"
    build = build_dir(tmp_path, AcceleratorConfig(board="pynq-z2", clock_mhz=125))
    res = run_tcl(tmp_path, "pynq-z2", str(build), str(out), preamble="set ::stub_slack -0.412\n")
    text = res.stdout
    assert res.returncode == 1 and "EXIT 1" in text
    err = next(line for line in text.splitlines() if line.startswith("error: timing failed"))
    assert "at 125.000 MHz: WNS -0.412 ns" in err
    assert "eie_i/eie/inst/pe_0/acc_reg[3]/C -> eie_i/eie/inst/pe_0/out_reg[3]/D (clock clk_pl_0)" in err
    assert f"{out}/timing_summary.rpt" in err
    # The reports were written first; no bitstream is looked for (none is copied).
    assert f"report_timing_summary -max_paths 10 -report_unconstrained -file {out}/timing_summary.rpt" in calls(text)
    assert "bitstream or hardware handoff" not in text and "timing met" not in text
    # Zero slack meets timing.
    res = run_tcl(tmp_path, "pynq-z2", str(build), str(out), preamble="set ::stub_slack 0.000\n")
    assert "error: timing failed" not in res.stdout and "timing met at 125.000 MHz (WNS 0.000 ns)" in res.stdout


def test_no_kernel_cell_skips_only_the_kernel_report(tmp_path):
    out = tmp_path / "o"
    build = build_dir(tmp_path, AcceleratorConfig(board="zcu104"))
    res = run_tcl(tmp_path, "zcu104", str(build), str(out), preamble="set ::stub_eie_cells {}\n")
    cs = calls(res.stdout)
    assert "warning: no cell */eie (the EIE kernel) in the implemented design" in res.stdout
    assert not any("-cells" in c for c in cs)
    assert f"report_utilization -file {out}/utilization.rpt" in cs
    assert any(c.startswith("report_timing_summary") for c in cs)


# -- stream ports (issue 19): each m_axi_gmem_s<l> through its own SmartConnect to its own HP port -----
# The documented mapping (overlays/README.md): gmem0 and gmem1 on HP0, stream lane l on HP (l+1) mod 4.
HP_NAMES = {
    "zynq7": ("ps/S_AXI_HP{}", "ps/S_AXI_HP{}_ACLK", "PCW_USE_S_AXI_HP{}"),
    "zynqmp": ("ps/S_AXI_HP{}_FPD", "ps/saxihp{}_fpd_aclk", "PSU__USE__S_AXI_GP{}"),
}


def stream_config(board: str, ports: int) -> AcceleratorConfig:
    return AcceleratorConfig(board=board, dir_depth=64, stream_ports=ports)


@pytest.mark.parametrize(
    ("board", "ports", "lane_hp"),
    [
        ("pynq-z2", 1, [1]),
        ("pynq-z2", 2, [1, 2]),
        ("pynq-z2", 4, [1, 2, 3, 0]),
        ("zcu104", 2, [1, 2]),
        ("kv260", 4, [1, 2, 3, 0]),
    ],
)
def test_each_stream_master_on_its_own_hp_port(tmp_path, board, ports, lane_hp):
    family = BOARDS[board].family
    hp_name, hp_clk, hp_prop = HP_NAMES[family]
    build = build_dir(tmp_path, stream_config(board, ports))
    assert f"set EIE_STREAM_PORTS {ports}\n" in (build / "params.tcl").read_text()
    text = run_tcl(tmp_path, board, str(build), str(tmp_path / "o")).stdout
    assert "bitstream or hardware handoff not found" in text  # the whole flow ran, as without stream ports
    intf, net = nets(text, "intf_net"), nets(text, "net")
    used = {0, *lane_hp}
    # The PS enables exactly the HP ports in use (UltraScale+: HP<i>_FPD is S_AXI_GP<i+2>).
    for i in range(4):
        key = hp_prop.format(i + 2 if family == "zynqmp" else i)
        assert ps_property(text, key) == ("1" if i in used else "0"), key
    # One SmartConnect per HP port in use, its master on that port and nothing else on the port.
    sc = {hp: "mem_sc" if hp == 0 else f"hp{hp}_sc" for hp in used}
    for hp in range(4):
        assert sum(hp_name.format(hp) in n for n in intf) == (1 if hp in used else 0), hp
    for hp in used:
        assert [f"{sc[hp]}/M00_AXI", hp_name.format(hp)] in intf
        assert f"CALL create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect {sc[hp]}" in text
    # gmem0/gmem1 first on HP0's SmartConnect; lane l on its port's (after them when that is HP0).
    slaves = {hp: [n[0] for n in intf if n[1].startswith(f"{sc[hp]}/S")] for hp in used}
    want = {hp: [] for hp in used}
    want[0] = ["/eie/m_axi_gmem0", "/eie/m_axi_gmem1"]
    for lane, hp in enumerate(lane_hp):
        want[hp].append(f"/eie/m_axi_gmem_s{lane}")
    assert slaves == want
    for hp in used:
        ports_used = [n[1] for n in intf if n[1].startswith(f"{sc[hp]}/S")]
        assert ports_used == [f"{sc[hp]}/S{k:02d}_AXI" for k in range(len(want[hp]))]
        assert f"set_property -dict {{CONFIG.NUM_SI {len(want[hp])} CONFIG.NUM_MI 1}} {sc[hp]}" in calls(text)
    # Every SmartConnect and every enabled HP port clocked by the PL clock; every SmartConnect reset.
    clk_net = next(n for n in net if "eie/ap_clk" in n)
    for hp in used:
        assert f"{sc[hp]}/aclk" in clk_net and hp_clk.format(hp) in clk_net
    assert not any(hp_clk.format(hp) in clk_net for hp in set(range(4)) - used)
    reset_net = next(n for n in net if n[0] == "rst/interconnect_aresetn")
    assert sorted(reset_net[1:]) == sorted(["ctrl_sc/aresetn", *(f"{sc[hp]}/aresetn" for hp in used)])
    # Each master's address space checked for DDR after assign_bd_address, the stream masters included.
    queried = [c.split()[-1] for c in calls(text) if c.startswith("get_bd_addr_segs")]
    for m in ["m_axi_gmem0", "m_axi_gmem1", *(f"m_axi_gmem_s{lane}" for lane in range(ports))]:
        assert f"/eie/Data_{m}" in queried, m


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_a_stream_master_without_ddr_or_through_another_port_fails(tmp_path, board):
    build = str(build_dir(tmp_path, stream_config(board, 2)))
    hp2 = HP_NAMES[BOARDS[board].family][0].format(2)
    res = run_tcl(tmp_path, board, build, str(tmp_path / "o"), preamble="dict set ::seg_override m_axi_gmem_s1 {}\n")
    assert "error: kernel master(s) /eie/m_axi_gmem_s1 have no address segment covering DDR" in res.stdout
    assert "EXIT 1" in res.stdout and "validate_bd_design" not in [c.split()[0] for c in calls(res.stdout)]
    # Mapped to DDR, but through HP0 (gmem0/gmem1's port) instead of its own HP2.
    seg = "/eie/Data_m_axi_gmem_s1/SEG_ps_HP0_DDR_LOWOCM"
    res = run_tcl(
        tmp_path, board, build, str(tmp_path / "o"), preamble=f"dict set ::seg_override m_axi_gmem_s1 {seg}\n"
    )
    err = next(line for line in res.stdout.splitlines() if line.startswith("error:"))
    assert err == (
        f"error: stream master /eie/m_axi_gmem_s1 (lane 1) reaches DDR through {seg}, not its HP port {hp2}; "
        "check the SmartConnect hp2_sc"
    )
    assert "EXIT 1" in res.stdout and "validate_bd_design" not in [c.split()[0] for c in calls(res.stdout)]


@pytest.mark.parametrize(
    ("ports", "ip_lanes", "found"),
    [
        (2, "{1}", "m_axi_gmem_s1"),
        (2, "{}", "none"),
        (0, "{0}", "m_axi_gmem_s0"),
        (4, "{0 1}", "m_axi_gmem_s0, m_axi_gmem_s1"),
    ],
    ids=["s1-without-s0", "ip-without-ports", "ports-without-streaming", "two-of-four"],
)
def test_an_ip_whose_stream_masters_are_not_the_configurations_fails(tmp_path, ports, ip_lanes, found):
    config = stream_config("zcu104", ports) if ports else AcceleratorConfig(board="zcu104")
    build = build_dir(tmp_path, config)
    res = run_tcl(
        tmp_path, "zcu104", str(build), str(tmp_path / "o"), preamble=f"set ::stub_stream_masters {ip_lanes}\n"
    )
    err = next(line for line in res.stdout.splitlines() if line.startswith("error:"))
    assert err.startswith(f"error: the EIE IP (eie_top) has the stream masters {found}, but {build}/params.tcl says "
                          f"EIE_STREAM_PORTS={ports}")  # fmt: skip
    assert "run 'eie generate" in err and "EXIT 1" in res.stdout
    assert not any(c.startswith("create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect") for c in calls(res.stdout))


def test_params_without_or_with_a_bad_stream_port_count_fail(tmp_path):
    build = build_dir(tmp_path, AcceleratorConfig(board="pynq-z2"))
    params = build / "params.tcl"
    text = params.read_text()
    params.write_text(text.replace("set EIE_STREAM_PORTS 0\n", ""))
    res = run_tcl(tmp_path, "pynq-z2", str(build), str(tmp_path / "o"))
    assert f"error: {params} has no EIE_STREAM_PORTS (it was written by an older toolkit)" in res.stdout
    assert "EXIT 2" in res.stdout
    params.write_text(text.replace("set EIE_STREAM_PORTS 0\n", "set EIE_STREAM_PORTS 3\n"))
    res = run_tcl(tmp_path, "pynq-z2", str(build), str(tmp_path / "o"))
    assert "EIE_STREAM_PORTS is '3'" in res.stdout and "0, 1, 2 or 4 stream ports" in res.stdout
    assert "EXIT 2" in res.stdout
