"""Exceptions with messages meant for users: what is wrong and what to do."""

import numpy as np


class EIEError(Exception):
    """Base class of every error the toolkit reports to a user."""


class FormatError(EIEError):
    """A compressed-model file or model image is malformed or mismatched."""


class ImageError(FormatError):
    """A model image is refused by the strict reader.

    ``code`` names the kind of problem (``bad_magic``, ``bad_version``,
    ``truncated``, ``params_mismatch``, ``bad_offset``, ``checksum``,
    ``bad_layer``) so callers and tests can tell them apart.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class ConfigError(EIEError):
    """A setting is out of range or inconsistent."""


class CapacityError(EIEError):
    """A model does not fit the accelerator's memories or the board."""


class OverflowRisk(EIEError):
    """The accumulator could wrap for some admissible input."""


class ToolchainError(EIEError):
    """A compiler or header needed for C-simulation is missing."""


def check_int(name: str, value, lo: int, hi: int) -> int:
    """An integer setting in [lo, hi], or a ConfigError naming the field.

    Booleans and floats are refused even when whole (``4.0``, ``true``): a
    setting that was written as the wrong type is a mistake worth reporting.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    ivalue = int(value)
    if not lo <= ivalue <= hi:
        raise ConfigError(f"{name}={value} is out of range: it must be an integer from {lo} to {hi}")
    return ivalue
