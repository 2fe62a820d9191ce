"""Image format version 3: streamed layers (flag bit 2, column directory, 4 KiB-aligned stream section)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.arithmetic.emulator import Emulator
from eie.errors import CapacityError, ConfigError, ImageError
from eie.format import image as fmt
from eie.format.csc import encode
from eie.format.qmodel import HWParams, QuantLayer, QuantModel
from eie.format.stream import column_offsets, count_bits, encode_stream
from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import check_model_fits, estimate, model_needs


def random_layer(rng, m, k, params: HWParams, ternary: bool, relu: bool, storage: str) -> QuantLayer:
    """Empty, sparse and dense columns, and zero runs longer than the index field (padding entries)."""
    dens = rng.choice([0.0, 0.1, 0.5, 0.95], size=k)
    mask = rng.random((m, k)) < dens
    if m > 2 * params.n_pes * (1 << params.index_bits):
        mask[1 : m - 1, int(rng.integers(0, k))] = False
    rows, cols = np.nonzero(mask)
    order = np.lexsort((rows, cols))
    rows, cols = rows[order], cols[order]
    nb = 1 << params.weight_bits
    codes = rng.integers(1, 3 if ternary else nb, size=rows.size)
    enc = encode(rows, cols, codes, (m, k), params.n_pes, params.index_bits, params.weight_bits)
    cb = np.zeros(nb, dtype=np.int64)
    cb[1:] = rng.integers(-20, 20, size=nb - 1)
    if ternary:
        cb[1], cb[2], cb[3:] = 9, -6, 0
    bias = rng.integers(-40, 40, size=m)
    return QuantLayer("l", enc, cb, bias, rng.permutation(m), 4, 3, 4, relu, ternary, storage=storage)


def random_model(params: HWParams, storage, seed=0, widths=(37, 29, 41, 13), ternary=False) -> QuantModel:
    rng = np.random.default_rng(seed)
    layers = [
        random_layer(
            rng,
            widths[i + 1],
            widths[i],
            params,
            ternary=ternary and i == 1,
            relu=i + 2 < len(widths),
            storage=storage[i],
        )
        for i in range(len(widths) - 1)
    ]
    return QuantModel(params, layers)


MIXES = {
    "mixed": ("onchip", "stream", "onchip"),
    "mixed_ends": ("stream", "onchip", "stream"),
    "all_stream": ("stream", "stream", "stream"),
}
P3 = HWParams(n_pes=3, weight_bits=4, index_bits=3, act_bits=16, cb_bits=12, acc_bits=32)


def desc(img: np.ndarray, layer: int) -> int:
    return int(img[fmt.H_DESC]) + fmt.DESC_WORDS * layer


def resealed(img: np.ndarray) -> np.ndarray:
    img = img.copy()
    img[fmt.H_CHECKSUM] = fmt.checksum(img)
    return img


def refused(img: np.ndarray, code: str) -> str:
    with pytest.raises(ImageError) as info:
        fmt.read_image(resealed(img))
    assert info.value.code == code, str(info.value)
    msg = str(info.value)
    assert msg and "\n" not in msg
    return msg


def assert_same_layers(got: QuantModel, want: QuantModel):
    assert [l.storage for l in got.layers] == [l.storage for l in want.layers]
    for g, w in zip(got.layers, want.layers):
        assert g.shape == w.shape and (g.relu, g.ternary) == (w.relu, w.ternary)
        assert np.array_equal(g.encoded.ptr, w.encoded.ptr)
        assert np.array_equal(g.encoded.pe_start, w.encoded.pe_start)
        assert np.array_equal(g.encoded.v, w.encoded.v) and np.array_equal(g.encoded.z, w.encoded.z)
        assert np.array_equal(g.codebook, w.codebook) and np.array_equal(g.bias, w.bias)
        assert np.array_equal(g.perm, w.perm)


# -- the layout ---------------------------------------------------------------------------------


def test_constants():
    assert fmt.VERSION == 5
    assert (fmt.D_COUNT_BITS, fmt.D_DIR) == (14, 15)
    assert (fmt.FLAG_RELU, fmt.FLAG_TERNARY, fmt.FLAG_STREAMED) == (1, 2, 4)
    assert fmt.STREAM_ALIGN_WORDS == 512


def test_streamed_layer_layout_word_by_word():
    qm = random_model(P3, MIXES["mixed"], seed=3)
    img = fmt.build_image(qm)
    for i, ql in enumerate(qm.layers):
        d = img[desc(img, i) : desc(img, i) + fmt.DESC_WORDS].astype(np.int64)
        if ql.storage == "onchip":
            assert not d[fmt.D_FLAGS] & fmt.FLAG_STREAMED
            assert d[fmt.D_COUNT_BITS] == 0 and d[fmt.D_DIR] == 0
            continue
        enc = ql.encoded
        k = enc.shape[1]
        st_ = encode_stream(enc)
        assert d[fmt.D_FLAGS] & fmt.FLAG_STREAMED
        assert d[fmt.D_COUNTS] == 0 and d[fmt.D_PTR] == 0
        assert d[fmt.D_COUNT_BITS] == count_bits(enc)
        # Sections in order: codebook, bias, perm, directory, zero words to a 4 KiB boundary, stream.
        assert d[fmt.D_CODEBOOK] < d[fmt.D_BIAS] < d[fmt.D_PERM] < d[fmt.D_DIR] < d[fmt.D_ENTRIES]
        assert d[fmt.D_DIR] == d[fmt.D_PERM] + (enc.shape[0] + 1) // 2
        dir_words = (k + 2) // 2
        offs = img[d[fmt.D_DIR] : d[fmt.D_DIR] + dir_words].view("<u4")
        assert np.array_equal(offs[: k + 1], column_offsets(enc))
        assert np.all(offs[k + 1 :] == 0)
        assert d[fmt.D_ENTRIES] % 512 == 0
        assert d[fmt.D_ENTRIES] - (d[fmt.D_DIR] + dir_words) < 512
        assert np.all(img[d[fmt.D_DIR] + dir_words : d[fmt.D_ENTRIES]] == 0)
        nbytes = int(st_.col_offset[-1])
        assert d[fmt.D_ENTRY_WORDS] == 2 * -(-nbytes // 16)
        raw = img[d[fmt.D_ENTRIES] : d[fmt.D_ENTRIES] + d[fmt.D_ENTRY_WORDS]].astype("<u8").view(np.uint8)
        assert np.array_equal(raw[:nbytes], st_.data)
        assert np.all(raw[nbytes:] == 0)


@pytest.mark.parametrize("n", range(1, 9))
@pytest.mark.parametrize("ternary", [False, True])
@pytest.mark.parametrize("mix", sorted(MIXES))
def test_round_trip_bit_for_bit(n, ternary, mix):
    params = HWParams(n_pes=n, weight_bits=2 if ternary else 4, index_bits=3, act_bits=16, cb_bits=12, acc_bits=32)
    widths = (37, 2 * n + 3, 41, 13)  # odd K everywhere
    qm = random_model(params, MIXES[mix], seed=n, widths=widths, ternary=ternary)
    img = fmt.build_image(qm)
    got = fmt.read_image(img, expect=params)
    assert_same_layers(got, qm)
    assert np.array_equal(fmt.build_image(got), img)
    assert np.array_equal(fmt.build_image(fmt.read_image(fmt.image_bytes(img))), img)


def test_emulator_gives_the_same_integers_on_chip_and_streamed():
    for seed, params in enumerate([P3, HWParams(8, 2, 3, 8, 8, 20), HWParams(1, 4, 4, 16, 16, 32)]):
        outs = []
        x = np.random.default_rng(seed).integers(-60, 60, size=(7, 37))
        x[0] = 0
        x[1][::2] = 0
        for mix in (("onchip",) * 3, *MIXES.values()):
            qm = random_model(params, mix, seed=seed, ternary=params.weight_bits == 2)
            back = fmt.read_image(fmt.build_image(qm))
            assert [l.storage for l in back.layers] == list(mix)
            outs.append(Emulator(back).run_layers(x))
        for o in outs[1:]:
            np.testing.assert_array_equal(o, outs[0])


def test_storage_is_validated():
    with pytest.raises(ConfigError, match="storage='ddr'"):
        random_model(P3, ("onchip", "ddr", "onchip"))


def test_an_on_chip_model_has_the_version_2_layout():
    """No directory and no alignment padding without a streamed layer: the sections back to back."""
    qm = random_model(P3, ("onchip",) * 3, seed=1)
    img = fmt.build_image(qm)
    n, per = P3.n_pes, P3.entries_per_word
    size = fmt.HEADER_WORDS + 3 * fmt.DESC_WORDS
    for ql in qm.layers:
        m, k = ql.shape
        words = int((-(-ql.encoded.n_entries // per)).sum())
        size += (1 << P3.weight_bits) + m + (m + 1) // 2 + n + n * ((k + 2) // 2) + words
    assert img.size == size


# -- what the reader refuses -------------------------------------------------------------------


def streamed_image(seed=5):
    qm = random_model(P3, MIXES["mixed"], seed=seed)
    return qm, fmt.build_image(qm), desc(fmt.build_image(qm), 1)


def test_misaligned_stream_section_is_refused():
    _, img, d = streamed_image()
    bad = img.copy()
    bad[d + fmt.D_ENTRIES] -= np.uint64(1)
    assert "4 KiB" in refused(bad, "bad_layer")


def test_counts_or_pointers_in_a_streamed_layer_are_refused():
    _, img, d = streamed_image()
    for field in (fmt.D_COUNTS, fmt.D_PTR):
        bad = img.copy()
        bad[d + field] = img[desc(img, 0) + field]  # a real section's offset
        assert "must be 0" in refused(bad, "bad_layer")


@pytest.mark.parametrize("c", [0, 1, 5, 7, 10, 24, 33, 2**40])
def test_count_bits_out_of_range_are_refused(c):
    _, img, d = streamed_image()
    bad = img.copy()
    bad[d + fmt.D_COUNT_BITS] = np.uint64(c)
    assert "4, 6, 8, 12, 16 or 32" in refused(bad, "bad_layer")


@pytest.mark.parametrize("field", ["D_COUNT_BITS", "D_DIR"])
def test_count_bits_or_directory_in_an_on_chip_layer_are_refused(field):
    _, img, _ = streamed_image()
    bad = img.copy()
    bad[desc(img, 0) + getattr(fmt, field)] = np.uint64(3)
    assert "must be 0" in refused(bad, "bad_layer")


def test_unknown_flag_is_refused():
    _, img, d = streamed_image()
    bad = img.copy()
    bad[d + fmt.D_FLAGS] |= np.uint64(8)
    assert "flags" in refused(bad, "bad_layer")


def directory(img, d, k):
    at = int(img[d + fmt.D_DIR])
    return at, img[at : at + (k + 2) // 2].view("<u4")


def test_directory_not_increasing_is_refused():
    qm, img, d = streamed_image()
    k = qm.layers[1].shape[1]
    bad = img.copy()
    _, offs = directory(bad, d, k)
    j = int(np.flatnonzero(np.diff(offs[: k + 1].astype(np.int64)) > 0)[0])
    offs[j], offs[j + 1] = offs[j + 1], offs[j]  # a decreasing step
    assert "non-decreasing" in refused(bad, "bad_layer")
    bad = img.copy()
    _, offs = directory(bad, d, k)
    offs[0] = 1
    assert "non-decreasing" in refused(bad, "bad_layer")


def test_directory_and_stream_length_must_agree():
    qm, img, d = streamed_image()
    k = qm.layers[1].shape[1]
    bad = img.copy()
    bad[d + fmt.D_ENTRY_WORDS] += np.uint64(1)
    assert "stream section" in refused(bad, "bad_layer")
    bad = img.copy()
    _, offs = directory(bad, d, k)
    offs[k] += 8  # the last block a word longer than the section
    assert "stream section" in refused(bad, "bad_layer")


def test_block_length_mismatch_is_refused():
    qm, img, d = streamed_image()
    k = qm.layers[1].shape[1]
    # Move a block boundary by one byte: the total stays, two blocks' lengths disagree with their counts.
    bad = img.copy()
    _, offs = directory(bad, d, k)
    lens = np.diff(offs[: k + 1].astype(np.int64))
    j = int(np.flatnonzero(lens[:-1] > -(-3 * count_bits(qm.layers[1].encoded) // 8))[0])
    offs[j + 1] -= 1
    assert "bytes" in refused(bad, "bad_layer")
    # Change a count in a block header (the block's first byte): its length no longer matches.
    bad = img.copy()
    start = int(img[d + fmt.D_ENTRIES])
    data = bad[start : start + int(img[d + fmt.D_ENTRY_WORDS])].view(np.uint8)
    data[0] ^= 1
    assert "bytes" in refused(bad, "bad_layer")


def test_block_shorter_than_its_header_is_refused():
    qm, img, d = streamed_image()
    k = qm.layers[1].shape[1]
    bad = img.copy()
    _, offs = directory(bad, d, k)
    offs[1 : k + 1] = offs[k]  # every block empty but the first, which takes the section
    assert "header" in refused(bad, "bad_layer")


def test_stream_sections_outside_the_image_are_refused():
    _, img, d = streamed_image()
    for field, value in ((fmt.D_DIR, 0), (fmt.D_DIR, img.size), (fmt.D_ENTRIES, 512 * (img.size // 512 + 1))):
        bad = img.copy()
        bad[d + field] = np.uint64(value)
        assert "outside" in refused(bad, "bad_offset")


def test_decoded_entries_are_checked_like_on_chip_ones():
    """A row index past the PE's rows, or a code a ternary layer does not use, in a streamed block."""
    params = HWParams(n_pes=1, weight_bits=4, index_bits=4, act_bits=16, cb_bits=12, acc_bits=32)
    enc = encode(np.array([0, 1]), np.array([0, 0]), np.array([1, 2]), (2, 1), 1, 4, 4)
    ql = QuantLayer("s", enc, np.arange(16) * (np.arange(16) < 3), np.zeros(2), np.arange(2), 4, 3, 4, False)
    ql.storage = "stream"
    img = fmt.build_image(QuantModel(params, [ql]))
    d = desc(img, 0)
    start = int(img[d + fmt.D_ENTRIES])
    # The block: a 2-bit count (2), then two 8-bit entries (v = 1, z = 0) and (v = 2, z = 0) at bits
    # 2..9 and 10..17. z of the second entry (bits 14..17) to 15: its row, 16, is past the layer's 2.
    bad = img.copy()
    data = bad[start : start + 1].view(np.uint8)
    data[1] |= np.uint8(0xC0)
    data[2] |= np.uint8(0x03)
    assert "row index" in refused(bad, "bad_layer")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_resealed_corruption_of_a_streamed_image_is_refused_or_consistent(data):
    qm = random_model(P3, MIXES["mixed_ends"], seed=2, widths=(9, 7, 5, 4))
    img = fmt.build_image(qm)
    hot = [desc(img, l) + w for l in range(3) for w in range(fmt.DESC_WORDS)]
    hot += [int(img[desc(img, l) + fmt.D_DIR]) for l in (0, 2)]
    hot += [int(img[desc(img, l) + fmt.D_ENTRIES]) for l in (0, 2)]
    pos = data.draw(st.one_of(st.sampled_from(hot), st.integers(0, img.size - 1)))
    value = data.draw(
        st.one_of(
            st.integers(0, 2**64 - 1),
            st.integers(0, 600),
            st.just(int(img[pos]) ^ (1 << data.draw(st.integers(0, 63)))),
            st.just(int(img[pos]) + 1),
        )
    )
    img[pos] = np.uint64(value % 2**64)
    try:
        got = fmt.read_image(resealed(img))
    except ImageError as e:
        assert e.code and str(e)
        return
    for layer in got.layers:
        layer.encoded.decode()
    Emulator(got).run_layers(np.ones((1, got.in_features), dtype=np.int64))


