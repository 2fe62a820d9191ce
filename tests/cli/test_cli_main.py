"""The dispatcher: internal errors, closed pipes, ``python -m eie``, the output helper."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import eie.cli.inspect
from eie import __version__
from eie.cli import EXIT_BROKEN_PIPE, EXIT_INTERNAL, main
from eie.cli.output import emit
from eie.compression.model import CompressedLayer, CompressedModel


def _boom(args):
    raise RuntimeError("something went\nwrong")


def test_internal_error_is_one_line_and_exit_70(monkeypatch, capsys):
    monkeypatch.setattr(eie.cli.inspect, "run", _boom)
    monkeypatch.delenv("EIE_DEBUG", raising=False)
    code = main(["inspect", "model.npz"])
    out, err = capsys.readouterr()
    assert code == EXIT_INTERNAL == 70 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("eie inspect: internal error: RuntimeError: something went wrong")
    assert "report" in err and "EIE_DEBUG=1" in err


def test_eie_debug_shows_the_traceback(monkeypatch, capsys):
    monkeypatch.setattr(eie.cli.inspect, "run", _boom)
    monkeypatch.setenv("EIE_DEBUG", "1")
    assert main(["inspect", "model.npz"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err and "_boom" in err and "internal error" in err.splitlines()[-1]


def test_user_errors_stay_exit_2(capsys):
    assert main(["inspect", "missing.npz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eie inspect: error: ") and err.count("\n") == 1


def test_emit_json_or_text(capsys):
    emit(argparse.Namespace(json=True), {"a": 1}, "text")
    emit(argparse.Namespace(json=False), {"a": 1}, "text")
    emit(argparse.Namespace(json=False), {"a": 1}, lambda: "called")
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[0]) == {"a": 1} and out[1:] == ["text", "called"]


def _eie() -> list[str]:
    return [sys.executable, "-m", "eie"]


def test_python_m_eie_version_matches_the_console_script():
    got = subprocess.run(_eie() + ["--version"], capture_output=True, text=True, check=True)
    assert got.stdout.strip() == f"eie {__version__}"
    script = shutil.which("eie", path=str(Path(sys.executable).parent)) or shutil.which("eie")
    if script is None:
        pytest.skip("the eie console script is not installed")
    want = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert got.stdout == want.stdout


@pytest.fixture
def long_model(tmp_path):
    """Enough layers that `eie inspect` prints far more than a pipe buffer (64 KiB)."""
    rng = np.random.default_rng(0)
    layers = [
        CompressedLayer.from_dense_codes(
            f"l{i}", rng.integers(0, 4, (4, 4)).astype(np.uint8), np.array([0.0, 0.5, -0.5, 1.0]), weight_bits=2
        )
        for i in range(600)
    ]
    path = tmp_path / "long.npz"
    CompressedModel(layers).save(path)
    return path


def test_output_piped_to_head_ends_quietly(long_model):
    cmd = " ".join(f"'{a}'" for a in _eie() + ["inspect", str(long_model)])
    got = subprocess.run(
        ["bash", "-c", f'{cmd} | head -1; echo "status ${{PIPESTATUS[0]}}"'],
        capture_output=True,
        text=True,
        env={**os.environ, "EIE_DEBUG": ""},
        timeout=120,
    )
    lines = got.stdout.splitlines()
    assert lines[0].startswith("hardware: ") and lines[-1] == f"status {EXIT_BROKEN_PIPE}", got.stdout[-300:]
    assert got.stderr == ""


def test_closed_stdout_ends_quietly(long_model):
    proc = subprocess.Popen(
        _eie() + ["inspect", str(long_model), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # before the command writes: every write fails
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_BROKEN_PIPE and err == b""
