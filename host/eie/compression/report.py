"""How much a compressed network keeps: error figures, accuracy per stage, sensitivity.

- ``weight_errors``: per layer, the relative L2 error of the reconstructed
  weights ||W - W_hat|| / ||W|| (needs no data).
- ``layer_output_errors``: per layer, the relative L2 error of that layer's
  output when float and compressed networks both run the same inputs.
- ``score``: accuracy for class labels, relative L2 error for regression
  targets.
- ``stage_report``: the score of the float network and of each compression
  stage (pruned, shared, integer ...) on a data set.
- ``sensitivity``: Deep Compression's per-layer scan: prune one layer alone to
  each density and score the network; ``suggest_densities`` picks per layer
  the lowest density whose drop stays within a budget.
- ``aggressive_warnings``: the settings that usually cost accuracy without
  retraining.

numpy only; the integer stage is passed in as a function by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from eie.compression.model import CompressedModel
from eie.compression.prune import magnitude_mask
from eie.compression.weights import DenseLayer
from eie.errors import ConfigError

DEFAULT_SCAN = (1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)


def relative_l2(ref: np.ndarray, got: np.ndarray) -> float:
    """||got - ref|| / ||ref|| (0 when both are zero, inf when only ref is)."""
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    num = float(np.linalg.norm(got - ref))
    den = float(np.linalg.norm(ref))
    if den == 0.0:
        return 0.0 if num == 0.0 else float("inf")
    return num / den


def dense_forward(layers: Sequence[DenseLayer], x: np.ndarray, upto: int | None = None) -> np.ndarray:
    """The float network on inputs x (B x K); outputs of layer ``upto`` (default: the last)."""
    h = np.atleast_2d(np.asarray(x, dtype=np.float64))
    last = len(layers) - 1 if upto is None else upto
    for l in layers[: last + 1]:
        h = h @ np.asarray(l.weight, dtype=np.float64).T + l.bias
        if l.activation == "relu":
            h = np.maximum(h, 0.0)
    return h


def is_classification(y: np.ndarray) -> bool:
    """1-D arrays of integer dtype are class labels; anything else (floats) is regression targets."""
    y = np.asarray(y)
    return y.ndim == 1 and (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_))


def score(outputs: np.ndarray, y: np.ndarray) -> tuple[str, float]:
    """("accuracy", fraction correct) for labels, ("relative_error", L2) for targets."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if is_classification(y):
        return "accuracy", float(np.mean(np.argmax(outputs.reshape(len(y), -1), axis=1) == np.asarray(y)))
    return "relative_error", relative_l2(np.asarray(y, dtype=np.float64).reshape(outputs.shape), outputs)


def weight_errors(float_layers: Sequence[DenseLayer], model: CompressedModel) -> list[dict]:
    """Per layer: density, bits and the relative L2 error of the reconstructed weights."""
    if len(float_layers) != len(model.layers):
        raise ConfigError(f"{len(float_layers)} float layers but {len(model.layers)} compressed ones")
    rows = []
    for f, c in zip(float_layers, model.layers):
        w = np.asarray(f.weight, dtype=np.float64)
        rows.append(
            {
                "layer": c.name,
                "shape": list(c.shape),
                "density": c.density,
                "weight_bits": c.weight_bits,
                "kind": c.kind,
                "weight_error": relative_l2(w, c.dense_weights()),
            }
        )
    return rows


def layer_output_errors(float_layers: Sequence[DenseLayer], model: CompressedModel, x: np.ndarray) -> list[float]:
    """Relative L2 of each layer's output, both networks run end to end on x."""
    hf = np.atleast_2d(np.asarray(x, dtype=np.float64))
    hc = hf
    out = []
    for f, c in zip(float_layers, model.layers):
        hf = dense_forward([f], hf)
        hc = c.forward(hc)
        out.append(relative_l2(hf, hc))
    return out


@dataclass
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def classification(self) -> bool:
        return is_classification(self.y_train) and is_classification(self.y_test)


def load_data(path: str) -> Data:
    """``x_train``, ``y_train``, ``x_test``, ``y_test`` from an ``.npz``."""
    from eie.compression.weights import open_npz
    from eie.errors import FormatError

    arrays = open_npz(path)
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise FormatError(f"{path}: lacks {', '.join(missing)} (needs x_train, y_train, x_test, y_test)")
    d = Data(*(np.asarray(arrays[k]) for k in ("x_train", "y_train", "x_test", "y_test")))
    for x, y, part in ((d.x_train, d.y_train, "train"), (d.x_test, d.y_test, "test")):
        if len(x) != len(y):
            raise FormatError(f"{path}: x_{part} has {len(x)} samples but y_{part} has {len(y)}")
        if not len(x):
            raise FormatError(f"{path}: x_{part} is empty")
    return d


