"""Synthetic random layers and activations for the timing model and its experiments.

A random layer keeps each weight independently with probability ``density``
(uniformly placed, no structure), and a random activation vector has exactly
``round(act_density * K)`` non-zeros at uniformly random positions. Real
pruned layers and ReLU outputs are more clustered than this, so figures from
synthetic layers describe the format and the schedule, not a trained network.
"""

from __future__ import annotations

import numpy as np

from eie.errors import ConfigError


def _check_density(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name}={value} must be between 0 and 1")
    return value


def random_positions(m: int, k: int, density: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns (column-major order) of a Bernoulli(density) M x K pattern."""
    density = _check_density("density", density)
    if m <= 0 or k <= 0:
        raise ConfigError(f"layer shape {m} x {k} must be positive")
    size = m * k
    if density == 0.0:
        flat = np.zeros(0, dtype=np.int64)
    elif density == 1.0:
        flat = np.arange(size, dtype=np.int64)
    else:
        # Geometric gaps generate a Bernoulli process in O(nnz) memory, which
        # matters at 25088 x 4096 where a dense mask would take 100 M draws.
        expect = density * size
        n_draw = int(expect + 6 * np.sqrt(expect) + 16)
        pos = np.cumsum(rng.geometric(density, size=n_draw)) - 1
        while pos[-1] < size:
            more = np.cumsum(rng.geometric(density, size=n_draw)) + pos[-1]
            pos = np.concatenate([pos, more])
        flat = pos[pos < size]
    return flat % m, flat // m


def random_codes(n: int, weight_bits: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(1, 1 << weight_bits, size=n, dtype=np.int64).astype(np.uint8)


def random_activation_mask(k: int, act_density: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean vector of length k with exactly round(act_density * k) True entries."""
    act_density = _check_density("act_density", act_density)
    mask = np.zeros(k, dtype=bool)
    mask[rng.choice(k, size=int(round(act_density * k)), replace=False)] = True
    return mask
