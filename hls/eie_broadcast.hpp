// The central broadcaster with zero skipping (EIE's leading non-zero
// detection, LNZD). Activation j of a layer's input sits in PE bank j mod N
// at local index j div N. The broadcaster looks at a window of W = LNZD_WINDOW
// consecutive activations at a time: W a multiple of N reads F = W/N words
// from each bank, one from each of its F lanes (src[b][f] is a separate
// memory, see ACT_LANES), W a divisor of N takes one of the N/W W-wide slices
// of a bank row.
//
// One flattened loop at II=1, in two stages so that no cycle holds both the
// memory read and the leading-non-zero detection:
//  - prefetch: whenever the next-window register is empty, read the next
//    window's words (one per lane of every bank), zero its out-of-range lanes
//    and compute its non-zero mask, into registers;
//  - emit: the lowest pending non-zero of the current window (registers) goes
//    to every PE's FIFO; the iteration that empties the current window moves
//    the next window into it.
// A window with n non-zeros costs n iterations and an all-zero window one
// (the iteration after it became current). The loop starts with both
// registers empty: iteration 0 prefetches window 0 and iteration 1 makes it
// current (and prefetches window 1), so
//   trips = 2 + sum over the ceil(K / W) windows of max(1, non-zeros)
// (eie.performance.timing: broadcast_prologue = 2).
// A write blocks while a FIFO is full (the stall the timing model adds).
//
// With the occupancy mask (USE_OCC) the prefetch also reads the window's mask
// word, and a token goes only to the PEs whose bit is set: the broadcaster
// then waits only on its receivers' FIFOs, and a PE never spends a cycle on
// a column it holds nothing of. The end-of-layer token still goes to every PE.
// build_occupancy fills the mask at load time from the PEs' pointers.
#ifndef EIE_BROADCAST_HPP
#define EIE_BROADCAST_HPP

#include "eie_common.hpp"

