"""The model image: the flat little-endian uint64 buffer the kernel loads.

Layout (word offsets from the start; docs/image-format.md has the table):

* header, 16 words: magic, version, total words, the accelerator parameters
  (N, weight_bits, index_bits, act_bits, cb_bits, acc_bits), layer count,
  descriptor offset, input and output lengths, CRC-32;
* one 16-word descriptor per layer: shape, flags, fixed-point formats and the
  offsets of its sections;
* per on-chip layer: codebook (2^b int64), bias (M int64, physical row
  order), row permutation (uint32 pairs), per-PE entry counts, per-PE
  pointers (uint32 pairs, ceil((K+1)/2) words per PE), per-PE packed entry
  sections;
* per streamed layer (flag bit 2, ``QuantLayer.storage == "stream"``):
  codebook, bias and permutation as above, the column directory (K + 1 byte
  offsets as uint32 pairs), zero words up to a 4 KiB boundary, then the
  stream section: the column blocks of ``eie.format.stream`` (headers in
  the blocks), zero-padded to a whole word.

This module imports numpy only (it runs on the board).
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np

from eie.errors import FormatError, ImageError
from eie.format.csc import from_sections
from eie.format.qmodel import HWParams, QuantLayer, QuantModel
from eie.format.stream import COUNT_WIDTHS, StreamLayer, decode_stream, encode_stream
from eie.safeio import atomic_write

MAGIC = int.from_bytes(b"EIEIMAGE", "little")
# 5: a stream section is a whole number of 16-byte words (two 64-bit words), so
# a 128-bit reader never reads past it; 4: a streamed layer's count fields are
# 4, 6, 8, 12, 16 or 32 bits; 3: streamed layers (count fields 1..32 bits);
# 2: CRC-32 in the checksum word; 1 had a plain sum.
VERSION = 5
HEADER_WORDS = 16
DESC_WORDS = 16

# Header word indices.
H_MAGIC, H_VERSION, H_TOTAL, H_PES, H_WBITS, H_IBITS, H_ABITS, H_CBITS, H_ACCBITS = range(9)
H_LAYERS, H_DESC, H_IN, H_OUT, H_CHECKSUM = range(9, 14)
# Descriptor word indices.
D_ROWS, D_COLS, D_FLAGS, D_FA_IN, D_FW, D_FA_OUT, D_SHIFT = range(7)
D_CODEBOOK, D_BIAS, D_PERM, D_COUNTS, D_PTR, D_ENTRIES, D_ENTRY_WORDS = range(7, 14)
# Streamed layers only (0 in an on-chip layer): the count field width c and the directory.
D_COUNT_BITS, D_DIR = 14, 15

FLAG_RELU = 1
FLAG_TERNARY = 2
FLAG_STREAMED = 4
FLAGS = FLAG_RELU | FLAG_TERNARY | FLAG_STREAMED

# A stream section starts on a 4 KiB page (512 words), so the reader's bursts
# never straddle one more page than the data needs (eie.format.stream.read_plan).
STREAM_ALIGN_WORDS = 512
MAX_COUNT_BITS = COUNT_WIDTHS[-1]


def _u32_words(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.uint32)
    if a.size % 2:
        a = np.concatenate((a, np.zeros(1, np.uint32)))
    return a.view("<u8").astype(np.uint64)


def _ptr_words(k: int) -> int:
    return (k + 2) // 2


def stream_section_words(n_bytes: int) -> int:
    """A stream section's length in 64-bit words: its bytes rounded up to 16 (format version 5)."""
    return 2 * (-(-int(n_bytes) // 16))


def _stream_words(data: np.ndarray) -> np.ndarray:
    """Stream-section bytes as little-endian uint64 words, zero-padded to a whole 16-byte word."""
    b = np.zeros(stream_section_words(data.size) * 8, dtype=np.uint8)
    b[: data.size] = data
    return b.view("<u8").astype(np.uint64)


def build_image(qm: QuantModel) -> np.ndarray:
    """Serialise a QuantModel to the image (uint64 array, little-endian on disk).

    Each layer is on chip or streamed as its ``QuantLayer.storage`` says.
    """
    p = qm.params
    n = p.n_pes
    nl = len(qm.layers)
    desc = np.zeros((nl, DESC_WORDS), dtype=np.uint64)
    chunks: list[np.ndarray] = []
    offset = HEADER_WORDS + DESC_WORDS * nl

    def put(arr: np.ndarray) -> int:
        nonlocal offset
        start = offset
        chunks.append(arr.astype(np.uint64))
        offset += arr.size
        return start

    for i, ql in enumerate(qm.layers):
        enc = ql.encoded
        m, k = enc.shape
        if (enc.n_pes, enc.weight_bits, enc.index_bits) != (n, p.weight_bits, p.index_bits):
            raise ImageError(
                "params_mismatch",
                f"layer {ql.name!r} was encoded for N={enc.n_pes}, weight_bits={enc.weight_bits}, "
                f"index_bits={enc.index_bits}; the image is for N={n}, weight_bits={p.weight_bits}, "
                f"index_bits={p.index_bits}",
            )
        cb = np.zeros(1 << p.weight_bits, dtype=np.int64)
        cb[: ql.codebook.size] = ql.codebook
        d = desc[i]
        d[D_ROWS], d[D_COLS] = m, k
        d[D_FLAGS] = (FLAG_RELU if ql.relu else 0) | (FLAG_TERNARY if ql.ternary else 0)
        d[D_FA_IN], d[D_FW], d[D_FA_OUT], d[D_SHIFT] = ql.fa_in, ql.fw, ql.fa_out, ql.shift
        d[D_CODEBOOK] = put(cb.view(np.uint64))
        d[D_BIAS] = put(np.asarray(ql.bias, dtype=np.int64).view(np.uint64))
        d[D_PERM] = put(_u32_words(ql.perm))
        if ql.storage == "stream":
            st = encode_stream(enc)
            if st.col_offset[-1] >= 1 << 32:
                raise ImageError(
                    "bad_layer",
                    f"layer {ql.name!r}: its stream section is {int(st.col_offset[-1])} bytes; the directory's "
                    "byte offsets are 32-bit (at most 4 GiB per layer)",
                )
            d[D_FLAGS] |= np.uint64(FLAG_STREAMED)  # numpy 1 (the PYNQ image) has no safe uint64 | int
            d[D_COUNT_BITS] = st.count_bits
            d[D_DIR] = put(_u32_words(st.col_offset))
            pad = -offset % STREAM_ALIGN_WORDS
            if pad:
                put(np.zeros(pad, dtype=np.uint64))
            words = _stream_words(st.data)
            d[D_ENTRIES] = put(words)
            d[D_ENTRY_WORDS] = words.size
            continue
        counts = enc.n_entries.astype(np.uint64)
        d[D_COUNTS] = put(counts)
        d[D_PTR] = put(np.concatenate([_u32_words(enc.ptr[q]) for q in range(n)]))
        words = [enc.pack(q) for q in range(n)]
        allw = np.concatenate(words) if words else np.zeros(0, np.uint64)
        d[D_ENTRIES] = put(allw)
        d[D_ENTRY_WORDS] = allw.size
    head = np.zeros(HEADER_WORDS, dtype=np.uint64)
    head[H_MAGIC] = MAGIC
    head[H_VERSION] = VERSION
    head[H_TOTAL] = offset
    head[H_PES : H_ACCBITS + 1] = p.as_tuple()
    head[H_LAYERS] = nl
    head[H_DESC] = HEADER_WORDS
    head[H_IN] = qm.in_features
    head[H_OUT] = qm.out_features
    img = np.concatenate([head, desc.ravel()] + chunks).astype(np.uint64)
    img[H_CHECKSUM] = checksum(img)
    return img


def checksum(img: np.ndarray) -> np.uint64:
    """CRC-32 (zlib's, as in PNG and gzip) of the image's little-endian bytes, the checksum word counted as 0.

    Unlike a sum it sees swapped words, and it detects every error burst of
    up to 32 bits; the kernel computes the same value at one word per cycle
    (``crc32_word_masks``).
    """
    words = np.array(img, dtype="<u8", copy=True).reshape(-1)
    if words.size > H_CHECKSUM:
        words[H_CHECKSUM] = 0
    return np.uint64(zlib.crc32(words.tobytes()))


@lru_cache(maxsize=1)
def crc32_word_masks() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The CRC-32 register update for one 64-bit word as XOR masks: (state_masks, data_masks).

    CRC-32 without its initial and final inversion is linear over GF(2), so
    after one little-endian word w the register's bit i is
    parity(s & state_masks[i]) ^ parity(w & data_masks[i]). The kernel's load
    loop evaluates these 32 XOR trees in one cycle; a table-driven CRC
    would need eight chained lookups per word and could not keep II=1.
    The masks come from zlib itself, by feeding it unit vectors.
    """

    def raw(state: int, word: int) -> int:
        # zlib.crc32(data, c) starts from register ~c and returns ~register.
        return zlib.crc32(word.to_bytes(8, "little"), state ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    from_state = [raw(1 << j, 0) for j in range(32)]
    from_data = [raw(0, 1 << j) for j in range(64)]
    state_masks = tuple(sum(1 << j for j in range(32) if from_state[j] >> i & 1) for i in range(32))
    data_masks = tuple(sum(1 << j for j in range(64) if from_data[j] >> i & 1) for i in range(32))
    return state_masks, data_masks


def image_bytes(img: np.ndarray) -> bytes:
    return np.asarray(img, dtype="<u8").tobytes()


def save_image(path, qm_or_img) -> None:
    img = qm_or_img.to_image() if isinstance(qm_or_img, QuantModel) else qm_or_img
    atomic_write(path, image_bytes(img))


def load_image(path, expect: HWParams | None = None) -> QuantModel:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ImageError("unreadable", f"{path}: cannot read the model image ({e.strerror})") from None
    return read_image(data, expect)


def _signed_fits(a: np.ndarray, bits: int) -> bool:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return bool(a.size == 0 or (a.min() >= lo and a.max() <= hi))


def image_words(data) -> np.ndarray:
    """An image as uint64 words: from bytes, a uint8 buffer or a 64-bit array.

    A byte length that is not a whole number of words is refused, never cut.
    """
    if isinstance(data, np.ndarray) and data.dtype.itemsize == 8 and data.dtype.kind in "ui":
        return np.ascontiguousarray(data).view(np.uint64).reshape(-1)
    if isinstance(data, np.ndarray) and data.dtype not in (np.uint8, np.int8):
        raise ImageError("truncated", f"an image array must hold 64-bit words or bytes, not {data.dtype}")
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    if len(raw) % 8:
        raise ImageError("truncated", f"image is {len(raw)} bytes, not a whole number of 64-bit words")
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64)


def read_image(data, expect: HWParams | None = None) -> QuantModel:
    """Strictly parse an image (bytes or uint64 array) into a QuantModel.

    Every kind of damage is an ImageError with a ``code`` and a message that
    says what is wrong; ``expect`` refuses an image built for other parameters.
    """
    img = image_words(data)
    if img.size < HEADER_WORDS:
        raise ImageError("truncated", f"image has {img.size} words, shorter than the {HEADER_WORDS}-word header")
    if int(img[H_MAGIC]) != MAGIC:
        raise ImageError(
            "bad_magic",
            f"not an EIE model image (magic {int(img[H_MAGIC]):#018x}, expected {MAGIC:#018x} 'EIEIMAGE')",
        )
    if int(img[H_VERSION]) != VERSION:
        raise ImageError(
            "bad_version",
            f"image format version {int(img[H_VERSION])} is not supported (this toolkit reads version "
            f"{VERSION}); rebuild the image with this toolkit",
        )
    total = int(img[H_TOTAL])
    if total > img.size:
        raise ImageError("truncated", f"image is truncated: header says {total} words, only {img.size} present")
    if total < img.size:
        raise ImageError("bad_offset", f"image has {img.size - total} words past its declared end ({total} words)")
    if int(img[H_CHECKSUM]) != int(checksum(img)):
        raise ImageError("checksum", "image checksum does not match: the image is corrupted")
    try:
        params = HWParams(*[int(x) for x in img[H_PES : H_ACCBITS + 1]])
    except Exception as e:  # ConfigError from the field checks
        raise ImageError("params_mismatch", f"image header holds invalid parameters: {e}") from None
    if expect is not None and params != expect:
        diffs = [
            f"{name} {a} (kernel has {b})"
            for name, a, b in zip(
                ("N", "weight_bits", "index_bits", "act_bits", "cb_bits", "acc_bits"),
                params.as_tuple(),
                expect.as_tuple(),
            )
            if a != b
        ]
        raise ImageError(
            "params_mismatch",
            "image was built for other accelerator parameters: "
            + ", ".join(diffs)
            + "; rebuild the image for this configuration",
        )
    nl = int(img[H_LAYERS])
    dstart = int(img[H_DESC])
    if nl < 1 or dstart < HEADER_WORDS or dstart + nl * DESC_WORDS > total:
        raise ImageError("bad_offset", f"layer descriptors ({nl} layers at word {dstart}) run past the image end")
    n = params.n_pes
    per = params.entries_per_word
    nb = 1 << params.weight_bits
    layers = []
    for i in range(nl):
        d = [int(x) for x in img[dstart + i * DESC_WORDS : dstart + (i + 1) * DESC_WORDS]]
        m, k = d[D_ROWS], d[D_COLS]
        where = f"layer {i}"
        if not (1 <= m < 1 << 31 and 1 <= k < 1 << 31):
            raise ImageError("bad_layer", f"{where}: shape {m} x {k} is invalid")
        if d[D_FLAGS] & ~FLAGS:
            raise ImageError("bad_layer", f"{where}: unknown flags {d[D_FLAGS]:#x}")
        streamed = bool(d[D_FLAGS] & FLAG_STREAMED)
        c = d[D_COUNT_BITS]
        if streamed:
            if c not in COUNT_WIDTHS:
                raise ImageError(
                    "bad_layer",
                    f"{where}: a streamed layer's count fields are {c} bits, they must be 4, 6, 8, 12, 16 or 32; "
                    "rebuild the image",
                )
            if d[D_COUNTS] or d[D_PTR]:
                raise ImageError(
                    "bad_layer",
                    f"{where}: a streamed layer has no on-chip counts or pointers, but words {D_COUNTS} and "
                    f"{D_PTR} are {d[D_COUNTS]} and {d[D_PTR]} (they must be 0); rebuild the image",
                )
            if d[D_ENTRIES] % STREAM_ALIGN_WORDS:
                raise ImageError(
                    "bad_layer",
                    f"{where}: the stream section starts at word {d[D_ENTRIES]}, not on a 4 KiB boundary "
                    f"(a multiple of {STREAM_ALIGN_WORDS} words); rebuild the image",
                )
        elif c or d[D_DIR]:
            raise ImageError(
                "bad_layer",
                f"{where}: an on-chip layer has no count width or directory, but words {D_COUNT_BITS} and "
                f"{D_DIR} are {c} and {d[D_DIR]} (they must be 0); rebuild the image",
            )
        fa_in, fw, fa_out, shift = d[D_FA_IN], d[D_FW], d[D_FA_OUT], d[D_SHIFT]
        if max(fa_in, fw, fa_out) > 62 or shift != fa_in + fw - fa_out or shift > 62 or shift >= params.acc_bits:
            raise ImageError(
                "bad_layer",
                f"{where}: fixed-point formats fa_in={fa_in}, fw={fw}, fa_out={fa_out}, shift={shift} are inconsistent "
                f"(shift = fa_in + fw - fa_out, below acc_bits={params.acc_bits})",
            )
        ptr_words = _ptr_words(k)

        def section(off: int, size: int, what: str, where: str = where) -> np.ndarray:
            if off < dstart + nl * DESC_WORDS or off + size > total:
                raise ImageError(
                    "bad_offset",
                    f"{where}: {what} section (words {off}..{off + size}) lies outside the image data "
                    f"(words {dstart + nl * DESC_WORDS}..{total})",
                )
            return img[off : off + size]

        cb = section(d[D_CODEBOOK], nb, "codebook").view(np.int64).copy()
        bias = section(d[D_BIAS], m, "bias").view(np.int64).copy()
        perm = section(d[D_PERM], (m + 1) // 2, "permutation").view("<u4")[:m].astype(np.int64)
        if streamed:
            enc = _read_stream(params, (m, k), c, d, section, where)
        else:
            counts = section(d[D_COUNTS], n, "entry counts").astype(np.int64)
            ptr_raw = section(d[D_PTR], n * ptr_words, "pointers").view("<u4").reshape(n, 2 * ptr_words)
            ptr = ptr_raw[:, : k + 1].astype(np.int64)
            nwords = -(-counts // per)
            if int(nwords.sum()) != d[D_ENTRY_WORDS]:
                raise ImageError(
                    "bad_layer", f"{where}: entry section is {d[D_ENTRY_WORDS]} words, counts need {int(nwords.sum())}"
                )
            ent = section(d[D_ENTRIES], d[D_ENTRY_WORDS], "entries")
        if not _signed_fits(cb, params.cb_bits) or cb[0] != 0:
            raise ImageError(
                "bad_layer", f"{where}: codebook values exceed cb_bits={params.cb_bits} or code 0 is not zero"
            )
        if d[D_FLAGS] & FLAG_TERNARY and np.any(cb[3:] != 0):
            raise ImageError("bad_layer", f"{where}: a ternary layer uses codes 1 (+Wp) and 2 (-Wn) only")
        if not _signed_fits(bias, params.acc_bits):
            raise ImageError("bad_layer", f"{where}: a bias exceeds acc_bits={params.acc_bits}")
        if not np.array_equal(np.sort(perm), np.arange(m)):
            raise ImageError("bad_layer", f"{where}: the row permutation is not a permutation of 0..{m - 1}")
        if not streamed:
            if np.any(ptr[:, 0] != 0) or np.any(np.diff(ptr, axis=1) < 0) or np.any(ptr[:, -1] != counts):
                raise ImageError("bad_layer", f"{where}: column pointers are not increasing from 0 to the entry count")
            bounds = np.concatenate(([0], np.cumsum(nwords)))
            words = [ent[bounds[q] : bounds[q + 1]] for q in range(n)]
            enc = from_sections((m, k), n, params.weight_bits, params.index_bits, ptr, words)
        try:
            # Relative indices that run past a PE's rows would make the kernel
            # write outside its accumulators.
            enc.coordinates()
        except FormatError as e:
            raise ImageError("bad_layer", f"{where}: {e}") from None
        if i > 0 and k != layers[-1].shape[0]:
            raise ImageError("bad_layer", f"{where} takes {k} inputs but layer {i - 1} gives {layers[-1].shape[0]}")
        if i > 0 and fa_in != layers[-1].fa_out:
            raise ImageError("bad_layer", f"{where}: fa_in={fa_in} differs from layer {i - 1}'s fa_out")
        layers.append(
            QuantLayer(
                name=f"layer{i}",
                encoded=enc,
                codebook=cb,
                bias=bias,
                perm=perm,
                fa_in=fa_in,
                fw=fw,
                fa_out=fa_out,
                relu=bool(d[D_FLAGS] & FLAG_RELU),
                ternary=bool(d[D_FLAGS] & FLAG_TERNARY),
                storage="stream" if streamed else "onchip",
            )
        )
    if int(img[H_IN]) != layers[0].shape[1] or int(img[H_OUT]) != layers[-1].shape[0]:
        raise ImageError("bad_layer", "header input/output lengths disagree with the layers")
    return QuantModel(params, layers)


def _read_stream(params: HWParams, shape: tuple[int, int], c: int, d: list[int], section, where: str):
    """A streamed layer's directory and stream section, checked and decoded to an EncodedLayer."""
    n, k = params.n_pes, shape[1]
    off = section(d[D_DIR], _ptr_words(k), "column directory").view("<u4")[: k + 1].astype(np.int64)
    entry_words = d[D_ENTRY_WORDS]
    if off[0] != 0 or np.any(np.diff(off) < 0):
        raise ImageError(
            "bad_layer",
            f"{where}: the column directory is not non-decreasing from 0 (the byte offsets of the column "
            "blocks); rebuild the image",
        )
    if entry_words != stream_section_words(int(off[-1])):
        raise ImageError(
            "bad_layer",
            f"{where}: the stream section is {entry_words} words, the directory's {int(off[-1])} bytes need "
            f"{stream_section_words(int(off[-1]))} (whole 16-byte words); rebuild the image",
        )
    raw = section(d[D_ENTRIES], entry_words, "stream")
    # Every block holds at least its header (the counts decode_stream reads first).
    head = -(-n * c // 8)
    short = np.diff(off) < head
    if np.any(short):
        j = int(np.argmax(short))
        raise ImageError(
            "bad_layer",
            f"{where}: column {j}'s block is {int(off[j + 1] - off[j])} bytes, shorter than its {head}-byte "
            f"header of {n} counts of {c} bits; rebuild the image",
        )
    data = np.ascontiguousarray(raw, dtype="<u8").view(np.uint8)[: int(off[-1])]
    stream = StreamLayer(shape, n, params.weight_bits, params.index_bits, c, data, off)
    try:
        return decode_stream(stream)
    except FormatError as e:
        raise ImageError("bad_layer", f"{where}: {e}; rebuild the image") from None
