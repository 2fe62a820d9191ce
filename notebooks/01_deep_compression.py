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
# # Deep Compression, step by step, down to the integer hardware path
#
# This notebook walks through the compression pipeline of *Deep Compression*
# (Han, Mao, Dally, ICLR 2016) on a small network, and then prepares the
# result for the EIE accelerator:
#
# 1. train a 64-300-100-10 MLP (the LeNet-300-100 shape) on scikit-learn's
#    bundled 8x8 handwritten digits — no download;
# 2. **prune** by weight magnitude and see what that costs in accuracy;
# 3. **share weights** with per-layer 1-D k-means (linear, density and
#    random centroid initialisation);
# 4. count the **storage** in EIE's format, with and without **Huffman**
#    coding;
# 5. **quantise** to the accelerator's integer arithmetic, run the
#    bit-exact integer emulator, and build the **model image** the board
#    loads.
#
# Everything runs on the CPU in emulation; the board notebook takes the
# same image to a PYNQ FPGA. Every step is a call into the `eie` package;
# the notebook only adds the experiments and the plots.
#
# **Host only.** It needs scikit-learn and threadpoolctl (`pip install
# 'eie-pynq[host,plot]'`), which the PYNQ image does not have, so it is not
# delivered to the board (`pynq get-notebooks eie-pynq` copies
# `03_pynq_board` only).

# %%
import dataclasses
import json
import os
import sys
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from eie.arithmetic.emulator import Emulator, error_report, predict, quantize_input
from eie.arithmetic.quant import quantize
from eie.compression.pipeline import compress
from eie.compression.prune import magnitude_masks
from eie.compression.report import dense_forward, score, sensitivity
from eie.compression.weights import DenseLayer
from eie.format.image import build_image, image_bytes, read_image
from eie.format.qmodel import HWParams
from eie.format.storage import storage_report
from eie.train.digits import DigitsConfig, load_data

# The matrices here are tiny: BLAS threads only fight each other (and
# anything else on the machine), which made training ~30x slower on
# two shared cores. One thread is the fast choice.
threadpool_limits(1)

plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
RESULTS = {"python_prefix": sys.prefix}
print("python", sys.version.split()[0], "at", sys.executable)

# %% [markdown]
# ## 1. Data and the float model
#
# 1797 digit images of 8x8 pixels, pixels scaled to [0, 1], in the fixed
# stratified split (30 % test) of the project's training code
# (`eie.train.digits.load_data`), so accuracies here and in `eie demo` are
# measured on the same images. The float model is a scikit-learn MLP.

# %%
x_train, y_train, x_test, y_test = load_data(DigitsConfig())

t0 = time.perf_counter()
mlp = MLPClassifier(hidden_layer_sizes=(300, 100), max_iter=60, random_state=0)
with warnings.catch_warnings():
    # 60 epochs reach ~98 % here; full convergence is not the point.
    warnings.simplefilter("ignore", ConvergenceWarning)
    mlp.fit(x_train, y_train)
float_accuracy = float(mlp.score(x_test, y_test))
print(f"{len(x_train)} training, {len(x_test)} test images")
print(f"trained in {time.perf_counter() - t0:.1f} s; test accuracy {float_accuracy:.2%}")
RESULTS["float_accuracy"] = float_accuracy

# %% [markdown]
# scikit-learn stores each layer's weights as *inputs x outputs*; the
# toolkit's `DenseLayer` is *outputs x inputs* (y = act(W x + b)), so the
# export transposes. ReLU between layers; the last layer's logits are
# used as they are (arg-max = the class).
#
# `eie.compression.report.dense_forward` runs float layers (numpy, float64)
# and `eie.compression.report.score` scores outputs against labels; on the
# exported layers they must reproduce scikit-learn's accuracy. The
# shared-weight models further down are scored on their own float
# reference, `CompressedModel.forward`.

# %%
dense_layers = [
    DenseLayer(f"fc{i + 1}", w.T.copy(), b.copy(), "relu" if i < len(mlp.coefs_) - 1 else "none")
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_))
]


def accuracy_of(outputs):
    """Test-set accuracy of a batch of outputs (arg-max = the class)."""
    metric, value = score(outputs, y_test)
    assert metric == "accuracy"
    return value


