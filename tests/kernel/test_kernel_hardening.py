"""The kernel never trusts the image: every check the host reader makes, the kernel makes too,
and no length or offset from the image takes it outside the buffers it was given.

Each case edits one field of a valid image, reseals its CRC (so only the field's own check
can refuse it) and asserts that the host reader and the C-simulated kernel both refuse it.
"""

from __future__ import annotations

import numpy as np
import pytest
from kernel_configs import kernel_config

from eie.errors import EIEError, ImageError
from eie.format import image as fmt
from eie.kernel.abi import KERNEL_STATUS
from eie.kernel.fuzz import fuzz_model

csim = pytest.importorskip("eie.kernel.csim")

STATUS = {name: code for code, name in KERNEL_STATUS.items()}


@pytest.fixture(scope="module")
def general():
    cfg = kernel_config(n_pes=3, weight_bits=4, index_bits=4)
    return cfg, csim.CSim(cfg), fuzz_model(cfg, 5)


@pytest.fixture(scope="module")
def ternary():
    cfg = kernel_config(n_pes=2, weight_bits=2, index_bits=3, ternary=True)
    qm = fuzz_model(cfg, 8)
    assert qm.layers[-1].ternary
    return cfg, csim.CSim(cfg), qm


def sealed(words: np.ndarray) -> np.ndarray:
    words[fmt.H_CHECKSUM] = fmt.checksum(words)
    return words


def desc(words: np.ndarray, layer: int) -> int:
    return int(words[fmt.H_DESC]) + layer * fmt.DESC_WORDS


def both_refuse(s, cfg, words: np.ndarray, reader_code: str, kernel_status: str = "bad_image") -> None:
    with pytest.raises(ImageError) as e:
        fmt.read_image(words, expect=cfg.to_hwparams())
    assert e.value.code == reader_code
    assert KERNEL_STATUS[s.load_status(words)] == kernel_status


def test_the_unedited_image_loads(general):
    cfg, s, qm = general
    assert s.load_status(qm.to_image()) == 0


def test_inconsistent_fixed_point_formats(general):
    cfg, s, qm = general
    w = qm.to_image()
    w[desc(w, 0) + fmt.D_FA_IN] += np.uint64(1)  # shift no longer fa_in + fw - fa_out
    both_refuse(s, cfg, sealed(w), "bad_layer")


def test_formats_that_do_not_chain(general):
    """Layer 1's fa_in differs from layer 0's fa_out, with its own shift made consistent."""
    cfg, s, qm = general
    w = qm.to_image()
    d1 = desc(w, 1)
    w[d1 + fmt.D_FA_IN] += np.uint64(1)
    w[d1 + fmt.D_SHIFT] += np.uint64(1)
    both_refuse(s, cfg, sealed(w), "bad_layer")


def test_shift_as_wide_as_the_accumulator(general):
    cfg, s, qm = general
    w = qm.to_image()
    d = desc(w, 0)
    grow = cfg.acc_bits - int(w[d + fmt.D_SHIFT])
    w[d + fmt.D_FW] += np.uint64(grow)
    w[d + fmt.D_SHIFT] += np.uint64(grow)  # shift == acc_bits, consistent with the formats
    both_refuse(s, cfg, sealed(w), "bad_layer")


def test_header_lengths_disagree_with_the_layers(general):
    cfg, s, qm = general
    for field in (fmt.H_IN, fmt.H_OUT):
        w = qm.to_image()
        w[field] += np.uint64(1)
        both_refuse(s, cfg, sealed(w), "bad_layer")


