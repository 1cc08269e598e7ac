"""The database backend interface: prepare databases, run one query under limits.

A backend builds each benchmark database from its schema files once (reusing it while
the files are unchanged), and executes one SQL statement at a time as a least-privilege
reader, returning rows or an error as data. Pooling, retries and server recovery are the
backend's business; callers only see :class:`~eval.records.QueryResult`.
"""

from __future__ import annotations

import abc
import queue
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from eval.records import QueryResult
from eval.schemas import SchemaSource


@dataclass(frozen=True)
class ExecLimits:
    """Resource caps for one query."""

    timeout_s: float = 10.0
    max_rows: int = 100_000
    work_mem: str = "64MB"
    temp_file_limit: str = "1GB"
    lock_timeout_s: float = 2.0


def fetched_result(
    columns: tuple[str, ...], rows: Sequence[tuple], max_rows: int, started: float
) -> QueryResult:
    """The rows a capped fetch got: a result, or "too large" when it went past ``max_rows``."""
    elapsed = time.perf_counter() - started
    if len(rows) > max_rows:
        return QueryResult(
            error=f"result too large: more than {max_rows} rows", too_large=True, elapsed_s=elapsed
        )
    return QueryResult(columns=columns, rows=tuple(rows), elapsed_s=elapsed)


_Conn = TypeVar("_Conn")


def drain(pool: queue.Queue[_Conn]) -> list[_Conn]:
    """Take every idle connection out of ``pool`` (for the engine to close)."""
    out = []
    while True:
        try:
            out.append(pool.get_nowait())
        except queue.Empty:
            return out


class Backend(abc.ABC):
    """One database engine holding the benchmark's databases."""

    dialect: str = "postgres"
    """The SQL dialect predictions are written in (sqlglot's name; prompts name it too)."""

    @abc.abstractmethod
    def prepare(self, sources: Mapping[str, SchemaSource]) -> None:
        """Create and seed each database unless an identical build is already there."""

    @abc.abstractmethod
    def execute(self, db_name: str, sql: str) -> QueryResult:
        """Run one query read-only under the limits; errors come back as data.

        Safe to call from several threads at once.
        """

    def gold_sql(self, sql: str, db_name: str = "") -> str:
        """A gold query (written for PostgreSQL) as this engine runs it on ``db_name``.

        Raises :class:`eval.sqltext.SqlTextError` when it cannot be transpiled faithfully.
        """
        return sql

    def content_hash(self, db_name: str) -> str:
        """Identity of the database's content (gold results are cached under it)."""
        return ""

    def table_metadata(self, db_name: str) -> str:
        """CREATE TABLE text with column comments, for prompts."""
        return ""

    def engine_version(self) -> str:
        """The engine and its version, for the summary (``PostgreSQL 16.4``); '' if unknown."""
        return ""

    def close(self) -> None:
        """Close connections and stop what the backend started."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
