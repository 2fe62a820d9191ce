"""The kernel's software interface, shared by the renderer, C-simulation and driver.

Board-safe (no imports): the PYNQ driver needs these without jinja2.
"""

# The kernel's top function and the VLNV that export_design gives its IP
# (build.tcl) and that the PYNQ driver binds to.
TOP = "eie_top"
VENDOR = "eie-pynq.org"
LIBRARY = "hls"
IP_VERSION = "1.0"
VLNV = f"{VENDOR}:{LIBRARY}:{TOP}:{IP_VERSION}"

MODE_LOAD = 0
MODE_RUN = 1

# Status codes the kernel returns (hls/eie_params.h.j2 renders them).
KERNEL_STATUS = {
    0: "ok",
    1: "bad_magic",
    2: "bad_version",
    3: "params_mismatch",
    4: "capacity",
    5: "layer_range",
    6: "bad_image",
    7: "not_loaded",
    8: "bad_mode",
}
