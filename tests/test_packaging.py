"""The board install needs numpy and pynq only; host tools name the extra they need."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eie import cli

tomllib = pytest.importorskip("tomllib")
ROOT = Path(__file__).resolve().parents[1]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_base_and_board_requirements_are_numpy_and_pynq():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _names(project["dependencies"]) == {"numpy"}
    assert _names(project["optional-dependencies"]["board"]) == {"pynq"}
    assert _names(project["optional-dependencies"]["host"]) == {"scipy", "scikit-learn", "jinja2", "pyyaml"}


def test_every_extra_named_by_the_cli_exists():
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert set(cli.EXTRA_OF.values()) <= extras


@pytest.mark.parametrize(("package", "extra"), [("sklearn", "host"), ("yaml", "host"), ("torch", "train")])
def test_a_missing_host_package_names_its_extra(monkeypatch, capsys, package, extra):
    def needs(args):
        raise ModuleNotFoundError(f"No module named '{package}'", name=package)

    parser = cli.build_parser()
    args = parser.parse_args(["inspect", "m.npz"])
    monkeypatch.setattr(cli, "build_parser", lambda: _Fixed(parser, args, needs))
    assert cli.main(["inspect", "m.npz"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"eie inspect: error: this needs the Python package '{package}', which is not installed: "
        f"pip install 'eie-pynq[{extra}]'"
    ]


def test_an_unknown_missing_module_is_an_internal_error(monkeypatch, capsys):
    def broken(args):
        raise ModuleNotFoundError("No module named 'eie.nothing'", name="eie.nothing")

    parser = cli.build_parser()
    args = parser.parse_args(["inspect", "m.npz"])
    monkeypatch.setattr(cli, "build_parser", lambda: _Fixed(parser, args, broken))
    assert cli.main(["inspect", "m.npz"]) == cli.EXIT_INTERNAL
    assert "internal error: ModuleNotFoundError" in capsys.readouterr().err


class _Fixed:
    """A parser that returns ``args`` with ``func`` replaced."""

    def __init__(self, parser, args, func):
        self.parser, self.args = parser, args
        self.args.func = func

    def parse_args(self, argv):
        return self.args

    def print_help(self):
        self.parser.print_help()
