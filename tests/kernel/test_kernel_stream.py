"""Streamed layers in the C-simulated kernel (issue 12; docs/kernel.md, "Streamed layers").

A streamed layer's entries stay in the image in DDR, in the column-block
layout of docs/image-format.md, and the kernel's reader and dispatcher fetch
the blocks of the non-zero activations for every input vector. What is
checked here, against values computed independently of the kernel:

* outputs: C-sim = numpy emulator bit for bit, for on-chip, streamed and
  mixed models, general and ternary, with and without the occupancy mask;
* the PE loop of a streamed layer runs 1 + (the PE's entries in the active
  columns) iterations, what the timing model calls its busy time;
* the reader reads exactly the 64-bit words of the active columns' runs,
  what ``eie.format.stream.read_plan`` prices (no word twice, none of an
  inactive column);
* a block changed in DDR after the load (counts that no longer fill it) is
  reported as ``bad_image`` instead of hanging or reading past the section;
* the done-when case: a 4096 x 4096 layer at 9 % density on a PYNQ-Z2
  configuration of 8 PEs, through ``eie verify --backend csim``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from kernel_configs import MODES, STREAM_CONFIGS, STREAM_DEPTHS, kernel_config, make_sim

from eie.arithmetic.emulator import Emulator
from eie.errors import CapacityError, ToolchainError
from eie.format import image as fmt
from eie.format.csc import encode
from eie.format.qmodel import QuantLayer, QuantModel
from eie.format.stream import column_offsets
from eie.performance.timing import TimingParams, simulate_layer

csim = pytest.importorskip("eie.kernel.csim")

try:
    csim.compiler()
    csim.ap_types_dir()
except ToolchainError as e:  # pragma: no cover - depends on the machine
    pytest.skip(str(e), allow_module_level=True)

CONFIGS = STREAM_CONFIGS


def make_config(name: str):
    return kernel_config(**CONFIGS[name], **STREAM_DEPTHS)


@pytest.fixture(scope="module", params=[(c, m) for m in MODES for c in sorted(CONFIGS)], ids="-".join)
def sim(request):
    name, mode = request.param
    cfg = make_config(name)
    return cfg, make_sim(cfg, mode)


def random_layer(rng, m, k, cfg, ternary, relu, storage) -> QuantLayer:
    """Empty, sparse and dense columns, and long zero runs (padding entries)."""
    dens = rng.choice([0.0, 0.1, 0.4, 0.95], size=k)
    mask = rng.random((m, k)) < dens
    if m > 8:
        mask[1 : m - 1, rng.integers(0, k)] = False
    rows, cols = np.nonzero(mask)
    order = np.lexsort((rows, cols))
    rows, cols = rows[order], cols[order]
    nb = 1 << cfg.weight_bits
    codes = rng.integers(1, 3 if ternary else nb, size=rows.size)
    enc = encode(rows, cols, codes, (m, k), cfg.n_pes, cfg.index_bits, cfg.weight_bits)
    cb = np.zeros(nb, dtype=np.int64)
    cb[1:] = rng.integers(-20, 20, size=nb - 1)
    if ternary:
        cb[1], cb[2], cb[3:] = 9, -6, 0
    bias = rng.integers(-40, 40, size=m)
    perm = rng.permutation(m)
    return QuantLayer("l", enc, cb, bias, perm, 4, 3, 4, relu, ternary, storage=storage)


def random_model(cfg, seed, storage, widths=(37, 29, 41, 13)) -> QuantModel:
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(len(widths) - 1):
        tern = cfg.ternary and i == 1
        layers.append(
            random_layer(rng, widths[i + 1], widths[i], cfg, tern, relu=i + 2 < len(widths), storage=storage[i])
        )
    return QuantModel(cfg.to_hwparams(), layers)


def random_inputs(k, rng, act_bits) -> np.ndarray:
    lim = 1 << min(act_bits - 2, 6)
    x = rng.integers(-lim, lim, size=(6, k))
    x[x == 0] = 1
    x[0] = 0
    x[2][rng.random(k) < 0.9] = 0
    x[3][rng.random(k) < 0.5] = 0
    x[4][: k // 2] = 0
    x[5][k // 3 :] = 0
    return x.astype(np.int64)


MIXES = {
    "all_stream": ("stream", "stream", "stream"),
    "mixed": ("onchip", "stream", "onchip"),
    "mixed_ends": ("stream", "onchip", "stream"),
    "all_onchip": ("onchip", "onchip", "onchip"),
}


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_streamed_and_mixed_models_are_bit_exact(sim, mix):
    cfg, s = sim
    for seed in range(2):
        qm = random_model(cfg, seed, MIXES[mix])
        img = qm.to_image()
        flags = [int(img[fmt.HEADER_WORDS + l * fmt.DESC_WORDS + fmt.D_FLAGS]) for l in range(len(qm.layers))]
        assert [bool(f & fmt.FLAG_STREAMED) for f in flags] == [m == "stream" for m in MIXES[mix]]
        s.load(img)
        x = random_inputs(qm.in_features, np.random.default_rng(seed + 40), cfg.act_bits)
        np.testing.assert_array_equal(s.run(x), Emulator(qm).run_layers(x))
        # Any range of layers, starting or ending in a streamed one.
        h = Emulator(qm).run_layers(x, 0, 0)
        np.testing.assert_array_equal(s.run(h, 1, 2), Emulator(qm).run_layers(h, 1, 2))


def test_the_same_model_streamed_or_on_chip_gives_the_same_integers(sim):
    cfg, s = sim
    outs = []
    for mix in ("all_onchip", "all_stream", "mixed"):
        qm = random_model(cfg, 7, MIXES[mix])
        s.load(qm.to_image())
        x = random_inputs(qm.in_features, np.random.default_rng(3), cfg.act_bits)
        outs.append(s.run(x))
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def test_streamed_trips_and_words_read(sim):
    """PE trips = 1 + entries of the active columns; words read and requests = each lane's runs, as modelled."""
    cfg, s = sim
    if s.concurrent:
        pytest.skip("loop trip counts are the sequential C-simulation's (a concurrent PE also counts its waits)")
    qm = random_model(cfg, 11, MIXES["all_stream"])
    img = qm.to_image()
    s.load(img)
    img_count_bits = [img[fmt.HEADER_WORDS + l * fmt.DESC_WORDS + fmt.D_COUNT_BITS] for l in range(len(qm.layers))]
    emu = Emulator(qm)
    params = TimingParams.for_config(cfg)
    assert params.stream is not None
    for x in random_inputs(qm.in_features, np.random.default_rng(5), cfg.act_bits):
        s.run(x[None])
        c = s.counters()
        acts = x
        for l, ql in enumerate(qm.layers):
            enc = ql.encoded
            active = np.flatnonzero(acts)
            want = enc.column_entries()[:, active].sum(axis=1)
            np.testing.assert_array_equal(c["pe"][l], want + 1, err_msg=f"layer {l} PE trips")
            t = simulate_layer(enc, acts, params, storage="stream")
            np.testing.assert_array_equal(c["pe"][l], t.busy + 1)
            # Words read and requests, worked out per lane (lane q reads the
            # active columns j = q mod P in order): every stream word holding
            # a byte of an active block, once per run (a block starting in or
            # right after the previous one's words continues its run), cut at
            # multiples of the reader's chunk.
            lanes = s.lane_counters()
            off = column_offsets(enc)
            wb = cfg.stream_bits // 8
            chunk = cfg.stream_chunk_words
            hchunks = -(-enc.n_pes * int(np.asarray(img_count_bits[l])) // cfg.stream_bits)
            for q in range(cfg.ports):
                mine = active[active % cfg.ports == q]
                first, end = off[mine] // wb, -(-off[mine + 1] // wb)
                cut = np.flatnonzero(first[1:] > end[:-1]) + 1
                runs = np.split(np.arange(mine.size), cut) if mine.size else []
                words = sum(int(end[r[-1]] - first[r[0]]) for r in runs)
                bursts = sum(int((end[r[-1]] - 1) // chunk - first[r[0]] // chunk + 1) for r in runs)
                got = (lanes["stream_words"][l][q], lanes["stream_requests"][l][q])
                assert got == (words, bursts), f"layer {l} lane {q}: words, requests"
                # The lane's header process: one step per stream word of each
                # of its blocks (at least the header's), one per W/8 bytes as
                # the model charges a lane's dispatcher.
                lens = off[mine + 1] - off[mine]
                steps = int(np.maximum(-(-lens // wb), hchunks).sum())
                assert lanes["dispatch"][l][q] == steps, f"layer {l} lane {q} dispatcher steps"
            for name in ("stream_words", "stream_requests", "dispatch"):
                assert c[name][l] == lanes[name][l].sum()
            # The timing model's reads are the kernel's.
            assert (c["stream_words"][l], c["stream_requests"][l]) == (t.beats, t.requests), f"layer {l} model"
            acts = emu.run_layers(acts[None], l, l)[0]


def test_a_block_changed_after_the_load_is_reported_not_followed(sim):
    cfg, s = sim
    qm = random_model(cfg, 2, MIXES["all_stream"])
    img = qm.to_image()
    s.load(img)
    x = random_inputs(qm.in_features, np.random.default_rng(1), cfg.act_bits)[1:2]
    d = fmt.HEADER_WORDS  # layer 0's descriptor
    start, n = int(img[d + fmt.D_ENTRIES]), int(img[d + fmt.D_ENTRY_WORDS])
    bad = img.copy()
    bad[start : start + n] = np.uint64(0xFFFFFFFFFFFFFFFF)  # every count at its maximum
    status, _ = s.run_raw(0, 2, 1, x.reshape(-1), qm.out_features, image=bad)
    assert csim.KERNEL_STATUS[status] == "bad_image"
    # A run on a buffer of another length is refused before any read.
    status, _ = s.run_raw(0, 2, 1, x.reshape(-1), qm.out_features, image=img[:-1])
    assert csim.KERNEL_STATUS[status] == "buffer_size"
    # The untouched image still runs.
    np.testing.assert_array_equal(s.run(x), Emulator(qm).run_layers(x))


def test_random_stream_contents_after_the_load_never_hang_or_escape(sim):
    """The section rewritten in DDR after the load: bad_image or a result, every time (the addresses are on chip)."""
    cfg, s = sim
    qm = random_model(cfg, 4, MIXES["mixed_ends"])
    img = qm.to_image()
    s.load(img)
    rng = np.random.default_rng(8)
    x = random_inputs(qm.in_features, rng, cfg.act_bits)
    sections = []
    for l in range(len(qm.layers)):
        d = fmt.HEADER_WORDS + l * fmt.DESC_WORDS
        if img[d + fmt.D_FLAGS] & fmt.FLAG_STREAMED:
            sections.append((int(img[d + fmt.D_ENTRIES]), int(img[d + fmt.D_ENTRY_WORDS])))
    assert sections
    seen = set()
    for trial in range(60):
        bad = img.copy()
        start, n = sections[trial % len(sections)]
        hit = rng.integers(start, start + n, size=int(rng.integers(1, 4)))
        bad[hit] ^= rng.integers(1, 1 << 63, size=hit.size, dtype=np.uint64) >> np.uint64(rng.integers(0, 60))
        status, _ = s.run_raw(0, len(qm.layers) - 1, x.shape[0], x.reshape(-1), x.shape[0] * qm.out_features, bad)
        seen.add(csim.KERNEL_STATUS[status])
    assert seen <= {"ok", "bad_image"} and "bad_image" in seen


def test_streamed_image_on_a_kernel_without_a_directory_is_a_capacity_problem():
    cfg = kernel_config(**CONFIGS["n1_w2_i2_p1x64"], storage="onchip")
    s = csim.CSim(cfg)
    qm = random_model(kernel_config(**CONFIGS["n1_w2_i2_p1x64"], **STREAM_DEPTHS), 0, MIXES["mixed"])
    with pytest.raises(CapacityError) as e:
        s.load(qm.to_image())
    assert "capacity" in str(e.value)


@pytest.mark.parametrize("backend", ["csim", "csim-concurrent"])
def test_alex7_shape_streams_on_a_pynq_z2_with_8_pes(tmp_path, capsys, backend):
    """The issue's done-when: a random 4096 x 4096 layer at 9 % through `eie verify --backend csim`,
    sequential and concurrent (issue 19: the configuration fits the board by the complete estimate,
    tests/kernel/test_instances.py)."""
    import json

    from eie.cli import main
    from eie.compression.model import CompressedLayer, CompressedModel

    rng = np.random.default_rng(0)
    m = k = 4096
    keep = rng.random((m, k)) < 0.09
    codes = np.where(keep, rng.integers(1, 16, size=(m, k)), 0).astype(np.uint8)
    codebook = np.concatenate([[0.0], np.linspace(-0.05, 0.05, 15)])
    layer = CompressedLayer.from_dense_codes("alex7", codes, codebook, rng.normal(0, 0.01, m), activation="relu")
    # A small classifier after it, which fits on chip: one model, both storage modes.
    head_codes = np.where(rng.random((10, m)) < 0.09, rng.integers(1, 16, size=(10, m)), 0).astype(np.uint8)
    head = CompressedLayer.from_dense_codes("head", head_codes, codebook, np.zeros(10), activation="none")
    model = tmp_path / "alex7.npz"
    CompressedModel([layer, head]).save(model)
    cfg = tmp_path / "pynq.yaml"
    cfg.write_text("board: pynq-z2\nn_pes: 8\nstorage: auto\ndir_depth: 4097\nptr_depth: 4097\n")
    rc = main(["verify", str(model), "--config", str(cfg), "--backend", backend, "--vectors", "2", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    report = json.loads(out)
    assert report["bit_exact"] is True
    assert report["storage"] == ["stream", "onchip"]


def test_config_dataclass_fields_for_streaming():
    cfg = make_config("n1_w2_i2_p1x64")
    assert dataclasses.asdict(cfg)["dir_depth"] == 256 and cfg.streaming
    assert not kernel_config(**CONFIGS["n1_w2_i2_p1x64"], storage="onchip").streaming


def test_head_streamed_on_a_pynq_z2_requests_match_the_model():
    """The issue's 1000 x 4096 head on a PYNQ-Z2 (8 PEs, 64-bit port, bursts of 16): the C-sim's read
    requests and words per run equal the timing model's, and the model charges each request's latency."""
    from eie.hardware.config import AcceleratorConfig
    from eie.performance.synthetic import random_activation_mask, random_positions

    cfg = AcceleratorConfig(
        board="pynq-z2", n_pes=8, entry_depth=64, ptr_depth=64, act_depth=512, bias_depth=128, max_layers=2,
        dir_depth=4097, fifo_depth=8,
    )  # fmt: skip
    rng = np.random.default_rng(3)
    m, k = 1000, 4096
    rows, cols = random_positions(m, k, 0.09, rng)
    order = np.lexsort((rows, cols))
    enc = encode(rows[order], cols[order], rng.integers(1, 16, rows.size), (m, k), 8, 4, 4)
    cb = np.zeros(16, dtype=np.int64)
    cb[1:] = rng.integers(-20, 20, size=15)
    head = QuantLayer("head", enc, cb, rng.integers(-40, 40, m), np.arange(m), 4, 3, 4, False, storage="stream")
    qm = QuantModel(cfg.to_hwparams(), [head])
    s = csim.CSim(cfg)
    s.load(qm.to_image())
    params = TimingParams.for_config(cfg)
    sp = params.stream
    assert (sp.beat_bytes, sp.burst_len, cfg.stream_chunk_words) == (8, 16, 16)
    for density in (0.35, 0.05, 1.0):
        x = np.where(random_activation_mask(k, density, rng), rng.integers(1, 60, k), 0)[None]
        np.testing.assert_array_equal(s.run(x), Emulator(qm).run_layers(x))
        c = s.counters()
        t = simulate_layer(enc, x[0], params, storage="stream")
        assert (c["stream_requests"][0], c["stream_words"][0]) == (t.requests, t.beats), density
        assert t.beats * 8 == t.bytes_streamed
        # Each request holds one of `outstanding` slots for the latency plus its beats (Little's law):
        # the modelled array time is never below that, and with one slot the latencies add up.
        assert t.array_cycles >= t.requests * sp.latency_cycles / sp.outstanding + t.beats / sp.outstanding
        one = TimingParams.for_config(cfg.replace(axi_outstanding=1))
        t1 = simulate_layer(enc, x[0], one, storage="stream")
        assert t1.requests == t.requests and t1.array_cycles >= t.requests * (sp.latency_cycles + 1)
