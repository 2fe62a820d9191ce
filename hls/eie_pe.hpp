// One EIE processing element (docs/kernel.md). PE<P> is the PE's logic; its
// on-chip memories (entries, pointer banks, codebooks, biases, accumulators)
// are passed in. They are declared in the kernel's top function, where Vitis
// HLS takes BIND_STORAGE for a variable (in the body of the function that
// defines it), as static arrays partitioned by PE, so each of the N PEs has
// its own and they keep their contents between the load and the run calls.
#ifndef EIE_PE_HPP
#define EIE_PE_HPP

#include "eie_common.hpp"
#ifdef EIE_STREAMING
#include "eie_stream.hpp"
#endif

namespace eie {

// Accumulator policies of the PE's accumulation loop (PE<P>::accumulate), in
// the style of finn-hlslib's policy templates: the loop is written once and a
// policy supplies, per row, the accumulator state it forwards (sum_t), how
// that state is read from and written to the accumulator memories acc /
// acc_neg, and what one entry (code v, broadcast activation a) adds to it.
// All functions inline into the loop body.

// General layers: acc[row] += codebook[v] * a (the PE's one multiplier).
struct CodebookMul {
    typedef acc_t sum_t;
    static sum_t zero() {
#pragma HLS INLINE
        return sum_t(0);
    }
    static sum_t read(const acc_t pos[], const acc_t /* neg */[], int r) {
#pragma HLS INLINE
        return pos[r];
    }
    static void write(acc_t pos[], acc_t /* neg */[], int r, const sum_t& s) {
#pragma HLS INLINE
        pos[r] = s;
    }
    static sum_t add(const sum_t& s, const cb_t cb[CB_SIZE], code_t v, act_t a) {
#pragma HLS INLINE
        const acc_t prod = cb[v] * a;
        return s + prod;
    }
};

// Ternary (TTQ) layers: no multiplier. Code 1 adds a to the positive sum
// (acc), code 2 to the negative sum (acc_neg); Wp and Wn scale them once per
// row in the epilogue. Other codes have codebook value 0 in ternary layers.
struct TernaryAdd {
    struct sum_t {
        acc_t pos, neg;
    };
    static sum_t zero() {
#pragma HLS INLINE
        sum_t s;
        s.pos = 0;
        s.neg = 0;
        return s;
    }
    static sum_t read(const acc_t pos[], const acc_t neg[], int r) {
#pragma HLS INLINE
        sum_t s;
        s.pos = pos[r];
        s.neg = neg[r];
        return s;
    }
    static void write(acc_t pos[], acc_t neg[], int r, const sum_t& s) {
#pragma HLS INLINE
        pos[r] = s.pos;
        neg[r] = s.neg;
    }
    static sum_t add(const sum_t& s, const cb_t /* cb */[CB_SIZE], code_t v, act_t a) {
#pragma HLS INLINE
        sum_t t;
        t.pos = s.pos + ((v == 1) ? acc_t(a) : acc_t(0));
        t.neg = s.neg + ((v == 2) ? acc_t(a) : acc_t(0));
        return t;
    }
};

// EIE's bypass around a PE's accumulator memories, for policy Acc: the last
// two writes, forwarded when the same row is read again before its write
// has reached the memory. The registers cover a row revisited 1 or 2
// iterations later; the memory must deliver a write to a read 3 or more
// iterations later (a 1-cycle BRAM write + read), which the accumulation
// loops declare with DEPENDENCE distance=3. Both loops (on-chip and
// streamed) add an entry through it.
template <class Acc>
struct Bypass {
    typedef typename Acc::sum_t sum_t;
    int row0, row1;
    sum_t s0, s1;
    Bypass() : row0(-1), row1(-1), s0(Acc::zero()), s1(Acc::zero()) {}
    // acc[row] (and acc_neg[row]) += what code v with activation a adds.
    void add(acc_t acc[ACT_DEPTH], acc_t acc_neg[ACC_NEG_DEPTH], int row, const cb_t codebook[CB_SIZE], code_t v,
             act_t a) {
#pragma HLS INLINE
        sum_t cur = Acc::read(acc, acc_neg, row);
        if (row == row0)
            cur = s0;
        else if (row == row1)
            cur = s1;
        const sum_t next = Acc::add(cur, codebook, v, a);
        Acc::write(acc, acc_neg, row, next);
        row1 = row0;
        s1 = s0;
        row0 = row;
        s0 = next;
    }
};

template <int P>
struct PE {
    // The memories, passed to every function that uses them:
    //   entries[ENTRY_DEPTH]        64-bit words of packed (v, z) entries;
    //   ptr_even[PTR_BANK_DEPTH], ptr_odd[PTR_ODD_DEPTH]: pointer g lives in bank g % 2 at
    //       address g / 2, so ptr[j] and ptr[j+1] always sit in different
    //       banks and are read in the same cycle. A pointer is an absolute
    //       (word, slot) pair (see ptr_t), not an entry number;
    //   codebook[MAX_LAYERS][CB_SIZE], bias[BIAS_DEPTH];
    //   acc[ACT_DEPTH], and acc_neg[ACC_NEG_DEPTH] where ternary layers add
    //       their code-2 activations (code-1 ones go to acc).

