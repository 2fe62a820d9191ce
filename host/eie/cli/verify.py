"""``eie verify``: run input vectors through a backend and the emulator, compare bit for bit.

Backends: ``emulator`` (the emulator against itself after an image round
trip: the strict reader rebuilds the model from the image bytes), ``csim``
(the rendered HLS kernel compiled with g++, its DATAFLOW processes one after
another) and ``csim-concurrent`` (the same kernel with every process a thread
and every stream a bounded FIFO of its declared depth; ``--jitter`` and
``--slow`` perturb the schedule). A deadlock or tokens left in a FIFO are
reported as an error, with exit status 1. Without ``--config``
the hardware is the default (eie.hardware.target.default_config) with the
memory depths sized from the model, as in ``eie generate``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from eie.cli.output import (
    add_calib_option,
    add_config_option,
    add_json_option,
    board_overrides,
    emit,
    print_choice,
    warn_calibration,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify",
        help="check a backend (csim, csim-concurrent or emulator) against the bit-exact emulator",
        description="Quantise MODEL.npz for the configuration, run N input vectors through the backend and "
        "the emulator and compare the integers. Exit status 1 on any mismatch.",
    )
    p.add_argument("model", help="compressed model .npz")
    add_config_option(p, "; widths and depths from the model")
    p.add_argument(
        "--backend",
        choices=("emulator", "csim", "csim-concurrent"),
        default="csim",
        help="backend to check (default csim); csim-concurrent runs the kernel's processes as threads with "
        "bounded FIFOs, as the hardware does",
    )
    p.add_argument(
        "--jitter",
        type=int,
        default=0,
        metavar="N",
        help="csim-concurrent: yield at one stream access in N, sleep at one in 8N (default 0: none)",
    )
    p.add_argument(
        "--slow",
        metavar="PROCESS",
        help="csim-concurrent: delay every stream access of one process (broadcast, pe0.., stream_request, "
        "stream_fetch, stream_header, stream_unpack)",
    )
    p.add_argument("--vectors", type=int, default=8, help="random input vectors (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument(
        "--input", help="inputs .npy (B x K floats) to check instead of random ones (they set no scale: see --calib)"
    )
    add_calib_option(p)
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eie.arithmetic.emulator import Emulator, quantize_input
    from eie.compression.model import CompressedModel
    from eie.errors import ConfigError, DataflowError, FormatError
    from eie.format.image import read_image
    from eie.format.vectors import load_vectors
    from eie.hardware.choice import choose_config
    from eie.hardware.target import calibration_info, describe_hardware, hardware_line

    if args.vectors < 1:
        raise ConfigError(f"--vectors={args.vectors} must be at least 1")
    if args.backend != "csim-concurrent" and (args.jitter or args.slow):
        raise ConfigError("--jitter and --slow perturb the concurrent C-simulation: add --backend csim-concurrent")
    from eie.cli import lstm

    if lstm.is_lstm_file(args.model):  # gate matrices on the kernel, the cell on the host
        return lstm.verify(args)
    model = CompressedModel.load(args.model)
    x_float = load_vectors(args.input, model.in_features) if args.input else None
    calib = load_vectors(args.calib, model.in_features) if args.calib else None
    # The image's scales come from the calibration (--calib, else the model's, else the default), never
    # from the inputs being checked: verify checks the image generate and deploy write.
    choice = choose_config(model, args.config, args.board, None, calib, args.vectors, args.seed)
    print_choice(choice)
    config, qm, xs = choice.config, choice.qm, choice.xs
    calibration = calibration_info(qm)
    warn_calibration("verify", calibration)
    xs = x_float if x_float is not None else xs[: args.vectors]
    if xs.shape[1] != qm.in_features:
        raise FormatError(f"inputs have {xs.shape[1]} features, the model takes {qm.in_features}")
    x_int = quantize_input(qm, xs)
    image = qm.to_image()
    want = Emulator(qm).run_layers(x_int)
    t0 = time.perf_counter()
    dataflow_error = None
    if args.backend in ("csim", "csim-concurrent"):
        from eie.kernel.csim import CSim, Schedule, process_names

        concurrent = args.backend == "csim-concurrent"
        schedule = Schedule(jitter=args.jitter, seed=args.seed, slow=args.slow) if concurrent else None
        if args.slow:
            if args.slow not in process_names(config):
                raise ConfigError(f"--slow {args.slow}: no such process; one of {', '.join(process_names(config))}")
        sim = CSim(config, concurrent=concurrent, schedule=schedule, verbose=not args.json)
        try:
            sim.load(image)
            got = sim.run(x_int)
        except DataflowError as e:
            dataflow_error = e.report
            got = np.zeros_like(want)
    else:
        got = Emulator(read_image(image, expect=config.to_hwparams())).run_layers(x_int)
    seconds = time.perf_counter() - t0
    mismatches = int(np.count_nonzero(got != want)) if dataflow_error is None else int(want.size)
    hw = describe_hardware(config, args.config, board_overrides(args))
    report = {
        "hardware": hw,
        "backend": args.backend,
        "vectors": int(x_int.shape[0]),
        "outputs": int(want.size),
        "mismatches": mismatches,
        "bit_exact": mismatches == 0,
        # csim-concurrent: a deadlock or tokens left in a FIFO (the run has no outputs then).
        "dataflow_error": dataflow_error,
        "calibration": calibration,
        # Per layer: "onchip" or "stream" (entries read from the image in DDR for every input).
        "storage": [ql.storage for ql in qm.layers],
        "config": {
            "board": config.board,
            "n_pes": config.n_pes,
            "weight_bits": config.weight_bits,
            "index_bits": config.index_bits,
            "ternary": config.ternary,
        },
        "seconds": round(seconds, 3),
    }
    if args.backend == "csim-concurrent":
        report["schedule"] = {"jitter": args.jitter, "seed": args.seed, "slow": args.slow}
    if mismatches and dataflow_error is None:
        b, i = np.argwhere(got != want)[0]
        report["first_mismatch"] = {
            "vector": int(b),
            "output": int(i),
            "got": int(got[b, i]),
            "expected": int(want[b, i]),
        }
    state = "bit-exact" if mismatches == 0 else f"{mismatches} MISMATCHES"
    if dataflow_error is not None:
        state = "STOPPED by the concurrent simulation:\n" + dataflow_error.rstrip()
    text = (
        f"{hardware_line(hw)}\n"
        f"{args.backend}: {report['vectors']} vectors, {report['outputs']} outputs, {state} "
        f"(N={config.n_pes}, {config.board})"
    )
    if any(ql.storage == "stream" for ql in qm.layers):
        text += "\nstorage: " + ", ".join(f"layer {i} {ql.storage}" for i, ql in enumerate(qm.layers))
    emit(args, report, text)
    return 0 if mismatches == 0 else 1