def masked(masks):
    """The exported layers with the weights outside ``masks`` set to zero."""
    return [dataclasses.replace(l, weight=l.weight * m) for l, m in zip(dense_layers, masks)]


exported_accuracy = accuracy_of(dense_forward(dense_layers, x_test))
for l in dense_layers:
    print(f"{l.name}: {l.weight.shape[0]} x {l.weight.shape[1]}, {l.activation}")
print(f"exported model accuracy {exported_accuracy:.2%} (scikit-learn: {float_accuracy:.2%})")
RESULTS["exported_accuracy"] = exported_accuracy

# %% [markdown]
# ### The weight distribution
#
# Most weights sit near zero, which is what makes magnitude pruning work:
# the many small weights contribute little. (The log scale shows the
# tails, which hold the few large weights pruning keeps.)

# %%
fig, axes = plt.subplots(1, len(dense_layers), figsize=(13, 3.2))
for ax, l in zip(axes, dense_layers):
    ax.hist(l.weight.ravel(), bins=120, color="tab:blue")
    ax.set_yscale("log")
    ax.set_title(f"{l.name} ({l.weight.size} weights)")
    ax.set_xlabel("weight")
axes[0].set_ylabel("count")
fig.suptitle("Trained float weights")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Magnitude pruning
#
# `eie.compression.prune.magnitude_masks` keeps the largest-magnitude
# fraction (*density*) of each layer's weights and zeroes the rest. Here it
# is **one-shot, without retraining**, to show the raw effect: accuracy
# holds at moderate densities and collapses at low ones. Deep Compression
# retrains the surviving weights after pruning (iteratively), which
# recovers the accuracy at around 10 % density; that is implemented in
# `eie.train` and run end to end by `eie demo`.
#
# Left, two curves: the pruned float weights, and the float reference of
# the toolkit's `CompressedModel` (`CompressedModel.forward`) built by
# `eie.compression.pipeline.compress` with 8-bit weight sharing (255
# centroids), which is nearly lossless, so the curves almost coincide.
# Right, Deep Compression's sensitivity scan
# (`eie.compression.report.sensitivity`): one layer pruned at a time.

# %%
weights = [l.weight for l in dense_layers]
densities = [1.0, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02]
pruned_acc, compressed_acc = [], []
for d in densities:
    pruned_acc.append(accuracy_of(dense_forward(masked(magnitude_masks(weights, density=d)), x_test)))
    compressed_acc.append(accuracy_of(compress(dense_layers, density=d, weight_bits=8).forward(x_test)))

# Sensitivity: prune one layer at a time, the others dense.
sens_densities = [0.5, 0.3, 0.2, 0.1, 0.05, 0.02]
sens = sensitivity(dense_layers, x_test, y_test, sens_densities)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
ax1.plot(densities, pruned_acc, "o-", label="pruned float weights")
ax1.plot(densities, compressed_acc, "x--", label="CompressedModel.forward (8-bit sharing)")
ax1.axhline(float_accuracy, color="gray", ls=":", label="dense float")
ax1.set_xscale("log")
ax1.set_xticks(densities, [f"{d:g}" for d in densities])
ax1.minorticks_off()
ax1.set_xlabel("density (fraction of weights kept, every layer)")
ax1.set_ylabel("test accuracy")
ax1.set_title("One-shot pruning, no retraining")
ax1.legend()
for name, accs in sens.table.items():
    ax2.plot(sens_densities, accs, "o-", label=name)
ax2.set_xscale("log")
ax2.set_xticks(sens_densities, [f"{d:g}" for d in sens_densities])
ax2.minorticks_off()
ax2.set_xlabel("density of the one pruned layer")
ax2.set_title("Sensitivity: one layer pruned, the others dense")
ax2.legend()
fig.tight_layout()
plt.show()
for d, a, c in zip(densities, pruned_acc, compressed_acc):
    print(f"density {d:>5.0%}: pruned float {a:.2%}, compressed (8-bit) {c:.2%}")
RESULTS["pruning"] = {"densities": densities, "pruned_accuracy": pruned_acc, "compressed_accuracy": compressed_acc}

