"""Streamed layers (issues 12 and 19): the nine EIE layers streamed from DDR on each board.

Timing model, not measured (eie.performance.timing, docs/timing.md "Streamed layers" and
"Several ports"): every layer streamed (storage: stream), occupancy mask on,
interleaved rows (--balanced for balanced rows), each board's default clock,
streaming master, HP ports (stream_ports: 1 on Zynq-7000, 2 on Zynq UltraScale+;
--ports to force one count) and DDR peak (eie.hardware.boards), FIFO depth --fifo.
GOP/s counts 2 operations (multiply, add) per kept (non-zero) weight in an active column,
over the modelled latency, on the compressed layer (not the dense equivalent; padding
entries are not counted). 'DDR' is the fraction of the board's DDR peak the layer's reads
use over its modelled latency; 'bound' says which side is larger ('both' within 5 %),
'vs max' what the interaction adds to the larger of the two, 'requests' the readers' read
requests (bursts) over all ports, 'ESE' ESE's 282 GOP/s (KU060, 200 MHz, its own accounting)
and '/ESE' the GOP/s as a fraction of it. No synthesis has run: every figure is the timing model's.

Peers: ESE reaches 282 GOP/s on a KU060 at 200 MHz (the figure issue 12
quotes, a sparse LSTM, its own accounting); for EIE see the EIE paper,
Table IV (the repository does not hold those figures).
"""

import numpy as np
from eie_layers import INDEX_BITS, LAYERS, WEIGHT_BITS, instance, parser

from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import estimate, fits_board
from eie.performance.balance import balance
from eie.performance.timing import TimingParams, simulate_layer

BOARDS = ("pynq-z2", "ultra96v2", "kv260", "zcu104")
# Each board gets the largest of these PE counts whose streaming kernel (a directory for
# the widest layer, the ports used) fits the board by the resource estimate.
PE_CHOICES = (64, 32, 16, 8, 4)
DIR_DEPTH = 9217  # Alex-6's K + 1: one layer streamed at a time
# ESE (Han et al., FPGA 2017): 282 GOP/s on a KU060 at 200 MHz, a sparse LSTM, its own accounting;
# the '/ESE' column is each layer's modelled GOP/s as a fraction of it.
ESE_GOPS = 282.0


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--fifo", type=int, default=16)
    p.add_argument("--balanced", action="store_true", help="balanced row maps (slower to compute)")
    p.add_argument("--ports", type=int, choices=(1, 2, 4), default=None, help="HP ports (default: the family's)")
    args = p.parse_args()
    layers = [l for l in LAYERS if l.name not in ("VGG-6",)] if args.quick else LAYERS
    insts = [instance(layer, args.seed) for layer in layers]
    print(__doc__.split("\n\n")[0])
    print(
        f"TIMING MODEL, NOT MEASURED: FIFO {args.fifo}, {INDEX_BITS}-bit indices, {WEIGHT_BITS}-bit codes, "
        f"occupancy mask on, rows {'balanced' if args.balanced else 'interleaved'}\n"
        "GOP/s = 2 x kept (non-zero) weights in the active columns / modelled latency\n"
    )
    for board in BOARDS:
        for n in PE_CHOICES:
            cfg = AcceleratorConfig(
                board=board, n_pes=n, fifo_depth=args.fifo, storage="stream", occupancy_mask=True,
                stream_ports=args.ports, dir_depth=DIR_DEPTH,
            )  # fmt: skip
            if fits_board(cfg):
                break
        est = estimate(cfg)
        params = TimingParams.for_config(cfg)
        sp = params.stream
        print(
            f"{board}: {n} PEs (the most of {', '.join(map(str, PE_CHOICES))} that fit: LUT "
            f"{est.lut / est.board_lut:.0%}, BRAM36 {est.bram36 / est.board_bram36:.0%} by the estimate) "
            f"at {cfg.clock:g} MHz; {sp.ports} HP port(s) of {sp.axi_bits} bits "
            f"({sp.port_peak_gbps(cfg.clock):.2f} GB/s each, {sp.word_bytes * 8}-bit readers and dispatchers), "
            f"bursts of {sp.burst_len}, {sp.outstanding} outstanding; DDR peak {sp.ddr_peak_gbps:.2f} GB/s"
        )
        print(
            f"  {'layer':>8} {'ports':>5} {'MB read':>8} {'requests':>8} {'comp_us':>9} {'ddr_us':>9} {'us':>9} "
            f"{'GOP/s':>7} {'ESE':>5} {'/ESE':>6} {'DDR':>6} {'bound':>8} {'vs max':>7}"
        )
        tot_us = tot_ops = tot_bytes = 0.0
        for inst in insts:
            if args.balanced:
                perm = balance(inst.rows, inst.cols, inst.shape, n, INDEX_BITS, WEIGHT_BITS, inst.mask, params).perm
            else:
                perm = None
            enc = inst.encode(n, perm=perm)
            t = simulate_layer(enc, inst.mask, params, storage="stream")
            cols = np.flatnonzero(inst.mask)
            kept = int(enc.column_entries()[:, cols].sum()) - int(np.count_nonzero(enc.v[_entries_of(enc, cols)] == 0))
            ops = 2.0 * kept
            gops = ops / t.latency_us / 1e3
            ddr = t.bytes_streamed / t.latency_us / 1e3 / sp.ddr_peak_gbps
            hi = max(t.compute_bound_us, t.ddr_bound_us)
            if abs(t.compute_bound_us - t.ddr_bound_us) <= 0.05 * hi:
                bound = "both"
            else:
                bound = "memory" if t.ddr_bound_us > t.compute_bound_us else "compute"
            interact = t.latency_us / hi - 1
            tot_us += t.latency_us
            tot_ops += ops
            tot_bytes += t.bytes_streamed
            print(
                f"  {inst.layer.name:>8} {t.ports:>5} {t.bytes_streamed / 1e6:>8.3f} {t.requests:>8} "
                f"{t.compute_bound_us:>9.1f} {t.ddr_bound_us:>9.1f} {t.latency_us:>9.1f} {gops:>7.2f} "
                f"{ESE_GOPS:>5.0f} {gops / ESE_GOPS:>6.1%} {ddr:>6.1%} {bound:>8} {interact:>+7.1%}"
            )
        all_gops = tot_ops / tot_us / 1e3
        print(
            f"  {'all':>8} {sp.ports:>5} {tot_bytes / 1e6:>8.3f} {'':>8} {'':>9} {'':>9} {tot_us:>9.1f} "
            f"{all_gops:>7.2f} {ESE_GOPS:>5.0f} {all_gops / ESE_GOPS:>6.1%} "
            f"{tot_bytes / tot_us / 1e3 / sp.ddr_peak_gbps:>6.1%}\n"
        )
    print(
        "timing model, not measured. Peers (published, not modelled here): ESE 282 GOP/s on a KU060 at "
        "200 MHz (a sparse LSTM, its own accounting); EIE: see the EIE paper, Table IV"
    )


def _entries_of(enc, cols) -> np.ndarray:
    """Indices into enc.v of every entry (padding included) in columns ``cols``."""
    starts = enc.pe_start[:-1, None] + enc.ptr[:, cols]
    ends = enc.pe_start[:-1, None] + enc.ptr[:, cols + 1]
    lengths = (ends - starts).ravel()
    first = np.repeat(starts.ravel(), lengths)
    offs = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return first + offs


if __name__ == "__main__":
    main()
