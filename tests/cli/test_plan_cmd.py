"""``eie plan`` on the command line and from the API, and ``eie deploy --plan`` (issue 22)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eie.cli import main
from eie.compression.weights import DenseLayer, save_weights
from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import estimate


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    import eie

    d = tmp_path_factory.mktemp("plan")
    rng = np.random.default_rng(5)
    save_weights(
        d / "w.npz",
        [
            DenseLayer("fc1", rng.standard_normal((60, 48)), rng.standard_normal(60)),
            DenseLayer("fc2", rng.standard_normal((10, 60)), rng.standard_normal(10), activation="none"),
        ],
    )
    m = eie.load(d / "w.npz")
    m.compress(density=0.3)
    x = rng.uniform(0, 4, (16, 48)) * (rng.random((16, 48)) < 0.5)
    m.calibrate(x)
    m.save(d / "m.npz")
    np.save(d / "x.npy", x)
    return m, d


def test_plan_writes_its_configuration_and_front(net, tmp_path, capsys):
    _, d = net
    cfg, png = tmp_path / "cfg.yaml", tmp_path / "front.png"
    code, out, err = run(capsys, "plan", d / "m.npz", "--board", "pynq-z2", "--calib", d / "x.npy", "--json",
                         "-o", cfg, "--plot", png)  # fmt: skip
    assert code == 0, err
    o = json.loads(out)
    assert o["source"].startswith("modelled") and o["objective"] == "latency"
    assert AcceleratorConfig.from_yaml(cfg).to_dict() == o["config"]
    assert o["config"]["board"] == "pynq-z2" and o["pinned"] == ["--board pynq-z2"]
    assert o["activations"].startswith("representative inputs: 4 of the 16 given")
    # The HP-port count is searched (stream_ports); nothing streams here, so the board's default 1 stays.
    assert o["ports"] == {"field": "stream_ports", "value": 1} and len(o["layers"]) == 2
    assert {l["bound"] for l in o["layers"]} <= {"compute", "load imbalance", "broadcast", "DDR"}
    assert o["front"][0]["latency_us"] == pytest.approx(o["latency_us"])
    assert all(
        a["latency_us"] <= b["latency_us"] and a["cost"] >= b["cost"] for a, b in zip(o["front"], o["front"][1:])
    )
    assert o["latency_us"] <= o["default"]["latency_us"] + 1e-9
    assert png.read_bytes()[:4] == b"\x89PNG"
    # A file eie plan did not write is refused (before the search); its own is replaced.
    mine = tmp_path / "mine.yaml"
    mine.write_text("n_pes: 4\n")
    code, _, err = run(capsys, "plan", d / "m.npz", "--board", "pynq-z2", "-o", mine)
    assert code == 2 and "was not written by eie plan" in err and mine.read_text() == "n_pes: 4\n"
    # Text output over its own file: modelled, the choice, what bounds each layer, the front.
    code, out, _ = run(capsys, "plan", d / "m.npz", "--board", "pynq-z2", "--calib", d / "x.npy", "-o", cfg)
    assert code == 0 and "MODELLED" in out and "Pareto front" in out and "no HP-port field" not in out
    assert "every layer on chip: nothing streamed\n" in out or " HP port(s) (stream_ports)" in out
    assert f"wrote {cfg}" in out and AcceleratorConfig.from_yaml(cfg).to_dict() == o["config"]


def test_plan_keeps_pinned_fields_and_meets_a_target(net, tmp_path, capsys):
    _, d = net
    part = tmp_path / "part.yaml"
    part.write_text("board: zcu104\nn_pes: 4\nfifo_depth: 8\n")
    code, out, err = run(capsys, "plan", d / "m.npz", "--config", part, "--json")
    assert code == 0, err
    o = json.loads(out)
    assert (o["config"]["board"], o["config"]["n_pes"], o["config"]["fifo_depth"]) == ("zcu104", 4, 8)
    assert "n_pes" not in o["searched"] and "index_bits" in o["searched"]
    fast = o
    # The smallest design meeting a target no faster than the fastest: no costlier than the fastest one.
    t = 2 * fast["latency_us"]
    code, out, _ = run(capsys, "plan", d / "m.npz", "--config", part, "--target-latency-us", t, "--json")
    o = json.loads(out)
    assert code == 0 and o["objective"] == "smallest" and o["met_target"]
    assert o["latency_us"] <= t and max(o["utilisation"].values()) <= max(fast["utilisation"].values())
    code, _, err = run(capsys, "plan", d / "m.npz", "--objective", "smallest")
    assert code == 2 and "--target-latency-us" in err


def test_deploy_plan_writes_the_report_and_the_config_deploys(net, tmp_path, capsys):
    _, d = net
    b = tmp_path / "bundle"
    code, out, err = run(capsys, "deploy", d / "m.npz", "--plan", "--board", "pynq-z2", "-o", b, "--json")
    assert code == 0, err
    report = json.loads((b / "plan_report.json").read_text())
    manifest = json.loads((b / "manifest.json").read_text())
    assert "plan_report.json" in manifest["files"] and json.loads(out)["plan"] == "plan_report.json"
    cfg = AcceleratorConfig.from_yaml(b / "config.yaml")
    assert cfg.to_dict() == report["plan"]["config"] == manifest["config"]
    assert report["estimate"] == json.loads(json.dumps(estimate(cfg).to_dict()))
    # The plan's -o file is ready for deploy.
    code, _, err = run(capsys, "plan", d / "m.npz", "--board", "pynq-z2", "-o", tmp_path / "p.yaml")
    assert code == 0, err
    code, out, err = run(
        capsys, "deploy", d / "m.npz", "--config", tmp_path / "p.yaml", "-o", tmp_path / "b2", "--json"
    )
    assert code == 0, err


def test_network_plan(net):
    m, _ = net
    p = m.plan(board="pynq-z2", use=True)
    assert m.fixed_config is p.config and p.config.board == "pynq-z2"
    assert m.verify(np.random.default_rng(0).uniform(0, 4, (2, 48)), backend="emulator")["bit_exact"]
