"""The concurrent C-simulation (issue 18; docs/kernel.md, "Simulating the dataflow").

Every DATAFLOW process runs in its own thread and every stream is a bounded
FIFO of the depth its STREAM pragma declares, as on the board. Checked here:

* the depths the simulation uses are the pragmas' (and every stream has one);
* the issue's minimal case, worked by hand, under a slow broadcaster;
* a control: the PE bug that repeated an entry while its FIFO was empty,
  put back into a copy of hls/, passes the sequential C-simulation and fails
  the concurrent one; in the same copy, faults that deadlock a region (the
  run's, and the load's walk, which is the run's layer_pass; processes that
  block or poll) or leave tokens in a FIFO are reported by name;
* stress: FIFO depths 1 and 2, weights on the rows of one or two PEs only
  (the others run dry), sparse and dense activations, jitter seeds, and each
  process slowed down in turn, bit-exact with the emulator;
* the row-overflow image (2^23 padding entries of z = 255 in one column)
  runs correctly, streamed and on chip.

The bit-exact suites (test_csim.py, test_kernel_stream.py) run in both modes.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from kernel_configs import CSIM_CONFIGS, STREAM_CONFIGS, STREAM_DEPTHS, kernel_config

from eie.arithmetic.emulator import Emulator
from eie.errors import DataflowError, ToolchainError
from eie.format.csc import encode
from eie.format.qmodel import QuantLayer, QuantModel

csim = pytest.importorskip("eie.kernel.csim")
fuzz = pytest.importorskip("eie.kernel.fuzz")
dataflow = pytest.importorskip("eie.kernel.dataflow")

try:
    csim.compiler()
    csim.ap_types_dir()
except ToolchainError as e:  # pragma: no cover - depends on the machine
    pytest.skip(str(e), allow_module_level=True)

Schedule = csim.Schedule


def minimal_model(cfg) -> QuantModel:
    """The issue's case: an 8 x 2 layer with one weight, value 3, in row 0."""
    enc = encode(np.array([0]), np.array([0]), np.array([1]), (8, 2), cfg.n_pes, cfg.index_bits, cfg.weight_bits)
    cb = np.zeros(1 << cfg.weight_bits, dtype=np.int64)
    cb[1] = 3
    ql = QuantLayer("fc", enc, cb, np.zeros(8, np.int64), np.arange(8), 0, 0, 0, relu=False)
    return QuantModel(cfg.to_hwparams(), [ql])


MINIMAL_X = np.array([[5, 0]])
MINIMAL_Y = np.array([[15, 0, 0, 0, 0, 0, 0, 0]])  # 3 * 5 in row 0, nothing else


def stream_config(name: str):
    return kernel_config(**STREAM_CONFIGS[name], **STREAM_DEPTHS)


# -- stream depths ---------------------------------------------------------------------------------


def test_every_stream_has_the_depth_its_pragma_declares(tmp_path):
    from eie.kernel.render import render_kernel

    cfg = stream_config("n3_w4_i3_mask_p2").replace(fifo_depth=5)
    render_kernel(cfg, tmp_path)
    found = dataflow.stream_depths(tmp_path)
    by_name: dict[str, set[int]] = {}
    for s in found:
        assert s.declared, f"{s.file}:{s.line}: stream {s.name} has no STREAM pragma (Vitis would give it depth 2)"
        by_name.setdefault(s.name, set()).add(s.depth)
    # layer_pass sizes its FIFOs from the configuration; the load's walk has none of its own.
    # Two lanes: each lane's dispatcher writes stok_l<q> / packs_l<q>, a merge per PE reads both
    # and writes the PE's stok_pe / packs_pe.
    assert cfg.ports == 2
    assert by_name == {
        "fifo": {5},
        "blocks": {5},
        **{f"{kind}_{x}": {5} for kind in ("stok", "packs") for x in ("l0", "l1", "pe")},
        "reqs": {cfg.outstanding},  # the reader's requests in flight (stream_request -> stream_fetch)
        "words": {cfg.stream_buffer_words},
        "eblocks": {4},  # block descriptors, stream_header -> stream_unpack
        "chunks": {5},
    }
    assert sum(s.name == "words" for s in found) == 1


