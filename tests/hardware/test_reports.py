"""eie.hardware.reports: the csynth XML and Vivado text reports, read back.

The fixtures (tests/hardware/fixtures/, README.md there) are written for
these tests with their own numbers, in the layouts of real reports of
Vivado HLS 2018.3, Vitis HLS 2022.2 and Vivado 2018.3 / 2024.1. Every value
checked below was read off the fixture by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eie.hardware import reports
from eie.hardware.reports import (
    ReportError,
    find_reports,
    loop_table,
    parse_csynth,
    parse_timing_summary,
    parse_utilization,
    pipeline_targets,
)
from eie.kernel.sources import hls_dir

FIX = Path(__file__).parent / "fixtures"
NEW = FIX / "csynth_2022"
OLD = FIX / "csynth_2018"
VIV = FIX / "vivado"


def _loop(report, name):
    found = [lp for lp in report.loops if lp.name == name]
    assert len(found) == 1, [lp.path for lp in report.loops]
    return found[0]


# --- csynth, Vitis HLS 2022.2 layout ------------------------------------------------------------


def test_csynth_2022_top_figures():
    r = parse_csynth(NEW / "csynth.xml")
    assert (r.version, r.top, r.part, r.family) == ("2022.2", "eie_top", "xczu7ev-ffvc1156-2-e", "zynquplus")
    assert (r.target_period_ns, r.uncertainty_ns, r.estimated_period_ns) == (5.0, 1.35, 3.412)
    assert r.timing_budget_ns == pytest.approx(3.65)
    assert r.estimated_mhz == pytest.approx(1000 / 3.412)
    assert (r.latency_min, r.latency_max, r.interval_min, r.interval_max) == (1204, 987654, 1205, 987655)
    assert r.pipeline_type == "no"
    assert r.resources == {"BRAM_18K": 132, "DSP": 16, "FF": 41234, "LUT": 52345, "URAM": 16}
    assert r.available == {"BRAM_18K": 624, "DSP": 1728, "FF": 460800, "LUT": 230400, "URAM": 96}


def test_csynth_2022_loops_of_top_and_module_information():
    r = parse_csynth(NEW / "csynth.xml")
    # The top's own nested loops (not pipelined), then the ModuleInformation modules.
    assert [(lp.module, lp.path) for lp in r.loops] == [
        ("eie_top", "VECTORS"),
        ("eie_top", "VECTORS/LAYERS"),
        ("broadcast_Pipeline_SCAN", "SCAN"),
        ("run_layer_Pipeline_ENTRY_LOOP", "ENTRY_LOOP"),
    ]
    vectors = _loop(r, "VECTORS")
    assert not vectors.pipelined and vectors.ii is None
    assert (vectors.trip_min, vectors.trip_max, vectors.latency_min, vectors.latency_max) == (1, 1, 1190, 987640)
    layers = _loop(r, "LAYERS")
    assert (layers.trip_min, layers.trip_max, layers.latency_min) == (1, 8, None)  # Latency undef
    scan = _loop(r, "SCAN")
    assert (scan.pipelined, scan.ii, scan.depth, scan.trip_min, scan.trip_max) == (True, 1, 3, 3, 2050)
    assert (scan.latency_min, scan.latency_max, scan.slack_ns) == (4, 2051, 3.65)
    entry = _loop(r, "ENTRY_LOOP")
    assert (entry.ii, entry.depth, entry.trip_max) == (2, 5, 4096)


def test_csynth_2022_module_files_add_their_loops_once():
    mods = sorted(NEW.glob("*_csynth.xml"))
    # csynth.xml itself among the module files is skipped; no loop comes twice.
    r = parse_csynth(NEW / "csynth.xml", [NEW / "csynth.xml", *mods, *mods])
    assert [lp.name for lp in r.loops] == ["VECTORS", "LAYERS", "SCAN", "ENTRY_LOOP", "CHECKSUM", "EPILOGUE"]
    assert r.module_files == [str(m) for m in mods + mods]
    checksum = _loop(r, "CHECKSUM")
    assert (checksum.module, checksum.ii, checksum.depth) == ("load_image_Pipeline_CHECKSUM", 1, 4)
    assert (checksum.trip_min, checksum.trip_max, checksum.latency_max) == (None, None, None)  # undef
    epilogue = _loop(r, "EPILOGUE")
    assert (epilogue.ii, epilogue.trip_min, epilogue.trip_max, epilogue.latency_max) == (1, 1, 128, 129)
    assert epilogue.source.endswith("run_layer_Pipeline_EPILOGUE_csynth.xml")


# --- csynth, Vivado HLS 2018.3 layout -----------------------------------------------------------


def test_csynth_2018_dsp48e_no_uram_dataflow():
    r = parse_csynth(OLD / "csynth.xml")
    assert (r.version, r.top, r.part, r.pipeline_type) == ("2018.3", "eie_top", "xc7z020clg400-1", "dataflow")
    assert (r.target_period_ns, r.uncertainty_ns, r.estimated_period_ns) == (10.0, 1.25, 8.75)
    assert (r.latency_min, r.latency_max, r.interval_min, r.interval_max) == (160, 54321, 159, 54320)
    assert r.resources == {"BRAM_18K": 90, "DSP": 8, "FF": 20111, "LUT": 30222, "URAM": None}
    assert r.available == {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": None}
    assert r.loops == []  # 2018.x keeps submodule loops in their own files only


def test_csynth_2018_nested_loops_in_module_files():
    r = parse_csynth(OLD / "csynth.xml", sorted(OLD.glob("*_csynth.xml")))
    assert [(lp.module, lp.path, lp.pipelined, lp.ii) for lp in r.loops] == [
        ("broadcast", "SCAN", True, 1),
        ("run_layer", "PASSES", False, None),
        ("run_layer", "PASSES/ENTRY_LOOP", True, 1),
        ("run_layer", "PASSES/EPILOGUE", True, 1),
    ]
    entry = _loop(r, "ENTRY_LOOP")
    assert (entry.trip_min, entry.trip_max, entry.latency_min, entry.latency_max) == (1, 4608, 4, 4611)
    assert (entry.iteration_latency_min, entry.iteration_latency_max, entry.depth) == (5, 5, 5)
    passes = _loop(r, "PASSES")
    assert (passes.iteration_latency_min, passes.iteration_latency_max) == (10, 4649)


def test_dataflow_interval_from_the_throughput_range(tmp_path):
    # A 2018.x dataflow top with DataflowPipelineThroughput but no Interval-min/max.
    text = (OLD / "csynth.xml").read_text()
    text = text.replace("<Interval-min>159</Interval-min>\n<Interval-max>54320</Interval-max>\n", "")
    path = tmp_path / "csynth.xml"
    path.write_text(text)
    r = parse_csynth(path)
    assert (r.interval_min, r.interval_max) == (159, 54320)


def test_missing_fields_are_none(tmp_path):
    path = tmp_path / "csynth.xml"
    path.write_text("<profile><AreaEstimates><Resources><LUT>5</LUT></Resources></AreaEstimates></profile>")
    r = parse_csynth(path)
    assert r.resources == {"BRAM_18K": None, "DSP": None, "FF": None, "LUT": 5, "URAM": None}
    assert (r.version, r.top, r.target_period_ns, r.estimated_period_ns, r.latency_max) == (None,) * 5
    assert (r.estimated_mhz, r.timing_budget_ns, r.loops) == (None, None, [])


@pytest.mark.parametrize(
    "name, text",
    [
        ("project.xml", None),  # fixtures/not_a_report.xml: well-formed, another root
        ("broken.xml", "<profile><PerformanceEstimates>"),
        ("empty_profile.xml", "<profile><InterfaceSummary/></profile>"),
    ],
)
def test_a_file_that_is_not_a_csynth_report_is_refused(tmp_path, name, text):
    path = FIX / "not_a_report.xml" if text is None else tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(ReportError) as e:
        parse_csynth(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: not a Vitis HLS csynth report")
    assert "\n" not in msg
    if text is None:
        assert "root element <Project>" in msg


def test_a_module_file_that_is_not_a_report_is_refused_by_name():
    with pytest.raises(ReportError, match="not_a_report.xml: not a Vitis HLS csynth report"):
        parse_csynth(NEW / "csynth.xml", [FIX / "not_a_report.xml"])


# --- Vivado report_utilization ------------------------------------------------------------------


def test_utilization_2018_without_prohibited_column():
    u = parse_utilization(VIV / "utilization_2018_placed.rpt")
    assert not u.prohibited_column
    assert u.tool_version.startswith("Vivado v.2018.3")
    assert (u.design, u.device, u.state) == ("eie_wrapper", "7z020clg400-1", "Fully Placed")
    assert u.used == {
        "LUT": 31508,
        "FF": 22040,
        "BRAM36": 47.5,
        "RAMB36": 44,
        "RAMB18": 7,
        "URAM": None,
        "DSP": 9,
    }
    assert u.available == {
        "LUT": 53200,
        "FF": 106400,
        "BRAM36": 140,
        "RAMB36": 140,
        "RAMB18": 280,
        "URAM": None,
        "DSP": 220,
    }


def test_utilization_2024_with_prohibited_column_and_uram():
    u = parse_utilization(VIV / "utilization_2024_placed.rpt")
    assert u.prohibited_column
    assert u.tool_version.startswith("Vivado v.2024.1")
    assert (u.device, u.state) == ("xczu7ev-ffvc1156-2-e", "Fully Placed")
    # CLB LUTs, not "LUT as Logic"; the Available column, not Prohibited.
    assert u.used == {"LUT": 58120, "FF": 47713, "BRAM36": 70.5, "RAMB36": 66, "RAMB18": 9, "URAM": 16, "DSP": 17}
    assert u.available == {
        "LUT": 230400,
        "FF": 460800,
        "BRAM36": 312,
        "RAMB36": 312,
        "RAMB18": 624,
        "URAM": 96,
        "DSP": 1728,
    }


@pytest.mark.parametrize("path", [VIV / "timing_summary_2024_routed.rpt", NEW / "csynth.xml"])
def test_a_file_that_is_not_a_utilization_report_is_refused(path):
    with pytest.raises(ReportError, match=r"not a Vivado utilization report") as e:
        parse_utilization(path)
    assert str(e.value).startswith(str(path))


# --- Vivado report_timing_summary ---------------------------------------------------------------


def test_timing_summary_met():
    t = parse_timing_summary(VIV / "timing_summary_2024_routed.rpt")
    assert (t.wns_ns, t.tns_ns, t.tns_failing_endpoints, t.whs_ns, t.ths_ns, t.ths_failing_endpoints) == (
        0.412,
        0.0,
        0,
        0.011,
        0.0,
        0,
    )
    assert t.met is True
    assert (t.design, t.state) == ("eie_wrapper", "Routed")


def test_timing_summary_not_met():
    t = parse_timing_summary(VIV / "timing_summary_2018_routed.rpt")
    assert (t.wns_ns, t.tns_ns, t.tns_failing_endpoints, t.whs_ns) == (-0.734, -41.207, 118, 0.024)
    assert t.met is False
    assert t.state is None  # this header states no Design State


def test_a_file_that_is_not_a_timing_summary_is_refused():
    path = VIV / "utilization_2018_placed.rpt"
    with pytest.raises(ReportError, match="not a Vivado timing summary") as e:
        parse_timing_summary(path)
    assert str(e.value).startswith(str(path))


def test_an_unreadable_report_is_a_report_error(tmp_path):
    with pytest.raises(ReportError, match="cannot be read"):
        parse_utilization(tmp_path / "missing.rpt")
    with pytest.raises(ReportError, match="cannot be read"):
        parse_csynth(tmp_path / "missing.xml")


# --- the kernel's II targets and the loop table ------------------------------------------------


def test_pipeline_targets_from_sources(tmp_path):
    src = tmp_path / "k.hpp"
    src.write_text(
        "struct S {\npublic:\n    int x;\n};\n"
        "A:\n    for (int i = 0; i < n; i++) {\n#pragma HLS PIPELINE II=1\n#pragma HLS LOOP_TRIPCOUNT max=4\n    }\n"
        "B:\n    while (true) {\n#pragma HLS LOOP_TRIPCOUNT max=4\n#pragma HLS PIPELINE II = 2\n    }\n"
        "C:\n    for (;;) {\n#pragma HLS LOOP_TRIPCOUNT max=4\n        x++;\n"
        "#pragma HLS PIPELINE II=1\n    }\n"  # not at the top of the body: not this loop's
        "D: for (;;) {\n#pragma HLS pipeline\n    }\n"
        "E:\n    for (;;) {\n#pragma HLS PIPELINE off\n    }\n"
        "F:\n    x = 1;\n"  # a label on no loop
    )
    assert pipeline_targets([src, tmp_path / "absent.hpp"]) == {"A": 1, "B": 2, "C": None, "D": 1, "E": None}


def test_pipeline_targets_of_the_kernel_sources():
    d = hls_dir()
    t = pipeline_targets([d / "eie_broadcast.hpp", d / "eie_pe.hpp", d / "eie_load.hpp"])
    for name in ("SCAN", "ENTRY_LOOP", "EPILOGUE", "CHECKSUM", "LOAD_ENTRIES"):
        assert t[name] == 1, name
    assert t["LAYERS"] is None  # the descriptor loop inside it is the pipelined one
    assert "CRC_BITS" in t and t["CRC_BITS"] is None  # unrolled


def test_loop_table_flags_an_ii_above_the_target():
    r = parse_csynth(NEW / "csynth.xml", sorted(NEW.glob("*_csynth.xml")))
    targets = {"SCAN": 1, "ENTRY_LOOP": 1, "EPILOGUE": 1, "CHECKSUM": 1, "VECTORS": None, "HEAD": 1}
    rows, flags, notes = loop_table(r, targets)
    by = {row["loop"]: row for row in rows}
    assert by["ENTRY_LOOP"]["csynth_ii"] == 2 and by["ENTRY_LOOP"]["status"] == "II 2 != target 1"
    assert by["ENTRY_LOOP"]["counted_by_model"] and by["ENTRY_LOOP"]["model_ii"] == 1
    assert by["SCAN"]["status"] == by["EPILOGUE"]["status"] == by["CHECKSUM"]["status"] == "ok"
    assert by["VECTORS"]["status"] == "not pipelined (as written)" and by["VECTORS"]["model_ii"] is None
    assert by["LAYERS"]["target_ii"] is None  # not a kernel label here, not pipelined
    assert by["HEAD"]["status"] == "not in the csynth reports"
    assert len(flags) == 1 and flags[0].startswith("loop ENTRY_LOOP (run_layer_Pipeline_ENTRY_LOOP): csynth II=2")
    assert notes == ["loop HEAD (pipelined at II=1 in the sources) is in none of the csynth reports"]


def test_loop_table_unlabelled_and_unpipelined_loops():
    r = parse_csynth(OLD / "csynth.xml", sorted(OLD.glob("*_csynth.xml")))
    # PASSES pipelined in the sources but not by csynth; SCAN unlabelled: the model's II=1 is its target.
    rows, flags, _ = loop_table(r, {"PASSES": 1, "ENTRY_LOOP": 1, "EPILOGUE": 1})
    by = {row["loop"]: row for row in rows}
    assert by["PASSES"]["status"] == "not pipelined by csynth"
    assert (by["SCAN"]["target_ii"], by["SCAN"]["target_source"], by["SCAN"]["status"]) == (
        1,
        "timing model (unlabelled loop)",
        "ok",
    )
    assert flags == ["loop PASSES: the kernel pipelines it at II=1, csynth did not pipeline it"]


def test_loop_with_undef_ii_is_flagged(tmp_path):
    path = tmp_path / "csynth.xml"
    path.write_text(
        "<profile><UserAssignments><TopModelName>t</TopModelName></UserAssignments><PerformanceEstimates>"
        "<SummaryOfLoopLatency><SCAN><TripCount>undef</TripCount><PipelineII>undef</PipelineII></SCAN>"
        "</SummaryOfLoopLatency></PerformanceEstimates></profile>"
    )
    rows, flags, _ = loop_table(parse_csynth(path), {"SCAN": 1})
    assert rows[0]["status"] == "II unknown (undef)" and rows[0]["csynth_ii"] is None
    assert flags == ["loop SCAN: csynth reports no II (undef); target II=1"]


# --- where the reports are ---------------------------------------------------------------------


def test_find_reports_in_a_build_and_an_overlay(tmp_path):
    build = tmp_path / "b"
    rep = build / "eie_prj" / "solution1" / "syn" / "report"
    rep.mkdir(parents=True)
    files = find_reports(build, "eie_top", "zcu104", None)
    assert files.csynth is None and files.utilization is None and files.timing is None
    assert files.looked_for == [str(rep / "csynth.xml"), str(rep / "eie_top_csynth.xml")]
    (rep / "eie_top_csynth.xml").write_text("<profile/>")
    assert find_reports(build, "eie_top").csynth == rep / "eie_top_csynth.xml"

    out = tmp_path / "ov"
    impl = out / "vivado_zcu104" / "eie_overlay.runs" / "impl_1"
    impl.mkdir(parents=True)
    files = find_reports(build, "eie_top", "zcu104", out)
    assert files.utilization is None and files.timing is None
    assert str(impl / "*_utilization_placed.rpt") in files.looked_for
    (impl / "eie_wrapper_utilization_placed.rpt").write_text("x")
    (impl / "eie_wrapper_timing_summary_routed.rpt").write_text("x")
    files = find_reports(build, "eie_top", "zcu104", out)
    assert files.utilization == impl / "eie_wrapper_utilization_placed.rpt"
    assert files.timing == impl / "eie_wrapper_timing_summary_routed.rpt"
    # Reports written into OUT_DIR itself come first.
    (out / "utilization.rpt").write_text("x")
    assert find_reports(build, "eie_top", "zcu104", out).utilization == out / "utilization.rpt"


def test_csynth_dir_follows_params_tcl(tmp_path):
    (tmp_path / "params.tcl").write_text("set EIE_PROJECT other_prj\nset EIE_SOLUTION sol2\n")
    assert reports.csynth_dir(tmp_path) == tmp_path / "other_prj" / "sol2" / "syn" / "report"


def test_utilization_scope_whole_design_or_cells(tmp_path):
    u = parse_utilization(VIV / "utilization_2024_placed.rpt")
    assert u.scope == "the whole design eie_wrapper" and u.to_dict()["scope"] == u.scope
    # report_utilization -cells: the same tables, for the kernel's cells only.
    text = (VIV / "utilization_2024_placed.rpt").read_text()
    text = text.replace("report_utilization -file", "report_utilization -cells [get_cells eie_i/eie] -file")
    path = tmp_path / "utilization_eie.rpt"
    path.write_text(text)
    assert parse_utilization(path).scope == "cells [get_cells eie_i/eie]"


def test_find_reports_prefers_the_kernel_only_utilization(tmp_path):
    out = tmp_path / "ov"
    out.mkdir()
    (out / "utilization.rpt").write_text("x")
    (out / "utilization_eie.rpt").write_text("x")
    (out / "timing_summary.rpt").write_text("x")
    files = find_reports(tmp_path / "b", "eie_top", "zcu104", out)
    assert (files.utilization, files.timing) == (out / "utilization_eie.rpt", out / "timing_summary.rpt")
