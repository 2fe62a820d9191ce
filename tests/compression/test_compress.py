"""Deep Compression: pruning, k-means weight sharing, Huffman, storage report."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
import sklearn.cluster
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.compression.huffman import huffman_bits, huffman_code_lengths, huffman_lengths
from eie.compression.kmeans import share_weights
from eie.compression.model import CompressedLayer, CompressedModel
from eie.compression.pipeline import compress, quantize_layer
from eie.compression.prune import magnitude_mask, magnitude_masks
from eie.compression.weights import DenseLayer
from eie.errors import ConfigError
from eie.format.storage import storage_report

# ---------------------------------------------------------------- pruning


def test_density_keeps_the_largest_with_ties_by_position():
    w = np.array([[0.5, -3.0, 1.0], [-1.0, 2.0, 1.0]])
    # Keep 4 of 6: |3|, |2| and two of the three magnitude-1 weights, the
    # first two in row-major order.
    mask = magnitude_mask(w, density=4 / 6)
    assert mask.tolist() == [[False, True, True], [True, True, False]]
    assert magnitude_mask(w, density=0.5).tolist() == [[False, True, True], [False, True, False]]
    assert magnitude_mask(w, density=1.0).all()


def test_density_never_keeps_exact_zeros():
    w = np.array([[0.0, 1.0], [0.0, -2.0]])
    assert magnitude_mask(w, density=1.0).tolist() == [[False, True], [False, True]]
    assert not magnitude_mask(np.zeros((3, 3)), density=0.5).any()


def test_threshold_keeps_larger_magnitudes():
    w = np.array([[0.1, -0.3, 0.2], [-0.05, 0.3, 0.0]])
    assert magnitude_mask(w, threshold=0.2).tolist() == [[False, True, False], [False, True, False]]


def test_density_count_matches_sorted_magnitudes():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((50, 40))
    for d in (0.01, 0.09, 0.5, 0.999):
        mask = magnitude_mask(w, density=d)
        keep = int(round(d * w.size))
        assert mask.sum() == keep
        cut = np.sort(np.abs(w).ravel())[::-1][keep - 1]
        assert np.all(np.abs(w[mask]) >= cut) and np.all(np.abs(w[~mask]) <= cut)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan"), "x"])
def test_density_outside_unit_interval_is_refused(bad):
    with pytest.raises(ConfigError):
        magnitude_mask(np.ones((2, 2)), density=bad)


def test_density_xor_threshold():
    with pytest.raises(ConfigError):
        magnitude_mask(np.ones((2, 2)))
    with pytest.raises(ConfigError):
        magnitude_mask(np.ones((2, 2)), density=0.5, threshold=0.1)


def test_masks_per_layer():
    ws = [np.arange(1, 11, dtype=float).reshape(2, 5), -np.arange(1, 5, dtype=float).reshape(4, 1)]
    a, b = magnitude_masks(ws, density=[0.2, 0.5])
    assert np.flatnonzero(a).tolist() == [8, 9]
    assert np.flatnonzero(b).tolist() == [2, 3]
    with pytest.raises(ConfigError):
        magnitude_masks(ws, density=[0.2])


# ---------------------------------------------------------------- k-means


def check_codebook(values, codebook, codes, bits):
    assert codebook.dtype == np.float64 and codebook.shape == (1 << bits,)
    assert codebook[0] == 0.0
    assert codes.dtype == np.uint8 and codes.shape == values.shape
    used = int(codes.max())
    centroids = codebook[1 : used + 1]
    assert np.all(np.diff(centroids) > 0), "centroids ascending and distinct"
    assert np.all(codebook[used + 1 :] == 0.0)
    assert codes.min() >= 1
    # Nearest centroid against a brute-force search over all centroids.
    dist = np.abs(values[:, None] - centroids[None, :])
    assert np.all(np.abs(values - codebook[codes]) == dist.min(axis=1))
    return centroids


@pytest.mark.parametrize("init", ["linear", "density", "random"])
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_kmeans_codebook_properties(init, bits):
    rng = np.random.default_rng(bits)
    values = np.concatenate([rng.normal(-0.05, 0.01, 3000), rng.normal(0.04, 0.02, 2000)])
    codebook, codes = share_weights(values, bits, init=init, seed=1)
    centroids = check_codebook(values, codebook, codes, bits)
    assert centroids.size == (1 << bits) - 1
    # Converged Lloyd: each centroid is the mean of the weights it holds.
    for c in range(1, centroids.size + 1):
        assert codebook[c] == pytest.approx(values[codes == c].mean(), rel=1e-9, abs=1e-12)


def test_kmeans_linear_init_on_two_clusters():
    values = np.array([-1.0, -1.0, -0.9, 2.0, 2.1, 2.2])
    codebook, codes = share_weights(values, 1)  # one centroid
    assert codebook.tolist() == [0.0, pytest.approx(values.mean())]
    codebook, codes = share_weights(values, 2)  # three centroids from linear init -1, 0.6, 2.2
    check_codebook(values, codebook, codes, 2)


def test_kmeans_many_values_uses_histogram_summary_and_stays_exact():
    rng = np.random.default_rng(5)
    values = rng.laplace(0.0, 0.02, 200_000)
    codebook, codes = share_weights(values, 5)
    centroids = codebook[1 : int(codes.max()) + 1]
    assert centroids.size == 31 and np.all(np.diff(centroids) > 0)
    mids = (centroids[:-1] + centroids[1:]) / 2
    # Independent nearest assignment (away from exact-midpoint ties).
    expect = np.searchsorted(mids, values) + 1
    assert np.array_equal(codes, expect)


def test_fewer_distinct_values_than_codes():
    values = np.array([0.5, -0.25, 0.5, 0.5, 1.0, -0.25])
    codebook, codes = share_weights(values, 4)
    assert codebook.tolist() == [0.0, -0.25, 0.5, 1.0] + [0.0] * 12
    assert codes.tolist() == [2, 1, 2, 2, 3, 1]
    codebook, codes = share_weights(np.full(10, 0.3), 8, init="random")
    assert codebook[1] == 0.3 and np.all(codebook[2:] == 0) and np.all(codes == 1)


def test_exactly_as_many_distinct_values_as_codes_plus_one():
    values = np.array([-2.0, -1.0, 1.0, 2.0] * 5)
    codebook, codes = share_weights(values, 2, init="density")
    centroids = check_codebook(values, codebook, codes, 2)
    assert centroids.size == 3


def test_empty_values():
    codebook, codes = share_weights(np.zeros(0), 3)
    assert codebook.tolist() == [0.0] * 8 and codes.size == 0


def test_kmeans_uses_sklearn(monkeypatch):
    calls = []
    real = sklearn.cluster.KMeans

    class Counting(real):
        def fit(self, X, y=None, sample_weight=None):
            calls.append((self.n_clusters, self.n_init, np.asarray(self.init).ravel().copy()))
            return super().fit(X, y, sample_weight)

    monkeypatch.setattr(sklearn.cluster, "KMeans", Counting)
    values = np.linspace(-1.0, 3.0, 401)
    share_weights(values, 3, init="linear")
    assert len(calls) == 1
    n_clusters, n_init, init = calls[0]
    assert n_clusters == 7 and n_init == 1
    # Linear initialisation: evenly spaced between the extremes.
    assert np.allclose(init, np.linspace(-1.0, 3.0, 7))


def test_random_init_depends_on_seed_only():
    values = np.random.default_rng(2).standard_normal(4000)
    a = share_weights(values, 3, init="random", seed=4)
    b = share_weights(values, 3, init="random", seed=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_kmeans_refuses_bad_settings():
    with pytest.raises(ConfigError):
        share_weights(np.ones(3), 0)
    with pytest.raises(ConfigError):
        share_weights(np.ones(3), 9)
    with pytest.raises(ConfigError):
        share_weights(np.ones(3), 4, init="kmeans++")


# ---------------------------------------------------------------- Huffman


def test_huffman_hand_worked():
    # Merge c+d (2), then b+(cd) (4), then a+(bcd) (9): a 1 bit, b 2, c and d 3.
    assert huffman_code_lengths({"a": 5, "b": 2, "c": 1, "d": 1}) == {"a": 1, "b": 2, "c": 3, "d": 3}
    assert huffman_bits(np.array([0] * 5 + [1] * 2 + [2, 3])) == 5 * 1 + 2 * 2 + 3 + 3
    assert huffman_lengths(np.array([1, 1, 1, 1])).tolist() == [2, 2, 2, 2]
    assert huffman_lengths(np.array([0, 7, 0])).tolist() == [0, 1, 0]
    assert huffman_bits(np.zeros(0, np.uint8)) == 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=2, max_size=40))
def test_huffman_kraft_equality_and_optimal_cost(counts):
    counts = np.array(counts)
    lengths = huffman_lengths(counts)
    used = counts > 0
    assert np.all(lengths[~used] == 0)
    if used.sum() >= 2:
        assert sum(2.0 ** -int(n) for n in lengths[used]) == 1.0
        # Optimal cost = sum of the weights of all merges (independent count).
        heap = [int(c) for c in counts[used]]
        heapq.heapify(heap)
        cost = 0
        while len(heap) > 1:
            s = heapq.heappop(heap) + heapq.heappop(heap)
            cost += s
            heapq.heappush(heap, s)
        assert int(np.dot(counts, lengths)) == cost


# ---------------------------------------------------------------- compress


def make_layers(rng):
    return [
        DenseLayer("fc1", rng.standard_normal((30, 20)), rng.standard_normal(30), "relu"),
        DenseLayer("fc2", rng.standard_normal((10, 30)), rng.standard_normal(10), "none"),
    ]


def test_compress_prunes_and_shares_each_layer():
    layers = make_layers(np.random.default_rng(1))
    model = compress(layers, density=0.25, weight_bits=3, densities={"fc2": 0.5})
    assert [l.nnz for l in model.layers] == [150, 150]
    for dense, layer in zip(layers, model.layers):
        mask = np.zeros(dense.weight.shape, bool)
        mask[layer.rows, layer.cols] = True
        assert np.array_equal(mask, magnitude_mask(dense.weight, density=layer.density))
        kept = dense.weight[layer.rows, layer.cols]
        check_codebook(kept, layer.codebook, layer.codes, 3)
        assert np.array_equal(layer.bias, dense.bias)
        assert layer.activation == dense.activation and layer.kind == "shared"
        # Column-major order, as EIE stores the weights.
        assert np.all(np.diff(layer.cols.astype(np.int64) * 1000 + layer.rows) > 0)
    assert model.settings == {
        "method": "deep-compression",
        "prune": True,
        "density": 0.25,
        "densities": {"fc1": 0.25, "fc2": 0.5},
        "weight_bits": 3,
        "init": "linear",
        "seed": 0,
    }


def test_compress_without_pruning_keeps_all_nonzero(tmp_path):
    layers = make_layers(np.random.default_rng(2))
    layers[0].weight[3, :] = 0.0
    model = compress(layers, prune=False, weight_bits=8)
    assert model.layers[0].nnz == 30 * 20 - 20 and model.layers[1].nnz == 300
    assert model.settings["prune"] is False and model.settings["density"] is None
    path = tmp_path / "m.npz"
    model.save(path)
    back = CompressedModel.load(path)
    assert back.settings == model.settings
    assert np.array_equal(back.layers[0].dense_codes(), model.layers[0].dense_codes())


def test_compress_refuses_bad_settings():
    layers = make_layers(np.random.default_rng(3))
    with pytest.raises(ConfigError):
        compress(layers, density=0.0)
    with pytest.raises(ConfigError):
        compress(layers, densities={"fc9": 0.5})
    with pytest.raises(ConfigError):
        compress(layers, weight_bits=9)
    with pytest.raises(ConfigError):
        compress(layers, init="kmeans++")


def test_quantize_layer_with_own_mask():
    w = np.array([[1.0, 0.0, -2.0], [0.5, 3.0, 0.0]])
    layer = quantize_layer("l", w, w != 0, np.zeros(2), 2, "linear", 0, "none")
    # Four distinct kept values but only three codes: values -2, 0.5, 1, 3.
    assert layer.rows.tolist() == [0, 1, 1, 0] and layer.cols.tolist() == [0, 0, 1, 2]
    check_codebook(w[layer.rows, layer.cols], layer.codebook, layer.codes, 2)
    with pytest.raises(ConfigError):
        quantize_layer("l", w, np.ones((3, 2), bool), np.zeros(2), 2, "linear", 0, "none")


# ---------------------------------------------------------------- report


def hand_layer():
    codes = np.zeros((6, 2), np.uint8)
    codes[0, 0], codes[5, 0], codes[2, 1] = 1, 3, 1
    return CompressedLayer.from_dense_codes(
        "fc", codes, codebook=[0.0, -1.0, 0.5, 1.0], bias=np.zeros(6), weight_bits=2, activation="none"
    )


def test_report_hand_worked_one_pe():
    # N = 1, r = 2: column 0 is rows 0 and 5 -> (1,0), pad (0,3), (3,0);
    # column 1 is row 2 -> (1,2). v = [1,0,3,1], z = [0,3,0,2].
    rep = storage_report(CompressedModel([hand_layer()]), n_pes=1, index_bits=2)
    l = rep.layers[0]
    assert (l.rows, l.cols, l.nnz, l.entries, l.padding) == (6, 2, 3, 4, 1)
    assert (l.weight_bits, l.index_bits, l.centroids) == (2, 2, 3)
    assert l.code_bytes == 1 and l.index_bytes == 1  # 8 bits each
    # v counts {1:2, 0:1, 3:1} -> lengths 1,2,2 -> 6 bits; z likewise.
    assert l.code_bytes_huffman == 1 and l.index_bytes_huffman == 1
    assert l.codebook_bytes == 12 and l.bias_bytes == 24
    # Pointers hold 0..4 in 3 bits; 1 PE x 3 pointers = 9 bits -> 2 bytes.
    assert l.pointer_bits == 3 and l.pointer_bytes == 2
    assert l.dense_bytes == 4 * (12 + 6)
    assert l.total_bytes == 1 + 1 + 12 + 24 + 2
    assert rep.compression_ratio == pytest.approx(72 / 40)
    assert rep.compression_ratio_huffman == pytest.approx(72 / 40)


def test_report_hand_worked_two_pes():
    # PE 0 holds rows 0,2,4, PE 1 rows 1,3,5: column 0 -> PE 0 local 0,
    # PE 1 local 2; column 1 -> PE 0 local 1. No padding with r = 2.
    l = storage_report(CompressedModel([hand_layer()]), n_pes=2, index_bits=2).layers[0]
    assert (l.entries, l.padding) == (3, 0)
    assert l.pointer_bits == 2 and l.pointer_bytes == 2  # 2 x 3 pointers of 2 bits
    d = l.to_dict()
    assert d["entries"] == 3 and d["compression_ratio"] == pytest.approx(72 / l.total_bytes)


def test_report_huffman_never_worse_than_fixed_width():
    layers = make_layers(np.random.default_rng(4))
    rep = storage_report(compress(layers, density=0.2), n_pes=4, index_bits=3)
    for l in rep.layers:
        assert l.code_bytes_huffman <= l.code_bytes and l.index_bytes_huffman <= l.index_bytes
    assert rep.compression_ratio_huffman >= rep.compression_ratio > 1
    assert rep.dense_bytes == 4 * (30 * 20 + 30 + 10 * 30 + 10)
    text = rep.format_table()
    assert "fc1" in text and "fc2" in text and "Huffman" in text
    with pytest.raises(ConfigError):
        storage_report(compress(layers), n_pes=0)


def test_huffman_bits_per_weight_are_exact_not_byte_rounded():
    # One kept weight, one entry: a single-symbol Huffman code costs 1 bit, not a whole byte.
    from eie.compression.model import CompressedLayer, CompressedModel
    from eie.format.storage import storage_report

    layer = CompressedLayer("one", (1, 1), [0], [0], [1], np.array([0.0, 1.0]), np.zeros(1), weight_bits=1)
    st = storage_report(CompressedModel([layer]), n_pes=1, index_bits=4).layers[0]
    assert st.entries == 1
    assert st.bits_per_weight_huffman == 1.0 and st.bits_per_index_huffman == 1.0
    assert st.code_bytes_huffman == 1  # the stored size still rounds up to whole bytes
