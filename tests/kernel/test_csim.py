"""C-simulation of the rendered HLS kernel against the integer emulator, bit for bit.

Each configuration is compiled once per C-simulation mode (module-scoped
fixture, cached by hash): the sequential one, and the concurrent one with
bounded FIFOs and schedule jitter (eie.kernel.csim).
Models are random QuantModels built directly from eie.format.csc.encode, with empty
rows and columns, long zero runs (padding entries), saturating outputs and
ternary layers; every result is also checked against a dense numpy
reference written here from docs/arithmetic.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from kernel_configs import CSIM_CONFIGS, MODES, kernel_config, make_sim

from eie.arithmetic.emulator import Emulator
from eie.errors import CapacityError, ImageError, ToolchainError
from eie.format import image as img
from eie.format.csc import encode
from eie.format.qmodel import QuantLayer, QuantModel
from eie.hardware.config import AcceleratorConfig

csim = pytest.importorskip("eie.kernel.csim")

try:
    csim.compiler()
    csim.ap_types_dir()
except ToolchainError as e:  # pragma: no cover - depends on the machine
    pytest.skip(str(e), allow_module_level=True)


CONFIGS = CSIM_CONFIGS


def make_config(name: str) -> AcceleratorConfig:
    return kernel_config(**CONFIGS[name])


@pytest.fixture(scope="module", params=[(c, m) for m in MODES for c in sorted(CONFIGS)], ids="-".join)
def sim(request):
    name, mode = request.param
    cfg = make_config(name)
    return cfg, make_sim(cfg, mode)


def random_layer(
    rng,
    m,
    k,
    cfg: AcceleratorConfig,
    relu: bool,
    ternary: bool,
    density: float,
    fa_in: int,
    name: str,
    max_shift: int = 20,
) -> QuantLayer:
    mask = rng.random((m, k)) < density
    mask[rng.integers(0, m)] = False  # an empty row
    mask[:, rng.integers(0, k)] = False  # an empty column
    if m > 12:
        mask[2 : m - 1, rng.integers(0, k)] = False  # a long zero run: padding entries for small index_bits
    rows, cols = np.nonzero(mask)
    nb = 1 << cfg.weight_bits
    if ternary:
        codes = rng.integers(1, 3, size=rows.size)
    else:
        codes = rng.integers(1, nb, size=rows.size)
    enc = encode(rows, cols, codes, (m, k), cfg.n_pes, cfg.index_bits, cfg.weight_bits)
    cb = np.zeros(nb, dtype=np.int64)
    cb_lim = 1 << (cfg.cb_bits - 1)
    if ternary:
        cb[1] = rng.integers(1, cb_lim)
        cb[2] = -rng.integers(1, cb_lim)
    else:
        cb[1:] = rng.integers(-cb_lim, cb_lim, size=nb - 1)
        cb[-1] = cb_lim - 1  # extreme codebook values
        if nb > 2:
            cb[1] = -cb_lim
    # Most biases small, some near the accumulator's range (saturating outputs).
    acc_lim = 1 << min(cfg.acc_bits - 2, 40)
    bias = rng.integers(-256, 256, size=m) + rng.integers(-acc_lim, acc_lim, size=m) * (rng.random(m) < 0.3)
    fw = int(rng.integers(0, 8))
    shift = int(rng.integers(0, min(cfg.acc_bits - 1, max_shift, fa_in + fw) + 1))
    fa_out = fa_in + fw - shift
    return QuantLayer(name, enc, cb, bias, rng.permutation(m), fa_in, fw, fa_out, relu, ternary)


def random_model(cfg: AcceleratorConfig, seed: int, widths=(40, 33, 21, 9)) -> QuantModel:
    rng = np.random.default_rng(seed)
    layers = []
    fa = 20
    n = len(widths) - 1
    for i in range(n):
        k, m = widths[i], widths[i + 1]
        # Ternary layers run on the ternary path in ternary kernels and on the general path otherwise.
        tern = i % 2 == 1 and cfg.weight_bits >= 2 and (cfg.ternary or seed % 2 == 1)
        ql = random_layer(
            rng,
            m,
            k,
            cfg,
            relu=i % 2 == 0,
            ternary=tern,
            density=[0.3, 0.05, 0.6][i % 3],
            fa_in=fa,
            name=f"fc{i}",
            max_shift=3 if i == n - 1 else 20,
        )
        layers.append(ql)
        fa = ql.fa_out
    return QuantModel(cfg.to_hwparams(), layers)


def random_inputs(cfg: AcceleratorConfig, k: int, rng, b: int = 5) -> np.ndarray:
    lim = 1 << (cfg.act_bits - 1)
    x = rng.integers(-lim, lim, size=(b, k))
    x[rng.random(x.shape) < 0.5] = 0
    x[0] = 0  # all-zero input
    x[1] = lim - 1  # saturating input
    x[2, ::2] = -lim
    return x.astype(np.int64)


def wrap(x, bits):
    """Python-int two's-complement wrap (independent of eie.arithmetic.emulator)."""
    m = 1 << bits
    return ((x + (m >> 1)) % m) - (m >> 1)


