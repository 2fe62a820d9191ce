"""Resource estimate of a configuration and the fit checks (board and model).

The estimate counts what dominates an EIE design: the PE memories (entries,
the two pointer banks, source/destination activations, accumulators,
codebooks, biases), the FIFOs, and the multipliers. Memories map to BRAM18
halves the way the tools pick the best aspect ratio (512x36 ... 16Kx1);
memories of at most 1 Kbit or fewer than 64 words go to LUTRAM / registers.
Entry memories use UltraRAM (4K x 72) when the board has it and
``entry_storage`` allows. The occupancy mask (``occupancy_mask``) is one
memory at the broadcaster, ``occ_depth`` words of N x W bits (N bits per
column, one word per LNZD window of every layer); it is optional, for
configurations where memory is tight. A kernel with streaming hardware (``dir_depth`` > 0) adds the
streamed layers' column directory, dir_depth x 32 bits in two banks, a copy per
stream lane (``stream_ports``), and each stream port's read buffer.
It is an estimate for sizing, not a synthesis report: the other AXI adapters'
BRAMs are a fixed allowance for the m_axi ports.

Logic (LUTs, FFs) is a per-block model (``logic_blocks``, coefficients in
``LOGIC_COEFFS``, calibrated against published Vitis HLS csynth reports, see
the comment there and docs/kernel.md, "Resource model: LUT and FF"): the
interface adapters and the image validator once, the broadcaster once, and
per PE its loader, its accumulation loop (both policies' loops in ternary
kernels), its epilogue, its FIFO and its LUTRAM memories.

DSPs: each PE keeps the general multiplier (cb_bits x act_bits) even when
``ternary`` is on, because ternary models keep their first and last layers
at full precision; the ternary path adds the per-row Wp/Wn scaling
(cb_bits x acc_bits, twice) in the epilogue and has no multiplier in its
inner loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from eie.errors import CapacityError, ConfigError
from eie.format.qmodel import QuantModel
from eie.hardware.boards import BOARDS
from eie.hardware.config import AcceleratorConfig

# (depth, width) aspect ratios of one BRAM18.
_BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
_URAM_DEPTH, _URAM_WIDTH = 4096, 72
LUTRAM_MAX_BITS = 1024
MAXI_BRAM36 = 6  # read/write buffers of the three m_axi ports (approximate)
# A stream port (read only) buffers its outstanding bursts: outstanding x
# burst_len beats of stream_bits (Vitis HLS sizes the m_axi read FIFO so).
DIR_BITS = 32  # one column-directory entry: a byte offset into a layer's stream section


def bram18_for(depth: int, width: int) -> int:
    """BRAM18 blocks for one depth x width memory (0 when it fits LUTRAM)."""
    if depth <= 0 or width <= 0 or depth * width <= LUTRAM_MAX_BITS or depth < 64:
        return 0
    return min(-(-width // w) * -(-depth // d) for d, w in _BRAM18_SHAPES)


def uram_for(depth: int, width: int) -> int:
    return -(-width // _URAM_WIDTH) * -(-depth // _URAM_DEPTH)


def mult_dsps(a_bits: int, b_bits: int, family: str) -> int:
    """DSP slices for a signed a x b multiplier (DSP48E1 25x18, DSP48E2 27x18)."""
    big = 27 if family == "zynqmp" else 25
    a, b = max(a_bits, b_bits), min(a_bits, b_bits)
    return -(-a // (big - 1)) * -(-b // 17) if b > 1 else 0


# -- Logic (LUT / FF) model ----------------------------------------------------
#
# Per-block coefficients, each from a published Vitis HLS csynth report
# ("Utilization Estimates", Instance / Expression rows) of a similar block:
#
# [vadd] ros-acceleration/acceleration_firmware_ultra96v2, ROS2publisher.md
#        (commit 748aaaf5be49503a8cde5575c925c4ac43ba712f): Vitis HLS csynth of
#        `vadd` (3 pointers + 1 int on s_axilite, one m_axi bundle, 32-bit data)
#        for xczu3eg: control_s_axi 490 LUT / 291 FF (7 32-bit registers),
#        gmem_m_axi 580 LUT / 512 FF / 4 BRAM_18K, the pipelined loop
#        vadd_Pipeline_VITIS_LOOP_30_1 (m_axi reads and write, 64-bit address
#        registers) 384 LUT / 397 FF, a 32-bit icmp 20 LUT.
# [adder] same repository, HLSinROS2.md (same commit): `simple_adder`,
#        xczu3eg: mul_32s_32s_32_3_1 3 DSP / 49 LUT / 166 FF (pipelined), a
#        32-bit add 39 LUT, control_s_axi 234 LUT / 151 FF (4 registers).
# [topk] Taise228/topk_sort, solution1/syn/report/csynth.rpt (commit
#        2dd44ddebd3251c969f5256befcf29478f0f4c31): Vitis HLS 2022.1, xck26:
#        topk_sort_Pipeline_VITIS_LOOP_20_1, a pipelined on-chip loop with a
#        counter and array writes, 51 LUT / 9 FF.
# [ug474] structural, not a report (AMD UG474 / UG574, the 7-series and
#        UltraScale CLB guides): a LUT6 is a 4:1 mux per bit (an n:1 mux is a
#        tree of ceil((n-1)/3) LUTs per bit), an SRLC32E shift register (a
#        FIFO of depth <= 32 costs one LUT per bit), and RAM32M / RAM64M
#        LUTRAM (4 LUTs per 32 x 6 or 64 x 3 bits, simple dual port).
# Where a block's datapath is not in a report, it is counted from operator
# widths with the [adder]/[vadd] per-bit costs. The whole model is an
# estimate, to be checked against the kernel's first csynth report
# (docs/kernel.md, "What to look for in the first csynth report").
LOGIC_COEFFS = {
    # name: (value, source)
    "axilite_lut_per_reg": (70.0, "vadd: control_s_axi 490 LUT / 7 registers"),
    "axilite_ff_per_reg": (42.0, "vadd: control_s_axi 291 FF / 7 registers"),
    "maxi_lut": (580.0, "vadd: gmem_m_axi, 32-bit data"),
    "maxi_ff": (512.0, "vadd: gmem_m_axi, 32-bit data"),
    "maxi_per_extra_bit": (1.0, "assumed: one LUT and one FF per data bit above 32"),
    "maxi_loop_lut": (384.0, "vadd: pipelined m_axi loop, 64-bit addresses"),
    "maxi_loop_ff": (397.0, "vadd: pipelined m_axi loop, 64-bit addresses"),
    "loop_lut": (51.0, "topk: pipelined on-chip loop"),
    "loop_ff": (9.0, "topk: pipelined on-chip loop"),
    "add_lut_per_bit": (39.0 / 32, "adder: 32-bit add, 39 LUT"),
    "cmp_lut_per_bit": (20.0 / 32, "vadd: 32-bit icmp, 20 LUT"),
    "dsp_lut": (49.0 / 3, "adder: mul_32s_32s_32_3_1, 49 LUT / 3 DSP"),
    "dsp_ff": (166.0 / 3, "adder: mul_32s_32s_32_3_1, 166 FF / 3 DSP"),
    "pipe_stages": (3.0, "assumed: register stages of a pipelined datapath (II=1, 3-4 cycle latency)"),
}
# The kernel's s_axilite registers: mode, first, last, n_vectors, image_words,
# in_words, out_words (7), the three 64-bit pointers (6), the return value (1).
AXILITE_REGS = 14
# m_axi bundles: gmem0 (image, 64-bit words) and gmem1 (x_in / y_out, 64-bit io_t).
MAXI_BUNDLES = ((64,), (64,))
ROW_BITS = 32  # the PE's row counter and the loops' int counters
ADDR_BITS = 64  # image offsets (u64)


def _c(name: str) -> float:
    return LOGIC_COEFFS[name][0]


def _log2(x: int) -> int:
    return max(1, (int(x) - 1).bit_length())


def mux_luts(inputs: int, bits: int) -> float:
    """LUTs of an inputs:1 multiplexer, bits wide (a tree of LUT6 4:1 muxes) [ug474]."""
    return bits * (-(-(inputs - 1) // 3)) if inputs > 1 else 0.0


def add_luts(bits: int) -> float:
    return _c("add_lut_per_bit") * bits


def cmp_luts(bits: int) -> float:
    return _c("cmp_lut_per_bit") * bits


def lutram_luts(depth: int, width: int) -> int:
    """LUTs of a simple-dual-port LUTRAM (RAM32M 32 x 6, RAM64M 64 x 3, 4 LUTs each) [ug474]."""
    if depth <= 0 or width <= 0:
        return 0
    if depth <= 32:
        return 4 * -(-width // 6)
    return 4 * -(-width // 3) * -(-depth // 64)


def fifo_logic(depth: int, width: int, bram18: int) -> tuple[float, float]:
    """(LUT, FF) of one hls::stream FIFO: SRL up to depth 32, LUTRAM or BRAM above."""
    ctrl_lut = 4 * _log2(depth + 1) + 6
    ctrl_ff = 2 * _log2(depth + 1) + 4
    if depth <= 32:
        return width * -(-depth // 32) + ctrl_lut, width + ctrl_ff  # SRLC32E per bit + output register
    store = 0 if bram18 else lutram_luts(depth, width)
    return store + ctrl_lut, width + ctrl_ff


# Which kernel functions and FIFOs each logic block prices (the function keys of
# eie.kernel.instances: a call site's template policy is part of the key). A block's
# copies are the instances of its functions; tests/kernel/test_instances.py derives
# every function instance and FIFO from the rendered sources and checks them against
# these, so a function or FIFO the model does not price fails the test.
BLOCK_FUNCTIONS = {
    "control": ("eie_top", "load", "run"),
    "validator": ("validate_image", "check_perm"),
    "loader": ("load_pe",),
    "reset": ("reset_acc",),
    "occ_build": ("build_occupancy",),
    "load_directory": ("load_directory",),
    "dataflow": ("layer_pass",),
    "broadcaster": ("broadcast",),
    "stream_request": ("stream_request",),
    "stream_fetch": ("stream_fetch",),
    "stream_header": ("stream_header",),
    "stream_unpack": ("stream_unpack",),
    "stream_merge": ("stream_merge",),
    "pe_epilogue": ("PE::run_layer",),
    "pe_accumulate": ("PE::accumulate<CodebookMul>",),
    "pe_accumulate_ternary": ("PE::accumulate<TernaryAdd>",),
    "pe_stream": ("PE::accumulate_stream<CodebookMul>",),
    "pe_stream_ternary": ("PE::accumulate_stream<TernaryAdd>",),
}

def block_fifos(config: AcceleratorConfig) -> dict[str, str]:
    """block -> the FIFO (the hls::stream variable of layer_pass) it prices."""
    return {"pe_fifo" if name == "fifo" else f"fifo_{name}": name for name in kernel_fifos(config)}


def kernel_fifos(config: AcceleratorConfig, shared: bool = True) -> dict[str, tuple[int, int, int]]:
    """FIFO name -> (FIFOs, width, depth) the estimate prices: the layer_pass streams, per instance of it."""
    c = config
    lp = 1 if shared else 2
    fifos = {"fifo": (c.n_feeds * lp, c.token_bits, c.fifo_depth)}
    if c.streaming:
        lanes = c.stream_lanes * lp
        fifos["blocks"] = (lanes, block_bits(c), c.fifo_depth)
        fifos["reqs"] = (lanes, req_bits(c), c.outstanding)
        fifos["words"] = (lanes, c.stream_bits, c.stream_buffer_words)
        fifos["eblocks"] = (lanes, eblock_bits(c), EBLOCK_DEPTH)
        fifos["chunks"] = (lanes, c.stream_bits, c.fifo_depth)
        # Token and pack streams, N each: the lanes' outputs, the merges' and the PEs'.
        for x in c.pack_streams:
            fifos[f"stok_{x}"] = (c.n_pes * lp, stok_bits(c), c.fifo_depth)
            fifos[f"packs_{x}"] = (c.n_pes * lp, pack_bits(c), c.fifo_depth)
    return fifos


def block_bits(config: AcceleratorConfig) -> int:
    """block_t (eie_stream.hpp): activation, skip (8), bits (36), words (32), shared, last."""
    return config.act_bits + 8 + 36 + 32 + 1 + 1


EBLOCK_DEPTH = 4  # the header parser's block descriptors to the entry unpacker (hls/eie_top.cpp.j2)


def eblock_bits(config: AcceleratorConfig) -> int:
    """eblock_t: N + 1 prefix sums (40 bits), activation, hoff (8), chunks (32), ok, last."""
    return 40 * (config.n_pes + 1) + config.act_bits + 8 + 32 + 2


def req_bits(config: AcceleratorConfig) -> int:
    """req_t: a 64-bit word address, a 16-bit length, last."""
    return 64 + 16 + 1


def stok_bits(config: AcceleratorConfig) -> int:
    """stok_t: activation, count (32), last."""
    return config.act_bits + 32 + 1


def pack_bits(config: AcceleratorConfig) -> int:
    """pack_t: a dispatcher step's word (stream_bits), the PE's entries in it and the first one's slot."""
    return config.stream_bits + 2 * config.pack_n_bits


