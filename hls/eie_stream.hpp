// Streamed layers (docs/kernel.md, "Streamed layers"): a layer whose entries
// stay in DDR, in the column-block layout of docs/image-format.md, and are
// read for every input vector. Three processes of the layer's DATAFLOW
// region, between the broadcaster and the PEs:
//
//   broadcaster --(column g, a_j)--> stream_request --(requests)--> stream_fetch --(words)--> stream_dispatch
//                                          \--------------(blocks)---------------------------^
//        --(a_j, count[p])--> PE p's token FIFO,  --(packs of entries)--> PE p's entry FIFO
//
// - stream_request looks column j's block up in the on-chip directory
//   (col_offset[j], col_offset[j + 1]: byte offsets into the layer's stream
//   section, two banks like the PE pointers) and requests the 64-bit words
//   that hold it, consecutive active columns as one run cut into bursts
//   (below); stream_fetch reads them. A word shared by two consecutive
//   blocks is read once (the dispatcher keeps it), so the reads are exactly
//   eie.format.stream.read_plan's at 64-bit beats.
// - stream_dispatch is a gearbox over those words: the block's N count
//   fields (c bits each), then each PE's entries, b + r bits each. It sends
//   PE p the token (a_j, count[p]) only when count[p] > 0 (the occupancy
//   mask of a streamed layer comes from the counts) and then PE p's entries
//   in packs of up to E = ENTRIES_PER_WORD, laid out as in an on-chip entry
//   word, one pack per cycle.
//
// Addresses come only from the directory, which the loader checked against
// the image length, so every read stays inside the buffer. The dispatcher
// never trusts the counts: a block whose counts do not add up to its length
// (the image changed in DDR after the load) delivers no entries and raises
// `fault`, and run returns STATUS_BAD_IMAGE.
#ifndef EIE_STREAM_HPP
#define EIE_STREAM_HPP

#include "eie_common.hpp"

