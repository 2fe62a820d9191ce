"""An LSTM's gate matrices on every backend: emulator, C-simulation and the driver over it, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from board_env import BOARD_ONLY

from eie.arithmetic.lstm import LSTMRunner, quantize_lstm
from eie.board.backends import config_for_models, make_backend
from eie.compression.lstm import FloatLSTM, LSTMSpec, compress_lstm
from eie.compression.weights import DenseLayer
from eie.errors import ToolchainError
from eie.format.qmodel import HWParams


def csim_available():
    from eie.kernel import csim

    try:
        csim.compiler()
        csim.ap_types_dir()
    except ToolchainError as e:  # pragma: no cover - depends on the machine
        pytest.skip(str(e))


def test_stacked_bidirectional_lstm_is_bit_exact_on_every_backend():
    csim_available()
    rng = np.random.default_rng(5)
    spec = LSTMSpec(input_size=5, hidden=4, num_layers=2, bidirectional=True)
    cells = [
        DenseLayer(n, 0.5 * rng.standard_normal((16, spec.cell_input(k // 2) + 4)), 0.1 * rng.standard_normal(16))
        for k, n in enumerate(spec.names)
    ]
    for c in cells:
        c.activation = "none"
    head = [DenseLayer("fc", rng.standard_normal((3, 8)), rng.standard_normal(3), "none")]
    model = compress_lstm(FloatLSTM(spec, cells, head), density=0.5, weight_bits=3)
    x = rng.uniform(0, 1, (6, 4, 5))
    q = quantize_lstm(model, HWParams(3, 4, 4), x)
    config = config_for_models(q.models)
    runs = {}
    for name in ("emulator", "csim", "cosim"):
        r = LSTMRunner(q, make_backend(name, config), trace=True)
        runs[name] = (r.run(x), r.kernel_outputs)
    y_emu, k_emu = runs["emulator"]
    assert len(k_emu) == 4 * 4 + 1
    for name in ("csim", "cosim"):
        y, k = runs[name]
        assert len(k) == len(k_emu) and all(np.array_equal(a, b) for a, b in zip(k, k_emu)), name
        np.testing.assert_array_equal(y, y_emu)


@pytest.mark.slow
def test_lstm_digits_demo_reaches_90_percent_compressed_on_csim():
    csim_available()
    pytest.importorskip("torch")
    from eie.demo_lstm import LSTMDemoOptions, format_summary, run

    s = run(LSTMDemoOptions(backend="csim"), log=lambda *_: None)
    assert s["backend"] == "csim" and s["bit_exact"]
    assert s["accuracy"]["float"] >= 0.9
    assert s["accuracy"]["compressed"] >= 0.9
    assert s["compression_ratio"] > 5
    assert "compression vs float32 dense" in format_summary(s)


BOARD_RUN = BOARD_ONLY + r"""
import json, sys
import numpy as np
from eie.arithmetic.lstm import LSTMRunner, load_quant_lstm
d = sys.argv[1]
with np.load(d + "/kernel.npz") as z:
    recorded = [z[f"k{i}"] for i in range(len(z.files))]
class Replay:  # stands in for the driver: returns what the kernel returned, in order
    def load(self, qm):
        pass
    def run_int(self, x_int):
        return recorded.pop(0)
y = LSTMRunner(load_quant_lstm(d), Replay()).run(np.load(d + "/x.npy"))
np.save(d + "/y.npy", y)
print(json.dumps({"left": len(recorded)}))
"""


def test_lstm_runner_runs_on_the_board_side_with_numpy_only(tmp_path):
    import json
    import subprocess
    import sys

    from eie.arithmetic.lstm import EmulatorBackend, save_quant_lstm

    rng = np.random.default_rng(7)
    spec = LSTMSpec(input_size=3, hidden=2, num_layers=1)
    cells = [DenseLayer("l0", rng.standard_normal((8, 5)), rng.standard_normal(8), "none")]
    head = [DenseLayer("fc", rng.standard_normal((2, 2)), np.zeros(2), "none")]
    model = compress_lstm(FloatLSTM(spec, cells, head), density=0.8, weight_bits=3)
    x = rng.uniform(0, 1, (4, 3, 3))
    q = quantize_lstm(model, HWParams(2, 4, 4), x)
    r = LSTMRunner(q, EmulatorBackend(), trace=True)
    y = r.run(x)
    save_quant_lstm(q, tmp_path)
    np.savez(tmp_path / "kernel.npz", **{f"k{i}": k for i, k in enumerate(r.kernel_outputs)})
    np.save(tmp_path / "x.npy", x)
    res = subprocess.run([sys.executable, "-c", BOARD_RUN, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.splitlines()[-1]) == {"left": 0}
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), y)
