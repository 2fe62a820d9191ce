"""eie compress --calib, eie deploy and eie run (issue 10): calibration is explicit and stored with the
model, the bundle holds what the board needs, and every backend computes the same integers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eie.cli import main
from eie.compression.model import CompressedModel
from eie.compression.weights import DenseLayer, save_weights


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def weights(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "weights.npz"
    save_weights(
        path,
        [
            DenseLayer("fc1", rng.standard_normal((40, 24)), rng.standard_normal(40)),
            DenseLayer("fc2", rng.standard_normal((10, 40)), rng.standard_normal(10), activation="none"),
        ],
    )
    x = tmp_path / "calib.npy"
    np.save(x, rng.uniform(0, 16, (64, 24)))  # far outside N(0, 1)
    return path, x


def test_calib_is_stored_and_generate_verify_deploy_use_the_same_image(tmp_path, capsys, weights):
    w, x = weights
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "compress", w, "-o", model, "--density", "0.3", "--calib", x)
    assert code == 0 and "calibration from" in out and "warning" not in err
    cal = CompressedModel.load(model).calibration
    assert cal["samples"] == 64 and cal["peaks"][0] == pytest.approx(np.load(x).max())
    code, out, err = run(capsys, "generate", model, "-o", tmp_path / "gen", "--json")
    assert code == 0 and err == "" and json.loads(out)["calibration"]["source"] == "model"
    code, out, err = run(capsys, "deploy", model, "-o", tmp_path / "bundle", "--json")
    assert code == 0 and err == ""
    summary = json.loads(out)
    assert summary["calibration"]["calibrated"] and summary["input"]["range"][1] >= 16
    image = (tmp_path / "bundle" / "model.img").read_bytes()
    assert (tmp_path / "gen" / "image.bin").read_bytes() == image
    # Given the same inputs again, --calib reproduces the stored calibration exactly.
    run(capsys, "generate", model, "-o", tmp_path / "gen2", "--calib", x)
    assert (tmp_path / "gen2" / "image.bin").read_bytes() == image
    # verify --input checks other inputs; they set no scale.
    xs = tmp_path / "other.npy"
    np.save(xs, np.random.default_rng(5).uniform(0, 4, (5, 24)))
    code, out, err = run(capsys, "verify", model, "--backend", "emulator", "--input", xs, "--json")
    report = json.loads(out)
    assert code == 0 and report["bit_exact"] and report["calibration"]["source"] == "model"


def test_without_calibration_every_tool_warns_and_never_uses_random_data(tmp_path, capsys, weights):
    w, _ = weights
    model = tmp_path / "m.npz"
    code, out, _ = run(capsys, "compress", w, "-o", model, "--density", "0.3")
    assert code == 0 and "no --calib" in out
    for argv in (
        ["generate", model, "-o", tmp_path / "g"],
        ["verify", model, "--backend", "emulator"],
        ["deploy", model, "-o", tmp_path / "b"],
    ):
        code, out, err = run(capsys, *argv, "--json")
        assert code == 0, err
        assert len(err.splitlines()) == 1 and "warning: no calibration" in err and "+-128" in err
        cal = json.loads(out)["calibration"]
        assert cal["source"] == "default" and not cal["calibrated"] and cal["warning"]
        assert cal["input_range"] == [-128.0, 128.0 - 2.0**-8]
    x = tmp_path / "x.npy"
    np.save(x, np.ones((2, 24)))
    code, _, err = run(capsys, "run", tmp_path / "b", "--input", x)
    assert code == 0 and "warning: no calibration" in err
    # Two generate runs with different seeds build the same image: no random calibration.
    run(capsys, "generate", model, "-o", tmp_path / "g2", "--seed", "7")
    assert (tmp_path / "g" / "image.bin").read_bytes() == (tmp_path / "g2" / "image.bin").read_bytes()


def test_deploy_then_run_on_emulator_and_csim_is_bit_exact(tmp_path, capsys, weights):
    w, x = weights
    model = tmp_path / "m.npz"
    run(capsys, "compress", w, "-o", model, "--density", "0.3", "--calib", x)
    bundle = tmp_path / "bundle"
    assert run(capsys, "deploy", model, "-o", bundle, "--vectors", "5")[0] == 0
    for name in ("model.img", "config.yaml", "manifest.json", "test_inputs.npy", "test_expected_int.npy"):
        assert (bundle / name).is_file(), name
    assert (bundle / "build" / "eie_top.cpp").is_file() and (bundle / "build" / "params.tcl").is_file()
    outs = {}
    for backend in ("emulator", "csim"):
        y = tmp_path / f"y_{backend}.npy"
        code, out, err = run(
            capsys, "run", bundle, "--input", bundle / "test_inputs.npy", "--backend", backend, "-o", y, "--json"
        )
        assert code == 0, err
        rep = json.loads(out)
        assert rep["vectors"] == 5 and len(rep["latency"]["per_vector_s"]) == 5
        assert "wall-clock" in rep["latency"]["measured"]
        outs[backend] = np.load(y)
    assert np.array_equal(outs["emulator"], outs["csim"])
    assert np.array_equal(outs["csim"], np.load(bundle / "test_expected.npy"))
    code, _, err = run(capsys, "run", bundle, "--input", bundle / "test_inputs.npy", "--backend", "board")
    assert code == 2 and "needs pynq" in err
    # --batch: N vectors per kernel start through the driver (cosim: the board's driver over the C-simulation);
    # the same outputs, and each start's n_vectors is the batch (the last one the remainder).
    from eie.board import cosim

    seen = []
    execute = cosim.CSimRegisters._execute

    def spy(self):
        seen.append(self.regs.get("n_vectors"))
        return execute(self)

    cosim.CSimRegisters._execute = spy
    try:
        y = tmp_path / "y_batch.npy"
        code, out, err = run(capsys, "run", bundle, "--input", bundle / "test_inputs.npy", "--backend", "cosim",
                             "--batch", "2", "-o", y, "--json")  # fmt: skip
    finally:
        cosim.CSimRegisters._execute = execute
    assert code == 0, err
    rep = json.loads(out)
    assert rep["batch"] == 2 and len(rep["latency"]["per_vector_s"]) == 5
    assert seen[1:] == [2, 2, 1]  # after the load (n_vectors 0): 5 vectors in starts of 2, 2 and 1
    assert np.array_equal(np.load(y), outs["csim"])
    # Without --backend: on a host (no pynq device, or no overlay) the emulator, and it says why.
    code, out, err = run(capsys, "run", bundle, "--input", bundle / "test_inputs.npy")
    assert code == 0 and out.splitlines()[1].startswith("emulator (the bundle holds no overlay): 5 vectors")
    assert run(capsys, "run", bundle, "--input", bundle / "test_inputs.npy", "--batch", "0")[0] == 2


def test_run_refuses_a_tampered_bundle_naming_the_file(tmp_path, capsys, weights):
    w, x = weights
    model = tmp_path / "m.npz"
    run(capsys, "compress", w, "-o", model, "--density", "0.3", "--calib", x)
    bundle = tmp_path / "bundle"
    run(capsys, "deploy", model, "-o", bundle, "--vectors", "2")
    img = bundle / "model.img"
    data = bytearray(img.read_bytes())
    data[200] ^= 0x10
    img.write_bytes(bytes(data))
    code, _, err = run(capsys, "run", bundle, "--input", x)
    assert code == 2 and "model.img" in err and "sha256 differs" in err


def test_deploy_refuses_a_users_non_empty_directory(tmp_path, capsys, weights):
    w, x = weights
    model = tmp_path / "m.npz"
    run(capsys, "compress", w, "-o", model, "--density", "0.3", "--calib", x)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, "deploy", model, "-o", mine)
    assert code == 2 and "not empty and was not created by eie" in err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    # A bundle eie wrote may be rewritten.
    assert run(capsys, "deploy", model, "-o", tmp_path / "b")[0] == 0
    assert run(capsys, "deploy", model, "-o", tmp_path / "b")[0] == 0


def test_deploy_overlay_needs_a_bit_and_its_hwh(tmp_path, capsys, weights):
    w, x = weights
    model = tmp_path / "m.npz"
    run(capsys, "compress", w, "-o", model, "--density", "0.3", "--calib", x)
    from overlay_files import write_overlay

    from eie.hardware.boards import BOARDS, DEFAULT_BOARD
    from eie.kernel.abi import REGISTERS, VLNV

    ov = tmp_path / "ov"
    bit, hwh = write_overlay(ov, BOARDS[DEFAULT_BOARD].part)
    good_bit, good_hwh = bit.read_bytes(), hwh.read_text()
    hwh.unlink()
    code, _, err = run(capsys, "deploy", model, "-o", tmp_path / "b", "--overlay", ov)
    assert code == 2 and "has no eie.hwh" in err and not (tmp_path / "b").exists()

    # A fake .bit / .hwh is refused, naming what is wrong; nothing is written.
    def refused(expect, **kw):
        write_overlay(ov, kw.pop("part", BOARDS[DEFAULT_BOARD].part), **kw)
        for path, text in kw.get("files", {}).items():
            (ov / path).write_bytes(text)
        code, _, err = run(capsys, "deploy", model, "-o", tmp_path / "b", "--overlay", ov)
        assert code == 2 and expect in err and "--overlay does not fit this kernel" in err, err
        assert not (tmp_path / "b").exists()

    (ov / "eie.bit").write_bytes(b"bit!")
    (ov / "eie.hwh").write_text(good_hwh)
    code, _, err = run(capsys, "deploy", model, "-o", tmp_path / "b", "--overlay", ov)
    assert code == 2 and "eie.bit: not a Xilinx bitstream" in err
    (ov / "eie.bit").write_bytes(good_bit[:-8])  # cut short
    code, _, err = run(capsys, "deploy", model, "-o", tmp_path / "b", "--overlay", ov)
    assert code == 2 and "cut short" in err
    (ov / "eie.bit").write_bytes(good_bit)
    (ov / "eie.hwh").write_text("<xml/>")
    code, _, err = run(capsys, "deploy", model, "-o", tmp_path / "b", "--overlay", ov)
    assert code == 2 and "eie.hwh: not a hardware handoff (.hwh): no SYSTEMINFO" in err
    (ov / "eie.hwh").write_text("<EDKSYSTEM>")
    code, _, err = run(capsys, "deploy", model, "-o", tmp_path / "b", "--overlay", ov)
    assert code == 2 and "not valid XML" in err
    refused("for part 7z020clg400-1, the configuration's board zcu104 has", part="xc7z020clg400-1")
    refused("holds no EIE kernel", vlnv="xilinx.com:hls:other_top:1.0")
    refused(f"the kernel IP is version 1.0, this toolkit's is {VLNV.rpartition(':')[2]}",
            vlnv=VLNV.rpartition(":")[0] + ":1.0")  # fmt: skip
    refused("the kernel lacks the registers y_out_2", registers={k: v for k, v in REGISTERS.items() if k != "y_out_2"})
    refused("register mode is at 0x1c, the driver's is at 0x18", registers={**REGISTERS, "mode": 0x1C})
    refused("the kernel instance is named 'eie_0'", instance="eie_0")

    write_overlay(ov, BOARDS[DEFAULT_BOARD].part)
    code, out, _ = run(capsys, "deploy", model, "-o", tmp_path / "b", "--overlay", ov, "--json")
    assert code == 0 and json.loads(out)["overlay"] == {"bit": "eie.bit", "hwh": "eie.hwh"}
    assert (tmp_path / "b" / "eie.bit").read_bytes() == good_bit


def test_digits_on_raw_pixels_score_within_a_point_through_the_image(tmp_path, capsys):
    """The issue's case: an MLP on the digits' 0-16 pixel values, compressed with --calib on its training
    inputs; the image generate writes, run through the bundle on the emulator and the C-simulation, scores
    within 1 point of the compressed model's float reference, with identical integers on both."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    d = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(d.data, d.target, test_size=0.3, stratify=d.target, random_state=0)
    clf = MLPClassifier((64,), max_iter=300, random_state=0).fit(x_tr, y_tr)
    w = tmp_path / "digits.npz"
    save_weights(
        w,
        [
            DenseLayer("fc1", clf.coefs_[0].T, clf.intercepts_[0]),
            DenseLayer("fc2", clf.coefs_[1].T, clf.intercepts_[1], activation="none"),
        ],
    )
    for name, a in {"x_train": x_tr, "x_test": x_te, "y_test": y_te}.items():
        np.save(tmp_path / f"{name}.npy", a)
    model = tmp_path / "m.npz"
    code, _, err = run(
        capsys, "compress", w, "-o", model, "--density", "0.7", "--weight-bits", "6",
        "--calib", tmp_path / "x_train.npy",
    )  # fmt: skip
    assert code == 0, err
    ref = float(np.mean(CompressedModel.load(model).forward(x_te).argmax(axis=1) == y_te))
    assert ref > 0.9
    run(capsys, "generate", model, "-o", tmp_path / "gen")
    assert run(capsys, "deploy", model, "-o", tmp_path / "bundle")[0] == 0
    assert (tmp_path / "gen" / "image.bin").read_bytes() == (tmp_path / "bundle" / "model.img").read_bytes()
    ys = {}
    for backend in ("emulator", "csim"):
        y = tmp_path / f"y_{backend}.npy"
        code, out, err = run(
            capsys, "run", tmp_path / "bundle", "--input", tmp_path / "x_test.npy", "--labels",
            tmp_path / "y_test.npy", "--backend", backend, "-o", y, "--json",
        )  # fmt: skip
        assert code == 0 and err == "", err
        acc = json.loads(out)["accuracy"]
        assert abs(acc - ref) <= 0.01, (backend, acc, ref)
        ys[backend] = np.load(y)
    assert np.array_equal(ys["emulator"], ys["csim"])


