# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
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
# 1. open the deployment bundle (`eie deploy` writes it on the host and you
#    copy it to the board; here it is made first: a small MLP on the
#    bundled digits, pruned, shared and calibrated on its training inputs);
# 2. load it into the PEs (`load`), run the test set (`predict`);
# 3. check every integer against the bit-exact emulator;
# 4. look at where the time goes: measured on the board, **modelled** by
#    the EIE timing model in co-simulation.
#
# The imports in the first cell are the board-safe part of the package
# (numpy only); the host-only steps import what they need where they run.
#
# **Inputs on the board.** Next to this notebook, two things copied from
# the host:
#
# - `bundle/`: the folder `eie deploy MODEL.npz --calib X.npy --overlay
#   OVERLAY_DIR -o bundle` writes (model image, configuration, test
#   vectors, the overlay's `.bit`/`.hwh`, manifest, and the toolkit's wheel:
#   `pip install bundle/eie_pynq-*.whl` installs it);
# - `digits_test.npz`: the labelled test set, arrays `x` (float images,
#   N x 64, the digits' 0-16 pixel values, as the model was trained on) and
#   `y` (integer labels 0-9), e.g. `np.savez("digits_test.npz", x=x_test,
#   y=y_test)` on the host.
#
# With pynq and both of these present the notebook runs on the board;
# with pynq but either missing it stops and says which; without pynq
# (a host) it makes its own bundle and runs it in co-simulation.

# %%
import importlib.util
import json
import os
import sys
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

from eie.arithmetic.emulator import Emulator, quantize_input, unpermute
from eie.board.bundle import Bundle
from eie.hardware.config import AcceleratorConfig
from eie.performance.timing import TimingParams, simulate_model

# On the board: the folder `eie deploy MODEL.npz --calib X.npy --overlay OVERLAY_DIR -o bundle`
# wrote, copied next to this notebook. Elsewhere the notebook writes its own, in a scratch folder.
ON_BOARD = importlib.util.find_spec("pynq") is not None
if ON_BOARD:
    missing = [p for p in (os.path.join("bundle", "manifest.json"), "digits_test.npz") if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(
            f"pynq is installed (a board), but {', '.join(missing)} is not next to this notebook: copy the bundle "
            "and the test set from the host (see 'Inputs on the board' above)"
        )
WORK = "." if ON_BOARD else tempfile.mkdtemp(prefix="eie-notebook-")
BUNDLE = os.path.join(WORK, "bundle")
TEST_SET = os.path.join(WORK, "digits_test.npz")
print("mode:", "PYNQ board" if ON_BOARD else "co-simulation (no board): the C-simulation of the kernel")
RESULTS = {"python_prefix": sys.prefix, "on_board": ON_BOARD}

# %% [markdown]
# ## 1. The bundle
#
# On the board, the bundle folder (`model.img`, `config.yaml`,
# `manifest.json`, test vectors, the overlay's `.bit`/`.hwh`) and
# `digits_test.npz` (the labelled test set) are copied from the host:
# `eie deploy` writes the bundle, and the host side needs scikit-learn and
# PyTorch, which the PYNQ image does not have. Here we make them with the
# package's host-side steps: a scikit-learn MLP on the digits (the
# training code's split, `eie.train.digits.load_data`), pruned by magnitude
# (30 / 20 / 50 % of the weights kept per layer) and shared with 4-bit
# k-means (`eie.compression.pipeline.compress`), sized for an 8-PE kernel
# on a PYNQ-Z2, then deployed with its training inputs as calibration
# (`eie.board.deploy.deploy`, what `eie deploy --calib` runs). There is no
# retraining here (`eie demo` retrains, and keeps about 8.5 %).
# `Bundle.open` checks every file against the manifest (sha256, the image's CRC)
# before anything runs.

# %%
if ON_BOARD:
    data = np.load(TEST_SET)
    x_test, y_test = data["x"], data["y"]
else:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    from eie.arithmetic.quant import quantize
    from eie.board.deploy import deploy
    from eie.compression.pipeline import compress
    from eie.compression.weights import DenseLayer
    from eie.format.qmodel import HWParams
    from eie.hardware.resources import config_for_model
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
    # The kernel's memories sized for this model on a PYNQ-Z2, then the bundle.
    sized = config_for_model(quantize(model, HWParams(n_pes=8), calib=x_train[:256]), board="pynq-z2")
    deploy(model, BUNDLE, config=sized, calib=x_train[:256], vectors=16, force=True)
    np.savez(TEST_SET, x=x_test, y=y_test)
    print(f"float MLP accuracy {mlp.score(x_test, y_test):.2%}")
bundle = Bundle.open(BUNDLE)
qm = bundle.qm
print(f"bundle: image CRC {bundle.manifest['image']['crc']:#010x}, files checked against the manifest")
for l in qm.layers:
    print(
        f"{l.name}: {l.shape[0]} x {l.shape[1]}, {l.encoded.nnz} weights, "
        f"{l.encoded.padding} padding entries, formats fa_in={l.fa_in} fw={l.fw} fa_out={l.fa_out}"
    )

# %% [markdown]
# ## 2. The accelerator
#
# On the board `eie.board.driver.open_overlay` loads the bundle's bitstream;
# `pynq.Overlay` binds `eie.board.driver.EIEAccelerator` to the IP by its
# VLNV, and the manifest holds the configuration the kernel was generated
# with. In co-simulation, `CoSimAccelerator` compiles that configuration's
# kernel (cached after the first build) and offers the same `load` /
# `run` / `run_int` / `predict`.

# %%
config = AcceleratorConfig.from_dict(bundle.manifest["config"])
if ON_BOARD:
    from eie.board.driver import open_overlay

    acc = open_overlay(str(bundle.overlay()))
else:
    from eie.board.cosim import CoSimAccelerator
    from eie.hardware.resources import estimate

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
# The kernel alone: benchmark() times start-to-done apart from the buffers (allocated once, by its
# warm-up call) and the copies; on the board with the board's clock, here the host running the C model.
bench = acc.benchmark(x_test[:32], runs=5)
print(
    f"benchmark, batch of {bench['batch']}: kernel {bench['kernel_us']['median']:.1f} us, end to end "
    f"{bench['latency_us']['median']:.1f} us (median of {bench['runs']}; {bench['source']})"
)
RESULTS["benchmark"] = {k: bench[k] for k in ("runs", "batch", "source")}
RESULTS["benchmark_kernel_us"] = bench["kernel_us"]["median"]

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
# The bundle's own test vectors: the outputs the host's emulator expected when it deployed.
vec = bundle.vectors()
bundle_ok = bool(np.array_equal(unpermute(qm, acc.run_int(vec["inputs_int"])), vec["expected_int"]))
print("the bundle's test vectors give the outputs recorded at deploy time:", bundle_ok)
RESULTS["bundle_vectors_match"] = bundle_ok

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
    print(f"kernel alone (benchmark): {bench['kernel_us']['median'] / bench['batch']:.2f} us per image")
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
# The tests (tests/test_notebooks.py) set EIE_NOTEBOOK_RESULTS to a file and read the key results
# from it; nothing is printed into the notebook.
if os.environ.get("EIE_NOTEBOOK_RESULTS"):
    with open(os.environ["EIE_NOTEBOOK_RESULTS"], "w") as f:
        json.dump(RESULTS, f, sort_keys=True)
