"""The board side (PYNQ image: Python 3.10, numpy, pynq; no scikit-learn, scipy,
jinja2, pyyaml or torch) imports exactly the modules listed in
``eie.board.BOARD_SAFE``, and they work there."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from board_env import BOARD_ONLY

BLOCKER = BOARD_ONLY + r"""
import importlib, json, sys
import numpy as np
from eie.board import BOARD_SAFE
for name in BOARD_SAFE:
    importlib.import_module(name)
from eie.format.qmodel import HWParams, QuantLayer, QuantModel
from eie.format.image import read_image
from eie.format.csc import encode_dense
from eie.arithmetic.emulator import quantize_input
from eie.board.driver import EIEAccelerator
codes = np.array([[1, 0], [0, 2]])
layer = QuantLayer("l", encode_dense(codes, 1, 4, 4), np.array([0, 3, -2] + [0] * 13), np.zeros(2, np.int64),
                   np.arange(2), 0, 0, 0, relu=False)
qm = read_image(QuantModel(HWParams(1), [layer]).to_image())
x = quantize_input(qm, np.array([[2.0, 5.0]]))
loaded = sorted(m for m in sys.modules if m == "eie" or m.startswith("eie."))
print(json.dumps({"x": x.tolist(), "bindto": EIEAccelerator.bindto, "loaded": loaded, "safe": sorted(BOARD_SAFE)}))
"""


def test_board_side_imports_exactly_the_board_safe_set_with_numpy_only():
    res = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["x"] == [[2, 5]]
    from eie.format.image import VERSION

    # The IP's version is the image-format version: a stale bitstream has another VLNV.
    assert out["bindto"] == [f"eie-pynq.org:hls:eie_top:{VERSION}.0"]
    # Using the board-safe modules pulls in no other eie module.
    assert out["loaded"] == out["safe"]


def test_pynq_imports_the_driver_through_its_entry_point():
    """pynq loads the `pynq.lib` entry points when an Overlay is created: ours names the driver
    module, which is board-safe and binds the IP's VLNV, so no manual import is needed."""
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[2]
    points = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]["pynq.lib"]
    from eie.board import BOARD_SAFE
    from eie.board.driver import EIEAccelerator
    from eie.kernel.abi import VLNV

    assert points == {"eie": "eie.board.driver"}
    assert points["eie"] in BOARD_SAFE
    assert EIEAccelerator.bindto == [VLNV]


RUN_BUNDLE = BOARD_ONLY + r"""
import json, sys
import numpy as np
from eie.cli import COMMANDS, main
bundle, xpath, ypath, config, other = sys.argv[1:6]
codes = [
    main(["run", bundle, "--input", xpath, "--backend", "emulator", "-o", ypath, "--json"]),
    main(["run", bundle, "--input", xpath, "--config", config, "--json"]),
    main(["run", bundle, "--input", xpath, "--config", other]),
]
from eie.board import BOARD_SAFE
from eie.board.bundle import Bundle
b = Bundle.open(bundle)
y_int = b.run_int(b.quantize(np.load(xpath)), "emulator")
loaded = sorted(m for m in sys.modules if m == "eie" or m.startswith("eie."))
host = sorted(m for m in sys.modules if m.split(".")[0] in ("scipy", "sklearn", "jinja2", "yaml"))
print(json.dumps({
    "codes": codes, "y_int": y_int.tolist(), "engine": b._backends["emulator"].__self__.engine,
    "loaded": loaded, "safe": sorted(BOARD_SAFE), "host": host,
    "commands": [c for c in COMMANDS if f"eie.cli.{c}" not in BOARD_SAFE],
}))
"""


