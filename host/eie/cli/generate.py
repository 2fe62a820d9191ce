"""``eie generate``: render the HLS kernel, testbench and test vectors into a build directory.

Then ``vitis_hls -f build.tcl -tclargs BUILD_DIR [csim] [csynth] [cosim] [export]``.
Without ``--config`` and with a model, the default configuration is the
ZCU104 with 16 PEs and memory depths sized from the model (see
``default_config``); without a model the test vectors come from a small
random model that fits the configuration.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

DEFAULT_BOARD = "zcu104"
DEFAULT_PES = 16


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="render the HLS kernel, testbench and test vectors for Vitis HLS",
        description="Render the EIE kernel sources (hls/ templates), the C testbench, test vectors "
        "(image.bin, input.bin, expected.bin from the emulator) and params.tcl into BUILD_DIR; "
        "then run: vitis_hls -f build.tcl -tclargs BUILD_DIR [csim] [csynth] [cosim] [export].",
    )
    p.add_argument("model", nargs="?", help="compressed model .npz (optional; sets the test vectors and depths)")
    p.add_argument(
        "--config",
        help="accelerator configuration YAML "
        "(default: zcu104, 16 PEs; with MODEL.npz, widths and depths from the model)",
    )
    p.add_argument("-o", "--output", required=True, help="build directory to write")
    p.add_argument("--vectors", type=int, default=8, help="test vectors for the testbench (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random test vectors (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def default_config(model):
    """ZCU104, 16 PEs, the widest codes of the model, TTQ PEs if any layer is ternary (depths set later)."""
    from eie.hardware.config import AcceleratorConfig

    wbits = max([4] + [l.weight_bits for l in model.layers])
    return AcceleratorConfig(
        board=DEFAULT_BOARD,
        n_pes=DEFAULT_PES,
        weight_bits=wbits,
        ternary=any(l.kind == "ternary" for l in model.layers),
    )


def calibration_inputs(model, x: np.ndarray | None, vectors: int, seed: int) -> np.ndarray:
    """The given inputs, or standard-normal random inputs (the calibrated range is then their range)."""
    if x is not None:
        return np.atleast_2d(x)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((max(vectors, 16), model.in_features))


def quantized_model(model_path: str, config_path: str | None, calib: np.ndarray | None, vectors: int, seed: int):
    """(config, qm, float calibration inputs) for a compressed model; depths from the model without --config."""
    from eie.arithmetic.quant import quantize
    from eie.compression.model import CompressedModel
    from eie.hardware.config import AcceleratorConfig
    from eie.hardware.resources import check_model_fits, config_for_model

    model = CompressedModel.load(model_path)
    config = AcceleratorConfig.from_yaml(config_path) if config_path else default_config(model)
    xs = calibration_inputs(model, calib, vectors, seed)
    qm = quantize(model, config.to_hwparams(), calib=xs)
    if config_path:
        check_model_fits(config, qm)
    else:
        config = config_for_model(qm, board=config.board)
    return config, qm, xs


def run(args: argparse.Namespace) -> int:
    from eie.arithmetic.emulator import quantize_input
    from eie.errors import ConfigError
    from eie.hardware.config import AcceleratorConfig
    from eie.hardware.render import render
    from eie.hardware.resources import check_fits_board
    from eie.hardware.testmodel import demo_model, random_inputs

    if args.vectors < 1:
        raise ConfigError(f"--vectors={args.vectors} must be at least 1")
    if args.model:
        config, qm, xs = quantized_model(args.model, args.config, None, args.vectors, args.seed)
        x_int = quantize_input(qm, xs[: args.vectors])
    else:
        # Same default board and PE count as with a model (see --config).
        if args.config:
            config = AcceleratorConfig.from_yaml(args.config)
        else:
            config = AcceleratorConfig(board=DEFAULT_BOARD, n_pes=DEFAULT_PES)
        qm = demo_model(config, args.seed)
        x_int = random_inputs(qm, args.vectors, args.seed)
    est = check_fits_board(config)
    result = render(config, args.output, qm, x_int)
    summary = {
        "build_dir": str(result.out_dir),
        "board": config.board,
        "part": config.fpga_part,
        "clock_mhz": config.clock,
        "n_pes": config.n_pes,
        "files": sorted(p.name for p in result.files),
        "vectors": result.vectors,
        "estimate": {
            "bram36": est.bram36,
            "uram": est.uram,
            "dsp": est.dsp,
            "board_bram36": est.board_bram36,
            "board_uram": est.board_uram,
            "board_dsp": est.board_dsp,
        },
        "next": f"vitis_hls -f build.tcl -tclargs {result.out_dir} csim csynth",
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"rendered {len(result.files)} files into {result.out_dir} for {config.board} ({config.fpga_part}, "
            f"{config.clock:g} MHz, N={config.n_pes})"
        )
        print(
            f"estimate: {est.bram36}/{est.board_bram36} BRAM36, {est.uram}/{est.board_uram} URAM, "
            f"{est.dsp}/{est.board_dsp} DSP"
        )
        print(f"next: {summary['next']}")
    return 0
