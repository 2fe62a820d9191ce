"""``eie inspect``: the EIE storage report of a compressed model."""

from __future__ import annotations

import argparse

from eie.cli.output import add_config_option, add_json_option, emit


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="storage report of a compressed model in EIE form (entries, padding, compression ratio)",
        description=(
            "Encode MODEL.npz for the accelerator's N PEs with R-bit relative indices and print per "
            "layer rows, cols, nnz, entries (padding included), padding, bits per weight, and the "
            "compression ratio against dense float32, with and without Huffman coding."
        ),
    )
    p.add_argument("model", metavar="MODEL.npz", help="compressed model (from eie compress)")
    add_config_option(p, "; its n_pes and index_bits lay out the storage")
    p.add_argument(
        "--pes",
        type=int,
        default=None,
        metavar="N",
        help="number of PEs the storage is laid out for (default: the configuration's); "
        "each PE stores its own column pointers, so --pes 1 gives Deep Compression's storage figure",
    )
    p.add_argument(
        "--index-bits",
        type=int,
        default=None,
        metavar="R",
        help="relative index bits, 1..8 (default: the configuration's)",
    )
    add_json_option(p, "table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eie.compression.model import CompressedModel
    from eie.errors import check_int
    from eie.format.storage import storage_report
    from eie.hardware.target import describe_hardware, hardware_line, load_config

    overrides = []
    if args.pes is not None:
        check_int("--pes", args.pes, 1, 4096)
        overrides.append(f"--pes {args.pes}")
    if args.index_bits is not None:
        check_int("--index-bits", args.index_bits, 1, 8)
        overrides.append(f"--index-bits {args.index_bits}")
    from eie.cli import lstm

    if lstm.is_lstm_file(args.model):  # every gate matrix and the head, as the kernel stores them
        from eie.compression.lstm import CompressedLSTM

        model = CompressedLSTM.load(args.model)
    else:
        model = CompressedModel.load(args.model)
    config = load_config(args.config, model)
    if args.board:
        from eie.hardware.resources import on_board

        overrides.insert(0, f"--board {args.board}")
        config = on_board(config, args.board)
    n = config.n_pes if args.pes is None else args.pes
    r = config.index_bits if args.index_bits is None else args.index_bits
    report = storage_report(model, n_pes=n, index_bits=r)
    hw = describe_hardware(config, args.config, overrides)
    hw["n_pes"] = n  # the layout's N: --pes may exceed what one accelerator configuration allows
    emit(args, {"hardware": hw, **report.to_dict()}, lambda: hardware_line(hw) + "\n" + report.format_table())
    return 0
