"""``eie build``: run Vitis HLS (and Vivado for the overlay) on a directory ``eie generate`` wrote.

    eie build BUILD_DIR [--steps csim csynth cosim export] [--overlay OUT_DIR] [--jobs N] [--dry-run]

The tools come from $XILINX_HLS / $XILINX_VIVADO or the PATH
(eie.kernel.toolflow); their output is shown and kept in
BUILD_DIR/vitis_hls.log and BUILD_DIR/vivado.log.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from eie.cli.output import add_json_option, emit


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "build",
        help="run Vitis HLS (csim, csynth, cosim, export) and Vivado (the overlay) on a build directory",
        description="Run the Xilinx flow on a directory written by `eie generate`: vitis_hls -f build.tcl "
        "with the steps, then, with --overlay, vivado with overlays/build_overlay.tcl to make eie.bit and "
        "eie.hwh. The tools are found through $XILINX_HLS / $XILINX_VIVADO or the PATH.",
    )
    p.add_argument("build_dir", metavar="BUILD_DIR", help="directory written by `eie generate`")
    p.add_argument(
        "--steps",
        nargs="*",
        default=["csim", "csynth"],
        metavar="STEP",
        help="Vitis HLS steps among csim csynth cosim export (default: csim csynth)",
    )
    p.add_argument("--overlay", metavar="OUT_DIR", help="then build the PYNQ overlay (.bit/.hwh) into OUT_DIR")
    p.add_argument("--jobs", type=int, help="Vivado implementation jobs (default: the script's)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing (no tools needed)")
    add_json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eie.kernel import toolflow

    steps = toolflow.plan(args.build_dir, tuple(args.steps), args.overlay, args.jobs, resolve_tools=not args.dry_run)
    summary = {
        "build_dir": args.build_dir,
        "dry_run": bool(args.dry_run),
        "steps": [{"what": s.what, "command": s.command, "log": str(s.log)} for s in steps],
    }
    if args.dry_run:
        emit(args, summary, lambda: "\n".join(f"# {s.what}\n{shlex.join(s.command)}" for s in steps))
        return 0
    for i, step in enumerate(steps, 1):
        print(f"[{i}/{len(steps)}] {step.what} (log: {step.log})", file=sys.stderr, flush=True)
        toolflow.run(step, echo=None if args.json else sys.stdout)
    done = f"next: eie report {args.build_dir}" + (f" --overlay {args.overlay}" if args.overlay else "")
    summary["next"] = done
    emit(args, summary, done)
    return 0
