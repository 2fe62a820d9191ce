"""The LUT / FF model of the resource estimate (eie.hardware.resources,
LOGIC_COEFFS): hand-worked blocks, scaling in N, the board totals, the refusal
of a design that overflows the logic, and the estimate in `eie generate`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from kernel_configs import kernel_config

from eie.cli import main
from eie.compression.weights import DenseLayer, save_weights
from eie.errors import CapacityError
from eie.hardware import resources as res
from eie.hardware.boards import BOARDS
from eie.hardware.config import AcceleratorConfig
from eie.hardware.target import default_config

# The coefficients, written out again (LOGIC_COEFFS must keep these values or
# the hand-worked numbers below change): 32-bit add 39 LUT, 32-bit compare 20
# LUT, 49 LUT / 166 FF per 3 DSPs, on-chip loop 51 LUT / 9 FF.
ADD, CMP = 39 / 32, 20 / 32
DSP_LUT, DSP_FF = 49 / 3, 166 / 3


def test_board_logic_totals():
    assert {name: (b.lut, b.ff) for name, b in BOARDS.items()} == {
        "pynq-z2": (53_200, 106_400),
        "pynq-z1": (53_200, 106_400),
        "ultra96v2": (70_560, 141_120),
        "zcu104": (230_400, 460_800),
        "kv260": (117_120, 234_240),
    }
    e = res.estimate(AcceleratorConfig(board="kv260"))
    assert (e.board_lut, e.board_ff) == (117_120, 234_240)


def test_every_coefficient_names_its_source():
    assert all(isinstance(src, str) and src for _, src in res.LOGIC_COEFFS.values())
    assert res.LOGIC_COEFFS["maxi_lut"][0] == 580 and res.LOGIC_COEFFS["maxi_ff"][0] == 512
    assert res.LOGIC_COEFFS["maxi_loop_lut"][0] == 384 and res.LOGIC_COEFFS["maxi_loop_ff"][0] == 397


def test_hand_worked_blocks():
    # kernel_config(n_pes=4): E = 8 entries of 8 bits, ptr_bits = 10 + 3 = 13,
    # pidx_bits = 9 (ptr_depth 512), token = 9 + 16 + 1 = 26 bits, 16 x 16
    # multiplier = 1 DSP48E2.
    c = kernel_config(n_pes=4)
    assert (c.entries_per_word, c.ptr_bits, c.pidx_bits, c.token_bits) == (8, 13, 9, 26)
    blocks = res.logic_blocks(c)
    # s_axilite: 14 registers x (70 LUT, 42 FF); m_axi: two 64-bit bundles, 580 + 32 LUT, 512 + 32 FF each.
    assert blocks["s_axilite"] == (1, 980, 588)
    assert blocks["m_axi"] == (1, 1224, 1088)
    # The FIFO (depth 8, SRL): 26 LUTs of SRLC32E + 4 * log2(9) + 6 control; 26 + 2 * 4 + 4 FFs.
    assert blocks["pe_fifo"] == (4, 26 + 16 + 6, 26 + 8 + 4)
    # The accumulation loop, worked from the operators:
    walk = 8 * 3 + 13 * ADD + 13 * CMP + 2 * 13  # 8:1 decode mux, next_ptr, e == e_end, column_range
    common = 51 + walk + 32 * ADD + 3 * 32 * CMP + 2 * 13 + 2 * 13 + 16
    lut = common + 1 * DSP_LUT + 32 * ADD + 32  # multiplier, acc add, 3:1 forwarding mux
    ff = 9 + 4 * 13 + 2 * 16 + 3 * 32 + 8 + 9 + DSP_FF + 2 * 32 + 3 * (32 + 32 + 16 + 8)
    assert blocks["pe_accumulate"] == (4, round(lut), round(ff))
    assert blocks["pe_accumulate"] == (4, 379, 589)
    # Totals: copies x per-copy cost over every block.
    e = res.estimate(c)
    assert e.lut == sum(k * lut for k, lut, _ in blocks.values())
    assert e.ff == sum(k * ff for k, _, ff in blocks.values())
    assert e.logic == blocks


def test_lutram_and_mux_rules():
    assert res.lutram_luts(32, 6) == 4 and res.lutram_luts(32, 7) == 8
    assert res.lutram_luts(64, 3) == 4 and res.lutram_luts(128, 16) == 4 * 6 * 2
    assert res.mux_luts(1, 16) == 0 and res.mux_luts(2, 16) == 16 and res.mux_luts(4, 16) == 16
    assert res.mux_luts(8, 4) == 4 * 3
    # A FIFO deeper than 32 keeps its storage in BRAM (no LUTs for it) or LUTRAM.
    assert res.fifo_logic(512, 36, 1) == (4 * 10 + 6, 36 + 2 * 10 + 4)
    assert res.fifo_logic(64, 8, 0)[0] == res.lutram_luts(64, 8) + 4 * 7 + 6


def test_logic_grows_with_n_and_ternary():
    luts = [res.estimate(AcceleratorConfig(board="zcu104", n_pes=n)).lut for n in (1, 2, 4, 8, 16, 32, 64)]
    ffs = [res.estimate(AcceleratorConfig(board="zcu104", n_pes=n)).ff for n in (1, 2, 4, 8, 16, 32, 64)]
    assert luts == sorted(set(luts)) and ffs == sorted(set(ffs))
    base = AcceleratorConfig(board="zcu104", n_pes=16)
    tern = res.estimate(base.replace(ternary=True))
    assert tern.lut > res.estimate(base).lut and "pe_accumulate_ternary" in tern.logic
    assert res.estimate(base.replace(act_bits=24, acc_bits=48)).lut > res.estimate(base).lut
    # Most of the logic is per PE: doubling N nearly doubles it.
    assert 1.7 < luts[-1] / luts[-2] < 2.0


def test_defaults_fit():
    for name in BOARDS:
        e = res.check_fits_board(AcceleratorConfig(board=name))
        assert 0 < e.lut <= e.board_lut and 0 < e.ff <= e.board_ff
    e = res.check_fits_board(default_config())
    assert e.lut < e.board_lut / 2


def test_logic_overflow_is_refused():
    # Small depths, so the memories fit the PYNQ-Z2: only the logic of 48 PEs does not.
    small = dict(entry_depth=256, ptr_depth=256, act_depth=16, bias_depth=64, max_layers=2)
    big = AcceleratorConfig(board="pynq-z2", n_pes=48, **small)
    e = res.estimate(big)
    assert e.bram36 <= e.board_bram36 and e.dsp <= e.board_dsp
    assert e.lut > e.board_lut
    assert not res.fits_board(big)
    with pytest.raises(CapacityError) as err:
        res.check_fits_board(big)
    msg = str(err.value)
    assert f"LUTs: needs {e.lut:,} (estimate), the board has 53,200" in msg
    assert "BRAM36" not in msg
    assert "fewer PEs" in msg and "larger board" in msg and "zcu104" in msg
    assert res.fits_board(big.replace(n_pes=8))
    # A ternary ZCU104 at N=64 fits (one loader for all PEs, issue 19), even if layer_pass were built twice.
    t64 = AcceleratorConfig(board="zcu104", n_pes=64, ternary=True)
    e64 = res.estimate(t64)
    assert e64.bram36 <= 312 and res.fits_board(t64) and e64.fits_unshared


def test_custom_board_logic_is_not_checked():
    c = AcceleratorConfig(board="custom", part="xc7z020clg400-1", n_pes=64, resources={"bram36": 10**5, "dsp": 10**4})
    e = res.check_fits_board(c)
    assert e.board_lut is None and e.lut > 0
    assert e.to_dict()["board_lut"] is None


def test_generate_json_carries_the_logic_estimate(tmp_path, capsys):
    rng = np.random.default_rng(0)
    weights = tmp_path / "weights.npz"
    save_weights(weights, [DenseLayer("fc1", rng.standard_normal((12, 16)), rng.standard_normal(12))])
    model = tmp_path / "model.npz"
    assert main(["compress", str(weights), "-o", str(model), "--density", "0.3"]) == 0
    capsys.readouterr()
    assert main(["generate", str(model), "-o", str(tmp_path / "g"), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    est = res.estimate(AcceleratorConfig.from_yaml(tmp_path / "g" / "config.yaml"))
    assert {k: s["estimate"][k] for k in ("lut", "ff", "board_lut", "board_ff")} == {
        "lut": est.lut,
        "ff": est.ff,
        "board_lut": 230_400,
        "board_ff": 460_800,
    }
    assert s["estimate"]["unshared"] == {
        "lut": est.lut_unshared,
        "ff": est.ff_unshared,
        "dsp": est.dsp_unshared,
        "bram36": est.bram36_unshared,
        "fits": True,
    }
    assert main(["generate", str(model), "-o", str(tmp_path / "t")]) == 0
    text = capsys.readouterr().out
    assert f"{est.lut}/230400 LUT" in text
    assert "if Vitis ignores ALLOCATION limit=1 on layer_pass" in text and f"{est.lut_unshared:,}/230,400 LUT" in text
    assert "still fits" in text


def test_streaming_logic_worked_from_the_operators():
    # No directory, no streaming hardware.
    assert not {"stream_request", "stream_fetch", "stream_header", "stream_unpack", "pe_stream"} & set(
        res.logic_blocks(kernel_config(n_pes=8))
    )
    c = kernel_config(n_pes=8, dir_depth=100, stream_ports=1, axi_data_bits=64)  # one 64-bit lane, 8 entries a step
    blocks = res.logic_blocks(c)
    # The header process: the byte funnel (64 bits, 8 positions, 2 levels) = 128, the block-end
    # mask (64 positions, 3 levels) = 192, the slice enables 4 x 2, 8 x 32 count bits each a 6:1
    # select of the six count widths (2 LUT6) = 512, eight 40-bit prefix adders, the length check.
    add, cmp = res.add_luts, res.cmp_luts
    header = 51 + 128 + 192 + 8 + 512 + 8 * add(40) + add(48) + cmp(48) + 3 * add(32) + 4 * cmp(32)
    header += add(64) + cmp(64)
    assert blocks["stream_header"][:2] == (1, round(header))
    # The unpacker: the first chunk's shift (192), the buffer insert (128 bits, 128 positions,
    # 4 levels) = 512, the OR, and per PE a 40-bit add and 4 compares (the PEs get the step's
    # word itself and their slots' range: no pack shifter).
    fanout = 8 * (add(40) + 4 * cmp(40))
    assert blocks["stream_unpack"][:2] == (1, round(51 + 192 + 512 + 128 + add(8) + 2 * add(40) + fanout))
    # The reader: the request process (directory reads, word range, run and chunk logic) and the
    # fetch process (one m_axi burst loop).
    a64, c64 = res.add_luts(res.ADDR_BITS), res.cmp_luts(res.ADDR_BITS)
    request = 51 + 4 * a64 + 4 * c64 + 2 * 32 + 4 * 64 + c64  # the run test w0 <= run_end: a 64-bit compare
    assert blocks["stream_request"][:2] == (1, round(request))
    assert blocks["stream_fetch"][:2] == (1, res._c("maxi_loop_lut"))
    assert "stream_merge" not in blocks  # one lane feeds the PEs directly
    # Two 128-bit lanes (UltraScale+'s default): every lane process twice, each twice as wide.
    w = res.logic_blocks(kernel_config(n_pes=8, dir_depth=100, stream_ports=2))
    # Funnel: 128 bits x 16 positions (2 levels) = 256; mask: 128 positions (4 levels) = 512; 2 x 2 slice enables.
    header2 = 51 + 256 + 512 + 4 + 512 + 8 * add(40) + add(48) + cmp(48) + 3 * add(32) + 4 * cmp(32) + add(64) + cmp(64)
    assert w["stream_header"][:2] == (2, round(header2))
    # Unpacker: the first chunk's shift (128 bits, 4 levels) = 512, the 256-bit buffer insert (256 positions,
    # 4 levels) = 1024, the OR (256), per PE the range compares.
    fanout2 = 8 * (add(40) + 4 * cmp(40))
    assert w["stream_unpack"][:2] == (2, round(51 + 512 + 1024 + 256 + add(8) + 2 * add(40) + fanout2))
    assert w["stream_request"][0] == w["stream_fetch"][0] == 2
    # One merge per PE: 2:1 selects of a token (16 + 32 + 1 bits) and a pack (128 + 5 + 5 bits), the
    # entries-left subtract and zero test, the flags.
    merge = 51 + res.mux_luts(2, 49) + res.mux_luts(2, 138) + add(32) + cmp(32) + 4
    assert w["stream_merge"][:2] == (8, round(merge))
    # The streamed PE loop is its own instance: its own multiplier (a second DSP per PE).
    assert blocks["pe_stream"][0] == 8
    assert res.estimate(c).dsp == 2 * res.estimate(kernel_config(n_pes=8)).dsp
    # It scales with N: the header split is N x 32 selects and N prefix adders.
    n16 = res.logic_blocks(kernel_config(n_pes=16, dir_depth=100))
    assert n16["stream_header"][1] > blocks["stream_header"][1] + 8 * 32 * 2
