"""build.tcl runs in tclsh with the Vitis HLS commands stubbed, on a rendered build
directory, and only references files that generation produced; the rendered
C testbench (what Vitis csim/cosim run) passes with g++ and fails on a wrong
expected output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from eie.hardware.config import AcceleratorConfig
from eie.hardware.testmodel import demo_model, random_inputs
from eie.kernel.render import render

ROOT = Path(__file__).resolve().parents[2]
TCLSH = shutil.which("tclsh")

STUB = r"""
set calls {}
foreach cmd {open_project set_top add_files open_solution set_part create_clock csim_design csynth_design
             cosim_design export_design} {
    proc $cmd {args} "lappend ::calls \[list $cmd {*}\$args\]"
}
rename exit tcl_exit
proc exit {{code 0}} {
    set f [open $::log w]
    foreach c $::calls { puts $f $c }
    close $f
    tcl_exit $code
}
set log [lindex $argv 0]
set argv [lrange $argv 1 end]
set argc [llength $argv]
source [lindex $argv end]
"""


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("build")
    cfg = AcceleratorConfig(
        board="ultra96v2",
        n_pes=3,
        entry_depth=256,
        ptr_depth=128,
        act_depth=32,
        bias_depth=64,
        max_layers=4,
        clock_mhz=250,
    )
    qm = demo_model(cfg, seed=1)
    result = render(cfg, d, qm, random_inputs(qm, 4, seed=1))
    return d, result


def run_tcl(tmp_path, args):
    stub = tmp_path / "stub.tcl"
    stub.write_text(STUB.replace("source [lindex $argv end]", f"source {{{ROOT / 'build.tcl'}}}"))
    log = tmp_path / "calls.txt"
    proc = subprocess.run([TCLSH, str(stub), str(log), *args], capture_output=True, text=True, cwd=tmp_path)
    calls = log.read_text().splitlines() if log.exists() else []
    return proc, calls


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
def test_build_tcl_full_flow(build_dir, tmp_path):
    d, result = build_dir
    proc, calls = run_tcl(tmp_path, [str(d), "csim", "cosim", "export"])
    assert proc.returncode == 0, proc.stderr
    names = [c.split()[0] for c in calls]
    assert names[:2] == ["open_project", "set_top"]
    tail = names[names.index("open_solution") :]
    assert tail == [
        "open_solution",
        "set_part",
        "create_clock",
        "csim_design",
        "csynth_design",
        "cosim_design",
        "export_design",
    ]
    assert "set_part xczu3eg-sbva484-1-i" in calls
    assert "create_clock -period 4.000 -name default" in calls
    assert "set_top eie_top" in calls
    # The IP's version carries the image format's (a stale bitstream binds no driver).
    from eie.format.image import VERSION

    assert f"export_design -format ip_catalog -vendor eie-pynq.org -library hls -version {VERSION}.0" in calls
    assert "open_project -reset eie_prj" in calls
    assert any(c.startswith("open_solution -reset solution1 -flow_target vivado") for c in calls)
    # add_files [-tb] PATH [-cflags {...}]
    added = [c.split()[2] if c.split()[1] == "-tb" else c.split()[1] for c in calls if c.startswith("add_files")]
    assert added, "no files added"
    for f in added:
        assert Path(f).is_file(), f"build.tcl references {f}, which generation did not produce"
        assert Path(f).parent == d
    tb = [c for c in calls if c.startswith("add_files -tb")]
    assert {Path(c.split()[2]).name for c in tb} == {"eie_tb.cpp", "image.bin", "input.bin", "expected.bin"}
    rendered = {p.name for p in result.sources} | {p.name for p in result.testbench}
    assert {Path(f).name for f in added} == rendered


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
def test_build_tcl_default_steps_and_bad_usage(build_dir, tmp_path):
    d, _ = build_dir
    proc, calls = run_tcl(tmp_path, [str(d)])
    names = [c.split()[0] for c in calls]
    assert proc.returncode == 0 and "csim_design" in names and "csynth_design" in names
    assert "cosim_design" not in names and "export_design" not in names
    proc, calls = run_tcl(tmp_path, [str(d), "synth"])
    assert proc.returncode == 1 and "unknown step 'synth'" in proc.stderr
    proc, calls = run_tcl(tmp_path, [str(tmp_path / "nowhere")])
    assert proc.returncode == 1 and "eie generate" in proc.stderr


@pytest.fixture(scope="module")
def stream_build_dir(tmp_path_factory):
    """A kernel with streaming hardware and a model whose layers are all streamed."""
    d = tmp_path_factory.mktemp("build_stream")
    cfg = AcceleratorConfig(
        board="pynq-z2",
        n_pes=2,
        entry_depth=64,
        ptr_depth=64,
        act_depth=32,
        bias_depth=64,
        max_layers=4,
        dir_depth=128,
        storage="stream",
    )
    qm = demo_model(cfg, seed=2)
    assert [ql.storage for ql in qm.layers] == ["stream", "stream"]
    result = render(cfg, d, qm, random_inputs(qm, 4, seed=2))
    return d, result


@pytest.mark.parametrize("which", ["onchip", "stream"])
def test_rendered_testbench_passes_and_catches_a_mismatch(build_dir, stream_build_dir, tmp_path, which):
    """The testbench compiled as build.tcl's csim compiles it (the rendered sources, -std=c++14),
    for on-chip and streamed layers (the run passes the image again, at its length)."""
    from eie.kernel import csim

    d, result = build_dir if which == "onchip" else stream_build_dir
    exe = tmp_path / "tb"
    cmd = [
        csim.compiler(),
        "-O1",
        "-std=c++14",
        "-w",
        f"-I{d}",
        f"-I{csim.ap_types_dir()}",
        str(d / "eie_tb.cpp"),
        str(d / "eie_top.cpp"),
        "-o",
        str(exe),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    ok = subprocess.run([str(exe), str(d)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{result.vectors} vectors, {result.out_len} outputs each, 0 mismatches" in ok.stdout
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("image.bin", "input.bin"):
        shutil.copyfile(d / name, bad / name)
    y = np.frombuffer((d / "expected.bin").read_bytes(), dtype="<i8").copy()
    y[3] += 1
    (bad / "expected.bin").write_bytes(y.tobytes())
    fail = subprocess.run([str(exe), str(bad)], capture_output=True, text=True)
    assert fail.returncode == 1
    assert "mismatch: vector 0 output 3" in fail.stdout and "1 mismatches" in fail.stdout


def test_eie_generate_from_a_model(tmp_path, capsys):
    import json

    from test_csim import small_compressed_model

    from eie.cli import main
    from eie.format.image import read_image

    model = tmp_path / "m.npz"
    small_compressed_model(model)
    out = tmp_path / "gen"
    assert main(["generate", str(model), "-o", str(out), "--vectors", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["board"] == "zcu104" and summary["n_pes"] == 16
    params = (out / "params.tcl").read_text()
    assert "set EIE_PART xczu7ev-ffvc1156-2-e" in params and "set EIE_CLOCK_PERIOD 5.000" in params
    qm = read_image((out / "image.bin").read_bytes())
    assert qm.params.n_pes == 16 and len(qm.layers) == 2 and qm.layers[1].ternary
    assert len((out / "input.bin").read_bytes()) == 3 * 50 * 8
    assert len((out / "expected.bin").read_bytes()) == 3 * 10 * 8
