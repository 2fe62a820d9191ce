"""Load-balance efficiency against FIFO depth (1..256), nine EIE layers, 64 PEs.

Efficiency = ideal cycles / PE-array cycles (eie.performance.timing). Two slot
conventions: 'pop' (a FIFO slot frees when the PE starts an item: the
generated HLS design, whose PE holds the current item in a register) and
'finish' (the item being processed keeps its slot; depth D there equals depth
D-1 under 'pop'). EIE reported about half the cycles idle at depth 1 and
little gain past depth 8."""

import numpy as np
from eie_layers import LAYERS, PES, instance, parser, pyplot, save_plot

from eie.performance.timing import TimingParams, simulate_layer


def main() -> None:
    args = parser(__doc__).parse_args()
    depths = [1, 2, 4, 8, 16, 64, 256] if args.quick else [1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 128, 256]
    conventions = ("pop", "finish")
    eff = {c: np.zeros((len(LAYERS), len(depths))) for c in conventions}
    for i, layer in enumerate(LAYERS):
        inst = instance(layer, args.seed)
        enc = inst.encode(PES)
        for c in conventions:
            for j, d in enumerate(depths):
                eff[c][i, j] = simulate_layer(enc, inst.mask, TimingParams(fifo_depth=d, slot_frees=c)).efficiency
    for c in conventions:
        print(f"\nload-balance efficiency, slot frees at {c} (timing model, {PES} PEs, 4-bit indices)")
        print(f"{'depth':>8} " + " ".join(f"{l.name:>8}" for l in LAYERS) + f" {'mean':>8}")
        for j, d in enumerate(depths):
            print(f"{d:>8} " + " ".join(f"{e:>8.1%}" for e in eff[c][:, j]) + f" {eff[c][:, j].mean():>8.1%}")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, c in zip(axes, conventions):
        for i, layer in enumerate(LAYERS):
            ax.plot(depths, eff[c][i], marker="o", ms=3, label=layer.name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("FIFO depth")
        ax.set_title(f"slot frees at {c}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("load-balance efficiency (modelled)")
    axes[1].legend(fontsize=8)
    print("\nplot:", save_plot(fig, "fifo_efficiency.png"))


if __name__ == "__main__":
    main()
