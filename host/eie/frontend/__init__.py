"""Bring your own model: PyTorch and ONNX networks in, the toolkit's layers out.

``eie.frontend.torch`` reads ``nn.Module``s and ``.pt``/``.pth`` files (a
state_dict, or a whole module where ``torch.load(weights_only=True)`` allows
it), with ``torch.nn.utils.prune`` and ``torch.ao.pruning`` masks taken as the
sparsity. ``eie.frontend.onnx`` reads ONNX graphs of Gemm/MatMul(+Add)/Relu
and LSTM nodes. ``eie.frontend.load_model`` picks the reader by file.

Both return an ``Imported``: a list of ``DenseLayer`` (an MLP) or a
``FloatLSTM`` (``eie.compression.lstm``). EIE runs fully-connected and LSTM
layers; anything else is refused by name. Importing this package imports
numpy only; torch and onnx are imported by the submodules that need them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from eie.compression.lstm import FloatLSTM
from eie.compression.weights import DenseLayer
from eie.errors import FormatError

UNSUPPORTED = "EIE runs fully-connected (Linear/Gemm/MatMul, with ReLU) and LSTM layers"


@dataclass
class Imported:
    """A network read by a frontend: ``layers`` for an MLP, or ``lstm``."""

    layers: list[DenseLayer] | None = None
    lstm: FloatLSTM | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "lstm" if self.lstm is not None else "mlp"

    @property
    def all_layers(self) -> list[DenseLayer]:
        return self.lstm.layers if self.lstm is not None else list(self.layers or [])


def load_model(path: str | os.PathLike, trust_pickle: bool = False, last_activation: str = "none") -> Imported:
    """Read a weights ``.npz``, a PyTorch ``.pt``/``.pth`` or an ``.onnx`` file."""
    p = str(path)
    if not os.path.exists(p):
        raise FormatError(f"{p}: no such file")
    low = p.lower()
    if low.endswith((".pt", ".pth", ".bin", ".ckpt")):
        from eie.frontend.torch import load_torch_file

        return load_torch_file(p, trust_pickle=trust_pickle)
    if low.endswith(".onnx"):
        from eie.frontend.onnx import load_onnx

        return load_onnx(p)
    with open(p, "rb") as f:
        magic = f.read(4)
    if magic.startswith(b"PK"):
        import zipfile

        try:
            with zipfile.ZipFile(p) as z:
                is_torch = any(n.endswith("data.pkl") for n in z.namelist())
        except zipfile.BadZipFile:
            is_torch = False
        if is_torch:
            from eie.frontend.torch import load_torch_file

            return load_torch_file(p, trust_pickle=trust_pickle)
    # A weights .npz (an LSTM's, or Linear layers'); its reader says what is wrong with anything else.
    from eie.compression.lstm import LSTM_KEY, load_lstm_weights
    from eie.compression.weights import load_weights, open_npz

    if LSTM_KEY in open_npz(p):
        return Imported(lstm=load_lstm_weights(p), source=p)
    return Imported(layers=load_weights(p, last_activation=last_activation), source=p)
