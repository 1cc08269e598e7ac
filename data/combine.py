"""Combine the per-database parts into the bundled benchmark files.

Each database's questions and negatives are written by hand (or by its generator) into
``data/parts/<db>.questions.csv``, ``data/parts/<db>.negatives.csv`` (wrong answers that
must score wrong) and ``data/parts/<db>.alternatives.csv`` (other reasonable answers that
must score correct); this script joins them, in database-name order, into
``data/questions_gen.csv``, ``data/negatives.csv`` and ``data/alternatives.csv``.
Run it after changing any part:  python data/combine.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent
QUESTION_COLUMNS = ["question", "query", "db_name", "query_category", "difficulty", "instructions"]
NEGATIVE_COLUMNS = [*QUESTION_COLUMNS, "generated_query", "mistake"]
ALTERNATIVE_COLUMNS = [*QUESTION_COLUMNS, "generated_query", "reading"]


def read_rows(path: Path, columns: list[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            sys.exit(f"{path}: missing columns {missing}")
        return [{c: row.get(c) or "" for c in columns} for row in reader]


def write_rows(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def combine(kind: str, columns: list[str], target: Path) -> int:
    rows: list[dict[str, str]] = []
    for part in sorted((DATA / "parts").glob(f"*.{kind}.csv")):
        rows.extend(read_rows(part, columns))
    write_rows(target, columns, rows)
    return len(rows)


def main() -> None:
    n_questions = combine("questions", QUESTION_COLUMNS, DATA / "questions_gen.csv")
    n_negatives = combine("negatives", NEGATIVE_COLUMNS, DATA / "negatives.csv")
    n_alternatives = combine("alternatives", ALTERNATIVE_COLUMNS, DATA / "alternatives.csv")
    print(
        f"{n_questions} questions -> data/questions_gen.csv; {n_negatives} negatives -> data/negatives.csv;"
        f" {n_alternatives} alternatives -> data/alternatives.csv"
    )


if __name__ == "__main__":
    main()
