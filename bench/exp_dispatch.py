"""The streamed-layer dispatcher in C-simulation against the timing model's dispatcher.

For random streamed layers (random inputs, half zero), on a ZCU104 kernel
(two 128-bit stream lanes by default; --ports, --bits to change), the
C-simulated kernel's loop trip counts: the dispatchers' (summed over the
lanes, and the busiest lane's), the stream readers' words and each PE's
accumulation loop, beside what eie.performance.timing charges (a lane's
dispatcher: bytes / (W / 8) per active column, one W-bit word a step; PE:
its entries in the active columns; words: read_plan's per lane). Trip
counts are loop iterations in C-simulation, not cycles on a board: the
stalls are not in them (docs/kernel.md, "Instrumentation").

Needs g++ and the ap_types headers (as the C-simulation does).
"""

import argparse

import numpy as np

from eie.format.csc import encode
from eie.format.qmodel import QuantLayer, QuantModel
from eie.format.stream import read_plan
from eie.hardware.config import AcceleratorConfig
from eie.kernel.csim import CSim
from eie.performance.timing import stream_params_for_config

SHAPES = ((8, 1024, 1024, 0.09), (8, 600, 1024, 0.10), (4, 512, 512, 0.30), (16, 1024, 512, 0.05))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ports", type=int, choices=(1, 2, 4), default=None, help="stream lanes (default: the board's)")
    ap.add_argument("--bits", type=int, choices=(64, 128), default=None, help="port width (default: the board's)")
    args = ap.parse_args()
    print(
        f"{'N':>3} {'M x K':>11} {'dens':>5} {'P':>2} {'W':>4} {'dispatch':>9} {'model':>9} {'ratio':>6} "
        f"{'busiest':>8} {'model':>8} {'words':>7} {'plan':>7} {'PE max':>7} {'model':>7}"
    )
    for n, m, k, dens in SHAPES:
        rng = np.random.default_rng(args.seed)
        cfg = AcceleratorConfig(
            board="zcu104",
            n_pes=n,
            act_depth=-(-max(m, k) // n),
            entry_depth=64,
            ptr_depth=64,
            dir_depth=k + 1,
            bias_depth=-(-m // n),
            max_layers=1,
            stream_ports=args.ports,
            axi_data_bits=args.bits,
        )
        keep = rng.random((m, k)) < dens
        rows, cols = np.nonzero(keep)
        order = np.lexsort((rows, cols))
        rows, cols = rows[order], cols[order]
        enc = encode(rows, cols, rng.integers(1, 16, rows.size), (m, k), n, cfg.index_bits, cfg.weight_bits)
        cb = np.zeros(16, np.int64)
        cb[1:] = rng.integers(-9, 9, 15)
        ql = QuantLayer("l", enc, cb, np.zeros(m, np.int64), np.arange(m), 4, 3, 4, True, storage="stream")
        sim = CSim(cfg)
        sim.load(QuantModel(cfg.to_hwparams(), [ql]).to_image())
        x = rng.integers(-50, 50, k)
        x[rng.random(k) < 0.5] = 0
        sim.run(x[None])
        c = sim.counters()
        active = np.flatnonzero(x)
        sp = stream_params_for_config(cfg)
        plan = read_plan(enc, active, sp.word_bytes, sp.burst_len, lanes=sp.ports)
        steps = np.maximum(1.0, plan.item_bytes / sp.dispatch_bytes)
        model = float(steps.sum())
        lane_model = max(float(steps[plan.item_lane == q].sum()) for q in range(sp.ports))
        busy = enc.column_entries()[:, active].sum(axis=1)
        d = int(c["dispatch"][0])
        d_lane = int(sim.lane_counters()["dispatch"][0].max())
        print(
            f"{n:>3} {f'{m} x {k}':>11} {dens:>5.2f} {sp.ports:>2} {cfg.stream_bits:>4} {d:>9} {model:>9.0f} "
            f"{d / model:>6.3f} {d_lane:>8} {lane_model:>8.0f} {int(c['stream_words'][0]):>7} {plan.words:>7} "
            f"{int(c['pe'][0].max()):>7} {int(busy.max()) + 1:>7}"
        )


if __name__ == "__main__":
    main()
