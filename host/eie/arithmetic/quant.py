"""Quantisation of a compressed model for the hardware (docs/arithmetic.md).

Chooses per layer the codebook scale ``fw`` (the largest that keeps every
centroid inside ``cb_bits``), the activation formats ``fa`` (from calibration
inputs, or a reported default), integer biases, and proves that no
accumulator can wrap for any admissible input.

The accumulator width is either sized from the model (``max_acc_bits``
given: the hardware is not built yet, so ``acc_bits`` grows from the
configured width to what the layers need at full codebook precision, up to
``max_acc_bits``, the width a DSP accumulates natively) or pinned (the
configured ``acc_bits``). When the proof still fails, the formats are
searched: the codebook scale ``fw`` is lowered one bit at a time, and the
first scale the proof accepts is the one with the smallest rounding error
(every coarser scale rounds the centroids at least as far). Centroids that
round to the same integer are merged (they share one codebook value; the
codes stay). The activation formats do not enter the main term of the
bound (an activation is any value of the signed ``act_bits`` range after
saturation), only the bias and rounding terms, which lowering ``fw`` shrinks
as well. A layer is refused only when no scale fits, or when every centroid
would round to zero. Each layer's chosen formats, its merged centroids and
the error they cost (``weight_error``; ``output_error`` on the calibration
inputs) are in ``QuantModel.info['layers']``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eie.compression.model import CompressedModel, activation_peaks
from eie.errors import ConfigError, OverflowRisk, real_array
from eie.format.qmodel import HWParams, QuantLayer, QuantModel
from eie.format.rowmap import check_perm, encode_layer, identity

MAX_FRAC = 40  # keeps every scale well inside int64 arithmetic


@dataclass
class LayerQuantInfo:
    name: str
    fw: int
    fw_codebook: int
    fa_in: int
    fa_out: int
    acc_bits_needed: int
    max_abs_out: float | None = None
    merged: int = 0
    weight_error: float = 0.0
    output_error: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


INT_LIMIT = 2.0**62
"""Scaled values must stay below this magnitude to become int64 (sums of two still fit)."""


def round_half_up(x: np.ndarray, what: str = "a scaled value") -> np.ndarray:
    """floor(x + 0.5) as int64; NaN, infinity or a magnitude of 2^62 or more is an OverflowRisk naming ``what``."""
    f = np.floor(np.asarray(x, dtype=np.float64) + 0.5)
    if f.size:
        with np.errstate(invalid="ignore"):
            peak = float(np.max(np.abs(f)))
        if not peak < INT_LIMIT:  # also NaN
            raise OverflowRisk(f"{what} is {peak:g} after scaling, which no 64-bit integer holds")
    return f.astype(np.int64)


def _log2_floor(x: float, what: str) -> int:
    """floor(log2(x)) for a positive finite x (a ConfigError naming ``what`` otherwise)."""
    if not (np.isfinite(x) and x > 0):
        raise ConfigError(f"{what}: the scale {x:g} has no finite power of two")
    return int(np.floor(np.log2(x)))


def codebook_fw(codebook: np.ndarray, cb_bits: int) -> int:
    """Largest fraction width whose rounded codebook fits signed cb_bits."""
    codebook = real_array("codebook", codebook, ConfigError)
    peak = float(np.max(np.abs(codebook))) if codebook.size else 0.0
    if peak == 0.0:
        return cb_bits - 1
    limit = (1 << (cb_bits - 1)) - 1
    with np.errstate(over="ignore"):
        ratio = limit / peak  # inf for subnormal peaks
    if ratio < 2.0**-MAX_FRAC:
        return -MAX_FRAC  # the caller refuses fw < 0 naming the centroid
    fw = MAX_FRAC if ratio >= 2.0**MAX_FRAC else _log2_floor(ratio, "codebook")
    while fw > -MAX_FRAC and np.max(np.abs(round_half_up(codebook * 2.0**fw))) > limit:
        fw -= 1
    while fw + 1 <= MAX_FRAC and np.max(np.abs(round_half_up(codebook * 2.0 ** (fw + 1)))) <= limit:
        fw += 1
    return min(fw, MAX_FRAC)


def activation_fa(max_abs: float, act_bits: int, guard_bits: int = 1) -> int:
    """Fraction bits so that max_abs * 2^guard fits signed act_bits."""
    if not np.isfinite(max_abs) or max_abs <= 0:
        return act_bits // 2
    limit = (1 << (act_bits - 1)) - 1
    with np.errstate(over="ignore", divide="ignore"):
        ratio = limit / (max_abs * 2.0**guard_bits)
    if not ratio < 2.0**MAX_FRAC:  # tiny peaks (5e-324), or a ratio that overflows
        return MAX_FRAC
    if not ratio >= 1.0:  # peaks beyond the range: the coarsest format, inputs saturate
        return 0
    return int(np.clip(int(np.floor(np.log2(ratio))), 0, MAX_FRAC))


def accumulator_bound(
    rows: np.ndarray,
    cb_int_of_entry: np.ndarray,
    m: int,
    bias_int: np.ndarray,
    shift: int,
    act_bits: int,
    ternary_counts: np.ndarray | None = None,
) -> int:
    """Largest |value| any accumulator of the layer can hold, for any input.

    Every activation lies in [-2^(a-1), 2^(a-1) - 1]; partial sums are
    bounded by the row's sum of |weights| times 2^(a-1); the bias and the
    rounding term are added on top.
    """
    amax = 1 << (act_bits - 1)
    cb = np.asarray(cb_int_of_entry, dtype=np.int64)
    bias = np.asarray(bias_int, dtype=np.int64)
    i64min = np.iinfo(np.int64).min
    if (cb.size and cb.min() == i64min) or (bias.size and bias.min() == i64min):
        # np.abs(INT64_MIN) is INT64_MIN, negative: it would pass any bound.
        raise OverflowRisk("a weight or bias is -2^63, which no accumulator bound can hold")
    l1 = _row_sums(rows, np.abs(cb), m)
    bias_abs = np.abs(bias)
    # Python ints from here: exact at any width.
    if not m:
        peak = 0
    elif int(l1.max()) * amax + int(bias_abs.max()) < 1 << 63:
        peak = max(int(l1.max()) * amax, int((l1 * amax + bias_abs).max()))
    else:  # beyond int64: exact in Python integers (rare; linear)
        peak = max(int(l1.max()) * amax, max(int(a) * amax + int(b) for a, b in zip(l1, bias_abs)))
    peak += (1 << (shift - 1)) if shift > 0 else 0
    if ternary_counts is not None and ternary_counts.size:
        peak = max(peak, int(ternary_counts.max()) * amax)
    return peak


def _row_sums(rows: np.ndarray, vals: np.ndarray, m: int) -> np.ndarray:
    """Exact int64 per-row sums (bincount would go through float64)."""
    out = np.zeros(m, dtype=np.int64)
    if rows.size:
        order = np.argsort(rows, kind="stable")
        r = rows[order]
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        out[r[starts]] = np.add.reduceat(vals[order], starts)
    return out


def bits_for(bound: int) -> int:
    """Signed bits that hold every value in [-bound, bound]."""
    return int(bound).bit_length() + 1


def quantize(
    model: CompressedModel,
    params: HWParams,
    calib: np.ndarray | None = None,
    row_maps: list[np.ndarray] | None = None,
    default_fa: int | None = None,
    guard_bits: int = 1,
    fit_accumulator: bool = True,
    peaks: list[float] | None = None,
    max_acc_bits: int | None = None,
) -> QuantModel:
    """Turn a CompressedModel into the integer model the hardware runs.

    ``calib``: float inputs (B x K) used to pick the activation formats; without
    it, the peaks ``peaks`` (``eie.compression.model.activation_peaks``) or
    else those stored with the model (``CompressedModel.calibrate``) set them;
    with none of these every layer uses ``default_fa`` (act_bits // 2) and the
    choice is recorded in ``QuantModel.info['notes']`` and ``info['calibration']``. ``row_maps``: None (EIE's
    interleave, the identity) or one permutation per layer
    (``perm[physical] = logical``, ``eie.format.rowmap``); for balanced rows
    compute them first with ``eie.performance.balance.balance_model``.
    ``max_acc_bits``: None when ``params.acc_bits`` is pinned (a built
    accelerator); else the accumulator is widened from ``params.acc_bits``
    up to ``max_acc_bits`` as the model needs, and the returned model's
    ``params`` carry the chosen width (``info['acc_bits']`` says how it was chosen).
    """
    a_bits = params.act_bits
    n_layers = len(model.layers)
    notes: list[str] = []
    for l in model.layers:
        if l.weight_bits > params.weight_bits:
            raise ConfigError(
                f"layer {l.name!r} uses {l.weight_bits}-bit codes but the accelerator has "
                f"weight_bits={params.weight_bits}; raise weight_bits to {l.weight_bits}"
            )
        if l.kind == "ternary" and l.nnz and (l.codes.max() > 2 or l.codebook[3:].any()):
            raise ConfigError(f"layer {l.name!r} is ternary but uses codes other than 1 (+Wp) and 2 (-Wn)")

    # Activation formats: fa[0] for the input, fa[l+1] for layer l's output.
    source = "inputs"
    if calib is not None:
        calib = np.atleast_2d(real_array("calibration inputs", calib, ConfigError))
        if calib.shape[1] != model.in_features:
            raise ConfigError(f"calibration inputs have {calib.shape[1]} features, the model takes {model.in_features}")
        peaks = activation_peaks(model.layers, calib)
    elif peaks is not None:
        source = "peaks"
    elif getattr(model, "calibration", None) is not None:
        source = "model"
        peaks = list(model.calibration["peaks"])
    if peaks is not None:
        peaks = [float(p) for p in peaks]
        if len(peaks) != n_layers + 1:
            raise ConfigError(f"{len(peaks)} activation peaks given for {n_layers} layers (need {n_layers + 1})")
        fa = [activation_fa(p, a_bits, guard_bits) for p in peaks]
    else:
        source = "default"
        d = a_bits // 2 if default_fa is None else int(default_fa)
        fa = [d] * (n_layers + 1)
        peaks = [None] * (n_layers + 1)
        notes.append(
            f"no calibration data: every activation uses the default format with {d} fraction bits "
            f"(signed {a_bits}-bit, range +-{2.0 ** (a_bits - 1 - d):g}); pass calibration inputs for better precision"
        )

    perms = _row_maps(model, row_maps)
    fw_cbs = []
    terns = []
    for l in model.layers:
        fw_cb = codebook_fw(l.codebook, params.cb_bits)
        if fw_cb < 0:
            raise ConfigError(
                f"layer {l.name!r}: its largest centroid {np.max(np.abs(l.codebook)):g} does not fit a signed "
                f"{params.cb_bits}-bit codebook with fraction bits >= 0; raise cb_bits or rescale the layer"
            )
        fw_cbs.append(fw_cb)
        # The ternary PE's partial sums count activations per row: independent of fw.
        tern = None
        if l.kind == "ternary":
            m = l.shape[0]
            tern = np.maximum(
                np.bincount(l.rows[l.codes == 1], minlength=m), np.bincount(l.rows[l.codes == 2], minlength=m)
            )
        terns.append(tern)

    # What every layer needs at full codebook precision (the formats' chain as quantised below).
    full = []
    fa_chain = list(fa)
    for i, l in enumerate(model.layers):
        f = _fit_layer(l, fa_chain[i], fa_chain[i + 1], fw_cbs[i], a_bits, None, terns[i])
        full.append(bits_for(f[-1]))
        fa_chain[i + 1] = f[1]
    acc_choice = {"pinned": max_acc_bits is None, "configured": params.acc_bits, "needed": max(full)}
    if max_acc_bits is not None:
        acc = min(max(params.acc_bits, max(full)), max(int(max_acc_bits), params.acc_bits))
        if acc != params.acc_bits:
            params = HWParams(params.n_pes, params.weight_bits, params.index_bits, params.act_bits, params.cb_bits, acc)
        acc_choice["limit"] = int(max_acc_bits)
    acc_choice["chosen"] = params.acc_bits

    # The output errors on (at most 512 of) the calibration inputs, through the float model.
    h = None if calib is None else calib[:512]
    layers: list[QuantLayer] = []
    infos: list[LayerQuantInfo] = []
    acc_limit = (1 << (params.acc_bits - 1)) - 1
    for i, l in enumerate(model.layers):
        m = l.shape[0]
        fa_in = fa[i]
        fw_cb = fw_cbs[i]
        needed_full = full[i]
        fw, fa_out, cb_int, bias_int, bound = _fit_layer(
            l, fa_in, fa[i + 1], fw_cb, a_bits, acc_limit if fit_accumulator else None, terns[i]
        )
        if bound > acc_limit:
            raise OverflowRisk(
                f"layer {l.name!r}: the {params.acc_bits}-bit accumulator could overflow: at full codebook "
                f"precision (fw={fw_cb}) its sums need {needed_full} bits for {a_bits}-bit activations"
                + (
                    ", and no coarser codebook scale fits (fw=0 needs " + str(bits_for(bound)) + " bits)"
                    if fit_accumulator
                    else ""
                )
                + f"; use acc_bits >= {needed_full if not fit_accumulator else bits_for(bound)}"
                + ", or fewer act_bits / cb_bits"
            )
        used = np.unique(l.codebook[1:][l.codebook[1:] != 0])
        if used.size and not np.any(round_half_up(used * 2.0**fw)):
            raise OverflowRisk(
                f"layer {l.name!r}: the {params.acc_bits}-bit accumulator fits only at codebook scale 2^{fw}, "
                f"where every centroid rounds to zero; use acc_bits >= {needed_full}, or fewer act_bits"
            )
        info = LayerQuantInfo(l.name, fw, fw_cb, fa_in, fa_out, bits_for(bound), peaks[i + 1])
        q_used = round_half_up(used * 2.0**fw) * 2.0**-fw
        info.merged = int(used.size - np.unique(q_used).size)
        peak_w = float(np.max(np.abs(used))) if used.size else 0.0
        info.weight_error = float(np.max(np.abs(used - q_used)) / peak_w) if peak_w else 0.0
        if h is not None:
            h, info.output_error = _output_error(l, h, cb_int, bias_int, fw, fa_in)
        if fw < fw_cb:
            info.notes.append(
                f"codebook scale lowered from 2^{fw_cb} to 2^{fw} so the {params.acc_bits}-bit accumulator "
                f"cannot overflow (full precision needs {needed_full} bits)"
                + (f"; {info.merged} centroids merged" if info.merged else "")
                + f"; centroid error up to {info.weight_error:.2%} of the largest"
            )
        if fa_out < fa[i + 1]:
            info.notes.append(f"output fraction bits capped at {fa_out} (fa_in + fw) so the shift is not negative")
        fa[i + 1] = fa_out
        codebook = np.zeros(1 << params.weight_bits, dtype=np.int64)
        codebook[: cb_int.size] = cb_int
        perm = perms[i]
        prev = perms[i - 1] if i > 0 else None
        enc = encode_layer(l, params.n_pes, params.index_bits, perm, prev, params.weight_bits)
        layers.append(
            QuantLayer(
                name=l.name,
                encoded=enc,
                codebook=codebook,
                bias=bias_int[perm],
                perm=perm,
                fa_in=fa_in,
                fw=fw,
                fa_out=fa_out,
                relu=l.activation == "relu",
                ternary=l.kind == "ternary",
            )
        )
        infos.append(info)
    if acc_choice["chosen"] > acc_choice["configured"]:
        notes.append(
            f"accumulator widened from {acc_choice['configured']} to {acc_choice['chosen']} bits: the model's "
            f"sums need {acc_choice['needed']} bits at full codebook precision"
        )
    qm = QuantModel(params, layers)
    qm.info = {
        "layers": [x.to_dict() for x in infos],
        "notes": notes,
        "calibrated": source != "default",
        "calibration": source,
        "acc_bits": acc_choice,
    }
    return qm


def _fit_layer(l, fa_in: int, fa_want: int, fw_cb: int, a_bits: int, acc_limit: int | None, tern):
    """``(fw, fa_out, cb_int, bias_int, bound)``: the finest codebook scale whose bound is within ``acc_limit``.

    Starting at full precision ``fw_cb``, ``fw`` goes down one bit at a time
    (the bound only shrinks as it does) until the bound fits or ``fw`` is 0;
    ``acc_limit`` None takes full precision. The caller refuses a bound that
    still does not fit.
    """
    m = l.shape[0]
    fw = fw_cb
    while True:
        fa_out = min(fa_want, fa_in + fw)
        shift = fa_in + fw - fa_out
        cb_int = round_half_up(l.codebook * 2.0**fw, f"layer {l.name!r}: a centroid")
        bias_int = round_half_up(l.bias * 2.0 ** (fa_in + fw), f"layer {l.name!r}: a bias")
        bound = accumulator_bound(l.rows, cb_int[l.codes], m, bias_int, shift, a_bits, tern)
        if acc_limit is None or bound <= acc_limit or fw <= 0:
            return fw, fa_out, cb_int, bias_int, bound
        fw -= 1


def _output_error(l, h: np.ndarray, cb_int: np.ndarray, bias_int: np.ndarray, fw: int, fa_in: int):
    """``(next input, error)``: the layer's float output on ``h`` and how far rounding its weights and bias moves it.

    The error is max |z - z_rounded| of the pre-activation over its peak: what
    this layer's formats cost, apart from the activations' own rounding.
    """
    m, k = l.shape
    w = np.zeros((m, k))
    w[l.rows, l.cols] = l.codebook[l.codes]
    dw = np.zeros((m, k))
    dw[l.rows, l.cols] = l.codebook[l.codes] - cb_int[l.codes] * 2.0**-fw
    z = h @ w.T + l.bias
    dz = h @ dw.T + (l.bias - bias_int * 2.0 ** -(fa_in + fw))
    peak = float(np.max(np.abs(z))) if z.size else 0.0
    err = float(np.max(np.abs(dz))) if dz.size else 0.0
    return l.forward(h), (err / peak if peak else err)


def _row_maps(model: CompressedModel, row_maps) -> list[np.ndarray]:
    """One checked row map per layer; None is the identity for every layer."""
    if row_maps is None:
        return [identity(l.shape[0]) for l in model.layers]
    if isinstance(row_maps, str):
        raise ConfigError(
            f"row_maps={row_maps!r}: pass None (interleave) or one permutation per layer; "
            "for balanced rows compute them with eie.performance.balance.balance_model"
        )
    if len(row_maps) != len(model.layers):
        raise ConfigError(f"{len(row_maps)} row maps given for {len(model.layers)} layers")
    return [check_perm(p, l.shape[0], f"row map of layer {l.name!r}") for p, l in zip(row_maps, model.layers)]
