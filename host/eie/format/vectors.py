"""Reading input vectors that users hand the CLI (``--input X.npy``)."""

from __future__ import annotations

import zipfile
import zlib

import numpy as np

from eie.errors import FormatError, real_array


def load_vectors(path: str, k: int, single: bool = False) -> np.ndarray:
    """A finite float array of input vectors (B x k, or one vector of k if ``single``).

    Refuses, with what to do: unreadable or empty files, an .npz archive, the
    wrong number of features, other ranks, NaN or infinity.
    """
    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory, not a .npy file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        detail = " ".join(str(e).split()) or "empty file"
        if "pickle" in detail:
            detail = "it holds Python objects, which are never loaded"
        raise FormatError(f"{path}: cannot read it as a .npy array ({detail})") from None
    if isinstance(x, np.lib.npyio.NpzFile):
        x.close()
        raise FormatError(f"{path}: is an .npz archive; expected one .npy array (np.save(path, X))")
    shape = x.shape
    if x.ndim not in (1, 2) or x.size == 0 or shape[-1] != k:
        want = f"one vector of {k}" if single else f"an array of shape (B, {k}) or one vector of {k}"
        raise FormatError(f"{path}: input has shape {shape}; the model takes {want}")
    x = real_array(f"{path}: input", x)
    if x.ndim == 1:
        x = x[None, :]
    if single and x.shape[0] != 1:
        raise FormatError(
            f"{path}: input has {x.shape[0]} vectors; this command takes one "
            "(save a single sample, e.g. np.save(path, X[0]))"
        )
    return x[0] if single else x
