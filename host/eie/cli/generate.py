"""``eie generate``: render the HLS kernel, testbench and test vectors into a build directory.

Then ``vitis_hls -f build.tcl -tclargs BUILD_DIR [csim] [csynth] [cosim] [export]``.
Without ``--config`` the hardware is the default (eie.hardware.target.default_config);
with a model its widths and memory depths come from the model, without one
the test vectors come from a small random model that fits the configuration.
"""

from __future__ import annotations

import argparse

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
        "generate",
        help="render the HLS kernel, testbench and test vectors for Vitis HLS",
        description="Render the EIE kernel sources (hls/ templates), the C testbench, test vectors "
        "(image.bin, input.bin, expected.bin from the emulator) and params.tcl into BUILD_DIR; "
        "then run: vitis_hls -f build.tcl -tclargs BUILD_DIR [csim] [csynth] [cosim] [export].",
    )
    p.add_argument("model", nargs="?", help="compressed model .npz (optional; sets the test vectors and depths)")
    add_config_option(p, "; with MODEL.npz, widths and depths from the model")
    p.add_argument("-o", "--output", required=True, help="build directory to write")
    p.add_argument(
        "--force",
        action="store_true",
        help="write into the build directory even if it is non-empty and was not created by eie",
    )
    add_calib_option(p)
    p.add_argument("--vectors", type=int, default=8, help="test vectors for the testbench (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random test vectors (default 0)")
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eie.arithmetic.emulator import quantize_input
    from eie.errors import ConfigError
    from eie.hardware.choice import choose_config
    from eie.hardware.resources import check_fits_board
    from eie.hardware.target import calibration_info, describe_hardware, hardware_line, load_config
    from eie.hardware.testmodel import demo_model, random_inputs
    from eie.kernel.render import render
    from eie.kernel.sources import build_tcl
    from eie.safeio import prepare_output_dir, refuse_inputs_in

    if args.vectors < 1:
        raise ConfigError(f"--vectors={args.vectors} must be at least 1")
    # The output directory: never the user's files, never the inputs (checked before any work).
    refuse_inputs_in(
        args.output, ["config.yaml", "image.bin", "input.bin", "expected.bin"], [args.config, args.model, args.calib]
    )
    if args.calib and not args.model:
        raise ConfigError("--calib needs a MODEL.npz to calibrate")
    calibration = None
    from eie.cli import lstm

    if lstm.is_lstm_file(args.model):  # gate matrices on the kernel, the cell on the host
        return lstm.generate(args)
    if args.model:
        from eie.compression.model import CompressedModel
        from eie.format.vectors import load_vectors

        model = CompressedModel.load(args.model)
        calib = load_vectors(args.calib, model.in_features) if args.calib else None
        prepare_output_dir(args.output, args.force)
        choice = choose_config(model, args.config, args.board, None, calib, args.vectors, args.seed)
        print_choice(choice)
        config, qm, xs = choice.config, choice.qm, choice.xs
        x_int = quantize_input(qm, xs[: args.vectors])
        calibration = calibration_info(qm)
        warn_calibration("generate", calibration)
    else:
        prepare_output_dir(args.output, args.force)
        config = load_config(args.config)
        if args.board:
            from eie.hardware.resources import on_board

            config = on_board(config, args.board)
        qm = demo_model(config, args.seed)
        x_int = random_inputs(qm, args.vectors, args.seed)
    from eie.hardware.resources import unshared_note

    est = check_fits_board(config)
    result = render(config, args.output, qm, x_int)
    hw = describe_hardware(config, args.config, board_overrides(args))
    summary = {
        "hardware": hw,
        "build_dir": str(result.out_dir),
        "board": config.board,
        "part": config.fpga_part,
        "clock_mhz": config.clock,
        "n_pes": config.n_pes,
        "files": sorted(p.name for p in result.files),
        "vectors": result.vectors,
        "calibration": calibration,
        # Per layer: "onchip" or "stream" (entries read from the image in DDR; dir_depth sizes the directory).
        "storage": [ql.storage for ql in qm.layers],
        "dir_depth": config.dir_depth,
        # A streaming kernel's HP ports (one reader and dispatcher each) and their word width.
        "stream_ports": config.stream_lanes,
        "stream_bits": config.stream_bits if config.streaming else 0,
        "estimate": {
            "bram36": est.bram36,
            "uram": est.uram,
            "dsp": est.dsp,
            "board_bram36": est.board_bram36,
            "board_uram": est.board_uram,
            "board_dsp": est.board_dsp,
            "lut": est.lut,
            "ff": est.ff,
            "board_lut": est.board_lut,
            "board_ff": est.board_ff,
            # If Vitis ignores ALLOCATION limit=1 on layer_pass: its region twice.
            "unshared": est.to_dict()["unshared"],
        },
        "next": f"eie build {result.out_dir} --steps csim csynth",
        "vitis_hls": f"vitis_hls -f {build_tcl()} -tclargs {result.out_dir} csim csynth",
    }
    text = "\n".join(
        [
            hardware_line(hw),
            f"rendered {len(result.files)} files into {result.out_dir} for {config.board} ({config.fpga_part}, "
            f"{config.clock:g} MHz, N={config.n_pes})",
            f"estimate: {est.bram36}/{est.board_bram36} BRAM36, {est.uram}/{est.board_uram} URAM, "
            f"{est.dsp}/{est.board_dsp} DSP, {est.lut}/{est.board_lut if est.board_lut is not None else '?'} LUT, "
            f"{est.ff}/{est.board_ff if est.board_ff is not None else '?'} FF",
            unshared_note(est),
        ]
        + (
            [
                f"streamed layers over {config.stream_lanes} HP port(s) of {config.stream_bits} bits "
                f"(column j over port j mod {config.stream_lanes}; stream_ports in the configuration)"
            ]
            if config.streaming
            else []
        )
        + [f"next: {summary['next']}"]
    )
    emit(args, summary, text)
    return 0
