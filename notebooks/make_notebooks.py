"""Build the project's Jupyter notebooks from the cell sources kept here.

The ``.ipynb`` files are generated, committed without outputs, and checked
against this script by tests/test_notebooks.py, so a notebook is reviewed as
the Python below and cannot drift from it. Regenerate after editing:

    .venv/bin/python notebooks/make_notebooks.py          # write the notebooks
    .venv/bin/python notebooks/make_notebooks.py --check  # exit 1 if they differ

Every notebook runs headless in emulation (no board, no downloads) and ends
with a cell that prints its key results as one JSON line, which the test
parses.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_MARKER = "EIE_NOTEBOOK_RESULTS "

_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def md(text: str) -> tuple[str, str]:
    return ("markdown", textwrap.dedent(text).strip("\n"))


def code(text: str) -> tuple[str, str]:
    return ("code", textwrap.dedent(text).strip("\n"))


def results_cell() -> tuple[str, str]:
    return code(
        f"""
        # Key results as one JSON line (tests/test_notebooks.py reads it).
        import json
        print({RESULTS_MARKER!r} + json.dumps(RESULTS, sort_keys=True))
        """
    )


# ---------------------------------------------------------------------------
# 01: Deep Compression on the bundled digits
# ---------------------------------------------------------------------------

DEEP_COMPRESSION = [
    md(
        """
        # Deep Compression, step by step, down to the integer hardware path

        This notebook walks through the compression pipeline of *Deep Compression*
        (Han, Mao, Dally, ICLR 2016) on a small network, and then prepares the
        result for the EIE accelerator:

        1. train a 64-300-100-10 MLP (the LeNet-300-100 shape) on scikit-learn's
           bundled 8x8 handwritten digits — no download;
        2. **prune** by weight magnitude and see what that costs in accuracy;
        3. **share weights** with per-layer 1-D k-means (linear, density and
           random centroid initialisation);
        4. count the **storage** in EIE's format, with and without **Huffman**
           coding;
        5. **quantise** to the accelerator's integer arithmetic, run the
           bit-exact integer emulator, and build the **model image** the board
           loads.

        Everything runs on the CPU in emulation; the board notebook takes the
        same image to a PYNQ FPGA.
        """
    ),
    code(
        """
        import sys
        import time
        import warnings

        import matplotlib.pyplot as plt
        import numpy as np
        from threadpoolctl import threadpool_limits

        # The matrices here are tiny: BLAS threads only fight each other (and
        # anything else on the machine), which made training ~30x slower on
        # two shared cores. One thread is the fast choice.
        threadpool_limits(1)

        from eie.compression.pipeline import compress
        from eie.arithmetic.emulator import Emulator, error_report, predict, quantize_input
        from eie.format.qmodel import HWParams
        from eie.format.image import build_image, image_bytes, read_image
        from eie.compression.weights import DenseLayer
        from eie.compression.prune import magnitude_masks
        from eie.arithmetic.quant import quantize
        from eie.format.storage import storage_report

        plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
        RESULTS = {"python_prefix": sys.prefix}
        print("python", sys.version.split()[0], "at", sys.executable)
        """
    ),
    md(
        """
        ## 1. Data and the float model

        1797 digit images of 8x8 pixels; pixels are scaled to [0, 1] (divided
        by 16). The split is fixed and stratified (30 % test), the same one the
        project's training code (`eie.train.digits`) uses.
        """
    ),
    code(
        """
        from sklearn.datasets import load_digits
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)

        t0 = time.perf_counter()
        mlp = MLPClassifier(hidden_layer_sizes=(300, 100), max_iter=60, random_state=0)
        with warnings.catch_warnings():
            # 60 epochs reach ~98 % here; full convergence is not the point.
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(x_train, y_train)
        float_accuracy = mlp.score(x_test, y_test)
        print(f"trained in {time.perf_counter() - t0:.1f} s; test accuracy {float_accuracy:.2%}")
        RESULTS["float_accuracy"] = float(float_accuracy)
        """
    ),
    md(
        """
        scikit-learn stores each layer's weights as *inputs x outputs*; the
        toolkit's `DenseLayer` is *outputs x inputs* (y = act(W x + b)), so the
        export transposes. ReLU between layers; the last layer's logits are
        used as they are (arg-max = the class).
        """
    ),
    code(
        """
        dense_layers = [
            DenseLayer(f"fc{i + 1}", w.T.copy(), b.copy(), "relu" if i < len(mlp.coefs_) - 1 else "none")
            for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_))
        ]


        def forward(weights, x):
            # Float forward pass of the exported layers with the given weight matrices.
            h = x
            for layer, w in zip(dense_layers, weights):
                h = h @ w.T + layer.bias
                if layer.activation == "relu":
                    h = np.maximum(h, 0.0)
            return h


        def accuracy(logits):
            return float(np.mean(np.argmax(logits, axis=1) == y_test))


        exported_accuracy = accuracy(forward([l.weight for l in dense_layers], x_test))
        for l in dense_layers:
            print(f"{l.name}: {l.weight.shape[0]} x {l.weight.shape[1]}, {l.activation}")
        print(f"exported model accuracy {exported_accuracy:.2%} (scikit-learn: {float_accuracy:.2%})")
        RESULTS["exported_accuracy"] = exported_accuracy
        """
    ),
    md(
        """
        ### The weight distribution

        Most weights sit near zero, which is what makes magnitude pruning work:
        the many small weights contribute little. (The log scale shows the
        tails, which hold the few large weights pruning keeps.)
        """
    ),
    code(
        """
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
        """
    ),
    md(
        """
        ## 2. Magnitude pruning

        Keep the largest-magnitude fraction (*density*) of each layer's weights
        and zero the rest. Here it is **one-shot, without retraining**, to show
        the raw effect: accuracy holds at moderate densities and collapses at
        low ones. Deep Compression retrains the surviving weights after
        pruning (iteratively), which recovers the accuracy at around 10 %
        density; that is implemented in `eie.train` and run end to end by
        `eie demo`.

        Two curves: the pruned float weights, and the float reference of the
        toolkit's `CompressedModel` (`CompressedModel.forward`) built by
        `eie.compression.pipeline.compress` with 8-bit weight sharing (255 centroids),
        which is nearly lossless, so the curves almost coincide.
        """
    ),
    code(
        """
        densities = [1.0, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02]
        pruned_acc, compressed_acc = [], []
        for d in densities:
            masks = magnitude_masks([l.weight for l in dense_layers], density=d)
            pruned_acc.append(accuracy(forward([l.weight * m for l, m in zip(dense_layers, masks)], x_test)))
            cm = compress(dense_layers, density=d, weight_bits=8)
            compressed_acc.append(accuracy(cm.forward(x_test)))

        # Sensitivity: prune one layer at a time, the others dense.
        sens_densities = [0.5, 0.3, 0.2, 0.1, 0.05, 0.02]
        sensitivity = {}
        for i, layer in enumerate(dense_layers):
            accs = []
            for d in sens_densities:
                masks = magnitude_masks([l.weight for l in dense_layers], density=[d if j == i else 1.0 for j in range(len(dense_layers))])
                accs.append(accuracy(forward([l.weight * m for l, m in zip(dense_layers, masks)], x_test)))
            sensitivity[layer.name] = accs

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
        for name, accs in sensitivity.items():
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
        """
    ),
    md(
        """
        The sensitivity plot is how Deep Compression picks per-layer densities:
        the first layer sees many always-blank border pixels and tolerates
        pruning; the small last layer is the most sensitive. For the rest of
        this notebook we use the per-layer densities below (still without
        retraining, so the accuracy cost is visible).
        """
    ),
    code(
        """
        LAYER_DENSITY = {"fc1": 0.3, "fc2": 0.2, "fc3": 0.5}
        masks = magnitude_masks([l.weight for l in dense_layers], density=[LAYER_DENSITY[l.name] for l in dense_layers])
        pruned_weights = [l.weight * m for l, m in zip(dense_layers, masks)]
        operating_accuracy = accuracy(forward(pruned_weights, x_test))
        kept = sum(int(m.sum()) for m in masks)
        total = sum(m.size for m in masks)
        print(f"{kept} of {total} weights kept ({kept / total:.1%}); pruned float accuracy {operating_accuracy:.2%}")
        RESULTS["operating_point"] = {"densities": LAYER_DENSITY, "overall_density": kept / total,
                                      "pruned_accuracy": operating_accuracy}
        """
    ),
    md(
        """
        ## 3. Weight sharing (k-means)

        The kept weights of each layer are clustered into at most 2^b - 1
        centroids (code 0 means zero); each weight is then stored as a b-bit
        code into the layer's codebook. The centroid initialisation matters:
        *linear* spreads the initial centroids evenly between the smallest and
        largest weight, *density* places them at evenly spaced quantiles, and
        *random* picks kept weights at random. Density and random start with
        most centroids in the two peaks just outside the pruning threshold;
        linear starts some out in the tails, where the few large (and
        important) weights are. Deep Compression found linear initialisation
        the most accurate after retraining; here, after k-means alone, the
        final codebooks end up close to each other.

        The plot shows the 4-bit (15-centroid) codebooks of layer fc2 over its
        kept weights.
        """
    ),
    code(
        """
        INITS = ("linear", "density", "random")
        shared = {init: compress(dense_layers, densities=LAYER_DENSITY, weight_bits=4, init=init) for init in INITS}

        fc2_kept = pruned_weights[1][masks[1]]
        fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
        axes[0].hist(fc2_kept, bins=150, color="lightgray", label="kept weights")
        top = axes[0].get_ylim()[1]
        for k, (init, marker) in enumerate(zip(INITS, ("v", "o", "s"))):
            cb = shared[init].layers[1].codebook[1:]
            axes[0].plot(cb, np.full(cb.size, top * (0.92 - 0.08 * k)), marker, ls="none", label=f"{init} init")
        axes[0].set_xlabel("weight")
        axes[0].set_ylabel("count")
        axes[0].set_title("fc2: 4-bit codebooks over the kept weights")
        axes[0].legend(fontsize=8)
        s = np.sort(fc2_kept)
        axes[1].plot(s, np.arange(1, s.size + 1) / s.size, color="gray", label="CDF of kept weights")
        for init, marker in zip(INITS, ("v", "o", "s")):
            cb = shared[init].layers[1].codebook[1:]
            axes[1].plot(cb, np.searchsorted(s, cb) / s.size, marker, ls="none", label=f"{init} init")
        axes[1].set_xlabel("weight")
        axes[1].set_ylabel("cumulative fraction")
        axes[1].set_title("fc2: centroids on the weights' CDF")
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        plt.show()
        """
    ),
    md(
        """
        Accuracy of the shared-weight model (`CompressedModel.forward`: every
        kept weight replaced by its centroid) against the number of code bits,
        for each initialisation. The dotted line is the pruned float model at
        the same densities. Even without centroid fine-tuning (also in
        `eie.train`), a few bits come close to it; at 2 bits (3 centroids) the
        choice of initialisation shows most.
        """
    ),
    code(
        """
        BITS = [2, 3, 4, 5, 6]
        sharing_acc = {
            init: [accuracy(compress(dense_layers, densities=LAYER_DENSITY, weight_bits=b, init=init).forward(x_test))
                   for b in BITS]
            for init in INITS
        }
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        for init, marker in zip(INITS, ("v-", "o-", "s-")):
            ax.plot(BITS, sharing_acc[init], marker, label=f"{init} init")
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
        """
    ),
    md(
        """
        ## 4. Storage: EIE format with and without Huffman coding

        `eie.format.storage.storage_report` encodes every layer in EIE's format for a
        number of PEs and relative-index width (here the hardware's 16 PEs and
        4-bit indices) and counts: the codes and relative indices at their
        fixed widths (padding entries included), the codebook, the bias and the
        per-PE column pointers. It counts the codes and indices again under a
        Huffman code of their own statistics, the last step of Deep
        Compression. The baseline is the dense float32 layer.

        For a model this small, on 16 PEs, the column pointers (N x (K + 1) per
        layer) are a large share; on the paper's large layers they are spread
        over far more entries.
        """
    ),
    code(
        """
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
        """
    ),
    md(
        """
        ## 5. Quantise for the hardware and run the integer emulator

        The accelerator computes in integers (DESIGN section 3): 16-bit
        activations, 16-bit codebook values and a 32-bit accumulator, each with
        a per-layer binary scale. `eie.arithmetic.quant.quantize` picks the codebook scale
        per layer, picks the activation formats from calibration inputs (here
        256 training images), converts the biases, and proves that no
        accumulator can overflow for any input. The hardware parameters are
        those of a 16-PE accelerator with 4-bit codes and 4-bit relative
        indices.

        `eie.arithmetic.emulator.predict` runs the bit-exact integer model (the golden
        model the C-simulation and the board must match integer for integer)
        on float inputs: quantise the input, run the integer layers,
        dequantise the output.
        """
    ),
    code(
        """
        params = HWParams(n_pes=16)
        qm = quantize(model, params, calib=x_train[:256])
        for info in qm.info["layers"]:
            print(f"{info['name']}: fa_in={info['fa_in']} fw={info['fw']} fa_out={info['fa_out']} "
                  f"accumulator needs {info['acc_bits_needed']} of {params.acc_bits} bits")

        reference_logits = model.forward(x_test)
        integer_logits = predict(qm, x_test)
        reference_accuracy = accuracy(reference_logits)
        integer_accuracy = accuracy(integer_logits)
        agreement = float(np.mean(np.argmax(integer_logits, 1) == np.argmax(reference_logits, 1)))
        err = error_report(qm, model, x_test)
        print(f"float reference {reference_accuracy:.2%}, integer emulator {integer_accuracy:.2%}, "
              f"same class on {agreement:.2%} of the test images")
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
        RESULTS["quantised"] = {"reference_accuracy": reference_accuracy, "integer_accuracy": integer_accuracy,
                                "agreement": agreement, "max_abs_error": err["max_abs_error"],
                                "max_relative_to_peak": err["max_relative_to_peak"], "output_lsb": err["output_lsb"]}
        """
    ),
    md(
        """
        ### The model image

        `eie.format.image.build_image` serialises the quantised model into the flat
        64-bit-word buffer the kernel loads: header, layer descriptors,
        codebooks, biases, row maps, per-PE pointers and packed entries. Reading
        it back with the strict reader and running the emulator on what it
        holds must give the same integers — the image alone carries everything
        the hardware needs. It is larger than the storage report's count
        because it is laid out for the kernel to read directly: 64-bit
        codebook and bias words, 32-bit pointers and per-layer descriptors.
        """
    ),
    code(
        """
        img = build_image(qm)
        raw = image_bytes(img)
        print(f"model image: {img.size} words = {len(raw)} bytes "
              f"(dense float32 model: {report.dense_bytes} bytes)")
        reread = read_image(raw, expect=params)
        x_int = quantize_input(qm, x_test)
        same = bool(np.array_equal(Emulator(reread).run(x_int), Emulator(qm).run(x_int)))
        print("emulator on the re-read image gives identical integers:", same)
        RESULTS["image"] = {"words": int(img.size), "bytes": len(raw), "roundtrip_identical": same}
        """
    ),
    md(
        """
        ## Where next

        * `eie demo` runs the full pipeline with retraining (iterative pruning,
          centroid fine-tuning, and a TTQ variant) and checks every path.
        * `02_eie_timing_and_balance.ipynb` looks at how fast the accelerator
          runs such layers, according to the EIE timing model.
        * The board notebook loads this kind of image onto a PYNQ board and
          compares the board's integers with the emulator's.
        """
    ),
    results_cell(),
]


# ---------------------------------------------------------------------------
# 02: the EIE timing model, load balance and index width
# ---------------------------------------------------------------------------

TIMING = [
    md(
        """
        # EIE timing: FIFOs, PE count, index width and load balance

        **Every figure in this notebook comes from the EIE timing model
        (`eie.performance.timing`, DESIGN section 4), a cycle-level queueing schedule — not
        from hardware measurements.** The model: a central unit broadcasts the
        input's non-zero activations, one per cycle, into a FIFO in each PE
        (stalling while any FIFO is full); a PE spends one cycle per stored
        entry of that column (padding entries included, at least one cycle per
        column). With 64 PEs, FIFO depth 8 and 4-bit codes and indices at
        800 MHz it describes the EIE ASIC (Han et al., ISCA 2016).

        The layers are **synthetic**: random positions at the weight and
        activation densities the EIE paper reports for its benchmark layers.
        Real pruned layers and ReLU outputs are more clustered, so these
        figures describe the format and the schedule, not a particular trained
        network.
        """
    ),
    code(
        """
        import sys
        import time

        import matplotlib.pyplot as plt
        import numpy as np
        from threadpoolctl import threadpool_limits

        # Small numpy operations in a loop: extra BLAS threads only contend
        # for the two shared cores.
        threadpool_limits(1)

        from eie.performance.balance import STRATEGIES, balance, inverse
        from eie.format.csc import encode
        from eie.performance.index_bits import index_bits_table, pick
        from eie.compression.model import CompressedLayer
        from eie.performance.synthetic import random_activation_mask, random_codes, random_positions
        from eie.performance.timing import (
            EIE_ASIC,
            EIE_ASIC_INDEX_BITS,
            EIE_ASIC_PES,
            TimingParams,
            simulate_layer,
        )

        plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
        RESULTS = {"python_prefix": sys.prefix}
        T_START = time.perf_counter()
        print("EIE ASIC timing parameters:", EIE_ASIC, f"N={EIE_ASIC_PES}, index_bits={EIE_ASIC_INDEX_BITS}")
        """
    ),
    md(
        """
        ## The benchmark layers

        Four fully-connected layers from the EIE paper's benchmark table, at
        their full sizes: AlexNet fc7 and fc8, VGG-16 fc7, and NeuralTalk's
        word embedding (whose input is dense, so every column is broadcast).
        Size is inputs x outputs as in the paper; the layer's matrix is
        outputs x inputs.
        """
    ),
    code(
        """
        # name: (inputs K, outputs M, weight density, activation density)
        BENCHMARKS = {
            "Alex-7": (4096, 4096, 0.09, 0.353),
            "Alex-8": (4096, 1000, 0.25, 0.375),
            "VGG-7": (4096, 4096, 0.04, 0.375),
            "NT-We": (4096, 600, 0.10, 1.0),
        }
        rng = np.random.default_rng(2016)
        layers, masks = {}, {}
        for name, (k, m, density, act_density) in BENCHMARKS.items():
            rows, cols = random_positions(m, k, density, rng)
            codes = random_codes(rows.size, 4, rng)  # code values do not change the timing
            codebook = np.concatenate(([0.0], np.linspace(-1, 1, 15)))
            layers[name] = CompressedLayer(name, (m, k), rows, cols, codes, codebook, np.zeros(m), weight_bits=4)
            masks[name] = random_activation_mask(k, act_density, rng)


        def encode_layer(layer, n_pes, index_bits=4, perm=None):
            # perm[physical] = logical row (None: EIE's interleave).
            rows = layer.rows if perm is None else inverse(perm)[layer.rows]
            return encode(rows, layer.cols, layer.codes, layer.shape, n_pes, index_bits, layer.weight_bits)


        asic = {name: encode_layer(l, EIE_ASIC_PES) for name, l in layers.items()}
        print(f"{'layer':<7} {'M x K':>11} {'nnz':>9} {'entries':>9} {'padding':>8} {'cycles':>7} {'us':>6} {'efficiency':>10}")
        for name, enc in asic.items():
            t = simulate_layer(enc, masks[name], EIE_ASIC)
            print(f"{name:<7} {enc.shape[0]:>5} x {enc.shape[1]:<5} {enc.nnz:>9} {enc.total_entries:>9} "
                  f"{t.padding_fraction:>8.1%} {t.cycles:>7} {t.latency_us:>6.2f} {t.efficiency:>10.1%}")
        """
    ),
    md(
        """
        ## Load-balance efficiency vs FIFO depth

        Each PE's work per broadcast column varies. With a FIFO of depth 1 every
        column waits for the slowest PE; deeper FIFOs let a PE that is ahead
        keep going while others catch up, averaging the imbalance over more
        columns. Efficiency = ideal cycles (all entries / N) over actual array
        cycles. NeuralTalk's embedding stays low for a different reason: only
        600 rows over 64 PEs (about 9 each), so every column's work per PE is a
        handful of entries with large relative spread, and the minimum of one
        cycle per column adds up when all 4096 columns are broadcast.
        """
    ),
    code(
        """
        FIFO_DEPTHS = [1, 2, 4, 8, 16, 32, 64, 128]
        fifo_eff = {
            name: [simulate_layer(enc, masks[name], TimingParams(fifo_depth=d)).efficiency for d in FIFO_DEPTHS]
            for name, enc in asic.items()
        }
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, eff in fifo_eff.items():
            ax.plot(FIFO_DEPTHS, eff, "o-", label=name)
        ax.axvline(8, color="gray", ls=":", label="EIE's FIFO depth")
        ax.set_xscale("log", base=2)
        ax.set_xticks(FIFO_DEPTHS, [str(d) for d in FIFO_DEPTHS])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("FIFO depth")
        ax.set_ylabel("load-balance efficiency")
        ax.set_title("Efficiency vs FIFO depth, 64 PEs (timing model)")
        ax.legend()
        fig.tight_layout()
        plt.show()
        RESULTS["fifo"] = {"depths": FIFO_DEPTHS, "efficiency": fifo_eff}
        """
    ),
    md(
        """
        ## Speed-up vs number of PEs

        Cycles of the whole layer (pipeline fill and the per-row epilogue
        included) at N PEs, relative to one PE. Two effects bend the curves
        away from the ideal line: load imbalance grows as each PE holds fewer
        rows, and the fixed costs (one cycle per broadcast column, the
        epilogue) stop shrinking. One effect helps: with more PEs each PE's
        slice of a column is shorter, so fewer zero runs reach 2^4 and need
        padding entries — which can make the speed-up super-linear for the
        sparsest layers.
        """
    ),
    code(
        """
        PE_COUNTS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        pe_cycles, pe_padding = {}, {}
        for name, layer in layers.items():
            timings = [simulate_layer(encode_layer(layer, n), masks[name], EIE_ASIC) for n in PE_COUNTS]
            pe_cycles[name] = [t.cycles for t in timings]
            pe_padding[name] = [t.padding_fraction for t in timings]
        speedup = {name: [c[0] / x for x in c] for name, c in pe_cycles.items()}

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4))
        for name in layers:
            ax1.plot(PE_COUNTS, speedup[name], "o-", label=name)
            ax2.plot(PE_COUNTS, pe_padding[name], "o-", label=name)
        ax1.plot(PE_COUNTS, PE_COUNTS, "k--", lw=0.8, label="ideal")
        for ax in (ax1, ax2):
            ax.set_xscale("log", base=2)
            ax.set_xticks(PE_COUNTS, [str(n) for n in PE_COUNTS])
            ax.set_xlabel("number of PEs")
            ax.legend()
        ax1.set_yscale("log", base=2)
        ax1.set_ylabel("speed-up over 1 PE")
        ax1.set_title("Scaling with PEs, FIFO 8 (timing model)")
        ax2.set_ylabel("padding entries / all entries")
        ax2.set_title("Padding vs PEs, 4-bit indices (timing model)")
        fig.tight_layout()
        plt.show()
        for name in layers:
            print(f"{name:<7} speed-up at " + ", ".join(f"{n}: {s:.1f}x" for n, s in zip(PE_COUNTS, speedup[name])))
        RESULTS["pes"] = {"counts": PE_COUNTS, "cycles": pe_cycles, "speedup": speedup, "padding": pe_padding}
        """
    ),
    md(
        """
        ## Padding vs relative-index width

        A relative index of r bits can skip at most 2^r - 1 zero rows; a longer
        run costs a padding entry (code 0), which takes memory and a cycle. A
        wider r removes padding but widens every entry, so fewer fit in a
        64-bit word. `eie.performance.index_bits.index_bits_table` encodes each layer at
        every r (64 PEs) and reports entries, padding, on-chip words and
        modelled cycles; `pick` chooses the fastest r, ties broken by memory.
        Padding disappears once 2^r reaches a PE's number of local rows
        (ceil(M / N)): no gap can be that long.
        """
    ),
    code(
        """
        R_CANDIDATES = list(range(1, 9))
        tables = {name: index_bits_table([layer], EIE_ASIC_PES, [masks[name]], candidates=R_CANDIDATES)
                  for name, layer in layers.items()}
        fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
        for name, table in tables.items():
            axes[0].plot(R_CANDIDATES, [o.padding_fraction for o in table], "o-", label=name)
            axes[1].plot(R_CANDIDATES, [o.cycles / table[-1].cycles for o in table], "o-", label=name)
            axes[2].plot(R_CANDIDATES, [o.memory_bits / 8192 for o in table], "o-", label=name)
        axes[0].set_ylabel("padding entries / all entries")
        axes[0].set_title("Padding vs index bits (timing model)")
        axes[1].set_ylabel("cycles / cycles at r = 8")
        axes[1].set_title("Cycles vs index bits (timing model)")
        axes[2].set_ylabel("KiB (entries + pointers)")
        axes[2].set_title("On-chip words vs index bits (64 PEs)")
        for ax in axes:
            ax.set_xlabel("index_bits r")
            ax.set_xticks(R_CANDIDATES)
            ax.legend(fontsize=8)
        fig.tight_layout()
        plt.show()
        chosen = {name: pick(table) for name, table in tables.items()}
        print("fastest r (ties broken by memory):", chosen)
        RESULTS["index_bits"] = {
            "candidates": R_CANDIDATES,
            "padding": {n: [o.padding_fraction for o in t] for n, t in tables.items()},
            "cycles": {n: [o.cycles for o in t] for n, t in tables.items()},
            "local_rows": {n: -(-layers[n].shape[0] // EIE_ASIC_PES) for n in layers},
            "chosen": chosen,
        }
        """
    ),
    md(
        """
        ## Interleaved vs balanced row maps

        EIE assigns row i to PE i mod N. The host may instead permute the rows
        (and the next layer's columns the same way, so the product is
        unchanged; DESIGN section 2) to even out the PEs' work.
        `eie.performance.balance.balance` tries several strategies — `lpt` (heaviest rows
        to the least-loaded PEs), `columns` (balance every broadcast column),
        `blocks` (balance windows of FIFO-depth columns) — and keeps the one
        the timing model says is fastest; interleave is always a candidate, so
        the result is never slower.

        Uniform random layers are already well balanced by interleaving, so
        the gains on the paper's layers are small. To show when balancing
        matters, the last layer below is a synthetic *skewed* layer: 1000 x 4096
        at 25 % average density, but each row's density drawn from a log-normal
        distribution (sigma = 1), as when a few output neurons keep many more
        connections than others.
        """
    ),
    code(
        """
        # Skewed layer: Bernoulli per entry with a row-dependent probability.
        m, k = 1000, 4096
        row_weight = rng.lognormal(0.0, 1.0, m)
        p_row = np.minimum(0.25 * row_weight / row_weight.mean(), 1.0)
        cols, rows = np.nonzero((rng.random((m, k)) < p_row[:, None]).T)  # column-major order
        layers["skewed"] = CompressedLayer("skewed", (m, k), rows, cols, random_codes(rows.size, 4, rng),
                                           np.concatenate(([0.0], np.linspace(-1, 1, 15))), np.zeros(m), weight_bits=4)
        masks["skewed"] = random_activation_mask(k, 0.375, rng)

        balance_results = {
            name: balance(l.rows, l.cols, l.shape, EIE_ASIC_PES, EIE_ASIC_INDEX_BITS, 4, masks[name], EIE_ASIC)
            for name, l in layers.items()
        }
        names = list(balance_results)
        xpos = np.arange(len(names))
        width = 0.8 / len(STRATEGIES)
        fig, ax = plt.subplots(figsize=(10, 4))
        for s, strategy in enumerate(STRATEGIES):
            rel = [balance_results[n].cycles[strategy] / balance_results[n].cycles["interleave"] for n in names]
            ax.bar(xpos + (s - (len(STRATEGIES) - 1) / 2) * width, rel, width, label=strategy)
        ax.set_xticks(xpos, names)
        ax.set_ylim(0.4, 1.05)
        ax.set_ylabel("cycles / interleaved cycles")
        ax.set_title("Row maps on 64 PEs, FIFO 8 (timing model)")
        ax.legend(ncol=len(STRATEGIES), loc="lower left")
        fig.tight_layout()
        plt.show()
        for n in names:
            r = balance_results[n]
            print(f"{n:<7} chosen {r.strategy:<10} " + ", ".join(f"{s} {c}" for s, c in r.cycles.items()))
        RESULTS["balance"] = {n: {"strategy": r.strategy, "cycles": r.cycles} for n, r in balance_results.items()}
        """
    ),
    md(
        """
        ## Per-PE busy cycles of one layer

        The skewed layer on 64 PEs: busy cycles of each PE (one cycle per entry
        of each broadcast column, at least one per column) under the
        interleaved and the balanced row map. The layer finishes when the last
        PE does, so the tallest bar, not the average, sets the array time.
        """
    ),
    code(
        """
        layer = layers["skewed"]
        maps = {"interleaved": None, f"balanced ({balance_results['skewed'].strategy})": balance_results["skewed"].perm}
        fig, axes = plt.subplots(1, 2, figsize=(14, 3.8), sharey=True)
        busy_summary = {}
        for ax, (label, perm) in zip(axes, maps.items()):
            t = simulate_layer(encode_layer(layer, EIE_ASIC_PES, perm=perm), masks["skewed"], EIE_ASIC)
            ax.bar(np.arange(t.n_pes), t.busy, width=0.9)
            ax.axhline(t.busy.mean(), color="k", ls="--", lw=0.8, label=f"mean {t.busy.mean():.0f}")
            ax.axhline(t.array_cycles, color="tab:red", ls=":", label=f"array time {t.array_cycles}")
            ax.set_xlabel("PE")
            ax.set_title(f"skewed layer, {label}: efficiency {t.efficiency:.0%} (timing model)", fontsize=10)
            ax.legend(fontsize=8)
            busy_summary[label.split()[0]] = {"busy": t.busy.tolist(), "array_cycles": t.array_cycles,
                                             "efficiency": t.efficiency}
        axes[0].set_ylabel("busy cycles")
        fig.tight_layout()
        plt.show()
        RESULTS["busy"] = busy_summary
        RESULTS["seconds"] = time.perf_counter() - T_START
        print(f"notebook computations took {RESULTS['seconds']:.1f} s")
        """
    ),
    md(
        """
        ## Summary

        * A FIFO of depth 8 recovers most of the load-balance efficiency on the
          paper's layers; beyond that it saturates.
        * Speed-up with PEs is near-linear while each PE keeps enough rows;
          small layers (NeuralTalk's 600 rows) saturate early.
        * 4-bit relative indices cost padding at low densities; the best r
          depends on density and rows per PE, which `eie.performance.index_bits` chooses
          per model against a memory budget.
        * A host-side row map costs the hardware nothing and helps most when
          rows are unevenly dense.

        The same model, with the generated design's PE count, FIFO depth and
        clock, gives `eie simulate`'s estimates for an FPGA build.
        """
    ),
    results_cell(),
]

# ---------------------------------------------------------------------------
# 03: the model on the board (or the board's co-simulation)
# ---------------------------------------------------------------------------

BOARD = [
    md(
        """
        # Running the compressed model on the EIE accelerator

        This notebook runs on a **PYNQ board** with the overlay built by
        `build.tcl` and `overlays/build_overlay.tcl` (`eie.bit` + `eie.hwh`
        next to it), and anywhere else in **co-simulation**: the same PYNQ
        driver code (`eie.board.driver.EIEKernel`) drives the g++-compiled HLS
        kernel through a register-level stand-in for the IP (`eie.board.cosim`).

        1. get a compressed, quantised model image (from files on the board, or
           made here: a small MLP on the bundled digits, pruned and shared);
        2. load it into the PEs (`load`), run the test set (`run`);
        3. check every integer against the bit-exact emulator;
        4. look at where the time goes: measured on the board, **modelled** by
           the EIE timing model in co-simulation.
        """
    ),
    code(
        """
        import importlib.util, os, sys, time
        import numpy as np
        import matplotlib.pyplot as plt

        ON_BOARD = importlib.util.find_spec("pynq") is not None and os.path.exists("eie.bit")
        print("mode:", "PYNQ board" if ON_BOARD else "co-simulation (no board): the C-simulation of the kernel")
        RESULTS = {"python_prefix": sys.prefix, "on_board": ON_BOARD}
        """
    ),
    md(
        """
        ## 1. The model image

        On the board, `model.img`, `digits_test.npz` and the kernel's
        `config.yaml` (from the build directory) are copied from the host
        (`eie generate` writes the image; the host side needs scikit-learn and
        PyTorch, which the PYNQ image does not have). Here we make them: a
        scikit-learn MLP on the digits, pruned by magnitude (30 / 20 / 50 % of
        the weights kept per layer) and shared with 4-bit k-means, with no
        retraining here (`eie demo` retrains, and keeps about 8.5 %).
        """
    ),
    code(
        """
        from eie.format.qmodel import HWParams
        from eie.format.image import load_image

        if ON_BOARD:
            qm = load_image("model.img")
            data = np.load("digits_test.npz")
            x_test, y_test = data["x"], data["y"]
        else:
            from threadpoolctl import threadpool_limits
            threadpool_limits(1)
            from sklearn.datasets import load_digits
            from sklearn.model_selection import train_test_split
            from sklearn.neural_network import MLPClassifier
            from eie.compression.weights import DenseLayer
            from eie.compression.pipeline import compress
            from eie.arithmetic.quant import quantize

            digits = load_digits()
            x_train, x_test, y_train, y_test = train_test_split(
                digits.data / 16.0, digits.target, test_size=0.3, stratify=digits.target, random_state=0)
            mlp = MLPClassifier((300, 100), max_iter=60, random_state=0).fit(x_train, y_train)
            layers = [DenseLayer(f"fc{i + 1}", w.T, b, "relu" if i < 2 else "none")
                      for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_))]
            # One-shot pruning (no retraining) needs more weights than eie demo keeps.
            model = compress(layers, densities={"fc1": 0.3, "fc2": 0.2, "fc3": 0.5}, weight_bits=4)
            qm = quantize(model, HWParams(n_pes=8), calib=x_train[:256])
            print(f"float MLP accuracy {mlp.score(x_test, y_test):.2%}")
        for l in qm.layers:
            print(f"{l.name}: {l.shape[0]} x {l.shape[1]}, {l.encoded.nnz} weights, "
                  f"{l.encoded.padding} padding entries, formats fa_in={l.fa_in} fw={l.fw} fa_out={l.fa_out}")
        """
    ),
    md(
        """
        ## 2. The accelerator

        On the board `pynq.Overlay` binds `eie.board.driver.EIEAccelerator` to the IP
        by its VLNV. In co-simulation, `CoSimAccelerator` compiles the kernel
        generated for a configuration sized from this model (cached after the
        first build) and offers the same `load` / `run` / `predict`.
        """
    ),
    code(
        """
        if ON_BOARD:
            import pynq
            import eie.board.driver  # registers the driver for the kernel's VLNV
            overlay = pynq.Overlay("eie.bit")
            acc = overlay.eie
        else:
            from eie.board.cosim import CoSimAccelerator
            from eie.hardware.resources import config_for_model, estimate
            config = config_for_model(qm, board="pynq-z2")
            print(f"kernel: {config.n_pes} PEs on {config.board}, FIFO {config.fifo_depth}, "
                  f"{config.clock:g} MHz; estimate {estimate(config).to_dict()['bram36']} BRAM36")
            acc = CoSimAccelerator(config)
        acc.load(qm)
        t = time.perf_counter()
        logits = acc.run(x_test)
        wall = time.perf_counter() - t
        accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
        print(f"accuracy on {len(y_test)} test images: {accuracy:.2%}")
        RESULTS["accuracy"] = accuracy
        """
    ),
    md(
        """
        ## 3. Every integer checked

        The emulator is the golden model of the arithmetic (docs/arithmetic.md).
        The accelerator must agree with it bit for bit, on every output of every
        image.
        """
    ),
    code(
        """
        from eie.arithmetic.emulator import Emulator, quantize_input, unpermute

        x_int = quantize_input(qm, x_test)
        y_acc = acc.run_int(x_int)
        y_emu = Emulator(qm).run_layers(x_int)
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
        np.add.at(conf, (y_test, np.argmax(unpermute(qm, y_acc), axis=1)), 1)
        ax[1].imshow(conf, cmap="Blues")
        ax[1].set_xlabel("predicted digit")
        ax[1].set_ylabel("true digit")
        ax[1].set_title("confusion matrix")
        plt.show()
        """
    ),
    md(
        """
        ## 4. Where the time goes

        On the board the wall time of `run` is measured (it includes the Python
        driver and the buffer copies). In co-simulation the wall time is the
        C-simulation on this CPU, which says nothing about the FPGA, so only the
        **timing model**'s cycles are shown: one non-zero activation broadcast per
        cycle, FIFOs of the configured depth, one entry per PE per cycle.
        """
    ),
    code(
        """
        from eie.performance.timing import TimingParams, simulate_layer

        if ON_BOARD:
            # The configuration the overlay was generated with (eie generate writes config.yaml).
            from eie.hardware.config import AcceleratorConfig
            config = AcceleratorConfig.from_yaml("config.yaml")
        params = TimingParams.for_config(config)
        clock = params.clock_mhz
        emu = Emulator(qm)
        inputs = [x_int[:64]]
        for i in range(len(qm.layers) - 1):
            inputs.append(emu.run_layers(inputs[-1], i, i))
        cycles = [[simulate_layer(l.encoded, v, params).cycles for v in inputs[i]] for i, l in enumerate(qm.layers)]
        mean_cycles = [float(np.mean(c)) for c in cycles]
        modelled_us = sum(mean_cycles) / clock
        print(f"timing model: {mean_cycles} cycles per layer, {modelled_us:.2f} us per image at {clock:g} MHz (modelled)")
        if ON_BOARD:
            print(f"measured on the board: {wall / len(y_test) * 1e6:.1f} us per image (batch of {len(y_test)}, wall time)")
        plt.bar([l.name for l in qm.layers], mean_cycles)
        plt.ylabel("cycles per image (timing model)")
        plt.title("modelled cycles per layer, not a hardware measurement")
        plt.show()
        RESULTS["modelled_cycles"] = mean_cycles
        """
    ),
    results_cell(),
]


NOTEBOOKS = {
    "01_deep_compression.ipynb": DEEP_COMPRESSION,
    "02_eie_timing_and_balance.ipynb": TIMING,
    "03_pynq_board.ipynb": BOARD,
}


def build(cells: list[tuple[str, str]]):
    """An nbformat v4 notebook with stable cell ids and no outputs."""
    import nbformat
    from nbformat import v4

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = dict(_KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source) in enumerate(cells):
        cell = v4.new_markdown_cell(source) if kind == "markdown" else v4.new_code_cell(source)
        # Random ids (nbformat's default) would change the file on every build.
        cell["id"] = f"cell-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The exact text of notebook ``name`` as this script writes it."""
    import nbformat

    return nbformat.writes(build(NOTEBOOKS[name])) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a committed notebook differs from this script")
    ap.add_argument("--out", type=Path, default=HERE, help="directory to write to (default: this one)")
    args = ap.parse_args(argv)
    stale = []
    for name in NOTEBOOKS:
        path = args.out / name
        text = render(name)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date (run notebooks/make_notebooks.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