    // The entry after e, counting slots 0..E-1 within a word.
    static ptr_t next_ptr(ptr_t e) {
#pragma HLS INLINE
        const ap_uint<SLOT_BITS> slot = e(SLOT_BITS - 1, 0);
        const ap_uint<PTR_BITS - SLOT_BITS> word = e >> SLOT_BITS;
        if (slot == ENTRIES_PER_WORD - 1) return ptr_t(word + 1) << SLOT_BITS;
        return (ptr_t(word) << SLOT_BITS) | ptr_t(slot + 1);
    }

    // Pointers of column j: ptr[g] and ptr[g+1], g = ptr_base + j (the token
    // carries g), one read per bank.
    static void column_range(const ptr_t ptr_even[PTR_BANK_DEPTH], const ptr_t ptr_odd[PTR_ODD_DEPTH],
                             ap_uint<PIDX_BITS> g, ptr_t& start, ptr_t& end) {
#pragma HLS INLINE
        column_bounds(ptr_even, ptr_odd, g, start, end);
    }

    // The row of a column's next entry, z zero rows after the current one.
    // It stops moving once past the PE's rows: entries there add nothing
    // (padding; a weight there is refused at load), and a column may hold
    // up to 2^32 - 1 of them, so the sum would overflow any plain int
    // (issue 18). Stopped, it stays below rows + 2^INDEX_BITS.
    static int next_row(int row, int rows, zrun_t z) {
#pragma HLS INLINE
        return row < rows ? row + int(z) + 1 : row;
    }

    static void decode(const word_t entries[ENTRY_DEPTH], ptr_t e, code_t& v, zrun_t& z) {
#pragma HLS INLINE
        const word_t w = entries[e >> SLOT_BITS];
        const ap_uint<SLOT_BITS> slot = e(SLOT_BITS - 1, 0);
        const ap_uint<ENTRY_BITS> f = w >> (slot * ENTRY_BITS);
        v = f(WEIGHT_BITS - 1, 0);
        z = f >> WEIGHT_BITS;
    }

