# Build the PYNQ overlay (.bit + .hwh) around the exported EIE HLS IP.
#
#   vivado -mode batch -source overlays/build_overlay.tcl \
#          -tclargs BOARD BUILD_DIR OUT_DIR [JOBS]
#
# BOARD     pynq-z1 | pynq-z2 | ultra96v2 | zcu104 | kv260 (a custom part is
#           generate-only: write its block design by hand)
# BUILD_DIR what `eie generate` wrote and `build.tcl ... export` exported into;
#           its params.tcl gives the top name, project, part and clock
# OUT_DIR   where eie.bit and eie.hwh are written (load with pynq.Overlay)
#
# The PL clock is the one the kernel was synthesised for (params.tcl), and the
# board's part must be the one it was synthesised for. Vivado needs the
# board files of the board (board_part) to apply its PS preset (DDR, MIO).
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

# part, PS kind, Vivado board part (board files)
set boards [dict create \
    pynq-z1   {xc7z020clg400-1      ps7 www.digilentinc.com:pynq-z1:part0:1.0} \
    pynq-z2   {xc7z020clg400-1      ps7 tul.com.tw:pynq-z2:part0:1.0} \
    ultra96v2 {xczu3eg-sbva484-1-i  psu avnet.com:ultra96v2:part0:1.2} \
    zcu104    {xczu7ev-ffvc1156-2-e psu xilinx.com:zcu104:part0:1.1} \
    kv260     {xck26-sfvc784-2LV-c  psu xilinx.com:kv260_som:part0:1.3} ]

if {![dict exists $boards $board]} {
    puts "error: unknown board '$board'; choose one of [dict keys $boards]"
    exit 2
}
lassign [dict get $boards $board] part ps_kind board_part
set params [file join $build_dir params.tcl]
if {![file exists $params]} {
    puts "error: $params not found; run 'eie generate -o $build_dir' first"
    exit 2
}
source $params
if {$EIE_PART ne $part} {
    puts "error: the kernel in $build_dir was generated for part $EIE_PART, board '$board' has $part; regenerate it for this board"
    exit 2
}
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

if {$ps_kind eq "ps7"} {
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
