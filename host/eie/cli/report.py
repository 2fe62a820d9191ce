"""``eie report``: what Vitis HLS and Vivado wrote for a build, beside this toolkit's own model.

    eie report BUILD_DIR [--overlay OUT_DIR] [--utilization RPT] [--timing RPT] [--json]

Reads BUILD_DIR/eie_prj/solution1/syn/report/csynth.xml (and every
``*_csynth.xml`` there, for the loops of the submodules) and, with
``--overlay``, Vivado's utilization and timing summary reports of the
overlay build; shows each resource as estimate | csynth | Vivado | available
and each loop's II against the kernel's pragma and the timing model's II=1
(eie.hardware.reports). With no report at all it names the files it looked
for and exits 2.
"""

from __future__ import annotations

import argparse

from eie.cli.output import add_json_option, emit


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="show the csynth and Vivado figures of a build beside the toolkit's estimate",
        description="Read what the Xilinx tools wrote for a build directory (Vitis HLS csynth XML; with "
        "--overlay, Vivado's report_utilization and report_timing_summary of the overlay build) and show "
        "them beside this toolkit's resource estimate for BUILD_DIR/config.yaml and the timing model's "
        "II=1 for every pipelined loop. Every figure is labelled by its source.",
    )
    p.add_argument(
        "build_dir", metavar="BUILD_DIR", help="directory written by `eie generate` and built by `eie build`"
    )
    p.add_argument("--overlay", metavar="OUT_DIR", help="the overlay output directory of `eie build --overlay`")
    p.add_argument("--utilization", metavar="RPT", help="a Vivado report_utilization file (instead of searching)")
    p.add_argument("--timing", metavar="RPT", help="a Vivado report_timing_summary file (instead of searching)")
    add_json_option(p, "tables")
    p.set_defaults(func=run)


def _fmt(v, digits: int | None = None) -> str:
    if v is None:
        return "-"
    if digits is not None:
        return f"{v:.{digits}f}"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.1f}"
    return f"{int(v)}" if isinstance(v, (int, float)) else str(v)


def _tool(version: str | None) -> str:
    """'Vivado v.2024.1 (lin64) Build ...' -> 'Vivado v.2024.1'."""
    return (version or "unknown version").split(" (")[0]


