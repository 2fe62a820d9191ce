"""eie: Deep Compression, TTQ and the EIE sparse accelerator for PYNQ FPGAs.

The subpackages are the pipeline's stages, in order; a module imports only
from its own stage or the stages before it:

1. ``eie.compression``  prune, share weights, Huffman: float weights -> CompressedModel
2. ``eie.format``       EIE CSC encoding, row maps, storage, the model image
3. ``eie.arithmetic``   fixed-point formats, overflow proof, the integer emulator
4. ``eie.performance``  timing model, load balance, index widths
5. ``eie.hardware``     accelerator config, boards, resources, storage, tool reports
6. ``eie.kernel``       the kernel: its interface, HLS rendering, C-simulation
                       (sequential and concurrent), fuzzing, the Vitis/Vivado tool flow
7. ``eie.board``        the PYNQ driver and its co-simulation

``eie.train`` (PyTorch, optional) and ``eie.frontend`` (PyTorch and ONNX
models in) feed stage 1; ``eie.api`` (``eie.from_torch``, ``eie.from_onnx``,
``eie.load``: one object with compress / predict / report / deploy),
``eie.cli``, ``eie.demo`` and ``eie.demo_lstm`` sit on top. Importing the
package imports numpy only; the board-safe modules are listed in
``eie.board.BOARD_SAFE``.
"""

__version__ = "0.1.0"

from eie.errors import EIEError  # noqa: F401

_API = ("from_torch", "from_onnx", "load", "Network")


def __getattr__(name: str):
    # The API imports compression, hardware and board code: load it on first use
    # so that ``import eie`` stays numpy-only.
    if name in _API:
        import importlib

        return getattr(importlib.import_module("eie.api"), name)
    raise AttributeError(f"module 'eie' has no attribute {name!r}")
