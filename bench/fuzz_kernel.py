"""The larger kernel fuzz (`make fuzz`), with the counts printed:

1. mutated images through the host reader and the C-simulated kernel, plain and under
   AddressSanitizer + UBSan (each configuration's images also run with a column grown to
   the configuration's limit);
2. random models on the concurrent C-simulation (threads, bounded FIFOs) under random
   schedules: jitter seeds, one process slowed down, weights skewed onto few PEs, sparse
   and dense inputs; mismatches with the emulator, deadlocks and tokens left counted;
3. the row-overflow image (2^23 padding entries of z = 255 in one column), streamed and
   on chip, under the sanitizers.

    python bench/fuzz_kernel.py [--mutants 20000] [--sanitized 2000] [--concurrent 200] [--seed 1]

Exits non-zero if any run crashed, any sanitizer report appeared, the reader and the kernel
disagreed on any mutant, an unsealed change was accepted, an accepted image ran differently
from the emulator, or the concurrent simulation found a mismatch, a deadlock or a leftover
token. The suite's bounded versions are tests/kernel/test_kernel_fuzz.py and
tests/kernel/test_concurrent.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from eie.hardware.config import AcceleratorConfig
from eie.kernel.fuzz import (
    OVERFLOW_CONFIG,
    concurrent_fuzz,
    config_label,
    fuzz,
    run_sanitized,
    run_sanitized_overflow,
)

DEPTHS = dict(entry_depth=512, ptr_depth=512, act_depth=48, bias_depth=128, max_layers=4, occupancy_mask=False)
CONFIGS = [
    dict(n_pes=1, weight_bits=1, index_bits=2, act_bits=8, cb_bits=8, acc_bits=16),
    dict(n_pes=2, weight_bits=2, index_bits=3, ternary=True),
    dict(n_pes=3, weight_bits=4, index_bits=4),
    dict(n_pes=8, weight_bits=8, index_bits=6, act_bits=12, cb_bits=10, acc_bits=24),
    dict(n_pes=16, weight_bits=4, index_bits=5, ternary=True, occupancy_mask=True),
    dict(n_pes=4, weight_bits=4, index_bits=4, act_bits=32, cb_bits=32, acc_bits=64),
    # Streaming kernels: one 64-bit port (Zynq-7000's), two and four 128-bit ones.
    dict(n_pes=3, weight_bits=3, index_bits=3, dir_depth=256, occupancy_mask=True, stream_ports=2),
    dict(n_pes=8, weight_bits=2, index_bits=3, ternary=True, dir_depth=256, stream_ports=4),
    dict(n_pes=5, weight_bits=4, index_bits=3, dir_depth=256, stream_ports=1, axi_data_bits=64),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutants", type=int, default=20000, help="per configuration, in-process (default 20000)")
    ap.add_argument("--sanitized", type=int, default=2000, help="per configuration, under ASan/UBSan (default 2000)")
    ap.add_argument("--concurrent", type=int, default=200, help="random models per configuration (default 200)")
    ap.add_argument("--no-overflow", action="store_true", help="skip the sanitized row-overflow runs")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    configs = [AcceleratorConfig(board="zcu104", **{**DEPTHS, **c}) for c in CONFIGS]
    head = f"{'configuration':44s} {'mutants':>8s} {'kernel ok':>9s} {'reader ok':>9s} {'disagree':>8s} "
    head += f"{'silent':>6s} {'outputs':>7s} {'crashes':>7s} {'sanitizer':>9s} {'s':>6s}"
    print(head)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for cfg in configs:
            for mode, n in (("plain", args.mutants), ("asan+ubsan", args.sanitized)):
                if n <= 0:
                    continue
                t = time.perf_counter()
                crashes = reports = 0
                if mode == "plain":
                    rep = fuzz(cfg, n, args.seed)
                else:
                    run = run_sanitized(cfg, n, args.seed, Path(tmp) / f"{cfg.n_pes}-{cfg.weight_bits}", 3600)
                    rep, crashes, reports = run.report, int(run.crashed), run.sanitizer_reports
                    if run.crashed or reports:
                        print(run.stderr_tail, file=sys.stderr)
                dt = time.perf_counter() - t
                label = f"{config_label(cfg)} [{mode}]"
                if rep is None:
                    print(f"{label:44s} {'-':>8s} ... crashed before reporting ({dt:.0f} s)")
                    bad += 1
                    continue
                print(
                    f"{label:44s} {rep.mutants:8d} {rep.kernel_accepted:9d} {rep.reader_accepted:9d} "
                    f"{rep.disagreements:8d} {rep.silent_changes:6d} {rep.output_mismatches:7d} {crashes:7d} "
                    f"{reports:9d} {dt:6.1f}",
                    flush=True,
                )
                for p in rep.problems[:5]:
                    print("   ", p)
                bad += rep.failures + crashes + reports
        if args.concurrent > 0:
            print(
                f"\n{'configuration (concurrent C-sim)':44s} {'models':>7s} {'vectors':>8s} {'mismatch':>8s} "
                f"{'deadlock':>8s} {'leftover':>8s} {'s':>6s}"
            )
            for cfg in configs:
                t = time.perf_counter()
                rep = concurrent_fuzz(cfg, args.concurrent, args.seed)
                print(
                    f"{config_label(cfg):44s} {rep.models:7d} {rep.vectors:8d} {rep.mismatches:8d} "
                    f"{rep.deadlocks:8d} {rep.leftovers:8d} {time.perf_counter() - t:6.1f}",
                    flush=True,
                )
                for p in rep.problems[:3]:
                    print("   ", p)
                bad += rep.failures
        if not args.no_overflow:
            print("\nrow-overflow image (2^23 padding entries, z = 255), asan+ubsan:")
            ocfg = AcceleratorConfig(**OVERFLOW_CONFIG)
            for storage in ("stream", "onchip"):
                t = time.perf_counter()
                result, reports, rc, tail = run_sanitized_overflow(ocfg, storage, Path(tmp) / f"overflow-{storage}")
                ok = result is not None and result["outputs_match"] and reports == 0 and rc == 0
                print(
                    f"  {storage:7s} result {result} sanitizer reports {reports} exit {rc} "
                    f"({time.perf_counter() - t:.0f} s): {'ok' if ok else 'FAILED'}",
                    flush=True,
                )
                if not ok:
                    print(tail, file=sys.stderr)
                    bad += 1
    print("result:", "0 problems" if not bad else f"{bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
