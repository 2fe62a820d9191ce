# Build the PYNQ overlay (.bit + .hwh) around the exported EIE HLS IP.
#
#   vivado -mode batch -source overlays/build_overlay.tcl \
#          -tclargs BOARD BUILD_DIR OUT_DIR [JOBS]
#
# BOARD     the board the kernel was generated for (pynq-z1 | pynq-z2 |
#           ultra96v2 | zcu104 | kv260); checked against params.tcl. A custom
#           part has no Vivado board part: it is generate-only, write its
#           block design by hand.
# BUILD_DIR what `eie generate` wrote and `build.tcl ... export` exported into
# OUT_DIR   where eie.bit and eie.hwh are written (load with pynq.Overlay)
#
# Everything about the board comes from BUILD_DIR/params.tcl, which
# eie.kernel.render writes from the one board table (eie.hardware.boards):
# EIE_BOARD, EIE_PART, EIE_FAMILY (zynq7: the Zynq-7000 PS; zynqmp: the Zynq
# UltraScale+ PS), EIE_BOARD_PART (Vivado's board files apply the PS preset:
# DDR, MIO), the clock the kernel was synthesised for, the top name, the
# IP's VLNV and EIE_STREAM_PORTS (the kernel's stream ports: 0 without
# streaming, else 1, 2 or 4). This script has no board table of its own.
#
# The block design, wired explicitly (no connection automation for the AXI
# ports): the processing system with the ports it uses enabled and the others
# disabled; the EIE IP; its AXI4 masters m_axi_gmem0 (the image loader) and
# m_axi_gmem1 (inputs, outputs) through one SmartConnect to the PS's HP0
# slave (DDR); each stream master m_axi_gmem_s<l> through a SmartConnect of
# its own to HP port (l+1) mod 4 (lanes 0..2 on HP1..HP3, each alone; with 4
# ports lane 3 shares HP0 with gmem0/gmem1, which carry little traffic
# during a run: HP_PORTS in eie.hardware.boards is 4); the PS general-purpose master
# through a second SmartConnect to the kernel's AXI4-Lite control port and an
# AXI interrupt controller; the kernel's interrupt through an xlconcat into
# that controller, whose irq goes to the PS (IRQ_F2P / pl_ps_irq0: PYNQ's
# ip.interrupt needs this axi_intc path in the .hwh); clock and reset from
# the PS through a proc_sys_reset. After assign_bd_address the script checks
# that every kernel master has an address segment covering DDR, and that each
# stream master's is its own HP port's.
#
# After implementation it writes OUT_DIR/utilization.rpt (the whole design),
# OUT_DIR/utilization_eie.rpt (report_utilization -cells of the kernel) and
# OUT_DIR/timing_summary.rpt ('eie report BUILD_DIR --overlay OUT_DIR' reads
# them), and fails, naming the WNS and the worst path, when setup timing is
# not met. This script has not been run in this repository's CI (no Vivado
# there); it is parsed with Vivado's commands stubbed.

proc eie_usage {} {
    puts "usage: vivado -mode batch -source build_overlay.tcl -tclargs BOARD BUILD_DIR OUT_DIR \[JOBS\]"
    exit 2
}

if {[llength $argv] < 3} { eie_usage }
set board     [lindex $argv 0]
set build_dir [file normalize [lindex $argv 1]]
set out_dir   [file normalize [lindex $argv 2]]
set jobs      [expr {[llength $argv] > 3 ? [lindex $argv 3] : 2}]