def dense_reference(qm: QuantModel, x: np.ndarray, first: int = 0, last: int | None = None) -> np.ndarray:
    """docs/arithmetic.md with Python integers on the decoded dense matrices (physical order)."""
    p = qm.params
    last = len(qm.layers) - 1 if last is None else last
    h = [[int(v) for v in row] for row in x]
    for ql in qm.layers[first : last + 1]:
        codes = ql.encoded.decode()
        w = ql.codebook[codes.astype(np.int64)].astype(object)
        out = []
        for vec in h:
            acc = w.dot(np.array(vec, dtype=object)) if w.size else np.zeros(ql.shape[0], dtype=object)
            ys = []
            for i, a in enumerate(acc):
                t = wrap(wrap(int(a), p.acc_bits) + int(ql.bias[i]), p.acc_bits)
                if ql.shift > 0:
                    t = wrap(t + (1 << (ql.shift - 1)), p.acc_bits)
                y = t >> ql.shift
                if ql.relu:
                    y = max(y, 0)
                ys.append(min(max(y, -(1 << (p.act_bits - 1))), (1 << (p.act_bits - 1)) - 1))
            out.append(ys)
        h = out
    return np.array(h, dtype=np.int64)


def fix_checksum(words: np.ndarray) -> np.ndarray:
    words[img.H_CHECKSUM] = img.checksum(words)
    return words


def test_bit_exact_against_emulator(sim):
    cfg, s = sim
    for seed in range(2):
        qm = random_model(cfg, seed)
        s.load(qm.to_image())
        x = random_inputs(cfg, qm.in_features, np.random.default_rng(100 + seed))
        got = s.run(x)
        want = Emulator(qm).run_layers(x)
        assert got.shape == want.shape == (x.shape[0], qm.out_features)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got, dense_reference(qm, x))
        # The all-zero input gives the requantised biases of the last layer chain; it must not be all zero
        # across the suite to mean anything, but saturated rows must appear somewhere.
    lim = (1 << (cfg.act_bits - 1)) - 1
    assert np.any(np.abs(got) >= lim) or np.any(got == -lim - 1), "no saturating output exercised"


def test_layer_ranges_and_memories_persist(sim):
    """run() after one load, on sub-ranges of layers; the on-chip memories keep the model."""
    cfg, s = sim
    qm = random_model(cfg, 7)
    s.load(qm.to_image())
    rng = np.random.default_rng(3)
    emu = Emulator(qm)
    for first, last in ((0, 0), (1, 2), (2, 2), (0, 2)):
        x = random_inputs(cfg, qm.layers[first].shape[1], rng, b=3)
        np.testing.assert_array_equal(s.run(x, first, last), emu.run_layers(x, first, last))


