"""Every hardware instance of the rendered kernel is priced (issue 19, "Count every instance").

``eie.kernel.instances`` reads the rendered sources as synthesis sees them:
each function that is not inlined is an RTL instance per call site (times
the unroll factor around it), and each ``hls::stream`` a FIFO of its
declared width and depth. These tests check that ``eie.hardware.resources``
prices exactly those instances and FIFOs, with and without the
``ALLOCATION limit=1`` sharing of ``layer_pass`` (the fallback the estimate
also reports), and that the PYNQ-Z2 configuration of the issue fits in 85 %
of its LUTs and BRAM36 by that complete count.
"""

from __future__ import annotations

import pytest
from kernel_configs import kernel_config

import eie.hardware.resources as res
from eie.errors import ToolchainError
from eie.hardware.config import AcceleratorConfig
from eie.kernel import instances
from eie.kernel.render import render_kernel

# The PYNQ-Z2 configuration (the one tests/kernel/test_kernel_stream.py verifies the
# Alex-7-shaped layer with), and others that switch every optional function on or off.
CONFIGS = {
    "pynq_z2_n8_stream": dict(board="pynq-z2", n_pes=8, storage="auto", dir_depth=4097, ptr_depth=4097),
    "zcu104_n16_default": dict(board="zcu104", n_pes=16),
    "n4_ternary_no_mask": dict(n_pes=4, ternary=True, occupancy_mask=False),
    "n3_ternary_stream_mask": dict(n_pes=3, ternary=True, occupancy_mask=True, dir_depth=64, lnzd_window=6),
    "n1_stream": dict(n_pes=1, dir_depth=8, fifo_depth=64),
    # Four 128-bit lanes: three merges per PE (a tree), four of every lane process and FIFO.
    "n2_stream_p4": dict(n_pes=2, dir_depth=16, stream_ports=4),
}


def make(name: str) -> AcceleratorConfig:
    params = CONFIGS[name]
    return AcceleratorConfig(**params) if "board" in params else kernel_config(**params)


def fifo_table(fifos) -> dict:
    out: dict[str, tuple[int, int, int]] = {}
    for f, n in fifos:
        assert f.function == "layer_pass", f"stream {f.name} declared in {f.function}: price it"
        assert f.name not in out
        out[f.name] = (f.count * n, f.width, f.depth)
    return out


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_estimate_prices_every_instance_and_fifo(tmp_path, name):
    cfg = make(name)
    render_kernel(cfg, tmp_path)
    got = instances.derive(tmp_path, cfg.top)
    # Every non-inlined function, with its instance count, shared and not.
    assert got.functions == res.kernel_instances(cfg)
    assert got.functions_unlimited == res.kernel_instances(cfg, shared=False)
    # Every FIFO: how many, how wide, how deep.
    assert fifo_table(got.fifos) == res.kernel_fifos(cfg)
    assert fifo_table(got.fifos_unlimited) == res.kernel_fifos(cfg, shared=False)
    # And the totals are the sum over those blocks.
    est = res.estimate(cfg)
    blocks = res.logic_blocks(cfg)
    assert est.lut == sum(k * lut for k, lut, _ in blocks.values())
    assert est.lut_unshared == sum(k * lut for k, lut, _ in res.logic_blocks(cfg, shared=False).values())
    # One PE array per layer_pass instance; everything around it once.
    n = cfg.n_pes
    assert got.functions["PE::run_layer"] == n and got.functions_unlimited["PE::run_layer"] == 2 * n
    for once in ("load_pe", "reset_acc", "validate_image", "load", "run"):
        assert got.functions[once] == got.functions_unlimited[once] == 1, once