# %% [markdown]
# The sensitivity plot is how Deep Compression picks per-layer densities:
# the first layer sees many always-blank border pixels and tolerates
# pruning; the small last layer is the most sensitive
# (`Sensitivity.suggest(max_drop)` reads per-layer densities off the scan
# for an accuracy budget). The drops add up when every layer is pruned at
# once, so for the rest of this notebook we take the suggestion for a
# 2-point budget but keep the small, sensitive last layer at 50 % (still
# without retraining, so the accuracy cost is visible).

# %%
print("lowest densities losing at most 2 points, one layer at a time:", sens.suggest(0.02))
LAYER_DENSITY = {"fc1": 0.3, "fc2": 0.2, "fc3": 0.5}
masks = magnitude_masks(weights, density=[LAYER_DENSITY[l.name] for l in dense_layers])
pruned_layers = masked(masks)
operating_accuracy = accuracy_of(dense_forward(pruned_layers, x_test))
kept = sum(int(m.sum()) for m in masks)
total = sum(m.size for m in masks)
print(f"{kept} of {total} weights kept ({kept / total:.1%}); pruned float accuracy {operating_accuracy:.2%}")
RESULTS["operating_point"] = {
    "densities": LAYER_DENSITY,
    "overall_density": kept / total,
    "pruned_accuracy": operating_accuracy,
}

# %% [markdown]
# ## 3. Weight sharing (k-means)
#
# The kept weights of each layer are clustered into at most 2^b - 1
# centroids (code 0 means zero); each weight is then stored as a b-bit
# code into the layer's codebook. The centroid initialisation matters:
# *linear* spreads the initial centroids evenly between the smallest and
# largest weight, *density* places them at evenly spaced quantiles, and
# *random* picks kept weights at random. Density and random start with
# most centroids in the two peaks just outside the pruning threshold;
# linear starts some out in the tails, where the few large (and
# important) weights are. Deep Compression found linear initialisation
# the most accurate after retraining; here, after k-means alone, the
# final codebooks end up close to each other.
#
# `compress` prunes with the same magnitude masks and runs the k-means
# (`eie.compression.kmeans`). The plot shows the 4-bit (15-centroid)
# codebooks of layer fc2 over its kept weights.

# %%
INITS = ("linear", "density", "random")
MARKERS = ("v", "o", "s")
shared = {init: compress(dense_layers, densities=LAYER_DENSITY, weight_bits=4, init=init) for init in INITS}

fc2_kept = pruned_layers[1].weight[masks[1]]
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
axes[0].hist(fc2_kept, bins=150, color="lightgray", label="kept weights")
top = axes[0].get_ylim()[1]
for k, (init, marker) in enumerate(zip(INITS, MARKERS)):
    cb = shared[init].layers[1].codebook[1:]
    axes[0].plot(cb, np.full(cb.size, top * (0.92 - 0.08 * k)), marker, ls="none", label=f"{init} init")
axes[0].set_xlabel("weight")
axes[0].set_ylabel("count")
axes[0].set_title("fc2: 4-bit codebooks over the kept weights")
axes[0].legend(fontsize=8)
s = np.sort(fc2_kept)
axes[1].plot(s, np.arange(1, s.size + 1) / s.size, color="gray", label="CDF of kept weights")
for init, marker in zip(INITS, MARKERS):
    cb = shared[init].layers[1].codebook[1:]
    axes[1].plot(cb, np.searchsorted(s, cb) / s.size, marker, ls="none", label=f"{init} init")
axes[1].set_xlabel("weight")
axes[1].set_ylabel("cumulative fraction")
axes[1].set_title("fc2: centroids on the weights' CDF")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# Accuracy of the shared-weight model (`CompressedModel.forward`: every
# kept weight replaced by its centroid) against the number of code bits,
# for each initialisation. The dotted line is the pruned float model at
# the same densities. Even without centroid fine-tuning (also in
# `eie.train`), a few bits come close to it; at 2 bits (3 centroids) the
# choice of initialisation shows most.

