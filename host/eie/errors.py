"""Exceptions with messages meant for users: what is wrong and what to do."""


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


def check_bits(name: str, value: int, lo: int, hi: int) -> int:
    """Validate an integer bit width, raising ConfigError naming the field."""
    try:
        ivalue = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if ivalue != value or not lo <= ivalue <= hi:
        raise ConfigError(f"{name}={value} is out of range: it must be an integer from {lo} to {hi}")
    return ivalue
