"""A short `eie demo` run: every stage runs and the C-simulation is bit-exact."""

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("torch")

from eie.arithmetic.emulator import Emulator
from eie.cli import main
from eie.format.image import load_image


@pytest.mark.slow
def test_fast_demo_runs_every_stage_bit_exact(tmp_path, capsys):
    out = tmp_path / "build"
    code = main(["demo", "--fast", "--json", "--out", str(out)])
    s = json.loads(capsys.readouterr().out)
    assert code == 0
    assert s["backend"] == ("csim" if shutil.which("g++") else "emulator")
    assert s["bit_exact"] is True and s["mismatches"] == {"compressed": 0, "ternary": 0}
    acc = s["accuracy"]
    for k in ("float", "compressed", "ternary"):
        assert 0.8 < acc[k] <= 1.0
    # The integer path tracks the float reference of the same compressed model.
    assert abs(acc["compressed"] - acc["compressed_float_reference"]) <= 0.02
    assert abs(acc["ternary"] - acc["ternary_float_reference"]) <= 0.02
    assert s["compression_ratio_huffman"] > s["compression_ratio"] > 10
    assert s["latency_us"]["compressed"] > 0 and "not measured" in s["timing_source"]
    # Modelled cycles never beat the ideal schedule.
    for rows in s["timing"].values():
        assert all(r["cycles"] >= r["ideal_cycles"] for r in rows)
    # The build directory is ready for build.tcl.
    for f in ("eie_top.cpp", "eie_params.h", "params.tcl", "image.bin", "expected.bin"):
        assert (out / f).is_file(), f
    # The rendered testbench files agree: expected.bin is what the image computes on input.bin.
    qm = load_image(out / "image.bin")
    x = np.fromfile(out / "input.bin", dtype="<i8").reshape(-1, qm.in_features)
    expected = np.fromfile(out / "expected.bin", dtype="<i8").reshape(x.shape[0], qm.out_features)
    assert x.shape[0] == 16 and np.array_equal(expected, Emulator(qm).run_layers(x))
