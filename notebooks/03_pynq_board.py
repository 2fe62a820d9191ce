# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Running the compressed model on the EIE accelerator
#
# This notebook runs on a **PYNQ board** with the overlay built by
# `build.tcl` and `overlays/build_overlay.tcl` (`eie.bit` + `eie.hwh`
# next to it), and anywhere else in **co-simulation**: the same PYNQ
# driver code (`eie.board.driver.EIEKernel`) drives the g++-compiled HLS
# kernel through a register-level stand-in for the IP (`eie.board.cosim`).
#
# 1. get a compressed, quantised model image (from files on the board, or
#    made here: a small MLP on the bundled digits, pruned and shared);
# 2. load it into the PEs (`load`), run the test set (`predict`);
# 3. check every integer against the bit-exact emulator;
# 4. look at where the time goes: measured on the board, **modelled** by
#    the EIE timing model in co-simulation.
#
# The imports in the first cell are the board-safe part of the package
# (numpy only); the host-only steps import what they need where they run.

# %%
import importlib.util
import json
import os
import sys
import time

import matplotlib.pyplot as plt
import numpy as np

from eie.arithmetic.emulator import Emulator, quantize_input
from eie.format.image import load_image
from eie.performance.timing import TimingParams, simulate_model

ON_BOARD = importlib.util.find_spec("pynq") is not None and os.path.exists("eie.bit")
print("mode:", "PYNQ board" if ON_BOARD else "co-simulation (no board): the C-simulation of the kernel")
RESULTS = {"python_prefix": sys.prefix, "on_board": ON_BOARD}

# %% [markdown]
# ## 1. The model image
#
# On the board, `model.img`, `digits_test.npz` and the kernel's
# `config.yaml` (from the build directory) are copied from the host
# (`eie generate` writes the image; the host side needs scikit-learn and
# PyTorch, which the PYNQ image does not have). Here we make them with the
# package's host-side steps: a scikit-learn MLP on the digits (the
# training code's split, `eie.train.digits.load_data`), pruned by magnitude
# (30 / 20 / 50 % of the weights kept per layer) and shared with 4-bit
# k-means (`eie.compression.pipeline.compress`), then quantised for an
# 8-PE kernel (`eie.arithmetic.quant.quantize`). There is no retraining
# here (`eie demo` retrains, and keeps about 8.5 %).

# %%
if ON_BOARD:
    qm = load_image("model.img")
    data = np.load("digits_test.npz")
    x_test, y_test = data["x"], data["y"]
else:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    from eie.arithmetic.quant import quantize
    from eie.compression.pipeline import compress
    from eie.compression.weights import DenseLayer
    from eie.format.qmodel import HWParams
    from eie.train.digits import DigitsConfig, load_data

    threadpool_limits(1)  # tiny matrices: extra BLAS threads only contend
    x_train, y_train, x_test, y_test = load_data(DigitsConfig())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier((300, 100), max_iter=60, random_state=0).fit(x_train, y_train)
    layers = [
        DenseLayer(f"fc{i + 1}", w.T, b, "relu" if i < len(mlp.coefs_) - 1 else "none")
        for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_))
    ]
    # One-shot pruning (no retraining) needs more weights than eie demo keeps.
    model = compress(layers, densities={"fc1": 0.3, "fc2": 0.2, "fc3": 0.5}, weight_bits=4)
    qm = quantize(model, HWParams(n_pes=8), calib=x_train[:256])
    print(f"float MLP accuracy {mlp.score(x_test, y_test):.2%}")
for l in qm.layers:
    print(
        f"{l.name}: {l.shape[0]} x {l.shape[1]}, {l.encoded.nnz} weights, "
        f"{l.encoded.padding} padding entries, formats fa_in={l.fa_in} fw={l.fw} fa_out={l.fa_out}"
    )

# %% [markdown]
# ## 2. The accelerator
#
# On the board `eie.board.driver.open_overlay` loads the bitstream;
# `pynq.Overlay` binds `eie.board.driver.EIEAccelerator` to the IP by its
# VLNV, and `config.yaml` holds the configuration the kernel was generated
# with. In co-simulation, `eie.hardware.resources.config_for_model` sizes a
# configuration for this model on a PYNQ-Z2 and `CoSimAccelerator` compiles
# its kernel (cached after the first build) and offers the same `load` /
# `run` / `run_int` / `predict`.

# %%
if ON_BOARD:
    from eie.board.driver import open_overlay
    from eie.hardware.config import AcceleratorConfig

    acc = open_overlay("eie.bit")
    config = AcceleratorConfig.from_yaml("config.yaml")
else:
    from eie.board.cosim import CoSimAccelerator
    from eie.hardware.resources import config_for_model, estimate

    config = config_for_model(qm, board="pynq-z2")
    acc = CoSimAccelerator(config)
    print(f"resource estimate: {estimate(config).to_dict()['bram36']} BRAM36")
print(f"kernel: {config.n_pes} PEs on {config.board}, FIFO {config.fifo_depth}, {config.clock:g} MHz")
acc.load(qm)
t = time.perf_counter()
predicted = acc.predict(x_test)
wall = time.perf_counter() - t
accuracy = float(np.mean(predicted == y_test))
print(f"accuracy on {len(y_test)} test images: {accuracy:.2%}")
RESULTS["accuracy"] = accuracy

