"""PostgreSQL date/time semantics rewritten for SQLite (eval/sqlite_rewrites.py).

Each case is a PostgreSQL query and the rows it must return, written here. The query runs
on a real SQLite database built from a PostgreSQL schema file through the normal backend
(transpiled gold, registered functions, read-only sandbox), and on the real embedded
PostgreSQL, and both must give the written rows after :func:`eval.dialects.comparable`.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import pytest

from eval.db.base import ExecLimits
from eval.db.embedded import open_file_backend
from eval.db.postgres import EmbeddedServer, PostgresBackend
from eval.dialects import TranspileError, comparable, transpile_query
from eval.records import QueryResult
from eval.schemas import discover

# Dates chosen for the edges: a Sunday, 1 January in ISO week 53, a leap day, month ends.
SCHEMA = """
CREATE TABLE ev (
  id integer PRIMARY KEY,
  d date NOT NULL,
  d2 date NOT NULL,
  ts timestamp NOT NULL,
  ts2 timestamp
);
INSERT INTO ev VALUES
  (1, '2021-01-01', '2021-01-11', '2024-01-31 10:30:00', '2024-02-01 22:30:00'),
  (2, '2024-03-03', '2024-03-01', '2024-02-29 23:59:59', '2024-03-03 00:00:00'),
  (3, '2024-12-30', '2025-01-02', '2023-11-15 08:05:09', NULL),
  (4, '2020-02-29', '2024-02-28', '2024-05-19 12:00:00', '2024-05-19 13:00:00');
