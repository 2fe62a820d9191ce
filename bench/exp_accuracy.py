"""Accuracy the compression keeps (issue 20), through the command line a user runs.

Three cases, each printed with its figures:

* ``uniform``: the digits MLP 64-200-100-10, ``eie compress --density 0.1
  --weight-bits 4 --data --retrain`` (done when within 1 point of float);
* ``search``: the same network, ``--target-drop 0.01 --retrain`` (done when
  within 1 point at an overall density of 10 % or less);
* ``lenet``: Deep Compression's LeNet-300-100 recipe, 784-300-100-10 on the
  digits upsampled to 28 x 28 (bilinear), densities 8 / 9 / 26 %, 6-bit
  weights, ``--retrain``; the integer accuracy against float (done when
  within 0.5 point) and ``eie inspect --pes 1 --index-bits 5`` (Deep
  Compression's accounting: the paper reports 40x with Huffman coding, 32x
  without).

Each float network is trained here (Adam, seeded) on the fixed digits split
of ``eie.train.digits``; nothing is downloaded. Run: ``python
bench/exp_accuracy.py [uniform|search|lenet ...] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def eie(*argv) -> dict:
    """Run ``eie ARGV --json`` in a subprocess (as a user would); its JSON."""
    cmd = [sys.executable, "-m", "eie", *map(str, argv), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def digits(size: int):
    from eie.train.digits import DigitsConfig, load_data

    xtr, ytr, xte, yte = load_data(DigitsConfig())
    if size != 8:
        from scipy.ndimage import zoom

        def up(x):
            return np.stack([zoom(v.reshape(8, 8), size / 8, order=1) for v in x]).reshape(len(x), -1)

        xtr, xte = up(xtr).astype(np.float32), up(xte).astype(np.float32)
    return xtr, ytr, xte, yte


def train_float(sizes, data, out: Path, epochs: int) -> float:
    import torch

    from eie.compression.weights import DenseLayer, save_weights
    from eie.train.digits import mlp
    from eie.train.retrain import fit

    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    m = mlp(sizes)
    fit(m, torch.from_numpy(xtr), torch.from_numpy(ytr), epochs, 1e-3, 32)
    m.eval()
    with torch.no_grad():
        acc = float((m(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
    lin = [c for c in m if isinstance(c, torch.nn.Linear)]
    layers = [
        DenseLayer(f"fc{i + 1}", c.weight.detach().double().numpy(), c.bias.detach().double().numpy(),
                   "relu" if i + 1 < len(lin) else "none")
        for i, c in enumerate(lin)
    ]  # fmt: skip
    save_weights(out / "float.npz", layers)
    np.savez(out / "data.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    return acc


def scores(summary: dict) -> dict:
    return summary["report"]["scores"]


def case_uniform(work: Path) -> None:
    f = train_float([64, 200, 100, 10], digits(8), work, 30)
    t = time.time()
    s = eie("compress", work / "float.npz", "-o", work / "u.npz", "--density", "0.1", "--weight-bits", "4",
            "--data", work / "data.npz", "--retrain")  # fmt: skip
    sc = scores(s)
    integer = [v for k, v in sc.items() if k.startswith("integer")][0]
    print(f"uniform 10 %, 4-bit, --retrain ({time.time() - t:.0f} s): float {f:.2%}, scores "
          + ", ".join(f"{k} {v:.2%}" for k, v in sc.items())
          + f"; drop {f - integer:+.2%} (done when <= 1 point)")  # fmt: skip


def case_search(work: Path) -> None:
    f = train_float([64, 200, 100, 10], digits(8), work, 30)
    t = time.time()
    s = eie("compress", work / "float.npz", "-o", work / "s.npz", "--weight-bits", "4", "--data",
            work / "data.npz", "--retrain", "--target-drop", "0.01")  # fmt: skip
    sr = s["search"]
    for i, tr in enumerate(sr["trials"]):
        print(f"  trial {i + 1}: overall {tr['density']:.2%} ("
              + ", ".join(f"{k} {v:.1%}" for k, v in tr["densities"].items())
              + f") accuracy {tr['score']:.2%} drop {tr['drop']:+.2%} {tr['size_bytes']} B"
              + (" <- written" if i == sr["best"] else ""))  # fmt: skip
    sc = scores(s)
    integer = [v for k, v in sc.items() if k.startswith("integer")][0]
    kept = s["kept"] / s["dense"]
    print(
        f"search --target-drop 0.01 --retrain ({time.time() - t:.0f} s): float {f:.2%}, written model "
        f"{kept:.2%} dense, integer {integer:.2%} (drop {f - integer:+.2%}; done when <= 1 point at <= 10 %)"
    )


def case_lenet(work: Path) -> None:
    f = train_float([784, 300, 100, 10], digits(28), work, 60)
    t = time.time()
    s = eie("compress", work / "float.npz", "-o", work / "l.npz", "--density", "fc1=0.08,fc2=0.09,fc3=0.26",
            "--weight-bits", "6", "--data", work / "data.npz", "--retrain")  # fmt: skip
    sc = scores(s)
    integer = [v for k, v in sc.items() if k.startswith("integer")][0]
    print(f"LeNet-300-100 recipe ({time.time() - t:.0f} s): float {f:.2%}, "
          + ", ".join(f"{k} {v:.2%}" for k, v in sc.items())
          + f"; integer - float {integer - f:+.2%} (done when within 0.5 point)")  # fmt: skip
    ins = eie("inspect", work / "l.npz", "--pes", "1", "--index-bits", "5")
    print(json.dumps({k: v for k, v in ins.items() if "ratio" in k or "bytes" in k}, indent=1))
    # Where the bytes go (Deep Compression counts codes and indices; the EIE layout adds padding
    # entries, column pointers, float32 biases and the codebooks).
    parts = ("code_bytes", "index_bytes", "pointer_bytes", "bias_bytes", "codebook_bytes")
    total = {k: sum(l[k] for l in ins["layers"]) for k in parts}
    huff = {k: sum(l[k] for l in ins["layers"]) for k in ("code_bytes_huffman", "index_bytes_huffman")}
    pad = sum(l["padding"] for l in ins["layers"])
    nnz = sum(l["nnz"] for l in ins["layers"])
    dense = ins["dense_bytes"]
    weights_only = total["code_bytes"] + total["index_bytes"]
    print(f"bytes: {total}, Huffman {huff}; {pad} padding entries for {nnz} weights")
    weights_huff = huff["code_bytes_huffman"] + huff["index_bytes_huffman"]
    print(f"codes + indices only: {dense / weights_only:.1f}x, Huffman {dense / weights_huff:.1f}x (paper: 32x / 40x)")


CASES = {"uniform": case_uniform, "search": case_search, "lenet": case_lenet}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="*", choices=[*CASES, []], default=list(CASES))
    ap.add_argument("--out", help="keep the models here (default: a temporary directory)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        for name in args.cases or CASES:
            work = root / name
            work.mkdir(parents=True, exist_ok=True)
            CASES[name](work)


if __name__ == "__main__":
    main()
