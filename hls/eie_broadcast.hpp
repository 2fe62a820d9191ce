// The central broadcaster with zero skipping (EIE's leading non-zero
// detection, LNZD). Activation j of a layer's input sits in PE bank j mod N
// at local index j div N. The broadcaster looks at a window of W = SCAN_WINDOW
// consecutive activations at a time: W a multiple of N reads W/N words from
// each bank (the buffers are partitioned cyclically by W/N), W a divisor of
// N reads one word from W of the banks.
//
// One flattened loop at II=1. Every iteration emits the lowest pending
// non-zero of the current window to every PE's FIFO (if there is one); in
// the iteration that empties the window it also loads the next window, so a
// window with n non-zeros costs n iterations and an all-zero window costs
// exactly one (the cycle that loads it and finds nothing). The loop starts
// on an empty pseudo-window, so iteration 0 only loads window 0:
//   trips = 1 + sum over the ceil(K / W) windows of max(1, non-zeros).
// A write blocks while a FIFO is full (the stall the timing model adds).
#ifndef EIE_BROADCAST_HPP
#define EIE_BROADCAST_HPP

#include "eie_common.hpp"

namespace eie {

template <int N, int W>
void broadcast(layer_t L, act_t src[N][ACT_DEPTH], hls::stream<token_t> fifo[N]) {
    const int k = L.cols;
    const int windows = (k + W - 1) / W;
    act_t window[W];
#pragma HLS ARRAY_PARTITION variable=window complete
    ap_uint<W> pending = 0;
    int next = 0;  // windows loaded so far
    int base = 0;  // column of the current window's first activation
SCAN:
    while (true) {
#pragma HLS PIPELINE II=1
        EIE_COUNT(counters().broadcast[L.index]++;)
        ap_uint<W> rest = pending;
        if (pending != 0) {
            int q = 0;
            for (int i = W - 1; i >= 0; i--) {  // priority encoder: lowest set bit
#pragma HLS UNROLL
                if (pending[i]) q = i;
            }
            token_t tok;
            tok.col = base + q;
            tok.val = window[q];
            tok.last = false;
            for (int p = 0; p < N; p++) {
#pragma HLS UNROLL
                fifo[p].write(tok);
            }
            rest[q] = 0;
        }
        if (rest == 0) {
            if (next == windows) break;
            base = next * W;
            for (int i = 0; i < W; i++) {
#pragma HLS UNROLL
                const int j = base + i;
                // Constant bank per lane when W is a multiple of N.
                const int bank = (W % N == 0) ? i % N : j % N;
                const int idx = (W % N == 0) ? next * (W / N) + i / N : j / N;
                window[i] = (j < k) ? src[bank][idx] : act_t(0);
                rest[i] = window[i] != 0;
            }
            next++;
        }
        pending = rest;
    }
    token_t end;
    end.col = 0;
    end.val = 0;
    end.last = true;
    for (int p = 0; p < N; p++) {
#pragma HLS UNROLL
        fifo[p].write(end);
    }
}

}  // namespace eie

#endif
