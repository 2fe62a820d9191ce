"""The one default hardware: inspect, simulate, generate, verify and demo take
--config, share one default without it, and every output states the hardware."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eie.cli import main
from eie.compression.weights import DenseLayer, save_weights
from eie.errors import ConfigError
from eie.hardware.boards import BOARDS, DEFAULT_BOARD, DEFAULT_PES
from eie.hardware.config import AcceleratorConfig
from eie.hardware.target import default_config, describe_hardware, hardware_line, quantized_model

DEFAULT = (DEFAULT_BOARD, DEFAULT_PES, BOARDS[DEFAULT_BOARD].clock_mhz)
DEFAULT_LINE = f"hardware: {DEFAULT_BOARD}, {DEFAULT_PES} PEs, {DEFAULT[2]:g} MHz (default; --config to change)"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def model(tmp_path, capsys):
    rng = np.random.default_rng(0)
    weights = tmp_path / "weights.npz"
    save_weights(
        weights,
        [
            DenseLayer("fc1", rng.standard_normal((40, 24)), rng.standard_normal(40)),
            DenseLayer("fc2", rng.standard_normal((10, 40)), rng.standard_normal(10)),
        ],
    )
    path = tmp_path / "model.npz"
    assert run(capsys, "compress", weights, "-o", path, "--density", "0.2")[0] == 0
    return path


@pytest.fixture
def config(tmp_path):
    """Another board, PE count and clock than the default."""
    cfg = AcceleratorConfig(board="ultra96v2", n_pes=4, clock_mhz=150)
    assert (cfg.board, cfg.n_pes, cfg.clock) != DEFAULT
    path = tmp_path / "small.yaml"
    cfg.to_yaml(path)
    return path


def commands(model, out_dir):
    return {
        "inspect": ["inspect", model],
        "simulate": ["simulate", model],
        "generate": ["generate", model, "-o", out_dir],
        "generate-no-model": ["generate", "-o", out_dir],
        "verify": ["verify", model, "--backend", "emulator", "--vectors", "3"],
    }


def hardware_of(report: dict) -> tuple:
    hw = report["hardware"]
    return hw["board"], hw["n_pes"], hw["clock_mhz"]


def test_every_command_without_config_reports_the_one_default(tmp_path, model, capsys):
    seen = {}
    for name, argv in commands(model, tmp_path / "gen").items():
        code, out, err = run(capsys, *argv, "--json")
        assert code == 0, (name, err)
        report = json.loads(out)
        seen[name] = hardware_of(report)
        assert report["hardware"]["source"] == "default" and report["hardware"]["config"] is None
        code, out, _ = run(capsys, *argv)
        assert code == 0 and DEFAULT_LINE in [l.strip() for l in out.splitlines()[:2]], (name, out)
    assert set(seen.values()) == {DEFAULT}, seen


def test_every_command_with_config_reports_the_config(tmp_path, model, config, capsys):
    cfg = AcceleratorConfig.from_yaml(config)
    want = (cfg.board, cfg.n_pes, cfg.clock)
    line = f"hardware: ultra96v2, 4 PEs, 150 MHz (from {config})"
    for name, argv in commands(model, tmp_path / "gen").items():
        code, out, err = run(capsys, *argv, "--config", config, "--json")
        assert code == 0, (name, err)
        report = json.loads(out)
        assert hardware_of(report) == want, name
        assert report["hardware"]["source"] == "config" and report["hardware"]["config"] == str(config)
        code, out, _ = run(capsys, *argv, "--config", config)
        assert code == 0 and line in out, (name, out)


def test_commands_use_the_configuration(tmp_path, model, config, capsys):
    # inspect lays the storage out for the configuration's N and index bits.
    code, out, _ = run(capsys, "inspect", model, "--config", config, "--json")
    assert json.loads(out)["n_pes"] == 4
    # simulate: its N, FIFO, clock and LNZD window (N when not set).
    code, out, _ = run(capsys, "simulate", model, "--config", config, "--json")
    d = json.loads(out)
    assert d["params"] == {
        "pes": 4,
        "fifo": 32,
        "index_bits": 4,
        "clock_mhz": 150.0,
        "lnzd_window": 4,
        "row_map": "interleave",
        "occupancy_mask": True,
        # The Ultra96-V2's streaming master (zynqmp defaults) at 150 MHz: 16 bytes x 150 MHz; LPDDR4 4 x 2133 MB/s.
        # Two HP ports (the zynqmp default): 2 x 2.4 GB/s, under the DDR's 8.532.
        "stream": {
            "ports": 2,
            "stream_bits": 128,
            "axi_bits": 128,
            "burst_len": 64,
            "outstanding": 16,
            "latency_cycles": 64,
            "port_peak_gbps": pytest.approx(2.4),
            "ports_peak_gbps": pytest.approx(4.8),
            "ddr_peak_gbps": pytest.approx(8.532),
        },
    }
    assert d["total"]["latency_us"] == pytest.approx(d["total"]["cycles"] / 150.0)
    # generate renders for it; verify quantises for it.
    code, out, _ = run(capsys, "generate", model, "-o", tmp_path / "g", "--config", config, "--json")
    s = json.loads(out)
    assert (s["board"], s["n_pes"], s["clock_mhz"]) == ("ultra96v2", 4, 150.0)
    assert "set EIE_CLOCK_PERIOD 6.667" in (tmp_path / "g" / "params.tcl").read_text()
    code, out, _ = run(capsys, "verify", model, "--backend", "emulator", "--config", config, "--json")
    assert code == 0 and json.loads(out)["config"]["n_pes"] == 4


def test_simulate_overrides_and_eie_asic(tmp_path, model, config, capsys):
    code, out, _ = run(capsys, "simulate", model, "--config", config, "--pes", "2", "--clock-mhz", "100", "--json")
    d = json.loads(out)
    assert hardware_of(d) == ("ultra96v2", 2, 100.0)
    assert d["hardware"]["overrides"] == ["--pes 2", "--clock-mhz 100"]
    assert d["params"]["lnzd_window"] == 2  # an unset window follows N
    code, out, _ = run(capsys, "simulate", model, "--pes", "4")
    assert "hardware: zcu104, 4 PEs, 200 MHz (default with --pes 4; --config to change)" in out
    # A window set in the configuration stays when N is overridden.
    wide = tmp_path / "wide.yaml"
    AcceleratorConfig(board="ultra96v2", n_pes=4, lnzd_window=8).to_yaml(wide)
    code, out, _ = run(capsys, "simulate", model, "--config", wide, "--pes", "2", "--json")
    assert json.loads(out)["params"]["lnzd_window"] == 8
    # The EIE ASIC is an explicit choice: 64 PEs, 800 MHz, free zero skipping.
    code, out, _ = run(capsys, "simulate", model, "--eie-asic", "--json")
    d = json.loads(out)
    assert hardware_of(d) == ("EIE ASIC", 64, 800.0) and d["hardware"]["source"] == "--eie-asic"
    assert d["params"]["lnzd_window"] is None and d["params"]["fifo"] == 8 and d["params"]["index_bits"] == 4
    code, out, _ = run(capsys, "simulate", model, "--eie-asic")
    assert "hardware: EIE ASIC, 64 PEs, 800 MHz (--eie-asic)" in out and "free zero skipping" in out
    code, _, err = run(capsys, "simulate", model, "--eie-asic", "--config", config)
    assert code == 2 and "not both" in err
    # --ports: the HP ports of the streamed layers; four 2.4 GB/s ports are 9.6 GB/s, over the DDR's 8.532.
    code, out, _ = run(capsys, "simulate", model, "--config", config, "--ports", "4", "--json")
    d = json.loads(out)
    assert (d["params"]["stream"]["ports"], d["hardware"]["overrides"]) == (4, ["--ports 4"])
    assert d["params"]["stream"]["ports_peak_gbps"] == pytest.approx(8.532)
    code, out, _ = run(capsys, "simulate", model, "--config", config, "--ports", "4")
    assert "streaming: 4 HP port(s) (column j over port j mod 4)" in out
    code, _, err = run(capsys, "simulate", model, "--eie-asic", "--ports", "2")
    assert code == 2 and "--ports needs a configuration" in err


def test_inspect_overrides(model, config, capsys):
    code, out, _ = run(capsys, "inspect", model, "--config", config, "--pes", "1", "--index-bits", "3", "--json")
    d = json.loads(out)
    assert (d["n_pes"], d["index_bits"]) == (1, 3)
    assert hardware_of(d) == ("ultra96v2", 1, 150.0) and d["hardware"]["overrides"] == ["--pes 1", "--index-bits 3"]


def test_bad_config_is_a_one_line_error(tmp_path, model, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("board: zcu104\nn_pes: 0\n")
    for argv in commands(model, tmp_path / "gen").values():
        code, out, err = run(capsys, *argv, "--config", bad)
        assert code == 2 and out == "" and err.count("\n") == 1 and "n_pes" in err, argv


# --- the library ------------------------------------------------------------


def test_default_config_is_the_boards_default():
    cfg = default_config()
    assert (cfg.board, cfg.n_pes, cfg.clock) == DEFAULT
    assert default_config(n_pes=4).n_pes == 4


def test_quantized_model_sizes_the_default_and_checks_a_config(model, config):
    cfg, qm, xs = quantized_model(model, vectors=3)
    assert (cfg.board, cfg.n_pes) == (DEFAULT_BOARD, DEFAULT_PES) and qm.params == cfg.to_hwparams()
    assert xs.shape == (16, 24)  # at least 16 test vectors (they set no scale)
    assert cfg.entry_depth < default_config().entry_depth  # sized from the model
    given, _, _ = quantized_model(model, config)
    assert given == AcceleratorConfig.from_yaml(config)  # a given configuration is used as it is
    with pytest.raises(Exception, match="does not fit"):
        quantized_model(model, AcceleratorConfig.from_yaml(config).replace(entry_depth=1))


def test_hardware_line():
    hw = describe_hardware(default_config())
    assert hardware_line(hw) == DEFAULT_LINE
    hw = describe_hardware(AcceleratorConfig(board="kv260", n_pes=8), "k.yaml", ["--pes 8"])
    assert hardware_line(hw) == "hardware: kv260, 8 PEs, 200 MHz (from k.yaml with --pes 8)"


# --- eie demo: the configuration is settled before training -----------------


def test_demo_hardware_default_config_and_overrides(tmp_path, config):
    from eie.demo import DemoOptions, hardware

    cfg, hw = hardware(DemoOptions())
    assert (cfg.board, cfg.n_pes, cfg.clock) == DEFAULT and cfg.ternary
    assert hw["source"] == "default"
    ternary = tmp_path / "ternary.yaml"
    AcceleratorConfig(board="kv260", n_pes=8, clock_mhz=150, ternary=True).to_yaml(ternary)
    cfg, hw = hardware(DemoOptions(config_path=str(ternary)))
    assert hardware_of({"hardware": hw}) == ("kv260", 8, 150.0) and hw["config"] == str(ternary)
    cfg, hw = hardware(DemoOptions(config_path=str(ternary), board="zcu104", n_pes=4))
    assert (cfg.board, cfg.n_pes, cfg.clock) == ("zcu104", 4, 200.0)  # the board's own clock
    assert hw["overrides"] == ["--board zcu104", "--pes 4"]
    with pytest.raises(ConfigError, match="ternary"):
        hardware(DemoOptions(config_path=str(config)))
    with pytest.raises(ConfigError, match="not known"):
        hardware(DemoOptions(board="zcu999"))


def test_demo_refuses_a_bad_config_before_training(config, capsys):
    code, out, err = run(capsys, "demo", "--config", config, "--json")
    assert code == 2 and out == "" and err.count("\n") == 1 and "ternary" in err