# %% [markdown]
# ## 3. Every integer checked
#
# The emulator (`eie.arithmetic.emulator`) is the golden model of the
# arithmetic (docs/arithmetic.md). The accelerator must agree with it bit
# for bit, on every output of every image: both give the last layer's
# integers in the kernel's physical row order.

# %%
x_int = quantize_input(qm, x_test)
emu = Emulator(qm)
y_acc = acc.run_int(x_int)
y_emu = emu.run_layers(x_int)
mismatches = int(np.count_nonzero(y_acc != y_emu))
print(f"{y_acc.size} output integers, {mismatches} mismatches")
RESULTS["mismatches"] = mismatches
RESULTS["outputs_checked"] = int(y_acc.size)

fig, ax = plt.subplots(1, 2, figsize=(10, 4))
ax[0].scatter(y_emu.ravel(), y_acc.ravel(), s=4)
ax[0].set_xlabel("emulator output (integer)")
ax[0].set_ylabel("accelerator output (integer)")
ax[0].set_title("bit-exact: every point on the diagonal")
conf = np.zeros((10, 10), int)
np.add.at(conf, (y_test, predicted), 1)
ax[1].imshow(conf, cmap="Blues")
ax[1].set_xlabel("predicted digit")
ax[1].set_ylabel("true digit")
ax[1].set_title("confusion matrix")
plt.show()

# %% [markdown]
# ## 4. Where the time goes
#
# On the board the wall time of `predict` is measured (it includes the
# Python driver and the buffer copies). In co-simulation the wall time is
# the C-simulation on this CPU, which says nothing about the FPGA, so only
# the **timing model**'s cycles are shown (`eie.performance.timing`, with
# the kernel's FIFO depth, zero-skipping window and clock from
# `TimingParams.for_config`): one non-zero activation broadcast per cycle,
# FIFOs of the configured depth, one entry per PE per cycle. Each layer's
# input is the previous layer's integer output, from the emulator.

# %%
params = TimingParams.for_config(config)
inputs = [x_int[:64]]
for i in range(len(qm.layers) - 1):
    inputs.append(emu.run_layers(inputs[-1], i, i))
encoded = [l.encoded for l in qm.layers]
timings = [simulate_model(encoded, [a[v] for a in inputs], params) for v in range(len(inputs[0]))]
mean_cycles = [float(np.mean([t.layers[i].cycles for t in timings])) for i in range(len(qm.layers))]
efficiency = [float(np.mean([t.layers[i].efficiency for t in timings])) for i in range(len(qm.layers))]
modelled_us = float(np.mean([t.latency_us for t in timings]))
print(f"timing model: {modelled_us:.2f} us per image at {params.clock_mhz:g} MHz (modelled)")
for l, c, e in zip(qm.layers, mean_cycles, efficiency):
    print(f"  {l.name}: {c:.0f} cycles, load-balance efficiency {e:.0%}")
if ON_BOARD:
    print(f"measured on the board: {wall / len(y_test) * 1e6:.1f} us per image (batch of {len(y_test)}, wall time)")
plt.bar([l.name for l in qm.layers], mean_cycles)
plt.ylabel("cycles per image (timing model)")
plt.title("modelled cycles per layer, not a hardware measurement")
plt.show()
RESULTS["modelled_cycles"] = mean_cycles
RESULTS["modelled_us"] = modelled_us

# %% [markdown]
# What the model counts is what the kernel does: the C-simulation counts
# the iterations of each PE's accumulation loop (docs/kernel.md), and for
# every layer and PE that is the model's busy cycles plus the loop's prologue
# (`params.pe_prologue`: two iterations that fill and take the PE's
# one-column lookahead), summed over the vectors of the last run. (The board has no
# such counters; there the wall time above is the measurement.)

# %%
if not ON_BOARD:
    acc.run_int(inputs[0])
    trips = acc.registers.sim.counters()["pe"][: len(qm.layers)]
    model_trips = np.array(
        [sum(t.layers[i].busy + params.pe_prologue for t in timings) for i in range(len(qm.layers))]
    )
    RESULTS["trip_counts_match"] = bool(np.array_equal(trips, model_trips))
    print("C-simulation PE loop trips equal the timing model's busy cycles + prologue:", RESULTS["trip_counts_match"])

    fig, axes = plt.subplots(1, len(qm.layers), figsize=(13, 3.2), sharey=False)
    for i, ax in enumerate(axes):
        ax.bar(np.arange(config.n_pes) - 0.2, model_trips[i], 0.4, label="timing model (busy + prologue)")
        ax.bar(np.arange(config.n_pes) + 0.2, trips[i], 0.4, label="C-simulation loop trips")
        ax.set_xlabel("PE")
        ax.set_title(f"{qm.layers[i].name}, {len(inputs[0])} images")
    axes[0].set_ylabel("PE loop iterations")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    plt.show()

# %%
# Key results as one JSON line (tests/test_notebooks.py reads it).
print("EIE_NOTEBOOK_RESULTS " + json.dumps(RESULTS, sort_keys=True))
