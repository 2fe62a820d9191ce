"""What the Xilinx tools wrote for a build, read back: csynth XML, Vivado utilization and timing.

``eie report`` (eie.cli.report) shows these figures beside the toolkit's own
model (eie.hardware.resources for the resources, the timing model's II=1 for
every pipelined loop). This module only reads files; it runs no tool.

Vitis HLS / Vivado HLS ``csynth_design`` writes
``BUILD_DIR/eie_prj/solution1/syn/report/csynth.xml`` (the top function) and
one ``<module>_csynth.xml`` per synthesised module. The root element is
``<profile>`` with ``ReportVersion``, ``UserAssignments`` (part, top, target
clock and uncertainty), ``PerformanceEstimates`` (``SummaryOfTimingAnalysis``,
``SummaryOfOverallLatency``, ``SummaryOfLoopLatency``: one element per loop,
named after the loop, nested loops as children) and ``AreaEstimates``
(``Resources`` and ``AvailableResources``). The schema moved between versions,
and the parser takes each form:

* Vivado HLS 2018.x: DSPs as ``DSP48E``, no ``URAM``, no ``ModuleInformation``
  (a submodule's loops are only in its own ``<module>_csynth.xml``), a dataflow
  top's interval as a ``<range><min>..</min><max>..</max></range>``.
* Vitis HLS 2020.x: ``DSP`` and ``URAM``; ``ModuleInformation`` holds every
  module again, its loops with a ``<Name>`` child.
* Vitis HLS 2022.x: loop elements gain ``Slack`` and ``InstanceList``; a
  pipelined loop is its own module ``<function>_Pipeline_<LOOP>``; unknown
  figures are ``undef``.

Real reports these readers were written against (not copied into this
repository; tests/hardware/fixtures/README.md lists the same files):

* tony2278/Xilinx-Vivado-HLS ``solution1/syn/report/csynth.xml`` (Vivado HLS
  2018.3: DSP48E, dataflow interval range)
* skkwan/phase2_bjets_hls ``solution1/syn/report/csynth.xml`` (2018.2)
* kmisimn76/SparseAccel ``solution1/syn/report/csynth.xml`` (2020.1: nested
  loops, latency ranges)
* hashi0203/Vitis_HLS_Gaussian ``solution1/syn/report/csynth.xml`` (2020.2:
  DSP, URAM, pipelined loops)
* zakk-h/PartitionAcceleratorHLS ``solution1/syn/report/csynth.xml`` (2020.2:
  ``ModuleInformation``, a loop at PipelineII 8)
* BojanFaletic/MA_HLS ``solution1/syn/report/csynth.xml`` (2020.2)
* HanderRi/AMD-Pervasive-AI ``solution1/syn/report/csynth.xml``,
  ``..._Pipeline_ln181_for_each_i_csynth.xml`` and
  ``read_in_stream_direct_csynth.xml`` (Vitis HLS 2022.2)

Vivado's ``report_utilization`` text: tables of ``| Site Type | Used | Fixed |
[Prohibited |] Available | Util% |`` (the Prohibited column is in the 2024.1
report below, not in the 2018.2 and 2020.2 ones), 7-series rows ``Slice LUTs``,
``Slice Registers``, UltraScale+ rows ``CLB LUTs``, ``CLB Registers``, and
``Block RAM Tile`` (BRAM36 tiles, halves allowed), ``URAM``, ``DSPs``.
``report_timing_summary``: the ``Design Timing Summary`` table (WNS, TNS,
WHS, THS and their endpoint counts) and "All user specified timing
constraints are met." / "Timing constraints are not met.". Modelled on:

* qxynju2017/Zedboard-OV7725-HDMI and MKChou/pynq_test
  ``project_1/project_1.runs/impl_1/design_1_wrapper_utilization_placed.rpt``
  (Vivado 2018.2 and 2020.2, Zynq-7000, no Prohibited column)
* samuelkravitz/RFSOC
  ``project_1/project_1.runs/impl_1/design_1_wrapper_utilization_placed.rpt``
  and ``..._timing_summary_routed.rpt`` (Vivado 2024.1, Zynq UltraScale+,
  Prohibited column, URAM)

Every figure that a report lacks is None, never a guess; a file that is not
the report asked for is refused with a ReportError naming it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eie.errors import EIEError

# The timing model (eie.performance.timing, docs/kernel.md "What to look for in
# the first csynth report") counts every pipelined loop at one iteration per
# cycle; these three are the loops whose cycles it adds up.
MODEL_II = 1
MODEL_LOOPS = ("SCAN", "ENTRY_LOOP", "EPILOGUE")


class ReportError(EIEError):
    """A tool report is missing, unreadable or not the kind of report expected."""


# ---------------------------------------------------------------------------
# Small value readers


def _num(text: str | None) -> float | None:
    if text is None:
        return None
    t = text.strip().replace(",", "")
    if t in ("", "undef", "-", "NA", "N/A", "~0"):
        return None
    try:
        return float(t)
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    v = _num(text)
    return int(v) if v is not None and v == int(v) else None


def _range(el: ET.Element | None) -> tuple[int | None, int | None]:
    """(min, max) of an element that is a number, ``undef``, ``a ~ b`` or ``<range><min/><max/></range>``."""
    if el is None:
        return None, None
    rng = el.find("range")
    if rng is not None:
        return _int(rng.findtext("min")), _int(rng.findtext("max"))
    text = (el.text or "").strip()
    if "~" in text:
        lo, _, hi = text.partition("~")
        return _int(lo), _int(hi)
    v = _int(text)
    return v, v


# ---------------------------------------------------------------------------
# Vitis HLS csynth XML

# Resources in AreaEstimates, under one name each (2018.x wrote DSP48E).
CSYNTH_RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")
_RESOURCE_ALIASES = {"DSP48E": "DSP"}
_LOOP_FIELDS = {
    "Name",
    "TripCount",
    "Latency",
    "AbsoluteTimeLatency",
    "IterationLatency",
    "PipelineII",
    "PipelineDepth",
    "PipelineType",
    "Slack",
    "InstanceList",
    "unit",
}


@dataclass
class CsynthLoop:
    """One loop of one module as csynth scheduled it; ``ii`` None when not pipelined or undef."""

    module: str
    name: str
    path: str  # outer/inner for nested loops
    pipelined: bool
    ii: int | None
    depth: int | None
    trip_min: int | None
    trip_max: int | None
    latency_min: int | None
    latency_max: int | None
    iteration_latency_min: int | None = None
    iteration_latency_max: int | None = None
    slack_ns: float | None = None
    source: str = ""  # the file it was read from


@dataclass
class CsynthReport:
    """The top function's csynth figures, and the loops of every module found."""

    path: str
    version: str | None
    top: str | None
    part: str | None
    family: str | None
    target_period_ns: float | None
    uncertainty_ns: float | None
    estimated_period_ns: float | None
    latency_min: int | None
    latency_max: int | None
    interval_min: int | None
    interval_max: int | None
    pipeline_type: str | None
    resources: dict = field(default_factory=dict)  # CSYNTH_RESOURCES -> int | None
    available: dict = field(default_factory=dict)
    loops: list[CsynthLoop] = field(default_factory=list)
    module_files: list[str] = field(default_factory=list)

    @property
    def estimated_mhz(self) -> float | None:
        return 1000.0 / self.estimated_period_ns if self.estimated_period_ns else None

    @property
    def timing_budget_ns(self) -> float | None:
        """What HLS must fit in: the target period less the uncertainty."""
        if self.target_period_ns is None:
            return None
        return self.target_period_ns - (self.uncertainty_ns or 0.0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["estimated_mhz"] = self.estimated_mhz
        d["timing_budget_ns"] = self.timing_budget_ns
        return d


def _read_profile(path: Path) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ReportError(f"{path}: not a Vitis HLS csynth report (not well-formed XML: {e})") from None
    except OSError as e:
        raise ReportError(f"{path}: cannot be read ({e.strerror or e})") from None
    if root.tag != "profile" or not any(
        root.find(t) is not None for t in ("UserAssignments", "PerformanceEstimates", "AreaEstimates")
    ):
        raise ReportError(
            f"{path}: not a Vitis HLS csynth report (root element <{root.tag}>; a csynth report is a <profile> "
            "with UserAssignments, PerformanceEstimates and AreaEstimates)"
        )
    return root


def _resources(el: ET.Element | None) -> dict:
    out: dict = dict.fromkeys(CSYNTH_RESOURCES)
    if el is None:
        return out
    for child in el:
        key = _RESOURCE_ALIASES.get(child.tag, child.tag)
        if key in out:
            out[key] = _int(child.text)
    return out


def _is_loop(el: ET.Element) -> bool:
    if el.tag in _LOOP_FIELDS:
        return False
    return any(el.find(t) is not None for t in ("TripCount", "Latency", "PipelineII", "IterationLatency"))


def _loops(container: ET.Element | None, module: str, source: str, prefix: str = "") -> list[CsynthLoop]:
    out: list[CsynthLoop] = []
    if container is None:
        return out
    for el in container:
        if not _is_loop(el):
            continue
        name = (el.findtext("Name") or el.tag).strip()
        path = f"{prefix}/{name}" if prefix else name
        ii_el = el.find("PipelineII")
        trip = _range(el.find("TripCount"))
        lat = _range(el.find("Latency"))
        it = _range(el.find("IterationLatency"))
        out.append(
            CsynthLoop(
                module=module,
                name=name,
                path=path,
                pipelined=ii_el is not None,
                ii=_int(ii_el.text) if ii_el is not None else None,
                depth=_int(el.findtext("PipelineDepth")),
                trip_min=trip[0],
                trip_max=trip[1],
                latency_min=lat[0],
                latency_max=lat[1],
                iteration_latency_min=it[0],
                iteration_latency_max=it[1],
                slack_ns=_num(el.findtext("Slack")),
                source=source,
            )
        )
        out.extend(_loops(el, module, source, path))
    return out


def _module_loops(root: ET.Element, source: str) -> list[CsynthLoop]:
    """The loops of a report's own top and of every module under ModuleInformation (2020.1 and later)."""
    top = (root.findtext("UserAssignments/TopModelName") or "").strip() or "?"
    loops = _loops(root.find("PerformanceEstimates/SummaryOfLoopLatency"), top, source)
    for mod in root.findall("ModuleInformation/Module"):
        name = (mod.findtext("Name") or "").strip() or "?"
        loops += _loops(mod.find("PerformanceEstimates/SummaryOfLoopLatency"), name, source)
    return loops


def parse_csynth(path, module_files=()) -> CsynthReport:
    """The csynth report at ``path`` (the top's), with the loops of ``module_files`` added.

    A loop that appears in more than one file (ModuleInformation repeats the
    per-module files) is kept once.
    """
    path = Path(path)
    root = _read_profile(path)
    ua = root.find("UserAssignments")
    pe = root.find("PerformanceEstimates")
    lat = pe.find("SummaryOfOverallLatency") if pe is not None else None
    if lat is not None and lat.find("Interval-min") is not None:
        imin, imax = _int(lat.findtext("Interval-min")), _int(lat.findtext("Interval-max"))
    else:
        imin, imax = _range(lat.find("DataflowPipelineThroughput") if lat is not None else None)
    area = root.find("AreaEstimates")
    report = CsynthReport(
        path=str(path),
        version=(root.findtext("ReportVersion/Version") or "").strip() or None,
        top=(ua.findtext("TopModelName") or "").strip() or None if ua is not None else None,
        part=(ua.findtext("Part") or "").strip() or None if ua is not None else None,
        family=(ua.findtext("ProductFamily") or "").strip() or None if ua is not None else None,
        target_period_ns=_num(ua.findtext("TargetClockPeriod")) if ua is not None else None,
        uncertainty_ns=_num(ua.findtext("ClockUncertainty")) if ua is not None else None,
        estimated_period_ns=_num(pe.findtext("SummaryOfTimingAnalysis/EstimatedClockPeriod"))
        if pe is not None
        else None,
        latency_min=_int(lat.findtext("Best-caseLatency")) if lat is not None else None,
        latency_max=_int(lat.findtext("Worst-caseLatency")) if lat is not None else None,
        interval_min=imin,
        interval_max=imax,
        pipeline_type=(pe.findtext("PipelineType") or "").strip() or None if pe is not None else None,
        resources=_resources(area.find("Resources") if area is not None else None),
        available=_resources(area.find("AvailableResources") if area is not None else None),
    )
    loops = _module_loops(root, str(path))
    for extra in module_files:
        extra = Path(extra)
        if extra.resolve() == path.resolve():
            continue
        loops += _module_loops(_read_profile(extra), str(extra))
        report.module_files.append(str(extra))
    seen = set()
    for loop in loops:
        key = (loop.module, loop.path)
        if key not in seen:
            seen.add(key)
            report.loops.append(loop)
    return report


# ---------------------------------------------------------------------------
# Vivado report_utilization


# Our resource name -> the site types that carry it (7-series, UltraScale+).
UTILIZATION_ROWS = {
    "LUT": ("Slice LUTs", "CLB LUTs"),
    "FF": ("Slice Registers", "CLB Registers"),
    "BRAM36": ("Block RAM Tile",),
    "RAMB36": ("RAMB36/FIFO*", "RAMB36/FIFO"),
    "RAMB18": ("RAMB18",),
    "URAM": ("URAM",),
    "DSP": ("DSPs",),
}
_HEADER_FIELD = re.compile(r"^\|\s*(.*?)\s*:\s*(.*?)\s*$")


@dataclass
class UtilizationReport:
    path: str
    tool_version: str | None
    design: str | None
    device: str | None
    state: str | None
    prohibited_column: bool
    used: dict = field(default_factory=dict)  # UTILIZATION_ROWS -> float | None
    available: dict = field(default_factory=dict)
    command: str | None = None

    @property
    def scope(self) -> str:
        """What the figures cover: the cells given to ``report_utilization -cells``, else the whole design."""
        m = re.search(r"-cells\s+(\[[^\]]*\]|\S+)", self.command or "")
        return f"cells {m.group(1)}" if m else f"the whole design{f' {self.design}' if self.design else ''}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scope"] = self.scope
        return d


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _header(text: str) -> dict:
    out = {}
    for line in text.splitlines()[:20]:
        m = _HEADER_FIELD.match(line)
        if m:
            out[m.group(1).strip()] = m.group(2).strip()
    return out


