"""Where the project's non-Python sources are: the HLS templates and blocks, build.tcl,
the overlay Tcl and the notebooks.

In a repository checkout they are the top-level folders ``hls/``, ``build.tcl``,
``overlays/`` and ``notebooks/``. An installed wheel carries the same tree as
package data in ``eie/_data/`` (pyproject.toml maps the folders in). The search
order is: ``$EIE_HLS_DIR`` for the templates (build.tcl and overlays/ beside it
when they are there), then the installed package data, then the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from eie.errors import ConfigError

ENV_VAR = "EIE_HLS_DIR"
# A template every complete hls/ directory has.
_MARKER = "eie_top.cpp.j2"
_PACKAGE = Path(__file__).resolve().parents[1]


def _roots() -> tuple[Path, Path]:
    """The installed package data, then the repository root (host/eie/hardware/ -> ../../..)."""
    return _PACKAGE / "_data", _PACKAGE.parents[1]


def project_root() -> Path:
    """The directory holding hls/, build.tcl, overlays/ and notebooks/: the installed
    package data if it is there, else the repository checkout."""
    for root in _roots():
        if (root / "hls" / _MARKER).is_file():
            return root
    raise ConfigError(
        f"the HLS templates are neither installed ({_roots()[0] / 'hls'}) nor in a checkout "
        f"({_roots()[1] / 'hls'}); reinstall eie-pynq or set {ENV_VAR} to the project's hls/ directory"
    )


def hls_dir() -> Path:
    """The template directory: $EIE_HLS_DIR, else hls/ of the installed data or the checkout."""
    env = os.environ.get(ENV_VAR)
    if env:
        d = Path(env)
        if not (d / _MARKER).is_file():
            raise ConfigError(f"{ENV_VAR}={env} holds no HLS templates ({_MARKER}); point it at the project's hls/")
        return d
    return project_root() / "hls"


def project_file(relative: str) -> Path:
    """A file or folder of the project (``build.tcl``, ``overlays/build_overlay.tcl``): beside
    $EIE_HLS_DIR when it is there, else in the installed data or the checkout."""
    env = os.environ.get(ENV_VAR)
    if env and (Path(env).parent / relative).exists():
        return Path(env).parent / relative
    path = project_root() / relative
    if not path.exists():
        raise ConfigError(f"{relative} not found beside the HLS templates ({path}); reinstall eie-pynq")
    return path


def build_tcl() -> Path:
    """The Vitis HLS script (``vitis_hls -f build.tcl -tclargs BUILD_DIR STEPS...``)."""
    return project_file("build.tcl")


def overlays_dir() -> Path:
    """The folder of the Vivado overlay script (build_overlay.tcl)."""
    return project_file("overlays")


def notebooks_dir() -> Path:
    """The notebooks (.ipynb, with their jupytext .py twins)."""
    return project_file("notebooks")
