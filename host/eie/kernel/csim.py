"""C-simulation of the rendered HLS kernel: g++ + ctypes (docs/architecture.md, ladder step 3).

The kernel sources are rendered for a configuration, compiled with a small
extern "C" bridge against the Xilinx arbitrary-precision headers that ship
in the hls4ml package (templates/vivado/ap_types; hls4ml itself is never
imported), and loaded with ctypes. Builds are cached by a hash of the
sources and the compiler command in $EIE_CACHE_DIR (default
~/.cache/eie-pynq). The kernel's static memories live in the shared
library, so they persist between ``load`` and ``run`` as on the board; two
CSim objects of one configuration share them, like two handles on one board.

Two modes (docs/kernel.md, "Simulating the dataflow"):

- sequential (``CSim(config)``, the ``csim`` backend): the processes of each
  DATAFLOW region run one after another, as Vitis HLS's C-simulation runs
  them, with unbounded streams. Fast, deterministic, and the mode whose loop
  trip counts ``CSim.counters()`` returns (broadcaster scan loop, each PE's
  accumulation and write-out loops), which tests/kernel/test_kernel_timing.py
  compares with the timing model;
- concurrent (``CSim(config, concurrent=True)``, the ``csim-concurrent``
  backend): every process a thread, every stream a bounded FIFO of the depth
  its STREAM pragma declares (eie.kernel.dataflow), as the hardware runs
  them. A deadlock or tokens left in a FIFO raise ``DataflowError``, naming
  the processes and streams. ``Schedule`` perturbs the interleaving (jitter
  from a seed, one process slowed down by name).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eie.errors import CapacityError, ConfigError, DataflowError, EIEError, ImageError, ToolchainError
from eie.hardware.config import AcceleratorConfig
from eie.kernel.abi import (  # noqa: F401 (KernelStatusError re-exported)
    CSIM_COUNTERS,
    CSIM_INFO_FIELDS,
    KERNEL_STATUS,
    KernelStatusError,
    status_error,
)

# Hidden visibility and no STB_GNU_UNIQUE: the PE memories are template static
# members (vague linkage); without these flags the dynamic linker would merge
# them across the libraries of different configurations loaded in one process.
# -O1: a build is most of a first run's time; -O1 compiles in about 80 % of
# -O2's time, and the whole test suite from a cold cache (some sixty kernels)
# took 8.3 min against 9.3 with -O2 (2026-12-06).
CXXFLAGS = (
    "-O1",
    "-std=c++14",
    "-fPIC",
    "-shared",
    "-w",
    "-fvisibility=hidden",
    "-fvisibility-inlines-hidden",
    "-fno-gnu-unique",
)


def ap_types_dir() -> Path:
    """$EIE_AP_TYPES, or templates/vivado/ap_types inside the installed hls4ml (not imported)."""
    env = os.environ.get("EIE_AP_TYPES")
    if env:
        d = Path(env)
        if not (d / "ap_int.h").is_file():
            raise ToolchainError(f"EIE_AP_TYPES={env} does not contain ap_int.h")
        return d
    spec = importlib.util.find_spec("hls4ml")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            d = Path(loc) / "templates" / "vivado" / "ap_types"
            if (d / "ap_int.h").is_file() and (d / "hls_stream.h").is_file():
                return d
    raise ToolchainError(
        "the Xilinx ap_int / hls_stream headers were not found: `pip install hls4ml` (they ship in "
        "hls4ml/templates/vivado/ap_types) or set EIE_AP_TYPES to a directory holding ap_int.h"
    )


def compiler() -> str:
    cxx = os.environ.get("CXX", "g++")
    path = shutil.which(cxx)
    if not path:
        raise ToolchainError(f"C++ compiler {cxx!r} not found: install g++ (e.g. `apt-get install g++`) or set CXX")
    return path


# The sanitizer build (EIE_CSIM_SANITIZE=1, or build(sanitize=True)): out-of-bounds
# accesses and undefined behaviour in the kernel become reports on stderr. The
# library needs the ASan runtime preloaded into Python (eie.kernel.fuzz.sanitizer_env).
SANITIZE_FLAGS = ("-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-static-libubsan")


def sanitize_requested() -> bool:
    return os.environ.get("EIE_CSIM_SANITIZE", "") == "1"


def cache_dir() -> Path:
    """$EIE_CACHE_DIR, else eie-pynq under $XDG_CACHE_HOME when set (absolute, per the XDG spec), else ~/.cache."""
    env = os.environ.get("EIE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "eie-pynq"


# The concurrent build: threads, and the bounded streams of hls/eie_dataflow.hpp.
CONCURRENT_FLAGS = ("-DEIE_CSIM_CONCURRENT", "-pthread")


def build(
    config: AcceleratorConfig, verbose: bool = False, sanitize: bool | None = None, concurrent: bool = False
) -> Path:
    """Render and compile the kernel for ``config``; returns the cached shared library.

    ``sanitize`` (default: $EIE_CSIM_SANITIZE=1) builds with AddressSanitizer
    and UBSan; ``concurrent`` builds the concurrent C-simulation (every
    DATAFLOW process a thread, streams at their declared depths). Each
    variant is cached separately. ``verbose`` says on stderr when a compile
    starts (the first build of a configuration takes several seconds).
    """
    from eie.kernel.dataflow import annotate_sources
    from eie.kernel.render import render_kernel

    flags = CXXFLAGS + (SANITIZE_FLAGS if (sanitize_requested() if sanitize is None else sanitize) else ())
    if concurrent:
        flags += CONCURRENT_FLAGS
    cxx = compiler()
    inc = ap_types_dir()
    # Rendered and compiled in a private directory: another process building the same
    # configuration at the same time (pytest workers, two notebooks) never reads a source
    # this one is writing. The cache keeps the library and, for reading, the sources.
    with tempfile.TemporaryDirectory() as tmp:
        render_kernel(config, tmp, bridge=True)
        if concurrent:
            annotate_sources(tmp)
        h = hashlib.sha256()
        for f in sorted(Path(tmp).iterdir()):
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        h.update(" ".join((cxx,) + flags).encode())
        h.update(str(inc).encode())
        key = h.hexdigest()[:20]
        target = cache_dir() / key
        lib = target / "libeie_csim.so"
        if lib.is_file():
            return lib
        target.mkdir(parents=True, exist_ok=True)
        if verbose:
            mode = "concurrent " if concurrent else ""
            print(
                f"compiling the {mode}C-simulation of the kernel ({config.n_pes} PEs) ...", file=sys.stderr, flush=True
            )
        tmp_lib = target / f"libeie_csim.{os.getpid()}.so"
        cmd = [cxx, *flags, f"-I{tmp}", f"-I{inc}", str(Path(tmp) / "eie_bridge.cpp"), "-o", str(tmp_lib)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tmp_lib.unlink(missing_ok=True)
            raise ToolchainError(f"compiling the C-simulation failed ({' '.join(cmd)}):\n{proc.stderr[-4000:]}")
        for f in Path(tmp).iterdir():
            part = target / f"{f.name}.{os.getpid()}"
            shutil.copyfile(f, part)
            os.replace(part, target / f.name)
    os.replace(tmp_lib, lib)  # atomic: concurrent builds of one config never see a half-written library
    return lib


@dataclass(frozen=True)
class Schedule:
    """How the concurrent C-simulation perturbs the interleaving of the processes.

    ``jitter``: 0 for none; else at one stream access in ``jitter`` a process
    yields, at one in 8 x ``jitter`` it sleeps 1-50 us, drawn from ``seed``.
    ``slow``: a process name (``broadcast``, ``pe0`` .. ``pe{N-1}``,
    ``stream_request``, ``stream_fetch``, ``stream_header``, ``stream_unpack``) that waits ``slow_us`` before each
    stream access. ``timeout_ms``: how long no stream may move, while some
    process still polls, before the run is declared deadlocked.
    """

    jitter: int = 0
    seed: int = 0
    slow: str | None = None
    slow_us: int = 200
    timeout_ms: int = 10000

    def __post_init__(self):
        if self.jitter < 0 or self.slow_us < 0 or self.timeout_ms < 1:
            raise ConfigError(f"schedule {self}: jitter and slow_us must be >= 0, timeout_ms >= 1")


def process_names(config: AcceleratorConfig) -> list[str]:
    """The DATAFLOW processes of a run that a schedule can slow down (the EIE_PROCESS names of hls/eie_top.cpp.j2)."""
    names = ["broadcast"] + [f"pe{p}" for p in range(config.n_pes)]
    if not config.streaming:
        return names
    stages = ("stream_request", "stream_fetch", "stream_header", "stream_unpack")
    lanes = config.stream_lanes
    names += [s if lanes == 1 else f"{s}{lane}" for lane in range(lanes) for s in stages]
    return names + [f"merge{k}_pe{p}" for k in range(len(config.merge_tree)) for p in range(config.n_pes)]


class CSim:
    """The kernel compiled for ``config``, driven like the board: load an image, then run vectors.

    ``concurrent=True`` runs the DATAFLOW processes as threads with bounded
    FIFOs (``schedule`` perturbs them); see the module docstring.
    """

    def __init__(
        self,
        config: AcceleratorConfig,
        sanitize: bool | None = None,
        concurrent: bool = False,
        schedule: Schedule | None = None,
        verbose: bool = False,
    ):
        if schedule is not None and not concurrent:
            raise ConfigError("a schedule perturbs the concurrent C-simulation: pass concurrent=True")
        self.config = config
        self.concurrent = bool(concurrent)
        self.schedule = schedule or Schedule()
        self.library = build(config, sanitize=sanitize, concurrent=self.concurrent, verbose=verbose)
        lib = ctypes.CDLL(str(self.library))
        i64p = ctypes.POINTER(ctypes.c_int64)
        lib.eie_load.argtypes = (ctypes.POINTER(ctypes.c_uint64), ctypes.c_int64)
        lib.eie_load.restype = ctypes.c_int
        lib.eie_run.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            i64p,
            ctypes.c_int64,
            i64p,
            ctypes.c_int64,
            ctypes.POINTER(ctypes.c_uint64),
            ctypes.c_int64,
        )
        lib.eie_run.restype = ctypes.c_int
        lib.eie_info.argtypes = (i64p,)
        lib.eie_info.restype = None
        lib.eie_counters.argtypes = (i64p,)
        lib.eie_counters.restype = None
        lib.eie_lane_counters.argtypes = (i64p,)
        lib.eie_lane_counters.restype = None
        lib.eie_df_configure.argtypes = (ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_int)
        lib.eie_df_configure.restype = None
        lib.eie_df_report.argtypes = (ctypes.c_char_p, ctypes.c_int64)
        lib.eie_df_report.restype = None
        self._lib = lib
        info = np.zeros(len(CSIM_INFO_FIELDS), dtype=np.int64)
        lib.eie_info(info.ctypes.data_as(i64p))
        want = [int(getattr(config, f)) for f in CSIM_INFO_FIELDS]
        if list(info) != want:
            raise ToolchainError(
                f"the compiled kernel {self.library} does not match the configuration; delete {cache_dir()} and retry"
            )
        self.configure(self.schedule)
        self.layers: list[tuple[int, int]] | None = None
        # The loaded image: the run reads streamed layers from it, as the
        # board's kernel reads them from the image buffer (docs/kernel.md).
        self.image = np.zeros(0, dtype=np.uint64)

    def configure(self, schedule: Schedule) -> None:
        """Set the concurrent simulation's perturbations for the following calls."""
        self.schedule = schedule
        slow = (schedule.slow or "").encode()
        self._lib.eie_df_configure(
            int(schedule.seed) & (2**64 - 1),
            int(schedule.jitter),
            slow,
            int(schedule.slow_us),
            int(schedule.timeout_ms),
        )

    def _checked(self, status: int, context: str) -> int:
        """A kernel status, or DataflowError when the concurrent simulation stopped the call."""
        if status == DF_FAILED:
            buf = ctypes.create_string_buffer(1 << 16)
            self._lib.eie_df_report(buf, len(buf))
            # The kernel's static state is whatever the stopped processes left.
            self.layers = None
            raise DataflowError(buf.value.decode(errors="replace"), context)
        return status

    def load_status(self, image) -> int:
        """Load an image (uint64 array or bytes); the kernel's raw status code."""
        if isinstance(image, (bytes, bytearray)):
            if len(image) % 8:
                raise ImageError("truncated", f"image is {len(image)} bytes, not a whole number of 64-bit words")
            words = np.frombuffer(bytes(image), dtype="<u8")
        else:
            words = np.asarray(image)
        words = np.ascontiguousarray(words, dtype=np.uint64)
        self.layers = None
        status = self._checked(
            int(self._lib.eie_load(words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), words.size)), "load"
        )
        if status == 0:
            self.layers = _layer_shapes(words)
            self.image = words.copy()
        return status

    def load(self, image) -> int:
        """Load an image; raise the status's error unless the kernel accepted it."""
        status = self.load_status(image)
        if status != 0:
            context = ""
            if KERNEL_STATUS.get(status) == "capacity":
                context = _capacity_detail(self.config, image)
            raise status_error(status, context)
        return status

    def run(self, x_int: np.ndarray, first: int = 0, last: int | None = None) -> np.ndarray:
        """Run B input vectors (B x K ints) through layers first..last; physical-order outputs (B x M)."""
        if self.layers is None:
            raise status_error(7)
        nl = len(self.layers)
        last = nl - 1 if last is None else int(last)
        first = int(first)
        x = np.atleast_2d(np.asarray(x_int))
        if not np.issubdtype(x.dtype, np.integer):
            raise ConfigError("inputs must be integers (quantise them with eie.arithmetic.emulator.quantize_input)")
        x = np.ascontiguousarray(x, dtype=np.int64)
        if 0 <= first <= last < nl:
            k, m = self.layers[first][1], self.layers[last][0]
            if x.shape[1] != k:
                raise ConfigError(f"inputs have {x.shape[1]} values, layer {first} takes {k}")
            a = self.config.act_bits
            lo, hi = -(1 << (a - 1)), (1 << (a - 1)) - 1
            if x.size and (x.min() < lo or x.max() > hi):
                raise ConfigError(f"input integers exceed the signed {a}-bit range [{lo}, {hi}]")
        else:
            m = 1
        status, y = self.run_raw(first, last, x.shape[0], x.reshape(-1), x.shape[0] * m)
        if status != 0:
            raise status_error(status, f"layers {first}..{last} of a {nl}-layer model")
        return y.reshape(x.shape[0], m)

    def run_raw(self, first: int, last: int, n_vectors: int, x_words: np.ndarray, out_words: int, image=None):
        """The kernel's run call as the board makes it: (status, output words).

        ``x_words`` is the whole input buffer and ``out_words`` the output
        buffer's length; the kernel itself checks them against ``n_vectors``
        and the layers' sizes (status ``buffer_size``). ``image`` is the
        buffer the image register points at (default: the loaded image), from
        which streamed layers are read.
        """
        x = np.ascontiguousarray(np.asarray(x_words).reshape(-1), dtype=np.int64)
        y = np.zeros(int(out_words), dtype=np.int64)
        img = self.image if image is None else np.ascontiguousarray(np.asarray(image).reshape(-1), dtype=np.uint64)
        i64p = ctypes.POINTER(ctypes.c_int64)
        raw = int(
            self._lib.eie_run(
                int(first),
                int(last),
                int(n_vectors),
                x.ctypes.data_as(i64p),
                x.size,
                y.ctypes.data_as(i64p),
                y.size,
                img.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)),
                img.size,
            )
        )
        status = self._checked(raw, f"run of layers {first}..{last}")
        return status, y

    def counters(self) -> dict[str, np.ndarray]:
        """Loop trip counts of the last ``run`` (C-simulation instrumentation), summed over its vectors.

        Indexed by the layer's position in the loaded model: ``broadcast``
        (max_layers,) the broadcaster's scan loop, ``pe`` (max_layers, N) each
        PE's accumulation loop, ``epilogue`` (max_layers, N) each PE's
        write-out loop; ``dispatch``, ``stream_words`` and ``stream_requests``
        summed over the stream lanes (``lane_counters`` has each lane's).
        Layers not run are 0. See docs/kernel.md for what they equal in the
        timing model.
        """
        n, nl = self.config.n_pes, self.config.max_layers
        widths = [n if kind == "pe" else 1 for _, kind in CSIM_COUNTERS]
        raw = np.zeros(nl * sum(widths), dtype=np.int64)
        self._lib.eie_counters(raw.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)))
        raw = raw.reshape(nl, sum(widths))
        out, at = {}, 0
        for (name, kind), w in zip(CSIM_COUNTERS, widths):
            out[name] = raw[:, at : at + w].copy() if kind == "pe" else raw[:, at].copy()
            at += w
        return out

    def lane_counters(self) -> dict[str, np.ndarray]:
        """The per-lane counters of the last ``run``: each (max_layers, lanes), lane l reading columns j = l mod P."""
        names = [name for name, kind in CSIM_COUNTERS if kind == "lane"]
        lanes = max(1, self.config.stream_lanes)
        raw = np.zeros(self.config.max_layers * len(names) * lanes, dtype=np.int64)
        self._lib.eie_lane_counters(raw.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)))
        raw = raw.reshape(self.config.max_layers, len(names), lanes)
        return {name: raw[:, i, :].copy() for i, name in enumerate(names)}


# eie_bridge.cpp.j2's EIE_DF_FAILED: the concurrent simulation stopped the call.
DF_FAILED = -1


def _layer_shapes(words: np.ndarray) -> list[tuple[int, int]]:
    from eie.format import image as img

    nl, d = int(words[img.H_LAYERS]), int(words[img.H_DESC])
    desc = words[d : d + nl * img.DESC_WORDS].reshape(nl, img.DESC_WORDS)
    return [(int(r[img.D_ROWS]), int(r[img.D_COLS])) for r in desc]


def _capacity_detail(config: AcceleratorConfig, image) -> str:
    """Which memory overflows, from the host-side check (best effort on an image the reader accepts)."""
    from eie.format.image import read_image
    from eie.hardware.resources import check_model_fits

    try:
        check_model_fits(config, read_image(image))
    except CapacityError as e:
        return str(e)
    except EIEError:
        return ""
    return ""
