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
# eie.hardware.render writes from the one board table (eie.hardware.boards):
# EIE_BOARD, EIE_PART, EIE_FAMILY (zynq7: the Zynq-7000 PS; zynqmp: the Zynq
# UltraScale+ PS), EIE_BOARD_PART (Vivado's board files apply the PS preset:
# DDR, MIO), the clock the kernel was synthesised for, the top name and the
# IP's VLNV. This script has no board table of its own.
#
# The block design: the processing system, the EIE IP, its AXI4-Lite control
# port on the PS's general-purpose master, each of its AXI4 master ports on a
# high-performance slave port of the PS (DDR access), clock and reset from
# the PS. This script has not been run in this repository's CI (no Vivado
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

if {$EIE_FAMILY eq "zynq7"} {
    set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7 ps]
    apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
        -config {make_external "FIXED_IO, DDR" apply_board_preset "1"} $ps
    set_property -dict [list \
        CONFIG.PCW_USE_S_AXI_HP0 {1} \
        CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $clk_mhz] $ps
    set hp_port /ps/S_AXI_HP0
    set gp_port /ps/M_AXI_GP0
    set ps_clk /ps/FCLK_CLK0
} else {
    set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e ps]
    apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e \
        -config {apply_board_preset "1"} $ps
    set_property -dict [list \
        CONFIG.PSU__USE__S_AXI_GP2 {1} \
        CONFIG.PSU__USE__M_AXI_GP0 {1} \
        CONFIG.PSU__USE__M_AXI_GP1 {0} \
        CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $clk_mhz] $ps
    set hp_port /ps/S_AXI_HP0_FPD
    set gp_port /ps/M_AXI_HPM0_FPD
    set ps_clk /ps/pl_clk0
}

set eie [create_bd_cell -type ip -vlnv ${EIE_IP_VENDOR}:${EIE_IP_LIBRARY}:${top}:${EIE_IP_VERSION} eie]

# Control: AXI4-Lite from the PS.
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config [list Master $gp_port Clk_master Auto Clk_slave Auto Clk_xbar Auto \
                  Slave /eie/s_axi_control intc_ip Auto master_apm 0] \
    [get_bd_intf_pins /eie/s_axi_control]

# Data: every AXI4 master of the kernel to the PS's DDR port.
foreach m [get_bd_intf_pins -of_objects $eie -filter {MODE == Master}] {
    apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
        -config [list Master $m Clk_master $ps_clk Clk_slave $ps_clk Clk_xbar $ps_clk \
                      Slave $hp_port intc_ip Auto master_apm 0] \
        [get_bd_intf_pins $hp_port]
}

assign_bd_address
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

file mkdir $out_dir
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
