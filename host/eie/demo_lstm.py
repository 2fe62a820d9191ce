"""The LSTM demo: digits as 8 rows of 8 pixels -> LSTM -> Deep Compression -> the kernel.

Trains ``eie.train.digits_lstm``'s LSTM (float), compresses it with
retraining, quantises each gate matrix and the head, and classifies the
held-out digits with the gate matrices on the kernel's C-simulation (or the
emulator when no compiler is found, which is reported) and the sigmoid/tanh
cell update on the host. Reports the float and compressed accuracies, the
compression ratio, and whether the kernel's outputs equal the emulator's bit
for bit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from eie.arithmetic.lstm import EmulatorBackend, LSTMRunner, quantize_lstm
from eie.errors import ToolchainError
from eie.format.qmodel import HWParams


@dataclass
class LSTMDemoOptions:
    seed: int = 0
    board: str = "zcu104"
    n_pes: int = 16
    index_bits: int = 4
    backend: str = "auto"  # auto | csim | emulator
    calib_size: int = 256
    progress: bool = False


def run(opts: LSTMDemoOptions | None = None, log=print) -> dict:
    from eie.board.backends import config_for_models, make_backend
    from eie.format.storage import storage_report
    from eie.train.digits_lstm import LSTMDigitsConfig
    from eie.train.digits_lstm import run as train

    opts = opts or LSTMDemoOptions()
    t0 = time.perf_counter()
    cfg = LSTMDigitsConfig()
    log(f"[1/3] training an LSTM (H={cfg.hidden}) on the digits as 8 rows of 8 pixels, then compressing it ...")
    res = train(cfg, seed=opts.seed, progress=opts.progress)
    log(f"[2/3] quantising the gate matrices and the head ({opts.n_pes} PEs, {cfg.weight_bits}-bit codes) ...")
    params = HWParams(opts.n_pes, cfg.weight_bits, opts.index_bits)
    q = quantize_lstm(res.compressed, params, res.x_train[: opts.calib_size])
    config = config_for_models(q.models, board=opts.board)
    emu = LSTMRunner(q, EmulatorBackend(), trace=True)
    y_emu = emu.run(res.x_test)
    backend, note = opts.backend, ""
    runner = emu
    if backend in ("auto", "csim"):
        log("[3/3] running the test sequences with the gate matrices on the C-simulation ...")
        try:
            runner = LSTMRunner(q, make_backend("csim", config), trace=True)
            y = runner.run(res.x_test)
            backend = "csim"
        except ToolchainError as e:
            if opts.backend == "csim":
                raise
            backend, note, y = "emulator", f"C-simulation unavailable ({e}); results from the emulator", y_emu
    else:
        log("[3/3] running the test sequences through the integer emulator ...")
        backend, y = "emulator", y_emu
    bit_exact = len(runner.kernel_outputs) == len(emu.kernel_outputs) and all(
        np.array_equal(a, b) for a, b in zip(runner.kernel_outputs, emu.kernel_outputs)
    )
    layers = res.compressed.layers
    return {
        "dataset": {"name": "sklearn digits as 8 rows x 8 pixels", "test_samples": int(len(res.y_test))},
        "network": {
            "hidden": cfg.hidden,
            "layers": [{"name": l.name, "shape": list(l.shape), "density": l.density} for l in layers],
        },
        "accuracy": {
            "float": res.float_accuracy,
            "compressed_float_reference": res.compressed_accuracy,
            "compressed": float(np.mean(np.argmax(y, axis=1) == res.y_test)),
        },
        "density": sum(l.nnz for l in layers) / sum(l.shape[0] * l.shape[1] for l in layers),
        "compression_ratio": storage_report(res.compressed, n_pes=1, index_bits=opts.index_bits).compression_ratio,
        "backend": backend,
        "backend_note": note,
        "bit_exact": bit_exact,
        "kernel_calls": len(runner.kernel_outputs),
        "config": {"board": config.board, "n_pes": config.n_pes},
        "seconds": round(time.perf_counter() - t0, 1),
    }


def format_summary(s: dict) -> str:
    a = s["accuracy"]
    return "\n".join(
        [
            "",
            f"EIE LSTM demo on {s['dataset']['name']} ({s['dataset']['test_samples']} held-out images)",
            f"  float LSTM (H={s['network']['hidden']})            {a['float']:>8.2%}",
            f"  pruned + shared (float reference)  {a['compressed_float_reference']:>8.2%}",
            f"  compressed on the kernel ({s['backend']:<8})  {a['compressed']:>8.2%}",
            f"  weight density {s['density']:.1%}, compression vs float32 dense {s['compression_ratio']:.1f}x",
            f"  kernel outputs {'bit-exact with' if s['bit_exact'] else 'DIFFER from'} the emulator "
            f"({s['kernel_calls']} kernel runs){'  [' + s['backend_note'] + ']' if s['backend_note'] else ''}",
            f"  finished in {s['seconds']} s",
        ]
    )


if __name__ == "__main__":  # ``python -m eie.demo_lstm``: the same as ``eie demo --lstm``
    import sys

    summary = run(LSTMDemoOptions(progress=True), log=lambda *a: print(*a, file=sys.stderr))
    print(format_summary(summary))
    sys.exit(0 if summary["bit_exact"] else 1)