    // The accumulation loop, written once for both kinds of layer; the
    // accumulator policy Acc (CodebookMul or TernaryAdd, above) says what a
    // row's sum is and what one entry adds to it. One flattened loop at
    // II=1: every iteration either processes one entry of the current column
    // (padding included) or, when the current column is empty, only moves
    // on. The next column is looked up one column ahead: a lookahead
    // register holds the next token's activation and its pointers ptr[j],
    // ptr[j+1] (read from the two banks when the token was popped). The
    // iteration that finishes a column (its last entry, or its only cycle if
    // it is empty) takes the lookahead as the current column, and an empty
    // lookahead is refilled from the FIFO in the same iteration. So the pop
    // and the pointer reads never wait on pointers read in the same cycle
    // (issue 13 item 3: the FIFO pop, the pointer read, the compares and the
    // next read were one cycle), and a column with n entries still costs
    // max(1, n) iterations. The loop starts on an empty pseudo-column with an
    // empty lookahead: iteration 0 only fills the lookahead, iteration 1 only
    // takes it, so trips = 2 + sum max(1, n). The end token leaves the loop
    // when it is taken, in the last entry's iteration.
    template <class Acc>
    static void accumulate(const layer_t& L, int rows, hls::stream<token_t>& fifo, const word_t entries[ENTRY_DEPTH],
                           const ptr_t ptr_even[PTR_BANK_DEPTH], const ptr_t ptr_odd[PTR_ODD_DEPTH],
                           const cb_t codebook[CB_SIZE], acc_t acc[ACT_DEPTH], acc_t acc_neg[ACC_NEG_DEPTH]) {
        const int l = L.index;
        ptr_t e = 0, e_end = 0;
        act_t a = 0;
        int row = -1;
        ptr_t next_start = 0, next_end = 0;
        act_t next_a = 0;
        bool next_valid = false, next_last = false;
        // EIE's bypass (Bypass, above); the DEPENDENCE pragmas below declare
        // what the memory itself must deliver. A policy that does not touch
        // acc_neg leaves its pragma nothing to do.
        Bypass<Acc> fwd;
    ENTRY_LOOP:
        while (true) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_PE_TRIPS_MAX
#pragma HLS DEPENDENCE variable=acc inter RAW true distance=3
#pragma HLS DEPENDENCE variable=acc_neg inter RAW true distance=3
            EIE_COUNT(counters().pe[l][P]++;)
            const bool has_entry = e != e_end;
            if (has_entry) {
                code_t v;
                zrun_t z;
                decode(entries, e, v, z);
                row = next_row(row, rows, z);
                // Rows past this layer's share are never touched: the epilogue
                // clears exactly rows 0..rows-1 for the next layer.
                if (row < rows) {
                    fwd.add(acc, acc_neg, row, codebook, v, a);
                }
            }
            const ptr_t e_next = next_ptr(e);
            const bool done = !has_entry || e_next == e_end;
            bool took = false;
            if (done && next_valid) {
                if (next_last) break;
                e = next_start;
                e_end = next_end;
                a = next_a;
                row = -1;
                took = true;
            } else if (!done) {
                e = e_next;
            } else {
                // The column is finished and no token is waiting (the FIFO
                // ran dry): it stops being current, so the iterations that
                // wait add nothing. Without this the last entry was added
                // again every cycle until a token came (issue 18).
                e = e_end;
            }
            // Non-blocking: a PE with entries left keeps working while its
            // FIFO is empty (only a PE that is waiting spins, as it would
            // stall on a blocking read).
            if ((took || !next_valid) && !fifo.empty()) {
                const token_t t = fifo.read();
                next_last = t.last;
                next_a = t.val;
                if (!t.last) column_range(ptr_even, ptr_odd, t.g, next_start, next_end);
                next_valid = true;
            } else if (took) {
                next_valid = false;
            }
        }
    }

#ifdef EIE_STREAMING
    // The accumulation loop of a streamed layer: the same arithmetic (Acc
    // policy, bypass registers), with the column's count from the token and
    // its entries from the dispatcher's packs instead of the pointers and the
    // entry memory. Every token has at least one entry (the dispatcher sends
    // none for an empty column). The iteration of a column's last entry also
    // takes the next token when one is there, so trips = 1 + sum of entries.
    // The next entry of a streamed column: from the pack in hand, or from the
    // next pack when it is used up (the dispatcher sends a column's entries
    // in packs of 1..STEP_ENTRIES, in order). A pack is the dispatcher's
    // whole step word with this PE's entries at slots first .. first + n - 1:
    // the PE picks slot `slot` with a STEP_ENTRIES:1 select of ENTRY_BITS
    // bits, so no W-bit shifter per PE is needed on either side.
    static void next_streamed(hls::stream<pack_t>& packs, sword_t& pack, ap_uint<PACK_N_BITS>& slot,
                              ap_uint<PACK_N_BITS>& pack_left, code_t& v, zrun_t& z) {
#pragma HLS INLINE
        if (pack_left == 0) {
            const pack_t pk = packs.read();
            pack = pk.word;
            slot = pk.first;
            pack_left = pk.n;
        }
        ap_uint<ENTRY_BITS> f = 0;
        for (int i = 0; i < STEP_ENTRIES; i++) {
#pragma HLS UNROLL
            if (slot == unsigned(i)) f = pack(i * ENTRY_BITS + ENTRY_BITS - 1, i * ENTRY_BITS);
        }
        slot++;
        pack_left--;
        v = f(WEIGHT_BITS - 1, 0);
        z = f >> WEIGHT_BITS;
    }

