"""The bundled benchmark (data/): it validates, the oracle gets everything right, every
negative is scored wrong, and its shape is what data/README.md promises.

data/questions_gen.csv, data/negatives.csv and data/alternatives.csv are built from
data/parts/ by ``python data/combine.py``; these tests read the combined files (and check
that they are current).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

DATA = ROOT / "data"
QUESTIONS = DATA / "questions_gen.csv"
NEGATIVES = DATA / "negatives.csv"
ALTERNATIVES = DATA / "alternatives.csv"
GENERATORS = [g for g in sorted((DATA / "generators").glob("*.py")) if g.stem != "sqlwriter"]
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


@pytest.fixture(scope="module")
def alternatives() -> list[dict[str, str]]:
    return read_csv(ALTERNATIVES)


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


def test_every_alternative_is_scored_correct(cache_dir, tmp_path, questions, alternatives):
    """Other reasonable readings of a question must score correct: the fairness half of the
    benchmark's tests (a question that only its author's conventions answer is not fair)."""
    golds = {key(q): q for q in questions}
    stale = [a for a in alternatives if key(a) not in golds or a["query"] != golds[key(a)]["query"]]
    assert not stale, (
        f"alternatives whose question or gold differs from questions_gen.csv:\n{describe(stale)}"
    )
    assert all(a["reading"].strip() for a in alternatives), "every alternative says which reading it is"

    rows = run_harness(cache_dir, tmp_path / "alternatives.csv", "-r", "file", "--predictions", ALTERNATIVES)
    assert len(rows) == len(alternatives)
    rejected = [{**r, "mistake": a["reading"]} for r, a in zip(rows, alternatives) if r["correct"] != "1"]
    assert not rejected, f"{len(rejected)} reasonable alternative(s) scored wrong:\n{describe(rejected)}"


def test_combined_files_are_current(tmp_path):
    """questions_gen.csv, negatives.csv and alternatives.csv are exactly what combine.py
    writes from data/parts/ (an edit to a part that was not combined would go untested)."""
    spec = importlib.util.spec_from_file_location("bundled_combine", DATA / "combine.py")
    assert spec and spec.loader
    combine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(combine)
    for kind, columns, target in [
        ("questions", combine.QUESTION_COLUMNS, QUESTIONS),
        ("negatives", combine.NEGATIVE_COLUMNS, NEGATIVES),
        ("alternatives", combine.ALTERNATIVE_COLUMNS, ALTERNATIVES),
    ]:
        out = tmp_path / target.name
        combine.combine(kind, columns, out)
        assert out.read_bytes() == target.read_bytes(), f"{target.name} is stale: run python data/combine.py"


@pytest.mark.parametrize("generator", GENERATORS, ids=lambda g: g.stem)
def test_regenerating_leaves_the_data_unchanged(tmp_path, generator):
    """Each generator, run again, writes its committed .sql file byte for byte."""
    env = {**os.environ, "SQLWRITER_OUT_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(generator)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    committed = SCHEMAS / generator.stem / f"{generator.stem}.sql"
    written = tmp_path / committed.name
    assert written.exists(), proc.stdout
    assert written.read_bytes() == committed.read_bytes(), (
        f"{generator.name} no longer writes {committed.relative_to(ROOT)}: regenerate it and recheck the golds"
    )


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
