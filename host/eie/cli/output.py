"""What every ``eie`` command prints: one JSON object with ``--json``, else text.

The one module command modules share (they do not import each other):
``add_json_option`` and ``emit`` for the output, ``add_config_option`` for
the accelerator configuration that inspect, simulate, generate, verify and
demo take (without it they assume the default hardware of
``eie.hardware.boards``, and say so in their output).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable


def add_json_option(parser: argparse.ArgumentParser, what: str = "text") -> None:
    parser.add_argument("--json", action="store_true", help=f"print one JSON object instead of the {what}")


def add_config_option(parser: argparse.ArgumentParser, extra: str = "", board: bool = True) -> None:
    from eie.hardware.boards import BOARDS, DEFAULT_BOARD, DEFAULT_PES

    parser.add_argument(
        "--config",
        metavar="CONFIG.yaml",
        help=f"accelerator configuration (default: {DEFAULT_BOARD}, {DEFAULT_PES} PEs at the board's clock{extra})",
    )
    if board:
        parser.add_argument(
            "--board",
            choices=sorted(BOARDS),
            metavar="NAME",
            help="the board (its part and clock) instead of the configuration's; without --config or --pes, the "
            f"PE count is the largest that fits it with the model ({', '.join(sorted(BOARDS))})",
        )


def board_overrides(args: argparse.Namespace) -> list[str]:
    """The options that changed the configuration, for the hardware line (e.g. ``["--board pynq-z2"]``)."""
    out = []
    if getattr(args, "board", None):
        out.append(f"--board {args.board}")
    if getattr(args, "pes", None) is not None:
        out.append(f"--pes {args.pes}")
    return out


def print_choice(choice) -> None:
    """What ``eie.hardware.choice`` chose for the model (stderr, so --json stays one line on stdout)."""
    for line in choice.to_report:
        print(f"chose {line}", file=sys.stderr)


def emit(args: argparse.Namespace, obj: dict, text: str | Callable[[], str]) -> None:
    """Print ``obj`` as one line of JSON when ``args.json``, else ``text`` (or what it returns)."""
    if getattr(args, "json", False):
        print(json.dumps(obj))
    else:
        print(text() if callable(text) else text)


def add_calib_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calib",
        metavar="X.npy",
        help="representative float inputs (B x K) that set the activation formats "
        "(default: the calibration stored by 'eie compress --calib', else the default format, with a warning)",
    )


def warn_calibration(command: str, calibration: dict) -> None:
    """One line on stderr when the image uses the default activation format (nothing calibrated it)."""
    import sys

    if calibration.get("warning"):
        print(f"eie {command}: warning: {calibration['warning']}", file=sys.stderr)
