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
# # EIE timing: FIFOs, PE count, index width and load balance
#
# **Every figure in this notebook comes from the EIE timing model
# (`eie.performance.timing`, docs/timing.md), a cycle-level queueing schedule — not
# from hardware measurements.** The model: a central unit broadcasts the
# input's non-zero activations, one per cycle, into a FIFO in each PE
# (stalling while any FIFO is full); a PE spends one cycle per stored
# entry of that column (padding entries included, at least one cycle per
# column). With 64 PEs, FIFO depth 8 and 4-bit codes and indices at
# 800 MHz it describes the EIE ASIC (Han et al., ISCA 2016).
#
# The layers are **synthetic**: random positions at the weight and
# activation densities the EIE paper reports for its benchmark layers.
# Real pruned layers and ReLU outputs are more clustered, so these
# figures describe the format and the schedule, not a particular trained
# network.
#
# **Host only.** It needs scikit-learn and threadpoolctl (`pip install
# 'eie-pynq[host,plot]'`), which the PYNQ image does not have, so it is not
# delivered to the board (`pynq get-notebooks eie-pynq` copies
# `03_pynq_board` only).

# %%
import json
import os
import sys
import time

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

from eie.compression.model import CompressedLayer
from eie.format.rowmap import encode_layer
from eie.performance.balance import STRATEGIES, balance
from eie.performance.index_bits import index_bits_table, pick
from eie.performance.synthetic import random_activation_mask, random_codes, random_positions
from eie.performance.timing import EIE_ASIC, EIE_ASIC_INDEX_BITS, EIE_ASIC_PES, TimingParams, simulate_layer

# Small numpy operations in a loop: extra BLAS threads only contend
# for the two shared cores.
threadpool_limits(1)

plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
RESULTS = {"python_prefix": sys.prefix}
T_START = time.perf_counter()
print("EIE ASIC timing parameters:", EIE_ASIC, f"N={EIE_ASIC_PES}, index_bits={EIE_ASIC_INDEX_BITS}")

# %% [markdown]
# ## The benchmark layers
#
# Four fully-connected layers from the EIE paper's benchmark table, at
# their full sizes: AlexNet fc7 and fc8, VGG-16 fc7, and NeuralTalk's
# word embedding (whose input is dense, so every column is broadcast).
# Size is inputs x outputs as in the paper; the layer's matrix is
# outputs x inputs.

# %%
# name: (inputs K, outputs M, weight density, activation density)
BENCHMARKS = {
    "Alex-7": (4096, 4096, 0.09, 0.353),
    "Alex-8": (4096, 1000, 0.25, 0.375),
    "VGG-7": (4096, 4096, 0.04, 0.375),
    "NT-We": (4096, 600, 0.10, 1.0),
}
# 4-bit codes; their values do not change the timing, only where the weights are.
CODEBOOK = np.concatenate(([0.0], np.linspace(-1, 1, 15)))
rng = np.random.default_rng(2016)
layers, masks = {}, {}
for name, (k, m, density, act_density) in BENCHMARKS.items():
    rows, cols = random_positions(m, k, density, rng)
    codes = random_codes(rows.size, 4, rng)
    layers[name] = CompressedLayer(name, (m, k), rows, cols, codes, CODEBOOK, np.zeros(m), weight_bits=4)
    masks[name] = random_activation_mask(k, act_density, rng)

asic = {name: encode_layer(l, EIE_ASIC_PES, EIE_ASIC_INDEX_BITS) for name, l in layers.items()}
print(f"{'layer':<7} {'M x K':>11} {'nnz':>9} {'entries':>9} {'padding':>8} {'cycles':>7} {'us':>6} {'efficiency':>10}")
for name, enc in asic.items():
    t = simulate_layer(enc, masks[name], EIE_ASIC)
    print(
        f"{name:<7} {enc.shape[0]:>5} x {enc.shape[1]:<5} {enc.nnz:>9} {enc.total_entries:>9} "
        f"{t.padding_fraction:>8.1%} {t.cycles:>7} {t.latency_us:>6.2f} {t.efficiency:>10.1%}"
    )

# %% [markdown]
# ## Load-balance efficiency vs FIFO depth
#
# Each PE's work per broadcast column varies. With a FIFO of depth 1 every
# column waits for the slowest PE; deeper FIFOs let a PE that is ahead
# keep going while others catch up, averaging the imbalance over more
# columns. Efficiency = ideal cycles (all entries / N) over actual array
# cycles. NeuralTalk's embedding stays low for a different reason: only
# 600 rows over 64 PEs (about 9 each), so every column's work per PE is a
# handful of entries with large relative spread, and the minimum of one
# cycle per column adds up when all 4096 columns are broadcast.

# %%
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

# %% [markdown]
# ## Speed-up vs number of PEs
#
# Cycles of the whole layer (pipeline fill and the per-row epilogue
# included) at N PEs, relative to one PE. Two effects bend the curves
# away from the ideal line: load imbalance grows as each PE holds fewer
# rows, and the fixed costs (one cycle per broadcast column, the
# epilogue) stop shrinking. One effect helps: with more PEs each PE's
# slice of a column is shorter, so fewer zero runs reach 2^4 and need
# padding entries — which can make the speed-up super-linear for the
# sparsest layers.

# %%
PE_COUNTS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
pe_cycles, pe_padding = {}, {}
for name, layer in layers.items():
    timings = [simulate_layer(encode_layer(layer, n, EIE_ASIC_INDEX_BITS), masks[name], EIE_ASIC) for n in PE_COUNTS]
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