def _details(*parts) -> str:
    return ", ".join(p for p in parts if p)


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = [indent + "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    out += [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return out


def _range(lo, hi) -> str:
    if lo is None and hi is None:
        return "-"
    return _fmt(lo) if lo == hi else f"{_fmt(lo)}-{_fmt(hi)}"


def render_text(rep: dict) -> str:
    c = rep["config"]
    s = rep["sources"]
    cs = rep["csynth"]
    ut = rep["utilization"]
    tm = rep["timing"]
    lines = [
        f"eie report: {rep['build_dir']} ({c['board']}, {c['part']}, {c['n_pes']} PEs, {c['clock_mhz']:g} MHz, "
        f"top {c['top']})",
        "sources:",
        f"  estimate  {s['estimate']}",
        f"  csynth    {s['csynth'] or 'none'}"
        + (f" (HLS {cs['version']}; {len(s['csynth_modules'])} module reports)" if cs else ""),
        f"  vivado    utilization: {s['utilization'] or 'none'}"
        + (
            f" ({_details(_tool(ut['tool_version']), ut['state'], ut['design'] and 'design ' + ut['design'])})"
            if ut
            else ""
        ),
        f"            timing: {s['timing'] or 'none'}"
        + (f" ({_details(_tool(tm['tool_version']), tm['state'])})" if tm else ""),
        "",
        "clock:",
        f"  model (config.yaml)   target {c['clock_period_ns']:.3f} ns ({c['clock_mhz']:g} MHz)",
    ]
    if cs:
        est = cs["estimated_period_ns"]
        lines.append(
            f"  csynth                target {_fmt(cs['target_period_ns'], 2)} ns, uncertainty "
            f"{_fmt(cs['uncertainty_ns'], 2)} ns, estimated {_fmt(est, 3)} ns"
            + (f" ({cs['estimated_mhz']:.1f} MHz)" if cs["estimated_mhz"] else "")
        )
    if tm:
        verdict = {True: "met", False: "NOT met", None: "no verdict"}[tm["met"]]
        lines.append(
            f"  vivado (routed)       WNS {_fmt(tm['wns_ns'], 3)} ns, TNS {_fmt(tm['tns_ns'], 3)} ns, "
            f"WHS {_fmt(tm['whs_ns'], 3)} ns ({verdict})"
        )
    if cs:
        lines += [
            "",
            f"latency (csynth, from the LOOP_TRIPCOUNT bounds): {_range(cs['latency_min'], cs['latency_max'])} cycles, "
            f"interval {_range(cs['interval_min'], cs['interval_max'])} cycles",
        ]
    lines += ["", "resources:"]
    rows = []
    for r in rep["resources"]:
        av = r["available"]
        avail = av["board"] if av["board"] is not None else (av["csynth"] if av["csynth"] is not None else av["vivado"])
        src = "board" if av["board"] is not None else ("csynth" if av["csynth"] is not None else "vivado")
        rows.append(
            [
                r["resource"],
                _fmt(r["estimate"]),
                _fmt(r["csynth"]),
                _fmt(r["vivado"]),
                f"{_fmt(avail)} ({src})" if avail is not None else "-",
            ]
        )
    lines += _table(["resource", "estimate (model)", "csynth", "vivado", "available"], rows)
    lines.append(
        "  estimate: eie.hardware.resources (LUT/FF where it models them); csynth: AreaEstimates of the top, "
        "BRAM_18K / 2; vivado: report_utilization of "
        + (
            ut["scope"] + (" (the PS interconnect included)" if ut["scope"].startswith("the whole") else "")
            if ut
            else "-"
        )
    )
    lines += ["", "loops (target: the kernel's PIPELINE pragma; model: the timing model's II; * counted by the model):"]
    shown = [lp for lp in rep["loops"] if lp["status"] != "not in the csynth reports"]
    absent = [lp["loop"] for lp in rep["loops"] if lp["status"] == "not in the csynth reports"]
    if shown:
        rows = []
        for lp in shown:
            mods = lp["modules"]
            rows.append(
                [
                    lp["loop"] + ("*" if lp["counted_by_model"] else ""),
                    (mods[0] + (f" (+{len(mods) - 1})" if len(mods) > 1 else "")) if mods else "-",
                    _fmt(lp["target_ii"]),
                    _fmt(lp["model_ii"]),
                    _fmt(lp["csynth_ii"]),
                    _fmt(lp["depth"]),
                    _range(lp["trip_min"], lp["trip_max"]),
                    lp["status"],
                ]
            )
        lines += _table(["loop", "module", "target II", "model II", "csynth II", "depth", "trips", "status"], rows)
    else:
        lines.append(
            "  (no csynth report: no loops to show)" if rep["csynth"] is None else "  (no loops in the reports)"
        )
    if absent:
        lines.append(
            f"  pipelined in the sources but in no csynth report ({len(absent)}; inlined into a caller, or their "
            f"module reports are missing): {', '.join(absent)}"
        )
    if rep["flags"]:
        lines += ["", f"flags ({len(rep['flags'])}):"] + [f"  ! {f}" for f in rep["flags"]]
    else:
        lines += ["", "flags: none"]
    notes = [n for n in rep["notes"] if "is in none of the csynth reports" not in n]
    if notes:
        lines += ["notes:"] + [f"  - {n}" for n in notes]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from eie.hardware.reports import build_report

    rep = build_report(args.build_dir, overlay=args.overlay, utilization=args.utilization, timing=args.timing)
    emit(args, rep, lambda: render_text(rep))
    return 0
