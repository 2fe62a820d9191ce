"""`eie build`: the Vitis HLS and Vivado command lines, run against stub tools that record them.

Neither tool is on these machines. The stubs are shell scripts named vitis_hls and vivado
on the PATH; each appends its working directory and arguments to a file and prints a line,
or fails when asked to, so the test sees exactly what a real run would be given.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from eie.cli import main
from eie.kernel import toolflow
from eie.kernel.render import hls_dir

STUB = """#!/bin/sh
echo "$(pwd) $*" >> "{record}"
echo "{name} stub: $*"
exit ${{{fail_var}:-0}}
"""


@pytest.fixture
def tools(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "calls.txt"
    for name, var in (("vitis_hls", "STUB_HLS_EXIT"), ("vivado", "STUB_VIVADO_EXIT")):
        path = bin_dir / name
        path.write_text(STUB.format(record=record, name=name, fail_var=var))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for var in ("XILINX_HLS", "XILINX_VIVADO"):
        monkeypatch.delenv(var, raising=False)
    return record


@pytest.fixture
def build_dir(tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["generate", "--config", str(config_file(tmp_path)), "-o", str(out), "--vectors", "2"]) == 0
    capsys.readouterr()
    return out


def config_file(tmp_path):
    path = tmp_path / "pynq.yaml"
    path.write_text("board: pynq-z2\nn_pes: 4\nentry_depth: 256\nptr_depth: 256\nact_depth: 32\n")
    return path


def calls(record):
    return [line.split() for line in record.read_text().splitlines()] if record.exists() else []


def test_hls_steps_run_in_the_build_dir_with_build_tcl(tools, build_dir, capsys):
    assert main(["build", str(build_dir), "--steps", "csim", "csynth", "cosim"]) == 0
    out, err = capsys.readouterr()
    ((cwd, *argv),) = calls(tools)
    assert cwd == str(build_dir.resolve())
    assert argv == [
        "-f",
        str(hls_dir().parent / "build.tcl"),
        "-tclargs",
        str(build_dir.resolve()),
        "csim",
        "csynth",
        "cosim",
    ]
    assert "vitis_hls stub" in out and "next: eie report" in out
    assert "[1/1] Vitis HLS: csim csynth cosim" in err
    assert "vitis_hls stub" in (build_dir / "vitis_hls.log").read_text()


def test_overlay_implies_export_and_takes_the_board_from_the_build(tools, build_dir, tmp_path, capsys):
    out_dir = tmp_path / "overlay"
    assert main(["build", str(build_dir), "--steps", "csynth", "--overlay", str(out_dir), "--jobs", "3"]) == 0
    hls, viv = calls(tools)
    assert hls[-2:] == ["csynth", "export"]
    assert viv[1:] == [
        "-mode", "batch", "-nojournal", "-source", str(hls_dir().parent / "overlays" / "build_overlay.tcl"),
        "-tclargs", "pynq-z2", str(build_dir.resolve()), str(out_dir.resolve()), "3",
    ]  # fmt: skip


def test_a_failing_tool_names_its_log_and_stops_the_flow(tools, build_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_HLS_EXIT", "1")
    assert main(["build", str(build_dir), "--overlay", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Vitis HLS: csim csynth export failed (exit 1)" in err and "vitis_hls.log" in err
    assert len(calls(tools)) == 1  # Vivado never ran


def test_missing_tools_are_named_and_dry_run_needs_none(build_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("XILINX_HLS", raising=False)
    assert main(["build", str(build_dir)]) == 2
    assert "vitis_hls not found" in capsys.readouterr().err
    assert main(["build", str(build_dir), "--dry-run", "--json", "--overlay", str(tmp_path / "o")]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [s["command"][0] for s in plan["steps"]] == ["vitis_hls", "vivado"]
    monkeypatch.setenv("XILINX_HLS", str(tmp_path / "nowhere"))
    with pytest.raises(toolflow.ToolchainError, match="XILINX_HLS=.* has no executable bin/vitis_hls"):
        toolflow.find_tool("vitis_hls", "XILINX_HLS")


def test_bad_requests_are_refused(build_dir, tmp_path, capsys):
    assert main(["build", str(tmp_path), "--dry-run"]) == 2
    assert "params.tcl not found" in capsys.readouterr().err
    assert main(["build", str(build_dir), "--dry-run", "--steps", "synth"]) == 2
    assert "unknown step 'synth'" in capsys.readouterr().err
    assert main(["build", str(build_dir), "--dry-run", "--overlay", str(tmp_path / "o"), "--jobs", "0"]) == 2
    assert "--jobs=0" in capsys.readouterr().err