@pytest.mark.parametrize("how", ["duplicate", "out_of_range", "neighbours_equal"])
def test_row_permutation_that_is_not_one(general, how):
    cfg, s, qm = general
    w = qm.to_image()
    d = desc(w, 0)
    m, at = int(w[d + fmt.D_ROWS]), int(w[d + fmt.D_PERM])
    assert m >= 5
    perm = w[at : at + (m + 1) // 2].view("<u4")  # a view: edits go into the image
    if how == "duplicate":
        perm[4] = perm[0]  # four entries apart: caught by the bitmap, not the forwarding registers
    elif how == "out_of_range":
        perm[2] = m
    else:
        perm[1] = perm[0]
    both_refuse(s, cfg, sealed(w), "bad_layer")


def test_bias_wider_than_the_accumulator(general):
    cfg, s, qm = general
    w = qm.to_image()
    at = int(w[desc(w, 1) + fmt.D_BIAS]) + 1
    w[at] = np.uint64(1 << (cfg.acc_bits - 1))  # one past the largest acc_bits value
    both_refuse(s, cfg, sealed(w), "bad_layer")


def test_weight_past_the_rows_of_its_pe(general):
    """The kernel used to drop such a weight silently at run time; now both refuse it at load."""
    cfg, s, qm = general
    layer = qm.layers[0]
    enc = layer.encoded
    pe = int(np.flatnonzero(enc.n_entries)[0])
    w = qm.to_image()
    d = desc(w, 0)
    words_before = sum(-(-int(c) // cfg.entries_per_word) for c in enc.n_entries[:pe])
    at = int(w[d + fmt.D_ENTRIES]) + words_before  # the PE's first entry word, slot 0: a real entry
    entry = int(w[at])
    width = cfg.weight_bits + cfg.index_bits
    assert entry & ((1 << cfg.weight_bits) - 1), "slot 0 must hold a weight, not padding"
    z_max = (1 << cfg.index_bits) - 1
    rows_of_pe = len(range(pe, layer.shape[0], cfg.n_pes))
    assert z_max >= rows_of_pe  # the longest run reaches past the PE's rows
    code = entry & ((1 << cfg.weight_bits) - 1)
    w[at] = np.uint64((entry & ~((1 << width) - 1)) | code | z_max << cfg.weight_bits)
    both_refuse(s, cfg, sealed(w), "bad_layer")


def test_ternary_layer_with_a_third_code(ternary):
    cfg, s, qm = ternary
    w = qm.to_image()
    d = desc(w, len(qm.layers) - 1)
    w[int(w[d + fmt.D_CODEBOOK]) + 3] = np.uint64(1)
    both_refuse(s, cfg, sealed(w), "bad_layer")


# -- lengths: the buffer, not the header, bounds every read -----------------------------------


def test_image_shorter_than_its_header_says(general):
    cfg, s, qm = general
    w = qm.to_image()
    for cut in (w.size - 1, w.size // 2, fmt.HEADER_WORDS, fmt.HEADER_WORDS - 1, 3, 0):
        assert KERNEL_STATUS[s.load_status(w[:cut].copy())] == "bad_image", cut
        with pytest.raises(ImageError):
            fmt.read_image(w[:cut])


def test_header_claims_a_huge_image(general):
    """The issue's reproducers: a total of 2^27 (and just below) on a 200-word image. The C-sim used to
    pad to the header's length or read past the buffer; the buffer is now exactly the caller's."""
    cfg, s, qm = general
    w = qm.to_image()[:200].copy()
    for total in (1 << 27, (1 << 27) - 1, 1 << 40, 2**64 - 1):
        w[fmt.H_TOTAL] = np.uint64(total)
        both_refuse(s, cfg, sealed(w), "truncated")


def test_words_past_the_declared_end(general):
    cfg, s, qm = general
    w = np.concatenate([qm.to_image(), np.zeros(3, np.uint64)])
    both_refuse(s, cfg, sealed(w), "bad_offset")


def test_run_checks_the_buffer_lengths(general):
    """n_vectors vectors need n*K input words and n*M output words: the kernel refuses fewer."""
    cfg, s, qm = general
    s.load(qm.to_image())
    k, m = qm.in_features, qm.out_features
    x = np.zeros(3 * k, np.int64)
    assert s.run_raw(0, len(qm.layers) - 1, 3, x, 3 * m)[0] == 0
    assert s.run_raw(0, len(qm.layers) - 1, 3, x[:-1], 3 * m)[0] == STATUS["buffer_size"]
    assert s.run_raw(0, len(qm.layers) - 1, 3, x, 3 * m - 1)[0] == STATUS["buffer_size"]
    assert s.run_raw(0, len(qm.layers) - 1, 2, x[: 2 * k], 2 * m)[0] == 0


def test_driver_passes_the_allocation_lengths(general):
    """Through the PYNQ driver on the co-simulated IP: the length registers are the buffers' sizes."""
    from eie.board.cosim import CoSimAccelerator

    cfg, _, qm = general
    acc = CoSimAccelerator(cfg)
    acc.load(qm)
    regs = acc.registers.regs
    assert regs["image_words"] == qm.to_image().size
    x = np.zeros((4, qm.in_features))
    acc.run(x)
    assert (regs["in_words"], regs["out_words"]) == (4 * qm.in_features, 4 * qm.out_features)
    # A length register beyond its buffer would be a DMA fault on the board: the stand-in refuses it.
    regs_write = acc.registers.write_reg

    def lying(name, value):
        regs_write(name, value + 1 if name == "in_words" else value)

    acc.registers.write_reg = lying
    with pytest.raises(EIEError, match="in_words"):
        acc.run(x)
