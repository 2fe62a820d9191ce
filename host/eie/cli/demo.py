"""``eie demo``: the main job on bundled data (see eie.demo)."""

from __future__ import annotations

import sys

from eie.cli.output import add_config_option, add_json_option, emit


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train, compress (Deep Compression and TTQ), generate the kernel, C-simulate, report",
        description="Digits MLP 64-300-100-10: prune + 4-bit k-means + centroid fine-tuning, and TTQ; "
        "quantise for the hardware, render the HLS kernel, run the test set through the C-simulation "
        "(the emulator when no compiler is found) and report accuracy, compression, bit-exactness "
        "and modelled latency. No board and no downloads needed.",
    )
    add_json_option(p, "table")
    p.add_argument("--fast", action="store_true", help="short training schedule (every stage still runs)")
    p.add_argument("--out", default="build/demo", help="build directory for the rendered kernel (default build/demo)")
    p.add_argument(
        "--force",
        action="store_true",
        help="write into --out even if it is a non-empty directory that eie did not create",
    )
    add_config_option(p, ", memory depths sized for the models; a configuration needs ternary: true", board=False)
    p.add_argument("--board", default=None, help="board to render for (default: the configuration's)")
    p.add_argument("--pes", type=int, default=None, help="number of PEs (default: the configuration's)")
    p.add_argument(
        "--backend",
        choices=("auto", "csim", "emulator"),
        default="auto",
        help="where the integer path runs (default: csim, falling back to the emulator)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--lstm",
        action="store_true",
        help="the LSTM demo instead: digits as 8 rows of 8 pixels, a compressed LSTM with its gate matrices on "
        "the kernel and the cell update on the host (--pes, --board, --backend, --seed apply)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from eie.demo import DemoOptions, format_summary
    from eie.demo import run as run_demo

    log = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print
    if args.lstm:
        return run_lstm(args, log)
    opts = DemoOptions(
        fast=args.fast,
        seed=args.seed,
        config_path=args.config,
        board=args.board,
        n_pes=args.pes,
        out_dir=args.out,
        force=args.force,
        backend=args.backend,
        progress=not args.json,
    )
    s = run_demo(opts, log=log).to_dict()
    emit(args, s, lambda: format_summary(s))
    return 0 if s["bit_exact"] else 1


def run_lstm(args, log) -> int:
    from eie.demo_lstm import LSTMDemoOptions, format_summary
    from eie.demo_lstm import run as run_demo
    from eie.hardware.boards import DEFAULT_BOARD, DEFAULT_PES

    if args.config:
        from eie.errors import ConfigError

        raise ConfigError("eie demo --lstm sizes its own configuration: use --board and --pes instead of --config")
    opts = LSTMDemoOptions(
        seed=args.seed,
        board=args.board or DEFAULT_BOARD,
        n_pes=args.pes or DEFAULT_PES,
        backend=args.backend,
        progress=not args.json,
    )
    s = run_demo(opts, log=log)
    emit(args, s, lambda: format_summary(s))
    return 0 if s["bit_exact"] else 1
