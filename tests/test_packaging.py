"""The board install needs numpy and pynq only; host tools name the extra they need; a built
wheel carries the files the tools read and works without the checkout."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from eie import cli
from eie.compression.weights import DenseLayer, save_weights
from eie.errors import ConfigError, ToolchainError

tomllib = pytest.importorskip("tomllib")
ROOT = Path(__file__).resolve().parents[1]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_base_and_board_requirements_are_numpy_and_pynq():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _names(project["dependencies"]) == {"numpy"}
    # setuptools<81: pynqutils (pynq's) imports pkg_resources, gone from setuptools 81.
    assert _names(project["optional-dependencies"]["board"]) == {"pynq", "setuptools"}
    assert "setuptools<81" in project["optional-dependencies"]["board"]
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


# --- The wheel: everything the tools read, installed without the checkout ---------------------

# What pyproject.toml maps into eie/_data/ (eie.kernel.sources finds it there once installed).
DATA_GLOBS = (
    "hls/*.hpp",
    "hls/*.j2",
    "build.tcl",
    "overlays/*.tcl",
    "notebooks/03_pynq_board.ipynb",  # the board's notebook only (eie.board.notebooks)
    "notebooks/03_pynq_board.py",
)
# The files a build from a fresh checkout sees (no caches, no egg-info, no build/ outputs).
SOURCE_ITEMS = ("pyproject.toml", "README.md", "host", "hls", "build.tcl", "overlays", "notebooks")


def _run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_eie_hls_dir_overrides_the_templates_and_the_project_files_beside_them(tmp_path, monkeypatch):
    from eie.kernel import render, sources

    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    assert render.hls_dir() == sources.hls_dir() == sources.project_root() / "hls"
    installed = sources.build_tcl()
    shutil.copytree(sources.hls_dir(), tmp_path / "hls")
    monkeypatch.setenv(sources.ENV_VAR, str(tmp_path / "hls"))
    assert render.hls_dir() == tmp_path / "hls"
    # A copy of hls/ alone: build.tcl and overlays/ still come from the installed project.
    assert sources.build_tcl() == installed
    (tmp_path / "build.tcl").write_text("# mine\n")
    assert sources.build_tcl() == tmp_path / "build.tcl"
    monkeypatch.setenv(sources.ENV_VAR, str(tmp_path))
    with pytest.raises(ConfigError, match="EIE_HLS_DIR"):
        sources.hls_dir()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build an sdist from a copy of the checkout, then the wheel from that sdist (as pip would)."""
    for needed in ("setuptools", "pip"):
        if importlib.util.find_spec(needed) is None:
            pytest.skip(f"{needed} is not installed in this interpreter")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for item in SOURCE_ITEMS:
        if (ROOT / item).is_dir():
            shutil.copytree(ROOT / item, src / item, ignore=ignore)
        else:
            shutil.copy2(ROOT / item, src / item)
    dist = base / "dist"
    build_sdist = f"from setuptools import build_meta; print(build_meta.build_sdist({str(dist)!r}))"
    sdist = dist / _run([sys.executable, "-c", build_sdist], cwd=src).strip().splitlines()[-1]
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, sdist], cwd=base)
    (whl,) = dist.glob("eie_pynq-*.whl")
    return whl


def test_the_wheel_holds_every_module_and_the_project_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT / "host").as_posix() for p in (ROOT / "host" / "eie").rglob("*.py")}
    modules = {m for m in modules if "__pycache__" not in m}
    # The package list in pyproject.toml is explicit: a new subpackage must be added there.
    assert not modules - names, sorted(modules - names)
    data = {f"eie/_data/{p.relative_to(ROOT).as_posix()}" for g in DATA_GLOBS for p in ROOT.glob(g)}
    assert {"eie/_data/build.tcl", "eie/_data/hls/eie_top.cpp.j2", "eie/_data/overlays/build_overlay.tcl"} <= data
    assert not data - names, sorted(data - names)
    # Nothing else of the checkout (the repository root is the eie._data package directory).
    assert {n for n in names if n.startswith("eie/_data/")} == data


@pytest.mark.slow
def test_the_installed_wheel_generates_and_verifies_without_the_checkout(wheel, tmp_path):
    """pip install (not -e) into a fresh target, then `eie generate` and a C-sim `eie verify` from it."""
    from eie.hardware.config import AcceleratorConfig
    from eie.kernel import csim

    try:
        csim.compiler()
        csim.ap_types_dir()
    except ToolchainError as e:  # pragma: no cover - depends on the machine
        pytest.skip(str(e))
    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q", "--target", site, wheel])
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("EIE_HLS_DIR", "PYTHONPATH", "PYTHONSAFEPATH")}
    # The installed copy first; a fresh kernel cache, so the C-simulation compiles the installed sources.
    env.update(PYTHONPATH=str(site), EIE_CACHE_DIR=str(tmp_path / "cache"), EIE_AP_TYPES=str(csim.ap_types_dir()))

    def eie(*argv):
        return _run([sys.executable, *argv], cwd=work, env=env)

    where = json.loads(
        eie(
            "-c",
            "import json, eie; from eie.kernel import sources as s; print(json.dumps("
            "[eie.__file__, str(s.hls_dir()), str(s.build_tcl()), str(s.overlays_dir()), str(s.notebooks_dir())]))",
        )
    )
    data = site.resolve() / "eie" / "_data"
    assert Path(where[0]).resolve() == site.resolve() / "eie" / "__init__.py"
    found = [Path(p).resolve() for p in where[1:]]
    assert found == [data / "hls", data / "build.tcl", data / "overlays", data / "notebooks"]
    # `pynq get-notebooks` loads the pynq.notebooks entry point's module and copies its folder.
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pynq.notebooks"]
    nb_path = json.loads(
        eie(
            "-c",
            "import importlib, json; "
            f"print(json.dumps(list(importlib.import_module({target['eie-pynq']!r}).__path__)))",
        )
    )
    assert [Path(p).resolve() for p in nb_path] == [data / "notebooks"]
    assert (data / "notebooks" / "03_pynq_board.ipynb").is_file()

    rng = np.random.default_rng(0)
    layers = [
        DenseLayer("fc1", rng.standard_normal((24, 16)), rng.standard_normal(24)),
        DenseLayer("fc2", rng.standard_normal((8, 24)), rng.standard_normal(8)),
    ]
    save_weights(work / "weights.npz", layers)
    AcceleratorConfig(board="ultra96v2", n_pes=2).to_yaml(work / "small.yaml")
    eie("-m", "eie", "compress", "weights.npz", "-o", "model.npz", "--density", "0.3")

    gen = json.loads(eie("-m", "eie", "generate", "model.npz", "--config", "small.yaml", "-o", "out", "--json"))
    rendered = {p.name for p in (work / "out").iterdir()}
    assert {"eie_top.cpp", "eie_top.h", "eie_params.h", "eie_pe.hpp", "eie_tb.cpp", "image.bin"} <= rendered
    assert set(gen["files"]) <= rendered
    # next: the eie build command; the raw Vitis HLS line names the installed build.tcl.
    assert gen["next"] == "eie build out --steps csim csynth" and str(data / "build.tcl") in gen["vitis_hls"]

    ver = json.loads(eie("-m", "eie", "verify", "model.npz", "--config", "small.yaml", "--backend", "csim", "--json"))
    assert ver["backend"] == "csim" and ver["bit_exact"] and ver["mismatches"] == 0 and ver["outputs"] > 0
    # The compiled kernel came from the installed templates, not from the checkout's.
    assert any((tmp_path / "cache").rglob("libeie_csim.so"))
