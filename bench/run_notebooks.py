"""Execute the notebooks headless and keep their outputs (plots included) for reading.

    python bench/run_notebooks.py        # or: make notebooks

Each notebooks/NN_name.ipynb (committed without outputs) runs in a Jupyter
kernel on this Python, in emulation and co-simulation (no board), and the
executed copy is written to docs/notebooks/NN_name.ipynb, which GitHub and
Jupyter show with its figures. tests/test_notebooks.py runs the same
notebooks and checks their results.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
OUT_DIR = ROOT / "docs" / "notebooks"
KERNEL_NAME = "eie-notebooks-venv"


def main() -> int:
    import nbclient
    import nbformat

    from eie.safeio import atomic_write

    with tempfile.TemporaryDirectory() as base:
        spec = Path(base) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "eie", "language": "python"}))
        os.environ["JUPYTER_PATH"] = base
        os.environ["JUPYTER_RUNTIME_DIR"] = str(Path(base) / "runtime")
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        for path in sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb")):
            t = time.perf_counter()
            nb = nbformat.read(path, as_version=4)
            client = nbclient.NotebookClient(
                nb, kernel_name=KERNEL_NAME, timeout=600, resources={"metadata": {"path": str(NB_DIR)}}
            )
            client.execute()
            nb.metadata.get("kernelspec", {}).update(name="python3", display_name="Python 3")
            atomic_write(OUT_DIR / path.name, nbformat.writes(nb) + "\n")
            print(
                f"{path.name}: executed in {time.perf_counter() - t:.0f} s -> {OUT_DIR.relative_to(ROOT) / path.name}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