set params [file join $build_dir params.tcl]
if {![file exists $params]} {
    puts "error: $params not found; run 'eie generate -o $build_dir' first"
    exit 2
}
source $params
if {$EIE_BOARD ne $board} {
    puts "error: the kernel in $build_dir was generated for board '$EIE_BOARD' (part $EIE_PART), not '$board'; regenerate it with board: $board"
    exit 2
}
if {$EIE_BOARD_PART eq ""} {
    puts "error: board '$board' (part $EIE_PART) has no Vivado board part, so there is no PS preset to apply; write the block design by hand"
    exit 2
}
if {[lsearch -exact {zynq7 zynqmp} $EIE_FAMILY] < 0} {
    puts "error: unknown device family '$EIE_FAMILY' in $params (zynq7 or zynqmp)"
    exit 2
}
if {![info exists EIE_STREAM_PORTS]} {
    puts "error: $params has no EIE_STREAM_PORTS (it was written by an older toolkit); run 'eie generate -o $build_dir' and export the IP again"
    exit 2
}
if {[lsearch -exact {0 1 2 4} $EIE_STREAM_PORTS] < 0} {
    puts "error: EIE_STREAM_PORTS is '$EIE_STREAM_PORTS' in $params; a kernel has 0, 1, 2 or 4 stream ports"
    exit 2
}
set part $EIE_PART
set board_part $EIE_BOARD_PART
set top $EIE_TOP
set clk_mhz [format %.3f [expr {1000.0 / $EIE_CLOCK_PERIOD}]]
set ip_repo [file join $build_dir $EIE_PROJECT $EIE_SOLUTION impl ip]
if {![file isdirectory $ip_repo]} {
    puts "error: IP repository '$ip_repo' not found; run 'vitis_hls -f build.tcl -tclargs $build_dir csynth export' first"
    exit 2
}

set proj_dir [file join $out_dir vivado_$board]
create_project eie_overlay $proj_dir -part $part -force
if {[llength [get_board_parts -quiet $board_part]] == 0} {
    puts "error: Vivado has no board files for $board_part; install them (Vivado board store or the vendor's repository) and retry"
    exit 2
}
set_property board_part $board_part [current_project]
set_property ip_repo_paths [list $ip_repo] [current_project]
update_ip_catalog
create_bd_design eie

# The PS HP port of each kernel master: gmem0 and gmem1 on HP0, stream lane l
# on HP (l+1) mod 4 (the 4 HP ports of both families: S_AXI_HP0..3 on
# Zynq-7000, S_AXI_HP0..3_FPD on Zynq UltraScale+).
proc eie_stream_hp {lane} { return [expr {($lane + 1) % 4}] }
set hp_used {0}
for {set lane 0} {$lane < $EIE_STREAM_PORTS} {incr lane} {
    set hp [eie_stream_hp $lane]
    if {[lsearch -exact $hp_used $hp] < 0} { lappend hp_used $hp }
}
set hp_used [lsort -integer $hp_used]

if {$EIE_FAMILY eq "zynq7"} {
    set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7 ps]
    apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
        -config {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} $ps
    # Every port the design uses is enabled here, and the others disabled,
    # whatever the board preset says: the HP ports in hp_used (DDR for the
    # kernel's masters), GP0 (control), the fabric interrupt IRQ_F2P, FCLK0
    # and its reset.
    set hp_props {}
    foreach i {0 1 2 3} {
        lappend hp_props CONFIG.PCW_USE_S_AXI_HP$i [expr {[lsearch -exact $hp_used $i] >= 0}]
    }
    set_property -dict [concat $hp_props [list \
        CONFIG.PCW_USE_S_AXI_ACP {0} \
        CONFIG.PCW_USE_S_AXI_GP0 {0} \
        CONFIG.PCW_USE_S_AXI_GP1 {0} \
        CONFIG.PCW_USE_M_AXI_GP0 {1} \
        CONFIG.PCW_USE_M_AXI_GP1 {0} \
        CONFIG.PCW_USE_FABRIC_INTERRUPT {1} \
        CONFIG.PCW_IRQ_F2P_INTR {1} \
        CONFIG.PCW_EN_CLK0_PORT {1} \
        CONFIG.PCW_EN_RST0_PORT {1} \
        CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $clk_mhz]] $ps
    set hp_fmt     ps/S_AXI_HP%d
    set hp_clk_fmt ps/S_AXI_HP%d_ACLK
    set gp_port   ps/M_AXI_GP0
    set ps_clk    ps/FCLK_CLK0
    set ps_resetn ps/FCLK_RESET0_N
    set ps_irq    ps/IRQ_F2P
    set gp_clk    ps/M_AXI_GP0_ACLK
} else {
    set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e ps]
    apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e \
        -config {apply_board_preset "1"} $ps
    # Explicit, whatever the board preset enables: HPM0_FPD (M_AXI_GP0) for
    # control, HPM1_FPD (GP1) and HPM0_LPD (GP2) off, the HP<i>_FPD ports in
    # hp_used (S_AXI_GP<i+2>) for DDR, the other PL slave ports (HPC0/1: GP0/1,
    # LPD: GP6) off, pl_ps_irq0, pl_clk0 and pl_resetn0.
    set hp_props {}
    foreach i {0 1 2 3} {
        lappend hp_props CONFIG.PSU__USE__S_AXI_GP[expr {$i + 2}] [expr {[lsearch -exact $hp_used $i] >= 0}]
    }
    set_property -dict [concat $hp_props [list \
        CONFIG.PSU__USE__M_AXI_GP0 {1} \
        CONFIG.PSU__USE__M_AXI_GP1 {0} \
        CONFIG.PSU__USE__M_AXI_GP2 {0} \
        CONFIG.PSU__USE__S_AXI_GP0 {0} \
        CONFIG.PSU__USE__S_AXI_GP1 {0} \
        CONFIG.PSU__USE__S_AXI_GP6 {0} \
        CONFIG.PSU__USE__S_AXI_ACP {0} \
        CONFIG.PSU__USE__S_AXI_ACE {0} \
        CONFIG.PSU__USE__IRQ0 {1} \
        CONFIG.PSU__FPGA_PL0_ENABLE {1} \
        CONFIG.PSU__NUM_FABRIC_RESETS {1} \
        CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $clk_mhz]] $ps
    set hp_fmt     ps/S_AXI_HP%d_FPD
    set hp_clk_fmt ps/saxihp%d_fpd_aclk
    set gp_port   ps/M_AXI_HPM0_FPD
    set ps_clk    ps/pl_clk0
    set ps_resetn ps/pl_resetn0
    set ps_irq    ps/pl_ps_irq0
    set gp_clk    ps/maxihpm0_fpd_aclk
}
set hp_port [format $hp_fmt 0]
# the clock input of every enabled AXI port
set port_clks {}
foreach i $hp_used { lappend port_clks [format $hp_clk_fmt $i] }
lappend port_clks $gp_clk