# %%
BITS = [2, 3, 4, 5, 6]
sharing_acc = {
    init: [
        accuracy_of(compress(dense_layers, densities=LAYER_DENSITY, weight_bits=b, init=init).forward(x_test))
        for b in BITS
    ]
    for init in INITS
}
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for init, marker in zip(INITS, MARKERS):
    ax.plot(BITS, sharing_acc[init], marker + "-", label=f"{init} init")
ax.axhline(operating_accuracy, color="gray", ls=":", label="pruned float")
ax.set_xticks(BITS)
ax.set_xlabel("weight_bits (2^b - 1 centroids per layer)")
ax.set_ylabel("test accuracy")
ax.set_title("Weight sharing: accuracy by init and code width")
ax.legend()
fig.tight_layout()
plt.show()
for init in INITS:
    print(f"{init:>8}: " + ", ".join(f"{b} bits {a:.2%}" for b, a in zip(BITS, sharing_acc[init])))
RESULTS["sharing"] = {"bits": BITS, "accuracy": sharing_acc}

# %% [markdown]
# ## 4. Storage: EIE format with and without Huffman coding
#
# `eie.format.storage.storage_report` encodes every layer in EIE's format for a
# number of PEs and relative-index width (here the hardware's 16 PEs and
# 4-bit indices) and counts: the codes and relative indices at their
# fixed widths (padding entries included), the codebook, the bias and the
# per-PE column pointers. It counts the codes and indices again under a
# Huffman code of their own statistics (`eie.compression.huffman`), the last
# step of Deep Compression. The baseline is the dense float32 layer.
#
# For a model this small, on 16 PEs, the column pointers (N x (K + 1) per
# layer) are a large share; on the paper's large layers they are spread
# over far more entries.

# %%
model = shared["linear"]
report = storage_report(model, n_pes=16, index_bits=4)
print(report.format_table())

names = [l.name for l in report.layers]
xpos = np.arange(len(names))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 3.8))
w = 0.27
ax1.bar(xpos - w, [l.dense_bytes for l in report.layers], w, label="dense float32")
ax1.bar(xpos, [l.total_bytes for l in report.layers], w, label="EIE, fixed width")
ax1.bar(xpos + w, [l.total_bytes_huffman for l in report.layers], w, label="EIE + Huffman")
ax1.set_yscale("log")
ax1.set_xticks(xpos, names)
ax1.set_ylabel("bytes")
ax1.set_title("Storage per layer")
ax1.legend()
parts = {
    "codes": ([l.code_bytes for l in report.layers], [l.code_bytes_huffman for l in report.layers]),
    "relative indices": ([l.index_bytes for l in report.layers], [l.index_bytes_huffman for l in report.layers]),
    "pointers": ([l.pointer_bytes for l in report.layers],) * 2,
    "codebook + bias": ([l.codebook_bytes + l.bias_bytes for l in report.layers],) * 2,
}
bottom = np.zeros(2)
for part, (fixed, huff) in parts.items():
    vals = np.array([sum(fixed), sum(huff)], dtype=float)
    ax2.bar([0, 1], vals, 0.5, bottom=bottom, label=part)
    bottom += vals
ax2.set_xticks([0, 1], ["fixed width", "Huffman"])
ax2.set_ylabel("bytes (whole model)")
ax2.set_title(f"What the {report.total_bytes} / {report.total_bytes_huffman} bytes hold")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()
RESULTS["storage"] = {
    "dense_bytes": report.dense_bytes,
    "total_bytes": report.total_bytes,
    "total_bytes_huffman": report.total_bytes_huffman,
    "compression_ratio": report.compression_ratio,
    "compression_ratio_huffman": report.compression_ratio_huffman,
}

# %% [markdown]
# ## 5. Quantise for the hardware and run the integer emulator
#
# The accelerator computes in integers (docs/arithmetic.md): 16-bit
# activations, 16-bit codebook values and a 32-bit accumulator, each with
# a per-layer binary scale. `eie.arithmetic.quant.quantize` picks the codebook scale
# per layer, picks the activation formats from calibration inputs (here
# 256 training images), converts the biases, and proves that no
# accumulator can overflow for any input. The hardware parameters are
# those of a 16-PE accelerator with 4-bit codes and 4-bit relative
# indices.
#
# `eie.arithmetic.emulator.predict` runs the bit-exact integer model (the golden
# model the C-simulation and the board must match integer for integer)
# on float inputs: quantise the input, run the integer layers,
# dequantise the output. `error_report` compares it with the float
# reference.

