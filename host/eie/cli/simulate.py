"""``eie simulate``: modelled cycles and latency of a model or a synthetic layer.

The figures come from the timing model of docs/timing.md (eie.performance.timing), not
from hardware. With a model, per-layer activations come from the float
reference of the compressed model run on ``--input`` (or on a random input,
which the output says). The hardware is the accelerator configuration
(``--config``, else the default hardware: the generated FPGA kernel's PEs,
FIFO depth, index bits, clock and LNZD window) or, with ``--eie-asic``, the
EIE ASIC; ``--pes``, ``--fifo``, ``--index-bits``, ``--clock-mhz`` and
``--lnzd-window`` override either.

Streamed layers and the occupancy mask (docs/kernel.md; the C-simulation's
loop trip counts check the model, docs/timing.md; no board has run them). Each
layer's storage follows the configuration's ``storage`` (``--storage``
overrides; auto: on chip where it fits, else streamed: the given
configuration's memory depths with ``--config``, the board's memory with the
default hardware, whose depths are sized from the model); the EIE ASIC holds
every layer on chip.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from eie.cli.output import add_config_option, add_json_option, emit
from eie.errors import ConfigError

RANDOM_INPUT_DENSITY = 0.5


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="modelled cycles/latency of a model or synthetic layer on the EIE timing model",
        description=(
            "Run the EIE timing model (broadcast of non-zero activations, per-PE FIFOs, "
            "one entry per cycle per PE). Either give MODEL.npz (a compressed model) or a "
            "synthetic layer with --rows/--cols/--density. The hardware is the accelerator "
            "configuration (--config, else the default hardware, as the generated FPGA kernel) or "
            "the EIE ASIC (--eie-asic: 64 PEs, FIFO 8, 4-bit indices, 800 MHz, free zero skipping); "
            "--pes, --fifo, --index-bits, --clock-mhz and --lnzd-window override either."
        ),
    )
    p.add_argument("model", nargs="?", help="compressed model .npz (from 'eie compress')")
    add_config_option(p, "; its n_pes, fifo_depth, index_bits, clock and lnzd_window")
    p.add_argument(
        "--eie-asic",
        action="store_true",
        help="model the EIE ASIC instead of a configuration: 64 PEs, FIFO 8, 4-bit indices, 800 MHz, "
        "free zero skipping (Han et al., ISCA 2016)",
    )
    p.add_argument("--pes", type=int, default=None, help="number of PEs N (default: the hardware's)")
    p.add_argument("--fifo", type=int, default=None, help="activation FIFO depth per PE (default: the hardware's)")
    p.add_argument(
        "--index-bits",
        default=None,
        help="relative-index bits r, or 'auto' to pick the fastest r (default: the hardware's)",
    )
    p.add_argument(
        "--budget-kib",
        type=float,
        default=None,
        help="with --index-bits auto: on-chip memory budget for entries and pointers, KiB",
    )
    p.add_argument("--clock-mhz", type=float, default=None, help="clock for latency (default: the hardware's)")
    p.add_argument(
        "--lnzd-window",
        type=int,
        default=None,
        help="activations the broadcaster scans per cycle, each all-zero window costing a cycle, "
        "as the generated FPGA kernel does (default: the configuration's, N unless set; "
        "free zero skipping with --eie-asic)",
    )
    p.add_argument(
        "--storage",
        choices=("auto", "onchip", "stream"),
        default=None,
        help="where the layers' entries live (default: the configuration's storage, auto: on chip where they "
        "fit, streamed from DDR otherwise)",
    )
    p.add_argument(
        "--ports",
        type=int,
        choices=(1, 2, 4),
        default=None,
        help="HP ports the streamed layers are read over, column j over port j mod P (default: the "
        "configuration's stream_ports, else the board family's: 1 on Zynq-7000, 2 on Zynq UltraScale+)",
    )
    p.add_argument(
        "--occupancy-mask",
        choices=("on", "off"),
        default=None,
        help="send each PE only the columns where it has entries (default: the configuration's occupancy_mask)",
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
    add_json_option(p, "table")
    p.set_defaults(func=run)


def _load_input(path: str, k: int) -> np.ndarray:
    from eie.format.vectors import load_vectors

    return load_vectors(path, k, single=True)


def _option(flag: str, value) -> str:
    return f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}"


def _hardware(args) -> tuple[dict, int, int, str, float, int | None, object]:
    """(hardware report, N, FIFO depth, index bits or 'auto', clock MHz, LNZD window or None, config or None)."""
    from eie.hardware.target import describe_hardware, hardware_dict, load_config
    from eie.performance.timing import EIE_ASIC, EIE_ASIC_INDEX_BITS, EIE_ASIC_PES

    overridden = {
        "--pes": args.pes,
        "--fifo": args.fifo,
        "--index-bits": args.index_bits,
        "--clock-mhz": args.clock_mhz,
        "--lnzd-window": args.lnzd_window,
        "--ports": args.ports,
    }
    overrides = [_option(flag, v) for flag, v in overridden.items() if v is not None]
    if args.eie_asic:
        if args.config or args.board:
            raise ConfigError("give --config/--board or --eie-asic, not both")
        n, fifo, r, clock = EIE_ASIC_PES, EIE_ASIC.fifo_depth, EIE_ASIC_INDEX_BITS, EIE_ASIC.clock_mhz
        window = None  # free zero skipping
        config = None
    else:
        config = load_config(args.config)
        if args.board:
            from eie.hardware.resources import on_board

            overrides.insert(0, f"--board {args.board}")
            config = on_board(config, args.board)  # its clock, unless --clock-mhz
        n, fifo, r, clock = config.n_pes, config.fifo_depth, config.index_bits, config.clock
        window = config.to_dict()["lnzd_window"]  # None: one per PE, so it follows --pes
    n = n if args.pes is None else args.pes
    fifo = fifo if args.fifo is None else args.fifo
    r = str(r if args.index_bits is None else args.index_bits)
    clock = float(clock if args.clock_mhz is None else args.clock_mhz)
    if args.lnzd_window is not None:
        window = args.lnzd_window
    elif not args.eie_asic and window is None:
        window = n  # the kernel's default LNZD window: one activation per PE bank
    if args.eie_asic:
        hw = hardware_dict("EIE ASIC", n, clock, "--eie-asic", None, overrides)
    else:
        hw = describe_hardware(config, args.config, overrides)
        hw["n_pes"], hw["clock_mhz"] = int(n), clock
    return hw, n, fifo, r, clock, window, config


def _storage(args, config, n: int, r: int, encoded) -> tuple[list[str], object]:
    """Per-layer storage and the streaming master's parameters (None for the EIE ASIC)."""
    from eie.hardware.streaming import board_storage, layer_storage
    from eie.performance.timing import stream_params_for_config

    if config is None:
        if args.storage not in (None, "onchip"):
            raise ConfigError("--eie-asic holds every layer on chip; --storage needs a configuration")
        if args.ports is not None:
            raise ConfigError("--eie-asic holds every layer on chip; --ports needs a configuration")
        return ["onchip"] * len(encoded), None
    changes = {"n_pes": n, "lnzd_window": None, "index_bits": r}
    if args.storage is not None:
        changes["storage"] = args.storage
    if args.ports is not None:
        changes["stream_ports"] = args.ports
    target = config.replace(**changes)
    if args.config:  # a given accelerator: its memory depths as they are
        return layer_storage(target, encoded), stream_params_for_config(target)
    # The default hardware: depths sized from the model, on chip while that fits the board.
    storage, _ = board_storage(target, encoded)
    return storage, stream_params_for_config(target)