set eie [create_bd_cell -type ip -vlnv ${EIE_IP_VENDOR}:${EIE_IP_LIBRARY}:${top}:${EIE_IP_VERSION} eie]
set masters [get_bd_intf_pins -of_objects $eie -filter {MODE == Master}]
if {[llength $masters] == 0} {
    puts "error: the EIE IP ($top) has no AXI4 master port; was it exported from this toolkit's kernel?"
    exit 1
}
# The masters by HP port: hp_masters(i) in the order they enter its SmartConnect
# (gmem0, gmem1 first on HP0), stream_masters in lane order.
foreach i {0 1 2 3} { set hp_masters($i) {} }
set lanes {}
foreach m [lsort -dictionary $masters] {
    if {[regexp {m_axi_gmem_s([0-9]+)$} $m -> lane]} {
        set stream_master($lane) $m
        lappend lanes $lane
    } else {
        lappend hp_masters(0) $m
    }
}
set lanes [lsort -integer $lanes]
set want_lanes {}
for {set lane 0} {$lane < $EIE_STREAM_PORTS} {incr lane} { lappend want_lanes $lane }
if {$lanes ne $want_lanes} {
    set found [expr {[llength $lanes] ? "m_axi_gmem_s[join $lanes {, m_axi_gmem_s}]" : "none"}]
    puts [join [list \
        "error: the EIE IP ($top) has the stream masters $found, but $params says EIE_STREAM_PORTS=${EIE_STREAM_PORTS}" \
        "(m_axi_gmem_s0 .. m_axi_gmem_s<P-1>); the IP was exported from another kernel: run 'eie generate -o $build_dir'" \
        "and 'vitis_hls -f build.tcl -tclargs $build_dir csynth export' again"]]
    exit 1
}
set stream_masters {}
foreach lane $lanes {
    lappend hp_masters([eie_stream_hp $lane]) $stream_master($lane)
    lappend stream_masters $stream_master($lane)
}
set masters [concat $hp_masters(0) $stream_masters]

# One clock (the PS's PL clock 0, set above to the kernel's clock) and one
# reset block for the whole fabric side.
set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset rst]
connect_bd_net [get_bd_pins $ps_clk] [get_bd_pins rst/slowest_sync_clk]
connect_bd_net [get_bd_pins $ps_resetn] [get_bd_pins rst/ext_reset_in]

