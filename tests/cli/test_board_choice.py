"""One board choice sized for the model, and one bundle (issue 21): ``eie deploy --board`` and
``Network.deploy(board=...)`` choose the same configuration and write the same bundle, which ``eie run``
reads; a failed deploy leaves nothing behind; a custom top is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

import eie
from eie.cli import main
from eie.compression.weights import DenseLayer, save_weights
from eie.errors import CapacityError, ConfigError
from eie.hardware.boards import BOARDS
from eie.hardware.choice import PE_CANDIDATES, choose_config
from eie.hardware.resources import check_fits_board


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def net(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "w.npz"
    save_weights(
        path,
        [
            DenseLayer("fc1", rng.standard_normal((100, 64)), rng.standard_normal(100)),
            DenseLayer("fc2", rng.standard_normal((10, 100)), rng.standard_normal(10), activation="none"),
        ],
    )
    m = eie.load(path)
    m.compress(density=0.3)
    m.calibrate(rng.uniform(0, 4, (64, 64)))
    saved = tmp_path / "m.npz"
    m.save(saved)
    return m, saved, rng


def test_the_largest_pe_count_that_fits_is_chosen(net):
    m, saved, _ = net
    c = choose_config(saved, board="pynq-z2")
    # With one loader for all PEs (issue 19) 16 PEs fit the Z-7020 for this small model, 64 do not
    # (logic): the choice is the largest candidate that fits, worked by the estimate.
    fits = [n for n in PE_CANDIDATES if _fits(c.config.replace(n_pes=n))]
    assert c.config.n_pes == max(fits) == 16 and not _fits(c.config.replace(n_pes=64))
    assert c.config.board == "pynq-z2" and c.pinned == ["--board pynq-z2"]
    assert c.chosen[0].startswith("n_pes=16: the largest PE count that fits pynq-z2 (tried 16")
    assert c.chosen[-1].startswith("sized to the model: entry_depth=")
    # The accumulator is sized to the model too (issue 20), and said so when it is not the default 32.
    assert any(s.startswith(f"acc_bits={c.config.acc_bits}:") for s in c.chosen) == (c.config.acc_bits != 32)
    # The depths are the model's, not the defaults.
    assert c.config.entry_depth < 4096 and c.config.act_depth < 512
    # Pinned: kept, even where a larger one would fit.
    assert choose_config(saved, board="pynq-z2", n_pes=2).config.n_pes == 2
    with pytest.raises(CapacityError, match="does not fit pynq-z2"):
        choose_config(saved, board="pynq-z2", n_pes=64)
    with pytest.raises(ConfigError, match="'nope' is not known"):
        choose_config(saved, board="nope")


def _fits(cfg) -> bool:
    try:
        check_fits_board(cfg)
        return True
    except CapacityError:
        return False


def test_a_yaml_board_alone_chooses_as_board_does(net, tmp_path):
    _, saved, _ = net
    y = tmp_path / "z2.yaml"
    y.write_text("board: pynq-z2\n")
    assert choose_config(saved, y).config == choose_config(saved, board="pynq-z2").config
    # A file that pins the PE count and one depth: the other depths are sized, the pinned ones kept.
    y.write_text("board: pynq-z2\nn_pes: 4\nptr_depth: 300\n")
    c = choose_config(saved, y)
    assert (c.config.n_pes, c.config.ptr_depth) == (4, 300)
    assert c.config.entry_depth == choose_config(saved, board="pynq-z2", n_pes=4).config.entry_depth


def test_cli_and_api_deploy_the_same_bundle_and_run_reads_both(net, tmp_path, capsys):
    m, saved, rng = net
    a, b = tmp_path / "cli", tmp_path / "api"
    code, out, err = run(capsys, "deploy", saved, "--board", "pynq-z2", "-o", a)
    assert code == 0, err
    assert "chose n_pes=16: the largest PE count that fits pynq-z2" in err and "sized to the model" in err
    assert "hardware: pynq-z2, 16 PEs" in out and "--backend board|emulator" in out and "csim" not in out
    res = m.deploy(b, board="pynq-z2")
    assert res["n_pes"] == 16 and res["board"] == "pynq-z2"
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma["config"] == mb["config"] and ma["calibration"] == mb["calibration"]
    assert ma["calibration"]["source"] == "model"  # the network's calibration went with it
    assert sorted(ma["files"]) == sorted(mb["files"])
    assert (a / "model.img").read_bytes() == (b / "model.img").read_bytes()
    x = rng.uniform(0, 4, (5, 64))
    np.save(tmp_path / "x.npy", x)
    for d in (a, b):
        for backend in ("emulator", "csim"):
            code, _, err = run(capsys, "run", d, "--input", tmp_path / "x.npy", "--backend", backend,
                               "-o", tmp_path / f"y_{d.name}_{backend}.npy")  # fmt: skip
            assert code == 0, err
    ys = [np.load(tmp_path / f"y_{d}_{k}.npy") for d in ("cli", "api") for k in ("emulator", "csim")]
    assert all(np.array_equal(ys[0], y) for y in ys[1:]) and np.unique(ys[0]).size > 10


def test_a_failed_deploy_leaves_nothing(net, tmp_path, capsys):
    m, saved, _ = net
    out = tmp_path / "new" / "bundle"
    code, _, err = run(capsys, "deploy", saved, "--board", "pynq-z2", "--pes", "64", "-o", out)
    assert code != 0 and "does not fit pynq-z2" in err
    assert not out.exists()
    with pytest.raises(CapacityError):
        m.deploy(out, board="pynq-z2", n_pes=64)
    assert not out.exists()


def test_a_custom_top_is_refused_for_the_board(net, tmp_path, capsys):
    _, saved, _ = net
    y = tmp_path / "top.yaml"
    y.write_text("top: my_eie\n")
    code, _, err = run(capsys, "deploy", saved, "--config", y, "-o", tmp_path / "b")
    assert code == 2 and "top='my_eie'" in err and "binds the IP eie-pynq.org:hls:eie_top:" in err
    assert not (tmp_path / "b").exists()


def test_board_option_on_every_command_that_takes_config(net, tmp_path, capsys):
    _, saved, _ = net
    for argv in (
        ("inspect", saved, "--board", "pynq-z2", "--json"),
        ("simulate", saved, "--board", "pynq-z2", "--json"),
        ("verify", saved, "--board", "pynq-z2", "--vectors", "2", "--json"),
        ("generate", saved, "--board", "pynq-z2", "-o", tmp_path / "g", "--json"),
    ):
        code, out, err = run(capsys, *argv)
        assert code == 0, (argv, err)
        hw = json.loads(out.splitlines()[-1])["hardware"]
        assert hw["board"] == "pynq-z2" and "--board pynq-z2" in hw["overrides"], (argv, hw)
        if argv[0] in ("verify", "generate"):
            assert hw["n_pes"] == 16 and "chose n_pes=16" in err
    assert set(BOARDS) >= {"pynq-z2"}