namespace eie {

typedef ap_uint<32> dir_t;  // a byte offset into a layer's stream section

// One column block for the dispatcher: its activation, the bits to skip in
// its first word (its first byte's position), its length in bits, and how
// many words it spans. `shared`: its first word is the previous block's last
// word (consecutive columns whose blocks meet inside a word), which the
// dispatcher keeps instead of receiving it again.
struct block_t {
    act_t val;
    ap_uint<8> skip;
    ap_uint<36> bits;
    ap_uint<32> words;
    bool shared;
    bool last;
};

// One read request: `len` words from image word `addr`, at most
// STREAM_CHUNK_WORDS and never across a multiple of it (so never across a
// 4 KiB page, as eie.format.stream.read_plan cuts bursts).
struct req_t {
    ap_uint<64> addr;
    ap_uint<16> len;
    bool last;
};

// What a PE of a streamed layer receives per column: the activation and its
// entry count there (at least 1), or the end-of-layer mark.
struct stok_t {
    act_t val;
    ap_uint<32> count;
    bool last;
};

// A block for the entry unpacker, once its header is read: its activation,
// where each PE's entries start among the block's (prefix sums of the
// counts; first[N] is their number), whether the counts fill the block, the
// bit of the first entry in the first chunk sent, and how many chunks follow.
struct eblock_t {
    ap_uint<40> first[N_PES + 1];
    act_t val;
    ap_uint<8> hoff;
    ap_uint<32> chunks;
    bool ok;
    bool last;
};

// Up to STEP_ENTRIES entries of one PE: a dispatcher step's word, whose
// slots first .. first + n - 1 (ENTRY_BITS each, slot i at bit i x
// ENTRY_BITS) are the PE's. Every receiving PE gets the same word.
struct pack_t {
    sword_t word;
    ap_uint<PACK_N_BITS> n;
    ap_uint<PACK_N_BITS> first;
};

// Column g's block: [start, end) bytes, from the directory's two banks (as
// column_bounds reads the PE pointers).
inline void block_bounds(const dir_t dir_even[DIR_BANK_DEPTH], const dir_t dir_odd[DIR_ODD_DEPTH],
                         ap_uint<PIDX_BITS> g, dir_t& start, dir_t& end) {
#pragma HLS INLINE
    bank_pair<dir_t, DIR_BANK_DEPTH, DIR_ODD_DEPTH>(dir_even, dir_odd, g, start, end);
}

// The reader, in two processes so that requests go out ahead of the data:
//
//  - stream_request turns the broadcaster's columns into block descriptors
//    (for the dispatcher) and read requests (for stream_fetch). Consecutive
//    active columns are one run of words (a word shared by two consecutive
//    blocks is requested once); a run is cut into requests at every multiple
//    of STREAM_CHUNK_WORDS (min(burst_len beats, 4 KiB)), the bursts of
//    eie.format.stream.read_plan. A request goes out when it reaches such a
//    boundary, when the run ends (the next active column is not the next
//    column), at the end of the layer, or early when the dispatcher's block
//    FIFO is full (it may be waiting for words of the open request: this
//    keeps the region deadlock-free) or when no column is waiting (so a run
//    of zero activations does not hold words back). The sequential
//    C-simulation, whose FIFOs never fill and whose broadcaster has finished
//    before the reader starts, cuts only where read_plan does; on the board
//    a broadcaster that falls behind can cut a run into more requests. One request or none
//    per iteration; a column costs one iteration, plus one per further chunk
//    boundary its words cross (and one when a run ends and the new words
//    reach a boundary at once, or when the block FIFO is full).
//  - stream_fetch reads each request's words in one pipelined burst loop.
//    The `reqs` FIFO between them holds `outstanding` requests, so the
//    request side runs up to that many bursts ahead of the data.
//
// The C-simulation counts requests and words (stream_requests,
// stream_words); tests/kernel/test_kernel_stream.py compares them with
// read_plan at 64-bit words and the timing model's LayerTiming.requests.
inline void stream_request(layer_t L, const dir_t dir_even[DIR_BANK_DEPTH], const dir_t dir_odd[DIR_ODD_DEPTH],
                           hls::stream<token_t>& feed, hls::stream<block_t>& blocks, hls::stream<req_t>& reqs) {
    if (!(L.flags & FLAG_STREAMED)) return;
    typedef unsigned long long u64;
    const u64 base = u64(L.stream_base) / STREAM_WORD_WORDS;  // page-aligned, so a whole stream word
    const u64 chunk_mask = STREAM_CHUNK_WORDS - 1;  // a power of two
    bool open = false;  // words [olo, ohi) not yet requested
    u64 olo = 0, ohi = 0;
    bool pend = false;  // words [plo, phi) of the last column still to place
    u64 plo = 0, phi = 0;
    bool started = false;
    u64 run_end = 0;  // one past the last word of the previous block
REQUEST:
    while (true) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_MAX_COLS
        req_t r;
        r.last = false;
        if (!pend && open && (blocks.full() || feed.empty())) {
            // The dispatcher may be waiting for words of the open request
            // (the block FIFO is full), or the next column is not there yet
            // (a run of zero activations): it goes out now, in an iteration
            // that writes no block (a stalled block write would hold this
            // write back too) and reads no column.
            r.addr = olo;
            r.len = ap_uint<16>(ohi - olo);
            reqs.write(r);
            open = false;
            continue;
        }
        bool flush = false;
        u64 lo = plo, hi = phi;
        if (!pend) {
            const token_t t = feed.read();
            if (t.last) {
                if (open) {
                    r.addr = olo;
                    r.len = ap_uint<16>(ohi - olo);
                    reqs.write(r);
                }
                break;
            }
            dir_t blo, bhi;
            block_bounds(dir_even, dir_odd, t.g, blo, bhi);
            const u64 w0 = base + (u64(blo) >> STREAM_SHIFT);
            const u64 w1 = base + ((u64(bhi) + (1u << STREAM_SHIFT) - 1) >> STREAM_SHIFT);
            // The lane's blocks come in address order, so w0 >= run_end - 1:
            // the block continues the run when its words touch it, and shares
            // the run's last word when it starts inside it.
            const bool consecutive = started && w0 <= run_end;
            block_t b;
            b.val = t.val;
            b.skip = ap_uint<8>((u64(blo) & ((1u << STREAM_SHIFT) - 1)) * 8);
            b.bits = ap_uint<36>(bhi - blo) * 8;
            b.words = ap_uint<32>(w1 - w0);
            b.shared = consecutive && w0 < run_end;
            b.last = false;
            blocks.write(b);  // not full (checked above, and this process is its only writer)
            flush = open && !consecutive;  // the run ended
            lo = b.shared ? run_end : w0;
            hi = w1;
            started = true;
            run_end = w1;
        }
        const u64 boundary = (lo | chunk_mask) + 1;  // the next multiple of the chunk above lo
        const u64 stop = hi < boundary ? hi : boundary;
        if (flush) {
            // The open request goes out; the new words open the next one,
            // or wait an iteration if they reach a boundary at once.
            r.addr = olo;
            r.len = ap_uint<16>(ohi - olo);
            reqs.write(r);
            open = lo < hi && stop < boundary;
            olo = lo;
            ohi = hi;
            pend = lo < hi && stop == boundary;
            plo = lo;
            phi = hi;
        } else if (lo < hi) {
            if (!open) olo = lo;
            if (stop == boundary) {
                r.addr = open ? olo : lo;
                r.len = ap_uint<16>(stop - (open ? olo : lo));
                reqs.write(r);
                open = false;
            } else {
                open = true;
                ohi = stop;
            }
            pend = stop < hi;
            plo = stop;
            phi = hi;
        } else {
            pend = false;
        }
    }
    req_t end;
    end.addr = 0;
    end.len = 0;
    end.last = true;
    reqs.write(end);
    block_t b;
    b.val = 0;
    b.skip = 0;
    b.bits = 0;
    b.words = 0;
    b.shared = false;
    b.last = true;
    blocks.write(b);
}

