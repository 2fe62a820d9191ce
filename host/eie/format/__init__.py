"""Stage 2, format: how a compressed model is laid out for the hardware.

``csc`` the EIE interleaved CSC encoding (per-PE entries, relative indices,
pointers); ``rowmap`` encoding under a row permutation; ``storage`` storage
accounting; ``qmodel`` the quantised-model types; ``image`` the model image the
kernel loads; ``stream`` the streamed-layer layout (image format version 3);
``vectors`` input files. csc, qmodel and image are board-safe.
"""
