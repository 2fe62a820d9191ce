"""The bundle installs the toolkit on the board from its own wheel (issue 21).

A fresh venv (no system site-packages) with numpy alone stands for the PYNQ
image's numpy-only install: the bundle's wheel installs into it with the one
line the README gives, and ``eie run BUNDLE --backend emulator`` there gives the
integers the host gives, bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from eie.board.bundle import Bundle
from eie.board.deploy import deploy
from eie.compression.pipeline import compress
from eie.compression.weights import DenseLayer


@pytest.mark.slow
def test_the_bundles_wheel_installs_on_numpy_alone_and_runs_the_bundle(tmp_path):
    rng = np.random.default_rng(8)
    layers = [
        DenseLayer("fc1", rng.standard_normal((30, 20)), rng.standard_normal(30)),
        DenseLayer("fc2", rng.standard_normal((6, 30)), rng.standard_normal(6), activation="none"),
    ]
    model = compress(layers, density=0.3)
    model.calibrate(rng.uniform(0, 4, (32, 20)))
    bundle = tmp_path / "bundle"
    m = deploy(model, bundle, vectors=4)
    wheel = bundle / m["wheel"]
    assert m["install"] == f"pip install {wheel.name}" and wheel.name in m["files"]
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(f"{wheel.name.split('-py3')[0]}.dist-info/METADATA").decode()
        names = z.namelist()
    # numpy is the one requirement outside the board extra.
    reqs = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert [r for r in reqs if "extra ==" not in r] == ["Requires-Dist: numpy>=1.21"]
    assert "eie/board/driver.py" in names and "eie/_data/notebooks/03_pynq_board.ipynb" in names
    assert not any(n.startswith("eie/_data/notebooks/01_") or n.startswith("eie/_data/notebooks/02_") for n in names)

    # Nothing of this checkout may leak in (PYTHONPATH would make pip see eie-pynq as installed).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, env=env)
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "numpy"], check=True, timeout=300, env=env)
    subprocess.run([*pip, wheel.name], check=True, timeout=300, cwd=bundle, env=env)
    listed = subprocess.run(
        [str(py), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, timeout=60, env=env
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert installed - {"pip", "setuptools", "wheel"} == {"numpy", "eie-pynq"}

    x = rng.uniform(0, 4, (7, 20))
    np.save(tmp_path / "x.npy", x)
    res = subprocess.run(
        [
            str(venv / "bin" / "eie"),
            "run",
            str(bundle),
            "--input",
            str(tmp_path / "x.npy"),
            "--backend",
            "emulator",
            "-o",
            str(tmp_path / "y.npy"),
            "--json",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    host = Bundle.open(bundle)
    assert np.array_equal(np.load(tmp_path / "y.npy"), host.run(x, "emulator"))
    assert np.unique(np.load(tmp_path / "y.npy")).size > 10
    # The installed toolkit is the wheel's, not this checkout.
    where = subprocess.run([str(py), "-c", "import eie; print(eie.__file__)"], capture_output=True, text=True, env=env)
    assert str(venv) in where.stdout
    # pynq's entry point module imports there (no pynq: the driver says so when used, not at import).
    drv = subprocess.run(
        [str(py), "-c", "import eie.board.driver"], capture_output=True, text=True, timeout=60, env=env
    )
    assert drv.returncode == 0, drv.stderr
