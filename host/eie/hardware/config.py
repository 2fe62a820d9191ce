"""The accelerator configuration: what the HLS templates are rendered for.

One ``AcceleratorConfig`` fixes everything the kernel is compiled with: the
board (its part and on-chip resources), the clock, the number of PEs, the bit
widths of docs/arithmetic.md, the FIFO depth and the per-PE memory depths. It
loads from YAML (``from_yaml``); every field is checked with a ConfigError
that names the field and the allowed range. pyyaml is imported only when a
YAML file is read, so the board side can import this module with numpy alone.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields

from eie.errors import ConfigError, check_int
from eie.format.csc import entries_per_word
from eie.format.qmodel import HWParams
from eie.hardware.boards import AXI_MAX_BITS as BOARD_AXI_MAX_BITS
from eie.hardware.boards import BOARDS, CUSTOM, HP_PORTS, STREAM_PORT_CHOICES, Board

# The kernel's default top function (eie.kernel.abi derives the IP's VLNV from it).
TOP = "eie_top"

ENTRY_STORAGE = ("auto", "bram", "uram")
# Where a layer's entries live (docs/image-format.md, "Streamed layers"): on chip,
# streamed from DDR for every input, or auto (on chip where it fits, per layer).
STORAGE = ("auto", "onchip", "stream")
AXI_DATA_BITS = (32, 64, 128)
# Codebooks of at most this many bits per PE are bound to LUTRAM (a BRAM18 holds 18 Kbit).
CODEBOOK_LUTRAM_BITS = 4096
# The widest ap_uint Vitis HLS (and its C-simulation headers) accept with AP_INT_MAX_W raised.
AP_INT_LIMIT = 32768

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _int_field(name: str, value, lo: int, hi: int) -> int:
    return check_int(name, value, lo, hi)


@dataclass
class AcceleratorConfig:
    """Parameters of one generated accelerator.

    Depths are per PE: ``entry_depth`` 64-bit entry words (all layers),
    ``ptr_depth`` column pointers (sum over layers of K+1, split over two
    banks), ``act_depth`` activations per PE (ceil(max layer width / N)),
    ``bias_depth`` biases per PE (sum over layers of ceil(M / N)).
    ``dir_depth`` is the column directory of the streamed layers, once per
    kernel (sum over streamed layers of K+1 byte offsets, 32 bits each, in
    two banks); 0, the default, is a kernel without streaming hardware, which
    refuses streamed layers.
    ``lnzd_window`` is how many consecutive activations the broadcaster's
    leading-non-zero detector (LNZD) looks at per cycle; given as None (the
    default, also ``null`` in YAML) it is N, one per PE bank, and after
    construction it always holds the resolved width. It must be a divisor of
    ``n_pes`` or ``n_pes`` times a power of two. Each all-zero window costs the
    broadcaster one cycle (eie.performance.timing, ``TimingParams.lnzd_window``).
    ``resources`` (bram36, uram, dsp; optionally ``ddr_gbps``, the DDR's
    peak) is required for ``board: custom``.

    Streamed layers and the occupancy mask (docs/kernel.md):
    ``storage`` (``auto``: on chip where a layer fits, streamed from DDR
    otherwise; ``onchip``; ``stream``; eie.hardware.streaming; streaming
    needs a column directory, ``dir_depth`` > 0),
    ``occupancy_mask`` (send each PE only its columns; N bits per column at
    the broadcaster, ``mask_bits``; on by default, off where memory is
    tight), and the streaming master's
    ``axi_data_bits``, ``axi_burst_len`` and ``axi_outstanding`` (None: the
    board family's defaults, eie.hardware.boards.AXI_DEFAULTS; read them
    resolved as ``axi_bits``, ``burst_len``, ``outstanding``), and
    ``stream_ports``, the HP ports the streamed layers are read over (1, 2
    or 4; column j goes to port j mod P; None: the family's default,
    eie.hardware.boards.STREAM_PORTS_DEFAULT; resolved as ``ports``). Each
    port has its own reader and dispatcher, ``stream_bits`` wide.

    The kernel's derived widths and depths (``slot_bits``, ``ptr_bits``,
    ``act_buf_depth``, the trip-count maxima, ...) are properties below: the
    HLS templates and the resource estimate read them, nothing recomputes them.
    """

    board: str = "pynq-z2"
    part: str | None = None
    clock_mhz: float | None = None
    n_pes: int = 8
    weight_bits: int = 4
    index_bits: int = 4
    act_bits: int = 16
    cb_bits: int = 16
    acc_bits: int = 32
    fifo_depth: int = 32
    lnzd_window: int | None = None
    entry_depth: int = 4096
    ptr_depth: int = 2048
    dir_depth: int = 0
    act_depth: int = 512
    bias_depth: int = 1024
    max_layers: int = 8
    ternary: bool = False
    entry_storage: str = "auto"
    # Streamed layers and the occupancy mask (docs/kernel.md). FIFO 32 and the
    # mask on: chosen from bench/exp_fifo.py (docs/timing.md, "Decoupled PEs").
    storage: str = "auto"
    occupancy_mask: bool = True
    axi_data_bits: int | None = None  # None: the board family's default (eie.hardware.boards.AXI_DEFAULTS)
    axi_burst_len: int | None = None
    axi_outstanding: int | None = None
    stream_ports: int | None = None  # None: the board family's default (eie.hardware.boards.STREAM_PORTS_DEFAULT)
    top: str = TOP
    resources: dict | None = field(default=None)

    def __post_init__(self) -> None:
        # lnzd_window=None is "one per PE": it is resolved here, and to_dict and
        # replace give None back so the window keeps following n_pes.
        self._lnzd_follows_pes = self.lnzd_window is None
        if self._lnzd_follows_pes:
            self.lnzd_window = self.n_pes
        self.validate()

    # -- validation ---------------------------------------------------------
    def validate(self) -> None:
        if not isinstance(self.board, str) or (self.board not in BOARDS and self.board != CUSTOM):
            raise ConfigError(
                f"board={self.board!r} is not known: use one of {', '.join(BOARDS)} or 'custom' "
                "(with part and resources)"
            )
        if self.board == CUSTOM:
            if not self.part:
                raise ConfigError("board: custom needs 'part' (the FPGA part name, e.g. xc7z020clg400-1)")
            if not isinstance(self.resources, dict):
                raise ConfigError("board: custom needs 'resources: {bram36: .., uram: .., dsp: ..}'")
            unknown = set(self.resources) - {"bram36", "uram", "dsp", "family", "ddr_gbps"}
            if unknown:
                raise ConfigError(
                    f"resources has unknown keys {sorted(unknown)}; use bram36, uram, dsp, family, ddr_gbps"
                )
            ddr = self.resources.get("ddr_gbps")
            if ddr is not None and (isinstance(ddr, bool) or not isinstance(ddr, (int, float)) or not ddr > 0):
                raise ConfigError(f"resources.ddr_gbps={ddr!r} must be a positive number (the DDR's peak, GB/s)")
            for key in ("bram36", "uram", "dsp"):
                _int_field(f"resources.{key}", self.resources.get(key, 0), 0, 1 << 20)
            if self.resources.get("family", "zynqmp") not in ("zynq7", "zynqmp"):
                raise ConfigError("resources.family must be 'zynq7' or 'zynqmp'")
        elif self.resources is not None:
            raise ConfigError(f"resources can only be given with board: custom (board {self.board!r} has its own)")
        if self.part is not None and (not isinstance(self.part, str) or not self.part.strip()):
            raise ConfigError(f"part={self.part!r} must be a non-empty part name")
        if self.clock_mhz is not None:
            try:
                mhz = float(self.clock_mhz)
            except (TypeError, ValueError):
                raise ConfigError(f"clock_mhz={self.clock_mhz!r} must be a number") from None
            if not 10.0 <= mhz <= 1000.0:
                raise ConfigError(f"clock_mhz={self.clock_mhz} is out of range: it must be 10 to 1000 MHz")
        _int_field("n_pes", self.n_pes, 1, 64)
        _int_field("weight_bits", self.weight_bits, 1, 8)
        _int_field("index_bits", self.index_bits, 1, 8)
        if self.weight_bits + self.index_bits > 16:
            raise ConfigError(
                f"weight_bits + index_bits = {self.weight_bits + self.index_bits} exceeds 16 (an entry must "
                "pack at least 4 to a 64-bit word)"
            )
        _int_field("act_bits", self.act_bits, 2, 32)
        _int_field("cb_bits", self.cb_bits, 2, 32)
        _int_field("acc_bits", self.acc_bits, 8, 64)
        if self.acc_bits < self.act_bits:
            raise ConfigError(f"acc_bits={self.acc_bits} must be at least act_bits={self.act_bits}")
        _int_field("fifo_depth", self.fifo_depth, 1, 4096)
        _int_field("lnzd_window", self.lnzd_window, 1, 1024)
        w, n = int(self.lnzd_window), int(self.n_pes)
        if w % n and n % w:
            raise ConfigError(
                f"lnzd_window={w} must be a multiple or a divisor of n_pes={n} (each window reads whole "
                "words from the PE banks); e.g. use " + ", ".join(str(x) for x in sorted({n, 2 * n, 4 * n}))
            )
        f = w // n
        if w > n and f & (f - 1):
            # The buffers are partitioned cyclically by W/N; a power of two keeps the bank of
            # a window's word a bit field of its address instead of a remainder.
            raise ConfigError(
                f"lnzd_window={w} must be n_pes={n} times a power of two when wider than n_pes "
                f"(it is {f} x {n}); e.g. use {n * (1 << (f.bit_length() - 1))} or {n * (1 << f.bit_length())}"
            )
        _int_field("entry_depth", self.entry_depth, 1, 1 << 22)
        _int_field("ptr_depth", self.ptr_depth, 2, 1 << 22)
        _int_field("dir_depth", self.dir_depth, 0, 1 << 22)
        _int_field("act_depth", self.act_depth, 1, 1 << 20)
        _int_field("bias_depth", self.bias_depth, 1, 1 << 22)
        _int_field("max_layers", self.max_layers, 1, 64)
        if not isinstance(self.ternary, bool):
            raise ConfigError(f"ternary={self.ternary!r} must be true or false")
        if self.entry_storage not in ENTRY_STORAGE:
            raise ConfigError(f"entry_storage={self.entry_storage!r} must be one of {', '.join(ENTRY_STORAGE)}")
        if self.entry_storage == "uram" and self.board_spec.uram == 0:
            raise ConfigError(f"entry_storage: uram, but board {self.board!r} has no UltraRAM; use bram or auto")
        if self.storage not in STORAGE:
            raise ConfigError(f"storage={self.storage!r} must be one of {', '.join(STORAGE)}")
        if self.ap_int_max_w > AP_INT_LIMIT:
            raise ConfigError(
                f"n_pes={self.n_pes} x lnzd_window={self.lnzd_window} makes an occupancy word of "
                f"{self.n_pes * self.lnzd_window} bits, more than the {AP_INT_LIMIT} bits an ap_uint can have; "
                "use a narrower lnzd_window"
            )
        if not isinstance(self.occupancy_mask, bool):
            raise ConfigError(f"occupancy_mask={self.occupancy_mask!r} must be true or false")
        family = self.board_spec.family
        if self.axi_data_bits is not None:
            top = BOARD_AXI_MAX_BITS[family]
            allowed = [b for b in AXI_DATA_BITS if b <= top]
            if self.axi_data_bits not in allowed or isinstance(self.axi_data_bits, bool):
                raise ConfigError(
                    f"axi_data_bits={self.axi_data_bits!r} must be one of {', '.join(map(str, allowed))} "
                    f"(the {family} HP ports are at most {top} bits)"
                )
        if self.axi_burst_len is not None:
            b = _int_field("axi_burst_len", self.axi_burst_len, 1, 256)
            if b & (b - 1):
                raise ConfigError(f"axi_burst_len={b} must be a power of two (1 to 256 beats)")
            if family == "zynq7" and b > 16:
                raise ConfigError(f"axi_burst_len={b}: Zynq-7000 HP ports are AXI3, at most 16 beats per burst")
        if self.axi_outstanding is not None:
            _int_field("axi_outstanding", self.axi_outstanding, 1, 64)
        if self.stream_ports is not None:
            allowed = [p for p in STREAM_PORT_CHOICES if p <= HP_PORTS[family]]
            if isinstance(self.stream_ports, bool) or self.stream_ports not in allowed:
                raise ConfigError(
                    f"stream_ports={self.stream_ports!r} must be one of {', '.join(map(str, allowed))} "
                    f"(column j of a streamed layer is read over port j mod stream_ports; the {family} PS has "
                    f"{HP_PORTS[family]} HP ports)"
                )
        if not isinstance(self.top, str) or not _IDENT.match(self.top):
            raise ConfigError(f"top={self.top!r} must be a C identifier (letters, digits, underscore)")

    # -- derived ------------------------------------------------------------
    @property
    def board_spec(self) -> Board:
        if self.board == CUSTOM:
            r = self.resources or {}
            return Board(
                CUSTOM,
                str(self.part),
                int(r.get("bram36", 0)),
                int(r.get("uram", 0)),
                int(r.get("dsp", 0)),
                100.0,
                str(r.get("family", "zynqmp")),
            )
        return BOARDS[self.board]

    @property
    def axi_bits(self) -> int:
        """The streaming master's data width: ``axi_data_bits`` or the family's default."""
        return int(self.axi_data_bits) if self.axi_data_bits is not None else self.board_spec.axi_defaults[0]

    @property
    def burst_len(self) -> int:
        return int(self.axi_burst_len) if self.axi_burst_len is not None else self.board_spec.axi_defaults[1]

    @property
    def outstanding(self) -> int:
        return int(self.axi_outstanding) if self.axi_outstanding is not None else self.board_spec.axi_defaults[2]

    @property
    def ports(self) -> int:
        """HP ports the streamed layers are read over: ``stream_ports`` or the family's default."""
        return int(self.stream_ports) if self.stream_ports is not None else self.board_spec.stream_ports_default

    @property
    def stream_bits(self) -> int:
        """The stream datapath's word (each port's reads, the dispatcher's step): the port's width, at least 64."""
        return max(64, self.axi_bits)

    @property
    def ddr_peak_gbps(self) -> float | None:
        """The board's DDR peak (GB/s); for ``board: custom``, ``resources.ddr_gbps`` (None if not given)."""
        if self.board == CUSTOM:
            g = (self.resources or {}).get("ddr_gbps")
            return None if g is None else float(g)
        return self.board_spec.ddr_peak_gbps

    @property
    def occ_depth(self) -> int:
        """Words of the occupancy mask: one per broadcaster window (lnzd_window columns) of every layer.

        A layer of K columns takes ceil(K / W) words; the layers' K + 1 fit
        ptr_depth, so the sum is at most ceil(ptr_depth / W) + max_layers and
        the pointer capacity bounds the mask too (no check of its own).
        """
        return -(-self.ptr_depth // self.lnzd_window) + self.max_layers

    @property
    def occ_memory_depth(self) -> int:
        """The mask memory the kernel declares: ``occ_depth`` words, or a one-word placeholder when off."""
        return self.occ_depth if self.occupancy_mask else 1

    @property
    def n_feeds(self) -> int:
        """The broadcaster's FIFOs: one per PE, and one per stream lane in a streaming kernel."""
        return self.n_pes + self.stream_lanes

    @property
    def occ_word_bits(self) -> int:
        """One mask word: N receiver bits for each of the window's W columns."""
        return self.n_pes * self.lnzd_window

    @property
    def mask_bits(self) -> int:
        """The occupancy mask's memory (``occ_depth`` words of ``occ_word_bits``), 0 when off."""
        return self.occ_depth * self.occ_word_bits if self.occupancy_mask else 0

    @property
    def fpga_part(self) -> str:
        return self.part or self.board_spec.part

    @property
    def clock(self) -> float:
        """Clock in MHz (the board's default when not set)."""
        return float(self.clock_mhz) if self.clock_mhz is not None else self.board_spec.clock_mhz

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock

    @property
    def uses_uram(self) -> bool:
        return self.entry_storage == "uram" or (self.entry_storage == "auto" and self.board_spec.uram > 0)

    # -- derived kernel widths and depths (hls/eie_params.h.j2 renders each one) --
    @property
    def entry_bits(self) -> int:
        """Bits of one packed (v, z) entry."""
        return self.weight_bits + self.index_bits

    @property
    def entries_per_word(self) -> int:
        """Entries packed in one 64-bit entry word (E), as the CSC format packs them."""
        return entries_per_word(self.weight_bits, self.index_bits)

    @property
    def cb_size(self) -> int:
        """Codebook values per layer (2^weight_bits)."""
        return 1 << self.weight_bits

    @property
    def codebook_depth(self) -> int:
        """Codebook values per PE, all layers."""
        return self.max_layers * self.cb_size

    @property
    def codebook_lutram(self) -> bool:
        """The kernel binds the codebooks to LUTRAM: up to 4 Kbit per PE (a BRAM18 would be mostly empty)."""
        return self.codebook_depth * self.cb_bits <= CODEBOOK_LUTRAM_BITS

    @property
    def slot_bits(self) -> int:
        """Low bits of an entry pointer: the slot 0..E-1 within its word (at least 1)."""
        return max(1, (self.entries_per_word - 1).bit_length())

    @property
    def ptr_bits(self) -> int:
        """An entry pointer (word 0..entry_depth in the high bits, then the slot)."""
        return self.entry_depth.bit_length() + self.slot_bits

    @property
    def streaming(self) -> bool:
        """The kernel has streaming hardware (a column directory): ``dir_depth`` > 0."""
        return self.dir_depth > 0

    @property
    def dir_bank_depth(self) -> int:
        """Depth of each of the two directory banks (offset g in bank g mod 2 at g div 2), at least 1."""
        return max(1, (self.dir_depth + 1) // 2)

    @property
    def ptr_bank_depth(self) -> int:
        """Depth of the even pointer bank (pointer g in bank g mod 2 at g div 2)."""
        return (self.ptr_depth + 1) // 2

    @property
    def ptr_odd_depth(self) -> int:
        """Depth of the odd pointer bank: ptr_depth // 2 (one word fewer than the even one for odd ptr_depth)."""
        return max(1, self.ptr_depth // 2)

    @property
    def dir_odd_depth(self) -> int:
        """Depth of the odd directory bank (the even one is ``dir_bank_depth``)."""
        return max(1, self.dir_depth // 2)

    @property
    def pidx_bits(self) -> int:
        """A pointer-table index (ptr_base + column) < ptr_depth, as the broadcast token carries it.

        A streamed layer's token carries its directory index (< dir_depth) instead.
        """
        return max(1, (max(self.ptr_depth, self.dir_depth) - 1).bit_length())

    @property
    def ap_int_max_w(self) -> int:
        """AP_INT_MAX_W the kernel needs: its widest ap_uint (the occupancy word, N x W bits, and a
        streaming kernel's count header, N x 32), in whole Kbit, at least ap_int's default 1024."""
        widest = max(self.n_pes * self.lnzd_window, 32 * self.n_pes if self.streaming else 0, 2 * self.stream_bits)
        return max(1024, -(-widest // 1024) * 1024)

    @property
    def stream_chunk_words(self) -> int:
        """A stream reader's longest request in stream words (``stream_bits``): burst_len beats of axi_bits,
        at most 4 KiB."""
        return max(1, min(self.burst_len * self.axi_bits // self.stream_bits, 4096 * 8 // self.stream_bits))

    @property
    def stream_buffer_words(self) -> int:
        """A stream reader's word FIFO: its bursts in flight (outstanding x burst length), in stream words."""
        return max(2, self.outstanding * self.burst_len * self.axi_bits // self.stream_bits)

    @property
    def stream_lanes(self) -> int:
        """The streaming hardware's lanes (reader, dispatcher, directory copy): ``ports``, 0 without streaming."""
        return self.ports if self.streaming else 0

    @property
    def stream_word_words(self) -> int:
        """Image (64-bit) words per stream word."""
        return self.stream_bits // 64

    @property
    def stream_shift(self) -> int:
        """log2 of a stream word's bytes."""
        return (self.stream_bits // 8).bit_length() - 1

    @property
    def pack_n_bits(self) -> int:
        """A pack's entry count, 0..step_entries."""
        return self.step_entries.bit_length()

    @property
    def pack_streams(self) -> list[str]:
        """Suffixes of the token and pack stream arrays (N each) of a streaming kernel: the lanes' outputs
        (``l0``..; the PEs' own ``pe`` with one lane), the merges' (``m0``.., ``pe``)."""
        if not self.streaming:
            return []
        if self.ports == 1:
            return ["pe"]
        return [f"l{i}" for i in range(self.ports)] + [o for _, _, o in self.merge_tree]

    @property
    def step_entries(self) -> int:
        """Entries a dispatcher moves per step (and a pack holds): a stream word's whole entries."""
        return self.stream_bits // self.entry_bits

    @property
    def merge_tree(self) -> list[tuple[str, str, str]]:
        """Each PE's merges of the lanes' (token, pack) streams, as (input, input, output) stream suffixes:
        lanes ``l0``.., intermediate ``m0``.., the PE's own ``pe``. Empty with one lane (it feeds the PEs)."""
        level = [f"l{i}" for i in range(self.ports)]
        out: list[tuple[str, str, str]] = []
        m = 0
        while len(level) > 1:
            nxt = []
            for a, b in zip(level[0::2], level[1::2]):
                name = "pe" if len(level) == 2 else f"m{m}"
                m += name != "pe"
                out.append((a, b, name))
                nxt.append(name)
            level = nxt
        return out

    @property
    def max_cols(self) -> int:
        """The widest layer input (or output) the activation buffers hold: N * act_depth."""
        return self.n_pes * self.act_depth

    @property
    def col_bits(self) -> int:
        """A column count 0..max_cols."""
        return max(1, self.max_cols.bit_length())

    @property
    def token_bits(self) -> int:
        """Width of one FIFO token: pointer index, activation, end-of-layer flag."""
        return self.pidx_bits + self.act_bits + 1

    @property
    def lnzd_words(self) -> int:
        """Words one LNZD window reads from each activation bank (W / N when W > N, else 1).

        The activation buffers are partitioned cyclically by this factor.
        """
        return max(1, self.lnzd_window // self.n_pes)

    @property
    def act_buf_depth(self) -> int:
        """Activation-buffer depth per bank: act_depth rounded up to whole windows of lnzd_words."""
        f = self.lnzd_words
        return -(-self.act_depth // f) * f

    @property
    def act_lane_depth(self) -> int:
        """Words of each of the lnzd_words lanes of an activation bank (act_buf_depth / lnzd_words).

        A bank is stored as [lanes][lane depth], local index t in lane t mod F
        at word t div F, so the broadcaster's F reads of a window hit F
        different memories at constant lane indices.
        """
        return self.act_buf_depth // self.lnzd_words

    @property
    def broadcast_trips_max(self) -> int:
        """Most iterations of the broadcaster's loop: one per column plus the prologue."""
        return self.max_cols + 1

    @property
    def pe_trips_max(self) -> int:
        """Most iterations of a PE's accumulation loop: one per column and per entry, plus the prologue."""
        return self.max_cols + self.entry_depth * self.entries_per_word + 1

    @property
    def ptr_words_max(self) -> int:
        """Most image words of one layer's pointers per PE (two K+1 pointers per word)."""
        return (min(self.max_cols, self.ptr_depth - 1) + 2) // 2

    def to_hwparams(self) -> HWParams:
        return HWParams(self.n_pes, self.weight_bits, self.index_bits, self.act_bits, self.cb_bits, self.acc_bits)

    def to_dict(self) -> dict:
        """The fields as given (``lnzd_window`` None when it follows n_pes)."""
        d = asdict(self)
        if self._lnzd_follows_pes:
            d["lnzd_window"] = None
        if d["resources"] is None:
            del d["resources"]
        return d

    def replace(self, **changes) -> AcceleratorConfig:
        d = self.to_dict()
        d.update(changes)
        return AcceleratorConfig(**d)

    # -- files --------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict) -> AcceleratorConfig:
        if not isinstance(data, dict):
            raise ConfigError("the configuration must be a mapping of field: value")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown configuration keys {unknown}; valid keys are {', '.join(sorted(names))}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path) -> AcceleratorConfig:
        import yaml

        try:
            with open(path) as f:
                data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from None
        if data is None:
            data = {}
        try:
            return cls.from_dict(data)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None

    def to_yaml(self, path) -> None:
        import yaml

        from eie.safeio import atomic_write

        atomic_write(path, yaml.safe_dump(self.to_dict(), sort_keys=False))
