// Types shared by the broadcaster, the PEs and the loader, and the
// requantisation step of docs/arithmetic.md.
#ifndef EIE_COMMON_HPP
#define EIE_COMMON_HPP

#include "eie_params.h"

namespace eie {

// Depth of a PE's second accumulator: ternary kernels add code-2 activations there.
const int ACC_NEG_DEPTH = TERNARY ? ACT_DEPTH : 1;

// One broadcast item: a non-zero activation a_j, or the end-of-layer mark.
// The column travels as its pointer-table index g = ptr_base + j, so the PE
// addresses its pointer banks straight from the token.
struct token_t {
    ap_uint<PIDX_BITS> g;
    act_t val;
    bool last;
};

// A layer as the kernel keeps it after load. Bases index the PE memories
// (identical in every PE because every PE holds K+1 pointers and
// ceil(M/N) bias slots per layer). PEs 0..rows_full-1 hold rows_hi local
// rows, the others rows_hi - 1 (computed once at load: no divide at run time).
struct layer_t {
    ap_uint<32> rows;
    ap_uint<32> cols;
    ap_uint<32> rows_hi;
    ap_uint<8> rows_full;
    ap_uint<8> index;
    ap_uint<8> flags;
    ap_uint<8> shift;
    ap_uint<32> ptr_base;
    ap_uint<32> bias_base;
    ap_uint<32> occ_base;  // the layer's first occupancy-mask word (one per LNZD window)
    // Streamed layers (flags & FLAG_STREAMED): ptr_base is the directory
    // base, stream_base the stream section's first image word, count_bits c.
    ap_uint<32> stream_base;
    ap_uint<6> count_bits;
};

// Occupancy mask word: bit i * N + p says PE p has entries in column i of
// the window (docs/kernel.md, "Occupancy mask").
typedef ap_uint<N_PES * LNZD_WINDOW> occ_t;
// Vitis HLS refuses an ap_uint wider than AP_INT_MAX_W (1024 unless
// eie_params.h raises it): checked here, where every C-simulation build
// sees it, because the C-simulation's ap_int headers do not check.
static_assert(N_PES * LNZD_WINDOW <= AP_INT_MAX_W, "occ_t is wider than AP_INT_MAX_W");
#ifdef EIE_STREAMING
static_assert(N_PES * 32 <= AP_INT_MAX_W, "the stream count header is wider than AP_INT_MAX_W");
#endif

// Elements g and g + 1 of a table kept in two banks (element g in bank g % 2
// at g / 2), so both are read in one cycle: a PE's column pointers
// ptr[ptr_base + j], ptr[ptr_base + j + 1], or a streamed layer's directory.
template <typename T, int D0, int D1>
inline void bank_pair(const T even[D0], const T odd[D1], ap_uint<PIDX_BITS> g, T& start, T& end) {
#pragma HLS INLINE
    const T ev = even[(g + 1) >> 1];
    const T od = odd[g >> 1];
    start = (g & 1) ? od : ev;
    end = (g & 1) ? ev : od;
}

inline void column_bounds(const ptr_t ptr_even[PTR_BANK_DEPTH], const ptr_t ptr_odd[PTR_ODD_DEPTH],
                          ap_uint<PIDX_BITS> g, ptr_t& start, ptr_t& end) {
#pragma HLS INLINE
    bank_pair<ptr_t, PTR_BANK_DEPTH, PTR_ODD_DEPTH>(ptr_even, ptr_odd, g, start, end);
}

// C-simulation instrumentation (not the algorithm, never synthesised):
// loop trip counts per layer, compared with the timing model by the tests.
// pe[l][p] counts iterations of PE p's accumulation loop, epilogue[l][p]
// its write-out loop, broadcast[l] the broadcaster's scan loop; all summed
// over the vectors of one run. EIE_COUNT compiles to nothing in synthesis.
#ifndef __SYNTHESIS__
struct counters_t {
    long long broadcast[MAX_LAYERS];
    // Per stream lane: each lane's processes are threads of their own in the
    // concurrent C-simulation, so no two threads count into one variable.
    long long dispatch[MAX_LAYERS][STREAM_LANES];
    long long stream_words[MAX_LAYERS][STREAM_LANES];
    long long stream_requests[MAX_LAYERS][STREAM_LANES];
    long long pe[MAX_LAYERS][N_PES];
    long long epilogue[MAX_LAYERS][N_PES];
};
inline counters_t& counters() {
    static counters_t c;
    return c;
}
#define EIE_COUNT(stmt) stmt
#else
#define EIE_COUNT(stmt)
#endif

// x is a signed bits-wide value (the load path's range checks).
inline bool signed_fits(ap_int<64> x, int bits) {
#pragma HLS INLINE
    if (bits >= 64) return true;
    const ap_int<64> hi = (ap_int<64>(1) << (bits - 1)) - 1;
    return x <= hi && x >= -hi - 1;
}

// Rows of layer L held by PE p (physical row i -> PE i mod N).
inline int local_rows(const layer_t& L, int p) {
#pragma HLS INLINE
    return p < int(L.rows_full) ? int(L.rows_hi) : int(L.rows_hi) - 1;
}

// acc + bias, round half up, arithmetic shift, ReLU, saturate. Every
// intermediate is acc_t so the sum wraps modulo 2^ACC_BITS like the emulator.
inline act_t requantize(acc_t acc, acc_t bias, int shift, bool relu) {
#pragma HLS INLINE
    acc_t t = acc + bias;
    if (shift > 0) {
        acc_t half = acc_t(1) << (shift - 1);
        t = t + half;
    }
    acc_t y = t >> shift;
    if (relu && y < 0) y = 0;
    const acc_t hi = (acc_t(1) << (ACT_BITS - 1)) - 1;
    const acc_t lo = -(acc_t(1) << (ACT_BITS - 1));
    if (ACT_BITS < ACC_BITS) {
        if (y > hi) y = hi;
        if (y < lo) y = lo;
    }
    return act_t(y);
}

}  // namespace eie

#endif