def _read_text(path: Path, what: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read(64 << 20)
    except OSError as e:
        raise ReportError(f"{path}: cannot be read as a {what} ({e.strerror or e})") from None


def parse_utilization(path) -> UtilizationReport:
    """A ``report_utilization`` text report (with or without the Prohibited column)."""
    path = Path(path)
    text = _read_text(path, "Vivado utilization report")
    head = _header(text)
    columns: list[str] | None = None
    prohibited = False
    used: dict = dict.fromkeys(UTILIZATION_ROWS)
    avail: dict = dict.fromkeys(UTILIZATION_ROWS)
    site_of = {site: key for key, sites in UTILIZATION_ROWS.items() for site in sites}
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = _cells(line)
        if cells and cells[0] == "Site Type":
            columns = cells
            prohibited = prohibited or "Prohibited" in cells
            continue
        if columns is None or len(cells) != len(columns) or "Used" not in columns:
            continue
        key = site_of.get(cells[0])
        if key is None or used[key] is not None:
            continue  # first table wins (LUT as Logic etc. come again in the distribution table)
        used[key] = _num(cells[columns.index("Used")])
        if "Available" in columns:
            avail[key] = _num(cells[columns.index("Available")])
    if used["LUT"] is None and used["DSP"] is None and used["BRAM36"] is None:
        raise ReportError(
            f"{path}: not a Vivado utilization report (no '| Site Type | Used | ... | Available |' table "
            "with LUT, Block RAM Tile or DSPs rows)"
        )
    return UtilizationReport(
        path=str(path),
        tool_version=head.get("Tool Version"),
        design=head.get("Design"),
        device=head.get("Device"),
        state=head.get("Design State"),
        prohibited_column=prohibited,
        used=used,
        available=avail,
        command=head.get("Command"),
    )


# ---------------------------------------------------------------------------
# Vivado report_timing_summary


@dataclass
class TimingReport:
    path: str
    tool_version: str | None
    design: str | None
    state: str | None
    wns_ns: float | None
    tns_ns: float | None
    tns_failing_endpoints: int | None
    whs_ns: float | None
    ths_ns: float | None
    ths_failing_endpoints: int | None
    met: bool | None  # the report's own verdict; None when it states none

    def to_dict(self) -> dict:
        return asdict(self)


def parse_timing_summary(path) -> TimingReport:
    """The ``Design Timing Summary`` of a ``report_timing_summary`` text report."""
    path = Path(path)
    text = _read_text(path, "Vivado timing summary")
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "Design Timing Summary" in line), None)
    values: dict = {}
    if start is not None:
        for i in range(start, min(start + 15, len(lines))):
            if lines[i].strip().startswith("WNS(ns)"):
                names = re.split(r"\s{2,}", lines[i].strip())
                row = next((r for r in lines[i + 1 : i + 4] if r.strip() and not set(r.strip()) <= set("- ")), "")
                vals = row.split()
                if len(vals) == len(names):
                    values = dict(zip(names, vals))
                break
    if not values:
        raise ReportError(
            f"{path}: not a Vivado timing summary (no 'Design Timing Summary' table with WNS(ns) and its values)"
        )
    head = _header(text)
    met = None
    if "All user specified timing constraints are met." in text:
        met = True
    elif "Timing constraints are not met." in text:
        met = False
    return TimingReport(
        path=str(path),
        tool_version=head.get("Tool Version"),
        design=head.get("Design"),
        state=head.get("Design State"),
        wns_ns=_num(values.get("WNS(ns)")),
        tns_ns=_num(values.get("TNS(ns)")),
        tns_failing_endpoints=_int(values.get("TNS Failing Endpoints")),
        whs_ns=_num(values.get("WHS(ns)")),
        ths_ns=_num(values.get("THS(ns)")),
        ths_failing_endpoints=_int(values.get("THS Failing Endpoints")),
        met=met,
    )


