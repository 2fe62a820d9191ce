"""Render the HLS kernel, its testbench and test vectors for one configuration.

The templates in ``hls/`` are C++ with small holes (the parameters header,
the N PE instances in the top, the testbench sizes); the building blocks
``hls/*.hpp`` are copied verbatim. ``render`` writes a self-contained build
directory that ``build.tcl`` (Vitis HLS) and ``eie.hardware.csim`` (g++) both use.
jinja2 is imported here only, never by the board-side modules.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eie.errors import ConfigError
from eie.format import image as img
from eie.format.qmodel import QuantModel
from eie.hardware import abi
from eie.hardware.config import AcceleratorConfig

STATIC_SOURCES = ("eie_common.hpp", "eie_pe.hpp", "eie_broadcast.hpp", "eie_load.hpp")
KERNEL_TEMPLATES = {"eie_params.h.j2": "eie_params.h", "eie_top.h.j2": "eie_top.h", "eie_top.cpp.j2": "eie_top.cpp"}


def hls_dir() -> Path:
    """The template directory: $EIE_HLS_DIR, or hls/ at the repository root."""
    env = os.environ.get("EIE_HLS_DIR")
    d = Path(env) if env else Path(__file__).resolve().parents[3] / "hls"
    if not (d / "eie_top.cpp.j2").is_file():
        raise ConfigError(f"HLS templates not found in {d}; set EIE_HLS_DIR to the project's hls/ directory")
    return d


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
    """Template variables for the kernel (the m_axi depths only matter to cosim)."""
    c = config
    per = c.entries_per_word
    header_names = (
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
    desc_names = (
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
    )
    return {
        "board": c.board,
        "part": c.fpga_part,
        "clock_mhz": c.clock,
        "top": c.top,
        "n_pes": c.n_pes,
        "weight_bits": c.weight_bits,
        "index_bits": c.index_bits,
        "act_bits": c.act_bits,
        "cb_bits": c.cb_bits,
        "acc_bits": c.acc_bits,
        "fifo_depth": c.fifo_depth,
        "scan_window": c.scan_window,
        "entry_depth": c.entry_depth,
        "ptr_depth": c.ptr_depth,
        "act_depth": c.act_depth,
        "bias_depth": c.bias_depth,
        "max_layers": c.max_layers,
        "ternary": c.ternary,
        "uram": c.uses_uram,
        # Entry pointers are (word, slot) pairs: words reach entry_depth, slots E - 1.
        "slot_bits": max(1, (per - 1).bit_length()),
        "ptr_bits": c.entry_depth.bit_length() + max(1, (per - 1).bit_length()),
        "col_bits": max(1, (c.n_pes * c.act_depth).bit_length()),
        "pidx_bits": max(1, (c.ptr_depth - 1).bit_length()),
        # Whole windows of scan_window / N words per bank when the window is wider than N.
        "act_buf_depth": -(-c.act_depth // max(1, c.scan_window // c.n_pes)) * max(1, c.scan_window // c.n_pes),
        "magic": img.MAGIC,
        "version": img.VERSION,
        "header_words": img.HEADER_WORDS,
        "desc_words": img.DESC_WORDS,
        "header_index": [(n, getattr(img, n)) for n in header_names],
        "desc_index": [(n, getattr(img, n)) for n in desc_names],
        "flag_relu": img.FLAG_RELU,
        "flag_ternary": img.FLAG_TERNARY,
        "statuses": [(name, code) for code, name in sorted(abi.KERNEL_STATUS.items())],
        "mode_load": abi.MODE_LOAD,
        "mode_run": abi.MODE_RUN,
        "image_depth": max(1, int(image_depth)),
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
        path.write_text(env.get_template(tpl).render(**ctx))
        written.append(path)
    for name in STATIC_SOURCES:
        shutil.copyfile(hls_dir() / name, out / name)
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
    (out / "image.bin").write_bytes(img.image_bytes(image))
    (out / "input.bin").write_bytes(np.ascontiguousarray(x_int, dtype="<i8").tobytes())
    (out / "expected.bin").write_bytes(np.ascontiguousarray(y, dtype="<i8").tobytes())
    sources = render_kernel(config, out, image_depth=image.size, in_depth=x_int.size, out_depth=y.size)
    tb = out / "eie_tb.cpp"
    tb.write_text(
        _env()
        .get_template("eie_tb.cpp.j2")
        .render(
            top=config.top,
            vectors=vectors,
            in_len=qm.in_features,
            out_len=qm.out_features,
            first=0,
            last=len(qm.layers) - 1,
        )
    )
    testbench = [tb, out / "image.bin", out / "input.bin", out / "expected.bin"]
    params = out / "params.tcl"
    cpp = [p.name for p in sources if p.suffix == ".cpp"]
    headers = [p.name for p in sources if p.suffix != ".cpp"]
    params.write_text(
        "# Rendered by eie.hardware.render: parameters for build.tcl.\n"
        f"set EIE_PART {config.fpga_part}\n"
        f"set EIE_CLOCK_PERIOD {config.clock_period_ns:.3f}\n"
        f"set EIE_TOP {config.top}\n"
        "set EIE_PROJECT eie_prj\n"
        "set EIE_SOLUTION solution1\n"
        f"set EIE_SOURCES {_tcl_list(cpp)}\n"
        f"set EIE_HEADERS {_tcl_list(headers)}\n"
        f"set EIE_TB_FILES {_tcl_list(p.name for p in testbench)}\n"
        "set EIE_CFLAGS {-std=c++14}\n"
        f"set EIE_IP_VENDOR {abi.VENDOR}\n"
        f"set EIE_IP_LIBRARY {abi.LIBRARY}\n"
        f"set EIE_IP_VERSION {abi.IP_VERSION}\n"
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