def test_the_load_shares_the_runs_hardware(tmp_path):
    """No second reader, dispatcher or row check for the load's walk; one loader, not N."""
    cfg = make("pynq_z2_n8_stream")
    render_kernel(cfg, tmp_path)
    got = instances.derive(tmp_path, cfg.top).functions
    assert got["stream_request"] == got["stream_fetch"] == got["stream_header"] == got["stream_unpack"] == 1
    assert got["broadcast"] == 1
    assert got["PE::accumulate_stream<CodebookMul>"] == 8
    assert "PE::accumulate<TernaryAdd>" not in got and "PE::accumulate_stream<TernaryAdd>" not in got
    assert not any("check_stream" in f or "load_params" in f or "stream_walk" in f for f in got)


def test_pynq_z2_with_8_pes_and_streaming_fits_in_85_percent():
    cfg = make("pynq_z2_n8_stream")
    assert cfg.streaming
    est = res.check_fits_board(cfg)
    assert est.lut <= 0.85 * est.board_lut, (est.lut, est.board_lut)
    assert est.bram36 <= 0.85 * est.board_bram36, (est.bram36, est.board_bram36)
    # The fallback (two layer_pass instances) is priced and reported; here it still fits the board.
    assert est.lut_unshared > est.lut and est.dsp_unshared == 2 * est.dsp
    assert est.fits_unshared and "still fits" in res.unshared_note(est)


KERNEL = """
#include "lib.hpp"
namespace k {
struct T { ap_uint<W> a; bool b; };
inline int helper(int x) {
#pragma HLS INLINE
    return leaf(x) + leaf(x + 1);
}
template <int P>
struct Unit {
    static void step(int x) { leaf(x); }
};
static void region(hls::stream<T>& s) {
    hls::stream<T> q[N];
#pragma HLS STREAM variable=q depth=5
    EIE_DATAFLOW_BEGIN("region");
    Unit<0>::step(1);
    Unit<1>::step(2);
    EIE_DATAFLOW_END();
}
#ifdef UNUSED
static void never() { leaf(0); }
#endif
static void middle() {
#pragma HLS ALLOCATION function instances=region limit=1
    hls::stream<T> s;
    if (c) region(s); else region(s);
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        helper(i);
    }
}
}
int top() {
    k::middle();
    k::never();
    return 0;
}
"""
LIB = """
namespace k {
const int N = 3;
const int W = 7;
inline int leaf(int x) { return x; }
}
"""


def test_derivation_worked_by_hand(tmp_path):
    (tmp_path / "eie_top.cpp").write_text(KERNEL)
    (tmp_path / "lib.hpp").write_text(LIB)
    got = instances.derive(tmp_path, "top")
    # region: two call sites, ALLOCATION limit=1 -> 1 (2 without). Unit<P>::step: one per P per region.
    # leaf: helper is inlined, called from an unrolled loop of 3 (two leaf calls each): 6, plus 1 per step.
    # never() is compiled out (#ifdef UNUSED), so not an instance.
    assert got.functions == {"top": 1, "middle": 1, "region": 1, "Unit::step": 2, "leaf": 8}
    assert got.functions_unlimited == {"top": 1, "middle": 1, "region": 2, "Unit::step": 4, "leaf": 10}
    fifos = {(f.function, f.name): (f.count, f.width, f.depth, n) for f, n in got.fifos}
    # T is 7 + 1 bits; q[N] is 3 FIFOs of depth 5 per region; s has no pragma: Vitis's depth 2.
    assert fifos == {("region", "q"): (3, 8, 5, 1), ("middle", "s"): (1, 8, 2, 1)}
    assert [n for f, n in got.fifos_unlimited if f.name == "q"] == [2]


def test_an_unresolvable_unroll_bound_is_refused(tmp_path):
    (tmp_path / "eie_top.cpp").write_text(
        "void leaf() {}\nvoid top(int n) {\n    for (int i = 0; i < n; i++) {\n#pragma HLS UNROLL\n        leaf();\n"
        "    }\n}\n"
    )
    with pytest.raises(ToolchainError, match="not a constant"):
        instances.derive(tmp_path, "top")
