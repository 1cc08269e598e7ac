"""Other SQL engines: transpiling the benchmark from PostgreSQL, and comparing across engines.

The benchmark is written for PostgreSQL. For ``--dialect duckdb|sqlite`` the schema files
and the gold queries are transpiled with sqlglot (:func:`transpile_query`,
:func:`schema_statements`); predictions are run as given, in the target dialect.

Engines return the same answer in different Python types (DuckDB and PostgreSQL give
``Decimal`` and ``date``; SQLite gives ``float``, ISO text for dates and ``0/1`` for
booleans). Within one engine that never matters: gold and prediction come from the same
engine. Only ``validate --dialect`` compares engines, and it does so through
:func:`comparable`, the one place where those differences are ironed out.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError

from eval.records import QueryResult
from eval.sqlite_rewrites import RewriteError, Schema, rewrite_for_sqlite
from eval.sqltext import DIALECT, SqlTextError, first_line

DIALECTS = ("postgres", "duckdb", "sqlite")


class TranspileError(SqlTextError):
    """sqlglot cannot turn the PostgreSQL text into the target dialect faithfully."""


def transpile_query(sql: str, dialect: str, schema: Schema | None = None) -> str:
    """``sql`` (PostgreSQL) in ``dialect``; raises TranspileError where sqlglot would guess.

    ``schema`` (table -> column -> PostgreSQL type, as :func:`schema_statements` collects
    them) lets the SQLite rewrites (:mod:`eval.sqlite_rewrites`) tell dates, timestamps,
    intervals and numerics apart.
    """
    if dialect == DIALECT:
        return sql
    tree: exp.Expr = _parse_one(sql)
    if dialect == "sqlite":
        try:
            tree = rewrite_for_sqlite(tree, schema)
        except RewriteError as exc:
            raise TranspileError(f"not faithful in sqlite: {exc}") from exc
    return _generate(tree, dialect)


def to_postgres(sql: str, dialect: str) -> str:
    """``sql`` written in ``dialect`` (any sqlglot reads) as PostgreSQL text; raises
    TranspileError where sqlglot cannot say it faithfully."""
    if dialect == DIALECT:
        return sql
    return _generate(_parse_one(sql, dialect), DIALECT)


def _parse_one(sql: str, dialect: str = DIALECT) -> exp.Expression:
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if isinstance(t, exp.Expression)]
    except (ParseError, TokenError) as exc:
        raise TranspileError(f"cannot parse: {first_line(str(exc))}") from exc
    if len(trees) != 1:
        raise TranspileError(f"expected one statement, found {len(trees)}")
    return trees[0]


def _generate(tree: exp.Expr, dialect: str) -> str:
    try:
        # RAISE: an unsupported construct is an error, not a silently different query.
        return tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise TranspileError(f"not supported in {dialect}: {first_line(str(exc))}") from exc


# Statements of a schema file that only matter to PostgreSQL (pg_dump preambles, owners,
# extensions); they are skipped rather than failing the build.
_SKIPPED = (exp.Set, exp.Command, exp.Comment, exp.Grant, exp.Transaction, exp.Commit)


def schema_statements(text: str, dialect: str, columns: dict[str, dict[str, str]] | None = None) -> list[str]:
    """The statements of one schema file (PostgreSQL) as ``dialect`` text, in order.

    Comments (``COMMENT ON``), ``SET``, ownership and other PostgreSQL-only commands are
    dropped; what does not parse or transpile raises TranspileError. ``columns``, when
    given, receives table -> column -> PostgreSQL type (for :func:`transpile_query`).
    """
    try:
        trees = sqlglot.parse(text, read=DIALECT)
    except (ParseError, TokenError) as exc:
        raise TranspileError(f"cannot parse: {first_line(str(exc))}") from exc
    out = []
    for tree in trees:
        if not isinstance(tree, exp.Expression) or isinstance(tree, _SKIPPED) or _is_pg_only(tree):
            continue
        if isinstance(tree, exp.Create):
            if columns is not None and tree.kind == "TABLE" and isinstance(tree.this, exp.Schema):
                columns[tree.this.this.name] = _column_types(tree)
            tree = _without_foreign_keys(tree)
        out.append(_generate(tree, dialect))
    return out


def _column_types(tree: exp.Create) -> dict[str, str]:
    """column -> PostgreSQL type of one CREATE TABLE."""
    if not isinstance(tree.this, exp.Schema):
        return {}
    return {
        col.name: col.args["kind"].sql(DIALECT)
        for col in tree.this.expressions
        if isinstance(col, exp.ColumnDef) and col.args.get("kind")
    }


def _without_foreign_keys(tree: exp.Expression) -> exp.Expression:
    """The CREATE TABLE without its foreign keys.

    They cannot change a query's result on a database that is only read, and DuckDB checks
    them row by row within one INSERT (a table referring to itself fails to load).
    """
    tree = tree.copy()
    for node in list(tree.find_all(exp.ForeignKey, exp.Reference)):
        holder = node.parent if isinstance(node.parent, (exp.Constraint, exp.ColumnConstraint)) else node
        if isinstance(node, exp.Reference) and isinstance(node.parent, exp.ForeignKey):
            continue  # removed with its FOREIGN KEY
        holder.pop()
    return tree


def _is_pg_only(tree: exp.Expression) -> bool:
    """``SELECT pg_catalog.set_config(...)`` and similar pg_dump boilerplate."""
    if isinstance(tree, exp.Select) and not tree.args.get("from"):
        return True
    if isinstance(tree, exp.Create):
        return tree.kind not in ("TABLE", "VIEW", "INDEX")
    # ALTER ... OWNER TO, sequence defaults: PostgreSQL bookkeeping.
    return isinstance(tree, exp.Alter)


# --------------------------------------------------------------------------- cross-engine values

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def comparable(result: QueryResult) -> QueryResult:
    """``result`` with engine-specific types made comparable across engines.

    - booleans become 0/1 (SQLite has no boolean type);
    - ISO text dates and timestamps become ``date``/``datetime`` (SQLite stores them as text);
    - Decimal and float are left alone: the comparator already equates them within tolerance;
    - time zones are dropped from aware timestamps after converting to UTC;
    - intervals become a number of days (how the SQLite rewrites keep them).
    """
    rows = tuple(tuple(_value(v) for v in row) for row in result.rows)
    return replace(result, rows=rows)


def _value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        if _ISO_DATE.match(value):
            return dt.date.fromisoformat(value)
        if _ISO_TIMESTAMP.match(value):
            return dt.datetime.fromisoformat(value)
        return value
    if isinstance(value, dt.timedelta):
        return value / dt.timedelta(days=1)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value
