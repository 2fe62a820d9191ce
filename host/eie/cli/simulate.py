"""``eie simulate``: modelled cycles and latency of a model or a synthetic layer.

The figures come from the timing model of DESIGN section 4 (eie.performance.timing), not
from hardware. With a model, per-layer activations come from the float
reference of the compressed model run on ``--input`` (or on a random input,
which the output says).
"""

from __future__ import annotations

import json

import numpy as np

from eie.errors import ConfigError

RANDOM_INPUT_DENSITY = 0.5


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="modelled cycles/latency of a model or synthetic layer on the EIE timing model",
        description=(
            "Run the EIE timing model (broadcast of non-zero activations, per-PE FIFOs, "
            "one entry per cycle per PE). Either give MODEL.npz (a compressed model) or a "
            "synthetic layer with --rows/--cols/--density. Defaults are the EIE ASIC: "
            "64 PEs, FIFO 8, 4-bit indices, 800 MHz."
        ),
    )
    p.add_argument("model", nargs="?", help="compressed model .npz (from 'eie compress')")
    p.add_argument("--pes", type=int, default=64, help="number of PEs N (default 64)")
    p.add_argument("--fifo", type=int, default=8, help="activation FIFO depth per PE (default 8)")
    p.add_argument(
        "--index-bits", default="4", help="relative-index bits r, or 'auto' to pick the fastest r (default 4)"
    )
    p.add_argument(
        "--budget-kib",
        type=float,
        default=None,
        help="with --index-bits auto: on-chip memory budget for entries and pointers, KiB",
    )
    p.add_argument("--clock-mhz", type=float, default=800.0, help="clock for latency (default 800)")
    p.add_argument(
        "--lnzd-window",
        type=int,
        default=None,
        help="activations the broadcaster scans per cycle, each all-zero window costing a cycle, "
        "as the generated FPGA kernel does (default: free zero skipping, as the EIE ASIC)",
    )
    p.add_argument("--input", help="model mode: input vector .npy of the model's input length")
    p.add_argument(
        "--row-map",
        choices=("interleave", "balanced"),
        default="interleave",
        help="row assignment to PEs (default interleave, as EIE)",
    )
    p.add_argument("--rows", type=int, help="synthetic layer: outputs M")
    p.add_argument("--cols", type=int, help="synthetic layer: inputs K")
    p.add_argument("--density", type=float, help="synthetic layer: weight density")
    p.add_argument("--weight-bits", type=int, default=4, help="synthetic layer: code bits (default 4)")
    p.add_argument(
        "--act-density",
        type=float,
        default=None,
        help=f"density of the random input (synthetic default 1.0, model default {RANDOM_INPUT_DENSITY})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random layer/input (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _load_input(path: str, k: int) -> np.ndarray:
    from eie.format.vectors import load_vectors

    return load_vectors(path, k, single=True)


def _index_bits(args, layers, masks, n, params):
    from eie.performance.index_bits import format_table, index_bits_table, pick

    if args.index_bits != "auto":
        try:
            return int(args.index_bits), None
        except ValueError:
            raise ConfigError(f"--index-bits {args.index_bits!r} must be an integer 1..8 or 'auto'") from None
    budget = None if args.budget_kib is None else int(args.budget_kib * 8192)
    table = index_bits_table(layers, n, masks, budget, params=params)
    r = pick(table, budget)
    return r, (table, format_table(table, r))


def run(args) -> int:
    from eie.compression.model import CompressedLayer, CompressedModel
    from eie.performance.balance import apply_row_maps, balance_model, interleave, to_physical
    from eie.performance.timing import TimingParams, simulate_model

    if args.lnzd_window is not None and args.lnzd_window < 1:
        raise ConfigError(f"--lnzd-window={args.lnzd_window} must be at least 1")
    params = TimingParams(fifo_depth=args.fifo, clock_mhz=args.clock_mhz, scan_window=args.lnzd_window)
    if args.pes < 1 or args.pes > 256:
        raise ConfigError(f"--pes {args.pes} must be 1..256")
    synthetic = args.rows is not None or args.cols is not None or args.density is not None
    if args.model and synthetic:
        raise ConfigError("give either MODEL.npz or a synthetic layer (--rows/--cols/--density), not both")
    rng = np.random.default_rng(args.seed)
    if args.model:
        model = CompressedModel.load(args.model)
        k = model.in_features
        if args.input:
            x = _load_input(args.input, k)
            source = f"input {args.input}"
        else:
            a = RANDOM_INPUT_DENSITY if args.act_density is None else args.act_density
            from eie.performance.synthetic import random_activation_mask

            x = rng.random(k) * random_activation_mask(k, a, rng)
            source = (
                f"RANDOM input (seed {args.seed}, {a:.1%} non-zeros, uniform [0,1) values); "
                "pass --input X.npy for real activations"
            )
        acts = [x]
        for layer in model.layers[:-1]:
            acts.append(layer.forward(acts[-1]))
    else:
        if args.rows is None or args.cols is None or args.density is None:
            raise ConfigError("a synthetic layer needs --rows, --cols and --density (or give MODEL.npz)")
        if args.input:
            raise ConfigError("--input needs MODEL.npz; a synthetic layer uses --act-density")
        from eie.errors import check_int
        from eie.performance.synthetic import random_activation_mask, random_codes, random_positions

        check_int("--weight-bits", args.weight_bits, 1, 8)
        m, k = args.rows, args.cols
        r_, c_ = random_positions(m, k, args.density, rng)
        codebook = np.zeros(1 << args.weight_bits)
        codebook[1:] = 1.0
        model = CompressedModel(
            [
                CompressedLayer(
                    "synthetic",
                    (m, k),
                    r_,
                    c_,
                    random_codes(r_.size, args.weight_bits, rng),
                    codebook,
                    np.zeros(m),
                    weight_bits=args.weight_bits,
                )
            ]
        )
        a = 1.0 if args.act_density is None else args.act_density
        acts = [random_activation_mask(k, a, rng)]
        source = (
            f"synthetic random layer {m} x {k}, weight density {args.density:g}, "
            f"activation density {a:g}, seed {args.seed}"
        )
    masks = [np.asarray(v) != 0 for v in acts]
    n = args.pes
    r, table = _index_bits(args, model.layers, masks, n, params)
    if args.row_map == "balanced":
        perms = balance_model(model, n, r, masks, params)
    else:
        perms = [interleave(l.shape[0]) for l in model.layers]
    encoded = apply_row_maps(model, perms, n, r)
    phys = [to_physical(masks[0], None)] + [to_physical(v, p) for v, p in zip(masks[1:], perms[:-1])]
    timing = simulate_model(encoded, phys, params)

    if args.json:
        out = timing.to_dict()
        for d, layer in zip(out["layers"], model.layers):
            d["name"] = layer.name
            d["shape"] = list(layer.shape)
        out["params"] = {
            "pes": n,
            "fifo": args.fifo,
            "index_bits": r,
            "clock_mhz": args.clock_mhz,
            "row_map": args.row_map,
        }
        out["input"] = source
        out["source"] = "EIE timing model (modelled, not measured on hardware)"
        if table is not None:
            out["index_bits_table"] = [o.__dict__ for o in table[0]]
        print(json.dumps(out))
        return 0
    print("EIE timing model — modelled cycles, not a hardware measurement")
    print(f"  {n} PEs, FIFO {args.fifo}, index_bits {r}, {args.clock_mhz:g} MHz, row map {args.row_map}")
    print(f"  activations: {source}")
    if table is not None:
        print("index_bits considered (all layers, interleaved rows):")
        print(table[1])
    print(
        f"{'layer':<16} {'M x K':>13} {'bcast':>6} {'cycles':>9} {'ideal':>9} {'eff':>6} "
        f"{'pad':>6} {'stall':>8} {'us':>9}"
    )
    for lt, layer in zip(timing.layers, model.layers):
        shape = f"{layer.shape[0]}x{layer.shape[1]}"
        print(
            f"{layer.name[:16]:<16} {shape:>13} {lt.broadcasts:>6} {lt.cycles:>9} {lt.ideal_cycles:>9.0f} "
            f"{lt.efficiency:>6.1%} {lt.padding_fraction:>6.1%} {lt.stall_cycles:>8} {lt.latency_us:>9.2f}"
        )
    print(
        f"{'total':<16} {'':>13} {'':>6} {timing.cycles:>9} {'':>9} {'':>6} {'':>6} {'':>8} {timing.latency_us:>9.2f}"
    )
    print("eff = load-balance efficiency (ideal / PE-array cycles); pad = padding share of entries")
    return 0
