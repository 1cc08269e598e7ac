"""DuckDB and SQLite backends: transpiled benchmark, oracle runs, sandbox, limits, validate --dialect."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from importlib.util import find_spec
from pathlib import Path

import pytest

from conftest import SAMPLE, run_cli, sample_args
from eval.cli import main
from eval.db.base import ExecLimits
from eval.db.embedded import FileBackend, open_file_backend
from eval.dialects import comparable, transpile_query
from eval.records import QueryResult
from eval.schemas import discover

# duckdb is an optional extra: its cases skip (saying so) where it is not installed.
DIALECTS = [
    "sqlite",
    pytest.param(
        "duckdb",
        marks=pytest.mark.skipif(find_spec("duckdb") is None, reason="needs pip install '.[duckdb]'"),
    ),
]
ORDINARY = ("How many orders are there?", "SELECT COUNT(*) FROM orders")

# (prediction, what the row's error message says) for each dialect; each must leave the file as it was.
HOSTILE = {
    "sqlite": [
        ("DROP TABLE orders", "not a query"),
        ("DELETE FROM orders", "not a query"),
        ("INSERT INTO orders SELECT * FROM orders", "not a query"),
        ("CREATE TABLE evil (x integer)", "not a query"),
        ("ATTACH DATABASE '/tmp/sqlharness_evil.db' AS evil", "not a query"),
        ("PRAGMA query_only = OFF", "not a query"),
        ("PRAGMA journal_mode = DELETE", "not a query"),
        ("VACUUM INTO '/tmp/sqlharness_copy.db'", "not a query"),
        ("SELECT 1; DROP TABLE orders", "2 statements"),
        ("WITH x AS (SELECT 1) DELETE FROM orders", "not a query"),
        ("SELECT load_extension('/tmp/evil.so')", "not authorized"),
        ("SELECT * FROM pragma_table_info('orders')", "not authorized"),
        (
            "SELECT * FROM orders a, orders b, orders c, orders d, orders e, orders f, orders g",
            "result too large",
        ),
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r",
            "statement timeout",
        ),
    ],
    "duckdb": [
        ("DROP TABLE orders", "not a query"),
        ("DELETE FROM orders", "not a query"),
        ("CREATE TABLE evil AS SELECT 1", "not a query"),
        ("ATTACH '/tmp/sqlharness_evil.duckdb' AS evil", "not a query"),
        ("COPY orders TO '/tmp/sqlharness_copy.csv'", "not a query"),
        ("PRAGMA enable_external_access", "not a query"),
        ("SET enable_external_access = true", "not a query"),
        ("INSTALL httpfs", "not a query"),
        ("SELECT * FROM read_csv('/etc/passwd')", "Permission Error"),
        ("SELECT * FROM read_text('/etc/hostname')", "Permission Error"),
        ("SELECT 1; DROP TABLE orders", "2 statements"),
        ("SELECT * FROM range(1000000000)", "result too large"),
        ("SELECT COUNT(*) FROM range(100000000000) a", "statement timeout"),
    ],
}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def file_sums(cache_dir: Path, dialect: str) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((cache_dir / dialect).iterdir())
        if p.is_file()
    }


@pytest.fixture
def file_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("files")


def open_sample(dialect: str, cache: Path, limits: ExecLimits = ExecLimits()) -> FileBackend:
    backend = open_file_backend(dialect, cache, limits)
    assert isinstance(backend, FileBackend)
    backend.prepare(discover(SAMPLE / "schemas", ["shop", "school"]))
    return backend


@pytest.mark.parametrize("dialect", DIALECTS)
def test_oracle_scores_everything(dialect, file_cache, tmp_path):
    out = tmp_path / f"{dialect}.csv"
    args = sample_args(file_cache, out)
    assert main([*args, "--dialect", dialect]) == 0
    rows = read_csv(out)
    assert len(rows) == 12 and all(r["correct"] == "1" for r in rows), [r["mismatch"] for r in rows]
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["accuracy"] == 1.0 and summary["dialect"] == dialect
    engine = {"sqlite": f"SQLite {sqlite3.sqlite_version}", "duckdb": "DuckDB "}[dialect]
    assert summary["versions"]["engine"].startswith(engine) and len(summary["versions"]["engine"]) > 7
    # The oracle's answers are the gold transpiled to the dialect (predictions run as given).
    assert "NULLS FIRST" in rows[3]["generated_query"] or dialect == "duckdb"
    built = sorted((file_cache / dialect).iterdir())
    assert [p.name.split("-")[0] for p in built] == ["school", "shop"]
    # A second run reuses the files (same names, same bytes).
    sums = file_sums(file_cache, dialect)
    assert main([*args, "--dialect", dialect]) == 0
    assert file_sums(file_cache, dialect) == sums


@pytest.mark.parametrize("dialect", DIALECTS)
def test_hostile_predictions_are_rejected_or_harmless(dialect, file_cache, tmp_path):
    # Build first, checksum, then run the hostile corpus with a short timeout and a small row cap.
    open_sample(dialect, file_cache).close()
    before = file_sums(file_cache, dialect)
    predictions = tmp_path / "hostile.csv"
    with predictions.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "query", "db_name", "query_category", "generated_query"])
        for sql, _ in HOSTILE[dialect]:
            writer.writerow(["hostile", ORDINARY[1], "shop", "where", sql])
            writer.writerow([ORDINARY[0], ORDINARY[1], "shop", "where", ORDINARY[1]])
    out = tmp_path / "out.csv"
    args = ["--schemas", SAMPLE / "schemas", "--cache-dir", file_cache, "-o", out, "--no-progress"]
    proc = run_cli(
        *args,
        "-r",
        "file",
        "--predictions",
        predictions,
        "--dialect",
        dialect,
        "-t",
        "1",
        "--max-rows",
        "1000",
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(out)
    for (sql, expected), row, ordinary in zip(HOSTILE[dialect], rows[::2], rows[1::2]):
        assert row["correct"] == "0" and expected in row["error_msg"], (sql, row["error_msg"])
        assert ordinary["correct"] == "1", (sql, ordinary["error_msg"])
    timeouts = [r for r in rows[::2] if "statement timeout" in r["error_msg"]]
    assert timeouts and all(r["timeout"] == "1" for r in timeouts)
    assert file_sums(file_cache, dialect) == before
    assert not list(Path("/tmp").glob("sqlharness_evil*")) and not Path("/tmp/sqlharness_copy.csv").exists()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_backend_enforces_timeout_and_row_cap_itself(dialect, file_cache):
    """The engine's own limits, with the statement checks out of the way."""
    with open_sample(dialect, file_cache, ExecLimits(timeout_s=0.5, max_rows=3)) as backend:
        slow = (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r"
            if dialect == "sqlite"
            else "SELECT COUNT(*) FROM range(100000000000) a"
        )
        result = backend.execute("shop", slow)
        assert result.timeout and result.elapsed_s < 5
        assert backend.execute("shop", "SELECT COUNT(*) FROM orders").rows == ((6,),)  # usable afterwards
        big = backend.execute("shop", "SELECT * FROM orders")
        assert big.too_large and "more than 3 rows" in (big.error or "")
        assert backend.execute("shop", "SELECT * FROM customers LIMIT 3").rows
        write = backend.execute("shop", "DELETE FROM orders")  # past the checks, the engine refuses
        assert not write.ok
        assert backend.execute("shop", "SELECT COUNT(*) FROM orders").rows == ((6,),)


