"""``main.py validate`` on the sample benchmark and on broken benchmarks (the bundled one: test_bundled_benchmark.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import SAMPLE, run_cli


def validate(cache_dir: Path, questions: Path, schemas: Path = SAMPLE / "schemas"):
    return run_cli("validate", "-q", questions, "--schemas", schemas, "--cache-dir", cache_dir)


def test_sample_benchmark_is_valid(cache_dir):
    proc = validate(cache_dir, SAMPLE / "questions.csv")
    assert proc.returncode == 0, proc.stdout
    assert "12 questions, 0 problem(s)" in proc.stdout
    assert (
        "shop               1          1          2          1          1          2       8" in proc.stdout
    )


@pytest.mark.parametrize(
    "query,category,expected",
    [
        (
            "SELECT title FROM products ORDER BY price DESC LIMIT 2",
            "order_by",
            "tie on the ORDER BY keys at LIMIT 2",
        ),
        ("SELECT title FROM products WHERE price > 1000", "where", "gold returns no rows"),
        ("SELECT nope FROM products", "where", 'gold fails: column "nope" does not exist'),
        ("SELECT title FROM products", "misc", "unknown query_category 'misc'"),
        ("SELECT {title FROM products", "where", "cannot be expanded"),
        ("SELECT random() AS r FROM products", "where", "not deterministic"),
        ("DELETE FROM products", "where", "not a single query"),
        (
            "SELECT {customer_id, city} FROM customers WHERE city IS NOT NULL",
            "where",
            "column choice merges rows (3 distinct rows with all columns, 2 with this choice)",
        ),
    ],
    ids=[
        "tie-at-limit",
        "empty",
        "fails",
        "category",
        "braces",
        "random",
        "not-a-query",
        "collapsing-choice",
    ],
)
def test_problems_are_reported(cache_dir, tmp_path, query, category, expected):
    questions = tmp_path / "q.csv"
    questions.write_text(f'question,query,db_name,query_category\nQ?,"{query}",shop,{category}\n')
    proc = validate(cache_dir, questions)
    assert proc.returncode == 1
    assert expected in proc.stdout


def test_choice_of_unique_columns_is_fine(cache_dir, tmp_path):
    questions = tmp_path / "q.csv"
    questions.write_text(
        'question,query,db_name,query_category\nQ?,"SELECT {customer_id, name} FROM customers",shop,where\n'
    )
    assert validate(cache_dir, questions).returncode == 0


def test_tie_broken_by_second_key_is_fine(cache_dir, tmp_path):
    questions = tmp_path / "q.csv"
    questions.write_text(
        'question,query,db_name,query_category\nQ?,"SELECT title, price FROM products ORDER BY 2 DESC, title LIMIT 2",shop,order_by\n'
    )
    assert validate(cache_dir, questions).returncode == 0


SQL_EVAL_CATEGORIES = (
    "date_functions",
    "table_join",
    "instruct",
    "basic_left_join",
    "instructions_cte_join",
    "keywords_ratio",
)


def test_sql_eval_category_names_are_accepted_and_mapped(cache_dir, tmp_path):
    """sql-eval's own names are no problem; the one real gold problem is the only one listed."""
    questions = tmp_path / "q.csv"
    lines = ["question,query,db_name,query_category"]
    lines += [f"Q{i}?,SELECT COUNT(*) FROM products,shop,{c}" for i, c in enumerate(SQL_EVAL_CATEGORIES)]
    lines.append("Broken?,SELECT nope FROM products,shop,date_functions")
    questions.write_text("\n".join(lines) + "\n")
    proc = validate(cache_dir, questions)
    assert proc.returncode == 1
    problems = [line for line in proc.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1 and 'gold fails: column "nope" does not exist' in problems[0]
    assert "7 questions, 1 problem(s)" in proc.stdout
    header = proc.stdout.splitlines()[0].split()
    # date_functions and table_join count as ours; the others are reported as they are
    assert header == [
        "db_name",
        "basic_left_join",
        "date",
        "instruct",
        "instructions_cte_join",
        "join",
        "keywords_ratio",
        "total",
    ]
    assert proc.stdout.splitlines()[1].split() == ["shop", "1", "2", "1", "1", "1", "1", "7"]


def test_a_run_reports_sql_eval_categories_under_ours(cache_dir, tmp_path):
    questions = tmp_path / "q.csv"
    lines = ["question,query,db_name,query_category"]
    lines += [f"Q{i}?,SELECT COUNT(*) FROM products,shop,{c}" for i, c in enumerate(SQL_EVAL_CATEGORIES)]
    questions.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run.csv"
    args = ["-q", questions, "--schemas", SAMPLE / "schemas", "--cache-dir", cache_dir, "-o", out]
    proc = run_cli(*args, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["by_category"] == {
        c: {"accuracy": 1.0, "n": 1}
        for c in ("basic_left_join", "date", "instruct", "instructions_cte_join", "join", "keywords_ratio")
    }
    with out.open(newline="") as handle:  # the file keeps the category as written
        assert [r["query_category"] for r in csv.DictReader(handle)] == list(SQL_EVAL_CATEGORIES)
