"""eie plan (issue 22): the search's pieces against the timing model and the encoder, a brute-force
enumeration on a small grid, and planned designs that fit, beat the board's default by the model and
verify bit-exact on the C-simulation."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from eie.arithmetic.quant import quantize
from eie.compression.model import CompressedLayer, CompressedModel
from eie.format.rowmap import encode_layer
from eie.hardware.config import AcceleratorConfig
from eie.hardware.plan import (
    RESOURCES,
    TOLERANCE,
    Dimension,
    Planner,
    _Groups,
    layer_bound,
    pe_bound,
    plan_model,
    plan_workload,
    workload_from_model,
)
from eie.hardware.resources import check_fits_board, estimate, model_needs
from eie.hardware.streaming import layer_storage
from eie.performance.synthetic import random_activation_mask, random_codes, random_positions
from eie.performance.timing import TimingParams, simulate_layer


def random_layer(name, m, k, density, rng, activation="relu"):
    r, c = random_positions(m, k, density, rng)
    codebook = np.linspace(-1.0, 1.0, 16)
    codebook[0] = 0.0
    return CompressedLayer(
        name, (m, k), r, c, random_codes(r.size, 4, rng), codebook, rng.uniform(-0.1, 0.1, m), activation=activation
    )


def random_model(sizes, density, seed):
    rng = np.random.default_rng(seed)
    layers = [
        random_layer(f"fc{i + 1}", sizes[i + 1], sizes[i], density, rng, "relu" if i < len(sizes) - 2 else "none")
        for i in range(len(sizes) - 1)
    ]
    return CompressedModel(layers)


def test_counted_layers_match_the_encoder():
    rng = np.random.default_rng(1)
    for m, k, d in [(37, 19, 0.2), (300, 100, 0.05), (64, 64, 1.0), (5, 7, 0.0)]:
        layer = random_layer("x", m, k, d, rng)
        for n in (1, 3, 8, 64):
            groups = _Groups(layer, n)
            for r in (1, 2, 4, 8):
                enc, got = encode_layer(layer, n, r), groups.counted(r, 4)
                assert np.array_equal(enc.ptr, got.ptr) and enc.padding == got.padding, (m, k, n, r)
                assert np.array_equal(enc.n_entries, got.n_entries)


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_bounds_and_shortcuts_hold_against_the_timing_model(board):
    """The lower bound never exceeds the model; the three exact shortcuts of the timing cache hold."""
    rng = np.random.default_rng(7)
    for trial in range(3):
        m, k = int(rng.integers(20, 200)), int(rng.integers(20, 300))
        layer = random_layer("x", m, k, float(rng.uniform(0.03, 0.4)), rng)
        n = int(rng.choice([2, 4, 8, 16]))
        r = int(rng.choice([2, 3, 4]))
        enc = encode_layer(layer, n, r)
        masks = np.stack([random_activation_mask(k, a, rng) for a in (0.05, 0.3, 1.0)])
        for w, fifo, mask in itertools.product((n, 2 * n, max(1, n // 2)), (2, 8), (True, False)):
            cfg = AcceleratorConfig(board=board, n_pes=n, index_bits=r, lnzd_window=w, fifo_depth=fifo,
                                    occupancy_mask=mask)  # fmt: skip
            p = TimingParams.for_config(cfg)
            bpc = cfg.ddr_peak_gbps * 1000.0 / cfg.clock
            for storage in ("onchip", "stream"):
                exact = np.array([simulate_layer(enc, v, p, storage).latency_us for v in masks])
                assert np.all(layer_bound(enc, masks, p, storage, bpc) <= exact + 1e-9), (trial, w, fifo, storage)
                # A deeper FIFO is never slower (the planner's bound for shallower FIFOs).
                deeper = dataclasses.replace(p, fifo_depth=p.fifo_depth + 8)
                assert all(simulate_layer(enc, v, deeper, storage).latency_us <= e for v, e in zip(masks, exact))
                if storage == "stream":  # every PE gets only its columns whatever the mask says
                    other = dataclasses.replace(p, occupancy_mask=not mask)
                    assert [simulate_layer(enc, v, other, storage).latency_us for v in masks] == list(exact)
            # A window under which no vector has an all-zero window costs what free skipping does.
            dense = masks[2:]
            free = dataclasses.replace(p, lnzd_window=None)
            assert simulate_layer(enc, dense[0], free).cycles == simulate_layer(enc, dense[0], p).cycles


def _cost(cfg):
    est = estimate(cfg)
    have = {k: getattr(est, f"board_{k}") for k in RESOURCES}
    if any(getattr(est, k) > v for k, v in have.items() if v is not None):
        return None
    return max(getattr(est, k) / v for k, v in have.items() if v)


SMALL_GRID = (
    Dimension("n_pes", (2, 4, 8)),
    Dimension("index_bits", (4, 3)),
    Dimension("lnzd_window", lambda c: (c["n_pes"], 2 * c["n_pes"])),
    Dimension("occupancy_mask", (True, False)),
    Dimension("fifo_depth", (8, 2)),
)


def _brute_force(model, work, board):
    """Every grid point and every on-chip split, timed through the real encoder and quantiser."""
    out = []
    for n, r, wf, mask, fifo in itertools.product((2, 4, 8), (4, 3), (1, 2), (True, False), (8, 2)):
        cfg0 = AcceleratorConfig(board=board, n_pes=n, index_bits=r, lnzd_window=n * wf, occupancy_mask=mask,
                                 fifo_depth=fifo)  # fmt: skip
        qm = quantize(model, cfg0.to_hwparams())
        enc = [ql.encoded for ql in qm.layers]
        for split in itertools.product(("onchip", "stream"), repeat=len(enc)):
            for ql, s in zip(qm.layers, split):
                ql.storage = s
            depths = model_needs(qm).depths()
            kind = split[0] if len(set(split)) == 1 else "auto"
            cfg = cfg0.replace(**depths, storage=kind)
            real = layer_storage(cfg, enc)  # what the configuration really does with the layers
            cost = _cost(cfg)
            if cost is None:
                continue
            p = TimingParams.for_config(cfg)
            lat = sum(np.array([simulate_layer(e, v, p, s).latency_us for v in m]) for e, m, s in
                      zip(enc, work.masks, real))  # fmt: skip
            out.append((float(lat.max()), cost, cfg, tuple(real)))
    return out


def _timed(model, work, cfg):
    """One configuration timed as the brute force times a grid point."""
    qm = quantize(model, cfg.to_hwparams())
    enc = [ql.encoded for ql in qm.layers]
    real = layer_storage(cfg, enc)
    cost = _cost(cfg)
    p = TimingParams.for_config(cfg)
    lat = sum(np.array([simulate_layer(e, v, p, s).latency_us for v in m]) for e, m, s in zip(enc, work.masks, real))
    return [] if cost is None else [(float(lat.max()), cost, cfg, tuple(real))]


def test_brute_force_on_a_small_grid_finds_the_plan():
    model = random_model([40, 48, 10], 0.3, 3)
    x = np.random.default_rng(0).random((3, 40)) * (np.random.default_rng(1).random((3, 40)) < 0.6)
    work = workload_from_model(model, x)
    board = "pynq-z2"
    plan = plan_workload(work, board=board, dimensions=SMALL_GRID, tolerance=0.0)
    # The planner also times the board's default design (which may lie outside the grid: 16 PEs fit
    # a Z-7020 for this model since issue 19's shared loader): the brute force times it too.
    brute = _brute_force(model, work, board) + (_timed(model, work, plan.default.config) if plan.default else [])
    best_lat = min(b[0] for b in brute)
    best_cost = min(b[1] for b in brute if b[0] == best_lat)
    assert plan.chosen.latency_us == pytest.approx(best_lat, rel=1e-12)
    assert plan.chosen.cost == pytest.approx(best_cost, rel=1e-12)
    c = plan.config
    assert any(
        b[0] == pytest.approx(best_lat) and b[1] == pytest.approx(best_cost) and b[3] == plan.chosen.storage
        and (b[2].n_pes, b[2].index_bits, b[2].lnzd_window, b[2].occupancy_mask, b[2].fifo_depth)
        == (c.n_pes, c.index_bits, c.lnzd_window, c.occupancy_mask, c.fifo_depth)
        for b in brute
    )  # fmt: skip
    # With the default tolerance for near-ties: within it of the best.
    assert plan_workload(work, board=board, dimensions=SMALL_GRID).chosen.latency_us <= best_lat * (1 + TOLERANCE)
    # The front's designs are the brute force's Pareto points, fastest first.
    for d in plan.front:
        assert not any(b[0] < d.latency_us - 1e-9 and b[1] <= d.cost - 1e-12 for b in brute)
    # The smallest design meeting a target: the least cost among the brute force's designs that meet it.
    target = float(np.median([b[0] for b in brute]))
    small = plan_workload(
        work, board=board, dimensions=SMALL_GRID, objective="smallest", target_latency_us=target, tolerance=0.0
    )
    assert small.met_target and small.chosen.latency_us <= target
    assert small.chosen.cost == pytest.approx(min(b[1] for b in brute if b[0] <= target), rel=1e-12)
    # The per-PE-count bound used to skip PE counts is below every design of that count.
    planner = Planner(work)
    for n in (2, 4, 8):
        cfg = AcceleratorConfig(board=board, n_pes=n)
        assert pe_bound(planner, cfg, 3, None, np.max) <= min(b[0] for b in brute if b[2].n_pes == n) + 1e-9


def _digits_model():
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    from eie.compression.pipeline import compress
    from eie.compression.weights import DenseLayer

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = MLPClassifier((100,), max_iter=40, random_state=0).fit(x[:1200], y[:1200])
    layers = [
        DenseLayer("fc1", m.coefs_[0].T, m.intercepts_[0]),
        DenseLayer("fc2", m.coefs_[1].T, m.intercepts_[1], activation="none"),
    ]
    return compress(layers, density=0.2), x[1200:1264]


def _model_latency(model, cfg, storage, masks):
    """The configuration's latency by the timing model, through the real quantiser and encoder."""
    qm = quantize(model, cfg.to_hwparams())
    p = TimingParams.for_config(cfg)
    lat = sum(np.array([simulate_layer(ql.encoded, v, p, s).latency_us for v in m])
              for ql, m, s in zip(qm.layers, masks, storage))  # fmt: skip
    return float(lat.max())


