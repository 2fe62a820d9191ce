"""The board side (PYNQ image: Python 3.10, numpy, pynq; no scikit-learn, scipy,
jinja2, pyyaml or torch) imports exactly the modules listed in
``eie.board.BOARD_SAFE``, and they work there."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from board_env import BOARD_ONLY

BLOCKER = BOARD_ONLY + r"""
import importlib, json, sys
import numpy as np
from eie.board import BOARD_SAFE
for name in BOARD_SAFE:
    importlib.import_module(name)
from eie.format.qmodel import HWParams, QuantLayer, QuantModel
from eie.format.image import read_image
from eie.format.csc import encode_dense
from eie.arithmetic.emulator import quantize_input
from eie.board.driver import EIEAccelerator
codes = np.array([[1, 0], [0, 2]])
layer = QuantLayer("l", encode_dense(codes, 1, 4, 4), np.array([0, 3, -2] + [0] * 13), np.zeros(2, np.int64),
                   np.arange(2), 0, 0, 0, relu=False)
qm = read_image(QuantModel(HWParams(1), [layer]).to_image())
x = quantize_input(qm, np.array([[2.0, 5.0]]))
loaded = sorted(m for m in sys.modules if m == "eie" or m.startswith("eie."))
print(json.dumps({"x": x.tolist(), "bindto": EIEAccelerator.bindto, "loaded": loaded, "safe": sorted(BOARD_SAFE)}))
"""


def test_board_side_imports_exactly_the_board_safe_set_with_numpy_only():
    res = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["x"] == [[2, 5]]
    assert out["bindto"] == ["eie-pynq.org:hls:eie_top:1.0"]
    # Using the board-safe modules pulls in no other eie module.
    assert out["loaded"] == out["safe"]


def test_pynq_imports_the_driver_through_its_entry_point():
    """pynq loads the `pynq.lib` entry points when an Overlay is created: ours names the driver
    module, which is board-safe and binds the IP's VLNV, so no manual import is needed."""
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[2]
    points = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]["pynq.lib"]
    from eie.board import BOARD_SAFE
    from eie.board.driver import EIEAccelerator
    from eie.hardware.abi import VLNV

    assert points == {"eie": "eie.board.driver"}
    assert points["eie"] in BOARD_SAFE
    assert EIEAccelerator.bindto == [VLNV]
