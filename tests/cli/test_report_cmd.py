"""`eie report`: a build directory made by `eie generate`, with the tools' reports copied in
from tests/hardware/fixtures (written for these tests in the layouts of real reports)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eie.cli import main
from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import estimate

FIX = Path(__file__).parents[1] / "hardware" / "fixtures"
REPORT_DIR = Path("eie_prj") / "solution1" / "syn" / "report"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def build(tmp_path, capsys):
    """The default hardware (zcu104, 16 PEs, 200 MHz): the 2022.2 csynth fixture is for it."""
    path = tmp_path / "build"
    assert run(capsys, "generate", "-o", path)[0] == 0
    return path


def with_csynth(build: Path, variant: str = "csynth_2022") -> Path:
    rep = build / REPORT_DIR
    rep.mkdir(parents=True, exist_ok=True)
    for f in (FIX / variant).glob("*.xml"):
        shutil.copy(f, rep / f.name)
    return rep


@pytest.fixture
def overlay(tmp_path):
    """An overlay OUT_DIR as overlays/build_overlay.tcl leaves it: Vivado's impl_1 reports in its project."""
    out = tmp_path / "overlay"
    impl = out / "vivado_zcu104" / "eie_overlay.runs" / "impl_1"
    impl.mkdir(parents=True)
    shutil.copy(FIX / "vivado" / "utilization_2024_placed.rpt", impl / "eie_wrapper_utilization_placed.rpt")
    shutil.copy(FIX / "vivado" / "timing_summary_2024_routed.rpt", impl / "eie_wrapper_timing_summary_routed.rpt")
    return out


def test_text_report_shows_each_figure_beside_the_estimate(build, overlay, capsys):
    rep = with_csynth(build)
    code, out, err = run(capsys, "report", build, "--overlay", overlay)
    assert code == 0, err
    est = estimate(AcceleratorConfig.from_yaml(build / "config.yaml"))
    assert f"csynth    {rep / 'csynth.xml'} (HLS 2022.2; 2 module reports)" in out
    assert "eie_wrapper_utilization_placed.rpt (Vivado v.2024.1, Fully Placed, design eie_wrapper)" in out
    assert "csynth                target 5.00 ns, uncertainty 1.35 ns, estimated 3.412 ns (293.1 MHz)" in out
    assert "vivado (routed)       WNS 0.412 ns, TNS 0.000 ns, WHS 0.011 ns (met)" in out
    assert "1204-987654 cycles, interval 1205-987655 cycles" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["resource", "estimate"])
    assert header.split() == ["resource", "estimate", "(model)", "csynth", "vivado", "available"]

    def row(name):
        return next(line for line in lines if line.split()[:1] == [name]).split()

    assert row("BRAM36") == ["BRAM36", str(est.bram36), "66", "70.5", "312", "(board)"]
    assert row("URAM") == ["URAM", str(est.uram), "16", "16", "96", "(board)"]
    assert row("DSP") == ["DSP", str(est.dsp), "16", "17", "1728", "(board)"]
    assert row("LUT")[2:] == ["52345", "58120", "230400", "(csynth)"]
    assert row("ENTRY_LOOP*") == [
        "ENTRY_LOOP*",
        "run_layer_Pipeline_ENTRY_LOOP",
        "1",
        "1",
        "2",
        "5",
        "1-4096",
        "II",
        "2",
        "!=",
        "target",
        "1",
    ]
    assert row("SCAN*")[-1] == "ok" and row("EPILOGUE*")[-1] == "ok" and row("CHECKSUM")[-1] == "ok"
    assert "flags (1):" in out
    assert "! loop ENTRY_LOOP (run_layer_Pipeline_ENTRY_LOOP): csynth II=2, target II=1" in out
    assert "pipelined in the sources but in no csynth report" in out and "WRITE_OUTPUT" in out
    assert "vivado: report_utilization of the whole design eie_wrapper (the PS interconnect included)" in out