    // It also checks what the loader checks for an on-chip layer: every
    // weight (code != 0) lands on one of this PE's rows; one that does not
    // sets `bad` (the load's walk refuses the image; at run time the image
    // changed in DDR after the load, and the run returns bad_image).
    template <class Acc>
    static void accumulate_stream(const layer_t& L, int rows, hls::stream<stok_t>& tok, hls::stream<pack_t>& packs,
                                  const cb_t codebook[CB_SIZE], acc_t acc[ACT_DEPTH], acc_t acc_neg[ACC_NEG_DEPTH],
                                  bool& bad) {
        const int l = L.index;
        bool off_rows = false;
        ap_uint<32> col_left = 0;
        act_t a = 0;
        int row = -1;
        sword_t pack = 0;
        ap_uint<PACK_N_BITS> slot = 0, pack_left = 0;
        Bypass<Acc> fwd;
    STREAM_LOOP:
        while (true) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_PE_TRIPS_MAX
#pragma HLS DEPENDENCE variable=acc inter RAW true distance=3
#pragma HLS DEPENDENCE variable=acc_neg inter RAW true distance=3
            EIE_COUNT(counters().pe[l][P]++;)
            if (col_left != 0) {
                code_t v;
                zrun_t z;
                next_streamed(packs, pack, slot, pack_left, v, z);
                col_left--;
                row = next_row(row, rows, z);
                if (row < rows) {
                    fwd.add(acc, acc_neg, row, codebook, v, a);
                } else if (v != 0) {
                    off_rows = true;
                }
            }
            if (col_left == 0 && !tok.empty()) {
                const stok_t t = tok.read();
                if (t.last) break;
                a = t.val;
                col_left = t.count;
                row = -1;
            }
        }
        bad = off_rows;
    }

#endif

    // One layer: consume the broadcast, then bias, round, ReLU and saturate
    // this PE's rows into its destination buffer, one row per cycle. The
    // accumulators start at zero (cleared at load) and the write-out clears
    // each row it reads, so no clearing pass precedes the accumulation.
    // In a streaming kernel `fault` is this PE's row check of a streamed
    // layer (accumulate_stream), false otherwise: a DATAFLOW output, written
    // on every path.
    static void run_layer(layer_t L, hls::stream<token_t>& fifo,
#ifdef EIE_STREAMING
                          hls::stream<stok_t>& stok, hls::stream<pack_t>& packs, bool& fault,
#endif
                          act_t dst[ACT_LANES][ACT_LANE_DEPTH], const word_t entries[ENTRY_DEPTH],
                          const ptr_t ptr_even[PTR_BANK_DEPTH], const ptr_t ptr_odd[PTR_ODD_DEPTH],
                          const cb_t codebook[MAX_LAYERS][CB_SIZE], const acc_t bias[BIAS_DEPTH], acc_t acc[ACT_DEPTH],
                          acc_t acc_neg[ACC_NEG_DEPTH]) {
#pragma HLS ARRAY_PARTITION variable=dst complete dim=1
        const int rows = local_rows(L, P);
        const bool tern = TERNARY && (L.flags & FLAG_TERNARY);
#ifdef EIE_STREAMING
        bool bad = false;
        if (L.flags & FLAG_STREAMED) {
#ifdef EIE_TERNARY
            if (tern)
                accumulate_stream<TernaryAdd>(L, rows, stok, packs, codebook[L.index], acc, acc_neg, bad);
            else
#endif
                accumulate_stream<CodebookMul>(L, rows, stok, packs, codebook[L.index], acc, acc_neg, bad);
        } else
#endif
#ifdef EIE_TERNARY
        if (tern)
            accumulate<TernaryAdd>(L, rows, fifo, entries, ptr_even, ptr_odd, codebook[L.index], acc, acc_neg);
        else
#endif
            accumulate<CodebookMul>(L, rows, fifo, entries, ptr_even, ptr_odd, codebook[L.index], acc, acc_neg);
        const int l = L.index;
        const cb_t wp = codebook[l][1 % CB_SIZE];
        const cb_t wn = codebook[l][2 % CB_SIZE];
        const bool relu = L.flags & FLAG_RELU;
        int lane = 0, word = 0;  // local row r = word * ACT_LANES + lane, no divide
    EPILOGUE:
        for (int r = 0; r < rows; r++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_ACT_DEPTH
            EIE_COUNT(counters().epilogue[l][P]++;)
            acc_t sum = acc[r];
            if (tern) sum = acc_t(wp * acc[r] + wn * acc_neg[r]);
            dst[lane][word] = requantize(sum, bias[L.bias_base + r], L.shift, relu);
            if (++lane == ACT_LANES) {
                lane = 0;
                word++;
            }
            acc[r] = 0;
            if (TERNARY) acc_neg[r] = 0;
        }
#ifdef EIE_STREAMING
        fault = bad;
#endif
    }
};


