"""One board choice for a model: the configuration ``eie deploy --board`` and ``Network.deploy(board=...)`` share.

What the user pins is kept: a configuration file's keys, ``--board`` and
``--pes``. The rest is chosen for the model: the accumulator width, unless
pinned, is what the model's sums need at full codebook precision, from the
configured 32 bits up to the DSP's native 48 (issue 20; with ``acc_bits``
pinned the quantiser searches the formats that fit it instead); without a
pinned PE count, the
largest of ``PE_CANDIDATES`` whose kernel fits the board (by the resource
estimate of eie.hardware.resources), and, unless the file pins them, the
memory depths sized to the model (eie.hardware.streaming, which also decides
which layers stream from DDR). ``Choice.chosen`` says what was chosen, for the
commands to print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eie.compression.model import CompressedModel
from eie.errors import CapacityError, ConfigError
from eie.format.qmodel import QuantModel
from eie.hardware.boards import BOARDS, DEFAULT_BOARD, DEFAULT_PES, DSP_ACC_BITS
from eie.hardware.config import AcceleratorConfig
from eie.hardware.resources import check_fits_board, check_model_fits, on_board
from eie.hardware.streaming import SIZED_FIELDS, assign_storage, sized_for_model

# Powers of two from the default down: a kernel's PE count divides the rows
# among the PEs, and the estimate grows about linearly with it.
PE_CANDIDATES = tuple(n for n in (64, 32, 16, 8, 4, 2, 1) if n <= DEFAULT_PES)


@dataclass
class Choice:
    config: AcceleratorConfig
    qm: QuantModel
    xs: np.ndarray  # float test inputs: calib itself, else random ones in the input format's range
    pinned: list[str] = field(default_factory=list)  # e.g. ["--board pynq-z2", "config.yaml: n_pes"]
    chosen: list[str] = field(default_factory=list)  # sentences: what was sized or picked, and why
    stepped_down: bool = False  # the default PE count did not fit the board

    @property
    def to_report(self) -> list[str]:
        """What the commands print: the choices made around what the user pinned (a board, a partial
        file), or a PE count below the default; the default hardware sized silently, as it always was."""
        return self.chosen if self.pinned or self.stepped_down else []


def _config_keys(config) -> tuple[AcceleratorConfig | None, set[str], str | None]:
    """(configuration, the keys its source pins, its path) of an AcceleratorConfig, a YAML path or None."""
    if config is None:
        return None, set(), None
    if isinstance(config, AcceleratorConfig):
        # A configuration object is the user's whole choice.
        return config, {"board", "n_pes", "acc_bits", *SIZED_FIELDS}, None
    import yaml

    path = str(config)
    cfg = AcceleratorConfig.from_yaml(path)
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):  # from_yaml read it a moment ago
        data = {}
    return cfg, set(data) if isinstance(data, dict) else set(), path


def _quantize(model: CompressedModel, config: AcceleratorConfig, calib, vectors: int, seed: int, widen: int | None):
    """The model quantised for ``config``; ``widen``: the widest accumulator to size up to (None: pinned)."""
    from eie.arithmetic.quant import quantize
    from eie.hardware.target import test_inputs

    cal = None if calib is None else np.atleast_2d(calib)
    qm = quantize(model, config.to_hwparams(), calib=cal, max_acc_bits=widen)
    xs = np.atleast_2d(calib) if calib is not None else test_inputs(qm, max(vectors, 16), seed)
    return qm, xs


def _sized(config: AcceleratorConfig, qm: QuantModel, keys: set[str]) -> AcceleratorConfig:
    """The depths the user did not pin sized to the model; the pinned ones checked to hold it."""
    if not set(SIZED_FIELDS) & keys:
        return sized_for_model(config, qm)
    if set(SIZED_FIELDS) <= keys:
        assign_storage(config, qm)
        check_model_fits(config, qm)
        return config
    sized = sized_for_model(config, qm)
    merged = sized.replace(**{k: getattr(config, k) for k in SIZED_FIELDS if k in keys})
    assign_storage(merged, qm)
    check_model_fits(merged, qm)
    return merged


def choose_config(
    model: CompressedModel | str | Path,
    config: AcceleratorConfig | str | Path | None = None,
    board: str | None = None,
    n_pes: int | None = None,
    calib: np.ndarray | None = None,
    vectors: int = 8,
    seed: int = 0,
) -> Choice:
    """The configuration for ``model``: what is pinned kept, the rest chosen for the model (module docstring).

    ``config``: an AcceleratorConfig (pinned as a whole), a YAML path (its keys
    pinned) or None (the default hardware). ``board`` / ``n_pes`` pin those
    fields over the configuration's. Raises CapacityError when no choice fits,
    naming the smallest kernel tried.
    """
    from eie.hardware.target import default_config

    if not isinstance(model, CompressedModel):
        model = CompressedModel.load(model)
    if board is not None and board not in BOARDS:
        raise ConfigError(f"--board {board!r} is not known: use one of {', '.join(BOARDS)}")
    base, keys, path = _config_keys(config)
    src = f"{Path(path).name}: " if path else "config: "
    pinned = [f"{src}{k}" for k in ("board", "n_pes") if k in keys]
    if base is None:
        base = default_config(model)
    if board is not None:
        pinned.append(f"--board {board}")
        keys.add("board")
        if board != base.board:
            base = on_board(base, board)
    if n_pes is not None:
        pinned.append(f"--pes {n_pes}")
        keys.add("n_pes")
        base = base.replace(n_pes=int(n_pes))
    if "board" not in keys and base.board != DEFAULT_BOARD:  # pragma: no cover - default_config's board
        base = on_board(base, DEFAULT_BOARD)

    chosen: list[str] = []
    if "n_pes" in keys:
        candidates = [base.n_pes]
    else:
        candidates = list(PE_CANDIDATES)
    last_error: CapacityError | None = None
    for n in candidates:
        cfg = base.replace(n_pes=n)
        widen = None if "acc_bits" in keys else DSP_ACC_BITS[cfg.board_spec.family]
        qm, xs = _quantize(model, cfg, calib, vectors, seed, widen)
        if widen is not None:
            cfg = cfg.replace(acc_bits=qm.params.acc_bits)
        try:
            cfg = _sized(cfg, qm, keys)
            check_fits_board(cfg)
        except CapacityError as e:
            last_error = e
            continue
        if len(candidates) > 1:
            tried = ", ".join(str(c) for c in candidates[: candidates.index(n) + 1])
            chosen.append(f"n_pes={n}: the largest PE count that fits {cfg.board} (tried {tried}; pin it with --pes)")
        if widen is not None and cfg.acc_bits != base.acc_bits:
            chosen.append(
                f"acc_bits={cfg.acc_bits}: what the model's sums need at full codebook precision "
                f"(up to the DSP's {widen}; pin acc_bits to keep {base.acc_bits})"
            )
        unpinned = [k for k in SIZED_FIELDS if k not in keys]
        if unpinned:
            chosen.append("sized to the model: " + ", ".join(f"{k}={getattr(cfg, k)}" for k in unpinned))
        return Choice(cfg, qm, xs, pinned, chosen, stepped_down=n != candidates[0])
    assert last_error is not None
    if len(candidates) > 1:
        raise CapacityError(
            f"no kernel of {', '.join(map(str, candidates))} PEs fits {base.board} with this model; "
            f"the smallest: {last_error}"
        ) from None
    raise last_error
