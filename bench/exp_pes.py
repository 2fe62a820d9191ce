"""Speed-up against the number of PEs (1..256), nine EIE layers, FIFO 8.

Speed-up = modelled cycles on 1 PE / modelled cycles on N PEs (fill and
epilogue included), same layer and activations."""

import numpy as np
from eie_layers import FIFO, LAYERS, instance, parser, pyplot, save_plot

from eie.performance.timing import TimingParams, simulate_layer


def main() -> None:
    args = parser(__doc__).parse_args()
    pes = [1, 4, 16, 64, 256] if args.quick else [1, 2, 4, 8, 16, 32, 64, 128, 256]
    params = TimingParams(fifo_depth=FIFO)
    cyc = np.zeros((len(LAYERS), len(pes)))
    eff = np.zeros_like(cyc)
    for i, layer in enumerate(LAYERS):
        inst = instance(layer, args.seed)
        for j, n in enumerate(pes):
            t = simulate_layer(inst.encode(n), inst.mask, params)
            cyc[i, j], eff[i, j] = t.cycles, t.efficiency
    sp = cyc[:, :1] / cyc
    print(f"speed-up over 1 PE (timing model, FIFO {FIFO}); efficiency in brackets")
    print(f"{'PEs':>5} " + " ".join(f"{l.name:>15}" for l in LAYERS))
    for j, n in enumerate(pes):
        print(f"{n:>5} " + " ".join(f"{sp[i, j]:>7.1f} ({eff[i, j]:>5.1%})" for i in range(len(LAYERS))))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for i, layer in enumerate(LAYERS):
        ax.plot(pes, sp[i], marker="o", ms=3, label=layer.name)
    ax.plot(pes, pes, "k--", lw=1, label="linear")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("PEs")
    ax.set_ylabel("speed-up over 1 PE (modelled)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    print("plot:", save_plot(fig, "pes_speedup.png"))


if __name__ == "__main__":
    main()