// `port` is the lane's m_axi view of the image, in stream words; `lane`
// (a constant at each call site) only names the lane's C-sim counters.
inline void stream_fetch(layer_t L, int lane, const sword_t* port, hls::stream<req_t>& reqs,
                         hls::stream<sword_t>& words) {
    if (!(L.flags & FLAG_STREAMED)) return;
REQUESTS:
    while (true) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_MAX_COLS
        const req_t r = reqs.read();
        if (r.last) break;
        EIE_COUNT(counters().stream_requests[L.index][lane]++;)
        const unsigned long long at = r.addr;
    BURST:
        for (unsigned i = 0; i < unsigned(r.len); i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_STREAM_CHUNK_WORDS
            EIE_COUNT(counters().stream_words[L.index][lane]++;)
            words.write(port[at + i]);
        }
    }
    (void)lane;
}

// The dispatcher, in two processes so that no loop-carried path holds more
// than one narrow shift (docs/kernel.md, "Loop-carried paths"):
//
//  - stream_header aligns each block to W-bit chunks (W = STREAM_BITS; chunk i
//    = the block's bits Wi .. Wi + W - 1: a funnel of two words by the block's
//    byte offset, W / 8 positions), gathers the header's chunks into N x 32 bits at constant
//    slices, splits it into N counts (count p at one of the six count widths'
//    constant bit ranges) and their prefix sums, checks that the counts fill
//    the block, and sends the entry unpacker the block's descriptor and its
//    chunks from the one holding the first entry bit. One step per chunk
//    (and per header chunk of a block too short for its header): the C-sim
//    counter `dispatch` counts them, one per W / 8 bytes of block as the
//    timing model charges a lane's dispatcher.
//  - stream_unpack sends PE p the token (a_j, count[p]) when count[p] > 0 and
//    then unpacks the entries, S = STEP_ENTRIES per step, from a 2W-bit
//    buffer that a chunk enters at its fill level and that a step leaves by
//    the constant S x ENTRY_BITS. The S entries of a step belong to a few
//    consecutive PEs (a block's entries are PE 0's, then PE 1's, ...); each
//    gets the step's word as one pack with the range of slots that are its
//    own (no shifter per PE), N FIFO writes in parallel.
//
// The step that ends a block takes the next block's descriptor when it is
// there, so back-to-back blocks have no idle step between them. A block
// whose counts do not fill it exactly (the image changed in DDR after the
// load) delivers no entries: its chunks are dropped and `fault` is raised;
// bits past a block's end read as 0, so no loop waits for data that never
// comes.
template <int N>
void stream_header(layer_t L, int lane, hls::stream<block_t>& blocks, hls::stream<sword_t>& words,
                   hls::stream<eblock_t>& eblocks, hls::stream<sword_t>& chunks, bool& fault) {
    const unsigned SB = STREAM_BITS;  // a power of two, 64 or more
    if (!(L.flags & FLAG_STREAMED)) {
        fault = false;  // written on every path: a DATAFLOW output
        return;
    }
    const int c = L.count_bits;  // 4, 6, 8, 12, 16 or 32, checked at load
    const unsigned hbits = unsigned(N) * unsigned(c);
    const unsigned hchunks = (hbits + SB - 1) / SB;  // chunks holding header bits
    const unsigned h0 = hbits / SB;                 // the chunk holding the first entry bit
    ap_uint<N * 32> hdr = 0;
    sword_t cur = 0, last_word = 0;
    ap_uint<8> skip = 0;
    unsigned long long bits = 0;
    unsigned nwords = 0;  // the block's words, a shared first one included
    unsigned i = 0, steps = 0, nchunks = 0;
    act_t val = 0;
    bool active = false, bad = false;
    bool cur_pending = false;  // the block's word 0 is still to be read (one word read per step)
HEADER:
    while (true) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_PE_TRIPS_MAX
        const bool stepping = active && !cur_pending;
        const bool last_step = stepping && i + 1 == steps;
        // The next block: waited for when idle, taken in passing at a block's last step.
        bool take = false, ending = false;
        block_t b;
        b.words = 0;
        b.shared = false;
        if (!active || (last_step && !blocks.empty())) {
            b = blocks.read();
            if (b.last)
                ending = true;
            else
                take = true;
        }
        // At most one word per step, read at one place: word i + 1 for this
        // step's chunk, else the new block's word 0 (or the pending one).
        const bool step_reads = stepping && i + 1 < nwords;
        const bool first_read = take && b.words != 0 && !b.shared && !step_reads;
        const bool pend_read = active && cur_pending;
        sword_t w = 0;
        if (step_reads || first_read || pend_read) {
            w = words.read();
            last_word = w;
        }
        if (stepping) {
            EIE_COUNT(counters().dispatch[L.index][lane]++;)
            // Chunk i: words i and i + 1 of the block, by its byte offset;
            // bits past the block's end are 0.
            const sword_t nxt = step_reads ? w : sword_t(0);
            sword_t chunk = 0;
            if (i < nchunks) {
                chunk = skip == 0 ? cur : sword_t((cur >> skip) | (nxt << (SB - unsigned(skip))));
                const unsigned long long left = bits - (unsigned long long)(SB) * i;  // the block's bits from here
                if (left < SB) chunk &= sword_t((sword_t(1) << unsigned(left)) - 1);
            }
            cur = nxt;
            // Header chunks land at constant slices of hdr.
            const int HB = STREAM_BITS;
            for (int h = 0; h < (N * 32 + HB - 1) / HB; h++) {
#pragma HLS UNROLL
                if (unsigned(h) == i) {
                    const int top = (h * HB + HB - 1 < N * 32) ? h * HB + HB - 1 : N * 32 - 1;
                    hdr(top, h * HB) = chunk(top - h * HB, 0);
                }
            }
            if (i + 1 == hchunks) {
                // The header is complete: counts, prefix sums and the length check.
                eblock_t d;
                ap_uint<40> at = 0;
                for (int p = 0; p < N; p++) {
#pragma HLS UNROLL
                    // Count p at one of six constant bit ranges: a 6:1 select per bit.
                    const ap_uint<32> n4 = hdr(p * 4 + 3, p * 4), n6 = hdr(p * 6 + 5, p * 6);
                    const ap_uint<32> n8 = hdr(p * 8 + 7, p * 8), n12 = hdr(p * 12 + 11, p * 12);
                    const ap_uint<32> n16 = hdr(p * 16 + 15, p * 16), n32 = hdr(p * 32 + 31, p * 32);
                    d.first[p] = at;
                    at += c == 4 ? n4 : c == 6 ? n6 : c == 8 ? n8 : c == 12 ? n12 : c == 16 ? n16 : n32;
                }
                d.first[N] = at;
                // The counts must fill the block exactly (to the byte): then
                // every entry lies in the chunks sent.
                const ap_uint<48> need = ap_uint<48>(hbits) + ap_uint<48>(at) * ENTRY_BITS;
                d.ok = ((need + 7) >> 3) == ap_uint<48>(bits >> 3);
                if (!d.ok) bad = true;
                d.val = val;
                d.hoff = ap_uint<8>(hbits & (SB - 1));
                d.chunks = nchunks > h0 ? nchunks - h0 : 0u;
                d.last = false;
                eblocks.write(d);
            }
            if (i >= h0 && i < nchunks) chunks.write(chunk);
            i++;
        }
        if (pend_read) {
            cur = w;
            cur_pending = false;
        }
        if (take) {
            val = b.val;
            skip = b.skip;
            bits = b.bits;
            nwords = b.words;
            nchunks = unsigned((bits + SB - 1) / SB);
            steps = nchunks > hchunks ? nchunks : hchunks;
            // Word 0: kept from the previous block when they share it.
            cur_pending = b.words != 0 && !b.shared && !first_read;
            cur = b.words == 0 ? sword_t(0) : b.shared ? last_word : w;
            hdr = 0;
            i = 0;
            active = true;
        } else if (last_step) {
            active = false;
        }
        if (ending) break;
    }
    eblock_t end;
    end.last = true;
    end.ok = false;
    end.val = 0;
    end.hoff = 0;
    end.chunks = 0;
    for (int p = 0; p <= N; p++) {
#pragma HLS UNROLL
        end.first[p] = 0;
    }
    eblocks.write(end);
    fault = bad;
    (void)lane;
}

