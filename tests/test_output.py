"""Atomic writes (eval/output.py): the mode a new file gets, and what a failed write leaves."""

from __future__ import annotations

import os
import stat

import pytest

from eval.output import atomic_write_bytes, atomic_write_text


@pytest.fixture
def umask():
    """Set the process umask for one test, then put the old one back."""
    saved = os.umask(0o022)
    yield os.umask
    os.umask(saved)


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664), (0o077, 0o600)])
def test_a_written_file_gets_the_mode_open_would_give(tmp_path, umask, mask, mode):
    umask(mask)
    target = tmp_path / "sub" / "results.csv"
    atomic_write_text(target, "a,b\n1,2\n")
    assert target.read_text() == "a,b\n1,2\n"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert os.listdir(target.parent) == ["results.csv"]  # no temporary file left


def test_writing_never_sets_the_process_umask(tmp_path, monkeypatch):
    # The umask is process-wide: setting it, even for a moment, changes the mode of files
    # other threads create meanwhile (and two writers racing can leave it at 0).
    def refuse(mask: int) -> int:
        raise AssertionError("os.umask called")

    monkeypatch.setattr(os, "umask", refuse)
    atomic_write_bytes(tmp_path / "x.bin", b"\x00\x01")
    assert (tmp_path / "x.bin").read_bytes() == b"\x00\x01"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["summary.json"]
