"""The float-weights file that ``eie compress`` reads, and its layers.

An ``.npz`` with ``<layer>.weight`` (out x in) and optional ``<layer>.bias``
arrays, in layer order; ReLU between layers.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from eie.errors import FormatError, real_array
from eie.safeio import atomic_open

IMAGE_MAGIC = b"EIEIMAGE"  # how a model image (eie.format.image) begins; recognised to say what the file is


def open_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an .npz file, or a FormatError saying what the file is instead."""
    if not os.path.exists(path):
        raise FormatError(f"{path}: no such file")
    if os.path.isdir(path):
        raise FormatError(f"{path}: is a directory, not an .npz file")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(IMAGE_MAGIC):
        raise FormatError(
            f"{path}: is an EIE model image (image.bin, written by eie generate), not a compressed model .npz; "
            "images are read by the board driver (load) and eie.format.image.load_image, "
            "this command reads the .npz made by eie compress"
        )
    if head.startswith(b"\x93NUMPY"):
        raise FormatError(f"{path}: cannot read it as an .npz file: it is a single .npy array")
    if not head.startswith(b"PK"):
        raise FormatError(f"{path}: cannot read it as an .npz file: it has no zip archive signature")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as e:
        detail = " ".join(str(e).split()) or type(e).__name__
        if "pickle" in detail:
            detail = "it holds Python objects, which are never loaded"
        raise FormatError(f"{path}: cannot read it as an .npz file: it is damaged or not one ({detail})") from None


@dataclass
class DenseLayer:
    """A float layer as read from a weights file (before compression).

    ``mask`` (optional, same shape as ``weight``) marks the weights a pruned
    model keeps; compression then takes it as the layer's sparsity.
    """

    name: str
    weight: np.ndarray
    bias: np.ndarray
    activation: str = "relu"
    mask: np.ndarray | None = None


def load_weights(path: str | os.PathLike, last_activation: str = "none") -> list[DenseLayer]:
    """Read ``<layer>.weight`` / ``<layer>.bias`` arrays in file order.

    ReLU between layers and ``last_activation`` after the last one.
    """
    arrays = open_npz(path)
    if "__meta__" in arrays:
        raise FormatError(
            f"{path}: is already a compressed model (from eie compress); compress reads float weights "
            "(<layer>.weight and <layer>.bias arrays)"
        )
    if "__lstm__" in arrays:
        raise FormatError(
            f"{path}: an LSTM weights file; read it with eie.compression.lstm.load_lstm_weights "
            "(eie compress does so itself)"
        )
    names: list[str] = []
    for key in arrays:
        if key.endswith(".weight"):
            names.append(key[: -len(".weight")])
        elif not key.endswith(".bias"):
            raise FormatError(f"{path}: unexpected key {key!r}; expected '<layer>.weight' and optional '<layer>.bias'")
    if not names:
        raise FormatError(f"{path}: no '<layer>.weight' arrays found")
    orphans = [k for k in arrays if k.endswith(".bias") and k[: -len(".bias")] not in names]
    if orphans:
        raise FormatError(f"{path}: {orphans[0]!r} has no matching '.weight' array; rename or remove it")
    layers = []
    for i, name in enumerate(names):
        w = np.asarray(arrays[name + ".weight"])
        if w.ndim != 2 or w.size == 0:
            raise FormatError(f"{path}: {name}.weight has shape {w.shape}; expected a 2-D (out x in) matrix")
        w = real_array(f"{path}: {name}.weight", w)
        b = arrays.get(name + ".bias")
        if b is None:
            b = np.zeros(w.shape[0])
        b = real_array(f"{path}: {name}.bias", b)
        if b.shape != (w.shape[0],):
            raise FormatError(f"{path}: {name}.bias has shape {b.shape}, expected ({w.shape[0]},)")
        act = "relu" if i < len(names) - 1 else last_activation
        layers.append(DenseLayer(name, w.astype(np.float64), b, act))
    for prev, nxt in zip(layers, layers[1:]):
        if nxt.weight.shape[1] != prev.weight.shape[0]:
            raise FormatError(
                f"{path}: {nxt.name}.weight takes {nxt.weight.shape[1]} inputs but "
                f"{prev.name}.weight gives {prev.weight.shape[0]} outputs"
            )
    return layers


def save_weights(path: str | os.PathLike, layers: list[DenseLayer], extra: dict[str, np.ndarray] | None = None) -> None:
    """Write ``<layer>.weight``/``<layer>.bias`` (float32) and any ``extra`` arrays."""
    arrays = dict(extra or {})
    for l in layers:
        arrays[f"{l.name}.weight"] = np.asarray(l.weight, dtype=np.float32)
        arrays[f"{l.name}.bias"] = np.asarray(l.bias, dtype=np.float32)
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)
