"""Accelerator configuration, resource estimate and capacity checks."""

from __future__ import annotations

import numpy as np
import pytest

from eie.errors import CapacityError, ConfigError
from eie.format.csc import encode
from eie.format.qmodel import QuantLayer, QuantModel
from eie.hardware import resources as res
from eie.hardware.boards import BOARDS
from eie.hardware.config import AcceleratorConfig


def test_defaults_and_board_table():
    c = AcceleratorConfig()
    assert c.fpga_part == "xc7z020clg400-1" and c.clock == 100.0 and c.clock_period_ns == 10.0
    assert (BOARDS["pynq-z2"].bram36, BOARDS["pynq-z2"].dsp) == (140, 220)
    assert (BOARDS["ultra96v2"].bram36, BOARDS["ultra96v2"].uram, BOARDS["ultra96v2"].dsp) == (216, 0, 360)
    assert (BOARDS["zcu104"].bram36, BOARDS["zcu104"].uram, BOARDS["zcu104"].dsp) == (312, 96, 1728)
    assert (BOARDS["kv260"].bram36, BOARDS["kv260"].uram, BOARDS["kv260"].dsp) == (144, 64, 1248)
    z = AcceleratorConfig(board="zcu104")
    assert z.clock == 200.0 and z.uses_uram
    hw = AcceleratorConfig(n_pes=5, weight_bits=2, index_bits=3, act_bits=12).to_hwparams()
    assert hw.as_tuple() == (5, 2, 3, 12, 16, 32)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("n_pes", 0, "n_pes=0 is out of range"),
        ("n_pes", 65, "n_pes=65"),
        ("weight_bits", 9, "weight_bits=9"),
        ("index_bits", 0, "index_bits=0"),
        ("acc_bits", 12, "acc_bits=12 must be at least act_bits=16"),
        ("fifo_depth", 0, "fifo_depth=0"),
        ("board", "zedboard", "board='zedboard' is not known"),
        ("top", "2top", "C identifier"),
        ("clock_mhz", 5, "clock_mhz=5 is out of range"),
        ("ternary", "yes", "ternary='yes' must be true or false"),
        ("entry_storage", "uram", "has no UltraRAM"),
        ("max_layers", 65, "max_layers=65"),
    ],
)
def test_every_field_is_validated(field, value, message):
    with pytest.raises(ConfigError, match=message):
        AcceleratorConfig(**{field: value})


def test_widest_entries_pack_four_per_word():
    assert AcceleratorConfig(weight_bits=8, index_bits=8).entries_per_word == 4
    assert AcceleratorConfig(weight_bits=4, index_bits=5).entries_per_word == 7


def test_custom_board_needs_part_and_resources():
    with pytest.raises(ConfigError, match="needs 'part'"):
        AcceleratorConfig(board="custom")
    with pytest.raises(ConfigError, match="needs 'resources"):
        AcceleratorConfig(board="custom", part="xc7z045ffg900-2")
    c = AcceleratorConfig(
        board="custom", part="xc7z045ffg900-2", resources={"bram36": 545, "dsp": 900, "family": "zynq7"}
    )
    assert c.board_spec.bram36 == 545 and c.fpga_part == "xc7z045ffg900-2"
    with pytest.raises(ConfigError, match="only be given with board: custom"):
        AcceleratorConfig(resources={"bram36": 1})


def test_yaml_round_trip_and_unknown_keys(tmp_path):
    c = AcceleratorConfig(board="kv260", n_pes=12, ternary=True, entry_depth=1000, clock_mhz=250)
    path = tmp_path / "acc.yaml"
    c.to_yaml(path)
    assert AcceleratorConfig.from_yaml(path) == c
    path.write_text("board: pynq-z2\nn_pe: 4\n")
    with pytest.raises(ConfigError, match=r"unknown configuration keys \['n_pe'\]"):
        AcceleratorConfig.from_yaml(path)
    path.write_text("n_pes: 100\n")
    with pytest.raises(ConfigError, match="acc.yaml: n_pes=100"):
        AcceleratorConfig.from_yaml(path)