def test_json_report_is_the_same_figures(build, overlay, capsys):
    rep = with_csynth(build)
    code, out, err = run(capsys, "report", build, "--overlay", overlay, "--json")
    assert code == 0, err
    obj = json.loads(out)
    est = estimate(AcceleratorConfig.from_yaml(build / "config.yaml"))
    assert obj["config"]["board"] == "zcu104" and obj["config"]["top"] == "eie_top"
    assert obj["sources"]["csynth"] == str(rep / "csynth.xml")
    assert obj["sources"]["utilization"].endswith("impl_1/eie_wrapper_utilization_placed.rpt")
    assert obj["sources"]["timing"].endswith("impl_1/eie_wrapper_timing_summary_routed.rpt")
    res = {r["resource"]: r for r in obj["resources"]}
    assert res["BRAM36"]["estimate"] == est.bram36
    assert res["BRAM36"]["csynth"] == 66 and res["BRAM36"]["csynth_raw"] == {"BRAM_18K": 132}
    assert res["BRAM36"]["vivado"] == 70.5
    assert res["BRAM36"]["available"] == {"board": 312, "csynth": 312, "vivado": 312}
    assert (res["DSP"]["estimate"], res["DSP"]["csynth"], res["DSP"]["vivado"]) == (est.dsp, 16, 17)
    assert (res["FF"]["csynth"], res["FF"]["vivado"]) == (41234, 47713)
    loops = {lp["loop"]: lp for lp in obj["loops"]}
    entry = loops["ENTRY_LOOP"]
    assert (entry["target_ii"], entry["model_ii"], entry["csynth_ii"], entry["status"]) == (1, 1, 2, "II 2 != target 1")
    assert entry["target_source"] == "kernel pragma" and entry["counted_by_model"]
    assert loops["WRITE_OUTPUT"]["status"] == "not in the csynth reports"
    assert obj["csynth"]["estimated_period_ns"] == 3.412
    assert obj["timing"]["wns_ns"] == 0.412 and obj["timing"]["met"] is True
    assert obj["utilization"]["prohibited_column"] is True
    assert len(obj["flags"]) == 1 and "ENTRY_LOOP" in obj["flags"][0]


def test_csynth_only_and_an_old_schema_build_with_explicit_vivado_files(tmp_path, capsys):
    cfg = tmp_path / "pz2.yaml"
    AcceleratorConfig(board="pynq-z2", n_pes=4).to_yaml(cfg)
    build = tmp_path / "b"
    assert run(capsys, "generate", "--config", cfg, "-o", build)[0] == 0
    with_csynth(build, "csynth_2018")
    code, out, err = run(capsys, "report", build, "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["flags"] == []  # 10 ns, xc7z020clg400-1, every loop at II=1
    assert obj["utilization"] is None and obj["timing"] is None
    assert any("no Vivado reports" in n for n in obj["notes"])
    res = {r["resource"]: r for r in obj["resources"]}
    assert (res["DSP"]["csynth"], res["URAM"]["csynth"], res["BRAM36"]["csynth"]) == (8, None, 45)

    code, out, err = run(
        capsys,
        "report",
        build,
        "--utilization",
        FIX / "vivado" / "utilization_2018_placed.rpt",
        "--timing",
        FIX / "vivado" / "timing_summary_2018_routed.rpt",
    )
    assert code == 0, err
    assert "WNS -0.734 ns, TNS -41.207 ns, WHS 0.024 ns (NOT met)" in out
    assert "! Vivado timing not met: WNS -0.734 ns, TNS -41.207 ns" in out
    bram = next(line for line in out.splitlines() if line.split()[:1] == ["BRAM36"]).split()
    assert bram[2:4] == ["45", "47.5"]


def test_report_of_another_configuration_is_flagged(build, capsys):
    # The Zynq-7000 report in a zcu104 build: other clock, other part.
    with_csynth(build, "csynth_2018")
    code, out, _ = run(capsys, "report", build, "--json")
    assert code == 0
    flags = json.loads(out)["flags"]
    assert any(f.startswith("csynth target clock 10 ns differs from the build's 5.000 ns") for f in flags)
    assert any(f == "csynth part xc7z020clg400-1 differs from the build's xczu7ev-ffvc1156-2-e" for f in flags)


def test_no_reports_says_what_was_looked_for(build, tmp_path, capsys):
    code, out, err = run(capsys, "report", build)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"eie report: error: no synthesis reports for {build}: synthesis has not run")
    assert str(build / REPORT_DIR / "csynth.xml") in err
    assert str(build / REPORT_DIR / "eie_top_csynth.xml") in err
    assert f"eie build {build} --steps csynth" in err

    empty = tmp_path / "empty_overlay"
    code, _, err = run(capsys, "report", build, "--overlay", empty, "--json")
    assert code == 2
    assert str(empty / "utilization.rpt") in err
    assert str(empty / "vivado_zcu104" / "eie_overlay.runs" / "impl_1" / "*_timing_summary_routed.rpt") in err


def test_a_file_that_is_not_a_csynth_report_is_refused(build, capsys):
    rep = build / REPORT_DIR
    rep.mkdir(parents=True)
    shutil.copy(FIX / "not_a_report.xml", rep / "csynth.xml")
    code, out, err = run(capsys, "report", build)
    assert code == 2 and out == ""
    assert err == (
        f"eie report: error: {rep / 'csynth.xml'}: not a Vitis HLS csynth report (root element <Project>; "
        "a csynth report is a <profile> with UserAssignments, PerformanceEstimates and AreaEstimates)\n"
    )


def test_a_directory_eie_generate_did_not_write_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, "report", tmp_path)
    assert code == 2
    assert f"{tmp_path / 'config.yaml'} not found" in err


def test_a_wrong_vivado_file_is_refused(build, capsys):
    with_csynth(build)
    code, _, err = run(capsys, "report", build, "--utilization", FIX / "vivado" / "timing_summary_2024_routed.rpt")
    assert code == 2
    assert "timing_summary_2024_routed.rpt: not a Vivado utilization report" in err
