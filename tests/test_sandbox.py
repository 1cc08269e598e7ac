"""Hostile predictions: each is scored wrong with a clear message, and nothing changes.

Every hostile prediction is followed by an ordinary question answered correctly, which
must still score correct; table checksums, the server's configuration and the reader
role are compared before and after the whole corpus.
"""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg2
import pytest

from conftest import SAMPLE, run_cli

HOSTILE = [
    ("DROP TABLE orders", "not a query"),
    ("DELETE FROM orders", "not a query"),
    ("UPDATE products SET price = 0", "not a query"),
    ("INSERT INTO customers VALUES (99, 'x', NULL, '2020-01-01')", "not a query"),
    ("TRUNCATE orders", "not a query"),
    ("ALTER TABLE orders ADD COLUMN x integer", "not a query"),
    ("CREATE TABLE evil (x integer)", "not a query"),
    ("SET ROLE postgres", "not a query"),
    ("RESET ROLE", "not a query"),
    ("ALTER SYSTEM SET statement_timeout = 0", "not a query"),
    ("COPY orders TO '/tmp/sqlharness_copy.csv'", "not a query"),
    ("COPY (SELECT 1) TO PROGRAM 'touch /tmp/sqlharness_pwned'", "not a query"),
    ("SELECT pg_read_file('/etc/passwd')", "permission denied"),
    ("SELECT pg_ls_dir('.')", "permission denied"),
    ("SELECT lo_import('/etc/passwd')", "permission denied"),
    ("SELECT pg_sleep(30)", "statement timeout"),
    ("SELECT COUNT(*) FROM generate_series(1, 100000000000)", "statement timeout"),
    ("SELECT * FROM generate_series(1, 10000000)", "result too large"),
    (
        "SELECT * FROM orders a, orders b, orders c, orders d, orders e, orders f, orders g, orders h",
        "result too large",
    ),
    ("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE", "not a query"),
    ("COMMIT", "not a query"),
    ("ROLLBACK", "not a query"),
    ("BEGIN", "not a query"),
    ("SET statement_timeout = 0", "not a query"),
    ("SELECT 1; DROP TABLE orders", "2 statements"),
    ("SELECT 1 /* ; */ ; DELETE FROM orders", "2 statements"),
    ("SELECT 'a;b'; DELETE FROM orders --", "2 statements"),
    ("-- just a comment\nDROP TABLE orders", "not a query"),
    ("/* SELECT */ DELETE FROM orders", "not a query"),
    ("DO $$ BEGIN DELETE FROM orders; END $$", "not a query"),
    ("CREATE FUNCTION f() RETURNS integer AS 'SELECT 1' LANGUAGE sql", "not a query"),
    ("SELECT dblink_exec('dbname=shop', 'DELETE FROM orders')", "does not exist"),
    ("WITH gone AS (DELETE FROM orders RETURNING *) SELECT COUNT(*) FROM gone", "read-only query"),
    ("SELECT * INTO stolen FROM customers", "SELECT INTO"),
    ("SELECT * FROM orders FOR UPDATE", "row-locking"),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", "differ"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "permission denied"),
    ("SELECT pg_advisory_lock(42)", "permission denied"),
    ("SELECT pg_reload_conf()", "permission denied"),
    ("SELECT * FROM pg_authid", "permission denied"),
    ("EXPLAIN ANALYZE DELETE FROM orders", "not a query"),
    ("VACUUM FULL orders", "not a query"),
    ("GRANT ALL ON orders TO PUBLIC", "not a query"),
    ("PREPARE p AS DELETE FROM orders", "not a query"),
    ("NOTIFY evil", "not a query"),
    ("DISCARD ALL", "not a query"),
    ("", "empty query"),
]
ORDINARY = ("How many orders are there?", "SELECT COUNT(*) FROM orders")


def checksums(uri_for) -> dict[str, str]:
    """md5 of every table's rows, the tables and functions in public, and server settings."""
    sums = {}
    for db in ("shop", "school"):
        with psycopg2.connect(uri_for(db)) as conn, conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            tables = [t for (t,) in cur.fetchall()]
            sums[f"{db}:tables"] = ",".join(tables)
            for table in tables:
                cur.execute(f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM \"{table}\" t")
                sums[f"{db}.{table}"] = cur.fetchone()[0]
            cur.execute(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'public'"
            )
            sums[f"{db}:functions"] = str(cur.fetchone()[0])
        conn.close()
    with psycopg2.connect(uri_for("postgres")) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'sqlharness_reader'"
        )
        sums["reader"] = str(cur.fetchone())
        cur.execute("SELECT name, setting FROM pg_file_settings WHERE sourcefile LIKE '%auto.conf'")
        sums["auto.conf"] = str(sorted(cur.fetchall()))
    conn.close()
    return sums


@pytest.fixture
def uri_for(cache_dir):
    import pgserver

    server = pgserver.get_server(cache_dir / "pgdata", cleanup_mode="stop")
    return server.get_uri


def test_hostile_corpus(cache_dir, tmp_path, uri_for):
    assert len(HOSTILE) >= 30
    # Seed the databases and take the checksums before anything hostile runs.
    assert (
        run_cli(
            "-q",
            SAMPLE / "questions.csv",
            "--schemas",
            SAMPLE / "schemas",
            "--cache-dir",
            cache_dir,
            "-o",
            tmp_path / "seed.csv",
            "--no-progress",
        ).returncode
        == 0
    )
    before = checksums(uri_for)

    predictions = tmp_path / "hostile.csv"
    with predictions.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "query", "db_name", "query_category", "generated_query"])
        for i, (sql, _) in enumerate(HOSTILE):
            writer.writerow([ORDINARY[0], ORDINARY[1], "shop", "where", sql])
            # The same right answer, written differently each time so it really runs again.
            writer.writerow(
                [ORDINARY[0], ORDINARY[1], "shop", "where", f"SELECT COUNT(*) /* after {i} */ FROM orders"]
            )
    out = tmp_path / "hostile_out.csv"
    proc = run_cli(
        "-r",
        "file",
        "--predictions",
        predictions,
        "--schemas",
        SAMPLE / "schemas",
        "--cache-dir",
        cache_dir,
        "-o",
        out,
        "-p",
        "1",
        "-t",
        "1",
        "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open(newline="")))
    assert len(rows) == 2 * len(HOSTILE)
    for i, (sql, expected) in enumerate(HOSTILE):
        hostile, ordinary = rows[2 * i], rows[2 * i + 1]
        message = hostile["error_msg"] or hostile["mismatch"]
        assert hostile["correct"] == "0", sql
        assert expected in message, f"{sql!r}: {message!r}"
        assert ordinary["correct"] == "1", f"after {sql!r}: {ordinary['error_msg'] or ordinary['mismatch']}"
    assert not Path("/tmp/sqlharness_pwned").exists()
    assert checksums(uri_for) == before
    timeouts = [r for r in rows if r["timeout"] == "1"]
    assert len(timeouts) == 2
