"""``eie inspect``: the EIE storage report of a compressed model."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="storage report of a compressed model in EIE form (entries, padding, compression ratio)",
        description=(
            "Encode MODEL.npz for N PEs with R-bit relative indices and print per layer rows, cols, "
            "nnz, entries (padding included), padding, bits per weight, and the compression ratio "
            "against dense float32, with and without Huffman coding."
        ),
    )
    p.add_argument("model", metavar="MODEL.npz", help="compressed model (from eie compress)")
    p.add_argument(
        "--pes",
        type=int,
        default=64,
        metavar="N",
        help="number of PEs the storage is laid out for (default 64, as EIE); "
        "each PE stores its own column pointers, so --pes 1 gives Deep Compression's storage figure",
    )
    p.add_argument("--index-bits", type=int, default=4, metavar="R", help="relative index bits, 1..8 (default 4)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eie.compression.model import CompressedModel
    from eie.errors import check_int
    from eie.format.storage import storage_report

    n = check_int("--pes", args.pes, 1, 4096)
    r = check_int("--index-bits", args.index_bits, 1, 8)
    model = CompressedModel.load(args.model)
    report = storage_report(model, n_pes=n, index_bits=r)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.format_table())
    return 0
