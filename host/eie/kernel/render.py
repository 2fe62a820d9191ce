"""Render the HLS kernel, its testbench and test vectors for one configuration.

The templates in ``hls/`` are C++ with small holes (the parameters header,
the N PE instances in the top, the testbench sizes); the building blocks
``hls/*.hpp`` are copied verbatim. ``render`` writes a self-contained build
directory that ``build.tcl`` (Vitis HLS) and ``eie.kernel.csim`` (g++) both use.
jinja2 is imported here only, never by the board-side modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eie.format import image as img
from eie.format.qmodel import QuantModel
from eie.hardware.config import AcceleratorConfig
from eie.kernel import abi, sources
from eie.safeio import atomic_write

STATIC_SOURCES = (
    "eie_common.hpp",
    "eie_dataflow.hpp",
    "eie_pe.hpp",
    "eie_broadcast.hpp",
    "eie_load.hpp",
    "eie_stream.hpp",
)
KERNEL_TEMPLATES = {"eie_params.h.j2": "eie_params.h", "eie_top.h.j2": "eie_top.h", "eie_top.cpp.j2": "eie_top.cpp"}
# The image format's word indices the kernel reads (eie.format.image): every
# field the host reader checks, so that the two accept the same images.
HEADER_NAMES = (
    "H_MAGIC",
    "H_VERSION",
    "H_TOTAL",
    "H_PES",
    "H_WBITS",
    "H_IBITS",
    "H_ABITS",
    "H_CBITS",
    "H_ACCBITS",
    "H_LAYERS",
    "H_DESC",
    "H_IN",
    "H_OUT",
    "H_CHECKSUM",
)
DESC_NAMES = (
    "D_ROWS",
    "D_COLS",
    "D_FLAGS",
    "D_FA_IN",
    "D_FW",
    "D_FA_OUT",
    "D_SHIFT",
    "D_CODEBOOK",
    "D_BIAS",
    "D_PERM",
    "D_COUNTS",
    "D_PTR",
    "D_ENTRIES",
    "D_ENTRY_WORDS",
    "D_COUNT_BITS",
    "D_DIR",
)


def hls_dir() -> Path:
    """The template directory: $EIE_HLS_DIR, else the installed package data or hls/ of the checkout."""
    return sources.hls_dir()


def _env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(hls_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def kernel_context(
    config: AcceleratorConfig, image_depth: int = 1 << 16, in_depth: int = 1 << 12, out_depth: int = 1 << 12
) -> dict:
    """Template variables for the kernel (the m_axi depths only matter to cosim).

    ``cfg`` is the configuration itself: the templates read its fields and
    derived properties (``cfg.slot_bits``, ``cfg.act_buf_depth``, ...) and
    compute nothing. The rest are the image format's and the ABI's constants.
    """
    return {
        "cfg": config,
        "magic": img.MAGIC,
        "version": img.VERSION,
        "header_words": img.HEADER_WORDS,
        "desc_words": img.DESC_WORDS,
        "header_index": [(n, getattr(img, n)) for n in HEADER_NAMES],
        "desc_index": [(n, getattr(img, n)) for n in DESC_NAMES],
        "flag_relu": img.FLAG_RELU,
        "flag_ternary": img.FLAG_TERNARY,
        "flag_streamed": img.FLAG_STREAMED,
        "stream_align_words": img.STREAM_ALIGN_WORDS,
        # C array initialisers: the literals, formatted here so the template computes nothing.
        "crc_state_masks": ", ".join(f"{m:#010x}u" for m in img.crc32_word_masks()[0]),
        "crc_data_masks": ", ".join(f"{m:#018x}ULL" for m in img.crc32_word_masks()[1]),
        "statuses": [(name, code) for code, name in sorted(abi.KERNEL_STATUS.items())],
        "mode_load": abi.MODE_LOAD,
        "mode_run": abi.MODE_RUN,
        "info_fields": abi.CSIM_INFO_FIELDS,
        # The PEs' memories the top declares and passes down (one array each, partitioned by PE).
        "pe_memories": ("entries", "ptr_even", "ptr_odd", "codebook", "bias", "acc", "acc_neg"),
        "counters": abi.CSIM_COUNTERS,
        # The bridge's extra arguments of the top: the image (as stream words) at every stream port.
        "port_args": "".join(", wide.data()" for _ in range(config.stream_lanes)),
        "image_depth": max(1, int(image_depth)),
        # The stream ports see the image as stream words (its whole ones: a section never ends in a half).
        "stream_depth": max(1, int(image_depth) // config.stream_word_words),
        "in_depth": max(1, int(in_depth)),
        "out_depth": max(1, int(out_depth)),
    }


def render_kernel(config: AcceleratorConfig, out_dir, bridge: bool = False, **depths) -> list[Path]:
    """Write the kernel sources (and the ctypes bridge if asked) into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = _env()
    ctx = kernel_context(config, **depths)
    written = []
    templates = dict(KERNEL_TEMPLATES)
    if bridge:
        templates["eie_bridge.cpp.j2"] = "eie_bridge.cpp"
    for tpl, name in templates.items():
        path = out / name
        atomic_write(path, env.get_template(tpl).render(**ctx))
        written.append(path)
    for name in STATIC_SOURCES:
        atomic_write(out / name, (hls_dir() / name).read_bytes())
        written.append(out / name)
    return written