@dataclass
class StageReport:
    metric: str
    scores: dict[str, float] = field(default_factory=dict)
    layers: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"metric": self.metric, "scores": self.scores, "layers": self.layers, "notes": self.notes}

    def format(self) -> str:
        better = "higher is better" if self.metric == "accuracy" else "lower is better"
        lines = [f"{self.metric} on the test data ({better}):"] if self.scores else []
        for k, v in self.scores.items():
            lines.append(f"  {k:<28}{v:>10.2%}" if self.metric == "accuracy" else f"  {k:<28}{v:>10.4f}")
        if self.layers:
            has_out = any("output_error" in r for r in self.layers)
            head = f"  {'layer':<14}{'shape':>12}{'density':>9}{'bits':>5}{'weight err':>12}"
            lines.append(head + (f"{'output err':>12}" if has_out else ""))
            for r in self.layers:
                shape = f"{r['shape'][0]}x{r['shape'][1]}"
                line = (
                    f"  {r['layer']:<14}{shape:>12}{r['density']:>9.1%}{r['weight_bits']:>5}{r['weight_error']:>12.4f}"
                )
                if has_out:
                    line += f"{r.get('output_error', float('nan')):>12.4f}"
                lines.append(line)
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def stage_report(stages: dict[str, Callable[[np.ndarray], np.ndarray]], x: np.ndarray, y: np.ndarray) -> StageReport:
    """Score each stage's forward function on (x, y), in the given order."""
    metric = None
    rep = StageReport(metric="")
    for name, fwd in stages.items():
        m, v = score(fwd(x), y)
        metric = metric or m
        rep.scores[name] = v
    rep.metric = metric or ""
    return rep


def aggressive_warnings(model: CompressedModel, retrained: bool) -> list[str]:
    """Notes on settings that usually cost accuracy when nothing was retrained."""
    if retrained:
        return []
    low = [l.name for l in model.layers if l.density < 0.3]
    few = [l.name for l in model.layers if l.weight_bits < 4 or l.kind == "ternary"]
    out = []
    if low or few:
        what = []
        if low:
            what.append(f"density below 30 % in {', '.join(low)}")
        if few:
            what.append(f"fewer than 4 weight bits in {', '.join(few)}")
        out.append(
            "no retraining was done, and " + "; ".join(what) + " usually costs accuracy: give --data and --retrain "
            "(Deep Compression's prune-retrain schedule), or check the figures with --data"
        )
    return out


# -- sensitivity ----------------------------------------------------------------


@dataclass
class Sensitivity:
    metric: str
    baseline: float
    densities: list[float]
    table: dict[str, list[float]]

    def drop(self, layer: str) -> list[float]:
        """Loss against the baseline at each density (positive = worse)."""
        sign = 1.0 if self.metric == "accuracy" else -1.0
        return [sign * (self.baseline - v) for v in self.table[layer]]

    def suggest(self, max_drop: float) -> dict[str, float]:
        """Per layer, the lowest scanned density whose drop is at most ``max_drop``."""
        out = {}
        for layer in self.table:
            ok = [d for d, loss in zip(self.densities, self.drop(layer)) if loss <= max_drop]
            out[layer] = min(ok) if ok else 1.0
        return out

    def to_dict(self) -> dict:
        return {"metric": self.metric, "baseline": self.baseline, "densities": self.densities, "table": self.table}

    def format(self) -> str:
        pct = self.metric == "accuracy"
        cell = (lambda v: f"{v:>8.1%}") if pct else (lambda v: f"{v:>8.4f}")
        lines = [
            f"sensitivity: {self.metric} with one layer pruned at a time (baseline {cell(self.baseline).strip()})",
            f"{'layer':<14}" + "".join(f"{d:>8.0%}" if d >= 0.01 else f"{d:>8.1%}" for d in self.densities),
        ]
        for layer, vals in self.table.items():
            lines.append(f"{layer:<14}" + "".join(cell(v) for v in vals))
        lines.append("")
        lines.append(text_plot(self))
        return "\n".join(lines)


def sensitivity(
    layers: Sequence[DenseLayer],
    x: np.ndarray,
    y: np.ndarray,
    densities: Sequence[float] = DEFAULT_SCAN,
    forward: Callable[[Sequence[DenseLayer], np.ndarray], np.ndarray] = dense_forward,
) -> Sensitivity:
    """Prune each layer alone to each density (magnitude, no retraining) and score the network."""
    densities = [float(d) for d in densities]
    metric, base = score(forward(layers, x), y)
    table = {}
    for i, l in enumerate(layers):
        vals = []
        for d in densities:
            w = np.asarray(l.weight, dtype=np.float64)
            pruned = DenseLayer(l.name, w * magnitude_mask(w, density=d), l.bias, l.activation)
            trial = [*layers[:i], pruned, *layers[i + 1 :]]
            vals.append(score(forward(trial, x), y)[1])
        table[l.name] = vals
    return Sensitivity(metric, base, densities, table)


def text_plot(s: Sensitivity, width: int = 40) -> str:
    """A text plot: one bar per layer and density, the bar's length the score."""
    lines = []
    vals = [v for row in s.table.values() for v in row] + [s.baseline]
    top = max(vals) if s.metric != "accuracy" else 1.0
    top = top if top > 0 else 1.0
    for layer, row in s.table.items():
        lines.append(layer)
        for d, v in zip(s.densities, row):
            n = int(round(width * min(max(v / top, 0.0), 1.0)))
            lines.append(f"  {d:>6.1%} |{'#' * n}{' ' * (width - n)}| {v:.3f}")
    return "\n".join(lines)


def save_plot(s: Sensitivity, path: str) -> str:
    """The scan as a PNG (needs matplotlib, the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("the sensitivity plot needs matplotlib: pip install 'eie-pynq[plot]'") from None
    fig, ax = plt.subplots(figsize=(6, 4))
    for layer, row in s.table.items():
        ax.plot(s.densities, row, marker="o", label=layer)
    ax.set_xscale("log")
    ax.set_xlabel("density of the pruned layer")
    ax.set_ylabel(s.metric)
    ax.axhline(s.baseline, color="grey", linestyle=":", label="float")
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    from eie.safeio import atomic_open

    try:
        with atomic_open(path, "wb") as f:  # never a half-written plot over an old one
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)
    return path
