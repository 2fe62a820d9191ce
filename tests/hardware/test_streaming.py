"""Issue 12 host side: DDR facts, streaming config fields, storage decisions, mask cost, simulate report."""

import json

import numpy as np
import pytest

from eie.cli import main
from eie.errors import CapacityError, ConfigError
from eie.format.csc import encode
from eie.hardware.boards import BOARDS
from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import check_fits_board, estimate, logic_blocks
from eie.hardware.streaming import layer_storage
from eie.performance.timing import TimingParams


def test_ddr_peaks_and_axi_defaults():
    # Bus bytes x MT/s: 4 x 1066, 4 x 2133, 8 x 2400 MB/s.
    peaks = {name: b.ddr_peak_gbps for name, b in BOARDS.items()}
    assert peaks == pytest.approx(
        {"pynq-z2": 4.264, "pynq-z1": 4.264, "ultra96v2": 8.532, "zcu104": 19.2, "kv260": 19.2}
    )
    z2, zcu = AcceleratorConfig(), AcceleratorConfig(board="zcu104")
    assert (z2.axi_bits, z2.burst_len, z2.outstanding) == (64, 16, 8)
    assert (zcu.axi_bits, zcu.burst_len, zcu.outstanding) == (128, 64, 16)
    c = zcu.replace(axi_data_bits=64, axi_burst_len=256, axi_outstanding=4)
    assert (c.axi_bits, c.burst_len, c.outstanding) == (64, 256, 4)
    p = TimingParams.for_config(z2)
    assert (p.stream.axi_bits, p.stream.ddr_peak_gbps, p.occupancy_mask) == (64, pytest.approx(4.264), True)
    assert p.stream.port_peak_gbps(z2.clock) == pytest.approx(0.8)  # 8 bytes x 100 MHz
    custom = dict(board="custom", part="xc7z020clg400-1", resources={"bram36": 10, "uram": 0, "dsp": 10})
    assert AcceleratorConfig(**custom).ddr_peak_gbps is None
    with_ddr = AcceleratorConfig(**{**custom, "resources": {**custom["resources"], "ddr_gbps": 2.0}})
    assert with_ddr.ddr_peak_gbps == 2.0
    assert TimingParams.for_config(with_ddr).stream.ddr_peak_gbps == 2.0


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(storage="ddr"), "storage='ddr' must be one of auto, onchip, stream"),
        (dict(occupancy_mask="yes"), "occupancy_mask='yes' must be true or false"),
        (dict(axi_data_bits=128), "axi_data_bits=128 must be one of 32, 64 .*at most 64 bits"),
        (dict(board="zcu104", axi_data_bits=256), "axi_data_bits=256 must be one of 32, 64, 128"),
        (dict(axi_burst_len=32), "AXI3, at most 16 beats"),
        (dict(board="zcu104", axi_burst_len=48), "axi_burst_len=48 must be a power of two"),
        (dict(axi_outstanding=0), "axi_outstanding=0"),
        (
            dict(board="custom", part="p", resources={"bram36": 1, "uram": 0, "dsp": 1, "ddr_gbps": -1}),
            "ddr_gbps=-1",
        ),
    ],
)
def test_streaming_fields_are_validated(fields, message):
    with pytest.raises(ConfigError, match=message):
        AcceleratorConfig(**fields)


def layer(m, k, density, n, seed=0):
    rng = np.random.default_rng(seed)
    dense = rng.random((m, k)) < density
    cols, rows = np.nonzero(dense.T)
    return encode(rows, cols, np.ones(rows.size, np.uint8), (m, k), n, 4, 4)