# ---------------------------------------------------------------------------
# The kernel's own II targets, from the rendered sources

_LABEL = re.compile(r"^\s*([A-Za-z_]\w*)\s*:\s*(.*)$")
_NOT_LABELS = {"public", "private", "protected", "default"}
_PIPELINE = re.compile(r"^\s*#pragma\s+HLS\s+PIPELINE\b(.*)$", re.IGNORECASE)


def pipeline_targets(sources) -> dict[str, int | None]:
    """Labelled loops of the kernel sources and their PIPELINE II (None: the loop is not pipelined).

    A label on its own line (or before ``for``/``while``), the loop header, then
    the ``#pragma`` lines that open the body: a ``PIPELINE`` among them (``II=n``,
    1 when not given; ``off`` means not pipelined) sets the target.
    """
    targets: dict[str, int | None] = {}
    for src in sources:
        try:
            lines = Path(src).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for i, line in enumerate(lines):
            m = _LABEL.match(line)
            if not m or m.group(1) in _NOT_LABELS or "::" in line:
                continue
            rest = m.group(2).strip()
            j = i + 1
            if not rest:
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j >= len(lines):
                    continue
                rest = lines[j].strip()
                j += 1
            if not re.match(r"^(for|while)\b", rest):
                continue
            ii = None
            while j < len(lines) and lines[j].strip().startswith("#pragma"):
                p = _PIPELINE.match(lines[j])
                if p:
                    opts = p.group(1)
                    if re.search(r"\boff\b", opts, re.IGNORECASE):
                        ii = None
                    else:
                        n = re.search(r"II\s*=\s*(\d+)", opts, re.IGNORECASE)
                        ii = int(n.group(1)) if n else 1
                j += 1
            name = m.group(1)
            if name not in targets or targets[name] is None:
                targets[name] = ii
    return targets


