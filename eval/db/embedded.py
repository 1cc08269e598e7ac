"""Engines that keep each database in one file under the cache dir (DuckDB, SQLite).

Shared by :mod:`eval.db.duckdb` and :mod:`eval.db.sqlite`: building a database file from
the (transpiled) schema files under a temporary name and renaming it into place, keyed by
the schema files' hash, the dialect and the sqlglot version (a new sqlglot may transpile
differently); transpiling gold queries once each; a pool of read-only connections; the
row cap. Each engine supplies how to build, open, run under a deadline and interrupt.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlglot

from eval.db.base import Backend, ExecLimits, drain, fetched_result
from eval.dialects import TranspileError, schema_statements, transpile_query
from eval.errors import BadInput
from eval.records import QueryResult
from eval.schemas import SchemaSource
from eval.sqltext import first_line

# Bump when the way files are built changes.
FILE_FORMAT = "2"
_FETCH_CHUNK = 5_000


class FileBackend(Backend):
    """A backend whose databases are files built in ``cache_dir/<dialect>/``."""

    suffix = ".db"

    def __init__(self, cache_dir: Path, limits: ExecLimits = ExecLimits()) -> None:
        self.directory = cache_dir / self.dialect
        self.limits = limits
        self._paths: dict[str, Path] = {}
        self._hashes: dict[str, str] = {}
        self._ddl: dict[str, str] = {}
        self._columns: dict[str, dict[str, dict[str, str]]] = {}
        self._gold: dict[tuple[str, str], str | TranspileError] = {}
        self._gold_lock = threading.Lock()
        self._pools: dict[str, queue.LifoQueue[Any]] = {}
        self._pool_lock = threading.Lock()

    # ---------------------------------------------------------------- building

    def prepare(self, sources: Mapping[str, SchemaSource]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, source in sources.items():
            content_hash = self._file_hash(source)
            path = self.directory / f"{name}-{content_hash[:20]}{self.suffix}"
            columns: dict[str, dict[str, str]] = {}
            statements = self._statements(source, columns)
            if not path.exists():
                self._build_atomically(path, statements)
            self._paths[name] = path
            self._hashes[name] = content_hash
            self._columns[name] = columns
            self._ddl[name] = ";\n".join(s for s in statements if s.upper().startswith("CREATE")) + ";"

    def _file_hash(self, source: SchemaSource) -> str:
        key = f"{source.content_hash}\0{self.dialect}\0{sqlglot.__version__}\0{FILE_FORMAT}"
        return hashlib.sha256(key.encode()).hexdigest()

    def _statements(self, source: SchemaSource, columns: dict[str, dict[str, str]]) -> list[str]:
        """The transpiled statements; ``columns`` receives the column types, for gold rewrites."""
        out = []
        for path, text in source.read():
            try:
                out.extend(schema_statements(text, self.dialect, columns))
            except TranspileError as exc:
                raise BadInput(f"schema file {path} cannot be transpiled to {self.dialect}: {exc}") from exc
        return out

    def _build_atomically(self, path: Path, statements: list[str]) -> None:
        """Build beside ``path`` under a private name, then rename: never a half-built file in use."""
        building = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.building{self.suffix}")
        with contextlib.suppress(FileNotFoundError):
            building.unlink()
        try:
            self._build(building, statements)
            os.replace(building, path)
        finally:
            for leftover in building.parent.glob(building.name + "*"):
                leftover.unlink(missing_ok=True)

    @abc.abstractmethod
    def _build(self, path: Path, statements: list[str]) -> None:
        """Create the database file at ``path`` by running ``statements``; BadInput on failure."""

    def content_hash(self, db_name: str) -> str:
        return self._hashes.get(db_name, "")

    def table_metadata(self, db_name: str) -> str:
        return self._ddl.get(db_name, "")

    def gold_sql(self, sql: str, db_name: str = "") -> str:
        key = (db_name, sql)  # the same text may differ by the database's column types
        with self._gold_lock:
            cached = self._gold.get(key)
        if cached is None:
            try:
                cached = transpile_query(sql, self.dialect, self._columns.get(db_name))
            except TranspileError as exc:
                cached = exc
            with self._gold_lock:
                self._gold[key] = cached
        if isinstance(cached, TranspileError):
            raise cached
        return cached

    # ---------------------------------------------------------------- executing

    def execute(self, db_name: str, sql: str) -> QueryResult:
        if db_name not in self._paths:
            return QueryResult(error=f"unknown database {db_name!r}")
        started = time.perf_counter()
        with self._connection(db_name) as conn:
            return self._run(conn, sql, started)

    @contextlib.contextmanager
    def _connection(self, db_name: str) -> Iterator[Any]:
        with self._pool_lock:
            pool = self._pools.setdefault(db_name, queue.LifoQueue())
        try:
            conn = pool.get_nowait()
        except queue.Empty:
            conn = self._open_reader(self._paths[db_name])
        try:
            yield conn
        finally:
            pool.put(conn)

    @abc.abstractmethod
    def _open_reader(self, path: Path) -> Any:
        """A read-only connection (or cursor) to the file, usable from any one thread at a time."""

    @abc.abstractmethod
    def _run(self, conn: Any, sql: str, started: float) -> QueryResult:
        """Run ``sql`` under the timeout and the row cap; errors as data."""

    def _fetch_capped(self, cursor: Any, started: float) -> QueryResult:
        """Fetch in chunks, stopping past ``max_rows`` (a huge result never reaches memory)."""
        max_rows = self.limits.max_rows
        columns = tuple(d[0] for d in cursor.description or ())
        rows: list[tuple] = []
        while len(rows) <= max_rows:
            chunk = cursor.fetchmany(min(_FETCH_CHUNK, max_rows + 1 - len(rows)))
            if not chunk:
                break
            rows.extend(tuple(r) for r in chunk)
        return fetched_result(columns, rows, max_rows, started)

    def _error_result(self, exc: Exception, started: float, *, timed_out: bool) -> QueryResult:
        """A failed query as data: the timeout when the engine's deadline fired, else its message."""
        elapsed = time.perf_counter() - started
        if timed_out:
            message = f"statement timeout: canceled after {self.limits.timeout_s:g}s"
            return QueryResult(error=message, timeout=True, elapsed_s=elapsed)
        return QueryResult(error=first_line(str(exc)) or type(exc).__name__, elapsed_s=elapsed)

    def _closing_all(self) -> list[Any]:
        """Empty every pool, returning the connections for the engine to close."""
        return [conn for pool in self._pools.values() for conn in drain(pool)]


def open_file_backend(
    dialect: str, cache_dir: Path, limits: ExecLimits, *, pg_url: str | None = None
) -> Backend:
    """The DuckDB or SQLite backend (``--dialect``); they need no server."""
    if pg_url:
        raise BadInput(f"--pg-url is for PostgreSQL; --dialect {dialect} uses an embedded file")
    if dialect == "sqlite":
        from eval.db.sqlite import SqliteBackend

        return SqliteBackend(cache_dir, limits)
    if dialect == "duckdb":
        from eval.db.duckdb import DuckdbBackend

        return DuckdbBackend(cache_dir, limits)
    raise BadInput(f"unknown dialect {dialect!r}: expected postgres, duckdb or sqlite")