def _manifest(bundle):
    return json.loads((bundle / "manifest.json").read_text())


def test_redeploy_removes_the_previous_deploys_stale_files_and_nothing_else(tmp_path, capsys, weights):
    from eie.board.bundle import Bundle, sha256_file

    w, x = weights
    model = tmp_path / "m.npz"
    run(capsys, "compress", w, "-o", model, "--density", "0.3", "--calib", x)
    from overlay_files import write_overlay

    from eie.hardware.boards import BOARDS, DEFAULT_BOARD

    ov = tmp_path / "ov"
    write_overlay(ov, BOARDS[DEFAULT_BOARD].part)
    b = tmp_path / "b"
    assert run(capsys, "deploy", model, "-o", b, "--overlay", ov)[0] == 0
    assert {"eie.bit", "eie.hwh"} <= set(_manifest(b)["files"])
    # What an older deploy also wrote (a kernel source this renderer no longer writes), one of them
    # changed by hand since; and what the user added: notes, a Vitis HLS project built in build/.
    m = _manifest(b)
    for name, text in (("build/eie_old.hpp", "old"), ("build/eie_old2.hpp", "old2")):
        (b / name).write_text(text)
        m["files"][name] = sha256_file(b / name)
    (b / "manifest.json").write_text(json.dumps(m))
    (b / "build" / "eie_old2.hpp").write_text("edited by hand")
    (b / "notes.txt").write_text("mine")
    (b / "build" / "eie_prj" / "solution1").mkdir(parents=True)
    (b / "build" / "eie_prj" / "solution1" / "csynth.log").write_text("hours of synthesis")

    code, out, err = run(capsys, "deploy", model, "-o", b, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["removed"] == ["build/eie_old.hpp", "eie.bit", "eie.hwh"]
    assert summary["kept"] == ["build/eie_old2.hpp"] and summary["overlay"] is None
    assert not (b / "eie.bit").exists() and not (b / "eie.hwh").exists() and not (b / "build/eie_old.hpp").exists()
    assert (b / "build" / "eie_old2.hpp").read_text() == "edited by hand"
    assert (b / "notes.txt").read_text() == "mine"
    assert (b / "build" / "eie_prj" / "solution1" / "csynth.log").read_text() == "hours of synthesis"
    files = set(_manifest(b)["files"])
    assert not files & {"eie.bit", "eie.hwh", "notes.txt", "build/eie_old.hpp", "build/eie_old2.hpp"}
    assert not any(f.startswith("build/eie_prj") for f in files)
    assert {"model.img", "config.yaml", "test_inputs.npy", "build/eie_top.cpp", "build/params.tcl"} <= files
    bundle = Bundle.open(b)
    assert bundle.manifest["overlay"] is None
    with pytest.raises(Exception, match="holds no overlay"):
        bundle.overlay()
    # The text output says what went.
    (b / "build" / "eie_old3.hpp").write_text("x")
    m = _manifest(b)
    m["files"]["build/eie_old3.hpp"] = sha256_file(b / "build" / "eie_old3.hpp")
    (b / "manifest.json").write_text(json.dumps(m))
    code, out, _ = run(capsys, "deploy", model, "-o", b)
    assert code == 0 and "removed from the previous deploy: build/eie_old3.hpp" in out


def test_redeploy_refuses_to_overwrite_files_eie_did_not_write(tmp_path, capsys, weights):
    w, x = weights
    model = tmp_path / "m.npz"
    run(capsys, "compress", w, "-o", model, "--density", "0.3", "--calib", x)
    b = tmp_path / "b"
    assert run(capsys, "deploy", model, "-o", b)[0] == 0
    before = _manifest(b)
    # The user's own eie.bit in the bundle (not in its manifest): an --overlay of that name is refused.
    (b / "eie.bit").write_bytes(b"the user's")
    from overlay_files import write_overlay

    from eie.hardware.boards import BOARDS, DEFAULT_BOARD

    ov = tmp_path / "ov"
    write_overlay(ov, BOARDS[DEFAULT_BOARD].part)
    code, _, err = run(capsys, "deploy", model, "-o", b, "--overlay", ov)
    assert code == 2 and "eie.bit" in err and "not a file the previous 'eie deploy' wrote" in err
    assert (b / "eie.bit").read_bytes() == b"the user's" and _manifest(b) == before
    assert not (b / "eie.hwh").exists()
    # --force writes it, and the bundle then lists it.
    assert run(capsys, "deploy", model, "-o", b, "--overlay", ov, "--force")[0] == 0
    assert (b / "eie.bit").read_bytes() == (ov / "eie.bit").read_bytes() and "eie.bit" in _manifest(b)["files"]
    # A build/ that eie did not write (no mark), in a directory another eie command wrote: refused.
    g = tmp_path / "g"
    assert run(capsys, "generate", model, "-o", g)[0] == 0
    (g / "build").mkdir()
    (g / "build" / "mine.cpp").write_text("int main() {}")
    code, _, err = run(capsys, "deploy", model, "-o", g)
    assert code == 2 and "was not written by eie" in err
    assert sorted(p.name for p in (g / "build").iterdir()) == ["mine.cpp"] and not (g / "manifest.json").exists()


def test_run_takes_the_bundles_config_and_refuses_another(tmp_path, capsys, weights):
    from eie.hardware.config import AcceleratorConfig

    w, x = weights
    model = tmp_path / "m.npz"
    run(capsys, "compress", w, "-o", model, "--density", "0.3", "--calib", x)
    cfg = tmp_path / "kv.yaml"
    cfg.write_text("# my board\nboard: kv260\nn_pes: 8\nclock_mhz: 150\n")
    b = tmp_path / "b"
    assert run(capsys, "deploy", model, "-o", b, "--config", cfg, "--vectors", "3")[0] == 0
    inputs = b / "test_inputs.npy"
    # Without --config: the bundle's hardware, stated.
    code, out, err = run(capsys, "run", b, "--input", inputs)
    assert code == 0, err
    assert out.splitlines()[0] == f"hardware: kv260, 8 PEs, 150 MHz (the bundle's configuration, {b / 'config.yaml'})"
    # The file it was deployed with (other bytes: comments, missing defaults), and the bundle's own: accepted.
    for given in (cfg, b / "config.yaml"):
        code, out, err = run(capsys, "run", b, "--input", inputs, "--config", given, "--json", "-o", tmp_path / "y.npy")
        assert code == 0, err
        hw = json.loads(out)["hardware"]
        assert (hw["board"], hw["n_pes"], hw["clock_mhz"], hw["source"]) == ("kv260", 8, 150.0, "config")
        assert hw["config"] == str(given)
        assert np.array_equal(np.load(tmp_path / "y.npy"), np.load(b / "test_expected.npy"))
    code, out, _ = run(capsys, "run", b, "--input", inputs, "--config", cfg)
    assert out.splitlines()[0] == f"hardware: kv260, 8 PEs, 150 MHz (from {cfg})"
    # Another configuration: refused, naming what differs and the hashes.
    other = tmp_path / "other.yaml"
    AcceleratorConfig(board="kv260", n_pes=4, clock_mhz=150).to_yaml(other)
    code, out, err = run(capsys, "run", b, "--input", inputs, "--config", other, "-o", tmp_path / "z.npy")
    assert code == 2 and out == ""
    assert "differs from the bundle's config.yaml" in err and "n_pes: 4 here, 8 in the bundle" in err
    assert "sha256" in err and not (tmp_path / "z.npy").exists()
    code, _, err = run(capsys, "run", b, "--input", inputs, "--config", tmp_path / "missing.yaml")
    assert code == 2 and "no such file" in err
