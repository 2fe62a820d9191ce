"""The deployment bundle: written by eie.board.deploy, read and run by eie.board.bundle (board-safe)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eie.board.bundle import IMAGE, MANIFEST, Bundle, BundleError
from eie.board.deploy import deploy
from eie.compression.pipeline import compress
from eie.compression.weights import DenseLayer
from eie.format.image import H_CHECKSUM, load_image


def small_model(seed: int = 0):
    rng = np.random.default_rng(seed)
    layers = [
        DenseLayer("fc1", rng.standard_normal((40, 24)), rng.standard_normal(40)),
        DenseLayer("fc2", rng.standard_normal((10, 40)), rng.standard_normal(10), activation="none"),
    ]
    return compress(layers, density=0.3)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    model = small_model()
    x = np.random.default_rng(1).uniform(0, 16, (32, 24))
    model.calibrate(x)
    out = tmp_path_factory.mktemp("b") / "bundle"
    deploy(model, out, vectors=8)
    return out, model, x


def test_bundle_round_trip_is_bit_exact_on_every_host_backend(bundle_dir):
    out, model, x = bundle_dir
    b = Bundle.open(out)
    v = b.vectors()
    assert v["inputs"].shape == (8, 24) and v["expected_int"].shape == (8, 10)
    outs = {name: b.run_int(v["inputs_int"], name) for name in ("emulator", "csim", "cosim")}
    for name, y in outs.items():
        assert np.array_equal(y, v["expected_int"]), name
    assert np.array_equal(b.quantize(v["inputs"]), v["inputs_int"])
    assert np.array_equal(b.run(v["inputs"]), v["expected"])
    y, y_int, secs = b.run(x, "csim", timed=True)
    assert np.array_equal(y_int, b.run_int(b.quantize(x), "emulator")) and len(secs) == len(x)


def test_manifest_records_versions_hashes_crc_and_formats(bundle_dir):
    out, model, _ = bundle_dir
    m = json.loads((out / MANIFEST).read_text())
    img = np.fromfile(out / IMAGE, dtype="<u8")
    assert m["image"]["crc"] == int(img[H_CHECKSUM])
    assert m["numpy"] == np.__version__ and m["toolkit"]["version"]
    qm = load_image(out / IMAGE)
    assert m["input"]["frac_bits"] == qm.fa_in and m["output"]["scale"] == 2.0**-qm.fa_out
    assert [l["shape"] for l in m["layers"]] == [[40, 24], [10, 40]]
    assert m["calibration"]["source"] == "model" and m["calibration"]["calibrated"]
    assert {"model.img", "config.yaml", "test_inputs.npy", "build/eie_top.cpp"} <= set(m["files"])
    import hashlib

    assert m["config_sha256"] == hashlib.sha256((out / "config.yaml").read_bytes()).hexdigest()


def test_a_changed_file_is_refused_naming_it(tmp_path, bundle_dir):
    import shutil

    src, _, _ = bundle_dir
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    data = bytearray((out / IMAGE).read_bytes())
    data[-1] ^= 1
    (out / IMAGE).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.img: its sha256 differs from manifest\.json"):
        Bundle.open(out)
    (out / IMAGE).unlink()
    with pytest.raises(BundleError, match=r"model\.img: listed in manifest\.json but missing"):
        Bundle.open(out)


def test_board_backend_without_pynq_or_overlay_is_a_clear_error(bundle_dir):
    try:
        import pynq  # noqa: F401

        pytest.skip("pynq is installed here")
    except ImportError:
        pass
    b = Bundle.open(bundle_dir[0])
    with pytest.raises(BundleError, match="needs pynq"):
        b.run(np.zeros((1, 24)), "board")
    with pytest.raises(BundleError, match="holds no overlay"):
        b.overlay()


def test_overlay_is_copied_and_hashed(tmp_path):
    from overlay_files import write_overlay

    from eie.hardware.boards import BOARDS, DEFAULT_BOARD

    ov = tmp_path / "ov"
    write_overlay(ov, BOARDS[DEFAULT_BOARD].part)
    out = tmp_path / "b"
    m = deploy(small_model(), out, overlay=ov, vectors=2)
    # Names inside the bundle only: no host path in the manifest.
    assert m["overlay"] == {"bit": "eie.bit", "hwh": "eie.hwh"} and "eie.hwh" in m["files"]
    assert str(tmp_path) not in (out / "manifest.json").read_text()
    assert Bundle.open(out).overlay() == out / "eie.bit"
    (ov / "eie.hwh").rename(ov / "other.hwh")
    with pytest.raises(Exception, match="has no eie.hwh"):
        deploy(small_model(), tmp_path / "c", overlay=ov)


def test_the_board_side_reads_a_bundle_with_numpy_only(bundle_dir):
    """On the PYNQ image (no scikit-learn, scipy, jinja2, yaml): the bundle opens and is checked, inputs
    quantise, and `eie run --backend board` gets as far as pynq (not installed here: a clear error)."""
    import subprocess
    import sys

    from board_env import BOARD_ONLY

    out = bundle_dir[0]
    script = BOARD_ONLY + (
        "import numpy as np\n"
        "from eie.board.bundle import Bundle\n"
        f"b = Bundle.open({str(out)!r})\n"
        "v = b.vectors()\n"
        "assert np.array_equal(b.quantize(v['inputs']), v['inputs_int'])\n"
        "from eie.cli import main\n"
        f"sys.exit(main(['run', {str(out)!r}, '--input', {str(out / 'test_inputs.npy')!r}, '--backend', 'board']))\n"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "eie run: error: the board backend needs pynq" in res.stderr


def test_bundle_files_are_0644_and_directories_0755_under_umask_022(tmp_path):
    import os
    import stat

    from overlay_files import write_overlay

    from eie.hardware.boards import BOARDS, DEFAULT_BOARD

    old = os.umask(0o022)
    try:
        ov = tmp_path / "ov"
        write_overlay(ov, BOARDS[DEFAULT_BOARD].part)
        out = tmp_path / "b"
        deploy(small_model(), out, overlay=ov, vectors=2)
    finally:
        os.umask(old)
    files = [p for p in out.rglob("*") if p.is_file()]
    dirs = [out] + [p for p in out.rglob("*") if p.is_dir()]
    assert len(files) > 10 and {"eie.bit", "model.img", "manifest.json"} <= {p.name for p in files}
    assert {p.relative_to(out).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if
            stat.S_IMODE(p.stat().st_mode) != 0o644} == {}  # fmt: skip
    assert all(stat.S_IMODE(d.stat().st_mode) == 0o755 for d in dirs)