# Data: per HP port in use, one SmartConnect (mem_sc on HP0, hp<i>_sc on
# HP<i>) with each of the port's kernel masters on a slave port of its own
# (m_axi_gmem0: the image loader; m_axi_gmem1: inputs and outputs;
# m_axi_gmem_s<l>: stream lane l) and its master on the PS's high-performance
# DDR port. A SmartConnect even for one master: it converts the kernel's AXI4
# to the port's protocol (AXI3 on Zynq-7000) and width.
set mem_scs {}
foreach hp $hp_used {
    set sc [expr {$hp == 0 ? "mem_sc" : "hp${hp}_sc"}]
    lappend mem_scs $sc
    set sc_cell [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect $sc]
    set_property -dict [list CONFIG.NUM_SI [llength $hp_masters($hp)] CONFIG.NUM_MI {1}] $sc_cell
    set i 0
    foreach m $hp_masters($hp) {
        connect_bd_intf_net [get_bd_intf_pins $m] [get_bd_intf_pins $sc/[format S%02d_AXI $i]]
        incr i
    }
    connect_bd_intf_net [get_bd_intf_pins $sc/M00_AXI] [get_bd_intf_pins [format $hp_fmt $hp]]
}

# Interrupt: PYNQ serves ip.interrupt only through an AXI interrupt
# controller (axi_intc) whose irq reaches the PS; the kernel's interrupt
# (ap_done, enabled by the driver in GIE/IER) enters it through an xlconcat.
set intc [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_intc intc]
set_property -dict [list CONFIG.C_IRQ_CONNECTION {1} CONFIG.C_IRQ_IS_LEVEL {1}] $intc
set irq_cat [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat irq_concat]
set_property -dict [list CONFIG.NUM_PORTS {1}] $irq_cat
connect_bd_net [get_bd_pins eie/interrupt] [get_bd_pins irq_concat/In0]
connect_bd_net [get_bd_pins irq_concat/dout] [get_bd_pins intc/intr]
connect_bd_net [get_bd_pins intc/irq] [get_bd_pins $ps_irq]

# Control: the PS's general-purpose master through its own SmartConnect to
# the kernel's AXI4-Lite port and the interrupt controller's registers.
set ctrl_sc [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_sc]
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {2}] $ctrl_sc
connect_bd_intf_net [get_bd_intf_pins $gp_port] [get_bd_intf_pins ctrl_sc/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins ctrl_sc/M00_AXI] [get_bd_intf_pins eie/s_axi_control]
connect_bd_intf_net [get_bd_intf_pins ctrl_sc/M01_AXI] [get_bd_intf_pins intc/s_axi]

# Clocks and resets, every one explicit (an enabled PS port with an
# unconnected clock fails validation).
set extra_scs [lrange $mem_scs 1 end]
set clk_sinks {}
set sc_clks {}
set sc_resets {}
foreach sc $extra_scs {
    lappend sc_clks $sc/aclk
    lappend sc_resets [get_bd_pins $sc/aresetn]
}
foreach p [concat {eie/ap_clk mem_sc/aclk ctrl_sc/aclk intc/s_axi_aclk} $sc_clks $port_clks] {
    lappend clk_sinks [get_bd_pins $p]
}
connect_bd_net [get_bd_pins $ps_clk] {*}$clk_sinks
connect_bd_net [get_bd_pins rst/peripheral_aresetn] \
    [get_bd_pins eie/ap_rst_n] [get_bd_pins intc/s_axi_aresetn]
connect_bd_net [get_bd_pins rst/interconnect_aresetn] \
    [get_bd_pins mem_sc/aresetn] [get_bd_pins ctrl_sc/aresetn] {*}$sc_resets

assign_bd_address

