"""Writing files without ever losing one the user had.

Every file the tools write goes through here: it is written to a temporary
file in the same directory and renamed over the target, so a failure midway
leaves the old file untouched. Output directories are marked when the tools
create them; a non-empty directory without the mark is the user's, and is
refused unless they pass ``--force``. numpy only (runs on the board).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from eie.errors import EIEError

MARKER = ".eie-output"


class OutputError(EIEError):
    """An output path that would overwrite something the tools did not create."""


def current_umask() -> int:
    """The process's umask (Linux: read, not changed; elsewhere set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_file_mode(target: Path) -> int:
    """The mode ``open()`` would give a new file (0644 under umask 022), or the replaced file's own.

    mkstemp creates its file 0600 whatever the umask: a bundle written so could not be
    read by another user (Jupyter on the board runs as another user than the one who copied it).
    """
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """A file object for ``path`` that replaces it only when the block succeeds.

    The file gets the mode a plain ``open()`` gives (the umask's), or keeps the one of the file it replaces.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes only ('wb' or 'w'), not {mode!r}")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        os.chmod(tmp, _new_file_mode(target))
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically (bytes, or text as UTF-8)."""
    with atomic_open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


def refuse_same_path(output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]) -> None:
    """Refuse an output path that names one of the inputs (it would replace it)."""
    out = Path(output)
    for src in inputs:
        if src is None:
            continue
        s = Path(src)
        same = s.exists() and out.exists() and os.path.samefile(s, out)
        if same or s.resolve() == out.resolve():
            raise OutputError(f"output {str(output)!r} is the input {str(src)!r}: choose another output path")


def prepare_output_dir(path: str | os.PathLike, force: bool = False) -> Path:
    """Create (or reuse) an output directory that the tools own.

    A missing or empty directory is created and marked. A marked one was made
    by these tools and may be rewritten. A non-empty directory without the
    mark holds the user's files and is refused unless ``force``.
    """
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise OutputError(f"{str(d)!r} exists and is not a directory: choose another output directory")
    if d.is_dir() and not (d / MARKER).exists() and any(d.iterdir()) and not force:
        raise OutputError(
            f"{str(d)!r} is not empty and was not created by eie: choose a new directory, "
            "or pass --force to write into it (files of the same names are replaced)"
        )
    d.mkdir(parents=True, exist_ok=True)
    marker = d / MARKER
    if not marker.exists():
        atomic_write(marker, "This directory was written by eie-pynq; its files may be regenerated.\n")
    return d


def refuse_inputs_in(
    out_dir: str | os.PathLike, names: Iterable[str], inputs: Iterable[str | os.PathLike | None]
) -> None:
    """Refuse inputs that a tool writing ``names`` into ``out_dir`` would replace.

    E.g. ``eie generate --config DIR/config.yaml -o DIR`` would rewrite the
    user's configuration (and drop its comments): refused, naming the file.
    """
    inputs = [i for i in inputs if i is not None]
    for name in names:
        target = Path(out_dir) / name
        try:
            refuse_same_path(target, inputs)
        except OutputError:
            raise OutputError(
                f"{str(target)!r} is an input and {name} is a file this command writes into {str(out_dir)!r}: "
                "choose another output directory, or move the input out of it"
            ) from None
