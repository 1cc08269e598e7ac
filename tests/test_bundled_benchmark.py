"""The bundled benchmark (data/): it validates, the oracle gets everything right, every
negative is scored wrong, and its shape is what data/README.md promises.

data/questions_gen.csv and data/negatives.csv are built from data/parts/ by
``python data/combine.py``; these tests read the combined files.
"""

from __future__ import annotations

import csv
import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

DATA = ROOT / "data"
QUESTIONS = DATA / "questions_gen.csv"
NEGATIVES = DATA / "negatives.csv"
SCHEMAS = DATA / "schemas"
CATEGORIES = {"date", "group_by", "order_by", "ratio", "join", "where"}
DIFFICULTIES = {"easy", "medium", "hard", "extra-hard"}


def read_csv(path: Path) -> list[dict[str, str]]:
    assert path.exists(), f"{path} is missing: run python data/combine.py"
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def run_harness(cache_dir: Path, output: Path, *args: str | Path) -> list[dict[str, str]]:
    proc = run_cli(
        *args, "--schemas", SCHEMAS, "--cache-dir", cache_dir, "-o", output, "--no-progress", timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_csv(output)


def describe(rows: list[dict[str, str]]) -> str:
    """One line per failing row: database, question, and why."""
    return "\n".join(
        f"[{r['db_name']}] {r['question']} -> {r.get('mistake') or ''} {r['error_msg'] or r['mismatch']}".strip()
        for r in rows
    )


def key(row: dict[str, str]) -> tuple[str, str]:
    return row["db_name"], row["question"]


@pytest.fixture(scope="module")
def questions() -> list[dict[str, str]]:
    return read_csv(QUESTIONS)


@pytest.fixture(scope="module")
def negatives() -> list[dict[str, str]]:
    return read_csv(NEGATIVES)


def test_bundled_benchmark_is_valid(cache_dir):
    proc = run_cli("validate", "-q", QUESTIONS, "--schemas", SCHEMAS, "--cache-dir", cache_dir, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
    assert " 0 problem(s)" in proc.stdout


def test_oracle_answers_every_question(cache_dir, tmp_path, questions):
    rows = run_harness(cache_dir, tmp_path / "oracle.csv", "-q", QUESTIONS, "-r", "oracle")
    assert len(rows) == len(questions)
    wrong = [r for r in rows if r["correct"] != "1" or r["gold_error"]]
    assert not wrong, f"{len(wrong)} gold answer(s) not scored correct:\n{describe(wrong)}"


def test_every_negative_is_scored_wrong(cache_dir, tmp_path, questions, negatives):
    golds = {key(q): q for q in questions}
    stale = [n for n in negatives if key(n) not in golds or n["query"] != golds[key(n)]["query"]]
    assert not stale, f"negatives whose question or gold differs from questions_gen.csv:\n{describe(stale)}"

    rows = run_harness(cache_dir, tmp_path / "negatives.csv", "-r", "file", "--predictions", NEGATIVES)
    assert len(rows) == len(negatives)
    gold_failed = [r for r in rows if r["gold_error"]]
    assert not gold_failed, f"gold failed beside a negative:\n{describe(gold_failed)}"
    accepted = [r for r in rows if r["correct"] == "1"]
    assert not accepted, f"{len(accepted)} negative(s) scored correct:\n{describe(accepted)}"


def load_stats():
    spec = importlib.util.spec_from_file_location("bundled_stats", DATA / "stats.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_size_and_coverage(questions):
    n = len(questions)
    assert 175 <= n <= 200, f"{n} questions"
    by_category = Counter(q["query_category"] for q in questions)
    assert set(by_category) == CATEGORIES, by_category
    assert min(by_category.values()) >= 25, by_category
    by_db = Counter(q["db_name"] for q in questions)
    assert len(by_db) == 7, by_db
    assert min(by_db.values()) >= 20, by_db
    assert {q["difficulty"] for q in questions} <= DIFFICULTIES
    cells = {(q["query_category"], q["difficulty"]) for q in questions}
    missing = sorted((c, d) for c in CATEGORIES for d in DIFFICULTIES if (c, d) not in cells)
    assert not missing, f"category/difficulty cells without a question: {missing}"


def test_databases_and_tables(cache_dir, questions):
    tables = {db: len(t) for db, t in load_stats().row_counts(SCHEMAS, cache_dir).items()}
    asked = {q["db_name"] for q in questions}
    assert set(tables) == asked, f"schemas {sorted(tables)} vs questions {sorted(asked)}"
    assert len(tables) == 7, tables
    assert all(4 <= n <= 20 for n in tables.values()), tables
    assert sum(n >= 12 for n in tables.values()) >= 2, f"fewer than two databases with 12+ tables: {tables}"


def test_every_question_has_a_negative(questions, negatives):
    covered = {key(n) for n in negatives}
    bare = [q for q in questions if key(q) not in covered]
    assert not bare, f"{len(bare)} question(s) without a negative:\n" + "\n".join(
        f"[{q['db_name']}] {q['question']}" for q in bare
    )


SHOTGUNS = {
    # Every small integer as its own column: matches any one-row gold whose value is among them.
    "1,600 constant columns": "SELECT " + ", ".join(str(i) for i in range(1600)),
    # The same through a star over a subquery, which earns no allowance for *.
    "constants behind a star": "SELECT * FROM (SELECT " + ", ".join(str(i) for i in range(1600)) + ") AS s",
    # As many constants as the bound lets through for a one-column gold.
    "four constant columns": "SELECT 0, 1, 2, 3",
}


@pytest.mark.parametrize("shotgun", SHOTGUNS, ids=list(SHOTGUNS))
def test_shotgun_answers_score_at_most_one_percent(cache_dir, tmp_path, questions, shotgun):
    predictions = tmp_path / "shotgun.csv"
    with predictions.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*questions[0], "generated_query"])
        writer.writeheader()
        for q in questions:
            writer.writerow({**q, "generated_query": SHOTGUNS[shotgun]})
    rows = run_harness(cache_dir, tmp_path / "out.csv", "-r", "file", "--predictions", predictions)
    correct = [r for r in rows if r["correct"] == "1"]
    assert len(rows) == len(questions)
    assert len(correct) <= len(questions) // 100, describe(correct)
