"""Interleaved (EIE) against balanced row maps (eie.performance.balance), nine EIE layers,
64 PEs, FIFO 8, 4-bit indices. Modelled cycles of each candidate map; the
balanced map is the fastest candidate, so never slower than interleave."""

import numpy as np
from eie_layers import FIFO, INDEX_BITS, LAYERS, PES, WEIGHT_BITS, instance, parser, pyplot, save_plot

from eie.performance.balance import STRATEGIES, balance
from eie.performance.timing import TimingParams


def main() -> None:
    args = parser(__doc__).parse_args()
    layers = [l for l in LAYERS if l.name not in ("VGG-6", "Alex-6")] if args.quick else LAYERS
    params = TimingParams(fifo_depth=FIFO)
    print(f"modelled cycles, {PES} PEs, FIFO {FIFO}, {INDEX_BITS}-bit indices")
    print(f"{'layer':>8} " + " ".join(f"{s:>10}" for s in STRATEGIES) + f" {'chosen':>10} {'gain':>7}")
    gains = []
    for layer in layers:
        inst = instance(layer, args.seed)
        res = balance(inst.rows, inst.cols, inst.shape, PES, INDEX_BITS, WEIGHT_BITS, inst.mask, params)
        gain = res.cycles["interleave"] / res.cycles[res.strategy] - 1
        gains.append((layer.name, res.cycles["interleave"], res.cycles[res.strategy], gain))
        print(
            f"{layer.name:>8} "
            + " ".join(f"{res.cycles[s]:>10}" for s in STRATEGIES)
            + f" {res.strategy:>10} {gain:>7.1%}"
        )
    tot_i = sum(g[1] for g in gains)
    tot_b = sum(g[2] for g in gains)
    print(f"{'total':>8} interleave {tot_i} balanced {tot_b}: speed-up {tot_i / tot_b - 1:.1%}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(gains))
    ax.bar(x - 0.2, [g[1] for g in gains], 0.4, label="interleave (EIE)")
    ax.bar(x + 0.2, [g[2] for g in gains], 0.4, label="balanced")
    ax.set_xticks(x, [g[0] for g in gains])
    ax.set_ylabel("modelled cycles")
    ax.legend()
    print("plot:", save_plot(fig, "balance.png"))


if __name__ == "__main__":
    main()
