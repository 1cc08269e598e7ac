"""Hand-made run files for the report tests: a results CSV and, optionally, its summary JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.categories import CATEGORIES
from eval.output import OUTPUT_COLUMNS

RESULT_COLUMNS = ["question", "query", "db_name", "query_category", *OUTPUT_COLUMNS]


def question_row(i: int, **values: Any) -> dict[str, Any]:
    """Question ``i`` of a made-up benchmark (categories cycle), answered wrongly by default."""
    row: dict[str, Any] = {
        "question": f"Question number {i}?",
        "query": f"SELECT {i} AS x FROM t",
        "db_name": "shop",
        "query_category": CATEGORIES[i % len(CATEGORIES)],
        "generated_query": "SELECT -1 AS x FROM t",
        "correct": 0,
        "mismatch": "values differ",
    }
    row.update(values)
    return row


def write_run(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any] | None = None,
    columns: Sequence[str] | None = None,
) -> Path:
    """Write ``rows`` (missing cells blank) to ``path`` and ``summary`` beside it."""
    names = list(columns or RESULT_COLUMNS)
    for row in rows:
        names += [k for k in row if k not in names]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in names})
    if summary is not None:
        path.with_suffix(".json").write_text(json.dumps(summary))
    return path


def paired_rows(n: int, *, both: int, broke: int, fixed: int) -> tuple[list[dict], list[dict]]:
    """Baseline and candidate rows over ``n`` questions.

    The first ``both`` are right in both runs, the next ``broke`` right only in the
    baseline, the next ``fixed`` right only in the candidate, the rest wrong in both.
    """
    baseline, candidate = [], []
    for i in range(n):
        base_ok = i < both + broke
        cand_ok = i < both or both + broke <= i < both + broke + fixed
        baseline.append(question_row(i, correct=int(base_ok)))
        candidate.append(question_row(i, correct=int(cand_ok)))
    return baseline, candidate