def _index_bits(args, index_bits, layers, masks, n, params):
    from eie.performance.index_bits import format_table, index_bits_table, pick

    if index_bits != "auto":
        try:
            return int(index_bits), None
        except ValueError:
            raise ConfigError(f"--index-bits {index_bits!r} must be an integer 1..8 or 'auto'") from None
    budget = None if args.budget_kib is None else int(args.budget_kib * 8192)
    table = index_bits_table(layers, n, masks, budget, params=params)
    r = pick(table, budget)
    return r, (table, format_table(table, r))


def run(args) -> int:
    from eie.compression.model import CompressedLayer, CompressedModel
    from eie.format.rowmap import encode_model, identity, to_physical
    from eie.performance.balance import balance_model
    from eie.performance.timing import TimingParams, simulate_model

    if args.lnzd_window is not None and args.lnzd_window < 1:
        raise ConfigError(f"--lnzd-window={args.lnzd_window} must be at least 1")
    if args.pes is not None and (args.pes < 1 or args.pes > 256):
        raise ConfigError(f"--pes {args.pes} must be 1..256")
    hw, n, fifo, index_bits, clock, window, config = _hardware(args)
    if args.occupancy_mask is not None:
        mask = args.occupancy_mask == "on"
    else:
        mask = bool(config.occupancy_mask) if config is not None else False
    params = TimingParams(fifo_depth=fifo, clock_mhz=clock, lnzd_window=window, occupancy_mask=mask)
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
    r, table = _index_bits(args, index_bits, model.layers, masks, n, params)
    if args.row_map == "balanced":
        perms = balance_model(model, n, r, masks, params)
    else:
        perms = [identity(l.shape[0]) for l in model.layers]
    encoded = encode_model(model, perms, n, r)
    phys = [to_physical(masks[0], None)] + [to_physical(v, p) for v, p in zip(masks[1:], perms[:-1])]
    storage, stream = _storage(args, config, n, r, encoded)
    params = replace(params, stream=stream)
    timing = simulate_model(encoded, phys, params, storage)

    out = timing.to_dict()
    for d, layer in zip(out["layers"], model.layers):
        d["name"] = layer.name
        d["shape"] = list(layer.shape)
    out["hardware"] = hw
    out["params"] = {
        "pes": n,
        "fifo": fifo,
        "index_bits": r,
        "clock_mhz": clock,
        "lnzd_window": window,
        "row_map": args.row_map,
        "occupancy_mask": mask,
        "stream": None if stream is None else _stream_dict(stream, clock),
    }
    out["input"] = source
    out["source"] = "EIE timing model (modelled, not measured on hardware)"
    if table is not None:
        out["index_bits_table"] = [o.__dict__ for o in table[0]]
    emit(args, out, lambda: _table(timing, model, hw, out["params"], source, table))
    return 0


