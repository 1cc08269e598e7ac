"""SQLite (stdlib ``sqlite3``): each benchmark database is one file under the cache dir.

Sandbox: the file is opened through a ``mode=ro`` URI (the engine refuses to write it),
with ``PRAGMA query_only``, and an authorizer that allows only reading (SELECT, reads of
columns, functions, recursive CTEs) and denies everything else, ATTACH and PRAGMA
included; no database may be attached. A progress handler aborts a query past the
timeout; rows are fetched in chunks up to the row cap.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

from eval.db.embedded import FileBackend
from eval.errors import BadInput
from eval.records import QueryResult
from eval.sqlite_rewrites import register_functions

# Authorizer actions a read-only query needs; anything else is denied.
_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
_PROGRESS_STEPS = 2_000  # VM instructions between deadline checks (~tens of microseconds)


def _authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class _Reader:
    """One read-only connection and the deadline its progress handler checks."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.conn.execute("PRAGMA query_only = ON")
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        register_functions(self.conn)  # pure functions the gold rewrites call
        self.conn.set_authorizer(_authorize)
        self.deadline = float("inf")
        self.timed_out = False
        self.conn.set_progress_handler(self._progress, _PROGRESS_STEPS)

    def _progress(self) -> int:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1  # non-zero aborts the statement with "interrupted"
        return 0


class SqliteBackend(FileBackend):
    dialect = "sqlite"
    suffix = ".sqlite"

    def engine_version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def _build(self, path: Path, statements: list[str]) -> None:
        conn = sqlite3.connect(path)
        try:
            for statement in statements:
                try:
                    conn.execute(statement)
                except sqlite3.Error as exc:
                    raise BadInput(
                        f"building {path.stem} for sqlite failed: {exc}  ({statement[:120]})"
                    ) from exc
            conn.commit()
            conn.execute("ANALYZE")
        finally:
            conn.close()

    def _open_reader(self, path: Path) -> _Reader:
        return _Reader(path)

    def _run(self, conn: Any, sql: str, started: float) -> QueryResult:
        reader: _Reader = conn
        reader.timed_out = False
        reader.deadline = time.monotonic() + self.limits.timeout_s
        cursor = reader.conn.cursor()
        try:
            cursor.execute(sql)
            return self._fetch_capped(cursor, started)
        except (sqlite3.Error, OverflowError, ValueError) as exc:
            # OverflowError/ValueError: values sqlite3 cannot turn into Python (huge ints, bad text).
            return self._error_result(exc, started, timed_out=reader.timed_out)
        finally:
            reader.deadline = float("inf")
            with contextlib.suppress(sqlite3.Error):
                cursor.close()
            if reader.conn.in_transaction:
                reader.conn.rollback()

    def close(self) -> None:
        for reader in self._closing_all():
            with contextlib.suppress(sqlite3.Error):
                reader.conn.close()
