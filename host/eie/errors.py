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


class DataflowError(EIEError):
    """The concurrent C-simulation stopped the kernel: a deadlock, or tokens left in a FIFO.

    ``report`` names the DATAFLOW region, its processes and their streams.
    """

    def __init__(self, report: str, context: str = ""):
        where = f" ({context})" if context else ""
        super().__init__(f"concurrent C-simulation{where}: {report.rstrip()}")
        self.report = report


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


class KernelTimeout(EIEError):
    """The kernel did not signal done within the driver's timeout (``mode``, ``seconds``)."""

    def __init__(self, mode: str, seconds: float, message: str):
        super().__init__(message)
        self.mode = mode
        self.seconds = seconds


# Real values that enter the toolkit (weights, biases, codebooks, inputs) are
# refused beyond this magnitude: far above any trained network's values, far
# below where float64 arithmetic on them (scaling by 2^40, sums) overflows.
MAX_REAL = 1e30
# Arrays the tools would allocate from a size the user gave (vectors, layer
# shapes) are refused above this many bytes, before any allocation.
MAX_ALLOC_BYTES = 1 << 33


def real_array(name: str, value, error: type[EIEError] = FormatError, limit: float = MAX_REAL) -> np.ndarray:
    """``value`` as a float64 array of finite reals within ±``limit``, or ``error`` naming ``name``.

    Refuses what is not numbers (strings, objects), complex values (never
    cast: the imaginary part would be dropped), NaN, infinity and magnitudes
    above ``limit``. One pass over the data.
    """
    a = np.asarray(value)
    if np.iscomplexobj(a):
        raise error(f"{name} holds complex values ({a.dtype}); expected real numbers")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise error(f"{name} holds {a.dtype} values; expected real numbers")
    a = a.astype(np.float64, copy=False)
    if a.size:
        with np.errstate(invalid="ignore"):
            peak = float(np.max(np.abs(a)))
        if not np.isfinite(peak) or np.isnan(a).any():
            raise error(f"{name} contains NaN or infinity")
        if peak > limit:
            raise error(f"{name} holds {peak:g}, beyond the supported magnitude {limit:g}")
    return a


def int_array(name: str, value, lo: int, hi: int, error: type[EIEError] = FormatError) -> np.ndarray:
    """``value`` as an int64 array of integers in [lo, hi], or ``error`` naming ``name``.

    Integer dtypes only: a float array (even of whole numbers) or booleans are
    refused, and the range is checked before any cast, so a uint64 that would
    wrap to -1 is refused too.
    """
    a = np.asarray(value)
    if a.size == 0 and np.issubdtype(a.dtype, np.number):
        return a.astype(np.int64)  # an empty list is float64 to numpy
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise error(f"{name} holds {a.dtype} values; expected integers")
    if a.size:
        amin, amax = a.min(), a.max()  # in the array's own dtype: no wrap
        if int(amin) < lo or int(amax) > hi:
            bad = int(amin) if int(amin) < lo else int(amax)
            raise error(f"{name} holds {bad}, outside {lo}..{hi}")
    return a.astype(np.int64, copy=False)


def check_alloc(what: str, shape, itemsize: int = 8, error: type[EIEError] = ConfigError) -> None:
    """Refuse an allocation of ``shape`` x ``itemsize`` bytes above MAX_ALLOC_BYTES, naming its size."""
    n = 1
    for d in shape:
        n *= int(d)
    size = n * int(itemsize)
    if size > MAX_ALLOC_BYTES:
        raise error(
            f"{what} would need {size / 2**30:.3g} GiB ({' x '.join(str(int(d)) for d in shape)} values), "
            f"more than the {MAX_ALLOC_BYTES / 2**30:g} GiB this tool allocates"
        )
