"""The rendered kernel sources take every value from the configuration: no
arithmetic in the templates, literals in the parameters header."""

from __future__ import annotations

import re

import pytest

import eie.hardware.resources as res
from eie.format.image import crc32_word_masks
from eie.hardware.config import AcceleratorConfig
from eie.kernel import abi
from eie.kernel.render import hls_dir, kernel_context, render_kernel

CONFIGS = [
    AcceleratorConfig(),
    AcceleratorConfig(board="zcu104", n_pes=4, ternary=True, lnzd_window=16, act_depth=10),
    AcceleratorConfig(n_pes=6, weight_bits=2, index_bits=3, lnzd_window=3, fifo_depth=1),
]
LITERAL = re.compile(r"^(-?\d+(ULL)?|0x[0-9a-f]+(u|ULL)|true|false)$")
CONST = re.compile(
    r"^const\s+(?:unsigned\s+long\s+long|unsigned|int|bool)\s+([A-Z_][A-Z0-9_]*)(?:\[\d+\])?\s*=\s*(.*?);"
)
DEFINE = re.compile(r"^#define\s+(EIE_[A-Z0-9_]+)\s+(.*)$")


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "ternary_wide_window", "narrow_window"])
def test_params_header_defines_literals_only(tmp_path, config):
    render_kernel(config, tmp_path)
    lines = [line.split("//")[0].strip() for line in (tmp_path / "eie_params.h").read_text().splitlines()]
    consts = {m[1]: m[2] for line in lines if (m := CONST.match(line))}
    defines = {m[1]: m[2].strip() for line in lines if (m := DEFINE.match(line)) and m[1] != "EIE_PARAMS_H"}
    # Every constant definition was parsed (none hides behind another form).
    assert len(consts) == sum(line.startswith("const ") for line in lines) > 40
    for name, value in {**consts, **defines}.items():
        items = value.strip("{} ").split(", ") if value.startswith("{") else [value]
        assert all(LITERAL.match(v) for v in items), f"{name} = {value!r} is not a literal"
    # The CRC-32 masks are the image format's, bit for bit.
    state_masks, data_masks = crc32_word_masks()
    assert [int(v.rstrip("uUL"), 16) for v in consts["CRC_STATE_MASK"].strip("{} ").split(", ")] == list(state_masks)
    assert [int(v.rstrip("uUL"), 16) for v in consts["CRC_DATA_MASK"].strip("{} ").split(", ")] == list(data_masks)
    # The derived values are the configuration's properties.
    for name in (
        "ENTRY_BITS",
        "ENTRIES_PER_WORD",
        "CB_SIZE",
        "PTR_BANK_DEPTH",
        "PTR_ODD_DEPTH",
        "ACT_BUF_DEPTH",
        "ACT_LANE_DEPTH",
        "LNZD_WINDOW",
        "SLOT_BITS",
        "PTR_BITS",
        "COL_BITS",
        "PIDX_BITS",
    ):
        assert int(consts[name]) == getattr(config, name.lower()), name
    assert int(consts["ACT_LANES"]) == config.lnzd_words
    assert int(consts["ACT_LANES"]) * int(consts["ACT_LANE_DEPTH"]) == config.act_buf_depth
    for name in ("BROADCAST_TRIPS_MAX", "PE_TRIPS_MAX", "PTR_WORDS_MAX", "MAX_COLS"):
        assert int(defines["EIE_" + name]) == getattr(config, name.lower()), name
    # The C-simulation bridge reports exactly these constants.
    for field in abi.CSIM_INFO_FIELDS:
        assert field.upper() in consts, field


def test_templates_compute_nothing():
    """Template expressions are names, attributes, filters and conditionals: no arithmetic."""
    for tpl in sorted(hls_dir().glob("*.j2")):
        for expr in re.findall(r"\{\{(.*?)\}\}|\{%(.*?)%\}", tpl.read_text()):
            text = "".join(expr)
            assert not re.search(r"[-+*/%]", text), f"{tpl.name}: arithmetic in {{{{{text}}}}}"


def test_context_has_no_derived_values():
    """The context carries the configuration itself, not values computed from it."""
    ctx = kernel_context(CONFIGS[0])
    assert ctx["cfg"] is CONFIGS[0]
    assert not {"slot_bits", "ptr_bits", "act_buf_depth", "n_pes", "lnzd_window"} & set(ctx)


ACT_PARAM = re.compile(r"act_t\s+(\w+)((?:\[\w+\])+)")