// The loader: one for all PEs, run for PE p = 0, 1, ..., N-1 in turn (the
// load is sequential anyway: one m_axi master feeds it), so its m_axi loops,
// 64-bit address arithmetic and checks exist once, not once per PE. It writes
// PE p's memories through the PE dimension of the arrays (a write enable per
// PE) and reads them back in rows_in_range through an N:1 mux. The helpers it
// shares with the run (next_ptr, decode, next_row, column_range) are INLINE
// and do not depend on the PE index: PE<0>'s are used.
typedef PE<0> PeOps;

// Entry number base_word * E + rel as a (word, slot) pointer. Load path
// only: the divide by the constant E stays out of the accumulation loop.
inline ptr_t make_ptr(unsigned base_word, unsigned rel) {
#pragma HLS INLINE
    const unsigned word = base_word + rel / ENTRIES_PER_WORD;
    const unsigned slot = rel % ENTRIES_PER_WORD;
    return (ptr_t(word) << SLOT_BITS) | ptr_t(slot);
}

// Before a model is loaded: zero accumulators in every PE (the run keeps them
// zero between layers, see run_layer). One loop for all PEs.
inline void reset_acc(acc_t acc[N_PES][ACT_DEPTH], acc_t acc_neg[N_PES][ACC_NEG_DEPTH]) {
#pragma HLS ARRAY_PARTITION variable=acc complete dim=1
#pragma HLS ARRAY_PARTITION variable=acc_neg complete dim=1
CLEAR_ACC:
    for (int r = 0; r < ACT_DEPTH; r++) {
#pragma HLS PIPELINE II=1
        for (int p = 0; p < N_PES; p++) {
#pragma HLS UNROLL
            acc[p][r] = 0;
            if (TERNARY) acc_neg[p][r] = 0;
        }
    }
}

// Every weight (code != 0) of layer L lands on one of PE p's rows: the run
// would otherwise drop it without a word. The walk is the accumulation
// loop's, without the arithmetic: trips = 1 + sum max(1, n). Padding entries
// (code 0) may run past the rows; they add nothing.
inline bool rows_in_range(const layer_t& L, int rows, const word_t entries[ENTRY_DEPTH],
                          const ptr_t ptr_even[PTR_BANK_DEPTH], const ptr_t ptr_odd[PTR_ODD_DEPTH]) {
#pragma HLS INLINE
    bool ok = true;
    ptr_t e = 0, e_end = 0;
    unsigned j = 0;
    const unsigned k = L.cols;
    // Wide enough for every entry of a full memory at the longest run:
    // no wrap-around can bring an overflowing row back in range.
    ap_int<PTR_BITS + INDEX_BITS + 2> row = -1;
CHECK_ROWS:
    while (true) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_PE_TRIPS_MAX
        const bool has_entry = e != e_end;
        if (has_entry) {
            code_t v;
            zrun_t z;
            PeOps::decode(entries, e, v, z);
            row += z + 1;
            if (v != 0 && row >= rows) ok = false;
        }
        const ptr_t e_next = PeOps::next_ptr(e);
        if (!has_entry || e_next == e_end) {
            if (j == k) break;
            PeOps::column_range(ptr_even, ptr_odd, ap_uint<PIDX_BITS>(L.ptr_base + j), e, e_end);
            j++;
            row = -1;
        } else {
            e = e_next;
        }
    }
    return ok;
}

