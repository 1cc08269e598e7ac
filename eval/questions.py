"""Reading a questions (or predictions) CSV into :class:`~eval.records.Question` records.

Compatible with sql-eval's files: ``question, query, db_name, query_category`` are
required, ``instructions`` is optional, and every other column is kept and carried to
the output unchanged.
"""

from __future__ import annotations

import csv
from pathlib import Path

from eval.categories import canonical
from eval.errors import BadInput
from eval.records import REQUIRED_COLUMNS, Question


def load_questions(
    path: Path, *, required: tuple[str, ...] = REQUIRED_COLUMNS, limit: int | None = None
) -> list[Question]:
    """Read every row of ``path``; raise BadInput naming a missing column or bad row."""
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
        questions.append(
            Question(
                index=index,
                question=row["question"],
                query=row["query"],
                db_name=row["db_name"].strip(),
                category=canonical(row.get("query_category", "")),
                instructions=row.get("instructions", "") or "",
                fields=dict(row),
            )
        )
    return questions


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
