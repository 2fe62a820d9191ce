"""Hand-edited compressed-model files, as a careless or hostile user makes them."""

from __future__ import annotations

import json

import numpy as np


def edited_model(path, tmp_path, edit_meta=None, name: str = "edited.npz", **arrays):
    """A copy of the model file at ``path`` with its metadata passed through
    ``edit_meta`` and each array ``<layer>_<field>=fn`` replaced by fn(array)."""
    z = dict(np.load(path))
    meta = json.loads(bytes(z["__meta__"]).decode())
    if edit_meta:
        edit_meta(meta)
    z["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    for key, fn in arrays.items():
        field = key.replace("_", ".", 1)
        z[field] = fn(z[field])
    out = tmp_path / name
    np.savez(out, **z)
    return out
