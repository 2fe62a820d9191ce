"""Reading input vectors that users hand the CLI (``--input X.npy``)."""

from __future__ import annotations

import zipfile

import numpy as np

from eie.errors import FormatError


def load_vectors(path: str, k: int, single: bool = False) -> np.ndarray:
    """A finite float array of input vectors (B x k, or one vector of k if ``single``).

    Refuses, with what to do: unreadable or empty files, an .npz archive, the
    wrong number of features, other ranks, NaN or infinity.
    """
    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise FormatError(f"{path}: cannot read it as a .npy array ({e or 'empty file'})") from None
    if isinstance(x, np.lib.npyio.NpzFile):
        x.close()
        raise FormatError(f"{path}: is an .npz archive; expected one .npy array (np.save(path, X))")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise FormatError(f"{path}: holds {x.dtype} values; expected numbers")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != k or x.shape[0] == 0:
        want = f"one vector of {k}" if single else f"an array of shape (B, {k})"
        raise FormatError(f"{path}: input has shape {x.shape}; the model takes {want}")
    if single and x.shape[0] != 1:
        raise FormatError(
            f"{path}: input has {x.shape[0]} vectors; this command takes one "
            "(save a single sample, e.g. np.save(path, X[0]))"
        )
    if not np.all(np.isfinite(x)):
        raise FormatError(f"{path}: input contains NaN or infinity")
    return x[0] if single else x