def test_annotation_adds_a_depth_call_after_each_pragma(tmp_path):
    src = tmp_path / "k.cpp"
    src.write_text(
        "void f() {\n    hls::stream<int> a;\n    hls::stream<int> b[4];\n#pragma HLS STREAM variable=b depth=7\n"
        '    EIE_DATAFLOW_BEGIN("f");\n}\n'
    )
    found = dataflow.annotate_sources(tmp_path)
    assert [(s.name, s.depth, s.declared) for s in found] == [("a", 2, False), ("b", 7, True)]
    text = src.read_text()
    assert "    EIE_DF_STREAM(a, 2);\n" in text and "EIE_DF_STREAM(b, 2);\n#pragma" in text
    assert text.index("EIE_DF_STREAM(b, 7);") > text.index("#pragma HLS STREAM variable=b depth=7")
    # A pragma whose depth the simulation cannot read is refused, not guessed.
    src.write_text(
        'void g() {\n    hls::stream<int> c;\n#pragma HLS STREAM variable=c depth=D\nEIE_DATAFLOW_BEGIN("g");\n}\n'
    )
    with pytest.raises(ToolchainError, match="literal depth"):
        dataflow.annotate_sources(tmp_path)


# -- the case --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [None, Schedule(), Schedule(slow="broadcast", slow_us=2000), Schedule(jitter=1, seed=3), Schedule(slow="pe0")],
    ids=["sequential", "concurrent", "slow-broadcast", "jitter", "slow-pe"],
)
def test_minimal_case_worked_by_hand(schedule):
    cfg = stream_config("n1_w2_i2_p1x64")
    s = csim.CSim(cfg, concurrent=schedule is not None, schedule=schedule)
    qm = minimal_model(cfg)
    s.load(qm.to_image())
    np.testing.assert_array_equal(Emulator(qm).run_layers(MINIMAL_X), MINIMAL_Y)
    np.testing.assert_array_equal(s.run(MINIMAL_X), MINIMAL_Y)


# -- the control: a copy of hls/ with the bug put back, and faults to detect --------------------

FAULTS = {
    # The entry-repeat bug: a finished column stays current while the FIFO is empty.
    "eie_pe.hpp": (
        "            } else {\n                // The column is finished and no token is waiting",
        '            } else if (!getenv("EIE_FAULT_REPEAT")) {\n                // The column is finished and no'
        " token is waiting",
    ),
    # The broadcaster sends the end token twice (tokens left) or never (PEs poll forever).
    "eie_broadcast.hpp": (
        "        if (!to_reader) fifo[p].write(end);",
        '        if (!to_reader && !getenv("EIE_FAULT_NO_END")) fifo[p].write(end);\n'
        '        if (!to_reader && getenv("EIE_FAULT_TWO_ENDS")) fifo[p].write(end);',
    ),
    # ... or never sends the stream reader its end mark (the reader and the dispatcher block
    # reading, the PEs poll): at the load, whose walk is the run's own layer_pass.
    # ... or sends PE 0 its end mark first: PE 0 returns, the others finish, and the broadcaster
    # blocks for ever on PE 0's full FIFO (every process still running blocked: found at once).
    "eie_broadcast.hpp#3": (
        "SCAN:\n    while (true) {",
        '    if (!to_reader && getenv("EIE_FAULT_EARLY_END")) {\n'
        "        token_t early;\n        early.g = 0;\n        early.val = 0;\n        early.last = true;\n"
        "        fifo[0].write(early);\n    }\nSCAN:\n    while (true) {",
    ),
    "eie_broadcast.hpp#2": (
        "        if (to_reader) fifo[N + q].write(end);",
        '        if (to_reader && !getenv("EIE_FAULT_NO_FEED_END")) fifo[N + q].write(end);',
    ),
}


@pytest.fixture(scope="module")
def faulty_hls(tmp_path_factory):
    from eie.kernel.render import hls_dir

    hls = tmp_path_factory.mktemp("faulty") / "hls"
    shutil.copytree(hls_dir(), hls)
    for key, (old, new) in FAULTS.items():
        name = key.split("#")[0]
        text = (hls / name).read_text()
        assert text.count(old) == 1, f"{key}: the fault's anchor moved"
        if not text.startswith("#include <cstdlib>\n"):
            text = "#include <cstdlib>\n" + text
        (hls / name).write_text(text.replace(old, new))
    return hls


def faulty_sim(monkeypatch, faulty_hls, concurrent, schedule=None):
    monkeypatch.setenv("EIE_HLS_DIR", str(faulty_hls))
    return csim.CSim(stream_config("n1_w2_i2_p1x64"), concurrent=concurrent, schedule=schedule)


