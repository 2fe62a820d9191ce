// The central broadcaster with zero skipping (EIE's leading non-zero
// detection). Activation j of a layer's input sits in PE j mod N at local
// index j div N, so window t = {a_{tN}, ..., a_{tN+N-1}} is one read from
// each PE's source buffer. Each iteration either loads the next window (one
// cycle per window, all-zero windows cost only that) or emits the lowest
// remaining non-zero of the current window to every PE's FIFO.
#ifndef EIE_BROADCAST_HPP
#define EIE_BROADCAST_HPP

#include "eie_common.hpp"

namespace eie {

template <int N>
void broadcast(layer_t L, act_t src[N][ACT_DEPTH], hls::stream<token_t> fifo[N]) {
    const int k = L.cols;
    const int windows = (k + N - 1) / N;
    act_t window[N];
#pragma HLS ARRAY_PARTITION variable=window complete
    ap_uint<N> pending = 0;
    int t = 0;
SCAN:
    while (true) {
#pragma HLS PIPELINE II=1
        if (pending == 0) {
            if (t == windows) break;
            for (int p = 0; p < N; p++) {
#pragma HLS UNROLL
                window[p] = src[p][t];
                pending[p] = (window[p] != 0) && (t * N + p < k);
            }
            t++;
        } else {
            int p = 0;
            for (int q = N - 1; q >= 0; q--) {  // priority encoder: lowest set bit
#pragma HLS UNROLL
                if (pending[q]) p = q;
            }
            token_t tok;
            tok.col = (t - 1) * N + p;
            tok.val = window[p];
            tok.last = false;
            for (int q = 0; q < N; q++) {
#pragma HLS UNROLL
                fifo[q].write(tok);
            }
            pending[p] = 0;
        }
    }
    token_t end;
    end.col = 0;
    end.val = 0;
    end.last = true;
    for (int q = 0; q < N; q++) {
#pragma HLS UNROLL
        fifo[q].write(end);
    }
}

}  // namespace eie

#endif
