"""The ``eie`` command line: one sub-command per module in eie.cli.

Each command module defines ``register(subparsers)``, which adds its parser
and sets ``func(args) -> int``; it prints through ``eie.cli.output`` and
imports no other command module. Errors meant for users (EIEError, OSError,
ValueError) become one line on stderr and exit status 2; any other exception
is an internal error: one line asking for a report and exit status 70
(EX_SOFTWARE). ``EIE_DEBUG=1`` adds the traceback. Output cut short by a
closed pipe (``eie ... | head -1``) ends quietly with status 141, as a tool
killed by SIGPIPE does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from eie.errors import EIEError

COMMANDS = (
    "compress",
    "inspect",
    "simulate",
    "plan",
    "generate",
    "verify",
    "deploy",
    "run",
    "build",
    "report",
    "demo",
)
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


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


# Which extra of eie-pynq brings each optional third-party package.
EXTRA_OF = {
    "sklearn": "host",
    "scipy": "host",
    "jinja2": "host",
    "yaml": "host",
    "torch": "train",
    "tqdm": "train",
    "hls4ml": "csim",
    "onnx": "onnx",
    "matplotlib": "plot",
    "pynq": "board",
}


def missing_package_message(e: ModuleNotFoundError) -> str | None:
    """'needs X: pip install eie-pynq[extra]' for a package an extra provides, else None."""
    top = (e.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return f"this needs the Python package {top!r}, which is not installed: pip install 'eie-pynq[{extra}]'"


def _debug() -> bool:
    return os.environ.get("EIE_DEBUG", "") not in ("", "0")


def _one_line(text: object) -> str:
    return " ".join(str(text).splitlines())


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # stdout is no file descriptor (e.g. captured in a test)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    command = f"eie {args.command}"
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except ModuleNotFoundError as e:
        message = missing_package_message(e)
        if message is None:
            return _internal_error(command, e)
        print(f"{command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except (EIEError, OSError, ValueError, EOFError) as e:
        # Errors for users: bad settings, files that cannot be read or written, values numpy refuses.
        if _debug():
            traceback.print_exc()
        print(f"{command}: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        return _internal_error(command, e)


def _internal_error(command: str, e: BaseException) -> int:
    if _debug():
        traceback.print_exception(type(e), e, e.__traceback__)
    detail = _one_line(f"{type(e).__name__}: {e}")
    print(
        f"{command}: internal error: {detail} (a bug in eie, worth reporting with the command line; "
        "EIE_DEBUG=1 shows the traceback)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