// PE p's share of layer L from the image: its codebook and the biases of its
// rows, and for an on-chip layer its pointers and entries (the caller has
// checked that every section lies in the image and that everything fits).
// Returns false when a bias does not fit the accumulator, the pointers are
// not increasing from 0 to the entry count, or a weight's row runs past
// PE p's rows (a streamed layer's rows are checked by the load's walk).
// base: the entry words earlier layers filled in PE p's memory.
inline bool load_pe(int p, const word_t* image, const layer_t& L, unsigned long long cb_off,
                    unsigned long long bias_off, bool streamed, unsigned long long ptr_off,
                    unsigned long long ent_off, unsigned count, unsigned words, unsigned base,
                    word_t entries[N_PES][ENTRY_DEPTH], ptr_t ptr_even[N_PES][PTR_BANK_DEPTH],
                    ptr_t ptr_odd[N_PES][PTR_ODD_DEPTH], cb_t codebook[N_PES][MAX_LAYERS][CB_SIZE],
                    acc_t bias[N_PES][BIAS_DEPTH]) {
#pragma HLS ARRAY_PARTITION variable=entries complete dim=1
#pragma HLS ARRAY_PARTITION variable=ptr_even complete dim=1
#pragma HLS ARRAY_PARTITION variable=ptr_odd complete dim=1
#pragma HLS ARRAY_PARTITION variable=codebook complete dim=1
#pragma HLS ARRAY_PARTITION variable=bias complete dim=1
    const int l = L.index;
LOAD_CB:
    for (int c = 0; c < CB_SIZE; c++) {
#pragma HLS PIPELINE II=1
        codebook[p][l][c] = cb_t(ap_int<64>(image[cb_off + c]));
    }
    const int rows = local_rows(L, p);
    bool bias_ok = true;
    unsigned long long bias_at = bias_off + p;  // running offset: bias of local row r is at r * N + p
LOAD_BIAS:
    for (int r = 0; r < rows; r++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_ACT_DEPTH
        const ap_int<64> b = image[bias_at];
        if (!signed_fits(b, ACC_BITS)) bias_ok = false;
        bias[p][L.bias_base + r] = acc_t(b);
        bias_at += N_PES;
    }
    if (streamed) return bias_ok;
    // Pointers become absolute (word, slot) pairs in PE p's entry memory. One
    // image word (two pointers, i = 2w and 2w + 1) per iteration: consecutive
    // reads, so the m_axi adapter can burst. Pointers i and i + 1 sit in
    // different banks, so both are stored in the same cycle.
    const unsigned k = L.cols;
    const unsigned pw = (k + 2) >> 1;
    bool ok = true;
    unsigned prev = 0;
    unsigned i = 0;
    unsigned g = L.ptr_base;
LOAD_PTR:
    for (unsigned w = 0; w < pw; w++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_PTR_WORDS_MAX
        const word_t word = image[ptr_off + w];
        const unsigned lo = word(31, 0), hi = word(63, 32);
        const bool has_hi = i < k;  // pointer i + 1 exists (i + 1 <= k)
        if ((i == 0 && lo != 0) || lo < prev || lo > count || (i == k && lo != count)) ok = false;
        const ptr_t p_lo = make_ptr(base, ok ? lo : 0u);
        if (has_hi && (hi < lo || hi > count || (i + 1 == k && hi != count))) ok = false;
        const ptr_t p_hi = make_ptr(base, ok ? hi : 0u);
        prev = hi;
        // g even: lo -> even[g/2], hi -> odd[g/2]; g odd: lo -> odd[g/2], hi -> even[g/2 + 1].
        const unsigned half = g >> 1;
        if (g & 1) {
            ptr_odd[p][half] = p_lo;
            if (has_hi) ptr_even[p][half + 1] = p_hi;
        } else {
            ptr_even[p][half] = p_lo;
            if (has_hi) ptr_odd[p][half] = p_hi;
        }
        i += 2;
        g += 2;
    }
LOAD_ENTRIES:
    for (unsigned w = 0; w < words; w++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_ENTRY_DEPTH
        entries[p][base + w] = image[ent_off + w];
    }
    // Only well-formed pointers bound the walk.
    if (ok) ok = rows_in_range(L, rows, entries[p], ptr_even[p], ptr_odd[p]);
    return ok && bias_ok;
}


}  // namespace eie

#endif