def test_padding_and_empty_columns_small_case():
    """Hand-worked: the csc-format.md example column [0,0,1,2, 18 zeros, 3] with r=2 (padding entries) on N=1."""
    cfg = make_config("n1_w1_i2_narrow")
    s = csim.CSim(cfg)
    m = 23
    dense = np.zeros((m, 2), dtype=np.int64)
    dense[[2, 3, 22], 0] = 1  # column 1 is empty
    rows, cols = np.nonzero(dense)
    enc = encode(rows, cols, np.ones(rows.size, int), (m, 2), 1, 2, 1)
    assert enc.total_entries == 3 + 18 // 4  # one padding entry per 4 zeros of the gap
    cb = np.array([0, 3], dtype=np.int64)
    ql = QuantLayer("l", enc, cb, np.zeros(m, np.int64), np.arange(m), 0, 0, 0, relu=False)
    qm = QuantModel(cfg.to_hwparams(), [ql])
    s.load(qm.to_image())
    y = s.run(np.array([[5, 7]]))
    want = np.zeros((1, m), dtype=np.int64)
    want[0, [2, 3, 22]] = 15  # 3 * 5
    np.testing.assert_array_equal(y, want)
    # 127 * 3 = 381 saturates to the 8-bit maximum.
    np.testing.assert_array_equal(s.run(np.array([[127, 0]]))[0, [2, 3, 22]], [127, 127, 127])


