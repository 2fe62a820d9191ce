"""No file a user had is lost: atomic writes, same-path refusal, marked output directories."""

import pytest

from eie.safeio import MARKER, OutputError, atomic_open, atomic_write, prepare_output_dir, refuse_same_path


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "model.npz"
    p.write_bytes(b"old")
    atomic_write(p, b"new")
    assert p.read_bytes() == b"new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["model.npz"]


def test_failure_midway_keeps_the_old_file(tmp_path):
    p = tmp_path / "model.npz"
    p.write_bytes(b"old contents")
    with pytest.raises(RuntimeError):
        with atomic_open(p) as f:
            f.write(b"half")
            raise RuntimeError("disk full")
    assert p.read_bytes() == b"old contents"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["model.npz"]


def test_output_equal_to_input_is_refused(tmp_path):
    p = tmp_path / "W.npz"
    p.write_bytes(b"weights")
    with pytest.raises(OutputError, match="is the input"):
        refuse_same_path(tmp_path / "." / "W.npz", [None, p])
    refuse_same_path(tmp_path / "M.npz", [p])


def test_user_directory_is_refused_unless_forced(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "eie_top.cpp").write_text("my own kernel")
    with pytest.raises(OutputError, match="--force"):
        prepare_output_dir(d)
    assert (d / "eie_top.cpp").read_text() == "my own kernel"
    prepare_output_dir(d, force=True)
    assert (d / MARKER).exists()


def test_new_and_marked_directories_are_reused(tmp_path):
    d = prepare_output_dir(tmp_path / "a" / "build")
    assert (d / MARKER).exists()
    (d / "image.bin").write_bytes(b"x")
    assert prepare_output_dir(d) == d
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="not a directory"):
        prepare_output_dir(f)


def test_files_and_directories_honour_the_umask(tmp_path):
    """Under umask 022 a new file is 0644 and a directory 0755, as open() and mkdir give them (mkstemp's
    0600 would keep a bundle from a Jupyter server running as another user); a replaced file keeps its mode."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        d = prepare_output_dir(tmp_path / "out")
        atomic_write(d / "a.txt", "x")
        assert stat.S_IMODE((d / "a.txt").stat().st_mode) == 0o644
        assert stat.S_IMODE(d.stat().st_mode) == 0o755
        assert stat.S_IMODE((d / MARKER).stat().st_mode) == 0o644
        os.chmod(d / "a.txt", 0o755)
        atomic_write(d / "a.txt", "y")
        assert stat.S_IMODE((d / "a.txt").stat().st_mode) == 0o755
        os.umask(0o077)
        atomic_write(d / "b.txt", "z")
        assert stat.S_IMODE((d / "b.txt").stat().st_mode) == 0o600
    finally:
        os.umask(old)