# -- capacity: the directory ---------------------------------------------------------------------


def config_for(params: HWParams, **fields) -> AcceleratorConfig:
    return AcceleratorConfig(
        board="zcu104",
        n_pes=params.n_pes,
        weight_bits=params.weight_bits,
        index_bits=params.index_bits,
        act_bits=params.act_bits,
        cb_bits=params.cb_bits,
        acc_bits=params.acc_bits,
        **fields,
    )


def test_model_needs_count_on_chip_entries_and_the_directory():
    qm = random_model(P3, MIXES["mixed"], seed=4)
    per = P3.entries_per_word
    needs = model_needs(qm)
    on = [qm.layers[0], qm.layers[2]]
    want = sum(-(-l.encoded.n_entries // per) for l in on)
    assert np.array_equal(needs.entry_words, want)
    assert needs.pointers == sum(l.shape[1] + 1 for l in on)
    assert needs.directory == qm.layers[1].shape[1] + 1 == 30
    assert needs.act == -(-41 // 3) and needs.bias == sum(-(-l.shape[0] // 3) for l in qm.layers)
    assert needs.depths()["dir_depth"] == 30
    assert model_needs(random_model(P3, ("onchip",) * 3)).directory == 0


def test_check_model_fits_counts_dir_depth():
    qm = random_model(P3, MIXES["mixed_ends"], seed=4)  # streamed: 37 + 1 and 41 + 1
    check_model_fits(config_for(P3, dir_depth=80), qm)
    with pytest.raises(CapacityError) as e:
        check_model_fits(config_for(P3, dir_depth=79), qm)
    assert "dir_depth is 79" in str(e.value) and "dir_depth=80" in str(e.value)
    with pytest.raises(CapacityError) as e:
        check_model_fits(config_for(P3), qm)
    assert "dir_depth is 0" in str(e.value) and "dir_depth=80" in str(e.value)
    # Streamed entries take no entry memory: a tiny entry_depth holds the on-chip layer.
    onchip_words = int(model_needs(qm).entry_words.max())
    check_model_fits(config_for(P3, dir_depth=80, entry_depth=onchip_words, ptr_depth=30), qm)
    # The same model all on chip needs no directory and does not fit those depths.
    for ql in qm.layers:
        ql.storage = "onchip"
    check_model_fits(config_for(P3), qm)
    with pytest.raises(CapacityError, match="entry_depth"):
        check_model_fits(config_for(P3, entry_depth=onchip_words, ptr_depth=30), qm)


def test_dir_depth_field_and_its_memory():
    assert AcceleratorConfig().dir_depth == 0 and not AcceleratorConfig().streaming
    with pytest.raises(ConfigError, match="dir_depth"):
        AcceleratorConfig(dir_depth=-1)
    with pytest.raises(ConfigError, match="dir_depth"):
        AcceleratorConfig(dir_depth=1 << 23)
    off = AcceleratorConfig(board="zcu104", n_pes=8)
    on = off.replace(dir_depth=4097)
    assert on.streaming and on.dir_bank_depth == 2049
    e0, e1 = estimate(off), estimate(on)
    assert (e0.dir_bits, e0.dir_bram18) == (0, 0)
    # Two banks: 2049 x 32 bits (offsets 0, 2, ..., 4096) in 5 BRAM18 (512 x 36 shape) and
    # 2048 x 32 (1, 3, ..., 4095) in 4; a copy for each of the ZCU104's two stream lanes.
    assert on.dir_odd_depth == 2048 and on.ports == 2
    assert (e1.dir_bits, e1.dir_bram18) == (2 * 4097 * 32, 2 * 9)
    # Each lane's word FIFO (16 outstanding bursts of 64 128-bit beats: 1024 x 128 bits, 8 BRAM18),
    # and each lane's m_axi read buffer of the same size.
    assert e1.stream_fifo_bram18 == 2 * 8
    assert 2 * (e1.bram36 - e0.bram36) == 18 + 16 + 16
    assert e1.to_dict()["dir_bram18"] == 18
    # A small directory fits LUTRAM.
    assert estimate(off.replace(dir_depth=30)).dir_bram18 == 0


# -- the tools: storage from the configuration --------------------------------------------------


def compressed_model(seed=0, shapes=((24, 30), (10, 24))):
    from eie.compression.model import CompressedLayer, CompressedModel

    rng = np.random.default_rng(seed)
    layers = []
    for i, (m, k) in enumerate(shapes):
        codes = np.where(rng.random((m, k)) < 0.3, rng.integers(1, 16, size=(m, k)), 0).astype(np.uint8)
        cb = np.concatenate([[0.0], np.linspace(-0.5, 0.5, 15)])
        act = "relu" if i + 1 < len(shapes) else "none"
        layers.append(CompressedLayer.from_dense_codes(f"fc{i}", codes, cb, rng.normal(0, 0.1, m), activation=act))
    return CompressedModel(layers)


def test_quantized_model_follows_the_configuration_storage():
    from eie.hardware.target import quantized_model

    model = compressed_model()
    base = dict(board="pynq-z2", n_pes=4)
    cfg, qm, _ = quantized_model(model, AcceleratorConfig(**base, storage="stream", dir_depth=56))
    assert [l.storage for l in qm.layers] == ["stream", "stream"]
    back = fmt.read_image(qm.to_image(), expect=cfg.to_hwparams())
    assert [l.storage for l in back.layers] == ["stream", "stream"]
    with pytest.raises(CapacityError, match="dir_depth=56"):
        quantized_model(model, AcceleratorConfig(**base, storage="stream"))
    # auto: a layer that does not fit what the earlier on-chip layers left is streamed.
    cfg, qm, _ = quantized_model(model, AcceleratorConfig(**base, ptr_depth=31, dir_depth=25))
    assert [l.storage for l in qm.layers] == ["onchip", "stream"]
    with pytest.raises(CapacityError, match="dir_depth=25"):
        quantized_model(model, AcceleratorConfig(**base, ptr_depth=31))
    cfg, qm, _ = quantized_model(model, AcceleratorConfig(**base, storage="onchip"))
    assert [l.storage for l in qm.layers] == ["onchip", "onchip"]


def test_default_hardware_sizes_the_directory():
    from eie.hardware.streaming import board_storage
    from eie.hardware.target import quantized_model

    cfg, qm, _ = quantized_model(compressed_model())
    assert [l.storage for l in qm.layers] == ["onchip", "onchip"] and cfg.dir_depth == 0
    layers = [l.encoded for l in qm.layers]
    storage, sized = board_storage(cfg.replace(storage="stream"), layers)
    assert storage == ["stream", "stream"] and sized.dir_depth == 31 + 25
    assert board_storage(cfg.replace(storage="onchip"), layers)[1].dir_depth == 0


def test_fuzz_mutants_of_streamed_images_only_meet_image_errors():
    from eie.kernel import fuzz

    cfg = AcceleratorConfig(board="zcu104", n_pes=3, weight_bits=3, index_bits=2, dir_depth=64, act_depth=8)
    qms = [fuzz.fuzz_model(cfg, s) for s in range(12)]
    assert any(l.storage == "stream" for q in qms for l in q.layers)
    rng = np.random.default_rng(0)
    for qm in qms:
        base = fmt.build_image(qm)
        assert fuzz.reader_verdict(base, cfg)[0]
        for _, words in fuzz.mutants(base, rng, 40):
            ok, got, _ = fuzz.reader_verdict(words, cfg)
            if ok:
                Emulator(got).run_layers(np.ones((1, got.in_features), dtype=np.int64))