@pytest.fixture(scope="module")
def digits():
    return _digits_model()


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
@pytest.mark.parametrize("which", ["digits", "lenet-300-100"])
def test_planned_design_fits_and_is_never_slower_than_the_default(which, board, digits, request):
    from eie.hardware.choice import choose_config
    from eie.hardware.resources import check_model_fits
    from eie.hardware.streaming import assign_storage

    if which == "digits":
        model, x = digits
    else:
        model = random_model([784, 300, 100, 10], 0.08, 11)
        x = np.random.default_rng(2).random((8, 784)) * (np.random.default_rng(3).random((8, 784)) < 0.2)
    plan = plan_model(model, board=board, calib=x)
    work = plan.workload
    # Fits: the real quantised model, its storage as the configuration decides, the board.
    qm = quantize(model, plan.config.to_hwparams(), calib=x)
    assert tuple(assign_storage(plan.config, qm)) == plan.chosen.storage
    check_model_fits(plan.config, qm)
    check_fits_board(plan.config)
    # The plan's latency is the timing model's on the real encoding.
    assert plan.chosen.latency_us == pytest.approx(_model_latency(model, plan.config, plan.chosen.storage,
                                                                  work.masks), rel=1e-12)  # fmt: skip
    # Never slower than the board's default (eie.hardware.choice), by the same model and inputs.
    choice = choose_config(model, board=board, calib=x)
    default_storage = [ql.storage for ql in choice.qm.layers]
    default = _model_latency(model, choice.config, default_storage, work.masks)
    assert plan.chosen.latency_us <= default + 1e-9
    assert plan.default is not None and plan.default.latency_us == pytest.approx(default, rel=1e-12)


