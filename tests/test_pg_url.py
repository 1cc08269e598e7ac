"""--pg-url: an existing server, reached by URL (here: the session's real server)."""

from __future__ import annotations

import csv
import shutil

import psycopg2
import pytest

from conftest import SAMPLE, run_cli


@pytest.fixture
def server(cache_dir):
    import pgserver

    return pgserver.get_server(cache_dir / "pgdata", cleanup_mode="stop")


def socket_url(server, user: str) -> str:
    host = psycopg2.extensions.parse_dsn(server.get_uri())["host"]
    return f"postgresql://{user}@/postgres?host={host}"


def admin(server, sql: str) -> None:
    conn = psycopg2.connect(server.get_uri())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def url_run(server, user: str, cache_dir, *args, env=None):
    """``main.py ARGS`` against ``server`` reached by URL as ``user``."""
    return run_cli(
        *args, "--pg-url", socket_url(server, user), "--cache-dir", cache_dir, "--no-progress", env=env
    )


def own_schemas(tmp_path, name: str):
    """The sample's shop database under another name, so this test builds its own."""
    schemas = tmp_path / "schemas"
    shutil.copytree(SAMPLE / "schemas" / "shop", schemas / name)
    questions = tmp_path / "q.csv"
    questions.write_text(
        f"question,query,db_name,query_category\nHow many?,SELECT COUNT(*) FROM orders,{name},where\n"
    )
    return schemas, questions


def test_superuser_url_builds_databases_and_the_reader_role(server, cache_dir, tmp_path):
    schemas, questions = own_schemas(tmp_path, "shop_url")
    out = tmp_path / "o.csv"
    proc = url_run(server, "postgres", cache_dir, "-q", questions, "--schemas", schemas, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert next(csv.DictReader(out.open()))["correct"] == "1"
    conn = psycopg2.connect(server.get_uri("shop_url"))
    with conn.cursor() as cur:
        cur.execute(
            "SELECT has_table_privilege('sqlharness_reader', 'orders', 'INSERT'), "
            "has_table_privilege('sqlharness_reader', 'orders', 'SELECT')"
        )
        assert cur.fetchone() == (False, True)
    conn.close()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own, where no sqlharness_reader role exists yet."""
    import pgserver

    (tmp_path / "fresh").mkdir()
    server = pgserver.get_server(tmp_path / "fresh", cleanup_mode="delete")
    yield server
    server.cleanup()


def test_role_that_can_write_is_refused_unless_allowed(fresh_server, cache_dir, tmp_path):
    server = fresh_server
    admin(server, "CREATE ROLE limited_owner LOGIN CREATEDB")
    schemas, questions = own_schemas(tmp_path, "shop_limited")
    base = ["-q", questions, "--schemas", schemas]
    refused = url_run(server, "limited_owner", cache_dir, *base, "-o", tmp_path / "a.csv")
    assert refused.returncode == 2
    assert "cannot create the read-only role" in refused.stderr and "--allow-writable-role" in refused.stderr
    assert not (tmp_path / "a.csv").exists()

    allowed = url_run(
        server, "limited_owner", cache_dir, *base, "-o", tmp_path / "b.csv", "--allow-writable-role"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "A ROLE THAT CAN WRITE" in allowed.stderr
    assert next(csv.DictReader((tmp_path / "b.csv").open()))["correct"] == "1"


def test_foreign_database_is_not_touched(server, cache_dir, tmp_path):
    admin(server, "DROP DATABASE IF EXISTS shop_foreign")
    admin(server, "CREATE DATABASE shop_foreign")
    schemas, questions = own_schemas(tmp_path, "shop_foreign")
    proc = url_run(
        server, "postgres", cache_dir, "-q", questions, "--schemas", schemas, "-o", tmp_path / "o.csv"
    )
    assert proc.returncode == 2
    assert "was not created by the harness" in proc.stderr


def test_unreachable_server_is_one_line(cache_dir, tmp_path):
    proc = run_cli(
        "-q",
        SAMPLE / "questions.csv",
        "--schemas",
        SAMPLE / "schemas",
        "--pg-url",
        "postgresql://nobody@127.0.0.1:1/postgres",
        "--cache-dir",
        cache_dir,
        "-o",
        tmp_path / "o.csv",
        "--no-progress",
    )
    assert proc.returncode == 2
    assert "cannot connect to PostgreSQL" in proc.stderr and "Traceback" not in proc.stderr


def test_reader_role_made_by_a_dba_is_used(server, cache_dir, tmp_path):
    admin(server, "DROP ROLE IF EXISTS owner_only")
    admin(server, "CREATE ROLE owner_only LOGIN CREATEDB")
    schemas, questions = own_schemas(tmp_path, "shop_dba")
    predictions = tmp_path / "p.csv"
    predictions.write_text(
        "question,query,db_name,query_category,generated_query\n"
        "How many?,SELECT COUNT(*) FROM orders,shop_dba,where,SELECT COUNT(*) FROM orders\n"
        "How many?,SELECT COUNT(*) FROM orders,shop_dba,where,SELECT current_user = 'sqlharness_reader'\n"
    )
    out = tmp_path / "o.csv"
    args = ["-r", "file", "--predictions", predictions, "--schemas", schemas, "-o", out]
    proc = url_run(
        server, "owner_only", cache_dir, *args, env={"SQLHARNESS_READER_PASSWORD": "unused-with-trust-auth"}
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["correct"] == "1"
    assert rows[1]["error_msg"] == "" and rows[1]["correct"] == "0"  # ran, as the reader
