"""A compressed model targeted at an accelerator: choose the configuration, quantise, size the memories.

The configuration is a YAML file or the one default hardware
(``eie.hardware.boards.DEFAULT_BOARD`` with ``DEFAULT_PES`` PEs at the
board's clock, ``default_config``). ``quantized_model`` quantises a
compressed model for it: a default configuration gets memory depths sized
from the model, a given one is checked to hold it. ``describe_hardware`` and
``hardware_line`` (from ``eie.hardware.boards``, board-safe, so ``eie run``
prints it on the board too) are what every command reports about the
hardware it assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eie.arithmetic.quant import quantize
from eie.compression.model import CompressedModel
from eie.errors import check_alloc
from eie.format.qmodel import QuantModel
from eie.hardware.boards import (  # noqa: F401
    DEFAULT,
    DEFAULT_BOARD,
    DEFAULT_PES,
    DSP_ACC_BITS,
    hardware_dict,
    hardware_line,
)
from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import check_model_fits
from eie.hardware.streaming import assign_storage, sized_for_model


def default_config(model: CompressedModel | None = None, **fields) -> AcceleratorConfig:
    """The default hardware: ``DEFAULT_BOARD`` with ``DEFAULT_PES`` PEs at the board's clock.

    With a model: ``weight_bits`` wide enough for its widest codes (at least
    4) and the ternary PE if any layer is ternary. ``fields`` override any
    configuration field (e.g. ``n_pes=4``). The memory depths are the
    configuration's defaults; ``quantized_model`` sizes them from the model.
    """
    values: dict = {"board": DEFAULT_BOARD, "n_pes": DEFAULT_PES}
    if model is not None:
        values["weight_bits"] = max([4] + [l.weight_bits for l in model.layers])
        values["ternary"] = any(l.kind == "ternary" for l in model.layers)
    values.update(fields)
    return AcceleratorConfig(**values)


def load_config(path: str | Path | None = None, model: CompressedModel | None = None) -> AcceleratorConfig:
    """The configuration in the YAML file ``path``, or ``default_config(model)`` without one."""
    return AcceleratorConfig.from_yaml(path) if path else default_config(model)


def test_inputs(qm: QuantModel, vectors: int = 16, seed: int = 0) -> np.ndarray:
    """Random float test vectors inside the range the image's input format covers.

    For checking bit-exactness only: they never set a scale (calibration is
    the user's data, stored with the model, or the reported default).
    """
    vectors = max(int(vectors), 1)
    check_alloc(f"{vectors} random input vectors", (vectors, qm.in_features))
    rng = np.random.default_rng(seed)
    half = 2.0 ** (qm.params.act_bits - 1 - qm.fa_in)
    return rng.uniform(-half, half, size=(vectors, qm.in_features))


def calibration_info(qm: QuantModel) -> dict:
    """Where the image's activation formats came from, for every command's output.

    ``source``: ``"inputs"`` (--calib), ``"model"`` (stored by ``eie compress
    --calib``), ``"peaks"`` or ``"default"``; ``input_range`` the float range
    the input format covers; ``warning`` a sentence when nothing calibrated
    the model (None otherwise).
    """
    info = getattr(qm, "info", {}) or {}
    source = info.get("calibration", "default" if not info.get("calibrated") else "inputs")
    a = qm.params.act_bits
    half = 2.0 ** (a - 1 - qm.fa_in)
    out = {
        "source": source,
        "calibrated": source != "default",
        "input_frac_bits": int(qm.fa_in),
        "input_range": [-half, half - 2.0**-qm.fa_in],
        "warning": None,
    }
    if source == "default":
        out["warning"] = (
            f"no calibration: activations use the default format ({qm.fa_in} fraction bits of signed {a} bits, "
            f"inputs and activations within +-{half:g}); values beyond saturate. Pass --calib X.npy with "
            "representative inputs (to eie compress, to store it with the model)"
        )
    return out


def quantized_model(
    model: CompressedModel | str | Path,
    config: AcceleratorConfig | str | Path | None = None,
    calib: np.ndarray | None = None,
    vectors: int = 8,
    seed: int = 0,
) -> tuple[AcceleratorConfig, QuantModel, np.ndarray]:
    """``(config, qm, float test inputs)``: the model quantised for an accelerator.

    ``model``: a CompressedModel or the path of its .npz. ``config``: an
    AcceleratorConfig, the path of a YAML file, or None for
    ``default_config(model)`` with the memory depths sized from the quantised
    model and ``acc_bits`` widened from 32 to what the model's sums need at
    full codebook precision, up to the DSP's native 48 bits (``DSP_ACC_BITS``;
    ``qm.info['acc_bits']`` records the choice; a given configuration pins
    it, and the quantiser searches the formats that fit). Each layer's
    ``storage`` (on chip or streamed from DDR) follows the
    configuration's ``storage`` (eie.hardware.streaming: ``layer_storage`` for
    a given configuration, ``board_storage`` for the default hardware, whose
    ``dir_depth`` is sized too). A given configuration is checked to hold the
    model (CapacityError or ConfigError otherwise). ``calib``: float inputs that set
    the activation formats; without them the calibration stored with the
    model, else the default format (``calibration_info(qm)`` says which, and
    warns). The test inputs are ``calib`` itself, or at least 16 random
    vectors inside the input format's range (``test_inputs``): never used
    for calibration.
    """
    if not isinstance(model, CompressedModel):
        model = CompressedModel.load(model)
    given = config is not None
    if not isinstance(config, AcceleratorConfig):
        config = load_config(config, model)
    # The default hardware is not built yet: its accumulator is sized from the model, like its
    # memories (up to what the DSP adds natively); a given configuration pins acc_bits.
    widen = None if given else DSP_ACC_BITS[config.board_spec.family]
    qm = quantize(
        model, config.to_hwparams(), calib=None if calib is None else np.atleast_2d(calib), max_acc_bits=widen
    )
    xs = np.atleast_2d(calib) if calib is not None else test_inputs(qm, max(vectors, 16), seed)
    if given:
        assign_storage(config, qm)
        check_model_fits(config, qm)
    else:
        config = sized_for_model(config.replace(acc_bits=qm.params.acc_bits), qm)
    return config, qm, xs


def describe_hardware(
    config: AcceleratorConfig, config_path: str | Path | None = None, overrides: Sequence[str] = ()
) -> dict:
    """The hardware a command assumed: board, PEs, clock and where they came from.

    ``config_path``: the YAML file the configuration came from, None for the
    default hardware; ``overrides``: the options that changed it (e.g. ``["--pes 4"]``).
    """
    source = "config" if config_path else DEFAULT
    return hardware_dict(config.board, config.n_pes, config.clock, source, config_path, overrides)


def quantized_lstm(
    model,
    config: AcceleratorConfig | str | Path | None = None,
    calib: np.ndarray | None = None,
    vectors: int = 8,
    seed: int = 0,
    steps: int = 8,
):
    """``(config, QuantLSTM, float test sequences)``: a compressed LSTM quantised for an accelerator.

    As ``quantized_model`` for each gate matrix and the head (one image each,
    one kernel for all of them): the default hardware is sized for the
    largest of each (``acc_bits`` too), a given configuration is checked to
    hold every part. ``calib``: sequences B x T x I (else the calibration
    stored with the model, else the default format). The test sequences are
    ``calib`` itself, or ``vectors`` random sequences of ``steps`` steps in [-1, 1).
    """
    from eie.arithmetic.lstm import quantize_lstm
    from eie.compression.lstm import CompressedLSTM
    from eie.hardware.streaming import sized_for_models

    if not isinstance(model, CompressedLSTM):
        model = CompressedLSTM.load(model)
    given = config is not None
    if not isinstance(config, AcceleratorConfig):
        config = load_config(config, model)
    widen = None if given else DSP_ACC_BITS[config.board_spec.family]
    q = quantize_lstm(model, config.to_hwparams(), calib, max_acc_bits=widen)
    if given:
        for qm in q.models:
            assign_storage(config, qm)
            check_model_fits(config, qm)
    else:
        config = sized_for_models(config.replace(acc_bits=q.models[0].params.acc_bits), q.models)
    if calib is not None:
        xs = np.asarray(calib, dtype=np.float64)
    else:
        rng = np.random.default_rng(seed)
        xs = rng.uniform(-1.0, 1.0, size=(max(int(vectors), 1), max(int(steps), 1), model.spec.input_size))
    return config, q, xs