def test_planned_mlp_verifies_bit_exact_on_the_csim(digits):
    from eie.arithmetic.emulator import Emulator, quantize_input
    from eie.board.backends import make_backend
    from eie.hardware.streaming import assign_storage

    model, x = digits
    plan = plan_model(model, board="pynq-z2", calib=x)
    qm = quantize(model, plan.config.to_hwparams(), calib=x)
    assign_storage(plan.config, qm)
    xi = quantize_input(qm, x[:6])
    sim = make_backend("csim", plan.config)
    sim.load(qm)
    assert np.array_equal(np.asarray(sim.run_int(xi), dtype=np.int64), Emulator(qm).run_layers(xi))


def test_pinned_storage_and_depths_are_kept(tmp_path):
    """A partial configuration's storage and depths hold even where the board's default would differ."""
    model = random_model([40, 48, 10], 0.3, 3)
    work = workload_from_model(model)
    part = tmp_path / "part.yaml"
    part.write_text("board: pynq-z2\nstorage: stream\ndir_depth: 200\nfifo_depth: 2\n")
    plan = plan_workload(work, config=part, dimensions=SMALL_GRID)
    c = plan.config
    assert (c.board, c.storage, c.dir_depth, c.fifo_depth) == ("pynq-z2", "stream", 200, 2)
    assert plan.chosen.storage == ("stream", "stream") and all(d.config.storage == "stream" for d in plan.front)
    assert "fifo_depth" not in plan.to_dict()["searched"]
    # The default (on chip, FIFO 32) breaks the pins: compared, never chosen.
    assert plan.default is not None and plan.default.config.storage != "stream"


def test_the_port_dimension_offers_the_port_counts_the_board_allows(monkeypatch):
    """stream_ports is searched over eie.hardware.boards.STREAM_PORT_CHOICES within the PS's HP ports,
    the family's default first; never a count AcceleratorConfig refuses (3)."""
    from eie.hardware import plan

    assert plan.port_field() == "stream_ports"
    dim = next(d for d in plan.DIMENSIONS if d.field == "stream_ports")
    custom7 = {
        "board": "custom",
        "part": "xc7z045ffg900-2",
        "resources": {"bram36": 545, "dsp": 900, "family": "zynq7"},
    }
    cases = {"pynq-z2": [1, 2, 4], "ultra96v2": [2, 1, 4], "zcu104": [2, 1, 4], "custom7": [1, 2, 4]}
    for name, want in cases.items():
        ctx = custom7 if name == "custom7" else {"board": name}
        assert dim.candidates(ctx) == want, name
        for p in want:  # each one a configuration the config accepts, resolved as that many ports
            assert AcceleratorConfig(**ctx, stream_ports=p).ports == p
    # A PS with fewer HP ports offers fewer counts.
    monkeypatch.setitem(plan.HP_PORTS, "zynq7", 2)
    assert dim.candidates({"board": "pynq-z2"}) == [1, 2]