# ---------------------------------------------------------------------------
# Where a build's reports are


@dataclass
class ReportFiles:
    """The report files found for a build (None: not there) and every place that was looked at."""

    csynth: Path | None
    modules: list[Path]
    utilization: Path | None
    timing: Path | None
    looked_for: list[str]


def _params(build: Path) -> dict:
    out = {}
    try:
        text = (build / "params.tcl").read_text(errors="replace")
    except OSError:
        return out
    for m in re.finditer(r"^set\s+(EIE_\w+)\s+(\S+)\s*$", text, re.MULTILINE):
        out[m.group(1)] = m.group(2)
    return out


def csynth_dir(build_dir) -> Path:
    """``BUILD_DIR/<project>/<solution>/syn/report`` (names from params.tcl, as build.tcl uses them)."""
    build = Path(build_dir)
    p = _params(build)
    return build / p.get("EIE_PROJECT", "eie_prj") / p.get("EIE_SOLUTION", "solution1") / "syn" / "report"


def find_reports(build_dir, top: str, board: str | None = None, overlay=None) -> ReportFiles:
    """Locate the csynth XML (and the per-module ones) and, with ``overlay``, Vivado's reports.

    ``overlay`` is the OUT_DIR of overlays/build_overlay.tcl: its Vivado
    project ``OUT_DIR/vivado_<board>/eie_overlay.runs`` keeps the reports the
    implementation run writes by default (``<top>_utilization_placed.rpt``,
    ``<top>_timing_summary_routed.rpt``); ``OUT_DIR/utilization_eie.rpt`` (the
    kernel's cells only), ``OUT_DIR/utilization.rpt`` and
    ``OUT_DIR/timing_summary.rpt``, when there, are taken first.
    """
    rep = csynth_dir(build_dir)
    looked: list[str] = []
    csynth = None
    for cand in (rep / "csynth.xml", rep / f"{top}_csynth.xml"):
        looked.append(str(cand))
        if cand.is_file():
            csynth = cand
            break
    modules = sorted(rep.glob("*_csynth.xml")) if rep.is_dir() else []
    util = timing = None
    if overlay is not None:
        out = Path(overlay)
        projects = [out / f"vivado_{board}"] if board else []
        projects += [p for p in sorted(out.glob("vivado_*")) if p not in projects]
        runs = [p / "eie_overlay.runs" for p in projects] or [out / f"vivado_{board or '<board>'}" / "eie_overlay.runs"]
        util_cands = [out / "utilization_eie.rpt", out / "utilization.rpt"]
        timing_cands = [out / "timing_summary.rpt"]
        for r in runs:
            util_cands += [r / "impl_1" / "*_utilization_placed.rpt", r / "synth_1" / "*_utilization_synth.rpt"]
            timing_cands += [r / "impl_1" / "*_timing_summary_routed.rpt"]
        util = _first(util_cands, looked)
        timing = _first(timing_cands, looked)
    return ReportFiles(csynth, modules, util, timing, looked)


