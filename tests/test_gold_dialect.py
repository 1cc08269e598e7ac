"""Gold written in another dialect (``--gold-dialect``, or a ``gold_dialect`` column), as
sql-eval ships question files whose gold is SQLite over the same databases.

On PostgreSQL the gold is transpiled with sqlglot; on an engine of its own dialect it runs
as written; ``validate`` runs it both ways and lists the golds whose transpilation gives
another answer or fails. The questions file is in sql-eval's layout (question, query,
db_name, query_category, instructions) over the sample databases.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conftest import SAMPLE, run_cli

# (question, SQLite gold, faithful in PostgreSQL once transpiled)
GOLDS = [
    (
        "How many orders were placed each year?",
        "SELECT strftime('%Y', ordered_at) AS year, COUNT(*) AS n FROM orders GROUP BY year",
        True,
    ),
    (
        "How many customers are there per city, with 'none' for no city?",
        "SELECT IFNULL(city, 'none') AS city, COUNT(*) AS n FROM customers GROUP BY 1",
        True,
    ),
    ("Which is the cheapest product?", "SELECT title FROM products ORDER BY price LIMIT 1", True),
    # julianday() exists only in SQLite: the transpiled gold fails on PostgreSQL.
    (
        "How many days before 1 March 2023 did each customer join?",
        "SELECT customer_id, julianday('2023-03-01') - julianday(joined_on) AS days FROM customers",
        False,
    ),
    # SQLite's LIKE ignores case, PostgreSQL's does not: another answer, same text.
    (
        "Which customers have a name starting with a?",
        "SELECT name FROM customers WHERE name LIKE 'a%'",
        False,
    ),
]


def write_questions(path: Path, rows, *, column: bool = False) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["question", "query", "db_name", "query_category", "instructions"] + (["gold_dialect"] * column)
        )
        for question, gold, _ in rows:
            writer.writerow([question, gold, "shop", "group_by", ""] + (["sqlite"] * column))
    return path


def common(cache_dir: Path) -> list[str]:
    return ["--schemas", str(SAMPLE / "schemas"), "--cache-dir", str(cache_dir)]


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


FAITHFUL = [g for g in GOLDS if g[2]]


@pytest.mark.parametrize("engine", ["postgres", "sqlite"])
def test_oracle_scores_every_faithful_sqlite_gold(cache_dir, tmp_path, engine):
    questions = write_questions(tmp_path / "q.csv", FAITHFUL)
    out = tmp_path / "out.csv"
    args = ["-q", questions, "--gold-dialect", "sqlite", "--dialect", engine, "-o", out, "--no-progress"]
    proc = run_cli(*args, *common(cache_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = read(out)
    assert [r["correct"] for r in rows] == ["1"] * len(FAITHFUL), [
        r["error_msg"] or r["mismatch"] for r in rows
    ]
    if engine == "sqlite":
        # On its own dialect the gold runs as written, not through PostgreSQL and back.
        assert [r["generated_query"] for r in rows] == [g for _, g, _ in FAITHFUL]
    else:
        assert "TO_CHAR" in rows[0]["generated_query"] and "COALESCE" in rows[1]["generated_query"]


def test_postgres_predictions_are_judged_against_a_sqlite_gold(cache_dir, tmp_path):
    predictions = tmp_path / "predictions.csv"
    answers = [
        "SELECT EXTRACT(YEAR FROM ordered_at)::text AS y, COUNT(*) FROM orders GROUP BY 1",
        "SELECT COALESCE(city, 'none'), COUNT(*) FROM customers GROUP BY city",
        "SELECT title FROM products ORDER BY price DESC LIMIT 1",  # the dearest: wrong
    ]
    with predictions.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "query", "db_name", "query_category", "gold_dialect", "generated_query"])
        for (question, gold, _), answer in zip(FAITHFUL, answers):
            writer.writerow([question, gold, "shop", "group_by", "sqlite", answer])
    out = tmp_path / "out.csv"
    proc = run_cli("-r", "file", "--predictions", predictions, "-o", out, "--no-progress", *common(cache_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["correct"] for r in read(out)] == ["1", "1", "0"]
    assert all(not r["gold_error"] for r in read(out))


@pytest.mark.parametrize("column", [False, True], ids=["flag", "column"])
def test_validate_lists_the_golds_that_do_not_transpile_faithfully(cache_dir, tmp_path, column):
    questions = write_questions(tmp_path / "q.csv", GOLDS, column=column)
    flag = [] if column else ["--gold-dialect", "sqlite"]
    proc = run_cli("validate", "-q", questions, *flag, *common(cache_dir))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = proc.stdout
    # julianday: the transpiled gold fails on PostgreSQL (a validate problem, and unfaithful).
    assert "row 5 " in out and "julianday" in out.lower()
    # LIKE: runs on both, but PostgreSQL's answer differs from SQLite's.
    unfaithful = [line for line in out.splitlines() if line.startswith("UNFAITHFUL")]
    assert any("row 6 " in line and "different result" in line for line in unfaithful), unfaithful
    assert not any(f"row {i} " in line for line in unfaithful for i in (2, 3, 4)), unfaithful


def test_validate_passes_a_faithful_sqlite_file(cache_dir, tmp_path):
    questions = write_questions(tmp_path / "q.csv", FAITHFUL)
    proc = run_cli("validate", "-q", questions, "--gold-dialect", "sqlite", *common(cache_dir))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "3 questions, 0 not transpiled faithfully to sqlite" in proc.stdout


def test_an_unknown_gold_dialect_is_one_line_and_exit_2(cache_dir, tmp_path):
    questions = write_questions(tmp_path / "q.csv", FAITHFUL)
    proc = run_cli("-q", questions, "--gold-dialect", "klingon", *common(cache_dir))
    assert proc.returncode == 2
    assert "klingon" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unknown_gold_dialect_column_is_one_line_and_exit_2(cache_dir, tmp_path):
    questions = tmp_path / "q.csv"
    questions.write_text(
        "question,query,db_name,query_category,gold_dialect\nQ?,SELECT 1,shop,where,klingon\n"
    )
    proc = run_cli("-q", questions, *common(cache_dir), "-o", tmp_path / "o.csv")
    assert proc.returncode == 2
    assert "unknown gold dialect 'klingon'" in proc.stderr and "Traceback" not in proc.stderr
