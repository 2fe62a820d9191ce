"""``eie compress``: prune and weight-share a float weights file."""

from __future__ import annotations

import argparse

from eie.cli.output import add_json_option, emit
from eie.compression.kmeans import INITS
from eie.compression.model import ACTIVATIONS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compress",
        help="Deep Compression of a model (weights .npz, PyTorch .pt/.pth or ONNX .onnx): magnitude pruning and "
        "k-means weight sharing",
        description=(
            "Read MODEL: a weights .npz (<layer>.weight out x in, optional <layer>.bias, in layer order; ReLU "
            "between layers), a PyTorch .pt/.pth or an ONNX .onnx; prune each layer to --density and share "
            "its kept weights in 2^B - 1 k-means centroids, and write the compressed model."
        ),
    )
    p.add_argument("weights", metavar="MODEL", help="float weights .npz, PyTorch .pt/.pth, or .onnx file")
    p.add_argument(
        "-o", "--output", metavar="MODEL.npz", help="compressed model to write (needed unless --sensitivity alone)"
    )
    p.add_argument(
        "--density",
        help="fraction kept per layer in (0, 1], or LAYER=D,... (default 0.1; --target-drop searches it instead)",
    )
    p.add_argument(
        "--weight-bits", default="4", metavar="B", help="bits per weight code 1..8, or LAYER=B,... (default 4)"
    )
    p.add_argument(
        "--data",
        metavar="DATA.npz",
        help="x_train, y_train, x_test, y_test: report float and compressed figures; x_train also calibrates the "
        "activation formats when no --calib is given",
    )
    p.add_argument(
        "--calib",
        metavar="X.npy",
        help="representative float inputs (B x K, e.g. training inputs; for an LSTM sequences B x T x I): their "
        "activation peaks are stored with the model and set the image's fixed-point formats in generate, verify, "
        "deploy and run",
    )
    p.add_argument(
        "--retrain", action="store_true", help="Deep Compression's prune-retrain-share-finetune (needs --data)"
    )
    p.add_argument(
        "--epochs", type=int, metavar="N", help="epochs of each retraining round after a pruning step (default 8)"
    )
    p.add_argument(
        "--lr",
        type=float,
        metavar="LR",
        help="retraining learning rate (Adam; default 1e-3; the centroid fine-tuning keeps lr / 5)",
    )
    p.add_argument("--finetune-epochs", type=int, metavar="N", help="epochs of centroid fine-tuning (default 5)")
    p.add_argument("--batch-size", type=int, metavar="B", help="retraining batch size (default 32)")
    p.add_argument("--ternary", action="store_true", help="TTQ for the middle layers, with retraining (needs --data)")
    p.add_argument(
        "--sensitivity", action="store_true", help="scan each layer's accuracy against density (needs --data)"
    )
    p.add_argument(
        "--target-drop",
        type=float,
        metavar="DROP",
        help="search per-layer densities (sensitivity-allocated, each trial retrained with --retrain, bisected on "
        "the overall density) for the smallest model within DROP of float on the test data (needs --data); "
        "writes the best trial and prints the trials",
    )
    p.add_argument("--plot", metavar="PNG", help="with --sensitivity: save the scan as a plot")
    p.add_argument(
        "--trust-pickle", action="store_true", help="unpickle a .pt holding classes of your own (runs its code)"
    )
    p.add_argument("--no-prune", action="store_true", help="keep every nonzero weight (weight sharing only)")
    p.add_argument("--init", choices=INITS, default="linear", help="k-means centroid initialisation (default linear)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random initialisation (default 0)")
    p.add_argument(
        "--last-activation", choices=ACTIVATIONS, default="none", help="activation after the last layer (default none)"
    )
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eie.api import compress_file
    from eie.errors import ConfigError
    from eie.safeio import refuse_same_path

    if args.output is None and not (args.sensitivity and args.target_drop is None):
        raise ConfigError(
            "-o MODEL.npz is needed: the compressed model to write (only --sensitivity alone writes none)"
        )
    if args.output is not None:
        refuse_same_path(args.output, [args.weights, args.data, args.calib])

    summary, text = compress_file(
        args.weights,
        args.output,
        density=args.density,
        weight_bits=args.weight_bits,
        prune=not args.no_prune,
        data=args.data,
        retrain=args.retrain,
        ternary=args.ternary,
        sensitivity=args.sensitivity,
        target_drop=args.target_drop,
        plot=args.plot,
        trust_pickle=args.trust_pickle,
        last_activation=args.last_activation,
        init=args.init,
        seed=args.seed,
        progress=not args.json,
        calib=args.calib,
        epochs=args.epochs,
        lr=args.lr,
        finetune_epochs=args.finetune_epochs,
        batch_size=args.batch_size,
    )
    emit(args, summary, text)
    return 0
