"""``eie deploy``: write the bundle for the board (model image, config, test vectors, build dir, manifest).

A thin wrapper of ``eie.board.deploy.deploy``; ``eie run BUNDLE`` reads it.
"""

from __future__ import annotations

import argparse
import sys

from eie.cli.output import (
    add_calib_option,
    add_config_option,
    add_json_option,
    board_overrides,
    emit,
    warn_calibration,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "deploy",
        help="write the bundle for the board: model.img, config, test vectors, kernel build dir, manifest",
        description="Quantise MODEL.npz for the configuration and write BUNDLE: model.img, config.yaml, test "
        "vectors with the emulator's expected outputs, the rendered kernel (BUNDLE/build), the overlay's "
        ".bit/.hwh (--overlay) and manifest.json (versions, config hash, image CRC, scales, sha256 of every "
        "file). Copy BUNDLE to the board and run it with 'eie run BUNDLE --backend board'.",
    )
    p.add_argument("model", help="compressed model .npz")
    add_calib_option(p)
    add_config_option(p, "; what it leaves out is chosen for the model: PE count and memory depths")
    p.add_argument("--pes", type=int, metavar="N", help="PE count (default: the configuration's, else the largest "
                   "that fits the board with the model)")  # fmt: skip
    p.add_argument(
        "--plan",
        action="store_true",
        help="choose the configuration with 'eie plan' (latency objective; --config/--board pin fields) and write "
        "the plan and the resource estimate into the bundle as plan_report.json",
    )
    p.add_argument("--overlay", metavar="DIR", help="directory with the overlay's NAME.bit and NAME.hwh to copy in")
    p.add_argument("--vectors", type=int, default=16, help="test vectors (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of random test vectors without --calib (default 0)")
    p.add_argument("-o", "--output", required=True, metavar="BUNDLE", help="bundle directory to write")
    p.add_argument(
        "--force", action="store_true", help="write into the directory even if it is non-empty and not eie's"
    )
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eie.board.deploy import deploy
    from eie.cli import lstm
    from eie.compression.model import CompressedModel
    from eie.format.vectors import load_vectors
    from eie.hardware.config import AcceleratorConfig
    from eie.hardware.target import describe_hardware, hardware_line

    if lstm.is_lstm_file(args.model):  # gate matrices on the kernel, the cell on the host
        return lstm.deploy(args)
    model = CompressedModel.load(args.model)
    calib = load_vectors(args.calib, model.in_features) if args.calib else None
    config, reports = args.config, None
    if getattr(args, "plan", False):
        from eie.hardware.plan import PLAN_REPORT, plan_model, plan_report, plan_text

        if args.pes is not None:
            from eie.errors import ConfigError

            raise ConfigError("--plan chooses the PE count; pin it in --config instead of --pes")
        plan = plan_model(model, args.board, args.config, calib)
        config, reports = plan.config, {PLAN_REPORT: plan_report(plan)}
        if not args.json:
            print(plan_text(plan), file=sys.stderr)
    manifest = deploy(
        model,
        args.output,
        config=config,
        reports=reports,
        calib=calib,
        overlay=args.overlay,
        vectors=args.vectors,
        seed=args.seed,
        force=args.force,
        inputs=(args.model, args.calib, args.config if reports else None),
        board=None if reports else args.board,
        n_pes=args.pes,
    )
    for line in manifest["chosen"]:
        print(f"chose {line}", file=sys.stderr)
    calibration = {**manifest["calibration"], "input_range": manifest["input"]["range"]}
    warn_calibration("deploy", calibration)
    hw = describe_hardware(AcceleratorConfig.from_dict(manifest["config"]), args.config, board_overrides(args))
    summary = {
        "hardware": hw,
        "bundle": str(args.output),
        "image_crc": manifest["image"]["crc"],
        "config_sha256": manifest["config_sha256"],
        "input": manifest["input"],
        "output": manifest["output"],
        "calibration": calibration,
        "vectors": manifest["vectors"]["count"],
        "overlay": manifest["overlay"],
        "files": len(manifest["files"]),
        "removed": manifest["removed"],
        "kept": manifest["kept"],
        "chosen": manifest["chosen"],
        "plan": None if reports is None else next(iter(reports)),
        # On the board: the kernel itself, or the emulator (numpy only); csim needs g++ and the HLS headers.
        "next": f"eie run {args.output} --input X.npy [--backend board|emulator]",
    }
    cal = "default format (uncalibrated)" if not calibration["calibrated"] else f"calibration: {calibration['source']}"
    lo, hi = manifest["input"]["range"]
    lines = [
        hardware_line(hw),
        f"wrote bundle {args.output}: model.img (CRC {manifest['image']['crc']:#010x}), config.yaml, "
        f"{manifest['vectors']['count']} test vectors, build/, manifest.json ({len(manifest['files'])} files)",
        f"input: {manifest['input']['frac_bits']} fraction bits, range [{lo:g}, {hi:g}] ({cal})",
        "overlay: " + (manifest["overlay"]["bit"] if manifest["overlay"] else "none (add with --overlay DIR)"),
        f"next: copy {args.output} to the board, then {summary['next']}",
    ]
    lines[2:2] = _format_lines(manifest)
    if manifest["removed"]:
        lines.insert(2, f"removed from the previous deploy: {', '.join(manifest['removed'])}")
    if manifest["kept"]:
        lines.insert(2, f"kept (changed since the previous deploy wrote them): {', '.join(manifest['kept'])}")
    emit(args, summary, "\n".join(lines))
    return 0


def _format_lines(manifest: dict) -> list[str]:
    """The accumulator and each layer's formats, with what they cost when the quantiser had to coarsen them."""
    acc = manifest.get("accumulator") or {}
    how = "pinned by the configuration" if acc.get("pinned") else f"sized from the model (needs {acc.get('needed')})"
    out = [f"accumulator: {acc.get('chosen')} bits, {how}"] if acc.get("chosen") else []
    for l in manifest["layers"]:
        err = l.get("output_error")
        out.append(
            f"  {l['name']}: fa_in={l['fa_in']} fw={l['fw']} fa_out={l['fa_out']}"
            + (f", {l['merged']} centroids merged" if l.get("merged") else "")
            + ("" if err is None else f", output error {err:.2%} of its peak")
        )
        out += [f"    note: {n}" for n in l.get("notes") or []]
    return out
