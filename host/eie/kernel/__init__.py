"""Stage 6, kernel: the generated HLS kernel and its simulation.

``abi`` the kernel's interface facts (modes, statuses, VLNV; board-safe);
``sources`` where the templates are; ``render`` the Jinja2 rendering of the
HLS sources for a configuration; ``csim`` the g++ C-simulation, sequential or
concurrent (``dataflow``: every DATAFLOW process a thread, every stream a
bounded FIFO of its declared depth); ``fuzz`` the image fuzzer run against
it; ``toolflow`` the Vitis HLS and Vivado runs of a rendered build.
"""