def test_eie_run_with_the_emulator_backend_works_with_numpy_only(tmp_path):
    """``eie run BUNDLE --backend emulator`` on the PYNQ image (no scipy, scikit-learn, jinja2, pyyaml):
    the numpy emulator gives the integers the host's scipy emulator gives, bit for bit."""
    import numpy as np

    from eie.board.bundle import Bundle
    from eie.board.deploy import deploy
    from eie.compression.pipeline import compress
    from eie.compression.weights import DenseLayer

    rng = np.random.default_rng(3)
    layers = [
        DenseLayer("fc1", rng.standard_normal((40, 24)), rng.standard_normal(40)),
        DenseLayer("fc2", rng.standard_normal((10, 40)), rng.standard_normal(10), activation="none"),
    ]
    model = compress(layers, density=0.3)
    model.calibrate(rng.uniform(0, 16, (32, 24)))
    bundle = tmp_path / "bundle"
    deploy(model, bundle, vectors=4)
    x = rng.uniform(-2, 18, (50, 24))  # some beyond the calibrated range: they saturate alike
    np.save(tmp_path / "x.npy", x)
    other = tmp_path / "other.yaml"
    other.write_text("# the same values, other bytes\n" + (bundle / "config.yaml").read_text())
    host = Bundle.open(bundle)
    want_int = host.run_int(host.quantize(x), "emulator")
    assert host._backends["emulator"].__self__.engine == "scipy"

    argv = [bundle, tmp_path / "x.npy", tmp_path / "y.npy", bundle / "config.yaml", other]
    res = subprocess.run(
        [sys.executable, "-c", RUN_BUNDLE, *map(str, argv)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    out = json.loads(lines[-1])
    assert out["codes"] == [0, 0, 2]
    assert out["engine"] == "numpy" and out["host"] == []
    assert np.array_equal(np.array(out["y_int"]), want_int)
    assert np.array_equal(np.load(tmp_path / "y.npy"), host.run(x))
    assert np.unique(want_int).size > 20  # real outputs, not a constant
    # The hardware each run assumed: the bundle's, then the --config that names it.
    first, second = json.loads(lines[0]), json.loads(lines[1])
    h = host.manifest["hardware"]
    assert (first["hardware"]["board"], first["hardware"]["n_pes"]) == (h["board"], h["n_pes"])
    assert first["hardware"]["source"] == "bundle" and second["hardware"]["source"] == "config"
    assert second["hardware"]["config"] == str(bundle / "config.yaml")
    # Another file cannot be compared without pyyaml: refused, saying so.
    assert "pyyaml is not installed here" in res.stderr and "other.yaml" in res.stderr
    # The whole command line imported board-safe modules only, and BOARD_SAFE names every command.
    assert set(out["loaded"]) <= set(out["safe"]), sorted(set(out["loaded"]) - set(out["safe"]))
    assert out["commands"] == []


RUN_LSTM = BOARD_ONLY + r"""
import json, sys
import numpy as np
from eie.arithmetic.lstm import LSTMRunner, load_quant_lstm
from eie.board.backends import make_backend
runner = LSTMRunner(load_quant_lstm(sys.argv[1]), make_backend("emulator"), trace=True)
y = runner.run(np.load(sys.argv[2]))
loaded = sorted(m for m in sys.modules if m == "eie" or m.startswith("eie."))
print(json.dumps({"y": y.tolist(), "k": [k.tolist() for k in runner.kernel_outputs],
                  "engine": runner.backend._emu.engine, "loaded": loaded}))
"""


def test_an_lstm_runs_on_the_emulator_backend_with_numpy_only(tmp_path):
    """The deployed LSTM images through eie.board.backends' emulator on the PYNQ image: the same kernel
    outputs as the host's scipy engine, from board-safe modules only."""
    import numpy as np

    from eie.arithmetic.lstm import EmulatorBackend, LSTMRunner, quantize_lstm, save_quant_lstm
    from eie.board import BOARD_SAFE
    from eie.compression.lstm import FloatLSTM, LSTMSpec, compress_lstm
    from eie.compression.weights import DenseLayer
    from eie.format.qmodel import HWParams

    rng = np.random.default_rng(4)
    spec = LSTMSpec(input_size=3, hidden=4, num_layers=1, bidirectional=True)
    cells = [DenseLayer(n, 0.5 * rng.standard_normal((16, 7)), 0.1 * rng.standard_normal(16)) for n in spec.names]
    model = compress_lstm(FloatLSTM(spec, cells, [DenseLayer("fc", rng.standard_normal((2, 8)), np.zeros(2))]))
    x = rng.uniform(-2, 2, (5, 6, 3))
    q = quantize_lstm(model, HWParams(2, 4, 4), x)
    save_quant_lstm(q, tmp_path / "dep")
    np.save(tmp_path / "x.npy", x)
    host = LSTMRunner(q, EmulatorBackend(), trace=True)
    want = host.run(x)
    res = subprocess.run(
        [sys.executable, "-c", RUN_LSTM, str(tmp_path / "dep"), str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["engine"] == "numpy" and host.backend._emu.engine == "scipy"
    assert len(out["k"]) == len(host.kernel_outputs) == 2 * 6 + 1
    for got, k in zip(out["k"], host.kernel_outputs):
        assert np.array_equal(np.array(got), k)
    assert np.array_equal(np.array(out["y"]), want)
    assert set(out["loaded"]) <= set(BOARD_SAFE)


DRIVER_IMPORT = BOARD_ONLY + r"""
import importlib.abc, json, sys
mode = sys.argv[1]
class _BrokenPynq(importlib.abc.MetaPathFinder):
    # pynq present but failing to import, as with setuptools 81+ (pynqutils needs pkg_resources),
    # or absent altogether.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pynq":
            if mode == "broken":
                raise ModuleNotFoundError("No module named 'pkg_resources'", name="pkg_resources")
            raise ModuleNotFoundError("No module named 'pynq'", name="pynq")
        return None
sys.meta_path.insert(0, _BrokenPynq())
import eie.board.driver as d
tops = {m.split(".")[0] for m in sys.modules if not m.startswith("_")}
third = sorted(tops - set(sys.stdlib_module_names) - {"eie", "numpy"})
try:
    d.EIEAccelerator({})
    err = None
except Exception as e:
    err = f"{type(e).__name__}: {e}"
print(json.dumps({"third": third, "err": err}))
"""


@pytest.mark.parametrize("mode", ["broken", "missing"])
def test_driver_imports_with_numpy_only_and_passes_pynqs_import_error_through(mode):
    """pynq imports the driver module for every Overlay (base overlay included): the import needs numpy
    and nothing else beyond the standard library, whatever state pynq is in; the driver then says what
    is wrong with pynq, with pynq's own error."""
    res = subprocess.run([sys.executable, "-c", DRIVER_IMPORT, mode], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["third"] == []
    if mode == "broken":
        assert out["err"].startswith("EIEError: pynq is installed but cannot be imported")
        assert "No module named 'pkg_resources'" in out["err"] and "setuptools<81" in out["err"]
    else:
        assert out["err"].startswith("EIEError: pynq is not installed")
