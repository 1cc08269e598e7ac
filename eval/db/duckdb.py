"""DuckDB (optional extra ``pip install '.[duckdb]'``): each database is one file in the cache dir.

Sandbox: the file is opened ``read_only=True`` with ``enable_external_access = false``
(no reading or writing other files: ``read_csv``, ``COPY``, ``ATTACH``, ``EXPORT``,
extension installs all fail) and ``lock_configuration = true`` (no query can lift a
setting); only what DuckDB's own parser reads as one SELECT is run (no temporary objects
left on a pooled cursor). One watchdog thread calls ``interrupt()`` past the timeout;
rows are fetched in chunks up to the row cap.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from pathlib import Path
from typing import Any

from eval.db.base import ExecLimits
from eval.db.embedded import FileBackend
from eval.errors import BadInput
from eval.records import QueryResult

_READER_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "memory_limit": "2GB",
    "lock_configuration": True,
}


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:
        raise BadInput("--dialect duckdb needs the duckdb package: pip install '.[duckdb]'") from exc
    return duckdb


class _Watchdog:
    """Interrupts a connection whose query runs past its deadline.

    One thread for the backend, started on first use: a ``threading.Timer`` per query
    started a new thread each time (~0.2 ms here, as much as a small query). Interrupts
    and :meth:`unwatch` hold the same lock, so a finished query is never interrupted.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watched: dict[int, tuple[float, Any, threading.Event]] = {}
        self._count = 0
        self._wakes_at = math.inf
        self._thread: threading.Thread | None = None
        self._stopped = False

    def watch(self, conn: Any, timeout_s: float) -> tuple[int, threading.Event]:
        """Interrupt ``conn`` in ``timeout_s`` unless unwatched; the event says it fired."""
        fired = threading.Event()
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._count += 1
            self._watched[self._count] = (deadline, conn, fired)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="sqlharness-duckdb-watchdog", daemon=True
                )
                self._thread.start()
            if deadline < self._wakes_at:
                self._cond.notify()
            return self._count, fired

    def unwatch(self, key: int) -> None:
        with self._cond:
            self._watched.pop(key, None)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _loop(self) -> None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                for key, (deadline, conn, fired) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[key]
                        fired.set()
                        conn.interrupt()
                self._wakes_at = min((d for d, _, _ in self._watched.values()), default=math.inf)
                self._cond.wait(None if self._wakes_at == math.inf else self._wakes_at - now)


class DuckdbBackend(FileBackend):
    dialect = "duckdb"
    suffix = ".duckdb"

    def __init__(self, cache_dir: Path, limits: ExecLimits = ExecLimits()) -> None:
        self._duck = _duckdb()
        super().__init__(cache_dir, limits)
        self._instances: dict[Path, Any] = {}
        self._instances_lock = threading.Lock()
        self._watchdog = _Watchdog()

    def engine_version(self) -> str:
        return f"DuckDB {self._duck.__version__}"

    def _build(self, path: Path, statements: list[str]) -> None:
        conn = self._duck.connect(str(path))
        try:
            for statement in statements:
                try:
                    conn.execute(statement)
                except self._duck.Error as exc:
                    raise BadInput(
                        f"building {path.stem} for duckdb failed: {exc}  ({statement[:120]})"
                    ) from exc
            conn.execute("CHECKPOINT")
        finally:
            conn.close()

    def _open_reader(self, path: Path) -> Any:
        # One database instance per file (DuckDB allows one configuration per file per
        # process); each pooled reader is a cursor of it, used by one thread at a time.
        with self._instances_lock:
            instance = self._instances.get(path)
            if instance is None:
                instance = self._duck.connect(str(path), read_only=True, config=dict(_READER_CONFIG))
                self._instances[path] = instance
            return instance.cursor()

    def _run(self, conn: Any, sql: str, started: float) -> QueryResult:
        key, fired = self._watchdog.watch(conn, self.limits.timeout_s)
        try:
            self._refuse_all_but_one_select(sql)
            conn.execute(sql)
            return self._fetch_capped(conn, started)
        except self._duck.Error as exc:
            timed_out = fired.is_set() or isinstance(exc, self._duck.InterruptException)
            return self._error_result(exc, started, timed_out=timed_out)
        finally:
            self._watchdog.unwatch(key)

    def _refuse_all_but_one_select(self, sql: str) -> None:
        """Raise unless DuckDB's own parser reads ``sql`` as one SELECT.

        A read-only file still lets a connection create temporary objects, and a pooled
        cursor would keep them for later queries (a ``TEMP VIEW orders`` hiding the table).
        """
        statements = self._duck.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != self._duck.StatementType.SELECT:
            kinds = ", ".join(s.type.name for s in statements) or "nothing"
            raise self._duck.InvalidInputException(f"not a query: only one SELECT is run, not {kinds}")

    def close(self) -> None:
        self._watchdog.stop()
        for cursor in self._closing_all():
            with contextlib.suppress(Exception):
                cursor.close()
        for instance in self._instances.values():
            with contextlib.suppress(Exception):
                instance.close()
        self._instances.clear()
