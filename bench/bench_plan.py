"""eie plan's search time (issue 22): the nine EIE layers on a ZCU104, and Alex-6 through the command line.

MODELLED figures (the timing model and the resource estimate, eie.hardware.plan;
docs/plan.md). The nine layers are synthetic random layers of the EIE paper's
shapes and densities (bench/eie_layers.py), planned as one workload; the time
printed is the whole search (the issue's goal: under about 10 s on 2 cores).
Then Alex-6 alone goes through `eie plan` (a one-layer model whose
representative input has Alex-6's activation density): whether it streams,
over how many HP ports, and its modelled GOP/s beside ESE's 282 GOP/s.
"""

import os
import sys
import tempfile
import time

import numpy as np
from eie_layers import LAYERS, WEIGHT_BITS, instance, parser

from eie.compression.model import CompressedLayer, CompressedModel
from eie.errors import CapacityError
from eie.hardware.plan import Workload, plan_text, plan_workload


def compressed(inst) -> CompressedLayer:
    codebook = np.linspace(-1.0, 1.0, 1 << WEIGHT_BITS)
    codebook[0] = 0.0
    return CompressedLayer(
        inst.layer.name, inst.shape, inst.rows, inst.cols, inst.codes, codebook, np.zeros(inst.layer.m),
        weight_bits=WEIGHT_BITS,
    )  # fmt: skip


def check(plan) -> None:
    """The planned design fits (the estimate, the depths) and is no slower than the board's default."""
    from eie.hardware.resources import check_fits_board
    from eie.hardware.streaming import layer_storage

    cfg = plan.config
    check_fits_board(cfg)
    layers = [l for l in plan.workload.layers]
    from eie.hardware.plan import Planner

    counted = Planner(plan.workload).layers(cfg.n_pes, cfg.index_bits)
    assert tuple(layer_storage(cfg, counted)) == plan.chosen.storage
    d = plan.default
    ok = d is None or plan.chosen.latency_us <= d.latency_us + 1e-9
    print(f"check: fits {cfg.board} (estimate and depths, {len(layers)} layers); "
          f"{'no slower than' if ok else 'SLOWER than'} the default "
          f"({plan.chosen.latency_us:.1f} vs {d.latency_us if d else float('nan'):.1f} us)")  # fmt: skip
    assert ok


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--board", default="zcu104", help="the board whose search is timed (default zcu104)")
    p.add_argument("--also", nargs="*", default=["pynq-z2"], help="more boards to plan the nine layers for")
    p.add_argument("--skip-alex", action="store_true")
    args = p.parse_args()
    layers = [l for l in LAYERS if l.name != "VGG-6"] if args.quick else LAYERS
    insts = [instance(layer, args.seed) for layer in layers]
    source = "synthetic: each layer's EIE activation density (bench/eie_layers.py)"
    work = Workload([compressed(i) for i in insts], [i.mask[None, :] for i in insts], source, name="nine EIE layers")
    t0 = time.perf_counter()
    plan = plan_workload(work, board=args.board)
    dt = time.perf_counter() - t0
    print(plan_text(plan))
    print(f"\nplan of {len(insts)} EIE layers on {args.board}: {dt:.2f} s (os.cpu_count()={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    check(plan)
    for board in args.also:
        try:
            other = plan_workload(work, board=board)
        except CapacityError as e:
            # As one image the nine layers need more than the board (the column directory and the
            # activation buffers of all of them); each layer is then its own model.
            print(f"\n{board}: the nine layers as one image: {e}")
            print(f"{board}: each layer planned alone:")
            for inst in insts:
                one = Workload([compressed(inst)], [inst.mask[None, :]], source, name=inst.layer.name)
                p1 = plan_workload(one, board=board)
                c = p1.config
                print(f"  {inst.layer.name:>8}: {p1.stats['seconds']:4.1f} s, N={c.n_pes} r={c.index_bits} "
                      f"FIFO={c.fifo_depth} W={c.lnzd_window} {p1.chosen.storage[0]:>6} "
                      f"{p1.chosen.latency_us:8.1f} us ({p1.chosen.scarcest} {p1.chosen.cost:.0%}), "
                      f"{p1.gops(p1.chosen):.2f} GOP/s", end="; ")  # fmt: skip
                check(p1)
            continue
        print(f"\n{board}: {other.stats['seconds']:.1f} s")
        print(plan_text(other))
        check(other)
    if args.skip_alex:
        return
    from eie.cli import main as eie_main

    alex = next(i for i in (instance(l, args.seed) for l in LAYERS) if i.layer.name == "Alex-6")
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "alex6.npz")
        CompressedModel([compressed(alex)]).save(model)
        x = os.path.join(d, "x.npy")
        np.save(x, alex.mask[None, :].astype(np.float64))
        print(f"\n$ eie plan alex6.npz --board {args.board} --calib x.npy   (Alex-6, activation density "
              f"{alex.mask.mean():.3f})")  # fmt: skip
        t0 = time.perf_counter()
        code = eie_main(["plan", model, "--board", args.board, "--calib", x])
        print(f"Alex-6 plan: {time.perf_counter() - t0:.2f} s")
    sys.exit(code)


if __name__ == "__main__":
    main()
