// Validation of a model image before anything is copied on chip: the length
// the caller gave, the header (magic, version, CRC-32, the parameters the
// kernel was compiled for), the layer descriptors, every section offset
// against that length, the row permutations, the codebooks and the capacity
// of every PE memory. The PE loader (eie_pe.hpp) checks what it copies:
// pointers, biases and the rows its entries reach. The rule the kernel and
// the host reader (host/eie/format/image.py) share is in docs/robustness.md:
// the two accept exactly the same images.
//
// The image lives in DDR at an address and length the driver passes, but
// its contents come from a file. So no read here uses an offset or a count
// from the image before it is checked against image_words: every loop is
// bounded by the caller's length or by a compiled capacity.
#ifndef EIE_LOAD_HPP
#define EIE_LOAD_HPP

#include "eie_common.hpp"

namespace eie {

typedef unsigned long long u64;

// Where a layer's sections start in the image (word offsets).
struct layer_src_t {
    u64 codebook;
    u64 bias;
    u64 perm;
    u64 counts;
    u64 ptr;
    u64 entries;
    u64 entry_words;
    u64 dir;  // streamed layers: the column directory
};

inline u64 ptr_words(u64 k) {
#pragma HLS INLINE
    return (k + 2) / 2;
}

// [off, off + size) lies in the data area [data_start, total); no overflow
// for any u64 inputs.
inline bool section_ok(u64 off, u64 size, u64 data_start, u64 total) {
#pragma HLS INLINE
    return off >= data_start && off <= total && size <= total - off;
}

// One CRC-32 register update by a 64-bit little-endian word: 32 XOR trees
// whose masks are rendered into eie_params.h (eie.format.image.crc32_word_masks),
// so the load loop keeps II=1 with no table lookup.
inline ap_uint<32> crc32_step(ap_uint<32> s, word_t w) {
#pragma HLS INLINE
    ap_uint<32> next;
CRC_BITS:
    for (int i = 0; i < 32; i++) {
#pragma HLS UNROLL
        const ap_uint<32> ms = CRC_STATE_MASK[i];
        const word_t md = CRC_DATA_MASK[i];
        next[i] = (s & ms).xor_reduce() ^ (w & md).xor_reduce();
    }
    return next;
}

// The row permutation of an M-row layer (uint32 pairs, M < 2^31, section
// already bounds-checked): every value below M and none twice. seen[] is a
// bitmap over the largest layer; it is cleared for the values this layer
// may use before the marking pass.
inline bool check_perm(const word_t* image, u64 off, unsigned m) {
    static ap_uint<1> seen[EIE_MAX_COLS];
CLEAR_SEEN:
    for (unsigned i = 0; i < m; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_MAX_COLS
        seen[i] = 0;
    }
    bool ok = true;
    word_t w = 0;
    // The bitmap write of a value reaches the memory 1-2 iterations late, so
    // the last two values are compared directly (as the PE forwards its
    // accumulators); the memory covers values 3 or more iterations back.
    unsigned prev0 = ~0u, prev1 = ~0u;
MARK_SEEN:
    for (unsigned i = 0; i < m; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_MAX_COLS
#pragma HLS DEPENDENCE variable=seen inter RAW true distance=3
        if ((i & 1) == 0) w = image[off + (i >> 1)];
        const unsigned v = (i & 1) ? unsigned(w(63, 32)) : unsigned(w(31, 0));
        if (v >= m) {
            ok = false;
        } else {
            if (seen[v] == 1 || v == prev0 || v == prev1) ok = false;
            seen[v] = 1;
        }
        prev1 = prev0;
        prev0 = v;
    }
    return ok;
}

// Checks the caller's length, the header, the CRC and every descriptor;
// fills layers[] and src[] and returns STATUS_OK, or the first problem
// found. image holds image_words words (the driver's allocation).
inline int validate_image(const word_t* image, u64 image_words, layer_t layers[MAX_LAYERS],
                          layer_src_t src[MAX_LAYERS], int& n_layers) {
    if (image_words < u64(HEADER_WORDS)) return STATUS_BAD_IMAGE;
    word_t head[HEADER_WORDS];
HEAD:
    for (int i = 0; i < HEADER_WORDS; i++) {
#pragma HLS PIPELINE II=1
        head[i] = image[i];
    }
    if (head[H_MAGIC] != word_t(MAGIC)) return STATUS_BAD_MAGIC;
    if (head[H_VERSION] != word_t(VERSION)) return STATUS_BAD_VERSION;
    // The header's length must be the buffer's: shorter is a truncated
    // image, longer leaves words nobody checked.
    const u64 total = head[H_TOTAL];
    if (total != image_words) return STATUS_BAD_IMAGE;

    // CRC-32 over every word, the checksum word read as 0: one unconditional
    // sequential stream the m_axi adapter can turn into bursts.
    ap_uint<32> crc = 0xFFFFFFFFu;
CHECKSUM:
    for (u64 i = 0; i < total; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=HEADER_WORDS max=EIE_IMAGE_WORDS_MAX
        const word_t w = image[i];
        crc = crc32_step(crc, i == u64(H_CHECKSUM) ? word_t(0) : w);
    }
    if (head[H_CHECKSUM] != word_t(crc ^ 0xFFFFFFFFu)) return STATUS_BAD_IMAGE;

    if (head[H_PES] != N_PES || head[H_WBITS] != WEIGHT_BITS || head[H_IBITS] != INDEX_BITS ||
        head[H_ABITS] != ACT_BITS || head[H_CBITS] != CB_BITS || head[H_ACCBITS] != ACC_BITS)
        return STATUS_PARAMS_MISMATCH;
    const u64 nl = head[H_LAYERS];
    const u64 dstart = head[H_DESC];
    if (nl < 1 || dstart < HEADER_WORDS || dstart > total || nl > (total - dstart) / DESC_WORDS)
        return STATUS_BAD_IMAGE;
    if (nl > u64(MAX_LAYERS)) return STATUS_CAPACITY;

    const u64 data_start = dstart + nl * DESC_WORDS;
    u64 used[N_PES];
    for (int p = 0; p < N_PES; p++) used[p] = 0;
    u64 ptr_base = 0, dir_base = 0, bias_base = 0, occ_base = 0, prev_rows = 0, prev_fa_out = 0;
    u64 desc_at = dstart;  // running offset of descriptor l
LAYERS:
    for (u64 l = 0; l < nl; l++) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_MAX_LAYERS
        word_t d[DESC_WORDS];
        for (int i = 0; i < DESC_WORDS; i++) {
#pragma HLS PIPELINE II=1
            d[i] = image[desc_at + i];
        }
        desc_at += DESC_WORDS;
        const u64 m = d[D_ROWS], k = d[D_COLS], flags = d[D_FLAGS], shift = d[D_SHIFT];
        const u64 fa_in = d[D_FA_IN], fw = d[D_FW], fa_out = d[D_FA_OUT];
        if (m < 1 || k < 1 || m >= (u64(1) << 31) || k >= (u64(1) << 31)) return STATUS_BAD_IMAGE;
        if (flags & ~u64(FLAG_RELU | FLAG_TERNARY | FLAG_STREAMED)) return STATUS_BAD_IMAGE;
        // A streamed layer keeps its entries in DDR (eie_stream.hpp): it has a
        // column directory and a count width instead of counts and pointers.
        const bool streamed = (flags & FLAG_STREAMED) != 0;
        const u64 cbits = d[D_COUNT_BITS];
        if (streamed ? ((cbits != 4 && cbits != 6 && cbits != 8 && cbits != 12 && cbits != 16 && cbits != 32) || d[D_COUNTS] != 0 || d[D_PTR] != 0)
                     : (cbits != 0 || d[D_DIR] != 0))
            return STATUS_BAD_IMAGE;
        // shift = fa_in + fw - fa_out, every format at most 62 bits and the
        // shift inside the accumulator (all below 2^6 once the first test passes).
        if (fa_in > 62 || fw > 62 || fa_out > 62 || shift > 62 || shift >= u64(ACC_BITS)) return STATUS_BAD_IMAGE;
        if (fa_in + fw != shift + fa_out) return STATUS_BAD_IMAGE;
        if (l > 0 && (k != prev_rows || fa_in != prev_fa_out)) return STATUS_BAD_IMAGE;
        if (l == 0 && k != u64(head[H_IN])) return STATUS_BAD_IMAGE;
        if (l == nl - 1 && m != u64(head[H_OUT])) return STATUS_BAD_IMAGE;
        prev_rows = m;
        prev_fa_out = fa_out;

        layer_src_t s;
        s.codebook = d[D_CODEBOOK];
        s.bias = d[D_BIAS];
        s.perm = d[D_PERM];
        s.counts = d[D_COUNTS];
        s.ptr = d[D_PTR];
        s.entries = d[D_ENTRIES];
        s.dir = d[D_DIR];
        const u64 entry_words = d[D_ENTRY_WORDS];
        s.entry_words = entry_words;
        if (!section_ok(s.codebook, CB_SIZE, data_start, total) || !section_ok(s.bias, m, data_start, total) ||
            !section_ok(s.perm, (m + 1) / 2, data_start, total) ||
            !section_ok(s.entries, entry_words, data_start, total))
            return STATUS_BAD_IMAGE;
        if (streamed) {
            // The stream section starts on a 4 KiB page (the reader's bursts).
            if (!section_ok(s.dir, ptr_words(k), data_start, total) || s.entries % STREAM_ALIGN_WORDS != 0)
                return STATUS_BAD_IMAGE;
        } else if (!section_ok(s.counts, N_PES, data_start, total) ||
                   !section_ok(s.ptr, N_PES * ptr_words(k), data_start, total)) {
            return STATUS_BAD_IMAGE;
        }

        // ceil(x / N) > ACT_DEPTH  <=>  x > N * ACT_DEPTH: no divide needed for the checks.
        if (k > u64(N_PES) * ACT_DEPTH || m > u64(N_PES) * ACT_DEPTH) return STATUS_CAPACITY;
        if (k >= (u64(1) << COL_BITS)) return STATUS_CAPACITY;
        if (streamed ? dir_base + k + 1 > u64(DIR_DEPTH) : ptr_base + k + 1 > u64(PTR_DEPTH)) return STATUS_CAPACITY;
        // m < 2^31 from here on: 32-bit division by the constant N.
        const unsigned m32 = unsigned(m);
        const unsigned rows_pe = (m32 + N_PES - 1) / N_PES;
        if (bias_base + rows_pe > u64(BIAS_DEPTH)) return STATUS_CAPACITY;
        // Mask words of this layer: ceil(K / W). The pointer check above already
        // bounds their sum by OCC_DEPTH (AcceleratorConfig.occ_depth); checked
        // anyway, as every address is.
        const unsigned occ_words = streamed ? 0u : (unsigned(k) + LNZD_WINDOW - 1) / LNZD_WINDOW;
        if (USE_OCC && occ_base + occ_words > u64(OCC_DEPTH)) return STATUS_CAPACITY;

        if (!check_perm(image, s.perm, m32)) return STATUS_BAD_IMAGE;

        // Codebook: code 0 is zero, values fit cb_bits, ternary layers use
        // codes 1 and 2 only. No return inside a pipelined loop: the first
        // problem is kept and reported after it.
        bool cb_ok = true;
    CHECK_CB:
        for (int c = 0; c < CB_SIZE; c++) {
#pragma HLS PIPELINE II=1
            const ap_int<64> v = image[s.codebook + c];
            if (!signed_fits(v, CB_BITS)) cb_ok = false;
            if (c == 0 && v != 0) cb_ok = false;
            if ((flags & FLAG_TERNARY) && c > 2 && v != 0) cb_ok = false;
        }
        if (!cb_ok) return STATUS_BAD_IMAGE;

        // Entry counts: a count above 2^32 is a bad image; one above what a
        // PE can hold is a capacity problem (checked before the 32-bit cast).
        // A streamed layer has none: its blocks are checked as they are
        // walked after the load (check_stream_layer).
        u64 words_sum = 0;
        int count_status = STATUS_OK;
    CHECK_COUNTS:
        for (int p = 0; p < (streamed ? 0 : N_PES); p++) {
#pragma HLS PIPELINE II=1
            const u64 count = image[s.counts + p];
            int st = STATUS_OK;
            if (count > (u64(1) << 32))
                st = STATUS_BAD_IMAGE;
            else if (count > u64(ENTRY_DEPTH) * ENTRIES_PER_WORD)
                st = STATUS_CAPACITY;
            const unsigned words = st == STATUS_OK ? (unsigned(count) + ENTRIES_PER_WORD - 1) / ENTRIES_PER_WORD : 0u;
            words_sum += words;
            used[p] += words;
            if (st == STATUS_OK && used[p] > u64(ENTRY_DEPTH)) st = STATUS_CAPACITY;
            if (count_status == STATUS_OK) count_status = st;
        }
        if (count_status != STATUS_OK) return count_status;
        if (!streamed && words_sum != entry_words) return STATUS_BAD_IMAGE;

        layer_t L;
        L.rows = m32;
        L.cols = unsigned(k);
        L.rows_hi = rows_pe;
        L.rows_full = m32 - (rows_pe - 1) * N_PES;  // in 1..N
        L.index = l;
        L.flags = flags;
        L.shift = shift;
        L.ptr_base = streamed ? dir_base : ptr_base;
        L.stream_base = streamed ? unsigned(s.entries) : 0u;  // < total < 2^32
        L.count_bits = unsigned(cbits);
        L.bias_base = bias_base;
        L.occ_base = occ_base;
        layers[l] = L;
        src[l] = s;
        if (streamed)
            dir_base += k + 1;
        else
            ptr_base += k + 1;
        bias_base += rows_pe;
        occ_base += occ_words;
    }
    n_layers = int(nl);
    return STATUS_OK;
}

}  // namespace eie

#endif