def test_bram_mapping_hand_worked():
    # 4096 x 64 bits: 16 BRAM18 in every aspect ratio (e.g. 4096x4 x 16 wide) = 8 BRAM36.
    assert res.bram18_for(4096, 64) == 16
    # 512 x 36 is exactly one BRAM18; 513 deep needs two.
    assert res.bram18_for(512, 36) == 1 and res.bram18_for(513, 36) == 2
    # Small memories go to LUTRAM.
    assert res.bram18_for(32, 16) == 0 and res.bram18_for(64, 16) == 0
    # One URAM is 4K x 72.
    assert res.uram_for(4096, 64) == 1 and res.uram_for(4097, 64) == 2
    assert res.mult_dsps(16, 16, "zynq7") == 1 and res.mult_dsps(32, 16, "zynqmp") == 2


def test_estimate_grows_with_pes_and_depths():
    base = AcceleratorConfig(board="zcu104", entry_storage="bram", n_pes=4)
    e0 = res.estimate(base)
    assert res.estimate(base.replace(n_pes=8)).bram36 > e0.bram36
    assert res.estimate(base.replace(n_pes=8)).dsp == 2 * e0.dsp
    assert res.estimate(base.replace(entry_depth=8192)).bram36 > e0.bram36
    assert res.estimate(base.replace(act_depth=4096)).bram36 > e0.bram36
    assert res.estimate(base.replace(ptr_depth=16384)).bram36 > e0.bram36
    assert res.estimate(base.replace(ternary=True)).dsp > e0.dsp
    # Per PE: entries 4096 x 64 -> 16 BRAM18.
    assert e0.per_pe["entries"][2] == 16
    u = res.estimate(base.replace(entry_storage="uram"))
    assert u.uram == 4 and u.bram36 < e0.bram36


def test_config_too_big_for_board_is_a_capacity_error():
    big = AcceleratorConfig(board="pynq-z2", n_pes=32, entry_depth=8192)
    with pytest.raises(CapacityError, match=r"does not fit pynq-z2: BRAM36: needs \d+, the board has 140"):
        res.check_fits_board(big)
    ok = AcceleratorConfig(board="pynq-z2", n_pes=4, entry_depth=2048, ptr_depth=1024, act_depth=256, bias_depth=512)
    est = res.check_fits_board(ok)
    assert est.bram36 <= 140


def _model(n: int, m: int, k: int, density: float, layers: int = 1) -> QuantModel:
    rng = np.random.default_rng(0)
    out = []
    for i in range(layers):
        rows, cols = np.nonzero(rng.random((m, k)) < density)
        enc = encode(rows, cols, np.ones(rows.size, int), (m, k), n, 4, 4)
        out.append(QuantLayer(f"l{i}", enc, np.arange(16), np.zeros(m, np.int64), np.arange(m), 8, 8, 8, True))
        k = m
    return QuantModel(AcceleratorConfig(n_pes=n).to_hwparams(), out)