template <int N>
void stream_unpack(layer_t L, hls::stream<eblock_t>& eblocks, hls::stream<sword_t>& chunks, hls::stream<stok_t> tok[N],
                   hls::stream<pack_t> packs[N]) {
    if (!(L.flags & FLAG_STREAMED)) return;
    const unsigned SB = STREAM_BITS;
    const unsigned step_bits = STEP_ENTRIES * ENTRY_BITS;  // <= SB
    ap_uint<2 * STREAM_BITS> buf = 0;  // buffered entry bits, the next one at bit 0
    unsigned have = 0;                 // below step_bits when a chunk enters, so below 2 SB
    unsigned chunks_left = 0;
    ap_uint<8> hoff = 0;
    bool fresh = false;  // the block's first chunk: its entries start at bit hoff
    // PE p's entries are the block's entries [first[p], first[p + 1]).
    ap_uint<40> first[N + 1];
#pragma HLS ARRAY_PARTITION variable=first complete
    ap_uint<40> done = 0, total = 0;
    // 0: wait for a block, 1: entries, 2: drop the block's unused chunks.
    int phase = 0;
UNPACK:
    while (true) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_PE_TRIPS_MAX
        bool finished = phase == 0;
        if (phase != 0) {
            if (chunks_left != 0 && (have < step_bits || phase == 2)) {
                const sword_t w = chunks.read();
                chunks_left--;
                if (phase == 1) {
                    const sword_t x = fresh ? sword_t(w >> hoff) : w;
                    buf |= ap_uint<2 * STREAM_BITS>(x) << have;
                    have += fresh ? SB - unsigned(hoff) : SB;
                    fresh = false;
                }
            }
            if (phase == 1) {
                const ap_uint<40> rest = total - done;
                const unsigned n = rest < STEP_ENTRIES ? unsigned(rest) : unsigned(STEP_ENTRIES);
                if (n * ENTRY_BITS <= have || chunks_left == 0) {
                    const sword_t chunk = sword_t(buf);  // bits past the n entries belong to no PE below
                    const ap_uint<40> lo_all = done, hi_all = done + n;
                    for (int p = 0; p < N; p++) {
#pragma HLS UNROLL
                        const ap_uint<40> lo = first[p] > lo_all ? first[p] : lo_all;
                        const ap_uint<40> hi = first[p + 1] < hi_all ? first[p + 1] : hi_all;
                        if (lo < hi) {
                            pack_t pk;
                            pk.word = chunk;
                            pk.first = unsigned(lo - lo_all);
                            pk.n = unsigned(hi - lo);
                            packs[p].write(pk);
                        }
                    }
                    // A constant shift: the block's last step leaves nothing behind.
                    buf >>= step_bits;
                    have = have > step_bits ? have - step_bits : 0u;
                    done = hi_all;
                    if (done == total) phase = 2;
                }
            }
            if (phase == 2 && chunks_left == 0) finished = true;
        }
        if (finished) {
            if (phase == 0 || !eblocks.empty()) {
                const eblock_t d = eblocks.read();
                if (d.last) break;
                for (int p = 0; p <= N; p++) {
#pragma HLS UNROLL
                    first[p] = d.first[p];
                }
                for (int p = 0; p < N; p++) {
#pragma HLS UNROLL
                    const ap_uint<40> n = d.first[p + 1] - d.first[p];
                    if (d.ok && n != 0) {
                        stok_t t;
                        t.val = d.val;
                        t.count = ap_uint<32>(n);
                        t.last = false;
                        tok[p].write(t);
                    }
                }
                total = d.ok ? d.first[N] : ap_uint<40>(0);
                done = 0;
                chunks_left = d.chunks;
                hoff = d.hoff;
                fresh = true;
                buf = 0;
                have = 0;
                phase = total != 0 ? 1 : 2;
            } else {
                phase = 0;
            }
        }
    }
    stok_t last;
    last.val = 0;
    last.count = 0;
    last.last = true;
    for (int p = 0; p < N; p++) {
#pragma HLS UNROLL
        tok[p].write(last);
    }
}

