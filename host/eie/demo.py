"""The main job: digits MLP -> Deep Compression and TTQ -> EIE kernel -> C-simulation.

Every stage runs on this machine with bundled data: training (PyTorch),
compression, quantisation for the hardware, rendering the HLS kernel for the
default hardware (or a configuration file), running the held-out test set through the C-simulation of
that kernel (or the emulator when no compiler is found, which is reported),
and the timing model's cycles and latency (modelled, not measured).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eie.arithmetic.emulator import Emulator, dequantize_output, quantize_input, unpermute
from eie.arithmetic.quant import quantize
from eie.errors import ToolchainError
from eie.format.image import build_image
from eie.format.qmodel import QuantModel
from eie.hardware.boards import BOARDS
from eie.hardware.target import hardware_line
from eie.safeio import prepare_output_dir, refuse_inputs_in


@dataclass
class DemoOptions:
    """What the demo runs on.

    The hardware is the configuration file ``config_path`` (its memory depths
    must hold both models) or, without one, the default hardware
    (``eie.hardware.target.default_config``) with the memory depths sized for
    the models. ``board`` and ``n_pes`` override either. The kernel always
    has the ternary PE (it runs the TTQ model) and at least 4-bit codes.
    """

    fast: bool = False
    seed: int = 0
    config_path: str | None = None
    board: str | None = None
    n_pes: int | None = None
    out_dir: str = "build/demo"
    force: bool = False  # write into a non-empty directory that eie did not create
    backend: str = "auto"  # auto | csim | emulator
    timing_vectors: int = 64
    progress: bool = True


@dataclass
class DemoResult:
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return self.summary


def _accuracy(qm: QuantModel, y_phys: np.ndarray, labels: np.ndarray) -> float:
    logits = dequantize_output(qm, unpermute(qm, y_phys))
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def _layer_inputs(emu: Emulator, x_int: np.ndarray) -> list[np.ndarray]:
    """Each layer's integer input vectors (physical order), for the timing model."""
    ins = [x_int]
    for i in range(len(emu.qm.layers) - 1):
        ins.append(emu.run_layers(ins[-1], i, i))
    return ins


def _timing(qm: QuantModel, emu: Emulator, x_int: np.ndarray, config) -> list[dict]:
    from eie.performance.timing import TimingParams, simulate_layer

    params = TimingParams.for_config(config)
    ins = _layer_inputs(emu, x_int)
    rows = []
    for i, ql in enumerate(qm.layers):
        per_vec = [simulate_layer(ql.encoded, v, params) for v in ins[i]]
        rows.append(
            {
                "layer": ql.name,
                "shape": list(ql.shape),
                "kind": "ternary" if ql.ternary else f"{qm.params.weight_bits}-bit shared",
                "activation_density": float(np.mean(ins[i] != 0)),
                "cycles": float(np.mean([t.cycles for t in per_vec])),
                "ideal_cycles": float(np.mean([t.ideal_cycles for t in per_vec])),
                "efficiency": float(np.mean([t.efficiency for t in per_vec])),
                "padding_fraction": float(per_vec[0].padding_fraction) if per_vec else 0.0,
                "latency_us": float(np.mean([t.latency_us for t in per_vec])),
            }
        )
    return rows


def hardware(opts: DemoOptions):
    """(config, hardware report) of the options, before the memory depths are sized; ConfigError if unusable."""
    from eie.errors import ConfigError
    from eie.hardware.resources import on_board
    from eie.hardware.target import default_config, describe_hardware, load_config

    # One kernel runs both models: the mixed TTQ model needs the ternary PE variant.
    config = load_config(opts.config_path) if opts.config_path else default_config(ternary=True)
    overrides = []
    if opts.board is not None:
        overrides.append(f"--board {opts.board}")
        if opts.board not in BOARDS:
            raise ConfigError(f"--board {opts.board!r} is not known: use one of {', '.join(BOARDS)}")
        if opts.board != config.board:
            config = on_board(config, opts.board)
    if opts.n_pes is not None:
        overrides.append(f"--pes {opts.n_pes}")
        config = config.replace(n_pes=opts.n_pes)
    where = opts.config_path or "the default hardware"
    if not config.ternary:
        raise ConfigError(f"{where}: the demo runs a TTQ model, which needs the ternary PE (ternary: true)")
    if config.weight_bits < 4:
        raise ConfigError(
            f"{where}: the demo's models have 4-bit codes, weight_bits={config.weight_bits} is too narrow"
        )
    return config, describe_hardware(config, opts.config_path, overrides)