def _first(cands, looked: list[str]) -> Path | None:
    for c in cands:
        looked.append(str(c))
        hits = sorted(c.parent.glob(c.name)) if "*" in c.name else ([c] if c.is_file() else [])
        hits = [h for h in hits if h.is_file()]
        if hits:
            return hits[0]
    return None


# ---------------------------------------------------------------------------
# The comparison ``eie report`` prints


def _half(v):
    return None if v is None else v / 2


def loop_table(csynth: CsynthReport | None, targets: dict[str, int | None]) -> tuple[list[dict], list[str], list[str]]:
    """One row per loop name (instances in several modules merged), the flags and the notes."""
    flags: list[str] = []
    notes: list[str] = []
    rows: list[dict] = []
    by_name: dict[str, list[CsynthLoop]] = {}
    for loop in csynth.loops if csynth else []:
        by_name.setdefault(loop.name, []).append(loop)
    for name, inst in by_name.items():
        pipelined = [x for x in inst if x.pipelined]
        in_kernel = name in targets
        target = targets.get(name) if in_kernel else (MODEL_II if pipelined else None)
        iis = [x.ii for x in pipelined]
        achieved = None if not iis or any(v is None for v in iis) else max(iis)
        row = {
            "loop": name,
            "modules": sorted({x.module for x in inst}),
            "target_ii": target,
            "target_source": "kernel pragma"
            if in_kernel
            else ("timing model (unlabelled loop)" if pipelined else None),
            "model_ii": MODEL_II if (pipelined or target is not None) else None,
            "counted_by_model": name in MODEL_LOOPS,
            "csynth_ii": achieved,
            "pipelined": bool(pipelined),
            "depth": max((x.depth for x in inst if x.depth is not None), default=None),
            "trip_min": min((x.trip_min for x in inst if x.trip_min is not None), default=None),
            "trip_max": max((x.trip_max for x in inst if x.trip_max is not None), default=None),
            "latency_max": max((x.latency_max for x in inst if x.latency_max is not None), default=None),
            "files": sorted({x.source for x in inst}),
        }
        if target is not None and not pipelined:
            row["status"] = "not pipelined by csynth"
            flags.append(f"loop {name}: the kernel pipelines it at II={target}, csynth did not pipeline it")
        elif pipelined and achieved is None:
            row["status"] = "II unknown (undef)"
            flags.append(f"loop {name}: csynth reports no II (undef); target II={target}")
        elif pipelined and target is not None and achieved != target:
            row["status"] = f"II {achieved} != target {target}"
            flags.append(
                f"loop {name} ({', '.join(row['modules'])}): csynth II={achieved}, target II={target}"
                + (
                    f"; the timing model assumes II={MODEL_II}, so its cycle counts are optimistic"
                    if achieved > MODEL_II
                    else ""
                )
            )
        elif pipelined:
            row["status"] = "ok"
        else:
            row["status"] = "not pipelined (as written)"
        rows.append(row)
    if csynth is not None:
        for name, ii in targets.items():
            if ii is not None and name not in by_name:
                rows.append(
                    {
                        "loop": name,
                        "modules": [],
                        "target_ii": ii,
                        "target_source": "kernel pragma",
                        "model_ii": MODEL_II,
                        "counted_by_model": name in MODEL_LOOPS,
                        "csynth_ii": None,
                        "pipelined": None,
                        "depth": None,
                        "trip_min": None,
                        "trip_max": None,
                        "latency_max": None,
                        "files": [],
                        "status": "not in the csynth reports",
                    }
                )
                notes.append(f"loop {name} (pipelined at II={ii} in the sources) is in none of the csynth reports")
    return rows, flags, notes


