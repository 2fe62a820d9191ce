"""The host side of an LSTM on EIE: the cell update by hand, and the integer runner."""

from __future__ import annotations

import numpy as np

from eie.arithmetic.lstm import EmulatorBackend, LSTMRunner, quantize_lstm
from eie.compression.lstm import FloatLSTM, LSTMSpec, compress_lstm, run_sequence, sigmoid
from eie.compression.weights import DenseLayer
from eie.format.qmodel import HWParams


def test_cell_update_by_hand():
    # H = 1; constant gate pre-activations i=0, f=ln 3, g=atanh(0.5), o=0 for two steps:
    # sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, tanh(g) = 1/2
    # c1 = 3/4*0 + 1/2*1/2 = 1/4,  h1 = 1/2 * tanh(1/4)
    # c2 = 3/4*1/4 + 1/4 = 7/16,   h2 = 1/2 * tanh(7/16)
    z = np.array([[0.0, np.log(3.0), np.arctanh(0.5), 0.0]])
    h = run_sequence(lambda v: np.repeat(z, len(v), axis=0), np.zeros((1, 2, 3)), hidden=1)
    np.testing.assert_allclose(h[0, :, 0], [0.5 * np.tanh(0.25), 0.5 * np.tanh(7 / 16)], rtol=1e-12)
    # reverse runs the steps backwards: same values, mirrored in time
    hr = run_sequence(lambda v: np.repeat(z, len(v), axis=0), np.zeros((1, 2, 3)), hidden=1, reverse=True)
    np.testing.assert_allclose(hr[0, ::-1, 0], h[0, :, 0], rtol=1e-12)
    assert sigmoid(np.array([0.0]))[0] == 0.5


def random_lstm(seed=0, bidirectional=True):
    rng = np.random.default_rng(seed)
    spec = LSTMSpec(input_size=4, hidden=3, num_layers=2, bidirectional=bidirectional)
    cells = []
    for k, name in enumerate(spec.names):
        i = spec.cell_input(k // spec.directions)
        cells.append(DenseLayer(name, 0.6 * rng.standard_normal((12, i + 3)), 0.1 * rng.standard_normal(12), "none"))
    d = spec.hidden * spec.directions
    head = [DenseLayer("fc", rng.standard_normal((2, d)), rng.standard_normal(2), "none")]
    return FloatLSTM(spec, cells, head)


def test_integer_runner_follows_the_float_reference():
    model = compress_lstm(random_lstm(), density=0.6, weight_bits=4)
    x = np.random.default_rng(1).uniform(-1, 1, (16, 5, 4))
    q = quantize_lstm(model, HWParams(3, 4, 4), x)
    runner = LSTMRunner(q, EmulatorBackend(), trace=True)
    y = runner.run(x)
    ref = model.forward(x)
    # 16-bit activations: the integer path stays within a few LSBs of the float reference
    assert np.max(np.abs(y - ref)) < 0.02 * np.max(np.abs(ref))
    # 4 gate matrices, 5 steps each, and the head: one kernel run per step and matrix
    assert len(runner.kernel_outputs) == 4 * 5 + 1 and runner.loads == 5
    assert runner.kernel_outputs[0].shape == (16, 12)
