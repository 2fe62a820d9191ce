"""Compressed LSTM files through ``eie inspect``, ``generate``, ``verify``, ``deploy`` and ``run``.

Each command hands an LSTM file (``eie compress`` of an LSTM writes one:
``eie.compression.lstm.is_compressed_lstm``) or an LSTM bundle here: the gate
matrices and the head run on the kernel (one image each, one configuration
for all), the sigmoid/tanh cell on the host (``eie.arithmetic.lstm``).
Inputs are sequences B x T x I (``.npy``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from eie.cli.output import emit, warn_calibration


def is_lstm_file(path) -> bool:
    from eie.compression.lstm import is_compressed_lstm

    return bool(path) and Path(path).is_file() and is_compressed_lstm(path)


def is_lstm_bundle(path) -> bool:
    try:
        return json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8")).get("kind") == "lstm"
    except (OSError, ValueError, AttributeError):
        return False


def _sequences(path, model):
    from eie.compression.lstm import load_sequences

    return None if path is None else load_sequences(path, model.spec.input_size)


def _warn(command: str, q) -> None:
    if q.info.get("warning"):
        warn_calibration(command, {"warning": q.info["warning"]})


def verify(args: argparse.Namespace) -> int:
    """Every kernel output of the LSTM's sequences on the backend equals the emulator's."""
    from eie.arithmetic.lstm import EmulatorBackend, LSTMRunner
    from eie.board.backends import make_backend
    from eie.compression.lstm import CompressedLSTM
    from eie.errors import ConfigError
    from eie.hardware.target import describe_hardware, hardware_line, quantized_lstm

    if args.vectors < 1:
        raise ConfigError(f"--vectors={args.vectors} must be at least 1")
    model = CompressedLSTM.load(args.model)
    calib = _sequences(args.calib, model)
    config, q, xs = quantized_lstm(model, args.config, calib, args.vectors, args.seed)
    _warn("verify", q)
    xs = _sequences(args.input, model) if args.input else xs[: args.vectors]
    want = LSTMRunner(q, EmulatorBackend(), trace=True)
    want.run(xs)
    t0 = time.perf_counter()
    got = LSTMRunner(q, EmulatorBackend() if args.backend == "emulator" else make_backend(args.backend, config), True)
    got.run(xs)
    seconds = time.perf_counter() - t0
    pairs = list(zip(got.kernel_outputs, want.kernel_outputs))
    mismatches = sum(int(np.count_nonzero(a != b)) for a, b in pairs)
    mismatches += abs(len(got.kernel_outputs) - len(want.kernel_outputs))
    hw = describe_hardware(config, args.config)
    report = {
        "hardware": hw,
        "network": "lstm",
        "backend": args.backend,
        "vectors": int(xs.shape[0]),
        "steps": int(xs.shape[1]),
        "kernel_runs": len(want.kernel_outputs),
        "outputs": int(sum(a.size for a in want.kernel_outputs)),
        "mismatches": mismatches,
        "bit_exact": mismatches == 0,
        "acc_bits": config.acc_bits,
        "seconds": round(seconds, 3),
    }
    state = "bit-exact" if mismatches == 0 else f"{mismatches} MISMATCHES"
    text = (
        f"{hardware_line(hw)}\n{args.backend}: LSTM, {report['vectors']} sequences of {report['steps']} steps, "
        f"{report['kernel_runs']} kernel runs, {report['outputs']} outputs, {state} (N={config.n_pes}, {config.board})"
    )
    emit(args, report, text)
    return 0 if mismatches == 0 else 1


def generate(args: argparse.Namespace) -> int:
    """The kernel for the LSTM's configuration, and its images (``lstm/``: one per gate matrix and the head)."""
    from eie.arithmetic.emulator import quantize_input
    from eie.arithmetic.lstm import save_quant_lstm
    from eie.compression.lstm import CompressedLSTM
    from eie.hardware.resources import check_fits_board
    from eie.hardware.target import describe_hardware, hardware_line, quantized_lstm
    from eie.kernel.render import render
    from eie.safeio import prepare_output_dir

    model = CompressedLSTM.load(args.model)
    prepare_output_dir(args.output, args.force)
    config, q, xs = quantized_lstm(model, args.config, _sequences(args.calib, model), args.vectors, args.seed)
    _warn("generate", q)
    est = check_fits_board(config)
    first = q.models[0]
    x = np.asarray(xs[: args.vectors], dtype=np.float64)
    v0 = np.concatenate([x[:, 0, :], np.zeros((x.shape[0], first.in_features - x.shape[2]))], axis=1)
    result = render(config, args.output, first, quantize_input(first, v0))
    images = save_quant_lstm(q, Path(args.output) / "lstm")
    hw = describe_hardware(config, args.config)
    summary = {
        "hardware": hw,
        "network": "lstm",
        "build_dir": str(result.out_dir),
        "files": sorted(p.name for p in result.files),
        "lstm_images": [Path(f).name for f in images],
        "acc_bits": config.acc_bits,
        "estimate": {"bram36": est.bram36, "uram": est.uram, "dsp": est.dsp, "lut": est.lut, "ff": est.ff},
    }
    text = (
        f"{hardware_line(hw)}\nrendered {len(result.files)} files into {result.out_dir} for {config.board} "
        f"(N={config.n_pes}); {len(images)} LSTM images (gate matrices and head) in {Path(args.output) / 'lstm'}"
    )
    emit(args, summary, text)
    return 0


