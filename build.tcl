# Vitis HLS flow for a rendered EIE kernel.
#
#   eie generate [--config CONFIG.yaml] [MODEL.npz] -o BUILD_DIR
#   vitis_hls -f build.tcl -tclargs BUILD_DIR [csim] [csynth] [cosim] [export]
#
# BUILD_DIR/params.tcl (written by eie generate) sets the part, the clock
# period, the top function and the file lists. With no steps, csim and
# csynth run. cosim and export need synthesis, so they imply csynth.
# Results: BUILD_DIR/eie_prj/solution1/{csim,syn,sim,impl}; export writes
# the IP (VLNV eie-pynq.org:hls:<top>:<image-format version>.0, eie.kernel.abi) under solution1/impl/ip.

set eie_usage "usage: vitis_hls -f build.tcl -tclargs BUILD_DIR \[csim\] \[csynth\] \[cosim\] \[export\]"
if {![info exists argv] || [llength $argv] < 1} {
    puts stderr $eie_usage
    exit 1
}
set eie_build_dir [file normalize [lindex $argv 0]]
set eie_steps [lrange $argv 1 end]
if {[llength $eie_steps] == 0} {
    set eie_steps {csim csynth}
}
foreach step $eie_steps {
    if {[lsearch -exact {csim csynth cosim export} $step] < 0} {
        puts stderr "build.tcl: unknown step '$step'; $eie_usage"
        exit 1
    }
}
set eie_params [file join $eie_build_dir params.tcl]
if {![file exists $eie_params]} {
    puts stderr "build.tcl: $eie_params not found; run `eie generate -o $eie_build_dir` first"
    exit 1
}
source $eie_params

proc eie_want {step} {
    global eie_steps
    return [expr {[lsearch -exact $eie_steps $step] >= 0}]
}

cd $eie_build_dir
set eie_cflags "$EIE_CFLAGS -I$eie_build_dir"

open_project -reset $EIE_PROJECT
set_top $EIE_TOP
foreach f $EIE_SOURCES {
    add_files [file join $eie_build_dir $f] -cflags $eie_cflags
}
foreach f $EIE_HEADERS {
    add_files [file join $eie_build_dir $f]
}
foreach f $EIE_TB_FILES {
    add_files -tb [file join $eie_build_dir $f] -cflags $eie_cflags
}
open_solution -reset $EIE_SOLUTION -flow_target vivado
set_part $EIE_PART
create_clock -period $EIE_CLOCK_PERIOD -name default

if {[eie_want csim]} {
    csim_design
}
if {[eie_want csynth] || [eie_want cosim] || [eie_want export]} {
    csynth_design
}
if {[eie_want cosim]} {
    cosim_design
}
if {[eie_want export]} {
    export_design -format ip_catalog -vendor $EIE_IP_VENDOR -library $EIE_IP_LIBRARY -version $EIE_IP_VERSION
}
exit
