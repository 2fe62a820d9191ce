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
    ov = tmp_path / "ov"
    ov.mkdir()
    (ov / "eie.bit").write_bytes(b"\x00bit")
    code, _, err = run(capsys, "deploy", model, "-o", tmp_path / "b", "--overlay", ov)
    assert code == 2 and "has no eie.hwh" in err and not (tmp_path / "b").exists()
    (ov / "eie.hwh").write_text("<hwh/>")
    code, out, _ = run(capsys, "deploy", model, "-o", tmp_path / "b", "--overlay", ov, "--json")
    assert code == 0 and json.loads(out)["overlay"]["bit"] == "eie.bit"
    assert (tmp_path / "b" / "eie.bit").read_bytes() == b"\x00bit"


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