def test_control_the_concurrent_mode_catches_the_entry_repeat_bug(monkeypatch, faulty_hls):
    cfg = stream_config("n1_w2_i2_p1x64")
    qm = minimal_model(cfg)
    monkeypatch.setenv("EIE_FAULT_REPEAT", "1")
    seq = faulty_sim(monkeypatch, faulty_hls, False)
    seq.load(qm.to_image())
    np.testing.assert_array_equal(seq.run(MINIMAL_X), MINIMAL_Y)  # the sequential C-sim never sees a dry FIFO
    # The PE must find its FIFO empty after the column: a broadcaster 20 ms slow gives it the time,
    # unless the machine is so loaded that the PE thread waits as long (a few tries cover that).
    conc = faulty_sim(monkeypatch, faulty_hls, True, Schedule(slow="broadcast", slow_us=20000))
    conc.load(qm.to_image())
    for _ in range(5):
        got = conc.run(MINIMAL_X)
        if not np.array_equal(got, MINIMAL_Y):
            break
    assert got[0, 0] == 15 and np.all(got[0, 1:] == 15), got  # the issue's [15, 15, ..., 15]
    # Random models, on chip, under a slow broadcaster: the sequential C-sim is right on every
    # one, the concurrent one is not (these small models saturate often, which hides some).
    conc.configure(Schedule(slow="broadcast", slow_us=3000))
    wrong = 0
    for seed in range(6):
        rm = fuzz.fuzz_model(cfg, seed)
        for ql in rm.layers:
            ql.storage = "onchip"
        x = fuzz_inputs(rm, 0.5, seed)
        want = Emulator(rm).run_layers(x)
        seq.load(rm.to_image())
        np.testing.assert_array_equal(seq.run(x), want)
        conc.load(rm.to_image())
        wrong += not np.array_equal(conc.run(x), want)
    assert wrong >= 1
    # Without the fault the same copy is right (the anchors changed nothing else).
    monkeypatch.delenv("EIE_FAULT_REPEAT")
    conc.load(qm.to_image())
    np.testing.assert_array_equal(conc.run(MINIMAL_X), MINIMAL_Y)


def test_a_load_walk_that_never_ends_is_a_deadlock(monkeypatch, faulty_hls):
    """The load's walk of a streamed layer runs through the run's layer_pass: a missing end mark stops it."""
    cfg = stream_config("n1_w2_i2_p1x64")
    qm = minimal_model(cfg)
    qm.layers[0].storage = "stream"
    s = faulty_sim(monkeypatch, faulty_hls, True, Schedule(timeout_ms=300))
    monkeypatch.setenv("EIE_FAULT_NO_FEED_END", "1")
    with pytest.raises(DataflowError) as e:
        s.load(qm.to_image())
    report = e.value.report
    assert "deadlock in DATAFLOW region layer_pass: no stream moved for 300 ms" in report
    assert "broadcast: returned" in report
    assert "stream_request: blocked reading fifo[1] (0/" in report
    assert "stream_fetch: blocked reading reqs[0] (0/" in report
    assert "stream_header: blocked reading blocks[0] (0/" in report
    assert "pe0: polling stok_pe[0]" in report
    monkeypatch.delenv("EIE_FAULT_NO_FEED_END")
    s.load(qm.to_image())  # the kernel loads again once the fault is gone
    np.testing.assert_array_equal(s.run(MINIMAL_X), MINIMAL_Y)


def test_every_running_process_blocked_is_a_deadlock_at_once(monkeypatch, faulty_hls):
    cfg = stream_config("n1_w2_i2_p1x64")
    k = 3 * cfg.fifo_depth  # more tokens for PE 0 than its FIFO holds
    enc = encode(np.arange(k) % 8, np.arange(k), np.ones(k, int), (8, k), 1, cfg.index_bits, cfg.weight_bits)
    cb = np.zeros(1 << cfg.weight_bits, dtype=np.int64)
    cb[1] = 1
    qm = QuantModel(cfg.to_hwparams(), [QuantLayer("l", enc, cb, np.zeros(8, np.int64), np.arange(8), 0, 0, 0, False)])
    s = faulty_sim(monkeypatch, faulty_hls, True)  # the default 10 s timeout: this one must not need it
    s.load(qm.to_image())
    monkeypatch.setenv("EIE_FAULT_EARLY_END", "1")
    with pytest.raises(DataflowError) as e:
        s.run(np.ones((1, k), dtype=np.int64))
    report = e.value.report
    assert "deadlock in DATAFLOW region layer_pass: every process" in report
    assert f"broadcast: blocked writing fifo[0] ({cfg.fifo_depth}/{cfg.fifo_depth})" in report
    assert "pe0: returned" in report


def test_processes_that_only_poll_time_out_as_a_deadlock(monkeypatch, faulty_hls):
    s = faulty_sim(monkeypatch, faulty_hls, True, Schedule(timeout_ms=300))
    s.load(minimal_model(stream_config("n1_w2_i2_p1x64")).to_image())
    monkeypatch.setenv("EIE_FAULT_NO_END", "1")
    with pytest.raises(DataflowError) as e:
        s.run(MINIMAL_X)
    assert "deadlock in DATAFLOW region layer_pass: no stream moved for 300 ms" in e.value.report
    assert "broadcast: returned" in e.value.report and "pe0: polling fifo[0]" in e.value.report


