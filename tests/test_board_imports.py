"""The board side (PYNQ image: Python 3.10, numpy, no scikit-learn/scipy/jinja2/torch)
can import what it needs: the format, the image, the quantisation helpers and the driver."""

import subprocess
import sys

BLOCKER = r"""
import sys
class Block:
    BANNED = ("sklearn", "scipy", "jinja2", "torch", "yaml", "matplotlib", "hls4ml")
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BANNED:
            raise ImportError(f"{name} is not on the board")
        return None
sys.meta_path.insert(0, Block())
import numpy as np
import eie, eie.csc, eie.image, eie.abi, eie.driver, eie.emulator
from eie.image import HWParams, QuantLayer, QuantModel, read_image
from eie.csc import encode_dense
codes = np.array([[1, 0], [0, 2]])
layer = QuantLayer("l", encode_dense(codes, 1, 4, 4), np.array([0, 3, -2] + [0] * 13), np.zeros(2, np.int64),
                   np.arange(2), 0, 0, 0, relu=False)
qm = read_image(QuantModel(HWParams(1), [layer]).to_image())
x = eie.emulator.quantize_input(qm, np.array([[2.0, 5.0]]))
print(x.tolist(), eie.driver.EIEAccelerator.bindto)
"""


def test_board_side_needs_numpy_only():
    res = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[0] == "[[2, 5]] ['eie-pynq.org:hls:eie_top:1.0']"
