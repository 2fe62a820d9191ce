"""Stage 5, hardware: the accelerator that is generated and simulated.

``abi`` the kernel's interface facts (modes, statuses, VLNV); ``boards`` the
board table and the default hardware; ``config`` the accelerator
configuration; ``resources`` the on-chip resource estimate; ``streaming``
which layers are streamed from DDR; ``render`` the
Jinja2 rendering of the HLS sources; ``testmodel`` random models that fit a
configuration; ``csim`` the g++ C-simulation. abi is board-safe.
"""