def test_auto_storage_keeps_layers_on_chip_while_they_fit():
    # 2 PEs, 8 entries per 64-bit word. Layer a: 16 x 16 dense -> 128 entries per PE = 16 words, 17 pointers.
    # Layer b: 16 x 16 dense again. entry_depth 20 holds a (16 words), not a + b (32): b is streamed.
    # Layer c: 16 x 4 dense -> 32 entries per PE = 4 words, 5 pointers: fits the 4 words a left.
    a, b, c = layer(16, 16, 1.0, 2), layer(16, 16, 1.0, 2), layer(16, 4, 1.0, 2)
    cfg = AcceleratorConfig(n_pes=2, entry_depth=20, ptr_depth=64, act_depth=64)
    assert layer_storage(cfg, [a, b, c]) == ["onchip", "stream", "onchip"]
    # Pointers too: ptr_depth 20 holds a's 17, not b's 17 more, nor c's 5 (3 left).
    assert layer_storage(cfg.replace(entry_depth=100, ptr_depth=20), [a, b, c]) == ["onchip", "stream", "stream"]
    assert layer_storage(cfg.replace(entry_depth=100, ptr_depth=22), [a, b, c]) == ["onchip", "stream", "onchip"]
    assert layer_storage(cfg.replace(storage="onchip"), [a, b, c]) == ["onchip"] * 3
    assert layer_storage(cfg.replace(storage="stream"), [a, b, c]) == ["stream"] * 3


def test_activations_that_do_not_fit_are_refused_with_what_fits():
    big = layer(100, 16, 0.5, 2)  # 50 outputs per PE
    with pytest.raises(CapacityError, match="needs 50 activations per PE, act_depth is 20.*act_depth >= 50"):
        layer_storage(AcceleratorConfig(n_pes=2, act_depth=20), [big])