@dataclass
class RenderResult:
    out_dir: Path
    sources: list[Path]
    testbench: list[Path]
    params_tcl: Path
    vectors: int
    in_len: int
    out_len: int
    image_words: int
    files: list[Path] = field(default_factory=list)


def _tcl_list(items) -> str:
    return "{" + " ".join(str(i) for i in items) + "}"


def params_tcl(config: AcceleratorConfig, sources=(), headers=(), testbench=()) -> str:
    """The text of ``params.tcl``: what build.tcl and overlays/build_overlay.tcl read.

    The board facts (part, family, Vivado board part) come from
    eie.hardware.boards through ``config.board_spec``; the overlay script has
    no table of its own. ``EIE_BOARD_PART`` is empty for a custom part.
    ``EIE_STREAM_PORTS``: the kernel's stream ports (m_axi_gmem_s0 ..), 0 without streaming.
    """
    b = config.board_spec
    return (
        "# Rendered by eie.kernel.render: parameters for build.tcl and overlays/build_overlay.tcl.\n"
        f"set EIE_BOARD {config.board}\n"
        f"set EIE_PART {config.fpga_part}\n"
        f"set EIE_FAMILY {b.family}\n"
        f"set EIE_BOARD_PART {{{b.board_part or ''}}}\n"
        f"set EIE_CLOCK_PERIOD {config.clock_period_ns:.3f}\n"
        f"set EIE_TOP {config.top}\n"
        "set EIE_PROJECT eie_prj\n"
        "set EIE_SOLUTION solution1\n"
        f"set EIE_SOURCES {_tcl_list(sources)}\n"
        f"set EIE_HEADERS {_tcl_list(headers)}\n"
        f"set EIE_TB_FILES {_tcl_list(testbench)}\n"
        "set EIE_CFLAGS {-std=c++14}\n"
        f"set EIE_IP_VENDOR {abi.VENDOR}\n"
        f"set EIE_IP_LIBRARY {abi.LIBRARY}\n"
        f"set EIE_IP_VERSION {abi.IP_VERSION}\n"
        f"set EIE_STREAM_PORTS {config.stream_lanes}\n"
    )


def render(config: AcceleratorConfig, out_dir, qm: QuantModel, x_int: np.ndarray) -> RenderResult:
    """Sources, testbench, test vectors and params.tcl for ``build.tcl``.

    ``qm`` must fit ``config``; ``x_int`` are its integer test inputs (one
    vector per row). Expected outputs come from the emulator (physical row
    order, as the kernel writes them). ``eie.hardware.testmodel`` makes a
    random model and inputs where the user has none.
    """
    from eie.arithmetic.emulator import Emulator
    from eie.hardware.resources import check_model_fits

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_model_fits(config, qm)
    x_int = np.atleast_2d(np.asarray(x_int, dtype=np.int64))
    vectors = x_int.shape[0]
    image = qm.to_image()
    y = Emulator(qm).run_layers(x_int)
    atomic_write(out / "image.bin", img.image_bytes(image))
    atomic_write(out / "input.bin", np.ascontiguousarray(x_int, dtype="<i8").tobytes())
    atomic_write(out / "expected.bin", np.ascontiguousarray(y, dtype="<i8").tobytes())
    sources = render_kernel(config, out, image_depth=image.size, in_depth=x_int.size, out_depth=y.size)
    tb = out / "eie_tb.cpp"
    atomic_write(
        tb,
        _env()
        .get_template("eie_tb.cpp.j2")
        .render(
            top=config.top,
            lanes=config.stream_lanes,
            stream_bits=config.stream_bits,
            vectors=vectors,
            in_len=qm.in_features,
            out_len=qm.out_features,
            first=0,
            last=len(qm.layers) - 1,
        ),
    )
    testbench = [tb, out / "image.bin", out / "input.bin", out / "expected.bin"]
    params = out / "params.tcl"
    atomic_write(
        params,
        params_tcl(
            config,
            sources=[p.name for p in sources if p.suffix == ".cpp"],
            headers=[p.name for p in sources if p.suffix != ".cpp"],
            testbench=[p.name for p in testbench],
        ),
    )
    config.to_yaml(out / "config.yaml")
    return RenderResult(
        out,
        sources,
        testbench,
        params,
        vectors,
        qm.in_features,
        qm.out_features,
        int(image.size),
        files=sources + testbench + [params, out / "config.yaml"],
    )
