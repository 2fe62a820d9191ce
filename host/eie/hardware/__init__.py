"""Stage 5, hardware: the accelerator that is generated, and what it costs.

``boards`` the board table and the default hardware; ``config`` the
accelerator configuration; ``resources`` the on-chip resource estimate;
``streaming`` which layers are streamed from DDR; ``target`` the default
hardware for a model; ``testmodel`` random models that fit a configuration;
``reports`` the csynth and Vivado reports read beside the estimate. The
kernel itself (rendering, C-simulation) is the next stage, ``eie.kernel``.
"""