// Two lanes' streams for one PE into one (a kernel with P > 1 ports has a
// binary tree of P - 1 of these per PE). A column's token and then its
// packs, until they hold its count of entries, pass through together; the
// next column is taken from whichever lane has one, alternating when both
// do. The PE's sums do not depend on the order of the columns (wrapping
// integer adds commute: docs/arithmetic.md), so the merge need not restore
// column order. The end mark goes out once both lanes have sent theirs.
// Loop-carried: the lane being passed on, the entries left (a 32-bit
// subtract), the two end flags and the priority bit.
inline void stream_merge(layer_t L, hls::stream<stok_t>& ta, hls::stream<pack_t>& pa, hls::stream<stok_t>& tb,
                         hls::stream<pack_t>& pb, hls::stream<stok_t>& to, hls::stream<pack_t>& po) {
    if (!(L.flags & FLAG_STREAMED)) return;
    bool a_done = false, b_done = false;
    bool from_b = false, prefer_b = false;
    ap_uint<32> left = 0;
MERGE:
    while (true) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_PE_TRIPS_MAX
        if (left != 0) {
            pack_t pk;
            if (from_b)
                pk = pb.read();
            else
                pk = pa.read();
            po.write(pk);
            left -= pk.n;
        } else {
            if (a_done && b_done) break;
            const bool ra = !a_done && !ta.empty();
            const bool rb = !b_done && !tb.empty();
            if (ra || rb) {
                const bool take_b = rb && (!ra || prefer_b);
                stok_t t;
                if (take_b)
                    t = tb.read();
                else
                    t = ta.read();
                prefer_b = !take_b;
                if (t.last) {
                    if (take_b)
                        b_done = true;
                    else
                        a_done = true;
                } else {
                    to.write(t);
                    left = t.count;
                    from_b = take_b;
                }
            }
        }
    }
    stok_t end;
    end.val = 0;
    end.count = 0;
    end.last = true;
    to.write(end);
}

