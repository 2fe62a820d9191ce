"""Stage 4, performance: cycles, load balance and index widths (modelled).

``timing`` the cycle model of the PE array; ``balance`` row maps that even
out the PEs' work; ``index_bits`` the relative-index width trade-off;
``synthetic`` random layers of a given shape and density.
"""
