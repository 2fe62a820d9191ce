"""The eie-pynq wheel a bundle carries, so the board installs the toolkit from the bundle itself.

eie-pynq is not on PyPI and the PYNQ image has no compiler toolchain or host
packages: the bundle holds a pure-Python wheel of this very version that
needs numpy only (pynq comes with the image; the ``board`` extra names it),
installed with one line on the board::

    pip install BUNDLE/eie_pynq-<version>-py3-none-any.whl

It is written from the installed package's own modules (every ``eie``
module, so the ``eie`` command's sub-commands all register, and those that
need host packages say which to install), its entry points (``eie``, pynq's
``pynq.lib`` driver binding and ``pynq.notebooks``) and the notebooks that
run on the board. The archive is deterministic: the same toolkit writes the
same bytes, so a redeploy does not change the bundle's manifest.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from eie.safeio import atomic_open

NAME = "eie_pynq"
_PACKAGE = Path(__file__).resolve().parents[1]  # host/eie, or site-packages/eie
_DATE = (2020, 1, 1, 0, 0, 0)  # fixed member times: the same toolkit gives the same bytes

_ENTRY_POINTS = """[console_scripts]
eie = eie.cli:main

[pynq.lib]
eie = eie.board.driver

[pynq.notebooks]
eie-pynq = eie._data.notebooks
"""


def wheel_name(version: str | None = None) -> str:
    from eie import __version__

    return f"{NAME}-{version or __version__}-py3-none-any.whl"


def _metadata(version: str) -> str:
    return (
        "Metadata-Version: 2.1\n"
        "Name: eie-pynq\n"
        f"Version: {version}\n"
        "Summary: EIE sparse accelerator for PYNQ FPGAs: the board side (driver, bundle runner, emulator)\n"
        "License-Expression: Apache-2.0\n"
        "Requires-Python: >=3.10\n"
        "Requires-Dist: numpy>=1.21\n"
        "Provides-Extra: board\n"
        'Requires-Dist: pynq>=3.0; extra == "board"\n'
        'Requires-Dist: setuptools<81; extra == "board"\n'
    )


def _members() -> list[tuple[str, Path]]:
    """(name in the wheel, file): every eie module, and the notebooks delivered to the board."""
    from eie.board.notebooks import board_notebooks

    out = []
    for f in sorted(_PACKAGE.rglob("*.py")):
        rel = f.relative_to(_PACKAGE)
        if rel.parts[0] == "_data" or "__pycache__" in rel.parts:
            continue
        out.append(("eie/" + rel.as_posix(), f))
    for nb in board_notebooks():
        out.append((f"eie/_data/notebooks/{nb.name}", nb))
    return out


def write_wheel(out_dir: str | Path) -> Path:
    """Write the board-safe wheel into ``out_dir``; returns its path."""
    from eie import __version__

    target = Path(out_dir) / wheel_name(__version__)
    dist = f"{NAME}-{__version__}.dist-info"
    files: list[tuple[str, bytes]] = [(name, path.read_bytes()) for name, path in _members()]
    files += [
        (f"{dist}/METADATA", _metadata(__version__).encode()),
        (f"{dist}/WHEEL", b"Wheel-Version: 1.0\nGenerator: eie-pynq\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{dist}/entry_points.txt", _ENTRY_POINTS.encode()),
        (f"{dist}/top_level.txt", b"eie\n"),
    ]
    record = []
    for name, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files.append((f"{dist}/RECORD", ("\n".join(record) + "\n").encode()))
    with atomic_open(target, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            info = zipfile.ZipInfo(name, _DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return target