def kernel_instances(config: AcceleratorConfig, shared: bool = True) -> dict[str, int]:
    """Function -> the instances the estimate prices (``shared=False``: if Vitis ignores
    ALLOCATION limit=1 on layer_pass, whose two call sites then each get the region)."""
    blocks = logic_blocks(config, shared)
    return {f: blocks[b][0] for b, fns in BLOCK_FUNCTIONS.items() if b in blocks for f in fns}


def logic_blocks(config: AcceleratorConfig, shared: bool = True) -> dict[str, tuple[int, int, int]]:
    """block -> (copies, LUT per copy, FF per copy) of the kernel's logic (see LOGIC_COEFFS).

    ``shared=False`` prices the fallback where Vitis HLS ignores ``ALLOCATION
    instances=layer_pass limit=1`` (undocumented for a DATAFLOW function whose
    call sites swap arrays): everything inside layer_pass exists twice, and
    the ping-pong muxes of the shared instance are gone.
    """
    c = config
    n, e, eb, pb = c.n_pes, c.entries_per_word, c.entry_bits, c.ptr_bits
    ab, cb, acc, tb = c.act_bits, c.cb_bits, c.acc_bits, c.token_bits
    w, f = c.lnzd_window, c.lnzd_words
    s = max(1, n // w)
    lp = 1 if shared else 2  # layer_pass instances
    family = c.board_spec.family
    stages = _c("pipe_stages")
    loop_lut, loop_ff = _c("loop_lut"), _c("loop_ff")
    mloop_lut, mloop_ff = _c("maxi_loop_lut"), _c("maxi_loop_ff")
    blocks: dict[str, tuple[float, float, int]] = {}

    # Interfaces: s_axilite registers and the m_axi bundles [vadd]: gmem0,
    # gmem1 and a streaming kernel's gmem_s<l>, one per lane (a 64-bit
    # pointer register pair each).
    regs = AXILITE_REGS + 2 * c.stream_lanes
    blocks["s_axilite"] = (regs * _c("axilite_lut_per_reg"), regs * _c("axilite_ff_per_reg"), 1)
    bundles = list(MAXI_BUNDLES) + [(c.stream_bits,)] * c.stream_lanes
    maxi_lut = sum(_c("maxi_lut") + _c("maxi_per_extra_bit") * max(0, b - 32) for (b,) in bundles)
    maxi_ff = sum(_c("maxi_ff") + _c("maxi_per_extra_bit") * max(0, b - 32) for (b,) in bundles)
    blocks["m_axi"] = (maxi_lut, maxi_ff, 1)

    # The top, load() and run(): run's READ_INPUT and WRITE_OUTPUT m_axi loops
    # and their N x ACT_LANES bank mux / demux, load's layer and PE loops with
    # their 64-bit running offsets, the mode and walk selects.
    banks = n * f
    io_mux = 2 * mux_luts(banks, ab) + banks  # read mux of act_a / act_b, write enables
    blocks["control"] = (
        2 * mloop_lut + 2 * loop_lut + io_mux + 2 * add_luts(ADDR_BITS) + 4 * cmp_luts(ROW_BITS),
        2 * mloop_ff + 2 * loop_ff + 2 * ab + 2 * ADDR_BITS + 4 * ROW_BITS,
        1,
    )
    # Image validator (eie_load.hpp): six m_axi loops (HEAD, CHECKSUM, MARK_SEEN,
    # CHECK_CB, CHECK_COUNTS, the descriptor words), CLEAR_SEEN, the CRC-32 XOR
    # trees (32 outputs of up to 96 inputs), about 16 64-bit adds and 16 64-bit
    # compares of the section and capacity checks.
    crc = 32 * -(-(96 - 1) // 5)
    checks = 16 * add_luts(ADDR_BITS) + 16 * cmp_luts(ADDR_BITS)
    blocks["validator"] = (
        6 * mloop_lut + loop_lut + crc + checks,
        6 * mloop_ff + loop_ff + 32 + 2 * stages * ADDR_BITS,
        1,
    )

    # Broadcaster (eie_broadcast.hpp): the lowest-set-bit encoder and
    # pending & (pending - 1) over the W-bit mask, the W:1 window mux, the
    # slice mux (W < N), the W non-zero detectors and range compares, the
    # window / next-window registers, the counters, the N FIFOs' full_n AND.
    bc_lut = (
        loop_lut
        + add_luts(w)
        + _log2(w) * -(-w // 10)
        + mux_luts(w, ab + 0)
        + w * mux_luts(s, ab)
        + w * -(-ab // 6)
        + w * cmp_luts(ROW_BITS)
        + mux_luts(2, w * ab)
        + 3 * add_luts(ROW_BITS)
        + -(-n // 5)
    )
    bc_ff = loop_ff + 2 * w * ab + 2 * w + 4 * ROW_BITS + 3 * c.pidx_bits + tb
    blocks["broadcaster"] = (bc_lut, bc_ff, lp)
    # The DATAFLOW region's own control: a start / done handshake per process.
    procs = n + 1 + 4 * c.stream_lanes + n * len(c.merge_tree if c.streaming else [])
    blocks["dataflow"] = (4 * procs, 2 * procs, lp)

    # The loader, one for all PEs (load_pe, run for p = 0..N-1): LOAD_CB,
    # LOAD_BIAS, LOAD_PTR, LOAD_ENTRIES as m_axi loops [vadd]; the bias range
    # check (two 64-bit compares), the pointer checks (ten 32-bit compares),
    # make_ptr (two 32-bit adds, plus a divide by E when E is not a power of
    # two), the bank write muxes; CHECK_ROWS (rows_in_range): an on-chip loop
    # with the entry decode, the row adder, next_ptr and the column lookup.
    # The PE index is a run-time value: N:1 read muxes of the entry word and
    # both pointers for the walk, and a write enable per PE for each of its
    # five memories.
    div = 0 if e & (e - 1) == 0 else 2 * add_luts(ROW_BITS)
    decode = mux_luts(e, eb)
    row_w = pb + c.index_bits + 2
    walk_lut = decode + add_luts(pb) + cmp_luts(pb) + 2 * mux_luts(2, pb)  # next_ptr, e == e_end, column_range
    ld_lut = (
        4 * mloop_lut
        + 2 * cmp_luts(ADDR_BITS)
        + 10 * cmp_luts(ROW_BITS)
        + 2 * add_luts(ROW_BITS)
        + div
        + 2 * mux_luts(2, pb)
        + loop_lut
        + walk_lut
        + add_luts(row_w)
        + cmp_luts(row_w)
        + add_luts(ROW_BITS)
        + cmp_luts(ROW_BITS)
        + mux_luts(n, 64 + 2 * pb)
        + 5 * n
    )
    ld_ff = 4 * mloop_ff + loop_ff + stages * (2 * pb + row_w + ROW_BITS)
    blocks["loader"] = (ld_lut, ld_ff, 1)
    # The accumulators' clear at load: one loop, N write enables.
    blocks["reset"] = (loop_lut + n, loop_ff + ROW_BITS, 1)
    if c.occupancy_mask:
        # build_occupancy: every PE's two pointer reads and a compare per
        # column, the lane select into an N x W register, its address counter.
        blocks["occ_build"] = (
            loop_lut + n * (2 * mux_luts(2, pb) + cmp_luts(pb)) + w + 2 * add_luts(ROW_BITS),
            loop_ff + n * w + 2 * ROW_BITS + c.pidx_bits,
            1,
        )

    # Per PE: the accumulation loop (ENTRY_LOOP). Common to both policies:
    # decode, row += z + 1 and row < rows, the two forwarding compares,
    # next_ptr and e == e_end, the e / e_end selects and the lookahead's
    # column_range. CodebookMul adds the multiplier (its DSPs' LUT / FF [adder])
    # and the acc_bits add; TernaryAdd two gated adds, no multiplier. The
    # forwarding 3:1 mux is as wide as the policy's sum.
    mult = mult_dsps(cb, ab, family)
    common_lut = (
        loop_lut
        + walk_lut
        + add_luts(ROW_BITS)
        + 3 * cmp_luts(ROW_BITS)
        + 2 * mux_luts(3, pb)
        + 2 * mux_luts(2, pb)
        + mux_luts(2, ab)
    )
    common_ff = loop_ff + 4 * pb + 2 * ab + 3 * ROW_BITS + 8 + c.pidx_bits
    gen_lut, gen_ff = mult * _c("dsp_lut") + add_luts(acc) + mux_luts(3, acc), mult * _c("dsp_ff") + 2 * acc
    ter_lut, ter_ff = 2 * add_luts(acc) + 2 * ab + mux_luts(3, 2 * acc), 4 * acc
    blocks["pe_accumulate"] = (
        common_lut + gen_lut,
        common_ff + gen_ff + stages * (ROW_BITS + acc + ab + eb),
        n * lp,
    )
    if c.ternary:
        blocks["pe_accumulate_ternary"] = (
            common_lut + ter_lut,
            common_ff + ter_ff + stages * (ROW_BITS + 2 * acc + ab + eb),
            n * lp,
        )

    # Per PE: the epilogue (requantize: bias add, rounding add, the variable
    # arithmetic shift as a barrel shifter, ReLU, two saturating compares and
    # a 3:1 select; lane / word counters); ternary kernels add Wp*acc + Wn*acc_neg
    # (2 multipliers, their DSPs in ``dsp``) and one more add.
    shifter = acc * -(-_log2(acc) // 2)
    ep_lut = (
        loop_lut
        + 2 * add_luts(acc)
        + shifter
        + acc
        + 2 * cmp_luts(acc)
        + mux_luts(3, ab)
        + 2 * add_luts(ROW_BITS)
        + mux_luts(f, ab)
    )
    ep_ff = loop_ff + stages * (acc + ab) + 2 * ROW_BITS
    if c.ternary:
        tdsp = 2 * mult_dsps(cb, acc, family)
        ep_lut += tdsp * _c("dsp_lut") + add_luts(acc)
        ep_ff += tdsp * _c("dsp_ff") + stages * acc
    blocks["pe_epilogue"] = (ep_lut, ep_ff, n * lp)

    # The FIFOs of layer_pass (kernel_fifos): SRL up to depth 32, else LUTRAM
    # or BRAM storage (the BRAM in the memory estimate).
    fifos = kernel_fifos(c, shared)
    for block, name in block_fifos(c).items():
        count, width, depth = fifos[name]
        fl, ff = fifo_logic(depth, width, bram18_for(depth, width))
        blocks[block] = (fl, ff, count)
    # Per PE: the act_a / act_b port muxes of the shared layer_pass
    # (ALLOCATION limit=1: every lane's read data and write address / data /
    # enable select between the two buffers), and its LUTRAM memories.
    if shared:
        lane_addr = _log2(c.act_lane_depth)
        blocks["pe_pingpong"] = (f * mux_luts(2, 2 * ab + lane_addr + 1), 0.0, n)
    lutram = 0
    for name, (depth, width) in pe_memories(c).items():
        if name == "entries" and c.uses_uram:
            continue
        if bram18_for(depth, width) == 0 or (name == "codebooks" and c.codebook_lutram):
            lutram += lutram_luts(depth, width)
    blocks["pe_lutram"] = (lutram, 0.0, n)
    if c.streaming:
        # Streamed layers (eie_stream.hpp), worked from the operators. The
        # reader: an m_axi loop, the directory's two reads and the word-range
        # arithmetic.
        def shifter(bits: int, positions: int) -> float:
            return bits * -(-max(1, _log2(positions)) // 2)

        # stream_request: the directory's two reads and bank selects, the
        # word range (two 64-bit adds), the run and chunk logic (the chunk
        # boundary is an OR with a constant mask plus one add, three 64-bit
        # compares, the open / pending ranges' registers and selects).
        lanes = c.stream_lanes * lp
        sb, se = c.stream_bits, c.step_entries
        blocks["stream_request"] = (
            loop_lut
            + 4 * add_luts(ADDR_BITS)
            + 4 * cmp_luts(ADDR_BITS)
            + 2 * mux_luts(2, DIR_BITS)
            + 4 * mux_luts(2, ADDR_BITS)
            + cmp_luts(ADDR_BITS),
            loop_ff + 5 * ADDR_BITS + 2 * DIR_BITS + 8,
            lanes,
        )
        # stream_fetch: the burst loop, an m_axi loop [vadd].
        blocks["stream_fetch"] = (mloop_lut, mloop_ff, lanes)
        # The dispatcher's header process (stream_header): the byte funnel of
        # two stream words (sb bits, sb / 8 positions) and the block-end mask
        # (sb bits, sb positions), the header's chunks into N x 32 bits at
        # constant slices (write enables from a step counter), N counts at one
        # of the six widths (a 6:1 select per count bit), N 40-bit prefix
        # adders, the length check (a 48-bit add and compare), the step / word
        # counters.
        blocks["stream_header"] = (
            loop_lut
            + shifter(sb, sb // 8)
            + shifter(sb, sb)
            + -(-n * 32 // sb) * 2
            + n * 32 * mux_luts(6, 1)
            + n * add_luts(40)
            + add_luts(48)
            + cmp_luts(48)
            + 3 * add_luts(32)
            + 4 * cmp_luts(32)
            + add_luts(ADDR_BITS)
            + cmp_luts(ADDR_BITS),
            loop_ff + n * 32 + 2 * sb + 5 * 32 + ADDR_BITS + (n + 1) * 40,
            lanes,
        )
        # The entry unpacker (stream_unpack): the first chunk's shift by the
        # header's end (sb positions), the insert into the 2 sb-bit buffer at
        # its fill level (2 sb positions; the step's own shift is a constant),
        # and per PE the range compares and the count subtraction (each PE
        # gets the step's word itself and the range of its slots).
        fanout = n * (add_luts(40) + 4 * cmp_luts(40))
        blocks["stream_unpack"] = (
            loop_lut + shifter(sb, sb) + shifter(2 * sb, 2 * sb) + 2 * sb + add_luts(8) + 2 * add_luts(40) + fanout,
            loop_ff + 2 * sb + (n + 1) * 40 + 2 * 40 + 32 + 8,
            lanes,
        )
        # Per PE, the merges of the lanes' streams (stream_merge): a 2:1
        # select of the token and of the pack, the entries-left subtract and
        # compare, the end flags and the priority bit.
        if c.merge_tree:
            blocks["stream_merge"] = (
                loop_lut + mux_luts(2, stok_bits(c)) + mux_luts(2, pack_bits(c)) + add_luts(32) + cmp_luts(32) + 4,
                loop_ff + 32 + 4,
                n * len(c.merge_tree) * lp,
            )
        # The loader's directory copy: an m_axi loop, four 32-bit compares,
        # the section-length check and the bank write selects (each lane's
        # copy written in the same cycle).
        blocks["load_directory"] = (
            mloop_lut + 4 * cmp_luts(DIR_BITS) + add_luts(ADDR_BITS) + cmp_luts(ADDR_BITS) + 2 * mux_luts(2, DIR_BITS),
            mloop_ff + 2 * DIR_BITS + ADDR_BITS,
            1,
        )
        # Per PE, the streamed accumulation loop: its own instance of the
        # policy's datapath (row adder, forwarding, multiplier or gated adds),
        # the pack register (a stream word) and its shift, the column's entry
        # counter.
        # The pack register, and the entry at its slot: a step_entries:1
        # select of entry_bits bits (the slot counter's increment).
        st_lut = (
            loop_lut + mux_luts(se, eb) + add_luts(c.pack_n_bits) + add_luts(32) + cmp_luts(32)
            + add_luts(ROW_BITS) + 3 * cmp_luts(ROW_BITS)
        )  # fmt: skip
        st_ff = loop_ff + sb + 32 + 2 * c.pack_n_bits + ROW_BITS + ab
        blocks["pe_stream"] = (st_lut + gen_lut, st_ff + gen_ff + stages * (ROW_BITS + acc + ab + eb), n * lp)
        if c.ternary:
            blocks["pe_stream_ternary"] = (
                st_lut + ter_lut,
                st_ff + ter_ff + stages * (ROW_BITS + 2 * acc + ab + eb),
                n * lp,
            )
    if c.occupancy_mask:
        # The broadcaster's mask: the current and prefetched words (registers),
        # the W:1 select of the emitted column's N bits, and the memory itself
        # where it is too small or too shallow for BRAM.
        d, w = c.occ_depth, c.occ_word_bits
        store = lutram_luts(d, w) if bram18_for(d, w) == 0 else 0
        blocks["occ_mask"] = (store + c.n_pes * mux_luts(c.lnzd_window, 1), 2.0 * w, lp)
    return {k: (copies, int(round(lut)), int(round(ffv))) for k, (lut, ffv, copies) in blocks.items()}


def logic_totals(config: AcceleratorConfig, shared: bool = True) -> tuple[int, int]:
    """(LUT, FF) of the whole kernel: the sum over ``logic_blocks`` of copies x per-copy cost."""
    blocks = logic_blocks(config, shared)
    return (
        sum(k * lut for k, lut, _ in blocks.values()),
        sum(k * ff for k, _, ff in blocks.values()),
    )


def dsp_per_pe(config: AcceleratorConfig) -> int:
    """DSPs of one PE's instances: a multiplier in each general accumulation loop (on-chip and
    streamed), and the ternary epilogue's Wp / Wn scaling."""
    c = config
    family = c.board_spec.family
    loops = 2 if c.streaming else 1
    dsp = loops * mult_dsps(c.cb_bits, c.act_bits, family)
    if c.ternary:
        dsp += 2 * mult_dsps(c.cb_bits, c.acc_bits, family)
    return dsp


@dataclass
class Estimate:
    bram36: int
    uram: int
    dsp: int
    per_pe: dict  # memory name -> (depth, width, bram18, uram)
    fifo_bram18: int
    board: str
    board_bram36: int
    board_uram: int
    board_dsp: int
    # The occupancy mask: one word of N bits per column for each broadcaster
    # window of every layer (occ_depth deep), at the broadcaster; 0 when off.
    mask_bits: int = 0
    mask_bram18: int = 0
    # The streamed layers' column directory: dir_depth 32-bit byte offsets in
    # two banks, a copy per stream lane; 0 without streaming hardware (dir_depth 0).
    dir_bits: int = 0
    dir_bram18: int = 0
    # Logic (the LUT / FF model above); the board's totals are None where
    # unknown (board: custom), and then not checked.
    lut: int = 0
    ff: int = 0
    board_lut: int | None = None
    board_ff: int | None = None
    logic: dict = field(default_factory=dict)  # block -> (copies, LUT each, FF each)
    # The loader's permutation bitmap (max_cols bits) and the layer_pass FIFOs in BRAM.
    seen_bram18: int = 0
    stream_fifo_bram18: int = 0
    # The fallback if Vitis ignores ALLOCATION limit=1 on layer_pass (two instances of
    # the region; logic_blocks(shared=False)), and whether the design then still fits.
    lut_unshared: int = 0
    ff_unshared: int = 0
    dsp_unshared: int = 0
    bram36_unshared: int = 0
    fits_unshared: bool = True

    def to_dict(self) -> dict:
        return {
            "mask_bits": self.mask_bits,
            "mask_bram18": self.mask_bram18,
            "dir_bits": self.dir_bits,
            "dir_bram18": self.dir_bram18,
            "bram36": self.bram36,
            "uram": self.uram,
            "dsp": self.dsp,
            "lut": self.lut,
            "ff": self.ff,
            "board": self.board,
            "board_bram36": self.board_bram36,
            "board_uram": self.board_uram,
            "board_dsp": self.board_dsp,
            "board_lut": self.board_lut,
            "board_ff": self.board_ff,
            "per_pe": {k: {"depth": v[0], "width": v[1], "bram18": v[2], "uram": v[3]} for k, v in self.per_pe.items()},
            "logic": {k: {"copies": v[0], "lut": v[1], "ff": v[2]} for k, v in self.logic.items()},
            "seen_bram18": self.seen_bram18,
            "stream_fifo_bram18": self.stream_fifo_bram18,
            "unshared": {
                "lut": self.lut_unshared,
                "ff": self.ff_unshared,
                "dsp": self.dsp_unshared,
                "bram36": self.bram36_unshared,
                "fits": self.fits_unshared,
            },
        }


def pe_memories(config: AcceleratorConfig) -> dict[str, tuple[int, int]]:
    """depth x width of every memory of one PE."""
    c = config
    # The kernel's own widths and depths (AcceleratorConfig properties): pointers
    # are (word, slot) pairs in two banks; the activation buffers are rounded up
    # to whole LNZD windows.
    mems = {
        "entries": (c.entry_depth, 64),
        "ptr_even": (c.ptr_bank_depth, c.ptr_bits),
        "ptr_odd": (c.ptr_odd_depth, c.ptr_bits),
        "act_src": (c.act_buf_depth, c.act_bits),
        "act_dst": (c.act_buf_depth, c.act_bits),
        "accumulators": (c.act_depth, c.acc_bits),
        "codebooks": (c.codebook_depth, c.cb_bits),
        "biases": (c.bias_depth, c.acc_bits),
    }
    if c.ternary:
        mems["accumulators_neg"] = (c.act_depth, c.acc_bits)
    return mems


def _fifo_bram18(config: AcceleratorConfig, shared: bool) -> tuple[int, int]:
    """BRAM18 of the layer_pass FIFOs: (the PEs' token FIFOs, the streaming FIFOs)."""
    tok = stream = 0
    for name, (count, width, depth) in kernel_fifos(config, shared).items():
        b = count * bram18_for(depth, width)
        if name == "fifo":
            tok += b
        else:
            stream += b
    return tok, stream


def estimate(config: AcceleratorConfig) -> Estimate:
    c = config
    b = c.board_spec
    per_pe = {}
    bram18 = 0
    uram = 0
    for name, (depth, width) in pe_memories(c).items():
        if name == "entries" and c.uses_uram:
            u, r = uram_for(depth, width), 0
        elif name == "codebooks" and c.codebook_lutram:
            u, r = 0, 0  # bound to LUTRAM (BIND_STORAGE in the top)
        else:
            u, r = 0, bram18_for(depth, width)
        per_pe[name] = (depth, width, r, u)
        bram18 += r
        uram += u
    fifo18 = bram18_for(c.fifo_depth, c.token_bits)
    mask18 = bram18_for(c.occ_depth, c.occ_word_bits) if c.occupancy_mask else 0
    # The directory: a copy per stream lane (each lane's reader its only reader).
    dir18 = (
        c.stream_lanes * (bram18_for(c.dir_bank_depth, DIR_BITS) + bram18_for(c.dir_odd_depth, DIR_BITS))
        if c.streaming
        else 0
    )
    seen18 = bram18_for(c.max_cols, 1)

    def bram36(shared: bool) -> int:
        tok, stream = _fifo_bram18(c, shared)
        total18 = c.n_pes * bram18 + tok + stream + mask18 + dir18 + seen18
        total18 += c.stream_lanes * bram18_for(c.outstanding * c.burst_len, c.stream_bits)
        return -(-total18 // 2) + MAXI_BRAM36

    lut, ff = logic_totals(c)
    lut2, ff2 = logic_totals(c, shared=False)
    dsp = c.n_pes * dsp_per_pe(c)
    est = Estimate(
        lut=lut,
        ff=ff,
        board_lut=b.lut,
        board_ff=b.ff,
        logic=logic_blocks(c),
        bram36=bram36(True),
        uram=c.n_pes * uram,
        dsp=dsp,
        per_pe=per_pe,
        fifo_bram18=fifo18,
        mask_bits=c.mask_bits,
        mask_bram18=mask18,
        dir_bits=c.stream_lanes * c.dir_depth * DIR_BITS if c.streaming else 0,
        dir_bram18=dir18,
        board=c.board,
        board_bram36=b.bram36,
        board_uram=b.uram,
        board_dsp=b.dsp,
        seen_bram18=seen18,
        stream_fifo_bram18=_fifo_bram18(c, True)[1],
        lut_unshared=lut2,
        ff_unshared=ff2,
        dsp_unshared=2 * dsp,
        bram36_unshared=bram36(False),
    )
    est.fits_unshared = not _overflows(
        Estimate(
            bram36=est.bram36_unshared,
            uram=est.uram,
            dsp=est.dsp_unshared,
            per_pe=per_pe,
            fifo_bram18=fifo18,
            board=c.board,
            board_bram36=b.bram36,
            board_uram=b.uram,
            board_dsp=b.dsp,
            lut=lut2,
            ff=ff2,
            board_lut=b.lut,
            board_ff=b.ff,
        )
    )
    return est


def unshared_note(est: Estimate) -> str:
    """One line on the fallback: what the design costs if Vitis builds layer_pass twice."""
    board_lut = f"/{est.board_lut:,}" if est.board_lut is not None else ""
    return (
        f"if Vitis ignores ALLOCATION limit=1 on layer_pass (undocumented for a DATAFLOW region with two call "
        f"sites): {est.lut_unshared:,}{board_lut} LUT, {est.bram36_unshared}/{est.board_bram36} BRAM36, "
        f"{est.dsp_unshared}/{est.board_dsp} DSP: "
        + ("still fits" if est.fits_unshared else f"does NOT fit {est.board}")
    )


def _overflows(est: Estimate) -> list[str]:
    out = []
    for what, need, have in (
        ("BRAM36", est.bram36, est.board_bram36),
        ("URAM", est.uram, est.board_uram),
        ("DSP", est.dsp, est.board_dsp),
    ):
        if need > have:
            out.append(f"{what}: needs {need}, the board has {have} (over by {need - have})")
    for what, need, have in (("LUT", est.lut, est.board_lut), ("FF", est.ff, est.board_ff)):
        if have is not None and need > have:
            out.append(f"{what}s: needs {need:,} (estimate), the board has {have:,} (over by {need - have:,})")
    return out


def _logic_hint(est: Estimate) -> str:
    """What to change when the logic overflows: the blocks that grow with N first."""
    if not any(w.startswith(("LUTs", "FFs")) for w in _overflows(est)):
        return ""
    per_pe = sum(k * lut for k, lut, _ in est.logic.values() if k > 1)
    return (
        f"The PEs' logic is {per_pe:,} of the {est.lut:,} LUTs (loader, accumulation loop"
        + (" x2 for ternary" if "pe_accumulate_ternary" in est.logic else "")
        + ", epilogue, FIFO per PE): use fewer PEs, narrower act_bits / acc_bits / cb_bits"
        + (", ternary off" if "pe_accumulate_ternary" in est.logic else "")
        + ", or a larger board. "
    )


def on_board(config: AcceleratorConfig, board: str) -> AcceleratorConfig:
    """The same configuration on another supported board (its part and clock)."""
    storage = config.entry_storage if config.entry_storage != "uram" or BOARDS[board].uram else "auto"
    return config.replace(board=board, part=None, clock_mhz=None, resources=None, entry_storage=storage)


def fits_board(config: AcceleratorConfig) -> bool:
    return not _overflows(estimate(config))


def check_fits_board(config: AcceleratorConfig) -> Estimate:
    """The estimate, or CapacityError naming each resource that overflows."""
    est = estimate(config)
    over = _overflows(est)
    if over:
        biggest = max(est.per_pe.items(), key=lambda kv: kv[1][2] + 8 * kv[1][3])
        fits = [name for name in BOARDS if name != config.board and fits_board(on_board(config, name))]
        raise CapacityError(
            f"the configuration (N={config.n_pes}, entry_depth={config.entry_depth}, ptr_depth={config.ptr_depth}, "
            f"act_depth={config.act_depth}) does not fit {config.board}: "
            + "; ".join(over)
            + f". The largest memory per PE is {biggest[0]} ({biggest[1][0]} x {biggest[1][1]} bits). "
            + _logic_hint(est)
            + ("Boards where it fits: " + ", ".join(fits) + ". " if fits else "")
            + "Reduce n_pes or the depths"
            + (
                f", or turn occupancy_mask off (it takes {-(-est.mask_bram18 // 2)} BRAM36)."
                if est.mask_bram18
                else "."
            )
        )
    return est


@dataclass
class ModelNeeds:
    """Per-PE memory needs of a model (what the kernel's load checks)."""

    entry_words: np.ndarray  # per PE, the on-chip layers
    pointers: int  # the on-chip layers' K + 1
    act: int
    bias: int
    layers: int
    directory: int = 0  # the streamed layers' K + 1 (the kernel's column directory)
    streamed: tuple = ()  # indices of the streamed layers

    def depths(self) -> dict:
        return {
            "entry_depth": int(max(1, self.entry_words.max())),
            "ptr_depth": int(max(2, self.pointers)),
            "dir_depth": int(self.directory),
            "act_depth": int(max(1, self.act)),
            "bias_depth": int(max(1, self.bias)),
            "max_layers": int(self.layers),
        }


def model_needs(qm: QuantModel) -> ModelNeeds:
    """What the model takes of each memory: entries and pointers of the on-chip layers, the
    directory of the streamed ones (``QuantLayer.storage``), activations and biases of all."""
    p = qm.params
    n = p.n_pes
    per = p.entries_per_word
    words = np.zeros(n, dtype=np.int64)
    ptrs = act = bias = dirs = 0
    streamed = []
    for i, ql in enumerate(qm.layers):
        m, k = ql.shape
        if ql.storage == "stream":
            dirs += k + 1
            streamed.append(i)
        else:
            words += -(-ql.encoded.n_entries.astype(np.int64) // per)
            ptrs += k + 1
        act = max(act, -(-m // n), -(-k // n))
        bias += -(-m // n)
    return ModelNeeds(words, ptrs, act, bias, len(qm.layers), dirs, tuple(streamed))


def depths_for_model(qm: QuantModel, headroom: float = 0.0) -> dict:
    """Memory depths (config fields) that hold ``qm``, with optional relative headroom."""
    d = model_needs(qm).depths()
    if headroom:
        d = {k: int(np.ceil(v * (1.0 + headroom))) for k, v in d.items()}
        d["max_layers"] = min(64, d["max_layers"])
    return d


def config_for_model(qm: QuantModel, board: str = "zcu104", headroom: float = 0.0, **overrides) -> AcceleratorConfig:
    """A configuration with the model's parameters and depths sized from it."""
    return config_for_models([qm], board, headroom, **overrides)


def config_for_models(
    models: Sequence[QuantModel], board: str = "zcu104", headroom: float = 0.0, **overrides
) -> AcceleratorConfig:
    """One configuration (the models' parameters, depths for the largest) that holds each model."""
    if not models:
        raise ConfigError("no models to size a configuration for")
    p = models[0].params
    if any(m.params != p for m in models):
        raise ConfigError("the models were quantised for different accelerator parameters")
    depths = [depths_for_model(m, headroom) for m in models]
    fields = dict(
        board=board,
        n_pes=p.n_pes,
        weight_bits=p.weight_bits,
        index_bits=p.index_bits,
        act_bits=p.act_bits,
        cb_bits=p.cb_bits,
        acc_bits=p.acc_bits,
        ternary=any(l.ternary for m in models for l in m.layers),
    )
    fields.update({k: max(d[k] for d in depths) for k in depths[0]})
    fields.update(overrides)
    return AcceleratorConfig(**fields)


def check_model_fits(config: AcceleratorConfig, qm: QuantModel) -> ModelNeeds:
    """Raise CapacityError (or ConfigError for other parameters) unless the model fits."""
    hw = config.to_hwparams()
    if qm.params != hw:
        raise ConfigError(
            f"the model was quantised for {qm.params}, the configuration has {hw}; quantise it for this configuration"
        )
    needs = model_needs(qm)
    problems = []
    worst = int(np.argmax(needs.entry_words))
    if needs.entry_words[worst] > config.entry_depth:
        over = int(needs.entry_words[worst]) - config.entry_depth
        n_over = int(np.count_nonzero(needs.entry_words > config.entry_depth))
        problems.append(
            f"the entry memory of PE {worst} needs {int(needs.entry_words[worst])} words, entry_depth is "
            f"{config.entry_depth} (over by {over}; {n_over} of {config.n_pes} PEs overflow)"
        )
    if needs.pointers > config.ptr_depth:
        problems.append(
            f"the pointer memory of every PE needs {needs.pointers} pointers, ptr_depth is "
            f"{config.ptr_depth} (over by {needs.pointers - config.ptr_depth})"
        )
    if needs.directory > config.dir_depth:
        which = ", ".join(str(i) for i in needs.streamed)
        have = (
            f"dir_depth is {config.dir_depth} (over by {needs.directory - config.dir_depth})"
            if config.dir_depth
            else "dir_depth is 0 (a kernel without streaming hardware)"
        )
        problems.append(
            f"the column directory of the streamed layers ({which}) needs {needs.directory} offsets "
            f"(K + 1 per streamed layer), {have}"
        )
    if needs.act > config.act_depth:
        problems.append(
            f"the activation buffers of PE 0 need {needs.act} values, act_depth is {config.act_depth} "
            f"(over by {needs.act - config.act_depth})"
        )
    if needs.bias > config.bias_depth:
        problems.append(
            f"the bias memory of PE 0 needs {needs.bias} values, bias_depth is {config.bias_depth} "
            f"(over by {needs.bias - config.bias_depth})"
        )
    if needs.layers > config.max_layers:
        problems.append(f"the model has {needs.layers} layers, max_layers is {config.max_layers}")
    if problems:
        sized = config.replace(**{k: max(v, getattr(config, k)) for k, v in needs.depths().items()})
        hint = ", ".join(f"{k}={v}" for k, v in needs.depths().items() if v > getattr(config, k))
        boards = [name for name in BOARDS if fits_board(on_board(sized, name))]
        where = (
            f"on {', '.join(boards)}"
            if boards
            else f"on no supported board with N={config.n_pes}; use more PEs (entries per PE shrink about as 1/N)"
        )
        raise CapacityError(
            "the model does not fit the accelerator: "
            + "; ".join(problems)
            + f". Set {hint} (that configuration fits {where})."
        )
    return needs
