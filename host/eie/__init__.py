"""eie: Deep Compression, TTQ and the EIE sparse accelerator for PYNQ FPGAs.

Importing the package imports numpy only; scikit-learn, jinja2 and torch are
imported by the modules that need them, so the board side (PYNQ image, Python
3.10, numpy) can use the format, image and driver modules alone.
"""

__version__ = "0.1.0"

from .errors import EIEError  # noqa: F401
