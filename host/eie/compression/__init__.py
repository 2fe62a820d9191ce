"""Stage 1, compression (Deep Compression, TTQ weights): float weights in, a
``CompressedModel`` out.

``weights`` the float-weights file; ``prune`` magnitude pruning; ``kmeans``
weight sharing; ``huffman`` code lengths for storage; ``model`` the compressed
model and its file; ``pipeline`` the prune-then-share routine.
"""