# %% [markdown]
# ## Padding vs relative-index width
#
# A relative index of r bits can skip at most 2^r - 1 zero rows; a longer
# run costs a padding entry (code 0), which takes memory and a cycle. A
# wider r removes padding but widens every entry, so fewer fit in a
# 64-bit word. `eie.performance.index_bits.index_bits_table` encodes each layer at
# every r (64 PEs) and reports entries, padding, on-chip words and
# modelled cycles; `pick` chooses the fastest r, ties broken by memory.
# Padding disappears once 2^r reaches a PE's number of local rows
# (ceil(M / N)): no gap can be that long.

# %%
R_CANDIDATES = list(range(1, 9))
tables = {
    name: index_bits_table([layer], EIE_ASIC_PES, [masks[name]], candidates=R_CANDIDATES)
    for name, layer in layers.items()
}
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

# %% [markdown]
# ## Interleaved vs balanced row maps
#
# EIE assigns row i to PE i mod N. The host may instead permute the rows
# (and the next layer's columns the same way, so the product is
# unchanged; docs/csc-format.md) to even out the PEs' work.
# `eie.performance.balance.balance` tries several strategies — `lpt` (heaviest rows
# to the least-loaded PEs), `columns` (balance every broadcast column),
# `blocks` (balance windows of FIFO-depth columns) — and keeps the one
# the timing model says is fastest; interleave is always a candidate, so
# the result is never slower.
#
# Uniform random layers are already well balanced by interleaving, so
# the gains on the paper's layers are small. To show when balancing
# matters, the last layer below is a synthetic *skewed* layer: 1000 x 4096
# at 25 % average density, but each row's density drawn from a log-normal
# distribution (sigma = 1), as when a few output neurons keep many more
# connections than others.

# %%
# Skewed layer: Bernoulli per entry with a row-dependent probability.
m, k = 1000, 4096
row_weight = rng.lognormal(0.0, 1.0, m)
p_row = np.minimum(0.25 * row_weight / row_weight.mean(), 1.0)
cols, rows = np.nonzero((rng.random((m, k)) < p_row[:, None]).T)  # column-major order
codes = random_codes(rows.size, 4, rng)
layers["skewed"] = CompressedLayer("skewed", (m, k), rows, cols, codes, CODEBOOK, np.zeros(m), weight_bits=4)
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

# %% [markdown]
# ## Per-PE busy cycles of one layer
#
# The skewed layer on 64 PEs: busy cycles of each PE (one cycle per entry
# of each broadcast column, at least one per column) under the
# interleaved and the balanced row map. The layer finishes when the last
# PE does, so the tallest bar, not the average, sets the array time.
# `eie.format.rowmap.encode_layer` encodes the layer under a row map (None
# is the identity: EIE's interleave).

# %%
layer = layers["skewed"]
maps = {"interleaved": None, f"balanced ({balance_results['skewed'].strategy})": balance_results["skewed"].perm}
fig, axes = plt.subplots(1, 2, figsize=(14, 3.8), sharey=True)
busy_summary = {}
for ax, (label, perm) in zip(axes, maps.items()):
    t = simulate_layer(encode_layer(layer, EIE_ASIC_PES, EIE_ASIC_INDEX_BITS, perm), masks["skewed"], EIE_ASIC)
    ax.bar(np.arange(t.n_pes), t.busy, width=0.9)
    ax.axhline(t.busy.mean(), color="k", ls="--", lw=0.8, label=f"mean {t.busy.mean():.0f}")
    ax.axhline(t.array_cycles, color="tab:red", ls=":", label=f"array time {t.array_cycles}")
    ax.set_xlabel("PE")
    ax.set_title(f"skewed layer, {label}: efficiency {t.efficiency:.0%} (timing model)", fontsize=10)
    ax.legend(fontsize=8)
    busy_summary[label.split()[0]] = {
        "busy": t.busy.tolist(),
        "array_cycles": t.array_cycles,
        "efficiency": t.efficiency,
    }
axes[0].set_ylabel("busy cycles")
fig.tight_layout()
plt.show()
RESULTS["busy"] = busy_summary
RESULTS["seconds"] = time.perf_counter() - T_START
print(f"notebook computations took {RESULTS['seconds']:.1f} s")

# %% [markdown]
# ## Summary
#
# * A FIFO of depth 8 recovers most of the load-balance efficiency on the
#   paper's layers; beyond that it saturates.
# * Speed-up with PEs is near-linear while each PE keeps enough rows;
#   small layers (NeuralTalk's 600 rows) saturate early.
# * 4-bit relative indices cost padding at low densities; the best r
#   depends on density and rows per PE, which `eie.performance.index_bits` chooses
#   per model against a memory budget.
# * A host-side row map costs the hardware nothing and helps most when
#   rows are unevenly dense.
#
# The same model, with the generated design's PE count, FIFO depth and
# clock, gives `eie simulate`'s estimates for an FPGA build.

# %%
# The tests (tests/test_notebooks.py) set EIE_NOTEBOOK_RESULTS to a file and read the key results
# from it; nothing is printed into the notebook.
if os.environ.get("EIE_NOTEBOOK_RESULTS"):
    with open(os.environ["EIE_NOTEBOOK_RESULTS"], "w") as f:
        json.dump(RESULTS, f, sort_keys=True)