def deploy(args: argparse.Namespace) -> int:
    from eie.board.lstm_bundle import deploy_lstm
    from eie.compression.lstm import CompressedLSTM
    from eie.hardware.config import AcceleratorConfig
    from eie.hardware.target import describe_hardware, hardware_line

    model = CompressedLSTM.load(args.model)
    if getattr(args, "overlay", None):
        from eie.errors import ConfigError

        raise ConfigError("--overlay: LSTM bundles run on the host backends for now (emulator, csim, cosim)")
    manifest = deploy_lstm(
        model,
        args.output,
        config=args.config,
        calib=_sequences(args.calib, model),
        vectors=args.vectors,
        seed=args.seed,
        force=args.force,
        inputs=(args.model, args.calib),
    )
    if manifest.get("warning"):
        warn_calibration("deploy", {"warning": manifest["warning"]})
    hw = describe_hardware(AcceleratorConfig.from_dict(manifest["config"]), args.config)
    summary = {"hardware": hw, "bundle": str(args.output), **{k: manifest[k] for k in ("lstm", "accumulator")}}
    summary["files"] = len(manifest["files"])
    summary["next"] = f"eie run {args.output} --input SEQ.npy [--backend emulator|csim]"
    text = (
        f"{hardware_line(hw)}\nwrote LSTM bundle {args.output}: {len(manifest['lstm']['images'])} images "
        f"(gate matrices and head) in lstm/, config.yaml, {manifest['vectors']['count']} test sequences, build/, "
        f"manifest.json ({len(manifest['files'])} files); accumulator {manifest['accumulator'].get('chosen')} bits\n"
        f"next: {summary['next']}"
    )
    emit(args, summary, text)
    return 0


def run(args: argparse.Namespace) -> int:
    from eie.board.bundle import BundleError
    from eie.board.lstm_bundle import LSTMBundle
    from eie.compression.lstm import load_sequences
    from eie.safeio import atomic_open, refuse_same_path

    if args.output:
        refuse_same_path(args.output, [args.input, args.labels])
    bundle = LSTMBundle.open(args.bundle)
    if args.config:
        raise BundleError("--config: an LSTM bundle runs on its own configuration; omit --config")
    x = load_sequences(args.input, bundle.input_size)
    labels = None
    if args.labels:
        labels = np.load(args.labels, allow_pickle=False).reshape(-1)
        if labels.shape[0] != x.shape[0] or not np.issubdtype(labels.dtype, np.integer):
            raise BundleError(f"{args.labels}: expected {x.shape[0]} integer labels, got {labels.dtype} {labels.shape}")
    if args.backend == "auto":  # no board backend for LSTM bundles yet: the host's emulator
        args.backend = "emulator"
    y, _, secs = bundle.run(x, args.backend, timed=True)
    if args.output:
        with atomic_open(args.output, "wb") as f:
            np.save(f, y, allow_pickle=False)
    report = {
        "bundle": str(bundle.path),
        "network": "lstm",
        "backend": args.backend,
        "vectors": int(x.shape[0]),
        "latency": {"measured": "host wall-clock per sequence", "mean_s": float(np.mean(secs))},
        "output": None if args.output is None else str(args.output),
    }
    if labels is not None:
        report["accuracy"] = float(np.mean(y.argmax(axis=1) == labels))
    lines = [f"{args.backend}: {report['vectors']} sequences through the LSTM bundle {bundle.path}"]
    if labels is not None:
        lines.append(f"accuracy: {report['accuracy']:.2%}")
    if args.output:
        lines.append(f"outputs written to {args.output}")
    emit(args, report, "\n".join(lines))
    return 0