@pytest.mark.parametrize("name", ["n3_w4_i4", "n2_w2_i3_ternary"])
def test_same_row_revisited_one_two_and_three_columns_apart(name):
    """The accumulator bypass: single-entry columns (per PE) that hit the same local row 1, 2 and 3
    columns apart, so a read follows a write to its row at pipeline distance 1, 2 (forwarding
    registers) and 3 (the memory, DEPENDENCE distance=3). Ternary kernels also revisit a row with
    code 1 then code 2 (acc and acc_neg forwarded together)."""
    cfg = make_config(name)
    s = csim.CSim(cfg)
    n = cfg.n_pes
    # Local row hit by column j in every PE: distances 1 (j=0->1), 2 (1->3), 3 (3->6), 2 (6->8), 1 (8->9), 3 (9->12).
    local = np.array([1, 1, 0, 1, 2, 3, 1, 2, 1, 1, 3, 0, 1, 1])
    k, m = local.size, 4 * n
    rows = (local[:, None] * n + np.arange(n)[None, :]).ravel()
    cols = np.repeat(np.arange(k), n)
    rng = np.random.default_rng(9)
    tern = cfg.ternary
    codes = (np.arange(rows.size) % 2 + 1) if tern else rng.integers(1, 1 << cfg.weight_bits, size=rows.size)
    enc = encode(rows, cols, codes, (m, k), n, cfg.index_bits, cfg.weight_bits)
    assert enc.total_entries == rows.size  # no padding: exactly one entry per column per PE
    cb = np.zeros(1 << cfg.weight_bits, dtype=np.int64)
    cb[1:] = np.arange(1, cb.size) * 3 - 7 if not tern else 0
    if tern:
        cb[1], cb[2] = 5, -3
    ql = QuantLayer("fwd", enc, cb, np.arange(m) - m // 2, np.arange(m), 0, 0, 0, relu=False, ternary=tern)
    qm = QuantModel(cfg.to_hwparams(), [ql])
    s.load(qm.to_image())
    x = rng.integers(1, 100, size=(3, k)) * rng.choice([-1, 1], size=(3, k))
    x[2, [2, 7]] = 0  # zeros shift the distances: row 1 at 0, 1, 3, 6, 8 ... with columns 2 and 7 skipped
    got = s.run(x)
    np.testing.assert_array_equal(got, Emulator(qm).run_layers(x))
    np.testing.assert_array_equal(got, dense_reference(qm, x))
    # Each broadcast column is one iteration in every PE, so column distance = pipeline distance.
    np.testing.assert_array_equal(s.counters()["pe"][0], 3 * (2 + k) - 2)
    # Hand check of local row 1 of PE 0 on the first (all non-zero) vector.
    j1 = np.flatnonzero(local == 1)
    w1 = cb[codes.reshape(k, n)[j1, 0]]
    if tern:
        w1 = np.where(codes.reshape(k, n)[j1, 0] == 1, 5, -3)
    assert got[0, n] == int(w1 @ x[0, j1]) + (n - m // 2)


# -- bad images: the statuses come from the kernel itself ----------------------------------------


@pytest.fixture(scope="module")
def n3():
    cfg = make_config("n3_w4_i4")
    return cfg, csim.CSim(cfg), random_model(cfg, 11)


def test_status_bad_magic(n3):
    cfg, s, qm = n3
    words = qm.to_image()
    words[img.H_MAGIC] ^= np.uint64(1)
    assert csim.KERNEL_STATUS[s.load_status(words)] == "bad_magic"
    with pytest.raises(ImageError, match="bad_magic") as e:
        s.load(words)
    assert e.value.code == "bad_magic"


def test_status_bad_version(n3):
    cfg, s, qm = n3
    words = qm.to_image()
    words[img.H_VERSION] = np.uint64(img.VERSION + 1)
    fix_checksum(words)
    assert csim.KERNEL_STATUS[s.load_status(words)] == "bad_version"
    with pytest.raises(ImageError, match="version"):
        s.load(words)


def test_status_params_mismatch(n3):
    cfg, s, _ = n3
    other = make_config("n3_w4_i4").replace(n_pes=2)
    qm2 = random_model(other, 1)
    assert csim.KERNEL_STATUS[s.load_status(qm2.to_image())] == "params_mismatch"
    wider = make_config("n3_w4_i4").replace(acc_bits=40)
    with pytest.raises(ImageError, match="other accelerator parameters") as e:
        s.load(random_model(wider, 1).to_image())
    assert e.value.code == "params_mismatch"


def test_status_capacity_entries_and_layers(n3):
    cfg, s, _ = n3
    # A dense 140 x 140 layer: 19600 entries, 8 per word over 3 PEs -> 817 words per PE > entry_depth 512.
    rng = np.random.default_rng(5)
    ql = random_layer(rng, 140, 140, cfg, relu=False, ternary=False, density=1.0, fa_in=8, name="big")
    big = QuantModel(cfg.to_hwparams(), [ql])
    words = -(-ql.encoded.n_entries // cfg.entries_per_word)
    assert words.max() > cfg.entry_depth
    assert csim.KERNEL_STATUS[s.load_status(big.to_image())] == "capacity"
    with pytest.raises(CapacityError, match=f"entry memory of PE {int(np.argmax(words))} needs {int(words.max())}"):
        s.load(big.to_image())
    # Five layers on a kernel built for max_layers=4.
    five = random_model(cfg, 6, widths=(9, 8, 7, 6, 5, 4))
    assert csim.KERNEL_STATUS[s.load_status(five.to_image())] == "capacity"
    with pytest.raises(CapacityError, match="max_layers is 4"):
        s.load(five.to_image())


def test_status_bad_image_checksum_and_pointers(n3):
    cfg, s, qm = n3
    words = qm.to_image()
    words[-1] ^= np.uint64(1 << 7)  # a flipped entry bit: only the checksum can tell
    assert csim.KERNEL_STATUS[s.load_status(words)] == "bad_image"
    words = qm.to_image()
    d = img.HEADER_WORDS
    ptr_off = int(words[d + img.D_PTR])
    words[ptr_off] = np.uint64(5)  # PE 0, ptr[0] = 5 != 0 (checksum made consistent)
    fix_checksum(words)
    assert csim.KERNEL_STATUS[s.load_status(words)] == "bad_image"
    with pytest.raises(ImageError) as e:
        s.load(words)
    assert e.value.code == "bad_image"


def test_status_layer_range_and_not_loaded(n3):
    cfg, s, qm = n3
    words = qm.to_image()
    words[img.H_MAGIC] = np.uint64(0)
    assert s.load_status(words) != 0
    with pytest.raises(csim.KernelStatusError, match="not_loaded"):
        s.run(np.zeros((1, qm.in_features), np.int64))
    s.load(qm.to_image())
    x = np.zeros((1, qm.in_features), np.int64)
    for first, last in ((0, 3), (2, 1), (-1, 0)):
        with pytest.raises(csim.KernelStatusError, match="layer_range") as e:
            s.run(x, first, last)
        assert e.value.status == "layer_range"


def test_missing_headers_is_a_toolchain_error(monkeypatch, tmp_path):
    monkeypatch.setenv("EIE_AP_TYPES", str(tmp_path))
    with pytest.raises(ToolchainError, match="ap_int.h"):
        csim.ap_types_dir()
    monkeypatch.delenv("EIE_AP_TYPES")
    monkeypatch.setenv("CXX", "no-such-compiler-xyz")
    with pytest.raises(ToolchainError, match="install g\\+\\+"):
        csim.compiler()


# -- the CLI: eie verify / eie generate on a compressed model ------------------------------------


def small_compressed_model(path):
    from eie.compression.model import CompressedLayer, CompressedModel

    rng = np.random.default_rng(0)
    layers = []
    for i, (m, k) in enumerate(((30, 50), (10, 30))):
        cols, rows = np.nonzero((rng.random((m, k)) < 0.3).T)
        if i == 1:  # a TTQ layer
            codes, cb, wb, kind = rng.integers(1, 3, size=rows.size), [0, 0.5, -0.4, 0.0], 2, "ternary"
        else:
            codes, cb, wb, kind = rng.integers(1, 16, size=rows.size), np.r_[0, np.linspace(-1, 1, 15)], 4, "shared"
        layers.append(
            CompressedLayer(
                f"fc{i}",
                (m, k),
                rows,
                cols,
                codes,
                np.asarray(cb),
                rng.normal(size=m) * 0.1,
                "relu" if i == 0 else "none",
                wb,
                kind,
            )
        )
    CompressedModel(layers).save(path)


def test_cli_verify_csim_bit_exact_and_capacity(tmp_path, capsys):
    import json

    from eie.cli import main

    model = tmp_path / "m.npz"
    small_compressed_model(model)
    assert main(["verify", str(model), "--backend", "csim", "--vectors", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "csim" and report["vectors"] == 4 and report["outputs"] == 40
    assert report["mismatches"] == 0 and report["bit_exact"] is True and report["config"]["ternary"] is True
    cfg = tmp_path / "small.yaml"
    make_config("n3_w4_i4").replace(entry_depth=8, storage="onchip").to_yaml(cfg)
    assert main(["verify", str(model), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "does not fit the accelerator" in err and "entry memory of PE" in err


def test_cli_verify_concurrent_backend(tmp_path, capsys, monkeypatch):
    """`eie verify --backend csim-concurrent --json` on a real model: bit-exact, exit 0; a kernel that
    deadlocks (a copy of hls/ whose broadcaster never ends a layer) is an error naming it, exit 1."""
    import json
    import shutil

    from eie.cli import main
    from eie.kernel.render import hls_dir

    model = tmp_path / "m.npz"
    small_compressed_model(model)
    cfg = tmp_path / "n3.yaml"
    make_config("n3_w4_i4").to_yaml(cfg)
    args = ["verify", str(model), "--config", str(cfg), "--backend", "csim-concurrent", "--vectors", "4", "--json"]
    assert main(args + ["--jitter", "2", "--slow", "pe1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "csim-concurrent" and report["bit_exact"] is True and report["mismatches"] == 0
    assert report["dataflow_error"] is None and report["schedule"] == {"jitter": 2, "seed": 0, "slow": "pe1"}
    assert main(args[:-1] + ["--slow", "pe9"]) == 2
    assert "--slow pe9: no such process" in capsys.readouterr().err
    assert main(["verify", str(model), "--config", str(cfg), "--jitter", "2"]) == 2
    assert "add --backend csim-concurrent" in capsys.readouterr().err

    hls = tmp_path / "hls"
    shutil.copytree(hls_dir(), hls)
    bc = hls / "eie_broadcast.hpp"
    text = bc.read_text()
    assert text.count("if (!to_reader) fifo[p].write(end);") == 1
    bc.write_text(text.replace("if (!to_reader) fifo[p].write(end);", "if (false) fifo[p].write(end);"))
    monkeypatch.setenv("EIE_HLS_DIR", str(hls))
    # The PEs poll an empty FIFO for ever: the deadlock timeout (10 s by default) names them.
    assert main(args) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["bit_exact"] is False
    assert "deadlock in DATAFLOW region layer_pass: no stream moved" in report["dataflow_error"]
    assert "pe0: polling fifo[0]" in report["dataflow_error"]