CREATE TABLE pay (id integer PRIMARY KEY, part numeric(10,3) NOT NULL);
INSERT INTO pay VALUES (1, 0.1), (2, 0.2), (3, 0.3), (4, 0.301);
"""

D, T = dt.date, dt.datetime

CASES = [
    # EXTRACT of calendar fields
    (
        "SELECT id, EXTRACT(YEAR FROM d), EXTRACT(MONTH FROM ts), EXTRACT(DAY FROM d) FROM ev WHERE id <= 2",
        [(1, 2021, 1, 1), (2, 2024, 2, 3)],
    ),
    (
        "SELECT id, EXTRACT(WEEK FROM d), EXTRACT(ISOYEAR FROM d) FROM ev WHERE id IN (1, 3)",
        [(1, 53, 2020), (3, 1, 2025)],
    ),
    (
        "SELECT id, EXTRACT(DOW FROM d), EXTRACT(ISODOW FROM d) FROM ev WHERE id IN (1, 2)",
        [(1, 5, 5), (2, 0, 7)],
    ),
    (
        "SELECT id, EXTRACT(QUARTER FROM ts), EXTRACT(HOUR FROM ts), EXTRACT(DOY FROM d) FROM ev WHERE id = 3",
        [(3, 4, 8, 365)],
    ),
    ("SELECT EXTRACT(EPOCH FROM ts) FROM ev WHERE id = 4", [(1716120000,)]),
    # date_trunc gives a timestamp in the data's text format
    (
        "SELECT id, date_trunc('month', ts), date_trunc('year', d) FROM ev WHERE id IN (1, 2)",
        [(1, T(2024, 1, 1), T(2021, 1, 1)), (2, T(2024, 2, 1), T(2024, 1, 1))],
    ),
    (
        "SELECT id, date_trunc('week', ts) FROM ev",  # weeks start on Monday; id 4 is a Sunday
        [(1, T(2024, 1, 29)), (2, T(2024, 2, 26)), (3, T(2023, 11, 13)), (4, T(2024, 5, 13))],
    ),
    (
        "SELECT date_trunc('quarter', ts), date_trunc('hour', ts), date_trunc('day', ts) FROM ev WHERE id = 3",
        [(T(2023, 10, 1), T(2023, 11, 15, 8), T(2023, 11, 15))],
    ),
    (
        "SELECT COUNT(*) FROM ev GROUP BY date_trunc('month', ts) HAVING date_trunc('month', ts) >= '2024-02-01'",
        [(1,), (1,)],
    ),
    # timestamp +- interval, months clamped to the month's end as PostgreSQL does
    (
        "SELECT id, ts + INTERVAL '1 month' FROM ev WHERE id IN (1, 2)",
        [(1, T(2024, 2, 29, 10, 30)), (2, T(2024, 3, 29, 23, 59, 59))],
    ),
    (
        "SELECT ts - INTERVAL '1 year 2 days', ts + INTERVAL '36 hours', ts + INTERVAL '90' MINUTE FROM ev WHERE id = 2",
        [(T(2023, 2, 26, 23, 59, 59), T(2024, 3, 2, 11, 59, 59), T(2024, 3, 1, 1, 29, 59))],
    ),
    ("SELECT ts + INTERVAL '100 days 1 second' FROM ev WHERE id = 3", [(T(2024, 2, 23, 8, 5, 10),)]),
    (
        "SELECT ts - INTERVAL '2 hrs 5 mins', 7 + d FROM ev WHERE id = 3",
        [(T(2023, 11, 15, 6, 0, 9), D(2025, 1, 6))],
    ),
    (
        "SELECT d + INTERVAL '1 day', d + 1, d - 3 FROM ev WHERE id = 4",
        [(T(2020, 3, 1), D(2020, 3, 1), D(2020, 2, 26))],
    ),
    # differences: date - date is whole days, timestamp - timestamp an interval (days here)
    ("SELECT id, d2 - d FROM ev ORDER BY id", [(1, 10), (2, -2), (3, 3), (4, 1460)]),
    ("SELECT AVG(d2 - d) FROM ev", [(Decimal("367.75"),)]),
    (
        "SELECT id, EXTRACT(EPOCH FROM ts2 - ts) / 3600 FROM ev WHERE ts2 IS NOT NULL",
        [(1, 36), (2, 48.0002777), (4, 1)],
    ),
    ("SELECT id FROM ev WHERE ts2 - ts > INTERVAL '1 day'", [(1,), (2,)]),
    ("SELECT id FROM ev WHERE ts2 - ts <= INTERVAL '90 minutes'", [(4,)]),
    ("SELECT ts2 - ts FROM ev WHERE id = 4", [(dt.timedelta(hours=1),)]),
    ("SELECT id FROM ev WHERE ts2 < d2 + INTERVAL '2 weeks'", [(2,)]),
    (
        "SELECT to_char(ts, 'YYYY-MM'), to_char(ts, 'YYYY-MM-DD HH24:MI:SS') FROM ev WHERE id = 3",
        [("2023-11", "2023-11-15 08:05:09")],
    ),
    # generate_series in FROM becomes a recursive CTE with the same values
    (
        "SELECT m.x FROM generate_series('2024-01-31'::timestamp, '2024-04-30', INTERVAL '1 month') AS m(x)",
        [(T(2024, 1, 31),), (T(2024, 2, 29),), (T(2024, 3, 29),), (T(2024, 4, 29),)],
    ),
    (
        "SELECT s, COUNT(e.id) FROM generate_series(DATE '2024-02-28', DATE '2024-03-01', INTERVAL '1 day') AS s "
        "LEFT JOIN ev e ON e.ts >= s AND e.ts < s + INTERVAL '1 day' GROUP BY s",
        [(T(2024, 2, 28), 0), (T(2024, 2, 29), 1), (T(2024, 3, 1), 0)],
    ),
    ("SELECT n FROM generate_series(10, 1, -4) AS n", [(10,), (6,), (2,)]),
    ("SELECT COUNT(*) FROM generate_series(5, 1) AS n", [(0,)]),
    # grouping sets as a UNION ALL of plain GROUP BYs
    (
        "SELECT EXTRACT(YEAR FROM ts) AS y, EXTRACT(MONTH FROM ts) AS m, COUNT(*) FROM ev "
        "GROUP BY GROUPING SETS ((EXTRACT(YEAR FROM ts), EXTRACT(MONTH FROM ts)), (EXTRACT(YEAR FROM ts)), ())",
        [
            (2024, 1, 1),
            (2024, 2, 1),
            (2023, 11, 1),
            (2024, 5, 1),
            (2024, None, 3),
            (2023, None, 1),
            (None, None, 4),
        ],
    ),
    (
        "SELECT d2 > d AS later, COUNT(*), SUM(id) FROM ev GROUP BY ROLLUP ((d2 > d))",
        [(True, 3, 8), (False, 1, 2), (None, 4, 10)],
    ),
    (
        "SELECT id % 2 AS odd, d2 > d AS later, COUNT(*) FROM ev GROUP BY CUBE (id % 2, (d2 > d)) HAVING COUNT(*) > 1",
        [(1, True, 2), (1, None, 2), (0, None, 2), (None, True, 3), (None, None, 4)],
    ),
    # exact numeric sums compared for equality (0.1 + 0.2 is not 0.3 in floating point)
    ("SELECT p.id FROM (SELECT SUM(part) AS s FROM pay WHERE id <= 2) a JOIN pay p ON a.s = p.part", [(3,)]),
    (
        "SELECT p.id FROM (SELECT SUM(part) AS s FROM pay WHERE id <= 2) a JOIN pay p ON a.s <> p.part",
        [(1,), (2,), (4,)],
    ),
    # completed years, negative when the first date is the earlier one
    (
        "SELECT id, EXTRACT(YEAR FROM age(d2, d)), EXTRACT(YEAR FROM age(d, d2)) FROM ev WHERE id IN (2, 4)",
        [(2, 0, 0), (4, 3, -3)],
    ),
    ("SELECT EXTRACT(YEAR FROM age(DATE '2024-02-29', d)) FROM ev WHERE id = 4", [(4,)]),
]

# What has no faithful SQLite form is refused with the reason, never guessed.
REFUSED = [
    ("SELECT d, COUNT(*) FROM ev GROUP BY GROUPING SETS ((d), ()) ORDER BY d", "GROUPING SETS with ORDER BY"),
    ("SELECT d, GROUPING(d) FROM ev GROUP BY ROLLUP (d)", "ROLLUP with"),
    ("SELECT generate_series(1, 3)", "generate_series"),
    ("SELECT age(d2, d) FROM ev", "age()"),
    ("SELECT age(d) FROM ev", "age()"),
    ("SELECT id FROM ev WHERE ts2 - ts > INTERVAL '1 month'", "months"),
    ("SELECT EXTRACT(CENTURY FROM d) FROM ev", "CENTURY"),
    ("SELECT ts - (SELECT MIN(x) FROM (VALUES (1)) AS v(x)) FROM ev", "untyped"),
    ("SELECT ts + INTERVAL '1.5 seconds' FROM ev", "fraction of a second"),
    ("SELECT to_char(ts, 'Mon YYYY') FROM ev", "to_char format"),
    ("SELECT to_char(ts, 'FMDay') FROM ev", "to_char format"),
]


@pytest.fixture(scope="module")
def engines(tmp_path_factory, cache_dir):
    root: Path = tmp_path_factory.mktemp("rewrites")
    (root / "schemas" / "cal").mkdir(parents=True)
    (root / "schemas" / "cal" / "cal.sql").write_text(SCHEMA)
    sources = discover(root / "schemas", ["cal"])
    with (
        open_file_backend("sqlite", root / "cache", ExecLimits()) as lite,
        PostgresBackend(EmbeddedServer(cache_dir), ExecLimits()) as pg,
    ):
        lite.prepare(sources)
        pg.prepare(sources)
        yield lite, pg


def same(got: QueryResult, expected: list[tuple]) -> bool:
    rows = sorted(comparable(got).rows, key=repr)
    want = sorted(comparable(QueryResult(got.columns, tuple(expected))).rows, key=repr)
    return len(rows) == len(want) and all(
        len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b)) for a, b in zip(rows, want)
    )


def _close(x: object, y: object) -> bool:
    if isinstance(x, (int, float, Decimal)) and isinstance(y, (int, float, Decimal)):
        return math.isclose(float(x), float(y), rel_tol=1e-6, abs_tol=1e-6)
    return x == y


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_rewrite_returns_what_postgres_returns(engines, sql, expected):
    lite, pg = engines
    postgres = pg.execute("cal", sql)
    assert postgres.ok, postgres.error
    assert same(postgres, expected), f"PostgreSQL gave {postgres.rows}: the case itself is wrong"
    sqlite = lite.execute("cal", lite.gold_sql(sql, "cal"))
    assert sqlite.ok, f"{sqlite.error}  ({lite.gold_sql(sql, 'cal')})"
    assert same(sqlite, expected), f"SQLite gave {sqlite.rows}  ({lite.gold_sql(sql, 'cal')})"


@pytest.mark.parametrize(("sql", "reason"), REFUSED, ids=[r[1] for r in REFUSED])
def test_unfaithful_constructs_are_refused_with_a_reason(engines, sql, reason):
    lite, _ = engines
    with pytest.raises(TranspileError, match="not faithful in sqlite") as caught:
        lite.gold_sql(sql, "cal")
    assert reason in str(caught.value)


def test_duckdb_is_left_to_sqlglot():
    """The rewrites are SQLite's alone: DuckDB has real dates and intervals."""
    assert "STRFTIME" not in transpile_query("SELECT EXTRACT(YEAR FROM d) FROM ev", "duckdb").upper()


def test_registered_function_cannot_write(engines):
    """PG_ADD_MONTHS is pure; the sandbox still refuses writes on a connection that has it."""
    lite, _ = engines
    result = lite.execute("cal", "SELECT PG_ADD_MONTHS('2024-01-31', 1)")
    assert result.rows == (("2024-02-29 00:00:00",),)
    assert not lite.execute("cal", "DELETE FROM ev").ok


def test_interval_beside_an_unknown_type_is_refused():
    """Without column types an interval cannot be told from a number: refused, not guessed."""
    with pytest.raises(TranspileError, match="cannot tell the type"):
        transpile_query("SELECT x FROM t WHERE y > INTERVAL '1 day'", "sqlite")
