"""Mutated model images through the host reader and the C-simulated kernel (eie.kernel.fuzz).

The promises: the two accept exactly the same images; an unsealed change (CRC not
recomputed) is never accepted; an accepted image runs bit-exact with the emulator of the
model the reader decoded; and under AddressSanitizer and UBSan, with buffers of exactly
the mutant's length, no mutant makes the kernel touch memory it was not given.
A larger run with its counts: `make fuzz` (bench/fuzz_kernel.py).
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import pytest
from kernel_configs import STREAM_CONFIGS, STREAM_DEPTHS, kernel_config

from eie.errors import EIEError

csim = pytest.importorskip("eie.kernel.csim")
fuzz = pytest.importorskip("eie.kernel.fuzz")

# General and ternary kernels, N from 1 to 16, narrow and wide fields.
CONFIGS = {
    "n1_w1_i2_narrow": dict(n_pes=1, weight_bits=1, index_bits=2, act_bits=8, cb_bits=8, acc_bits=16),
    "n2_w2_i3_ternary": dict(n_pes=2, weight_bits=2, index_bits=3, ternary=True),
    "n3_w4_i4": dict(n_pes=3, weight_bits=4, index_bits=4),
    "n8_w8_i6": dict(n_pes=8, weight_bits=8, index_bits=6, act_bits=12, cb_bits=10, acc_bits=24),
    "n16_w4_i5_ternary_mask": dict(n_pes=16, weight_bits=4, index_bits=5, ternary=True, occupancy_mask=True),
    # Streaming hardware (the bit-exact tests' kernels: two 128-bit lanes with the mask, four with
    # ternary layers): fuzz_model streams some layers (directory and stream sections mutated too).
    "n3_w4_i3_mask_p2": {**STREAM_CONFIGS["n3_w4_i3_mask_p2"], **STREAM_DEPTHS},
    "n8_w2_i3_ternary_p4": {**STREAM_CONFIGS["n8_w2_i3_ternary_p4"], **STREAM_DEPTHS},
}
# Two configurations here (ternary, and streaming); `make fuzz` runs all eight under the sanitizers.
SANITIZED = ("n2_w2_i3_ternary", "n3_w4_i3_mask_p2")
SANITIZED_MUTANTS = 150


def summary(rep) -> dict:
    return {k: v for k, v in asdict(rep).items() if k != "by_kind"}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_reader_and_kernel_agree_on_mutants(name):
    rep = fuzz.fuzz(kernel_config(**CONFIGS[name]), 600, seed=11)
    assert rep.mutants == 600
    assert rep.failures == 0, summary(rep)
    # The mutants reach both verdicts, and both sealed and unsealed kinds ran.
    assert 0 < rep.kernel_accepted < rep.mutants
    assert any(k.endswith("+seal") for k in rep.by_kind) and any(not k.endswith("+seal") for k in rep.by_kind)


def _sanitizer_available() -> bool:
    try:
        fuzz.asan_runtime()
    except EIEError:
        return False
    return True


needs_sanitizer = pytest.mark.skipif(not _sanitizer_available(), reason="no AddressSanitizer runtime")


@needs_sanitizer
@pytest.mark.slow
def test_sanitized_fuzz(tmp_path):
    def one(name):
        return name, fuzz.run_sanitized(kernel_config(**CONFIGS[name]), SANITIZED_MUTANTS, 7, tmp_path / name)

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(pool.map(one, SANITIZED))
    for name, run in runs.items():
        assert not run.crashed and run.returncode == 0, f"{name}: exit {run.returncode}\n{run.stderr_tail}"
        assert run.sanitizer_reports == 0, f"{name}:\n{run.stderr_tail}"
        assert run.report is not None and run.report.mutants == SANITIZED_MUTANTS
        assert run.report.failures == 0, summary(run.report)


@needs_sanitizer
@pytest.mark.slow
def test_sanitizer_catches_a_kernel_that_trusts_the_header(tmp_path, monkeypatch):
    """The harness can fail: a kernel that bounds its CRC loop by the header's length instead of the
    buffer's reads past the buffer on a lying header, and the sanitized run reports it."""
    from eie.kernel.render import hls_dir

    hls = tmp_path / "hls"
    shutil.copytree(hls_dir(), hls)
    load = hls / "eie_load.hpp"
    trusting = load.read_text().replace(
        "if (total != image_words) return STATUS_BAD_IMAGE;",
        "if (total < u64(HEADER_WORDS) || total > (u64(1) << 20)) return STATUS_BAD_IMAGE;",
    )
    assert trusting != load.read_text()
    load.write_text(trusting)
    monkeypatch.setenv("EIE_HLS_DIR", str(hls))
    run = fuzz.run_sanitized(kernel_config(**CONFIGS["n3_w4_i4"]), 200, 7, tmp_path / "work")
    assert run.crashed and run.sanitizer_reports > 0
    assert "heap-buffer-overflow" in run.stderr_tail