ENGINE_ESCAPES = {
    "sqlite": [
        "PRAGMA query_only = OFF",
        "ATTACH DATABASE '{tmp}/evil.db' AS evil",
        "VACUUM INTO '{tmp}/copy.db'",
        "CREATE TEMP TABLE t AS SELECT 1",
        "BEGIN IMMEDIATE",
    ],
    "duckdb": [
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "ATTACH '{tmp}/evil.duckdb' AS evil",
        "COPY orders TO '{tmp}/copy.csv'",
        "CREATE TABLE t AS SELECT 1",
        "INSTALL httpfs",
        # Allowed on a read-only file, and it would outlive the query on the pooled cursor.
        "CREATE TEMP VIEW orders AS SELECT 1 AS n",
        "CREATE TEMP MACRO count_star() AS 1",
    ],
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_engine_refuses_escapes_without_the_statement_checks(dialect, file_cache, tmp_path):
    """The second line of defence: statements the checks would reject, sent to the engine directly."""
    with open_sample(dialect, file_cache) as backend:
        before = file_sums(file_cache, dialect)
        for sql in ENGINE_ESCAPES[dialect]:
            result = backend.execute("shop", sql.format(tmp=tmp_path))
            assert not result.ok, sql
            # Whatever the statement did, the next query still runs read-only on intact data.
            assert backend.execute("shop", "SELECT COUNT(*) FROM orders").rows == ((6,),), sql
            assert not backend.execute("shop", "DELETE FROM orders").ok, sql
    assert file_sums(file_cache, dialect) == before
    assert list(tmp_path.iterdir()) == []


def test_engine_error_without_a_message_is_named_by_its_type(tmp_path):
    """An engine exception with an empty message still comes back as data, not an IndexError."""
    backend = open_file_backend("sqlite", tmp_path, ExecLimits(timeout_s=2))
    assert isinstance(backend, FileBackend)
    failed = backend._error_result(ValueError(), 0.0, timed_out=False)
    assert failed.error == "ValueError" and not failed.timeout
    late = backend._error_result(ValueError("interrupted"), 0.0, timed_out=True)
    assert late.timeout and late.error == "statement timeout: canceled after 2s"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_validate_dialect_is_clean_on_the_sample(dialect, file_cache):
    proc = run_cli(
        "validate",
        "-q",
        SAMPLE / "questions.csv",
        "--schemas",
        SAMPLE / "schemas",
        "--cache-dir",
        file_cache,
        "--dialect",
        dialect,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"0 not transpiled faithfully to {dialect}" in proc.stdout


@pytest.mark.skipif(find_spec("duckdb") is None, reason="needs pip install '.[duckdb]'")
def test_validate_dialect_reports_unfaithful_transpiles(file_cache, tmp_path):
    questions = tmp_path / "q.csv"
    questions.write_text(
        "question,query,db_name,query_category\n"
        "Half of each id?,SELECT customer_id / 2 AS half FROM customers,shop,where\n"
        "Weekday joined?,SELECT EXTRACT(DOW FROM joined_on) FROM customers,shop,date\n"
        "How many customers?,SELECT COUNT(*) FROM customers,shop,where\n"
        'Customers by city?,"SELECT city, COUNT(*) FROM customers GROUP BY ROLLUP (city) LIMIT 3",shop,group\n'
    )
    common = ["validate", "-q", questions, "--schemas", SAMPLE / "schemas", "--cache-dir", file_cache]
    duck = run_cli(*common, "--dialect", "duckdb")
    assert duck.returncode == 1
    assert "UNFAITHFUL row 2 (db_name='shop'): different result" in duck.stdout
    assert "row 4" not in duck.stdout
    lite = run_cli(*common, "--dialect", "sqlite")
    assert lite.returncode == 1
    assert "row 3" not in lite.stdout  # EXTRACT is rewritten for SQLite (eval/sqlite_rewrites.py)
    assert "UNFAITHFUL row 5 (db_name='shop'): transpile error" in lite.stdout
    assert "ROLLUP with ORDER BY, LIMIT" in lite.stdout


def test_transpile_errors_are_reported_not_guessed():
    with pytest.raises(ValueError, match="cannot parse"):
        transpile_query("SELECT FROM WHERE (", "sqlite")
    assert transpile_query("SELECT 1", "postgres") == "SELECT 1"


def test_comparable_irons_out_engine_types():
    import datetime as dt

    sqlite_like = QueryResult(("d", "t", "b"), (("2023-01-31", "2023-01-31 23:59", 1),))
    pg_like = QueryResult(("d", "t", "b"), ((dt.date(2023, 1, 31), dt.datetime(2023, 1, 31, 23, 59), True),))
    assert comparable(sqlite_like).rows == comparable(pg_like).rows


def test_missing_dialect_package_message(monkeypatch, file_cache):
    import builtins

    real_import = builtins.__import__

    def no_duckdb(name, *args, **kwargs):
        if name == "duckdb":
            raise ImportError("no duckdb")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_duckdb)
    with pytest.raises(Exception, match=r"pip install '\.\[duckdb\]'"):
        open_file_backend("duckdb", file_cache, ExecLimits())


@pytest.mark.parametrize("dialect", DIALECTS)
def test_self_referencing_table_loads(dialect, tmp_path):
    """Foreign keys are dropped from the copies (DuckDB checks them row by row within one INSERT)."""
    folder = tmp_path / "schemas" / "tree"
    folder.mkdir(parents=True)
    (folder / "tree.sql").write_text(
        "CREATE TABLE node (id integer PRIMARY KEY, parent_id integer REFERENCES node (id), "
        "CONSTRAINT self FOREIGN KEY (parent_id) REFERENCES node (id));\n"
        "INSERT INTO node VALUES (1, NULL), (2, 1), (3, 2);\n"
        "COMMENT ON TABLE node IS 'a tree';\nSET client_encoding = 'UTF8';\n"
    )
    with open_file_backend(dialect, tmp_path / "cache", ExecLimits()) as backend:
        backend.prepare(discover(tmp_path / "schemas", ["tree"]))
        assert backend.execute("tree", "SELECT COUNT(*) FROM node WHERE parent_id IS NOT NULL").rows == (
            (2,),
        )
        assert "REFERENCES" not in backend.table_metadata("tree")
