"""The notebooks: jupytext pairs, committed clean, calling the package, and they run.

Each notebook's source is a jupytext percent-format script
(notebooks/NN_name.py) paired with the .ipynb users open (``formats:
ipynb,py:percent``). Edit either in Jupyter (jupytext keeps the pair in step)
or edit the .py and run ``jupytext --sync notebooks/*.py``; the .ipynb is
committed without outputs, and the first tests check the pair agrees.

Each notebook is executed headless with nbclient and writes its key results
as JSON to the file $EIE_NOTEBOOK_RESULTS names (its last cell; without the
variable, as for a user, it writes and prints nothing); the checks below are properties those
results must have whatever the trained weights turn out to be (the reference
values are computed by the notebook along an independent path, e.g. the
float model next to the integer emulator).

Which Python runs the notebooks: jupyter_client looks kernels up by name in
JUPYTER_PATH, then the user's data dir, then sys.prefix. ipykernel's wheel
installs a "python3" spec into the venv (sys.prefix/share/jupyter), but a
"python3" spec in ~/.local/share/jupyter would shadow it and could point at
another interpreter without the project installed. So the test writes its own
kernel spec, naming this interpreter (sys.executable) explicitly, into a
temporary directory put first on JUPYTER_PATH, under a name no one else uses.
That works in the fresh venv `make test` creates (ipykernel comes with the
"test" extra) without installing anything, and the notebooks report
sys.prefix so the test confirms the kernel really is this venv's Python.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
PKG_DIR = ROOT / "host" / "eie"
KERNEL_NAME = "eie-test-venv"
RESULTS_ENV = "EIE_NOTEBOOK_RESULTS"
PAIRING = "ipynb,py:percent"
NAMES = sorted(p.stem for p in NB_DIR.glob("[0-9][0-9]_*.py"))


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def test_every_notebook_is_a_pair():
    assert NAMES, "no notebooks/NN_*.py sources found"
    assert sorted(p.stem for p in NB_DIR.glob("*.ipynb")) == NAMES, (
        "every notebooks/*.ipynb needs its percent-format .py source and the other way round"
    )


@pytest.mark.parametrize("name", NAMES)
def test_notebook_pair_in_sync_and_without_outputs(name):
    py = jupytext.read(NB_DIR / f"{name}.py")
    ipynb_path = NB_DIR / f"{name}.ipynb"
    assert ipynb_path.exists(), f"{name}.ipynb is missing; run jupytext --sync notebooks/{name}.py"
    nb = jupytext.read(ipynb_path)
    for which, n in (("py", py), ("ipynb", nb)):
        formats = n.metadata.get("jupytext", {}).get("formats")
        assert formats == PAIRING, f"{name}.{which}: jupytext formats {formats!r}, expected {PAIRING!r}"
    assert _cells(py) == _cells(nb), (
        f"{name}.ipynb and {name}.py differ; run jupytext --sync notebooks/{name}.py "
        "(or open and save the notebook in Jupyter with jupytext installed)"
    )
    raw = nbformat.read(ipynb_path, as_version=4)
    nbformat.validate(raw)
    for c in raw.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, f"{name}.ipynb cell {c.id} has outputs"
    last = raw.cells[-1]
    assert last.cell_type == "code" and RESULTS_ENV in last.source and "print(" not in last.source


def _package_functions() -> set[str]:
    """Public module-level functions and classes of the eie package."""
    names = set()
    for path in PKG_DIR.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                names.add(node.name)
    return names


@pytest.mark.parametrize("name", NAMES)
def test_notebook_does_not_redefine_package_functions(name):
    """A notebook calls the package; a function of the same name defined in it is a re-implementation."""
    nb = jupytext.read(NB_DIR / f"{name}.py")
    defined = set()
    for c in nb.cells:
        if c.cell_type == "code":
            for node in ast.walk(ast.parse(c.source)):
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    defined.add(node.name)
    clash = sorted(defined & _package_functions())
    assert not clash, f"{name} defines {clash}, which the eie package already has: import them instead"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("jupyter")
    spec_dir = base / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "eie test (this venv)",
                "language": "python",
            }
        )
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(base))
    # Keep connection files and IPython's history out of the user's home.
    mp.setenv("JUPYTER_RUNTIME_DIR", str(base / "runtime"))
    mp.setenv("IPYTHONDIR", str(base / "ipython"))
    # The inline backend turns every figure into a PNG output, which the
    # tests count; a user's MPLBACKEND=Agg would silently drop them.
    mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    yield base
    mp.undo()


def _execute(name: str, tmp_path: Path) -> tuple[dict, object]:
    nb = nbformat.read(NB_DIR / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=300,
        resources={"metadata": {"path": str(NB_DIR)}},
    )
    results = tmp_path / f"{name}.results.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(RESULTS_ENV, str(results))  # the kernel starts in execute() and inherits it
        client.execute()
    assert results.is_file(), f"{name}: the last cell wrote no results to ${RESULTS_ENV}"
    # The hook prints nothing into the notebook.
    assert nb.cells[-1].outputs == [], f"{name}: the results cell has outputs: {nb.cells[-1].outputs}"
    return json.loads(results.read_text()), nb


def _pngs(nb) -> int:
    return sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("output_type") in ("display_data", "execute_result") and "image/png" in o.get("data", {})
    )


def _no_errors(nb) -> None:
    for c in nb.cells:
        if c.cell_type == "code":
            for o in c.outputs:
                assert o.get("output_type") != "error", f"cell {c.id} raised {o.get('ename')}: {o.get('evalue')}"


@pytest.mark.slow
def test_deep_compression_notebook_runs(kernel_env, tmp_path):
    pytest.importorskip("torch")  # the digits split comes from eie.train (the "train" extra)
    res, nb = _execute("01_deep_compression.ipynb", tmp_path)
    _no_errors(nb)
    assert res["python_prefix"] == sys.prefix, "the notebook ran under another Python than this venv's"
    assert _pngs(nb) >= 6

    # The export must reproduce scikit-learn's own predictions.
    assert res["float_accuracy"] > 0.9
    assert res["exported_accuracy"] == pytest.approx(res["float_accuracy"], abs=1e-12)

    # Density 1.0 keeps every nonzero weight: exactly the float model.
    pr = res["pruning"]
    assert pr["densities"][0] == 1.0
    assert pr["pruned_accuracy"][0] == res["float_accuracy"]
    # One-shot pruning to a few percent must hurt (that is why retraining exists).
    assert pr["pruned_accuracy"][-1] < pr["pruned_accuracy"][0] - 0.1
    # 255 shared values per layer stay within a point of the pruned float weights.
    for a, c in zip(pr["pruned_accuracy"], pr["compressed_accuracy"]):
        assert abs(a - c) <= 0.02

    op = res["operating_point"]
    assert 0.0 < op["overall_density"] < 0.5
    # 63 centroids per layer: within 2 points of the pruned float model.
    for init, accs in res["sharing"]["accuracy"].items():
        assert abs(accs[-1] - op["pruned_accuracy"]) <= 0.02, init

    st = res["storage"]
    assert st["total_bytes_huffman"] < st["total_bytes"] < st["dense_bytes"]
    assert st["compression_ratio_huffman"] > st["compression_ratio"] > 1.0
    assert st["compression_ratio"] == pytest.approx(st["dense_bytes"] / st["total_bytes"])

    q = res["quantised"]
    assert abs(q["integer_accuracy"] - q["reference_accuracy"]) <= 0.02
    assert q["agreement"] >= 0.98
    # Calibrated 16-bit activations: logits within 1 % of the largest logit.
    assert q["max_relative_to_peak"] < 0.01

    img = res["image"]
    assert img["bytes"] == 8 * img["words"] > 0
    assert img["roundtrip_identical"] is True


@pytest.mark.slow
def test_timing_notebook_runs(kernel_env, tmp_path):
    res, nb = _execute("02_eie_timing_and_balance.ipynb", tmp_path)
    _no_errors(nb)
    assert res["python_prefix"] == sys.prefix, "the notebook ran under another Python than this venv's"
    assert _pngs(nb) >= 5

    fifo = res["fifo"]
    for name, eff in fifo["efficiency"].items():
        assert all(0.0 < e <= 1.0 for e in eff), name
        # A deeper FIFO never makes the schedule slower.
        assert all(b >= a - 1e-12 for a, b in zip(eff, eff[1:])), name

    pes = res["pes"]
    assert pes["counts"][0] == 1
    for name, s in pes["speedup"].items():
        assert s[0] == 1.0
        assert all(b > a for a, b in zip(s, s[1:])), name
        # Fewer local rows per PE leave fewer long zero runs to pad.
        pad = pes["padding"][name]
        assert pad[-1] <= pad[0], name

    ib = res["index_bits"]
    for name, pad in ib["padding"].items():
        assert all(b <= a for a, b in zip(pad, pad[1:])), name
        # A PE has ceil(M/N) local rows, so no zero run reaches 2^r once 2^r >= that.
        for r, p in zip(ib["candidates"], pad):
            if 2**r >= ib["local_rows"][name]:
                assert p == 0.0, (name, r)
        cyc = ib["cycles"][name]
        assert cyc[ib["candidates"].index(ib["chosen"][name])] == min(cyc)

    for name, b in res["balance"].items():
        assert b["cycles"][b["strategy"]] == min(b["cycles"].values()) <= b["cycles"]["interleave"], name
    # Uneven row densities are what balancing is for.
    skew = res["balance"]["skewed"]["cycles"]
    assert min(skew.values()) < 0.9 * skew["interleave"]

    busy = res["busy"]
    for label in ("interleaved", "balanced"):
        b = busy[label]["busy"]
        assert len(b) == 64 and min(b) > 0 and max(b) <= busy[label]["array_cycles"]
    assert busy["balanced"]["efficiency"] > busy["interleaved"]["efficiency"]


@pytest.mark.slow
def test_board_notebook_runs_in_cosimulation(kernel_env, tmp_path):
    pytest.importorskip("torch")  # the digits split comes from eie.train (the "train" extra)
    res, nb = _execute("03_pynq_board.ipynb", tmp_path)
    _no_errors(nb)
    assert res["python_prefix"] == sys.prefix
    assert res["on_board"] is False  # no pynq here: the C-simulation stands in for the IP
    assert _pngs(nb) >= 3
    # Every output integer of every test image equals the emulator's.
    assert res["outputs_checked"] == 540 * 10 and res["mismatches"] == 0
    # The model came through a bundle (eie deploy), and its recorded test vectors replay exactly.
    assert res["bundle_vectors_match"] is True
    assert res["accuracy"] > 0.85
    assert all(c > 0 for c in res["modelled_cycles"])
    assert res["modelled_us"] > 0
    # The C-simulation's PE loop trip counts are the timing model's busy cycles + the PE prologue.
    assert res["trip_counts_match"] is True
    # benchmark() ran on the co-simulated IP and says its figures are the host's.
    assert res["benchmark"]["runs"] == 5 and res["benchmark"]["batch"] == 32
    assert "not a hardware measurement" in res["benchmark"]["source"] and res["benchmark_kernel_us"] > 0


def test_only_the_board_notebook_is_delivered_and_the_others_say_host_only():
    """pynq get-notebooks copies the package data's notebooks folder: the wheel a bundle carries and the
    project's package data hold the board notebook only; the host-only ones say so in their first cell."""
    tomllib = pytest.importorskip("tomllib")
    from eie.board.notebooks import BOARD_NOTEBOOKS, HOST_ONLY_NOTEBOOKS

    assert sorted(BOARD_NOTEBOOKS + HOST_ONLY_NOTEBOOKS) == NAMES
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["eie._data"]
    delivered = sorted({p.stem for g in data if g.startswith("notebooks/") for p in ROOT.glob(g)})
    assert delivered == sorted(BOARD_NOTEBOOKS)
    for name in HOST_ONLY_NOTEBOOKS:
        first = jupytext.read(NB_DIR / f"{name}.py").cells[0]
        assert first.cell_type == "markdown" and "**Host only.**" in first.source, name
    for name in BOARD_NOTEBOOKS:
        # What it imports at the top is board-safe (numpy, matplotlib from the image, and eie.BOARD_SAFE).
        from eie.board import BOARD_SAFE

        src = next(c.source for c in jupytext.read(NB_DIR / f"{name}.py").cells if c.cell_type == "code")
        mods = {n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)}
        mods |= {a.name for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Import) for a in n.names}
        third = {m for m in mods if m.split(".")[0] not in sys.stdlib_module_names and not m.startswith("eie")}
        assert third <= {"numpy", "matplotlib.pyplot"}, third
        assert {m for m in mods if m.startswith("eie")} <= set(BOARD_SAFE)