# Every kernel master must see DDR: its address space holds a segment of the
# HP port's DDR aperture (HP0_DDR_LOWOCM on Zynq-7000, HP0_DDR_LOW on Zynq
# UltraScale+). A master without one would read zeros or hang the bus.
proc eie_ddr_segments {m} {
    set ddr {}
    foreach space [get_bd_addr_spaces -of_objects [get_bd_intf_pins $m]] {
        foreach seg [get_bd_addr_segs -of_objects $space] {
            if {[string match -nocase *DDR* $seg]} { lappend ddr $seg }
        }
    }
    return $ddr
}
proc eie_check_ddr_segments {masters} {
    set missing {}
    foreach m $masters {
        if {[llength [eie_ddr_segments $m]] == 0} { lappend missing $m }
    }
    return $missing
}
set missing [eie_check_ddr_segments $masters]
if {[llength $missing] > 0} {
    puts "error: kernel master(s) [join $missing {, }] have no address segment covering DDR after assign_bd_address; check the SmartConnect to $hp_port"
    exit 1
}
# ... and a stream master's DDR is its own HP port's (HP<i>_DDR_*): a lane
# reaching DDR through another port would share that port's bandwidth.
foreach lane $lanes {
    set m $stream_master($lane)
    set hp [eie_stream_hp $lane]
    set via {}
    foreach seg [eie_ddr_segments $m] {
        if {![string match -nocase *HP${hp}_DDR* $seg]} { lappend via $seg }
    }
    if {[llength $via] > 0} {
        set sc [expr {$hp == 0 ? "mem_sc" : "hp${hp}_sc"}]
        puts "error: stream master $m (lane $lane) reaches DDR through [join $via {, }], not its HP port [format $hp_fmt $hp]; check the SmartConnect $sc"
        exit 1
    }
}

validate_bd_design
save_bd_design

set wrapper [make_wrapper -files [get_files eie.bd] -top]
add_files -norecurse $wrapper
set_property top eie_wrapper [current_fileset]

launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    puts "error: implementation did not finish; see $proj_dir"
    exit 1
}

# Reports of the routed design, written into OUT_DIR, where
# 'eie report BUILD_DIR --overlay OUT_DIR' reads them first: the whole
# design's utilization, the kernel's cells alone (the block design's cell
# "eie", eie_i/eie in the wrapper) and the timing summary. Negative setup
# slack fails the script, naming the WNS and the worst path, before any
# .bit is copied: that bitstream would not run reliably at the kernel's clock.
open_run impl_1
file mkdir $out_dir
report_utilization -file [file join $out_dir utilization.rpt]
set eie_cells [get_cells -hierarchical -filter {NAME =~ "*/eie"}]
if {[llength $eie_cells] > 0} {
    report_utilization -cells $eie_cells -file [file join $out_dir utilization_eie.rpt]
} else {
    puts "warning: no cell */eie (the EIE kernel) in the implemented design; utilization_eie.rpt not written"
}
report_timing_summary -max_paths 10 -report_unconstrained -file [file join $out_dir timing_summary.rpt]
set worst [get_timing_paths -setup -max_paths 1 -nworst 1]
set wns ""
if {[llength $worst] > 0} { set wns [get_property SLACK $worst] }
if {$wns ne "" && $wns < 0} {
    puts "error: timing failed at $clk_mhz MHz: WNS $wns ns on the worst setup path\
[get_property STARTPOINT_PIN $worst] -> [get_property ENDPOINT_PIN $worst]\
(clock [get_property ENDPOINT_CLOCK $worst]); see [file join $out_dir timing_summary.rpt].\
Lower clock_mhz in the configuration and regenerate, or close timing in $proj_dir"
    exit 1
}
if {$wns eq ""} { set wns "n/a: no timed path" } else { append wns " ns" }
puts "timing met at $clk_mhz MHz (WNS $wns); reports in $out_dir"

set bit [glob -nocomplain [file join $proj_dir eie_overlay.runs impl_1 *.bit]]
set hwh [glob -nocomplain [file join $proj_dir eie_overlay.gen sources_1 bd eie hw_handoff eie.hwh] \
                          [file join $proj_dir eie_overlay.srcs sources_1 bd eie hw_handoff eie.hwh]]
if {[llength $bit] == 0 || [llength $hwh] == 0} {
    puts "error: bitstream or hardware handoff not found under $proj_dir"
    exit 1
}
file copy -force [lindex $bit 0] [file join $out_dir eie.bit]
file copy -force [lindex $hwh 0] [file join $out_dir eie.hwh]
puts "overlay written: [file join $out_dir eie.bit] and eie.hwh (copy both to the board)"
