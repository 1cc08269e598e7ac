"""Shared fixtures: one real embedded PostgreSQL per test session, in a private cache dir."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from eval.db.postgres import forget_dead_handles

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "sample"


@pytest.fixture(scope="session", autouse=True)
def no_server_left_running(tmp_path_factory):
    """After the session, no embedded PostgreSQL of any of its cache dirs is still running
    (they all live under the session's base temp dir). Any left are killed, and the
    session fails."""
    yield
    left = postgres_processes(tmp_path_factory.getbasetemp())
    for proc in left:
        with contextlib.suppress(psutil.Error):  # it may have exited meanwhile
            proc.kill()
    assert not left, f"embedded PostgreSQL left running: {[' '.join(p.info['cmdline']) for p in left]}"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A harness cache dir whose embedded server lives for the whole session."""
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    path = tmp_path_factory.mktemp("cache")
    (path / "pgdata").mkdir()
    server = pgserver.get_server(path / "pgdata", cleanup_mode="stop")
    # Durability is worthless in a throwaway data dir, and DROP/CREATE DATABASE (variants,
    # rebuilt benchmarks) each wait for a checkpoint's fsyncs: test_variants.py ran in 50-57 s
    # instead of 93-99 s on a loaded 2-core machine. Servers of a test's own cache dir keep
    # the default.
    server.psql("ALTER SYSTEM SET fsync = off; SELECT pg_reload_conf();")
    yield path
    forget_dead_handles(path / "pgdata")  # runs that tests SIGKILLed still hold a handle
    server.cleanup()
    shutil.rmtree(path, ignore_errors=True)


def postgres_processes(under: Path) -> list[psutil.Process]:
    """Running postgres server processes whose data directory is inside ``under``."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        args = proc.info["cmdline"] or []
        if proc.info["name"] != "postgres" or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        pgdata = args[args.index("-D") + 1] if "-D" in args[:-1] else ""  # the postmaster's
        if pgdata and Path(pgdata).is_relative_to(under.resolve()):
            found.append(proc)
    return found


def ignore_sigint() -> None:
    """``preexec_fn`` for a child that inherits SIGINT as ignored (nohup, ``cmd &`` in a
    script, some CI runners): the harness must install its handler itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


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
