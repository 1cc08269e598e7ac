"""Shared fixtures: one real embedded PostgreSQL per test session, in a private cache dir."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "sample"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A harness cache dir whose embedded server lives for the whole session."""
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    path = tmp_path_factory.mktemp("cache")
    (path / "pgdata").mkdir()
    server = pgserver.get_server(path / "pgdata", cleanup_mode="stop")
    yield path
    server.cleanup()
    shutil.rmtree(path, ignore_errors=True)


def run_cli(*args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 300):
    """Run ``python main.py ARGS`` as a user would; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def sample_args(cache_dir: Path, output: Path) -> list[str]:
    return [
        "-q",
        str(SAMPLE / "questions.csv"),
        "--schemas",
        str(SAMPLE / "schemas"),
        "--cache-dir",
        str(cache_dir),
        "-o",
        str(output),
        "--no-progress",
    ]
