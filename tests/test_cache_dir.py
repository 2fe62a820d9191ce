"""The C-simulation cache follows EIE_CACHE_DIR, else XDG_CACHE_HOME, else ~/.cache (issue 21)."""

from pathlib import Path

from eie.kernel.csim import cache_dir


def test_cache_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv("EIE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "eie-pynq"
    # A relative XDG_CACHE_HOME is invalid per the spec: ignored.
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache_dir() == Path.home() / ".cache" / "eie-pynq"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "eie-pynq"
    monkeypatch.setenv("EIE_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "mine"