def test_model_fit_names_pe_memory_and_amount():
    qm = _model(4, 64, 400, 0.5)
    words = -(-qm.layers[0].encoded.n_entries // 8)
    cfg = AcceleratorConfig(n_pes=4, entry_depth=int(words.max()) - 3, act_depth=100)
    pe = int(np.argmax(words))
    with pytest.raises(
        CapacityError,
        match=f"entry memory of PE {pe} needs {int(words.max())} words, entry_depth "
        f"is {int(words.max()) - 3} \\(over by 3",
    ):
        res.check_model_fits(cfg, qm)
    with pytest.raises(CapacityError, match="activation buffers .* need 100 values, act_depth is 99"):
        res.check_model_fits(cfg.replace(entry_depth=4096, act_depth=99), qm)
    with pytest.raises(CapacityError, match="max_layers is 1"):
        res.check_model_fits(AcceleratorConfig(n_pes=4, max_layers=1), _model(4, 8, 8, 0.5, layers=2))
    with pytest.raises(ConfigError, match="quantised for"):
        res.check_model_fits(AcceleratorConfig(n_pes=2), qm)


def test_depths_for_model_are_exact():
    qm = _model(3, 50, 70, 0.4, layers=3)
    d = res.depths_for_model(qm)
    assert d["ptr_depth"] == 71 + 51 + 51
    assert d["act_depth"] == 24 and d["bias_depth"] == 3 * 17 and d["max_layers"] == 3
    cfg = res.config_for_model(qm, board="zcu104")
    res.check_model_fits(cfg, qm)
    for key in ("entry_depth", "ptr_depth", "act_depth", "bias_depth"):
        with pytest.raises(CapacityError, match=key):
            res.check_model_fits(cfg.replace(**{key: d[key] - 1}), qm)


def test_derived_kernel_widths_hand_worked():
    c = AcceleratorConfig(
        n_pes=4,
        weight_bits=4,
        index_bits=4,
        act_bits=16,
        act_depth=10,
        entry_depth=100,
        ptr_depth=45,
        max_layers=3,
        lnzd_window=16,
    )
    assert c.entry_bits == 8  # 4 + 4
    assert c.entries_per_word == 8  # 64 // 8
    assert c.cb_size == 16  # 2^4
    assert c.codebook_depth == 48  # 3 layers x 16
    assert c.slot_bits == 3  # slots 0..7
    assert c.ptr_bits == 10  # words 0..100 need 7 bits, + 3 slot bits
    assert c.ptr_bank_depth == 23  # 45 pointers over two banks: 23 + 22
    assert c.pidx_bits == 6  # indices 0..44
    assert c.max_cols == 40  # 4 PEs x 10
    assert c.col_bits == 6  # counts 0..40
    assert c.token_bits == 23  # 6 + 16 + 1
    assert c.lnzd_words == 4  # 16 / 4 words of each bank per window
    assert c.act_buf_depth == 12  # 10 rounded up to whole windows of 4
    assert c.broadcast_trips_max == 41  # 40 columns + the prologue
    assert c.pe_trips_max == 841  # 40 columns + 100 x 8 entries + the prologue
    assert c.ptr_words_max == 21  # K <= 40: 41 pointers, two per word
    # A window of N (the default) or narrower reads one word per bank: no rounding.
    assert (c.replace(lnzd_window=None).lnzd_words, c.replace(lnzd_window=2).act_buf_depth) == (1, 10)
    # 5-bit entries: 12 per word, slots 0..11 need 4 bits; a tiny pointer table.
    d = AcceleratorConfig(n_pes=3, weight_bits=2, index_bits=3, entry_depth=64, ptr_depth=2, act_depth=7)
    assert (d.entry_bits, d.entries_per_word, d.cb_size, d.slot_bits) == (5, 12, 4, 4)
    assert (d.ptr_bits, d.ptr_bank_depth, d.pidx_bits) == (11, 1, 1)  # 64 needs 7 bits; pointers 0 and 1
    assert (d.max_cols, d.col_bits, d.lnzd_window, d.act_buf_depth) == (21, 5, 3, 7)
    assert d.ptr_words_max == 1  # K = 1 at most: two pointers in one word


def test_lnzd_window_defaults_to_n_and_follows_it():
    c = AcceleratorConfig(n_pes=4)
    assert c.lnzd_window == 4 and c.to_dict()["lnzd_window"] is None
    assert c.replace(n_pes=8).lnzd_window == 8  # still one per PE
    fixed = AcceleratorConfig(n_pes=4, lnzd_window=4)
    assert fixed == c and fixed.replace(n_pes=8).lnzd_window == 4 and fixed.to_dict()["lnzd_window"] == 4
    assert AcceleratorConfig.from_dict(c.to_dict()).replace(n_pes=2).lnzd_window == 2