def test_tokens_left_in_a_fifo_are_reported(monkeypatch, faulty_hls):
    s = faulty_sim(monkeypatch, faulty_hls, True)
    s.load(minimal_model(stream_config("n1_w2_i2_p1x64")).to_image())
    monkeypatch.setenv("EIE_FAULT_TWO_ENDS", "1")
    left = r"tokens left when DATAFLOW region layer_pass ended:\n  fifo\[0\]: 1 token"
    with pytest.raises(DataflowError, match=left):
        s.run(MINIMAL_X)


# -- stress: PEs that run dry --------------------------------------------------------------------

STRESS = {
    # FIFO depth 1, 8 PEs, no mask; 16 PEs ternary; FIFO depth 2 with the mask and streaming.
    "fifo1": kernel_config(**CSIM_CONFIGS["n8_w8_i6_fifo1"]),
    "n16_ternary": kernel_config(**CSIM_CONFIGS["n16_w4_i5_ternary"]),
    "fifo2_mask_stream": stream_config("n3_w4_i3_mask_p2"),
    # 16 PEs with streaming hardware and the mask: streamed, on-chip and mixed models (fuzz_model).
    "n16_stream_mask": kernel_config(
        n_pes=16, weight_bits=4, index_bits=4, occupancy_mask=True, fifo_depth=4, **STREAM_DEPTHS
    ),
}


@pytest.mark.parametrize("name", sorted(STRESS))
def test_stress_dry_pes_jitter_and_slow_processes(name):
    cfg = STRESS[name]
    s = csim.CSim(cfg, concurrent=True)
    # Every process slowed in turn, except that of the per-PE merges only the first PE's and the
    # last PE's are (the merges are alike; the PEs, whose rows differ, are all slowed).
    n = cfg.n_pes
    names = [p for p in csim.process_names(cfg) if not p.startswith("merge") or p.endswith(("_pe0", f"_pe{n - 1}"))]
    schedules = [Schedule(slow=p, slow_us=20) for p in names]
    schedules += [Schedule(jitter=j, seed=seed) for j, seed in ((1, 1), (2, 2), (4, 3))]
    runs = 0
    for i, sch in enumerate(schedules):
        qm = fuzz.fuzz_model(cfg, 500 + i % 4, skew=i % 2 == 0)
        x = np.concatenate(
            [
                fuzz_inputs(qm, 0.05, i),  # sparse: the broadcaster skips, PEs wait
                fuzz_inputs(qm, 1.0, i),  # dense: the FIFOs fill, the broadcaster waits
            ]
        )
        s.configure(sch)
        s.load(qm.to_image())
        np.testing.assert_array_equal(s.run(x), Emulator(qm).run_layers(x), err_msg=f"{sch}")
        runs += 1
    assert runs == len(schedules) >= cfg.n_pes + 4


def fuzz_inputs(qm, density, seed):
    from eie.hardware.testmodel import random_inputs

    return random_inputs(qm, 2, seed=seed, density=density)


@pytest.mark.parametrize("name", ["fifo1", "fifo2_mask_stream"])
def test_bounded_concurrent_fuzz(name):
    rep = fuzz.concurrent_fuzz(STRESS[name], 12, seed=5)
    assert rep.models == 12 and rep.vectors == 36
    assert rep.failures == 0, rep.problems


# -- the row-overflow image ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overflow_config():
    # One PE, 1-bit codes and 8-bit runs (7 entries a word); an entry memory that holds the padding.
    from eie.hardware.config import AcceleratorConfig

    return AcceleratorConfig(**fuzz.OVERFLOW_CONFIG)


@pytest.mark.parametrize("storage", ["stream", "onchip"])
def test_padding_past_two_to_the_31_rows_runs_correctly(overflow_config, storage):
    cfg = overflow_config
    qm = fuzz.padding_overflow_model(cfg, fuzz.OVERFLOW_PADDING, storage)
    assert qm.layers[0].encoded.total_entries == fuzz.OVERFLOW_PADDING + 1
    image = qm.to_image()
    s = csim.CSim(cfg)
    s.load(image)
    x = np.array([[5], [-7]])
    want = np.array([[25, 0, 0, 0], [-35, 0, 0, 0]])  # codebook value 5 times x in row 0
    np.testing.assert_array_equal(Emulator(qm).run_layers(x), want)
    np.testing.assert_array_equal(s.run(x), want)