# %%
params = HWParams(n_pes=16)
qm = quantize(model, params, calib=x_train[:256])
for info in qm.info["layers"]:
    print(
        f"{info['name']}: fa_in={info['fa_in']} fw={info['fw']} fa_out={info['fa_out']} "
        f"accumulator needs {info['acc_bits_needed']} of {params.acc_bits} bits"
    )

reference_logits = model.forward(x_test)
integer_logits = predict(qm, x_test)
reference_accuracy = accuracy_of(reference_logits)
integer_accuracy = accuracy_of(integer_logits)
agreement = score(integer_logits, np.argmax(reference_logits, axis=1))[1]
err = error_report(qm, model, x_test)
print(
    f"float reference {reference_accuracy:.2%}, integer emulator {integer_accuracy:.2%}, "
    f"same class on {agreement:.2%} of the test images"
)
print(f"largest logit error {err['max_abs_error']:.2e} (output LSB {err['output_lsb']:.1e})")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
ax1.plot(reference_logits.ravel(), integer_logits.ravel(), ".", ms=2, alpha=0.5)
lim = [reference_logits.min(), reference_logits.max()]
ax1.plot(lim, lim, "k--", lw=0.8)
ax1.set_xlabel("float reference logit")
ax1.set_ylabel("integer emulator logit")
ax1.set_title("Integer path vs float reference (test set)")
ax2.hist(((integer_logits - reference_logits) / err["output_lsb"]).ravel(), bins=60)
ax2.set_xlabel("integer - float, in output LSBs")
ax2.set_ylabel("count")
ax2.set_title("Where the integer path differs")
fig.tight_layout()
plt.show()
RESULTS["quantised"] = {
    "reference_accuracy": reference_accuracy,
    "integer_accuracy": integer_accuracy,
    "agreement": agreement,
    "max_abs_error": err["max_abs_error"],
    "max_relative_to_peak": err["max_relative_to_peak"],
    "output_lsb": err["output_lsb"],
}

# %% [markdown]
# ### The model image
#
# `eie.format.image.build_image` serialises the quantised model into the flat
# 64-bit-word buffer the kernel loads: header, layer descriptors,
# codebooks, biases, row maps, per-PE pointers and packed entries. Reading
# it back with the strict reader (`read_image`) and running the emulator on
# what it holds must give the same integers — the image alone carries
# everything the hardware needs. It is larger than the storage report's
# count because it is laid out for the kernel to read directly: 64-bit
# codebook and bias words, 32-bit pointers and per-layer descriptors.

# %%
img = build_image(qm)
raw = image_bytes(img)
print(f"model image: {img.size} words = {len(raw)} bytes (dense float32 model: {report.dense_bytes} bytes)")
reread = read_image(raw, expect=params)
x_int = quantize_input(qm, x_test)
same = bool(np.array_equal(Emulator(reread).run(x_int), Emulator(qm).run(x_int)))
print("emulator on the re-read image gives identical integers:", same)
RESULTS["image"] = {"words": int(img.size), "bytes": len(raw), "roundtrip_identical": same}

# %% [markdown]
# ## Where next
#
# * `eie demo` runs the full pipeline with retraining (iterative pruning,
#   centroid fine-tuning, and a TTQ variant) and checks every path.
# * `02_eie_timing_and_balance.ipynb` looks at how fast the accelerator
#   runs such layers, according to the EIE timing model.
# * `03_pynq_board.ipynb` loads this kind of image onto a PYNQ board (or
#   its co-simulation) and compares the board's integers with the
#   emulator's.

# %%
# The tests (tests/test_notebooks.py) set EIE_NOTEBOOK_RESULTS to a file and read the key results
# from it; nothing is printed into the notebook.
if os.environ.get("EIE_NOTEBOOK_RESULTS"):
    with open(os.environ["EIE_NOTEBOOK_RESULTS"], "w") as f:
        json.dump(RESULTS, f, sort_keys=True)
