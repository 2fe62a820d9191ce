"""Issue 9: the model and weights loaders refuse hand-edited, damaged or hostile files in one line."""

from __future__ import annotations

import zipfile
import zlib

import numpy as np
import pytest
from model_edits import edited_model

from eie.compression.model import CompressedLayer, CompressedModel
from eie.compression.weights import DenseLayer, load_weights, save_weights
from eie.errors import FormatError


@pytest.fixture
def model_path(tmp_path):
    rng = np.random.default_rng(3)
    codes = (rng.random((6, 5)) < 0.5) * rng.integers(1, 16, (6, 5))
    cb = np.concatenate(([0.0], np.linspace(-1, 1, 15)))
    layer = CompressedLayer.from_dense_codes("fc1", codes, cb, rng.normal(size=6), activation="none")
    path = tmp_path / "m.npz"
    CompressedModel([layer]).save(path)
    return path


def set_layer(field, value):
    return lambda meta: meta["layers"][0].__setitem__(field, value)


META_CASES = [
    (set_layer("shape", [6.7, 5]), "layer 'fc1': shape[0] must be an integer, got 6.7"),
    (set_layer("shape", [6, 5, 1]), "layer 'fc1': shape [6, 5, 1] must be two integers (out, in)"),
    (set_layer("shape", [6, 10**12]), "layer 'fc1': shape[1]=1000000000000 is out of range 1..67108864"),
    (set_layer("weight_bits", 4.0), "layer 'fc1': weight_bits must be an integer, got 4.0"),
    (set_layer("weight_bits", True), "layer 'fc1': weight_bits must be an integer, got True"),
    (set_layer("weight_bits", "4"), "layer 'fc1': weight_bits must be an integer, got '4'"),
    (set_layer("name", 5), "a layer name must be a string, got 5"),
    (set_layer("activation", ["relu"]), "layer 'fc1': activation must be a string, got ['relu']"),
    (lambda m: m.__setitem__("layers", {"a": 1}), "metadata 'layers' must be a list, got dict"),
    (lambda m: m.__setitem__("layers", ["x"]), "metadata of layer 0 must be a mapping, got 'x'"),
    (lambda m: m.__setitem__("settings", [1]), "metadata 'settings' must be a mapping, got list"),
]


@pytest.mark.parametrize("edit,message", META_CASES)
def test_hand_edited_metadata_is_refused_naming_the_field(model_path, tmp_path, edit, message):
    path = edited_model(model_path, tmp_path, edit)
    with pytest.raises(FormatError) as e:
        CompressedModel.load(path)
    assert str(e.value) == f"{path}: {message}"


ARRAY_CASES = [
    ({"0_rows": lambda a: a.astype(np.float64)}, "layer 'fc1': rows holds float64 values; expected integers"),
    (
        {"0_rows": lambda a: np.r_[np.uint64(2**64 - 1), a[1:].astype(np.uint64)]},
        "layer 'fc1': rows holds 18446744073709551615, outside 0..5",
    ),
    ({"0_codes": lambda a: a.astype(np.float64)}, "layer 'fc1': codes holds float64 values; expected integers"),
    ({"0_bias": lambda a: np.r_[np.nan, a[1:]]}, "layer 'fc1': bias contains NaN or infinity"),
    ({"0_bias": lambda a: np.r_[1e300, a[1:]]}, "layer 'fc1': bias holds 1e+300, beyond the supported magnitude 1e+30"),
    ({"0_codebook": lambda a: np.r_[0.0, np.inf, a[2:]]}, "layer 'fc1': codebook contains NaN or infinity"),
    (
        {"0_codebook": lambda a: a.astype(np.complex128)},
        "layer 'fc1': codebook holds complex values (complex128); expected real numbers",
    ),
]


@pytest.mark.parametrize("arrays,message", ARRAY_CASES)
def test_bad_arrays_are_refused_not_cast(model_path, tmp_path, arrays, message):
    path = edited_model(model_path, tmp_path, **arrays)
    with pytest.raises(FormatError) as e:
        CompressedModel.load(path)
    assert str(e.value) == f"{path}: {message}"


def test_damaged_compressed_npz_is_a_format_error_not_zlib_error(model_path, tmp_path):
    raw = model_path.read_bytes()
    info = zipfile.ZipFile(model_path).infolist()[1]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    messages = set()
    zlib_errors = 0
    for off in range(start, start + info.compress_size):
        damaged = bytearray(raw)
        damaged[off] ^= 0xFF
        path = tmp_path / "damaged.npz"
        path.write_bytes(bytes(damaged))
        try:
            with np.load(path) as z:
                [z[k] for k in z.files]
        except zlib.error:
            zlib_errors += 1  # what numpy raises, and eie inspect used to show as a traceback
        except Exception:
            pass
        try:
            CompressedModel.load(path)
        except FormatError as e:
            messages.add(str(e).split(" (")[0])
    assert zlib_errors > 0
    # every mutant of the deflate stream is refused as a damaged file (zlib.error and CRC errors alike)
    assert messages == {f"{path}: cannot read it as an .npz file: it is damaged or not one"}


def test_an_image_is_named_for_what_it_is(tmp_path):
    path = tmp_path / "image.bin"
    path.write_bytes(b"EIEIMAGE" + bytes(64))
    with pytest.raises(FormatError, match=r"is an EIE model image \(image.bin, written by eie generate\)"):
        CompressedModel.load(path)


def test_weights_loader_refuses_complex_nan_and_compressed_models(tmp_path, model_path):
    path = tmp_path / "w.npz"
    np.savez(path, **{"fc.weight": np.ones((2, 3), complex)})
    with pytest.raises(FormatError) as e:
        load_weights(path)
    assert str(e.value) == f"{path}: fc.weight holds complex values (complex128); expected real numbers"
    np.savez(path, **{"fc.weight": np.ones((2, 3)), "fc.bias": np.array([1.0, np.inf])})
    with pytest.raises(FormatError) as e:
        load_weights(path)
    assert str(e.value) == f"{path}: fc.bias contains NaN or infinity"
    with pytest.raises(FormatError) as e:
        load_weights(model_path)
    assert str(e.value).startswith(f"{model_path}: is already a compressed model (from eie compress)")


def test_a_failed_save_leaves_the_old_file(tmp_path, model_path, monkeypatch):
    before = model_path.read_bytes()
    model = CompressedModel.load(model_path)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError):
        model.save(model_path)
    assert model_path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        save_weights(model_path, [DenseLayer("fc", np.ones((2, 2)), np.zeros(2))])
    assert model_path.read_bytes() == before
