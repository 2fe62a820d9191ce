"""The concurrent C-simulation's build step: every stream at the depth its pragma declares.

In the concurrent C-simulation (``hls/eie_dataflow.hpp``, compiled with
``EIE_CSIM_CONCURRENT``) each DATAFLOW process is a thread and each
``hls::stream`` a bounded FIFO. A stream's depth is a pragma, which C++ does
not see, so the build reads it from the rendered sources: after every
``#pragma HLS STREAM variable=V depth=D`` it adds ``EIE_DF_STREAM(V, D);``, and
after every local ``hls::stream`` declaration ``EIE_DF_STREAM(V, 2);`` (Vitis
HLS's default depth, and the stream's name in the reports). The kernel's
sources are written once: this pass only annotates the copy that is compiled.

``stream_depths`` lists what it found, for the tests and the reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from eie.errors import ToolchainError

# Vitis HLS implements a stream with no STREAM pragma as a FIFO of depth 2.
DEFAULT_DEPTH = 2

_PRAGMA = re.compile(r"^(\s*)#pragma\s+HLS\s+STREAM\b(.*)$", re.IGNORECASE)
_OPTION = re.compile(r"(\w+)\s*=\s*([\w\[\]]+)")
# A local declaration statement: `hls::stream<T> name;` or `hls::stream<T> name[N];`.
_DECL = re.compile(r"^(\s*)(?:static\s+)?hls::stream<.*>\s+(\w+)\s*(?:\[[^\]]*\]\s*)*;\s*(?://.*)?$")
# A function whose body runs as a DATAFLOW region in the concurrent simulation.
_REGION = re.compile(r'EIE_DATAFLOW_BEGIN\("(\w+)"\)')


@dataclass(frozen=True)
class StreamDecl:
    """One stream as the concurrent simulation sizes it."""

    file: str
    line: int  # 1-based, in the rendered file
    name: str
    depth: int
    declared: bool  # a STREAM pragma gives the depth (else Vitis's default)


def _annotate(text: str, file: str) -> tuple[str, list[StreamDecl]]:
    out: list[str] = []
    found: list[StreamDecl] = []
    latest: dict[str, int] = {}  # a pragma sizes the last stream declared with its name
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        out.append(line)
        m = _DECL.match(line)
        if m:
            indent, name = m.groups()
            out.append(f"{indent}EIE_DF_STREAM({name}, {DEFAULT_DEPTH});\n")
            latest[name] = len(found)
            found.append(StreamDecl(file, n, name, DEFAULT_DEPTH, False))
            continue
        m = _PRAGMA.match(line)
        if m:
            indent, rest = m.groups()
            opts = {k.lower(): v for k, v in _OPTION.findall(rest)}
            if "variable" not in opts:
                raise ToolchainError(f"{file}:{n}: a STREAM pragma without variable=: {line.strip()}")
            name = opts["variable"]
            if "depth" not in opts:
                continue  # no depth: the stream keeps the default
            if not opts["depth"].isdigit():
                raise ToolchainError(
                    f"{file}:{n}: the concurrent C-simulation needs a literal depth in {line.strip()!r}"
                )
            depth = int(opts["depth"])
            out.append(f"{indent}EIE_DF_STREAM({name}, {depth});\n")
            if name not in latest:
                raise ToolchainError(f"{file}:{n}: STREAM pragma for {name!r}, which is not a local hls::stream")
            decl = found[latest[name]]
            found[latest[name]] = StreamDecl(file, decl.line, name, depth, True)
    return "".join(out), found


def annotate_sources(directory) -> list[StreamDecl]:
    """Add the depth and name calls to the rendered sources in ``directory`` (in place).

    Returns every stream found, with the depth the simulation gives it. A
    stream declared in a file that has no DATAFLOW region is refused: the
    concurrent simulation would not run its producer and consumer apart.
    """
    streams: list[StreamDecl] = []
    for path in sorted(Path(directory).iterdir()):
        if path.suffix not in (".cpp", ".hpp", ".h") or path.name == "eie_dataflow.hpp":
            continue
        text = path.read_text()
        new, found = _annotate(text, path.name)
        if found and not _REGION.search(text):
            names = ", ".join(s.name for s in found)
            raise ToolchainError(f"{path.name} declares streams ({names}) outside an EIE_DATAFLOW_BEGIN region")
        if new != text:
            path.write_text(new)
        streams.extend(found)
    return streams


def stream_depths(directory) -> list[StreamDecl]:
    """The streams of the rendered sources in ``directory`` and their depths, without changing them."""
    streams: list[StreamDecl] = []
    for path in sorted(Path(directory).iterdir()):
        if path.suffix in (".cpp", ".hpp", ".h") and path.name != "eie_dataflow.hpp":
            streams.extend(_annotate(path.read_text(), path.name)[1])
    return streams
