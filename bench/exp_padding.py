"""Padding fraction (padding entries / all entries) against index bits (64 PEs)
and against PEs (4-bit indices), nine EIE layers. More PEs mean fewer local
rows per PE, hence shorter zero runs and less padding."""

import numpy as np
from eie_layers import INDEX_BITS, LAYERS, PES, instance, parser, pyplot, save_plot


def main() -> None:
    args = parser(__doc__).parse_args()
    bits = [1, 2, 3, 4, 6, 8] if args.quick else list(range(1, 9))
    pes = [1, 4, 16, 64, 256] if args.quick else [1, 2, 4, 8, 16, 32, 64, 128, 256]
    by_bits = np.zeros((len(LAYERS), len(bits)))
    by_pes = np.zeros((len(LAYERS), len(pes)))
    for i, layer in enumerate(LAYERS):
        inst = instance(layer, args.seed)
        for j, r in enumerate(bits):
            e = inst.encode(PES, r)
            by_bits[i, j] = e.padding / e.total_entries
        for j, n in enumerate(pes):
            e = inst.encode(n, INDEX_BITS)
            by_pes[i, j] = e.padding / e.total_entries
    for title, xs, xname, tab in (("index bits", bits, "r", by_bits), ("PEs", pes, "PEs", by_pes)):
        fixed = f"{PES} PEs" if xname == "r" else f"{INDEX_BITS}-bit indices"
        print(f"\npadding fraction against {title} ({fixed})")
        print(f"{xname:>5} " + " ".join(f"{l.name:>8}" for l in LAYERS))
        for j, x in enumerate(xs):
            print(f"{x:>5} " + " ".join(f"{v:>8.1%}" for v in tab[:, j]))
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for i, layer in enumerate(LAYERS):
        axes[0].plot(bits, 100 * by_bits[i], marker="o", ms=3, label=layer.name)
        axes[1].plot(pes, 100 * by_pes[i], marker="o", ms=3, label=layer.name)
    axes[0].set_xlabel(f"index bits ({PES} PEs)")
    axes[1].set_xlabel(f"PEs ({INDEX_BITS}-bit indices)")
    axes[1].set_xscale("log", base=2)
    axes[0].set_ylabel("padding entries, % of all entries")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    print("\nplot:", save_plot(fig, "padding.png"))


if __name__ == "__main__":
    main()
