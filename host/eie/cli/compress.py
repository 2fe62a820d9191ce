"""``eie compress``: prune and weight-share a float weights file."""

from __future__ import annotations

import argparse

from eie.cli.output import add_json_option, emit
from eie.compression.kmeans import INITS
from eie.compression.model import ACTIVATIONS
from eie.compression.prune import check_density
from eie.errors import check_int


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compress",
        help="Deep Compression of a weights .npz: magnitude pruning and k-means weight sharing",
        description=(
            "Read WEIGHTS.npz (<layer>.weight out x in, optional <layer>.bias, in layer order; ReLU "
            "between layers), prune each layer to --density and share its kept weights in "
            "2^B - 1 k-means centroids, and write the compressed model."
        ),
    )
    p.add_argument("weights", metavar="WEIGHTS.npz", help="float weights file")
    p.add_argument("-o", "--output", metavar="MODEL.npz", required=True, help="compressed model to write")
    p.add_argument(
        "--density", type=float, default=0.1, help="fraction of weights kept per layer, in (0, 1] (default 0.1)"
    )
    p.add_argument("--no-prune", action="store_true", help="keep every nonzero weight (weight sharing only)")
    p.add_argument("--weight-bits", type=int, default=4, metavar="B", help="bits per weight code, 1..8 (default 4)")
    p.add_argument("--init", choices=INITS, default="linear", help="k-means centroid initialisation (default linear)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random initialisation (default 0)")
    p.add_argument(
        "--last-activation", choices=ACTIVATIONS, default="none", help="activation after the last layer (default none)"
    )
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eie.compression.pipeline import compress
    from eie.compression.weights import load_weights

    # Check settings before the (possibly slow) work.
    bits = check_int("--weight-bits", args.weight_bits, 1, 8)
    density = None if args.no_prune else check_density(args.density, "--density")
    layers = load_weights(args.weights, last_activation=args.last_activation)
    model = compress(layers, density=density, prune=not args.no_prune, weight_bits=bits, init=args.init, seed=args.seed)
    model.save(args.output)
    dense = sum(l.shape[0] * l.shape[1] for l in model.layers)
    kept = sum(l.nnz for l in model.layers)
    rows = [
        {
            "name": l.name,
            "shape": [int(l.shape[0]), int(l.shape[1])],
            "nnz": int(l.nnz),
            "density": float(l.density),
            "centroids": int(l.codes.max()) if l.nnz else 0,
            "activation": l.activation,
        }
        for l in model.layers
    ]
    summary = {"output": str(args.output), "layers": rows, "kept": kept, "dense": dense, "weight_bits": bits}
    lines = [
        f"{r['name']}: {r['shape'][0]} x {r['shape'][1]}, kept {r['nnz']} ({r['density']:.2%}), "
        f"{r['centroids']} centroids, {r['activation']}"
        for r in rows
    ]
    lines.append(f"wrote {args.output}: {len(model.layers)} layers, {kept} of {dense} weights kept, {bits}-bit codes")
    emit(args, summary, "\n".join(lines))
    return 0
