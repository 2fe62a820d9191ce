"""The model image: round trip and the strict reader's refusals."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.errors import ImageError
from eie.format.csc import encode_dense
from eie.format.image import (
    D_BIAS,
    D_CODEBOOK,
    D_ENTRIES,
    D_FLAGS,
    D_FW,
    D_SHIFT,
    DESC_WORDS,
    FLAG_TERNARY,
    H_CHECKSUM,
    H_DESC,
    H_TOTAL,
    H_VERSION,
    HEADER_WORDS,
    VERSION,
    build_image,
    checksum,
    crc32_word_masks,
    image_bytes,
    load_image,
    read_image,
    save_image,
)
from eie.format.qmodel import HWParams, QuantLayer, QuantModel

PARAMS = HWParams(n_pes=3, weight_bits=3, index_bits=2, act_bits=16, cb_bits=12, acc_bits=32)


def make_model():
    """Two layers (7x5 then 4x7) built by hand with small integer codebooks."""
    rng = np.random.default_rng(7)
    b = PARAMS.weight_bits
    shapes = [(7, 5), (4, 7)]
    logical = []
    for m, k in shapes:
        c = rng.integers(1, 1 << b, (m, k)).astype(np.uint8)
        c[rng.random((m, k)) < 0.6] = 0
        logical.append(c)
    logical[0][:, 2] = 0  # an empty column
    logical[0][4, :] = 0  # an empty row
    perm0 = np.array([3, 0, 6, 1, 5, 2, 4])
    perm1 = np.arange(4)
    # Layer 0's rows are permuted, so layer 1's columns follow (W' = W P^T).
    phys = [logical[0][perm0], logical[1][perm1][:, perm0]]
    layers = [
        QuantLayer(
            name="fc1",
            encoded=encode_dense(phys[0], PARAMS.n_pes, PARAMS.index_bits, b),
            codebook=np.array([0, -7, -3, -1, 1, 2, 5, 300]),
            bias=np.array([10, -20, 30, 0, 5, -1, 2**20])[perm0],
            perm=perm0,
            fa_in=8,
            fw=6,
            fa_out=8,
            relu=True,
        ),
        QuantLayer(
            name="fc2",
            encoded=encode_dense(phys[1], PARAMS.n_pes, PARAMS.index_bits, b),
            codebook=np.array([0, 4, -4, 0, 0, 0, 0, 0]),
            bias=np.array([-(2**31), 1, 2, 2**31 - 1]),
            perm=perm1,
            fa_in=8,
            fw=3,
            fa_out=11,
            relu=False,
            ternary=True,
        ),
    ]
    return QuantModel(PARAMS, layers), phys


def assert_same(got: QuantModel, want: QuantModel, phys):
    assert got.params == want.params
    assert len(got.layers) == len(want.layers)
    for g, w, codes in zip(got.layers, want.layers, phys):
        assert g.shape == w.shape
        assert np.array_equal(g.codebook, w.codebook)
        assert np.array_equal(g.bias, w.bias)
        assert np.array_equal(g.perm, w.perm)
        assert (g.fa_in, g.fw, g.fa_out, g.shift) == (w.fa_in, w.fw, w.fa_out, w.shift)
        assert (g.relu, g.ternary) == (w.relu, w.ternary)
        assert np.array_equal(g.encoded.ptr, w.encoded.ptr)
        assert np.array_equal(g.encoded.decode(), codes)


def test_round_trip_array_bytes_and_file(tmp_path):
    qm, phys = make_model()
    img = build_image(qm)
    assert img.dtype == np.uint64 and int(img[H_TOTAL]) == img.size
    assert_same(read_image(img), qm, phys)
    assert_same(read_image(image_bytes(img)), qm, phys)
    assert_same(read_image(img, expect=PARAMS), qm, phys)
    path = tmp_path / "model.img"
    save_image(path, qm)
    assert path.stat().st_size == 8 * img.size
    assert_same(load_image(path, expect=PARAMS), qm, phys)


def test_header_words_little_endian():
    qm, _ = make_model()
    raw = image_bytes(build_image(qm))
    assert raw[:8] == b"EIEIMAGE"
    assert int.from_bytes(raw[8:16], "little") == VERSION == 5
    # N, weight_bits, index_bits, act_bits, cb_bits, acc_bits follow the total.
    fields = [int.from_bytes(raw[8 * i : 8 * i + 8], "little") for i in range(3, 9)]
    assert fields == [3, 3, 2, 16, 12, 32]


def refused(data, code, expect=None) -> str:
    with pytest.raises(ImageError) as info:
        read_image(data, expect=expect)
    assert info.value.code == code
    msg = str(info.value)
    assert msg and "\n" not in msg
    return msg


def resealed(img: np.ndarray) -> np.ndarray:
    img = img.copy()
    img[H_CHECKSUM] = 0
    img[H_CHECKSUM] = checksum(img)
    return img


def test_bad_magic():
    img = build_image(make_model()[0])
    img[0] ^= np.uint64(1)
    assert "magic" in refused(img, "bad_magic")
    assert "magic" in refused(b"\x00" * 8 * 40, "bad_magic")


def test_bad_version():
    img = build_image(make_model()[0])
    img[H_VERSION] = 1  # the plain-sum format before CRC-32
    assert "version 1" in refused(resealed(img), "bad_version")
    img[H_VERSION] = 2  # CRC-32, before streamed layers
    assert "rebuild the image" in refused(resealed(img), "bad_version")


def test_truncated():
    raw = image_bytes(build_image(make_model()[0]))
    assert "truncated" in refused(raw[:-8], "truncated")
    assert "whole number" in refused(raw[:-3], "truncated")
    assert "header" in refused(raw[: 8 * (HEADER_WORDS - 1)], "truncated")
    assert "header" in refused(b"", "truncated")


def test_mismatched_parameters():
    img = build_image(make_model()[0])
    msg = refused(img, "params_mismatch", expect=HWParams(n_pes=4, weight_bits=3, index_bits=2, cb_bits=12))
    assert "N 3 (kernel has 4)" in msg
    msg = refused(img, "params_mismatch", expect=HWParams(n_pes=3, weight_bits=4, index_bits=2, cb_bits=12))
    assert "weight_bits 3 (kernel has 4)" in msg


def test_offsets_past_the_end():
    img = build_image(make_model()[0])
    bad = img.copy()
    bad[HEADER_WORDS + D_ENTRIES] = img.size  # layer 0's entries start at the end
    assert "entries" in refused(resealed(bad), "bad_offset")
    bad = img.copy()
    bad[H_DESC] = img.size - 3
    assert "descriptors" in refused(resealed(bad), "bad_offset")
    bad = np.concatenate([img, np.zeros(2, np.uint64)])
    assert "past its declared end" in refused(resealed(bad), "bad_offset")


def test_checksum():
    img = build_image(make_model()[0])
    img[HEADER_WORDS + 2 * DESC_WORDS + 3] ^= np.uint64(1 << 40)  # a codebook word
    assert "checksum" in refused(img, "checksum")


def test_checksum_is_zlib_crc32_of_the_bytes_with_the_checksum_word_zero():
    img = build_image(make_model()[0])
    raw = bytearray(image_bytes(img))
    raw[8 * H_CHECKSUM : 8 * H_CHECKSUM + 8] = bytes(8)
    assert int(img[H_CHECKSUM]) == zlib.crc32(bytes(raw))


def test_swapped_bias_words_change_the_checksum():
    """A plain sum (format version 1) could not see this; CRC-32 does."""
    qm, _ = make_model()
    img = build_image(qm)
    at = int(img[HEADER_WORDS + D_BIAS])
    assert img[at] != img[at + 1]
    img[[at, at + 1]] = img[[at + 1, at]]
    assert "checksum" in refused(img, "checksum")


def test_crc_word_masks_reproduce_zlib():
    """The kernel's one-word-per-cycle CRC (XOR masks) against zlib on random words."""
    state_masks, data_masks = crc32_word_masks()

    def parity(x: int) -> int:
        return bin(x).count("1") & 1

    words = np.random.default_rng(3).integers(0, 2**64 - 1, 40, dtype=np.uint64, endpoint=True)
    s = 0xFFFFFFFF
    for w in map(int, words):
        s = sum((parity(s & state_masks[i]) ^ parity(w & data_masks[i])) << i for i in range(32))
    assert s ^ 0xFFFFFFFF == zlib.crc32(words.astype("<u8").tobytes())


