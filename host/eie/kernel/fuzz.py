"""Fuzzing the kernel's load path: mutated model images, judged by the host reader and the C-simulated kernel.

The promise under test (docs/robustness.md): the kernel and the host reader
accept exactly the same images, the kernel never reads or writes outside the
buffers it is given, and an accepted image runs bit-exact with the emulator
of the model the reader decoded from it. A mutant is a valid image with a few
words changed (the CRC recomputed, "sealed", or not), cut short, or
extended. For each one:

* the reader's verdict: ``read_image`` with the kernel's parameters, then
  ``check_model_fits`` (the kernel reports both damage and capacity);
* the kernel's verdict: its load status on a buffer of exactly the mutant's
  length;
* if both accept: the C-simulation against the emulator on random inputs.

Each base image also runs unmutated, with one of its columns grown by
padding entries (code 0) up to what the configuration holds (``grow_column``):
a column may carry far more padding than its rows need, and the row counter
must neither wrap nor reach memory (``padding_overflow_model`` is the case
of 2^23 padding entries of z = 255 that once made it wrap).

``concurrent_fuzz`` runs random models (some with all their weights on a few
PEs' rows) on the concurrent C-simulation (eie.kernel.csim, bounded FIFOs)
under random schedules: jitter seeds and one slowed process; it counts
mismatches with the emulator, deadlocks and tokens left in FIFOs.

``fuzz`` runs in-process. ``run_sanitized`` runs it in a subprocess against a
C-simulation built with ``-fsanitize=address,undefined``, so an out-of-bounds
access or undefined behaviour in the kernel is a report on stderr (counted),
and a crash ends only that subprocess. ``python -m eie.kernel.fuzz`` is the
subprocess's entry point and prints the counts as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from eie.errors import CapacityError, ConfigError, EIEError, ImageError
from eie.format import image as fmt
from eie.format.csc import encode
from eie.format.qmodel import QuantLayer, QuantModel
from eie.hardware.config import AcceleratorConfig

# hls4ml's copy of the Xilinx ap_int headers shifts negative values and lets
# signed intermediates overflow by design; UBSan reports in those two headers
# are theirs, not the kernel's. Every other report counts.
UBSAN_SUPPRESSIONS = "\n".join(
    f"{check}:{header}"
    for header in ("ap_private.h", "ap_int_base.h")
    for check in ("shift-base", "shift-exponent", "signed-integer-overflow")
)
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def fuzz_model(config: AcceleratorConfig, seed: int, skew: bool = False) -> QuantModel:
    """A random model that fits ``config``, with what the checks look at.

    Random row permutations, zero runs longer than the index field (padding
    entries), empty columns, biases of both signs, two or three layers with
    consistent fixed-point formats, and a ternary layer on a ternary kernel.
    On a kernel with streaming hardware (``dir_depth`` > 0) one layer is
    streamed and each other layer streamed or on chip at random, as far as
    the directory holds it. ``skew`` puts every weight of a layer on the rows
    of one or two PEs: the others run dry (the concurrent simulation's case).
    """
    rng = np.random.default_rng(seed)
    n = config.n_pes
    cap = config.act_depth * n
    dims = [int(rng.integers(1, min(cap, 3 * n + 5) + 1)) for _ in range(min(config.max_layers, 2) + 1)]
    fa = [int(rng.integers(2, 8)) for _ in dims]
    layers = []
    dir_left = config.dir_depth
    # On streaming hardware one layer (at random) is always streamed, the others at random.
    forced = int(rng.integers(0, len(dims) - 1)) if config.streaming else -1
    for i in range(len(dims) - 1):
        k, m = dims[i], dims[i + 1]
        ternary = config.ternary and i == len(dims) - 2
        dense = rng.random((m, k)) < rng.uniform(0.05, 0.5)
        dense[:, rng.random(k) < 0.2] = False  # empty columns
        if skew:
            busy = rng.choice(n, size=min(n, 2), replace=False)
            dense[~np.isin(np.arange(m) % n, busy)] = False
        rows, cols = np.nonzero(dense)
        order = np.lexsort((rows, cols))
        rows, cols = rows[order], cols[order]
        top = 3 if ternary else 1 << config.weight_bits
        codes = rng.integers(1, top, size=rows.size)
        enc = encode(rows, cols, codes, (m, k), n, config.index_bits, config.weight_bits)
        cb = np.zeros(1 << config.weight_bits, dtype=np.int64)
        lim = 1 << min(config.cb_bits - 1, 7)
        if ternary:
            cb[1], cb[2] = int(rng.integers(1, lim)), -int(rng.integers(1, lim))
        else:
            cb[1:] = rng.integers(-lim, lim, size=cb.size - 1)
        fw = int(rng.integers(0, 6))
        fa_in, fa_out = fa[i], fa[i + 1]
        if fa_in + fw < fa_out:
            fw = fa_out - fa_in
        blim = 1 << min(config.acc_bits - 2, 12)
        bias = rng.integers(-blim, blim, size=m)
        perm = rng.permutation(m)
        relu = i + 1 < len(dims) - 1
        storage = "onchip"
        if config.streaming and dir_left >= k + 1 and (i == forced or rng.random() < 0.5):
            storage, dir_left = "stream", dir_left - (k + 1)
        layers.append(
            QuantLayer(f"l{i}", enc, cb, bias, perm, fa_in, fw, fa_out, relu=relu, ternary=ternary, storage=storage)
        )
    return QuantModel(config.to_hwparams(), layers)


def grow_column(qm: QuantModel, layer: int, pe: int, col: int, padding: int) -> QuantModel:
    """``qm`` with ``padding`` entries (code 0, the longest zero run) after column ``col``'s
    last entry in PE ``pe`` of ``layer``: rows past the PE's share, which add nothing."""
    from dataclasses import replace

    ql = qm.layers[layer]
    enc = ql.encoded
    at = int(enc.pe_start[pe] + enc.ptr[pe, col + 1])
    v = np.insert(enc.v, at, np.zeros(padding, dtype=enc.v.dtype))
    z = np.insert(enc.z, at, np.full(padding, (1 << enc.index_bits) - 1, dtype=enc.z.dtype))
    pe_start = enc.pe_start.copy()
    pe_start[pe + 1 :] += padding
    ptr = enc.ptr.copy()
    ptr[pe, col + 1 :] += padding
    grown = replace(enc, v=v, z=z, pe_start=pe_start, ptr=ptr)
    layers = list(qm.layers)
    layers[layer] = replace(ql, encoded=grown)
    return QuantModel(qm.params, layers, dict(qm.info))


def grown_model(config: AcceleratorConfig, seed: int) -> QuantModel:
    """``fuzz_model`` with one column of one PE grown to the most padding the configuration
    holds: an on-chip layer to the PE's entry memory, a streamed one to 2^16 entries."""
    rng = np.random.default_rng(seed)
    qm = fuzz_model(config, seed)
    layer = int(rng.integers(0, len(qm.layers)))
    ql = qm.layers[layer]
    pe, col = int(rng.integers(0, config.n_pes)), int(rng.integers(0, ql.shape[1]))
    if ql.storage == "stream":
        padding = 1 << 16
    else:
        e = config.entries_per_word
        used = sum(-(-int(q.encoded.n_entries[pe]) // e) for q in qm.layers if q.storage == "onchip")
        padding = (config.entry_depth - used) * e
    return grow_column(qm, layer, pe, col, max(0, padding))


def padding_overflow_model(config: AcceleratorConfig, padding: int, storage: str) -> QuantModel:
    """Issue 18's row-overflow image: an M = 4, K = 1 layer on PE 0 whose column holds one weight
    (code 1, row 0) and then ``padding`` entries of code 0 with the longest zero run. With
    index_bits = 8, 2^23 of them take the row counter past 2^31."""
    rows = np.array([0])
    enc = encode(rows, np.array([0]), np.array([1]), (4, 1), config.n_pes, config.index_bits, config.weight_bits)
    cb = np.zeros(1 << config.weight_bits, dtype=np.int64)
    cb[1] = 5
    ql = QuantLayer("overflow", enc, cb, np.zeros(4, np.int64), np.arange(4), 0, 0, 0, relu=False, storage=storage)
    return grow_column(QuantModel(config.to_hwparams(), [ql]), 0, 0, 0, padding)


def _section_words(img: np.ndarray) -> np.ndarray:
    """Word positions of the header, the descriptors and the small sections (where structure lives)."""
    nl, d = int(img[fmt.H_LAYERS]), int(img[fmt.H_DESC])
    desc = img[d : d + nl * fmt.DESC_WORDS].reshape(nl, fmt.DESC_WORDS).astype(np.int64)
    pos = [np.arange(d + nl * fmt.DESC_WORDS)]
    for row in desc:
        for at, size in (
            (fmt.D_CODEBOOK, 4),
            (fmt.D_BIAS, 4),
            (fmt.D_PERM, 4),
            (fmt.D_COUNTS, 4),
            (fmt.D_PTR, 6),
            (fmt.D_ENTRIES, 6),
            (fmt.D_DIR, 6),  # a streamed layer's column directory (0 in an on-chip layer)
        ):
            pos.append(row[at] + np.arange(size))
    p = np.concatenate(pos)
    return p[p < img.size]


def _value(rng: np.random.Generator, old: int, other: int) -> int:
    """A replacement for one word: random, small, off by one or two, one bit flipped, a power of two
    (and its neighbours), another word of the image, one 32-bit half changed, or negated."""
    kind = int(rng.integers(0, 9))
    if kind == 0:
        v = int(rng.integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True))
    elif kind == 1:
        v = int(rng.integers(0, 70))
    elif kind == 2:
        v = old + int(rng.choice([-2, -1, 1, 2]))
    elif kind == 3:
        v = old ^ (1 << int(rng.integers(0, 64)))
    elif kind == 4:
        v = 0
    elif kind == 5:
        v = (1 << int(rng.integers(0, 64))) + int(rng.integers(-1, 2))
    elif kind == 6:
        v = other
    elif kind == 7:  # pointers, permutations and row indices are uint32 pairs
        half = int(rng.integers(0, 2)) * 32
        v = (old & ~(0xFFFFFFFF << half)) | (int(rng.integers(0, 1 << 32)) << half)
    else:  # two's-complement negation of a signed field (codebook, bias)
        v = -old
    return v % 2**64


def mutants(img: np.ndarray, rng: np.random.Generator, count: int) -> Iterator[tuple[str, np.ndarray]]:
    """``count`` mutants of ``img``: (kind, words). Kinds ending in ``+seal`` have their CRC recomputed."""
    hot = _section_words(img)
    for _ in range(count):
        w = img.copy()
        r = float(rng.random())
        if r < 0.12:  # length: cut or extend, with or without a matching header
            if rng.random() < 0.5 and w.size > 1:
                w = w[: int(rng.integers(0, w.size))].copy()
                kind = "cut"
            else:
                w = np.concatenate([w, rng.integers(0, 2**63, size=int(rng.integers(1, 5)), dtype=np.uint64)])
                kind = "extend"
            if w.size > fmt.H_TOTAL and rng.random() < 0.5:
                w[fmt.H_TOTAL] = w.size
                kind += "+total"
        elif r < 0.2:
            i, j = rng.integers(0, w.size, size=2)
            w[[i, j]] = w[[j, i]]
            kind = "swap"
        elif r < 0.28:  # fixed-point formats changed together, so shift = fa_in + fw - fa_out still holds
            at = int(w[fmt.H_DESC]) + fmt.DESC_WORDS * int(rng.integers(0, int(w[fmt.H_LAYERS])))
            step = int(rng.choice([-1, 1]))
            field, partner = [(fmt.D_FA_IN, fmt.D_SHIFT), (fmt.D_FA_OUT, fmt.D_FW), (fmt.D_FW, fmt.D_SHIFT)][
                int(rng.integers(0, 3))
            ]
            w[at + field] = np.uint64((int(w[at + field]) + step) % 2**64)
            w[at + partner] = np.uint64((int(w[at + partner]) + step) % 2**64)
            kind = "formats"
        else:
            n_changes = int(rng.choice([1, 1, 1, 2, 3]))
            for _ in range(n_changes):
                pos = int(rng.choice(hot)) if rng.random() < 0.7 else int(rng.integers(0, w.size))
                other = int(w[int(rng.integers(0, w.size))])
                w[pos] = np.uint64(_value(rng, int(w[pos]), other))
            kind = "word"
        if w.size > fmt.H_CHECKSUM and rng.random() < 0.8:
            w[fmt.H_CHECKSUM] = fmt.checksum(w)
            kind += "+seal"
        yield kind, w


def reader_verdict(words: np.ndarray, config: AcceleratorConfig) -> tuple[bool, QuantModel | None, str]:
    """(accepted, model, reason): the host reader with the kernel's parameters, then the capacity check."""
    from eie.hardware.resources import check_model_fits

    try:
        qm = fmt.read_image(words, expect=config.to_hwparams())
    except ImageError as e:
        return False, None, e.code
    try:
        check_model_fits(config, qm)
    except (CapacityError, ConfigError):
        return False, qm, "capacity"
    return True, qm, "ok"


@dataclass
class FuzzReport:
    """Counts of one fuzz run; ``problems`` lists the first few mutants that broke a promise."""

    config: str
    mutants: int = 0
    kernel_accepted: int = 0
    reader_accepted: int = 0
    disagreements: int = 0
    silent_changes: int = 0  # an unsealed change the kernel accepted
    output_mismatches: int = 0  # accepted by both, C-sim != emulator
    grown: int = 0  # unmutated images with a column grown to the configuration's limit
    by_kind: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.disagreements + self.silent_changes + self.output_mismatches


def fuzz(config: AcceleratorConfig, count: int, seed: int = 0, models: int = 2) -> FuzzReport:
    """``count`` mutants of ``models`` random models through the reader and the C-simulated kernel."""
    from eie.arithmetic.emulator import Emulator
    from eie.hardware.testmodel import random_inputs
    from eie.kernel.csim import CSim

    sim = CSim(config)
    rep = FuzzReport(config=config_label(config))
    rng = np.random.default_rng(seed)
    bases = [fmt.build_image(fuzz_model(config, seed * 1000 + i)) for i in range(models)]
    # The grown images, unmutated: accepted by both exactly when they fit, and bit-exact.
    for i in range(models):
        words = fmt.build_image(grown_model(config, seed * 1000 + i))
        rep.grown += 1
        ok_reader, qm, reason = reader_verdict(words, config)
        status = sim.load_status(words)
        note = {"model": i, "kind": "grown", "reader": reason, "kernel_status": status}
        if ok_reader != (status == 0):
            rep.disagreements += 1
            rep.problems.append({**note, "problem": "disagreement"})
        elif ok_reader:
            x = random_inputs(qm, 3, seed=i)
            if not np.array_equal(sim.run(x), Emulator(qm).run_layers(x)):
                rep.output_mismatches += 1
                rep.problems.append({**note, "problem": "C-sim differs from the emulator"})
    per = -(-count // len(bases))
    for b, base in enumerate(bases):
        for kind, words in mutants(base, rng, min(per, count - rep.mutants)):
            rep.mutants += 1
            rep.by_kind[kind] = rep.by_kind.get(kind, 0) + 1
            ok_reader, qm, reason = reader_verdict(words, config)
            status = sim.load_status(words)
            ok_kernel = status == 0
            rep.reader_accepted += ok_reader
            rep.kernel_accepted += ok_kernel
            changed = words.size != base.size or not np.array_equal(words, base)
            note = {"model": b, "kind": kind, "reader": reason, "kernel_status": status}
            if ok_reader != ok_kernel:
                rep.disagreements += 1
                rep.problems.append({**note, "problem": "disagreement", "diff": _diff(base, words)})
            if ok_kernel and changed and not kind.endswith("+seal"):
                rep.silent_changes += 1
                rep.problems.append({**note, "problem": "unsealed change accepted", "diff": _diff(base, words)})
            if ok_kernel and ok_reader:
                x = random_inputs(qm, 3, seed=rep.mutants)
                if not np.array_equal(sim.run(x), Emulator(qm).run_layers(x)):
                    rep.output_mismatches += 1
                    rep.problems.append({**note, "problem": "C-sim differs from the emulator"})
    del rep.problems[20:]
    return rep


def _diff(a: np.ndarray, b: np.ndarray) -> list:
    n = min(a.size, b.size)
    where = np.flatnonzero(a[:n] != b[:n])[:4].tolist()
    out = [[i, int(a[i]), int(b[i])] for i in where]
    if a.size != b.size:
        out.append(["length", int(a.size), int(b.size)])
    return out


def config_label(config: AcceleratorConfig) -> str:
    c = config
    return (
        f"N={c.n_pes} w={c.weight_bits} i={c.index_bits} a={c.act_bits} cb={c.cb_bits} acc={c.acc_bits}"
        + (" ternary" if c.ternary else "")
        + (" mask" if c.occupancy_mask else "")
        + (f" stream {c.stream_lanes}x{c.stream_bits}" if c.streaming else "")
    )


# -- the concurrent C-simulation under random schedules ----------------------------------------


@dataclass
class ConcurrentReport:
    """Counts of ``concurrent_fuzz``; ``problems`` lists the first few failures."""

    config: str
    models: int = 0
    vectors: int = 0
    mismatches: int = 0  # outputs that differ from the emulator
    deadlocks: int = 0
    leftovers: int = 0  # tokens left in a FIFO when a region ended
    problems: list = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.mismatches + self.deadlocks + self.leftovers


def random_schedule(config: AcceleratorConfig, rng: np.random.Generator):
    """Jitter from a random seed (sometimes none), and most of the time one process slowed
    down: the broadcaster (the PEs run dry) half of those times, else any process."""
    from eie.kernel.csim import Schedule, process_names

    names = process_names(config)
    r = rng.random()
    slow = "broadcast" if r < 0.4 else str(rng.choice(names)) if r < 0.8 else None
    return Schedule(
        jitter=int(rng.choice([0, 1, 2, 4, 16])),
        seed=int(rng.integers(0, 2**31)),
        slow=slow,
        slow_us=int(rng.integers(5, 100)),
        timeout_ms=20000,
    )


def concurrent_fuzz(config: AcceleratorConfig, models: int, seed: int = 0, vectors: int = 3) -> ConcurrentReport:
    """``models`` random models (a third skewed onto few PEs) on the concurrent C-simulation,
    each under a random schedule and inputs of random density, against the emulator."""
    from eie.arithmetic.emulator import Emulator
    from eie.errors import DataflowError
    from eie.hardware.testmodel import random_inputs
    from eie.kernel.csim import CSim

    sim = CSim(config, concurrent=True)
    rep = ConcurrentReport(config=config_label(config))
    rng = np.random.default_rng(seed)
    for i in range(models):
        qm = fuzz_model(config, seed * 100003 + i, skew=i % 3 == 2)
        schedule = random_schedule(config, rng)
        density = float(rng.choice([0.05, 0.5, 1.0]))
        x = random_inputs(qm, vectors, seed=i, density=density)
        rep.models += 1
        note = {"model": i, "schedule": asdict(schedule), "density": density, "skew": i % 3 == 2}
        try:
            sim.configure(schedule)
            sim.load(qm.to_image())
            got = sim.run(x)
        except DataflowError as e:
            if "tokens left" in e.report:
                rep.leftovers += 1
            else:
                rep.deadlocks += 1
            rep.problems.append({**note, "problem": e.report})
            continue
        rep.vectors += vectors
        if not np.array_equal(got, Emulator(qm).run_layers(x)):
            rep.mismatches += 1
            rep.problems.append({**note, "problem": "C-sim differs from the emulator"})
    del rep.problems[20:]
    return rep


# -- the sanitizer run ---------------------------------------------------------------------------


def asan_runtime() -> str:
    """The compiler's AddressSanitizer runtime library, or an EIEError saying it is missing."""
    from eie.kernel.csim import compiler

    cmd = [compiler(), "-print-file-name=libasan.so"]
    lib = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    if not lib or not Path(lib).is_file():
        raise EIEError(f"the AddressSanitizer runtime was not found ({' '.join(cmd)}); install libasan for your g++")
    return lib


def sanitizer_env(workdir: Path) -> dict:
    """Environment for a Python process that loads an ASan/UBSan-instrumented C-simulation.

    Python itself is not instrumented, so the ASan runtime must be loaded
    first (LD_PRELOAD); leaks are Python's, not the kernel's, and are off.
    """
    lib = asan_runtime()
    supp = workdir / "ubsan.supp"
    supp.write_text(UBSAN_SUPPRESSIONS + "\n")
    env = dict(os.environ)
    env.update(
        LD_PRELOAD=lib,
        ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=99",
        UBSAN_OPTIONS=f"print_stacktrace=1:halt_on_error=0:suppressions={supp}",
        EIE_CSIM_SANITIZE="1",
    )
    return env


@dataclass
class SanitizedRun:
    report: FuzzReport | None
    returncode: int
    sanitizer_reports: int
    crashed: bool
    stderr_tail: str


def run_sanitized(config: AcceleratorConfig, count: int, seed: int, workdir: Path, timeout_s: float = 600):
    """``fuzz`` in a subprocess on the sanitized C-simulation; a crash or a report is counted, never fatal here."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / f"config-{seed}.json"
    cfg_path.write_text(json.dumps(asdict(config)))
    cmd = [sys.executable, "-m", "eie.kernel.fuzz", "--config-json", str(cfg_path)]
    cmd += ["--mutants", str(count), "--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=sanitizer_env(workdir), timeout=timeout_s)
    reports = sum(proc.stderr.count(m) for m in SANITIZER_MARKERS)
    report = None
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            data = json.loads(line)
            report = FuzzReport(**{k: v for k, v in data.items() if k != "failures"})
            break
    return SanitizedRun(report, proc.returncode, reports, proc.returncode != 0, proc.stderr[-3000:])


# The row-overflow case's configuration: one PE, 1-bit codes, 8-bit zero runs, an
# entry memory that holds 2^23 padding entries (and a directory for the streamed one).
OVERFLOW_CONFIG = dict(
    board="zcu104",
    n_pes=1,
    weight_bits=1,
    index_bits=8,
    act_bits=8,
    cb_bits=8,
    acc_bits=20,
    dir_depth=4,
    entry_depth=1 << 21,
    ptr_depth=512,
    act_depth=48,
    bias_depth=128,
    max_layers=4,
)
OVERFLOW_PADDING = 1 << 23


def run_overflow(config: AcceleratorConfig, storage: str, padding: int = OVERFLOW_PADDING) -> dict:
    """The row-overflow image on the C-simulation (sanitized when $EIE_CSIM_SANITIZE=1):
    {"storage", "status", "outputs_match"}; the outputs are x * 5 in row 0 and 0 elsewhere."""
    from eie.arithmetic.emulator import Emulator
    from eie.kernel.csim import CSim

    qm = padding_overflow_model(config, padding, storage)
    sim = CSim(config)
    status = sim.load_status(qm.to_image())
    x = np.array([[5], [-7]])
    want = np.zeros((2, 4), dtype=np.int64)
    want[:, 0] = 5 * x[:, 0]
    match = status == 0 and np.array_equal(sim.run(x), want) and np.array_equal(Emulator(qm).run_layers(x), want)
    return {"storage": storage, "status": int(status), "outputs_match": bool(match)}


def run_sanitized_overflow(config: AcceleratorConfig, storage: str, workdir: Path, timeout_s: float = 1800):
    """``run_overflow`` in a subprocess on the sanitized C-simulation: (result or None, sanitizer reports,
    return code, stderr tail)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / "overflow-config.json"
    cfg_path.write_text(json.dumps(asdict(config)))
    cmd = [sys.executable, "-m", "eie.kernel.fuzz", "--config-json", str(cfg_path), "--overflow", storage]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=sanitizer_env(workdir), timeout=timeout_s)
    reports = sum(proc.stderr.count(m) for m in SANITIZER_MARKERS)
    result = None
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            result = json.loads(line)
            break
    return result, reports, proc.returncode, proc.stderr[-3000:]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eie.kernel.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config-json", required=True, help="an AcceleratorConfig as JSON (dataclass fields)")
    ap.add_argument("--mutants", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--overflow", choices=("stream", "onchip"), help="run the row-overflow image instead")
    args = ap.parse_args(argv)
    config = AcceleratorConfig(**json.loads(Path(args.config_json).read_text()))
    if args.overflow:
        print(json.dumps(run_overflow(config, args.overflow)), flush=True)
        return 0
    rep = fuzz(config, args.mutants, args.seed)
    print(json.dumps({**asdict(rep), "failures": rep.failures}), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - the subprocess entry point
    raise SystemExit(main())