@pytest.mark.parametrize("config", CONFIGS[1:2], ids=["ternary_wide_window"])
def test_activation_buffers_partitioned_alike_everywhere(tmp_path, config):
    """Issue 13 item 1: every declaration and every function parameter of an activation buffer
    ([N][lanes][words] or a PE's [lanes][words]) partitions its bank and lane dimensions
    completely, so the broadcaster's window reads and the PE's writes use constant indices into
    separate memories in every function, not only where the buffer is declared."""
    render_kernel(config, tmp_path)
    assert config.lnzd_words > 1
    seen = 0
    for path in sorted(tmp_path.glob("*.[ch]*")):
        text = "\n".join(line.split("//")[0] for line in path.read_text().splitlines())
        for m in ACT_PARAM.finditer(text):
            name, dims = m[1], m[2]
            if "ACT_LANE_DEPTH" not in dims:
                continue
            seen += 1
            # A parameter: the partitions are in its function's body. A static
            # buffer: in the function that uses it (anywhere in the file).
            is_declaration = text[m.end() :].lstrip().startswith(";")
            body = text if is_declaration else text[m.end() : text.find("\n}", m.end())]
            want = [1, 2] if dims.count("[") == 3 else [1]
            for d in want:
                assert f"ARRAY_PARTITION variable={name} complete dim={d}" in body, (path.name, name, d)
    assert seen >= 6  # act_a, act_b, layer_pass src/dst, broadcast src, PE dst


@pytest.mark.parametrize("board", ["zcu104", "pynq-z2"])
def test_storage_bound_where_the_memories_are_declared(tmp_path, board):
    """Issue 13 item 4: Vitis HLS takes BIND_STORAGE in the body of the function that defines the
    variable. The PEs' memories are static locals of the top function, bound there: entries to
    URAM on boards that have it, the accumulators to simple dual-port BRAM. No other source binds
    storage (the old pragmas in PE member functions named static class members)."""
    config = AcceleratorConfig(board=board, n_pes=4, ternary=True)
    render_kernel(config, tmp_path)
    for path in tmp_path.iterdir():
        if path.name != "eie_top.cpp":
            assert "#pragma HLS BIND_STORAGE" not in path.read_text(), path.name
    text = (tmp_path / "eie_top.cpp").read_text()
    top = text[text.index(f"int {config.top}(") :]
    binds = re.findall(r"#pragma HLS BIND_STORAGE variable=(\w+) type=(\w+) impl=(\w+)", top)
    for var, _, _ in binds:
        decl = re.search(rf"static [\w:<>]+ {var}\[", top)
        assert decl and decl.start() < top.index(f"variable={var} "), var
    expect = {("acc", "ram_s2p", "bram"), ("acc_neg", "ram_s2p", "bram")}
    if config.uses_uram:
        expect.add(("entries", "ram_2p", "uram"))
    # Codebooks of a few Kbit per PE in LUTRAM, as the resource estimate counts them.
    assert config.codebook_lutram and res.estimate(config).per_pe["codebooks"][2] == 0
    expect.add(("codebook", "ram_s2p", "lutram"))
    assert set(binds) == expect
    big = config.replace(max_layers=64, weight_bits=8)  # 64 x 256 x 16 bits: BRAM, no binding
    assert not big.codebook_lutram and res.estimate(big).per_pe["codebooks"][2] > 0
    render_kernel(big, tmp_path)
    assert "BIND_STORAGE variable=codebook" not in (tmp_path / "eie_top.cpp").read_text()
    assert config.uses_uram == (board == "zcu104")


def test_n64_render_raises_ap_int_max_w_and_compiles(tmp_path):
    """Issue 19: at N = 64 the occupancy word (N x W = 4096 bits) and the count header (N x 32) pass
    ap_int's default 1024 bits, so eie_params.h defines AP_INT_MAX_W before ap_int.h; the kernel's
    static_asserts fail a build without it (the C-simulation headers do not check widths)."""
    import subprocess

    from eie.kernel import csim

    small = dict(entry_depth=64, ptr_depth=256, act_depth=16, bias_depth=16, max_layers=2)
    cfg = AcceleratorConfig(board="zcu104", n_pes=64, dir_depth=1024, **small)
    assert cfg.ap_int_max_w == 4096 and cfg.streaming
    assert AcceleratorConfig(board="zcu104", n_pes=8, **small).ap_int_max_w == 1024
    render_kernel(cfg, tmp_path, bridge=True)
    params = (tmp_path / "eie_params.h").read_text()
    assert params.index("#define AP_INT_MAX_W 4096") < params.index("#include <ap_int.h>")

    def compiles() -> subprocess.CompletedProcess:
        cmd = [csim.compiler(), "-std=c++14", "-fsyntax-only", f"-I{csim.ap_types_dir()}", "eie_bridge.cpp"]
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    done = compiles()
    assert done.returncode == 0, done.stderr[-2000:]
    # The control: the same sources without the define do not compile.
    (tmp_path / "eie_params.h").write_text(params.replace("#define AP_INT_MAX_W 4096\n", ""))
    done = compiles()
    assert done.returncode != 0 and "wider than AP_INT_MAX_W" in done.stderr
