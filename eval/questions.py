"""Reading a questions (or predictions) CSV into :class:`~eval.records.Question` records.

Compatible with sql-eval's files: ``question, query, db_name, query_category`` are
required, ``instructions`` and ``gold_dialect`` are optional, and every other column is
kept and carried to the output unchanged.
"""

from __future__ import annotations

import csv
from pathlib import Path

import sqlglot

from eval.categories import canonical
from eval.errors import BadInput
from eval.records import REQUIRED_COLUMNS, Question


def load_questions(
    path: Path,
    *,
    required: tuple[str, ...] = REQUIRED_COLUMNS,
    limit: int | None = None,
    gold_dialect: str = "postgres",
) -> list[Question]:
    """Read every row of ``path``; raise BadInput naming a missing column or bad row.

    Each gold is taken to be written in ``gold_dialect``, or in the row's own
    ``gold_dialect`` column where it has one."""
    rows = _read_rows(path)
    if not rows:
        raise BadInput(f"{path}: no rows")
    missing = [c for c in required if c not in rows[0]]
    if missing:
        raise BadInput(f"{path}: missing required column(s): {', '.join(missing)}")
    questions = []
    for index, row in enumerate(rows[:limit] if limit else rows):
        for column in ("question", "query", "db_name"):
            if not row.get(column, "").strip() and column in required:
                raise BadInput(f"{path}: row {index + 2} has an empty {column!r}")
        dialect = (row.get("gold_dialect") or "").strip().lower() or gold_dialect
        if not known_dialect(dialect):
            raise BadInput(f"{path}: row {index + 2}: unknown gold dialect {dialect!r}")
        questions.append(
            Question(
                index=index,
                question=row["question"],
                query=row["query"],
                db_name=row["db_name"].strip(),
                category=canonical(row.get("query_category", "")),
                instructions=row.get("instructions", "") or "",
                fields=dict(row),
                gold_dialect=dialect,
            )
        )
    return questions


def known_dialect(name: str) -> bool:
    """A dialect sqlglot reads (``postgres``, ``sqlite``, ``mysql``, ``bigquery``...)."""
    try:
        sqlglot.Dialect.get_or_raise(name)
    except ValueError:
        return False
    return True


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise BadInput(f"file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = []
            for row in reader:
                if None in row:
                    raise BadInput(f"{path}: line {reader.line_num} has more fields than the header")
                rows.append({k: (v or "") for k, v in row.items()})
            return rows
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"{path}: not a readable CSV file: {exc}") from exc
