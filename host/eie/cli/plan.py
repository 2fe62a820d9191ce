"""``eie plan``: choose the accelerator for a model and a board (eie.hardware.plan, docs/plan.md).

Every figure is modelled (the timing model and the resource estimate), and
the output says so.
"""

from __future__ import annotations

import argparse

from eie.cli.output import add_calib_option, add_config_option, add_json_option, emit


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plan",
        help="choose the accelerator for a model and a board: PEs, FIFO, LNZD window, mask, storage, index bits",
        description="Search the accelerator's design space for MODEL.npz on a board with the timing model and the "
        "resource estimate (logic included): the number of PEs, FIFO depth, LNZD window, occupancy mask, storage "
        "per layer (on chip or streamed from DDR), index bits, and the HP-port count where the configuration has "
        "such a field. Fields pinned by --config (its keys) or --board are kept. Prints the choice, what bounds "
        "each layer and the Pareto front of latency against the board's scarcest resource. MODELLED: neither the "
        "timing model nor the resource estimate has been checked against synthesis.",
    )
    p.add_argument("model", help="compressed model .npz (an MLP)")
    add_calib_option(p)
    add_config_option(p, "; a partial file pins its keys, the rest is searched", board=True)
    p.add_argument(
        "--objective",
        choices=("latency", "throughput", "smallest"),
        default=None,
        help="latency (default: the slowest representative input), throughput (inputs per second), or smallest "
        "(the least of the scarcest resource meeting --target-latency-us)",
    )
    p.add_argument("--target-latency-us", type=float, metavar="T", help="the smallest design with latency <= T us")
    p.add_argument("--vectors", type=int, default=4, help="representative inputs the timing model runs (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of random inputs without --calib (default 0)")
    p.add_argument("--plot", metavar="FILE", help="draw the Pareto front (matplotlib, e.g. front.png)")
    p.add_argument("-o", "--output", metavar="CONFIG.yaml", help="write the chosen configuration (for generate, "
                   "deploy, verify)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="with -o: replace a file eie plan did not write")
    add_json_option(p)
    p.set_defaults(func=run)


def objective_of(args) -> tuple[str, float | None]:
    from eie.errors import ConfigError

    target = getattr(args, "target_latency_us", None)
    objective = args.objective
    if target is not None:
        if objective not in (None, "smallest"):
            raise ConfigError(
                f"--target-latency-us asks for the smallest design; it cannot go with --objective {objective}"
            )
        if not target > 0:
            raise ConfigError(f"--target-latency-us {target:g} must be positive (microseconds)")
        return "smallest", float(target)
    if objective == "smallest":
        raise ConfigError("--objective smallest needs --target-latency-us T")
    return objective or "latency", None


def run(args: argparse.Namespace) -> int:
    from eie.cli import lstm
    from eie.compression.model import CompressedModel
    from eie.errors import ConfigError
    from eie.format.vectors import load_vectors
    from eie.hardware.plan import check_writable, plan_model, plan_text, plot_front, write_config
    from eie.safeio import refuse_same_path

    if lstm.is_lstm_file(args.model):
        raise ConfigError("eie plan takes MLPs; plan an LSTM's gate matrices with --config and eie simulate for now")
    if args.vectors < 1:
        raise ConfigError(f"--vectors={args.vectors} must be at least 1")
    objective, target = objective_of(args)
    for out in (args.output, args.plot):
        if out:
            refuse_same_path(out, [args.model, args.calib, args.config])
    if args.output:
        check_writable(args.output, args.force)  # before the search, not after it
    model = CompressedModel.load(args.model)
    calib = load_vectors(args.calib, model.in_features) if args.calib else None
    plan = plan_model(model, args.board, args.config, calib, objective, target, vectors=args.vectors, seed=args.seed)
    out = plan.to_dict()
    if args.output:
        write_config(plan, args.output, args.force)
        out["written"] = str(args.output)
    if args.plot:
        plot_front(plan, args.plot)
        out["plot"] = str(args.plot)

    def text() -> str:
        lines = [plan_text(plan)]
        if args.output:
            lines.append(f"wrote {args.output}; next: eie deploy {args.model} --config {args.output} -o BUNDLE")
        if args.plot:
            lines.append(f"drew the front: {args.plot}")
        return "\n".join(lines)

    emit(args, out, text)
    return 0