// Load time: copy a streamed layer's directory (K + 1 uint32 byte offsets,
// two per image word) into the banks at dir_base, checking that it starts at
// 0, never decreases and ends inside the section: entry_words is exactly
// 2 ceil(col_offset[K] / 16), whole 16-byte words (so a 128-bit port reads
// inside the section too).
// Every lane gets its own copy (one reader per memory in the DATAFLOW region).
inline bool load_directory(const word_t* image, unsigned long long off, unsigned k, unsigned dir_base,
                           unsigned long long entry_words, dir_t dir_even[STREAM_LANES][DIR_BANK_DEPTH],
                           dir_t dir_odd[STREAM_LANES][DIR_ODD_DEPTH]) {
    const unsigned pw = (k + 2) >> 1;
    bool ok = true;
    unsigned long long prev = 0;
    unsigned i = 0;
    unsigned g = dir_base;
LOAD_DIR:
    for (unsigned w = 0; w < pw; w++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_PTR_WORDS_MAX
        const word_t word = image[off + w];
        const unsigned lo = word(31, 0), hi = word(63, 32);
        const bool has_hi = i < k;
        if ((i == 0 && lo != 0) || lo < prev) ok = false;
        if (has_hi && hi < lo) ok = false;
        const unsigned long long last = has_hi ? hi : lo;
        if (i + (has_hi ? 1u : 0u) == k && (last + 15) / 16 * 2 != entry_words) ok = false;
        prev = hi;
        const unsigned half = g >> 1;
        for (int q = 0; q < STREAM_LANES; q++) {
#pragma HLS UNROLL
            if (g & 1) {
                dir_odd[q][half] = lo;
                if (has_hi) dir_even[q][half + 1] = hi;
            } else {
                dir_even[q][half] = lo;
                if (has_hi) dir_odd[q][half] = hi;
            }
        }
        i += 2;
        g += 2;
    }
    return ok;
}

}  // namespace eie

#endif