def test_mask_cost_in_the_estimate_hand_worked():
    c = AcceleratorConfig(n_pes=8, ptr_depth=2048, occupancy_mask=False)
    assert estimate(c).mask_bits == 0 and estimate(c).mask_bram18 == 0 and "occ_mask" not in logic_blocks(c)
    # Window W = N = 8: one word of 8 x 8 bits per window, ceil(2048 / 8) + 8 layers = 264 words
    # = 16896 bits; as 512 x 36 BRAM18s: two side by side.
    on = c.replace(occupancy_mask=True)
    assert (on.occ_depth, on.occ_word_bits) == (264, 64)
    assert (estimate(on).mask_bits, estimate(on).mask_bram18) == (16896, 2)
    # 100 columns: ceil(100 / 8) + 8 = 21 words, fewer than 64: LUTRAM (RAM32M, 6 bits per 4 LUTs).
    small = on.replace(ptr_depth=100)
    assert estimate(small).mask_bram18 == 0
    assert logic_blocks(small)["occ_mask"][1] == 4 * -(-64 // 6) + 8 * 3
    assert estimate(on).to_dict()["mask_bits"] == 16896


def test_tight_memory_error_suggests_dropping_the_mask():
    c = AcceleratorConfig(n_pes=64, ptr_depth=1 << 15, occupancy_mask=True)
    with pytest.raises(CapacityError, match="turn occupancy_mask off"):
        check_fits_board(c)


def run_cli(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_simulate_reports_streamed_figures(tmp_path, capsys):
    cfg = tmp_path / "z2.yaml"
    AcceleratorConfig(n_pes=8, entry_depth=256).to_yaml(cfg)
    argv = ["simulate", "--config", str(cfg), "--rows", "1024", "--cols", "512", "--density", "0.1"]
    rc, out, _ = run_cli(argv + ["--act-density", "0.4", "--json"], capsys)
    assert rc == 0
    d = json.loads(out)
    (lt,) = d["layers"]
    # 1024 x 512 x 0.1 = about 52 K entries, 6.5 K per PE, 820 words: more than entry_depth 256 -> streamed.
    assert lt["storage"] == "stream" and lt["bytes_streamed"] > 0.1 * 1024 * 512 * 0.4
    assert lt["latency_us"] >= max(lt["compute_bound_us"], lt["ddr_bound_us"])
    # ddr_bound is the bytes at min(port 0.8 GB/s, DDR 4.26 GB/s).
    assert lt["ddr_bound_us"] == pytest.approx(lt["bytes_streamed"] / 800.0)
    assert d["total"]["bytes_streamed"] == lt["bytes_streamed"]
    assert d["params"]["stream"]["port_peak_gbps"] == pytest.approx(0.8)
    rc, out, _ = run_cli(argv + ["--storage", "onchip", "--json"], capsys)
    lt = json.loads(out)["layers"][0]
    assert (lt["storage"], lt["bytes_streamed"], lt["ddr_bound_us"]) == ("onchip", 0, 0.0)
    assert lt["compute_bound_us"] == lt["latency_us"]
    rc, out, _ = run_cli(argv + ["--occupancy-mask", "on"], capsys)
    assert rc == 0 and "stream" in out and "never run on a board" in out and "occupancy mask on" in out
    rc, _, err = run_cli(
        ["simulate", "--eie-asic", "--storage", "stream", "--rows", "8", "--cols", "8", "--density", "0.5"], capsys
    )
    assert rc == 2 and "on chip" in err


def test_simulate_mixed_model_auto_storage(tmp_path, capsys):
    from eie.compression.model import CompressedLayer, CompressedModel

    rng = np.random.default_rng(1)
    layers = []
    # fc0 24 x 16 at 25 %: about 96 entries, 24 per PE at N = 4 -> 3 words. fc1 64 x 24 dense:
    # 384 entries per PE -> 48 words. entry_depth 16 holds fc0, not fc1.
    for i, (m, k, d) in enumerate([(24, 16, 0.25), (64, 24, 1.0)]):
        codes = ((rng.random((m, k)) < d) * rng.integers(1, 4, (m, k))).astype(np.uint8)
        layers.append(
            CompressedLayer.from_dense_codes(
                f"fc{i}", codes, np.array([0.0, 0.5, -0.25, 1.0]), np.zeros(m), weight_bits=2
            )
        )
    path = tmp_path / "m.npz"
    CompressedModel(layers).save(path)
    cfg = tmp_path / "c.yaml"
    AcceleratorConfig(n_pes=4, weight_bits=2, entry_depth=16, ptr_depth=64, act_depth=32).to_yaml(cfg)
    rc, out, _ = run_cli(["simulate", str(path), "--config", str(cfg), "--json"], capsys)
    d = json.loads(out)
    assert rc == 0 and [l["storage"] for l in d["layers"]] == ["onchip", "stream"]
    assert d["layers"][0]["bytes_streamed"] == 0 < d["layers"][1]["bytes_streamed"] == d["total"]["bytes_streamed"]
    assert d["total"]["latency_us"] == pytest.approx(sum(l["latency_us"] for l in d["layers"]))


def test_board_storage_sizes_the_default_hardware_for_the_on_chip_layers():
    from eie.hardware.streaming import board_storage
    from eie.performance.synthetic import random_positions

    rng = np.random.default_rng(2)
    r, c = random_positions(2048, 2048, 0.25, rng)
    # About 1 M entries: 131 K per PE at N = 8, 16 K words of 64 bits = 1 Mbit per PE, over 8 PEs far more
    # than a PYNQ-Z2's 140 BRAM36 (5 Mbit): streamed. The 64 x 2048 and 64 x 64 layers fit.
    big = encode(r, c, np.ones(r.size, np.uint8), (2048, 2048), 8, 4, 4)
    small, tail = layer(2048, 64, 0.1, 8), layer(64, 2048, 0.1, 8, seed=1)
    cfg = AcceleratorConfig(n_pes=8)
    storage, sized = board_storage(cfg, [small, big, tail])
    assert storage == ["onchip", "stream", "onchip"]
    words = -(-small.n_entries // 8) + -(-tail.n_entries // 8)
    assert sized.entry_depth == int(words.max()) and sized.ptr_depth == 65 + 2049
    assert sized.act_depth == 256  # 2048 / 8: the streamed layer's activations stay on chip
    assert board_storage(cfg.replace(storage="onchip"), [small, big, tail])[0] == ["onchip"] * 3
    # On a ZCU104 (URAM) the big layer fits too.
    assert board_storage(AcceleratorConfig(board="zcu104", n_pes=8), [small, big, tail])[0] == ["onchip"] * 3
