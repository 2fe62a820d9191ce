"""``eie run``: float inputs through a bundle's integer path, on the emulator, the C-simulation or the board.

The bundle (``eie deploy``) is checked first: every file's sha256 and the
image's CRC against ``manifest.json``. Each backend computes identical
integers; latencies are the host's wall-clock time of each call (on the
board: including the driver's copies), labelled as such.

The hardware is the bundle's configuration; ``--config`` names it explicitly
and is refused when it is another one (the image was built for the
bundle's). The output states the hardware (board, PEs, clock), as every
command does. With ``--backend emulator`` this imports numpy and board-safe
modules only (``eie.board.BOARD_SAFE``): it runs on the PYNQ image.
"""

from __future__ import annotations

import argparse

import numpy as np

from eie.cli.output import add_json_option, emit, warn_calibration


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="run float inputs through a deployed bundle (emulator, csim or the board)",
        description="Check BUNDLE against its manifest, quantise the float inputs, run the integer path on the "
        "backend and write the float outputs.",
    )
    p.add_argument("bundle", metavar="BUNDLE", help="bundle directory written by 'eie deploy'")
    p.add_argument("--input", required=True, metavar="X.npy", help="float inputs (B x K)")
    p.add_argument(
        "--backend",
        choices=("auto", "emulator", "csim", "csim-concurrent", "cosim", "board"),
        default="auto",
        help="emulator (numpy), csim (g++ C-simulation), csim-concurrent (its processes as threads with bounded "
        "FIFOs), cosim (the driver over csim), board (the bundle's overlay through pynq); auto (default): the "
        "board on a PYNQ board when the bundle holds an overlay, else the emulator",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=1,
        metavar="N",
        help="vectors per kernel start (the driver's n_vectors; default 1: per-vector latency)",
    )
    p.add_argument(
        "--config",
        metavar="CONFIG.yaml",
        help="the accelerator configuration the bundle was deployed for (default: the bundle's config.yaml); "
        "refused if it is another configuration",
    )
    p.add_argument("-o", "--output", metavar="Y.npy", help="write the float outputs here")
    p.add_argument("--labels", metavar="L.npy", help="integer class labels: report accuracy (argmax of the outputs)")
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eie.board.bundle import Bundle, BundleError
    from eie.cli import lstm
    from eie.format.vectors import load_vectors
    from eie.hardware.boards import hardware_dict, hardware_line
    from eie.safeio import atomic_open, refuse_same_path

    if lstm.is_lstm_bundle(args.bundle):  # gate matrices on the kernel, the cell on the host
        return lstm.run(args)
    if args.output:
        refuse_same_path(args.output, [args.input, args.labels])
    bundle = Bundle.open(args.bundle)
    if args.config:
        bundle.check_config(args.config)  # refuses another configuration, naming the fields
    x = load_vectors(args.input, bundle.in_features)
    labels = None
    if args.labels:
        labels = np.load(args.labels, allow_pickle=False).reshape(-1)
        if labels.shape[0] != x.shape[0] or not np.issubdtype(labels.dtype, np.integer):
            raise BundleError(f"{args.labels}: expected {x.shape[0]} integer labels, got {labels.dtype} {labels.shape}")
    backend, why = (args.backend, "asked for") if args.backend != "auto" else bundle.auto_backend()
    y, y_int, secs = bundle.run(x, backend, timed=True, batch=args.batch)
    if args.output:
        with atomic_open(args.output, "wb") as f:
            np.save(f, y, allow_pickle=False)
    m = bundle.manifest
    h = m["hardware"]
    if args.config:
        hw = hardware_dict(h["board"], h["n_pes"], h["clock_mhz"], "config", args.config)
    else:
        hw = hardware_dict(h["board"], h["n_pes"], h["clock_mhz"], "bundle", bundle.path / "config.yaml")
    hw["part"] = h.get("part")
    timing = "host wall-clock per call" if backend != "board" else "wall-clock per call on the board (host side)"
    s = np.asarray(secs)
    report = {
        "hardware": hw,
        "bundle": str(bundle.path),
        "backend": backend,
        "backend_reason": why,
        "batch": int(args.batch),
        "vectors": int(x.shape[0]),
        "image_crc": m["image"]["crc"],
        "calibration": m.get("calibration"),
        "latency": {
            "measured": timing,
            "per_vector_s": [float(v) for v in secs],
            "mean_s": float(s.mean()) if s.size else 0.0,
            "median_s": float(np.median(s)) if s.size else 0.0,
        },
        "output": None if args.output is None else str(args.output),
    }
    if labels is not None:
        report["accuracy"] = float(np.mean(y.argmax(axis=1) == labels))
    cal = m.get("calibration") or {}
    lines = [
        hardware_line(hw),
        f"{backend} ({why}): {report['vectors']} vectors through {bundle.path}, {args.batch} per kernel start "
        f"(image CRC {m['image']['crc']:#010x})",
        f"latency ({timing}): mean {report['latency']['mean_s'] * 1e6:.1f} us, "
        f"median {report['latency']['median_s'] * 1e6:.1f} us",
    ]
    warn_calibration("run", cal)
    if labels is not None:
        lines.append(f"accuracy: {report['accuracy']:.2%}")
    if args.output:
        lines.append(f"outputs written to {args.output}")
    emit(args, report, "\n".join(lines))
    return 0
