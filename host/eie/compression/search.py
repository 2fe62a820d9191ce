"""Compression aimed at accuracy: the smallest model within a drop of float (``eie compress --target-drop``).

The search, as Deep Compression sets its densities by hand:

1. **allocate by sensitivity.** The scan (``eie.compression.report.sensitivity``,
   one layer pruned at a time, no retraining) gives each layer the lowest
   density whose drop is at most the target (interpolated in log density);
   these are the layers' weights. For an overall density D every layer gets
   ``clip(c * weight, floor, 1)``, with ``c`` solved so the kept weights are D
   of the total: sensitive layers (often the small output layer) stay denser.
2. **compress and check.** Each trial compresses at those densities (the
   caller's ``compress``, which retrains as Deep Compression does when asked)
   and scores the result on the held-out data.
3. **bisect on the overall density.** Halve D while trials pass, double it
   while they fail, then bisect (geometrically) between the smallest passing
   and the largest failing D until they are within ``tolerance`` or the
   trials run out. The smallest passing trial is the answer.

Nothing here trains or measures storage itself: ``compress`` and ``size``
are given (``eie.api`` wires Deep Compression's schedule and the storage
report in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from eie.compression.report import Sensitivity
from eie.errors import ConfigError

MIN_DENSITY = 0.005


@dataclass
class Trial:
    overall: float  # the overall density asked for
    densities: dict[str, float]
    kept: int
    total: int
    score: float
    drop: float
    size_bytes: int | None
    ok: bool

    @property
    def density(self) -> float:
        """The overall density reached (kept / total)."""
        return self.kept / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {**self.__dict__, "density": self.density}


@dataclass
class SearchResult:
    metric: str
    baseline: float
    target_drop: float
    weights: dict[str, float]
    trials: list[Trial] = field(default_factory=list)
    model: object = None  # the best trial's compressed model

    @property
    def best(self) -> Trial | None:
        ok = [t for t in self.trials if t.ok]
        return min(ok, key=lambda t: (t.kept, -t.score)) if ok else None

    def to_dict(self) -> dict:
        best = self.best
        return {
            "metric": self.metric,
            "baseline": self.baseline,
            "target_drop": self.target_drop,
            "sensitivity_weights": self.weights,
            "trials": [t.to_dict() for t in self.trials],
            "best": None if best is None else self.trials.index(best),
        }

    def format(self) -> str:
        pct = self.metric == "accuracy"
        val = (lambda v: f"{v:.2%}") if pct else (lambda v: f"{v:.4f}")
        names = list(self.weights)
        head = f"{'trial':>5} {'overall':>8} " + " ".join(f"{n[:9]:>9}" for n in names)
        head += f" {self.metric[:9]:>9} {'drop':>7} {'bytes':>8}  ok"
        lines = [
            f"density search: smallest model within {val(self.target_drop)} of float ({val(self.baseline)})",
            head,
        ]
        best = self.best
        for i, t in enumerate(self.trials):
            row = f"{i + 1:>5} {t.density:>8.2%} " + " ".join(f"{t.densities[n]:>9.2%}" for n in names)
            size = "" if t.size_bytes is None else str(t.size_bytes)
            row += f" {val(t.score):>9} {val(t.drop):>7} {size:>8}  {'yes' if t.ok else 'no'}"
            lines.append(row + ("  <- written" if t is best else ""))
        return "\n".join(lines)


def sensitivity_weights(s: Sensitivity, target_drop: float, floor: float = MIN_DENSITY) -> dict[str, float]:
    """Per layer, the lowest density whose one-layer drop is at most ``target_drop`` (log-interpolated)."""
    order = np.argsort(s.densities)[::-1]  # densest first
    dens = np.asarray(s.densities, dtype=np.float64)[order]
    out = {}
    for layer in s.table:
        drop = np.maximum.accumulate(np.asarray(s.drop(layer), dtype=np.float64)[order])  # monotone in density
        ok = drop <= target_drop
        if not ok[0]:
            out[layer] = 1.0
            continue
        last = int(np.flatnonzero(ok)[-1])
        if last + 1 == dens.size:
            out[layer] = max(floor, float(dens[last]))
            continue
        # Between the last density that holds and the first that does not, in log density.
        d0, d1, e0, e1 = dens[last], dens[last + 1], drop[last], drop[last + 1]
        f = 0.0 if e1 <= e0 else float(np.clip((target_drop - e0) / (e1 - e0), 0.0, 1.0))
        out[layer] = max(floor, float(np.exp(np.log(d0) + f * (np.log(d1) - np.log(d0)))))
    return out


def allocate(
    weights: dict[str, float], sizes: dict[str, int], overall: float, floor: float = MIN_DENSITY
) -> dict[str, float]:
    """Per-layer densities ``clip(c * weight, floor, 1)`` whose kept weights are ``overall`` of the total."""
    names = list(weights)
    w = np.array([weights[n] for n in names], dtype=np.float64)
    n = np.array([sizes[k] for k in names], dtype=np.float64)
    want = float(np.clip(overall, 0.0, 1.0)) * n.sum()

    def kept(c: float) -> float:
        return float((np.clip(c * w, floor, 1.0) * n).sum())

    lo, hi = 0.0, 1.0 / max(w.min(), 1e-12)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if kept(mid) < want else (lo, mid)
    d = np.clip(hi * w, floor, 1.0)
    return {k: float(v) for k, v in zip(names, d)}


def search(
    sens: Sensitivity,
    sizes: dict[str, int],
    target_drop: float,
    compress: Callable[[dict[str, float]], object],
    evaluate: Callable[[object], float],
    size: Callable[[object], int] | None = None,
    start: float = 0.1,
    max_trials: int = 6,
    tolerance: float = 1.25,
    floor: float = MIN_DENSITY,
    progress: Callable[[Trial], None] | None = None,
) -> SearchResult:
    """The smallest model (overall density) whose held-out drop is at most ``target_drop`` (module notes).

    ``sens``: the scan of the float network on the held-out data (its
    baseline is float); ``sizes``: weights per layer; ``compress(densities)``
    returns a compressed model, ``evaluate(model)`` its held-out score,
    ``size(model)`` its bytes (optional). Every trial is kept in the result.
    """
    if not (isinstance(target_drop, (int, float)) and 0 <= target_drop < 1):
        raise ConfigError(f"--target-drop={target_drop!r} must be in [0, 1), e.g. 0.01 for one point of accuracy")
    if max_trials < 1:
        raise ConfigError(f"max_trials={max_trials} must be at least 1")
    sign = 1.0 if sens.metric == "accuracy" else -1.0
    weights = sensitivity_weights(sens, target_drop, floor)
    res = SearchResult(sens.metric, sens.baseline, float(target_drop), weights)
    total = int(sum(sizes.values()))
    passing: float | None = None  # smallest overall density that passed
    failing: float | None = None  # largest that failed
    d = float(np.clip(start, floor, 1.0))
    models: dict[int, object] = {}
    for _ in range(max_trials):
        dens = allocate(weights, sizes, d, floor)
        model = compress(dens)
        value = float(evaluate(model))
        drop = sign * (sens.baseline - value)
        kept = int(sum(round(dens[k] * sizes[k]) for k in sizes))
        if hasattr(model, "layers"):
            kept = int(sum(getattr(l, "nnz", 0) for l in model.layers)) or kept
        t = Trial(d, dens, kept, total, value, drop, None if size is None else int(size(model)), drop <= target_drop)
        res.trials.append(t)
        models[id(t)] = model
        if progress is not None:
            progress(t)
        if t.ok:
            passing = d if passing is None else min(passing, d)
        else:
            failing = d if failing is None else max(failing, d)
        if passing is not None and failing is not None:
            if passing / failing <= tolerance:
                break
            d = float(np.sqrt(passing * failing))
        elif passing is not None:
            if passing <= floor * 1.0001:
                break
            d = max(floor, passing / 2)
        else:
            if failing >= 1.0:
                break
            d = min(1.0, failing * 2)
    best = res.best
    res.model = None if best is None else models[id(best)]
    return res