def _norm_part(p: str | None) -> str:
    p = (p or "").lower()
    return p[2:] if p.startswith("xc") else p


def build_report(build_dir, overlay=None, utilization=None, timing=None) -> dict:
    """Everything ``eie report`` shows for a build directory, as one dict (the --json object).

    ``utilization`` / ``timing`` name Vivado report files directly; ``overlay``
    is the overlay OUT_DIR to search (find_reports). Raises ReportError when
    no report at all is found, naming every file looked for.
    """
    from eie.errors import ConfigError
    from eie.hardware.config import AcceleratorConfig
    from eie.hardware.resources import estimate

    build = Path(build_dir)
    cfg_path = build / "config.yaml"
    if not cfg_path.is_file():
        raise ConfigError(f"{cfg_path} not found: is {build_dir} a directory `eie generate` wrote?")
    config = AcceleratorConfig.from_yaml(cfg_path)
    files = find_reports(build, config.top, config.board, overlay)
    util_path = Path(utilization) if utilization else files.utilization
    timing_path = Path(timing) if timing else files.timing
    if utilization:
        files.looked_for.append(str(utilization))
    if timing:
        files.looked_for.append(str(timing))
    if files.csynth is None and util_path is None and timing_path is None:
        raise ReportError(
            f"no synthesis reports for {build_dir}: synthesis has not run (looked for "
            + ", ".join(files.looked_for)
            + f"); run `eie build {build_dir} --steps csynth`"
            + (f" and `eie build {build_dir} --overlay {overlay}`" if overlay else "")
        )
    csynth = parse_csynth(files.csynth, files.modules) if files.csynth else None
    util = parse_utilization(util_path) if util_path else None
    tim = parse_timing_summary(timing_path) if timing_path else None
    est = estimate(config)
    srcs = sorted(build.glob("*.hpp")) + sorted(build.glob("*.cpp")) + sorted(build.glob("*.h"))
    targets = pipeline_targets([s for s in srcs if s.name != "eie_tb.cpp"])

    flags: list[str] = []
    notes: list[str] = []
    if files.csynth is None:
        notes.append("no csynth report (looked for " + ", ".join(files.looked_for[:2]) + ")")
    if overlay is None and util is None and tim is None:
        notes.append("no Vivado reports: give --overlay OUT_DIR (or --utilization/--timing) after the overlay build")
    elif util is None or tim is None:
        missing = [w for w, v in (("utilization", util), ("timing summary", tim)) if v is None]
        notes.append("no Vivado " + " or ".join(missing) + " report found")

    cs_res = csynth.resources if csynth else {}
    cs_av = csynth.available if csynth else {}
    vu = util.used if util else {}
    va = util.available if util else {}

    def row(name, est_v, cs_v, cs_raw, viv_v, board_v, cs_avail, viv_avail, unit_note=""):
        return {
            "resource": name,
            "estimate": est_v,
            "csynth": cs_v,
            "csynth_raw": cs_raw,
            "vivado": viv_v,
            "available": {"board": board_v, "csynth": cs_avail, "vivado": viv_avail},
            "note": unit_note,
        }

    resources = [
        row(
            "BRAM36",
            est.bram36,
            _half(cs_res.get("BRAM_18K")),
            {"BRAM_18K": cs_res.get("BRAM_18K")},
            vu.get("BRAM36"),
            est.board_bram36,
            _half(cs_av.get("BRAM_18K")),
            va.get("BRAM36"),
            "csynth counts BRAM_18K; shown here / 2. Vivado: Block RAM Tile",
        ),
    ] + [
        # The rows counted alike by all three sources: (resource, estimate, board's total).
        row(
            name,
            est_v,
            cs_res.get(name),
            {name: cs_res.get(name)},
            vu.get(name),
            board_v,
            cs_av.get(name),
            va.get(name),
        )
        for name, est_v, board_v in (
            ("URAM", est.uram, est.board_uram),
            ("DSP", est.dsp, est.board_dsp),
            ("LUT", getattr(est, "lut", None), None),
            ("FF", getattr(est, "ff", None), None),
        )
    ]
    for r in resources:
        cap = r["available"]["board"] if r["available"]["board"] is not None else r["available"]["csynth"]
        for src in ("csynth", "vivado"):
            if r[src] is not None and cap is not None and r[src] > cap:
                flags.append(f"{r['resource']}: {src} uses {r[src]:g}, more than the {cap:g} available")

    if csynth is not None:
        budget = csynth.timing_budget_ns
        if csynth.estimated_period_ns is not None and budget is not None and csynth.estimated_period_ns > budget + 1e-9:
            flags.append(
                f"csynth: estimated clock period {csynth.estimated_period_ns:g} ns exceeds the target "
                f"{csynth.target_period_ns:g} ns less the uncertainty {csynth.uncertainty_ns or 0:g} ns ({budget:g} ns)"
            )
        if csynth.target_period_ns is not None and abs(csynth.target_period_ns - config.clock_period_ns) > 0.006:
            flags.append(
                f"csynth target clock {csynth.target_period_ns:g} ns differs from the build's "
                f"{config.clock_period_ns:.3f} ns ({config.clock:g} MHz): the report is from another configuration"
            )
        if csynth.part and _norm_part(csynth.part) != _norm_part(config.fpga_part):
            flags.append(f"csynth part {csynth.part} differs from the build's {config.fpga_part}")
        if csynth.top and csynth.top != config.top:
            flags.append(f"csynth top {csynth.top} differs from the build's {config.top}")
    if tim is not None and ((tim.wns_ns is not None and tim.wns_ns < 0) or tim.met is False):
        flags.append(f"Vivado timing not met: WNS {tim.wns_ns} ns, TNS {tim.tns_ns} ns")

    loops, loop_flags, loop_notes = loop_table(csynth, targets)
    flags += loop_flags
    notes += loop_notes
    return {
        "build_dir": str(build_dir),
        "config": {
            "board": config.board,
            "part": config.fpga_part,
            "n_pes": config.n_pes,
            "clock_mhz": config.clock,
            "clock_period_ns": round(config.clock_period_ns, 6),
            "top": config.top,
        },
        "sources": {
            "estimate": "eie.hardware.resources.estimate(config.yaml)",
            "model_ii": f"timing model (eie.performance.timing): every pipelined loop at II={MODEL_II}",
            "target_ii": "#pragma HLS PIPELINE II=n of the rendered kernel sources",
            "csynth": str(files.csynth) if files.csynth else None,
            "csynth_modules": [str(p) for p in files.modules],
            "utilization": str(util_path) if util_path else None,
            "timing": str(timing_path) if timing_path else None,
            "looked_for": files.looked_for,
        },
        "csynth": csynth.to_dict() if csynth else None,
        "utilization": util.to_dict() if util else None,
        "timing": tim.to_dict() if tim else None,
        "resources": resources,
        "loops": loops,
        "flags": flags,
        "notes": notes,
    }