namespace eie {

template <int N, int W, int NF>
void broadcast(layer_t L, act_t src[N][ACT_LANES][ACT_LANE_DEPTH], const occ_t occ[OCC_DEPTH],
               hls::stream<token_t> fifo[NF]) {
#pragma HLS ARRAY_PARTITION variable=src complete dim=1
#pragma HLS ARRAY_PARTITION variable=src complete dim=2
    const unsigned k = L.cols;
    // Words per bank per window (W >= N) and windows per bank row (W < N):
    // lane i of slice s is offset s*W + i of the bank row, i.e. bank
    // (s*W + i) mod N, word (s*W + i) div N; both constants once unrolled.
    const int F = W >= N ? W / N : 1;  // == ACT_LANES
    const int S = W >= N ? 1 : N / W;
    act_t window[W], next_window[W];
#pragma HLS ARRAY_PARTITION variable=window complete
#pragma HLS ARRAY_PARTITION variable=next_window complete
    ap_uint<W> pending = 0, next_pending = 0;
    // The mask words of the current and the prefetched window (all ones when
    // the mask is off), and the next word's address.
    occ_t cur_occ = ~occ_t(0), next_occ = ~occ_t(0);
    ap_uint<32> occ_at = L.occ_base;
    // A streamed layer's columns go to the stream lanes, column j to lane
    // j mod (NF - N) on fifo[N + lane] (its end mark to every lane), not to
    // the PEs. NF - N is 1, 2 or 4: the lane is the column's low bits.
    const int LANES = NF > N ? NF - N : 1;
    const bool to_reader = NF > N && (L.flags & FLAG_STREAMED);
    bool next_valid = false;
    // Running counters instead of j / N, j % N and ceil(K / W): the next
    // prefetch's first column, its word in every lane of every bank, its slice
    // of the bank row, and the pointer indices (ptr_base + column) of the
    // current window, the prefetched one and the next prefetch.
    unsigned base = 0;
    unsigned row = 0;
    int slice = 0;
    ap_uint<PIDX_BITS> g_load = L.ptr_base, g_next = 0, g_cur = 0;
SCAN:
    while (true) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=3 max=EIE_BROADCAST_TRIPS_MAX
        EIE_COUNT(counters().broadcast[L.index]++;)
        if (pending != 0) {
            int q = 0;
            for (int i = W - 1; i >= 0; i--) {  // priority encoder: lowest set bit
#pragma HLS UNROLL
                if (pending[i]) q = i;
            }
            token_t tok;
            tok.g = g_cur + q;
            tok.val = window[q];
            tok.last = false;
            const ap_uint<N> recv = ap_uint<N>(cur_occ >> (q * N));
            for (int p = 0; p < N; p++) {
#pragma HLS UNROLL
                if (recv[p] && !to_reader) fifo[p].write(tok);
            }
            const unsigned lane = unsigned(ap_uint<PIDX_BITS>(tok.g - L.ptr_base)) & unsigned(LANES - 1);
            for (int q = 0; q < LANES; q++) {
#pragma HLS UNROLL
                if (to_reader && lane == unsigned(q)) fifo[N + q].write(tok);
            }
        }
        // The mask without its lowest set bit: whether the window is done
        // does not wait for the encoder.
        const ap_uint<W> rest = pending & ap_uint<W>(pending - 1);
        ap_uint<W> pending_next = rest;
        if (rest == 0) {
            if (next_valid) {
                for (int i = 0; i < W; i++) {
#pragma HLS UNROLL
                    window[i] = next_window[i];
                }
                pending_next = next_pending;
                cur_occ = next_occ;
                g_cur = g_next;
                next_valid = false;
            } else if (base >= k) {
                break;
            }
        }
        if (!next_valid && base < k) {
            // Every bank and lane read once, at constant indices; the slice
            // mux below picks the lanes (no variable bank select).
            act_t words[N][F];
#pragma HLS ARRAY_PARTITION variable=words complete dim=0
            for (int b = 0; b < N; b++) {
#pragma HLS UNROLL
                for (int f = 0; f < F; f++) {
#pragma HLS UNROLL
                    words[b][f] = src[b][f][row];
                }
            }
            for (int i = 0; i < W; i++) {
#pragma HLS UNROLL
                act_t a = 0;
                for (int s = 0; s < S; s++) {
#pragma HLS UNROLL
                    if (slice == s) a = words[(s * W + i) % N][(s * W + i) / N];
                }
                next_window[i] = (base + i < k) ? a : act_t(0);
                next_pending[i] = next_window[i] != 0;
            }
            if (USE_OCC && !to_reader) next_occ = occ[occ_at++];
            next_valid = true;
            g_next = g_load;
            g_load += W;
            base += W;
            if (++slice == S) {
                slice = 0;
                row++;
            }
        }
        pending = pending_next;
    }
    token_t end;
    end.g = 0;
    end.val = 0;
    end.last = true;
    for (int p = 0; p < N; p++) {
#pragma HLS UNROLL
        if (!to_reader) fifo[p].write(end);
    }
    for (int q = 0; q < LANES; q++) {
#pragma HLS UNROLL
        if (to_reader) fifo[N + q].write(end);
    }
}

// Load time: the mask words of layer L from the PEs' pointers (PE p has
// entries in column j when ptr_p[j] != ptr_p[j + 1], padding included). One
// column per cycle, every PE's pointer banks read in parallel; a window's
// word is written when its last column (or the layer's) is done.
inline void build_occupancy(const layer_t& L, const ptr_t ptr_even[N_PES][PTR_BANK_DEPTH],
                            const ptr_t ptr_odd[N_PES][PTR_ODD_DEPTH], occ_t occ[OCC_DEPTH]) {
#pragma HLS ARRAY_PARTITION variable=ptr_even complete dim=1
#pragma HLS ARRAY_PARTITION variable=ptr_odd complete dim=1
    const unsigned k = L.cols;
    occ_t word = 0;
    int lane = 0;
    ap_uint<32> at = L.occ_base;
    ap_uint<PIDX_BITS> g = L.ptr_base;
BUILD_OCC:
    for (unsigned j = 0; j < k; j++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=EIE_MAX_COLS
        ap_uint<N_PES> bits;
        for (int p = 0; p < N_PES; p++) {
#pragma HLS UNROLL
            ptr_t start, end;
            column_bounds(ptr_even[p], ptr_odd[p], g, start, end);
            bits[p] = start != end;
        }
        for (int i = 0; i < LNZD_WINDOW; i++) {  // constant part-selects, one chosen by lane
#pragma HLS UNROLL
            if (lane == i) word(i * N_PES + N_PES - 1, i * N_PES) = bits;
        }
        g++;
        if (lane == LNZD_WINDOW - 1 || j + 1 == k) {
            occ[at++] = word;
            word = 0;
            lane = 0;
        } else {
            lane++;
        }
    }
}

}  // namespace eie

#endif
