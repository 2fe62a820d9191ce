"""Resource estimate of a configuration and the fit checks (board and model).

The estimate counts what dominates an EIE design: the PE memories (entries,
the two pointer banks, source/destination activations, accumulators,
codebooks, biases), the FIFOs, and the multipliers. Memories map to BRAM18
halves the way the tools pick the best aspect ratio (512x36 ... 16Kx1);
memories of at most 1 Kbit or fewer than 64 words go to LUTRAM / registers.
Entry memories use UltraRAM (4K x 72) when the board has it and
``entry_storage`` allows. The occupancy mask (``occupancy_mask``, planned
kernel support) is one ptr_depth x N memory at the broadcaster: N bits per
column of every layer; it is optional, for configurations where memory is
tight. It is an estimate for sizing, not a synthesis
report: logic (LUTs, FFs) and the AXI adapters are not modelled beyond a
fixed allowance of BRAMs for the m_axi ports.

DSPs: each PE keeps the general multiplier (cb_bits x act_bits) even when
``ternary`` is on, because ternary models keep their first and last layers
at full precision; the ternary path adds the per-row Wp/Wn scaling
(cb_bits x acc_bits, twice) in the epilogue and has no multiplier in its
inner loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eie.errors import CapacityError, ConfigError
from eie.format.qmodel import QuantModel
from eie.hardware.boards import BOARDS
from eie.hardware.config import AcceleratorConfig

# (depth, width) aspect ratios of one BRAM18.
_BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
_URAM_DEPTH, _URAM_WIDTH = 4096, 72
LUTRAM_MAX_BITS = 1024
MAXI_BRAM36 = 6  # read/write buffers of the three m_axi ports (approximate)


def bram18_for(depth: int, width: int) -> int:
    """BRAM18 blocks for one depth x width memory (0 when it fits LUTRAM)."""
    if depth <= 0 or width <= 0 or depth * width <= LUTRAM_MAX_BITS or depth < 64:
        return 0
    return min(-(-width // w) * -(-depth // d) for d, w in _BRAM18_SHAPES)


def uram_for(depth: int, width: int) -> int:
    return -(-width // _URAM_WIDTH) * -(-depth // _URAM_DEPTH)


def mult_dsps(a_bits: int, b_bits: int, family: str) -> int:
    """DSP slices for a signed a x b multiplier (DSP48E1 25x18, DSP48E2 27x18)."""
    big = 27 if family == "zynqmp" else 25
    a, b = max(a_bits, b_bits), min(a_bits, b_bits)
    return -(-a // (big - 1)) * -(-b // 17) if b > 1 else 0


@dataclass
class Estimate:
    bram36: int
    uram: int
    dsp: int
    per_pe: dict  # memory name -> (depth, width, bram18, uram)
    fifo_bram18: int
    board: str
    board_bram36: int
    board_uram: int
    board_dsp: int
    # The occupancy mask (planned kernel support): one N-bit word per column of
    # every layer (ptr_depth deep), at the broadcaster; 0 when the mask is off.
    mask_bits: int = 0
    mask_bram18: int = 0

    def to_dict(self) -> dict:
        return {
            "mask_bits": self.mask_bits,
            "mask_bram18": self.mask_bram18,
            "bram36": self.bram36,
            "uram": self.uram,
            "dsp": self.dsp,
            "board": self.board,
            "board_bram36": self.board_bram36,
            "board_uram": self.board_uram,
            "board_dsp": self.board_dsp,
            "per_pe": {k: {"depth": v[0], "width": v[1], "bram18": v[2], "uram": v[3]} for k, v in self.per_pe.items()},
        }


def pe_memories(config: AcceleratorConfig) -> dict[str, tuple[int, int]]:
    """depth x width of every memory of one PE."""
    c = config
    # The kernel's own widths and depths (AcceleratorConfig properties): pointers
    # are (word, slot) pairs in two banks; the activation buffers are rounded up
    # to whole LNZD windows.
    mems = {
        "entries": (c.entry_depth, 64),
        "ptr_even": (c.ptr_bank_depth, c.ptr_bits),
        "ptr_odd": (c.ptr_bank_depth, c.ptr_bits),
        "act_src": (c.act_buf_depth, c.act_bits),
        "act_dst": (c.act_buf_depth, c.act_bits),
        "accumulators": (c.act_depth, c.acc_bits),
        "codebooks": (c.codebook_depth, c.cb_bits),
        "biases": (c.bias_depth, c.acc_bits),
    }
    if c.ternary:
        mems["accumulators_neg"] = (c.act_depth, c.acc_bits)
    return mems


def estimate(config: AcceleratorConfig) -> Estimate:
    c = config
    b = c.board_spec
    per_pe = {}
    bram18 = 0
    uram = 0
    for name, (depth, width) in pe_memories(c).items():
        if name == "entries" and c.uses_uram:
            u, r = uram_for(depth, width), 0
        else:
            u, r = 0, bram18_for(depth, width)
        per_pe[name] = (depth, width, r, u)
        bram18 += r
        uram += u
    fifo18 = bram18_for(c.fifo_depth, c.token_bits)
    mask18 = bram18_for(c.ptr_depth, c.n_pes) if c.occupancy_mask else 0
    total18 = c.n_pes * (bram18 + fifo18) + mask18
    dsp_pe = mult_dsps(c.cb_bits, c.act_bits, b.family)
    if c.ternary:
        dsp_pe += 2 * mult_dsps(c.cb_bits, c.acc_bits, b.family)
    return Estimate(
        bram36=-(-total18 // 2) + MAXI_BRAM36,
        uram=c.n_pes * uram,
        dsp=c.n_pes * dsp_pe,
        per_pe=per_pe,
        fifo_bram18=fifo18,
        mask_bits=c.mask_bits,
        mask_bram18=mask18,
        board=c.board,
        board_bram36=b.bram36,
        board_uram=b.uram,
        board_dsp=b.dsp,
    )


def _overflows(est: Estimate) -> list[str]:
    out = []
    for what, need, have in (
        ("BRAM36", est.bram36, est.board_bram36),
        ("URAM", est.uram, est.board_uram),
        ("DSP", est.dsp, est.board_dsp),
    ):
        if need > have:
            out.append(f"{what}: needs {need}, the board has {have} (over by {need - have})")
    return out


def on_board(config: AcceleratorConfig, board: str) -> AcceleratorConfig:
    """The same configuration on another supported board (its part and clock)."""
    storage = config.entry_storage if config.entry_storage != "uram" or BOARDS[board].uram else "auto"
    return config.replace(board=board, part=None, clock_mhz=None, resources=None, entry_storage=storage)


def fits_board(config: AcceleratorConfig) -> bool:
    return not _overflows(estimate(config))


def check_fits_board(config: AcceleratorConfig) -> Estimate:
    """The estimate, or CapacityError naming each resource that overflows."""
    est = estimate(config)
    over = _overflows(est)
    if over:
        biggest = max(est.per_pe.items(), key=lambda kv: kv[1][2] + 8 * kv[1][3])
        fits = [name for name in BOARDS if name != config.board and fits_board(on_board(config, name))]
        raise CapacityError(
            f"the configuration (N={config.n_pes}, entry_depth={config.entry_depth}, ptr_depth={config.ptr_depth}, "
            f"act_depth={config.act_depth}) does not fit {config.board}: "
            + "; ".join(over)
            + f". The largest memory per PE is {biggest[0]} ({biggest[1][0]} x {biggest[1][1]} bits). "
            + ("Boards where it fits: " + ", ".join(fits) + ". " if fits else "")
            + "Reduce n_pes or the depths"
            + (
                f", or turn occupancy_mask off (it takes {-(-est.mask_bram18 // 2)} BRAM36)."
                if est.mask_bram18
                else "."
            )
        )
    return est


@dataclass
class ModelNeeds:
    """Per-PE memory needs of a model (what the kernel's load checks)."""

    entry_words: np.ndarray  # per PE, all layers
    pointers: int
    act: int
    bias: int
    layers: int

    def depths(self) -> dict:
        return {
            "entry_depth": int(max(1, self.entry_words.max())),
            "ptr_depth": int(max(2, self.pointers)),
            "act_depth": int(max(1, self.act)),
            "bias_depth": int(max(1, self.bias)),
            "max_layers": int(self.layers),
        }


def model_needs(qm: QuantModel) -> ModelNeeds:
    p = qm.params
    n = p.n_pes
    per = p.entries_per_word
    words = np.zeros(n, dtype=np.int64)
    ptrs = act = bias = 0
    for ql in qm.layers:
        m, k = ql.shape
        words += -(-ql.encoded.n_entries.astype(np.int64) // per)
        ptrs += k + 1
        act = max(act, -(-m // n), -(-k // n))
        bias += -(-m // n)
    return ModelNeeds(words, ptrs, act, bias, len(qm.layers))


def depths_for_model(qm: QuantModel, headroom: float = 0.0) -> dict:
    """Memory depths (config fields) that hold ``qm``, with optional relative headroom."""
    d = model_needs(qm).depths()
    if headroom:
        d = {k: int(np.ceil(v * (1.0 + headroom))) for k, v in d.items()}
        d["max_layers"] = min(64, d["max_layers"])
    return d


def config_for_model(qm: QuantModel, board: str = "zcu104", headroom: float = 0.0, **overrides) -> AcceleratorConfig:
    """A configuration with the model's parameters and depths sized from it."""
    return config_for_models([qm], board, headroom, **overrides)


def config_for_models(
    models: Sequence[QuantModel], board: str = "zcu104", headroom: float = 0.0, **overrides
) -> AcceleratorConfig:
    """One configuration (the models' parameters, depths for the largest) that holds each model."""
    if not models:
        raise ConfigError("no models to size a configuration for")
    p = models[0].params
    if any(m.params != p for m in models):
        raise ConfigError("the models were quantised for different accelerator parameters")
    depths = [depths_for_model(m, headroom) for m in models]
    fields = dict(
        board=board,
        n_pes=p.n_pes,
        weight_bits=p.weight_bits,
        index_bits=p.index_bits,
        act_bits=p.act_bits,
        cb_bits=p.cb_bits,
        acc_bits=p.acc_bits,
        ternary=any(l.ternary for m in models for l in m.layers),
    )
    fields.update({k: max(d[k] for d in depths) for k in depths[0]})
    fields.update(overrides)
    return AcceleratorConfig(**fields)


def check_model_fits(config: AcceleratorConfig, qm: QuantModel) -> ModelNeeds:
    """Raise CapacityError (or ConfigError for other parameters) unless the model fits."""
    hw = config.to_hwparams()
    if qm.params != hw:
        raise ConfigError(
            f"the model was quantised for {qm.params}, the configuration has {hw}; quantise it for this configuration"
        )
    needs = model_needs(qm)
    problems = []
    worst = int(np.argmax(needs.entry_words))
    if needs.entry_words[worst] > config.entry_depth:
        over = int(needs.entry_words[worst]) - config.entry_depth
        n_over = int(np.count_nonzero(needs.entry_words > config.entry_depth))
        problems.append(
            f"the entry memory of PE {worst} needs {int(needs.entry_words[worst])} words, entry_depth is "
            f"{config.entry_depth} (over by {over}; {n_over} of {config.n_pes} PEs overflow)"
        )
    if needs.pointers > config.ptr_depth:
        problems.append(
            f"the pointer memory of every PE needs {needs.pointers} pointers, ptr_depth is "
            f"{config.ptr_depth} (over by {needs.pointers - config.ptr_depth})"
        )
    if needs.act > config.act_depth:
        problems.append(
            f"the activation buffers of PE 0 need {needs.act} values, act_depth is {config.act_depth} "
            f"(over by {needs.act - config.act_depth})"
        )
    if needs.bias > config.bias_depth:
        problems.append(
            f"the bias memory of PE 0 needs {needs.bias} values, bias_depth is {config.bias_depth} "
            f"(over by {needs.bias - config.bias_depth})"
        )
    if needs.layers > config.max_layers:
        problems.append(f"the model has {needs.layers} layers, max_layers is {config.max_layers}")
    if problems:
        sized = config.replace(**{k: max(v, getattr(config, k)) for k, v in needs.depths().items()})
        hint = ", ".join(f"{k}={v}" for k, v in needs.depths().items() if v > getattr(config, k))
        boards = [name for name in BOARDS if fits_board(on_board(sized, name))]
        where = (
            f"on {', '.join(boards)}"
            if boards
            else f"on no supported board with N={config.n_pes}; use more PEs (entries per PE shrink about as 1/N)"
        )
        raise CapacityError(
            "the model does not fit the accelerator: "
            + "; ".join(problems)
            + f". Set {hint} (that configuration fits {where})."
        )
    return needs
