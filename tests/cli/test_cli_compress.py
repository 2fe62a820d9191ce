"""`eie compress` and `eie inspect`: outputs, --json schema and error paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eie.cli import main
from eie.compression.model import CompressedModel
from eie.compression.weights import DenseLayer, save_weights
from eie.format.csc import encode


@pytest.fixture
def weights(tmp_path):
    rng = np.random.default_rng(0)
    layers = [
        DenseLayer("fc1", rng.standard_normal((40, 24)), rng.standard_normal(40)),
        DenseLayer("fc2", rng.standard_normal((10, 40)), rng.standard_normal(10)),
    ]
    path = tmp_path / "weights.npz"
    save_weights(path, layers)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(capsys, command, *argv, needle=""):
    code, out, err = run(capsys, command, *argv)
    assert code == 2
    assert err.startswith(f"eie {command}: error: ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert needle.lower() in err.lower()
    return err


def test_compress_writes_model(tmp_path, weights, capsys):
    out_path = tmp_path / "model.npz"
    code, out, err = run(
        capsys,
        "compress",
        weights,
        "-o",
        out_path,
        "--density",
        "0.25",
        "--weight-bits",
        "3",
        "--init",
        "density",
        "--seed",
        "5",
    )
    assert code == 0 and err == ""
    assert str(out_path) in out and "fc1" in out and "fc2" in out
    model = CompressedModel.load(out_path)
    assert [l.nnz for l in model.layers] == [240, 100]
    assert [l.activation for l in model.layers] == ["relu", "none"]
    assert all(l.weight_bits == 3 for l in model.layers)
    assert model.settings["init"] == "density" and model.settings["seed"] == 5
    assert model.settings["density"] == 0.25 and model.settings["prune"] is True


def test_compress_no_prune_and_last_activation(tmp_path, weights, capsys):
    out_path = tmp_path / "model.npz"
    code, _, _ = run(capsys, "compress", weights, "-o", out_path, "--no-prune", "--last-activation", "relu")
    assert code == 0
    model = CompressedModel.load(out_path)
    assert [l.nnz for l in model.layers] == [40 * 24, 10 * 40]
    assert [l.activation for l in model.layers] == ["relu", "relu"]
    assert model.settings["prune"] is False


def test_inspect_table_and_json(tmp_path, weights, capsys):
    model_path = tmp_path / "model.npz"
    assert run(capsys, "compress", weights, "-o", model_path, "--density", "0.1")[0] == 0
    code, out, err = run(capsys, "inspect", model_path, "--pes", "4", "--index-bits", "2")
    assert code == 0 and err == ""
    assert "fc1" in out and "fc2" in out and "padding" in out and "Huffman" in out

    code, out, err = run(capsys, "inspect", model_path, "--pes", "4", "--index-bits", "2", "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert isinstance(report["compression_ratio"], float)
    assert isinstance(report["compression_ratio_huffman"], float)
    model = CompressedModel.load(model_path)
    assert [l["name"] for l in report["layers"]] == ["fc1", "fc2"]
    for row, layer in zip(report["layers"], model.layers):
        for key in ("name", "rows", "cols", "nnz", "entries", "padding", "weight_bits", "index_bits"):
            assert key in row
        enc = encode(layer.rows, layer.cols, layer.codes, layer.shape, 4, 2, layer.weight_bits)
        assert (row["rows"], row["cols"]) == layer.shape
        assert row["nnz"] == layer.nnz
        assert row["entries"] == enc.total_entries
        assert row["padding"] == enc.total_entries - layer.nnz
        assert row["weight_bits"] == 4 and row["index_bits"] == 2
    dense = 4 * (40 * 24 + 40 + 10 * 40 + 10)
    total = sum(r["total_bytes"] for r in report["layers"])
    assert report["compression_ratio"] == pytest.approx(dense / total)


def test_compress_errors(tmp_path, weights, capsys):
    out_path = tmp_path / "model.npz"
    assert_one_line_error(capsys, "compress", tmp_path / "missing.npz", "-o", out_path, needle="no such file")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip archive")
    assert_one_line_error(capsys, "compress", garbage, "-o", out_path, needle="cannot read")
    for bad in ("0", "1.5", "-0.2"):
        assert_one_line_error(capsys, "compress", weights, "-o", out_path, "--density", bad, needle="(0, 1]")
    for bad in ("0", "9"):
        assert_one_line_error(capsys, "compress", weights, "-o", out_path, "--weight-bits", bad, needle="weight-bits")
    assert_one_line_error(capsys, "compress", weights, "-o", tmp_path / "no" / "dir" / "m.npz", needle="no such file")
    assert not out_path.exists()


def test_compress_wrong_shapes(tmp_path, capsys):
    out_path = tmp_path / "model.npz"
    mismatched = tmp_path / "mismatched.npz"
    np.savez(mismatched, **{"a.weight": np.ones((5, 3)), "b.weight": np.ones((2, 4))})
    assert_one_line_error(capsys, "compress", mismatched, "-o", out_path, needle="inputs")
    flat = tmp_path / "flat.npz"
    np.savez(flat, **{"a.weight": np.ones(5)})
    assert_one_line_error(capsys, "compress", flat, "-o", out_path, needle="2-D")
    bias = tmp_path / "bias.npz"
    np.savez(bias, **{"a.weight": np.ones((5, 3)), "a.bias": np.ones(3)})
    assert_one_line_error(capsys, "compress", bias, "-o", out_path, needle="bias")


def test_inspect_errors(tmp_path, weights, capsys):
    assert_one_line_error(capsys, "inspect", tmp_path / "missing.npz", needle="no such file")
    assert_one_line_error(capsys, "inspect", weights, needle="not a compressed model")
    model_path = tmp_path / "model.npz"
    assert run(capsys, "compress", weights, "-o", model_path)[0] == 0
    assert_one_line_error(capsys, "inspect", model_path, "--index-bits", "9", needle="index-bits")
    assert_one_line_error(capsys, "inspect", model_path, "--pes", "0", needle="pes")


def test_argparse_rejects_unknown_choices(weights, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["compress", str(weights), "-o", str(tmp_path / "m.npz"), "--init", "kmeans++"])
    assert info.value.code == 2
    assert "--init" in capsys.readouterr().err
