"""Speed of the timing model: a 4096 x 25088 layer (VGG-6 shape), 4 % weights,
18.3 % activations, 64 PEs, FIFO 8. Target: under 5 s for the simulation.
Prints encode and simulate times separately (the encoding is eie.format.csc's cost)."""

import time

from eie_layers import LAYERS, PES, instance, parser

from eie.performance.timing import EIE_ASIC, simulate_layer


def main() -> None:
    args = parser(__doc__).parse_args()
    layer = next(l for l in LAYERS if l.name == "VGG-6")
    t0 = time.perf_counter()
    inst = instance(layer, args.seed)
    t1 = time.perf_counter()
    enc = inst.encode(PES)
    t2 = time.perf_counter()
    best = min(_timed(enc, inst.mask) for _ in range(3))
    res = simulate_layer(enc, inst.mask, EIE_ASIC)
    print(f"layer {layer.m} x {layer.k}, {inst.rows.size} weights, {res.broadcasts} broadcast columns, {PES} PEs")
    print(f"generate  {t1 - t0:7.3f} s")
    print(f"encode    {t2 - t1:7.3f} s")
    print(f"simulate  {best:7.3f} s  (best of 3; target < 5 s)")
    print(
        f"modelled: {res.cycles} cycles, efficiency {res.efficiency:.1%}, padding {res.padding_fraction:.1%}, "
        f"{res.latency_us:.2f} us at 800 MHz"
    )


def _timed(enc, mask) -> float:
    t = time.perf_counter()
    simulate_layer(enc, mask, EIE_ASIC)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