def test_shift_at_or_past_the_accumulator_is_refused():
    img = build_image(make_model()[0])
    d = HEADER_WORDS  # layer 0's descriptor
    bad = img.copy()
    bad[d + D_FW] += np.uint64(32)  # acc_bits is 32: shift grows to >= 32
    bad[d + D_SHIFT] += np.uint64(32)
    assert "acc_bits=32" in refused(resealed(bad), "bad_layer")


def test_ternary_layer_with_other_codes_is_refused():
    qm, _ = make_model()
    img = build_image(qm)
    d = HEADER_WORDS
    bad = img.copy()
    bad[d + D_FLAGS] |= np.uint64(FLAG_TERNARY)
    bad[int(bad[d + D_CODEBOOK]) + 3] = np.uint64(5)
    assert "codes 1" in refused(resealed(bad), "bad_layer")


def test_layers_built_for_other_parameters_are_not_written():
    qm, _ = make_model()
    qm.layers[0].encoded = encode_dense(np.ones((7, 5), np.uint8), 2, 2, 3)
    with pytest.raises(ImageError) as info:
        build_image(qm)
    assert info.value.code == "params_mismatch"


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_any_resealed_corruption_is_refused_or_consistent(data):
    """Damage one word and fix the checksum: the reader never crashes."""
    qm, _ = make_model()
    img = build_image(qm)
    pos = data.draw(st.integers(0, img.size - 1))
    value = data.draw(
        st.one_of(
            st.integers(0, 2**64 - 1),
            st.integers(0, 64),
            st.just(int(img[pos]) ^ 1),
            st.just(int(img[pos]) + 1),
        )
    )
    img[pos] = np.uint64(value % 2**64)
    try:
        got = read_image(resealed(img))
    except ImageError as e:
        assert e.code and str(e)
        return
    # Accepted: it must still describe a well-formed model.
    for layer in got.layers:
        layer.encoded.decode()