def _stream_dict(sp, clock: float) -> dict:
    return {
        "ports": sp.ports,
        "stream_bits": sp.word_bytes * 8,
        "axi_bits": sp.axi_bits,
        "burst_len": sp.burst_len,
        "outstanding": sp.outstanding,
        "latency_cycles": sp.latency_cycles,
        "port_peak_gbps": sp.port_peak_gbps(clock),
        "ports_peak_gbps": sp.peak_bytes_per_cycle(clock) * clock / 1000.0,
        "ddr_peak_gbps": sp.ddr_peak_gbps,
    }


def _table(timing, model, hw: dict, params: dict, source: str, table) -> str:
    from eie.hardware.target import hardware_line

    window = "free zero skipping" if params["lnzd_window"] is None else f"LNZD window {params['lnzd_window']}"
    lines = [
        "EIE timing model — modelled cycles, not a hardware measurement",
        f"  {hardware_line(hw)}",
        f"  {params['pes']} PEs, FIFO {params['fifo']}, index_bits {params['index_bits']}, "
        f"{params['clock_mhz']:g} MHz, {window}, row map {params['row_map']}, "
        f"occupancy mask {'on' if params['occupancy_mask'] else 'off'}",
        f"  activations: {source}",
    ]
    sp = params["stream"]
    streamed = any(lt.storage == "stream" for lt in timing.layers)
    if sp is not None:
        lines.append(
            f"  streaming: {sp['ports']} HP port(s) (column j over port j mod {sp['ports']}), "
            f"each {sp['axi_bits']}-bit with a {sp['stream_bits']}-bit reader and dispatcher, "
            f"bursts of {sp['burst_len']}, {sp['outstanding']} outstanding, "
            f"port peak {sp['port_peak_gbps']:.2f} GB/s; together {sp['ports_peak_gbps']:.2f} GB/s "
            f"= min(ports x port, DDR peak {sp['ddr_peak_gbps']:.2f} GB/s)"
        )
    if streamed:
        lines.append("  streamed layers: modelled; trip counts checked in C-simulation; never run on a board")
    if table is not None:
        lines += ["index_bits considered (all layers, interleaved rows):", table[1]]
    lines.append(
        f"{'layer':<16} {'M x K':>13} {'bcast':>6} {'cycles':>9} {'ideal':>9} {'eff':>6} "
        f"{'pad':>6} {'stall':>8} {'storage':>7} {'MB read':>8} {'comp_us':>9} {'ddr_us':>9} {'us':>9}"
    )
    for lt, layer in zip(timing.layers, model.layers):
        shape = f"{layer.shape[0]}x{layer.shape[1]}"
        lines.append(
            f"{layer.name[:16]:<16} {shape:>13} {lt.broadcasts:>6} {lt.cycles:>9} {lt.ideal_cycles:>9.0f} "
            f"{lt.efficiency:>6.1%} {lt.padding_fraction:>6.1%} {lt.stall_cycles:>8} {lt.storage:>7} "
            f"{lt.bytes_streamed / 1e6:>8.3f} {lt.compute_bound_us:>9.2f} {lt.ddr_bound_us:>9.2f} {lt.latency_us:>9.2f}"
        )
    tot = timing.to_dict()["total"]
    lines.append(
        f"{'total':<16} {'':>13} {'':>6} {timing.cycles:>9} {'':>9} {'':>6} {'':>6} {'':>8} {'':>7} "
        f"{tot['bytes_streamed'] / 1e6:>8.3f} {tot['compute_bound_us']:>9.2f} {tot['ddr_bound_us']:>9.2f} "
        f"{timing.latency_us:>9.2f}"
    )
    lines.append("eff = load-balance efficiency (ideal / PE-array cycles); pad = padding share of entries")
    lines.append(
        "comp_us = the layer with free memory; ddr_us = its bytes at min(ports x port, DDR) peak; us = both together"
    )
    return "\n".join(lines)
