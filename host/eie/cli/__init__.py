"""The ``eie`` command line: one sub-command per module in eie.cli.

Each command module defines ``register(subparsers)``, which adds its parser
and sets ``func(args) -> int``. Errors meant for users (EIEError, OSError)
become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from eie.errors import EIEError

COMMANDS = ("compress", "inspect", "simulate", "generate", "verify", "demo")


def build_parser() -> argparse.ArgumentParser:
    from eie import __version__

    parser = argparse.ArgumentParser(
        prog="eie",
        description="Compress neural networks (Deep Compression, TTQ) and run them on the EIE accelerator.",
    )
    parser.add_argument("--version", action="version", version=f"eie {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"eie.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"eie.cli.{name}":
                continue  # not built yet in this checkout
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EIEError as e:
        print(f"eie {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError, EOFError) as e:
        # Files that cannot be read or written, values numpy refuses.
        print(f"eie {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eie {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