def run(opts: DemoOptions | None = None, log=print) -> DemoResult:
    from eie.format.storage import storage_report
    from eie.hardware.resources import check_fits_board, check_model_fits
    from eie.hardware.streaming import assign_storage, sized_for_models
    from eie.kernel.render import render
    from eie.train.digits import run as train_digits

    opts = opts or DemoOptions()
    t0 = time.perf_counter()
    # Refuse a bad configuration, board or PE count before minutes of training, not after.
    config, hw = hardware(opts)
    # Refuse an output directory holding the user's files (or the configuration read) up front too.
    refuse_inputs_in(opts.out_dir, ["config.yaml"], [opts.config_path])
    prepare_output_dir(opts.out_dir, opts.force)
    log(hardware_line(hw))
    log(f"[1/5] training on scikit-learn's handwritten digits ({'fast' if opts.fast else 'full'} schedule) ...")
    res = train_digits(seed=opts.seed, progress=opts.progress, fast=opts.fast)

    log(
        f"[2/5] quantising for the hardware ({config.n_pes} PEs, {config.weight_bits}-bit codes, "
        f"{config.index_bits}-bit indices) ..."
    )
    models = {"compressed": res.compressed, "ternary": res.ternary}
    # Without a configuration file or --pes, the PE count is the largest that fits the board with the
    # models (eie.hardware.choice, as eie deploy --board and Network.deploy(board=...) choose it).
    from eie.errors import CapacityError
    from eie.hardware.choice import PE_CANDIDATES

    candidates = [config.n_pes] if opts.config_path or opts.n_pes is not None else list(PE_CANDIDATES)
    for n in candidates:
        trial = config.replace(n_pes=n)
        qms = {k: quantize(m, trial.to_hwparams(), calib=res.x_calib) for k, m in models.items()}
        if not opts.config_path:
            # The default hardware's memories are sized for the two models (streaming the layers that do
            # not fit the board); a configuration file's are checked.
            trial = sized_for_models(trial, list(qms.values()))
        else:
            for q in qms.values():
                assign_storage(trial, q)
        try:
            estimate = check_fits_board(trial)
        except CapacityError:
            if n == candidates[-1]:
                raise
            continue
        if len(candidates) > 1 and n != config.n_pes:
            log(f"      chose n_pes={n}: the largest PE count that fits {trial.board} (pin it with --pes)")
            hw = {**hw, "n_pes": n}
        config = trial
        break
    for q in qms.values():
        check_model_fits(config, q)

    log(f"[3/5] rendering the HLS kernel for {config.board} into {opts.out_dir} ...")
    x_test, y_test = res.x_test, res.y_test
    xq = {k: quantize_input(q, x_test) for k, q in qms.items()}
    rendered = render(config, opts.out_dir, qm=qms["compressed"], x_int=xq["compressed"][:16])

    emus = {k: Emulator(q) for k, q in qms.items()}
    y_emu = {k: emus[k].run_layers(xq[k]) for k in qms}
    backend = opts.backend
    note = ""
    y_back = dict(y_emu)
    if backend in ("auto", "csim"):
        log("[4/5] compiling the kernel with g++ and running the test set through the C-simulation ...")
        try:
            from eie.kernel.csim import CSim

            sim = CSim(config)
            for k, q in qms.items():
                sim.load(build_image(q))
                y_back[k] = sim.run(xq[k])
            backend = "csim"
        except ToolchainError as e:
            if opts.backend == "csim":
                raise
            backend = "emulator"
            note = f"C-simulation unavailable ({e}); results come from the bit-exact emulator"
            log(f"      {note}")
    else:
        log("[4/5] running the test set through the integer emulator ...")
    mismatches = {k: int(np.count_nonzero(np.any(y_back[k] != y_emu[k], axis=1))) for k in qms}

    log("[5/5] storage report and timing model ...")
    # Storage as Deep Compression counts it (one CSC stream per layer), and the
    # footprint of the hardware layout (pointers per PE) for the configured N.
    storage = {k: storage_report(m, n_pes=1, index_bits=config.index_bits) for k, m in models.items()}
    on_chip = {k: storage_report(m, n_pes=config.n_pes, index_bits=config.index_bits) for k, m in models.items()}
    nt = min(opts.timing_vectors, len(x_test))
    timing = {k: _timing(q, emus[k], xq[k][:nt], config) for k, q in qms.items()}

    summary = {
        "hardware": hw,
        "dataset": {"name": "sklearn digits", "test_samples": int(len(y_test)), "inputs": int(x_test.shape[1])},
        "accuracy": {
            "float": res.float_accuracy,
            "compressed": _accuracy(qms["compressed"], y_back["compressed"], y_test),
            "ternary": _accuracy(qms["ternary"], y_back["ternary"], y_test),
            "compressed_float_reference": res.compressed_accuracy,
            "ternary_float_reference": res.ternary_accuracy,
        },
        "density": res.density,
        "compression_ratio": storage["compressed"].compression_ratio,
        "compression_ratio_huffman": storage["compressed"].compression_ratio_huffman,
        "ternary_compression_ratio": storage["ternary"].compression_ratio,
        "ternary_compression_ratio_huffman": storage["ternary"].compression_ratio_huffman,
        "compression_ratio_on_chip": {k: v.compression_ratio for k, v in on_chip.items()},
        "backend": backend,
        "backend_note": note,
        "bit_exact": all(v == 0 for v in mismatches.values()),
        "mismatches": mismatches,
        "config": {
            "board": config.board,
            "n_pes": config.n_pes,
            "clock_mhz": config.clock,
            "fifo_depth": config.fifo_depth,
            "lnzd_window": config.n_pes if config.lnzd_window is None else config.lnzd_window,
            "weight_bits": config.weight_bits,
            "index_bits": config.index_bits,
            "ternary_pe": config.ternary,
        },
        "resources": estimate.to_dict(),
        "timing_source": "EIE timing model (modelled cycles, not measured on hardware)",
        "timing": timing,
        "latency_us": {k: float(sum(r["latency_us"] for r in v)) for k, v in timing.items()},
        "build_dir": str(Path(rendered.out_dir).resolve()),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return DemoResult(summary)


def format_summary(s: dict) -> str:
    a = s["accuracy"]
    lines = [
        "",
        hardware_line(s["hardware"]),
        f"EIE demo on {s['dataset']['name']} ({s['dataset']['test_samples']} held-out images)",
        "",
        f"{'model':<34}{'test accuracy':>14}",
        f"{'float MLP 64-300-100-10':<34}{a['float']:>13.2%}",
        f"{'pruned + 4-bit shared (float ref)':<34}{a['compressed_float_reference']:>13.2%}",
        f"{'pruned + 4-bit shared (integer)':<34}{a['compressed']:>13.2%}",
        f"{'ternary TTQ (float ref)':<34}{a['ternary_float_reference']:>13.2%}",
        f"{'ternary TTQ (integer)':<34}{a['ternary']:>13.2%}",
        "",
        f"weight density {s['density']:.1%}; compression vs float32 dense: "
        f"{s['compression_ratio']:.1f}x, {s['compression_ratio_huffman']:.1f}x with Huffman "
        f"(ternary model {s['ternary_compression_ratio']:.1f}x / {s['ternary_compression_ratio_huffman']:.1f}x); "
        f"in the {s['config']['n_pes']}-PE on-chip layout (per-PE pointers): "
        f"{s['compression_ratio_on_chip']['compressed']:.1f}x / {s['compression_ratio_on_chip']['ternary']:.1f}x",
        "",
        f"integer path on {s['backend']}: "
        + ("bit-exact with the emulator" if s["bit_exact"] else f"MISMATCHES {s['mismatches']}")
        + (f"  [{s['backend_note']}]" if s["backend_note"] else ""),
        "",
        f"{s['timing_source']}: {s['config']['board']}, {s['config']['n_pes']} PEs, "
        f"{s['config']['clock_mhz']:g} MHz, FIFO {s['config']['fifo_depth']}, LNZD window {s['config']['lnzd_window']}",
        f"{'model':<12}{'layer':<8}{'M x K':>10}{'act dens':>9}{'cycles':>9}{'ideal':>9}{'eff':>7}{'pad':>6}{'us':>8}",
    ]
    for model, rows in s["timing"].items():
        for r in rows:
            lines.append(
                f"{model:<12}{r['layer']:<8}{r['shape'][0]:>5}x{r['shape'][1]:<4}{r['activation_density']:>9.1%}"
                f"{r['cycles']:>9.0f}{r['ideal_cycles']:>9.0f}{r['efficiency']:>7.1%}{r['padding_fraction']:>6.1%}"
                f"{r['latency_us']:>8.2f}"
            )
        lines.append(
            f"{model:<12}{'total':<8}{'':>10}{'':>9}{'':>9}{'':>9}{'':>7}{'':>6}{s['latency_us'][model]:>8.2f}"
        )
    r = s["resources"]
    lines += [
        "",
        f"resource estimate for {r['board']}: BRAM36 {r['bram36']}/{r['board_bram36']}, "
        f"URAM {r['uram']}/{r['board_uram']}, DSP {r['dsp']}/{r['board_dsp']}, "
        f"LUT {r['lut']}/{r['board_lut'] if r['board_lut'] is not None else '?'}, "
        f"FF {r['ff']}/{r['board_ff'] if r['board_ff'] is not None else '?'} (estimate, not synthesised)",
        f"build directory (ready for: eie build {s['build_dir']} --steps csim csynth cosim export):",
        f"  {s['build_dir']}",
        f"finished in {s['seconds']} s",
    ]
    return "\n".join(lines)
