"""The leaderboard: one row per run, best first (``python main.py leaderboard``).

Columns are fixed and documented in docs/reports.md (:data:`COLUMNS`); a figure a run
cannot provide is left blank. Runs over different question sets are listed, but never
silently: the ``question_set`` column differs and a warning on stderr names them.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.categories import CATEGORIES
from eval.output import atomic_write_text
from eval.reports.runs import Run, load_run
from eval.reports.stats import RunStats, run_stats

CATEGORY_COLUMNS = tuple(f"accuracy_{c}" for c in CATEGORIES)
COLUMNS = (
    "rank",
    "run",
    "model",
    "runner",
    "prompt_file",
    "num_beams",
    "created_at",
    "questions_file",
    "questions_hash",
    "question_set",
    "n",
    "correct",
    "accuracy",
    "accuracy_ci95_low",
    "accuracy_ci95_high",
    *CATEGORY_COLUMNS,
    "suite_accuracy",
    "sql_exact_match",
    "error_rate",
    "timeout_rate",
    "truncated_rate",
    "generation_error_rate",
    "latency_mean_s",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "gold_errors",
    "results_file",
)


def load_runs(paths: Sequence[Path]) -> list[Run]:
    return [load_run(path) for path in paths]


def ranked(runs: Sequence[Run]) -> list[tuple[int, Run, RunStats]]:
    """Runs by accuracy, best first; equal accuracy keeps rank and sorts by file path.

    The tiebreak uses the path rather than argument order so the same files always give
    the same table.
    """
    scored = [(run, run_stats(run)) for run in runs]
    scored.sort(
        key=lambda item: (-(item[1].accuracy if item[1].accuracy is not None else -1), str(item[0].path))
    )
    result: list[tuple[int, Run, RunStats]] = []
    for position, (run, stats) in enumerate(scored, start=1):
        tied = result and result[-1][2].accuracy == stats.accuracy
        result.append((result[-1][0] if tied else position, run, stats))
    return result


def leaderboard_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    return [leaderboard_row(rank, run, stats) for rank, run, stats in ranked(runs)]


def leaderboard_row(rank: int, run: Run, stats: RunStats) -> dict[str, Any]:
    """One run's row: every column of :data:`COLUMNS`, formatted as in the CSV."""
    meta = run.meta
    low, high = stats.ci95 or (None, None)
    row: dict[str, Any] = {
        "rank": rank,
        "run": run.name,
        "model": meta.model,
        "runner": meta.runner,
        "prompt_file": meta.prompt_file,
        "num_beams": meta.num_beams,
        "created_at": meta.created_at,
        "questions_file": meta.questions_file,
        "questions_hash": meta.questions_hash,
        "question_set": run.question_set,
        "n": stats.n,
        "correct": stats.correct,
        "accuracy": stats.accuracy,
        "accuracy_ci95_low": low,
        "accuracy_ci95_high": high,
        **{
            f"accuracy_{c}": stats.by_category[c].accuracy if c in stats.by_category else None
            for c in CATEGORIES
        },
        "suite_accuracy": stats.suite_accuracy,
        "sql_exact_match": stats.sql_exact_match,
        "error_rate": stats.error_rate,
        "timeout_rate": stats.timeout_rate,
        "truncated_rate": stats.truncated_rate,
        "generation_error_rate": stats.generation_error_rate,
        "latency_mean_s": stats.latency_mean_s,
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "total_tokens": stats.total_tokens,
        "gold_errors": stats.gold_errors,
        "results_file": str(run.path),
    }
    return {column: _cell(row[column]) for column in COLUMNS}


def _cell(value: Any) -> Any:
    """Blank for a missing figure; fractions to 6 decimals (no float noise in the CSV)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 6)
    return value


def mixed_sets_warning(runs: Sequence[Run]) -> str | None:
    """A warning naming the runs when they do not all cover the same question set."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.question_set, []).append(run)
    if len(groups) < 2:
        return None
    parts = [
        f"set {key} ({_files(members)}): {', '.join(str(r.path) for r in members)}"
        for key, members in groups.items()
    ]
    return "warning: these runs cover different question sets; do not compare their accuracies: " + "; ".join(
        parts
    )


def _files(runs: Sequence[Run]) -> str:
    names = sorted({r.meta.questions_file or "questions file unknown" for r in runs})
    return ", ".join(names)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def format_text(rows: Sequence[dict[str, Any]]) -> str:
    """A short table for the terminal (the CSV holds every column)."""
    header = (
        f"{'rank':>4}  {'run':<24} {'model':<20} {'n':>5}  {'accuracy (95% CI)':<24} {'suite':>6} {'sql=':>6}"
        f" {'gen.fail':>8}"
    )
    lines = [header]
    for row in rows:
        accuracy = percent(row["accuracy"])
        if row["accuracy_ci95_low"] != "":
            accuracy += f" [{percent(row['accuracy_ci95_low'])}, {percent(row['accuracy_ci95_high'])}]"
        lines.append(
            f"{row['rank']:>4}  {_clip(row['run'], 24):<24} {_clip(row['model'] or row['runner'], 20):<20} "
            f"{row['n']:>5}  {accuracy:<24} {percent(row['suite_accuracy']):>6} {percent(row['sql_exact_match']):>6}"
            f" {percent(row['generation_error_rate']):>8}"
        )
    return "\n".join(lines)


def percent(cell: Any) -> str:
    """A fraction cell of a leaderboard row as a percentage (blank stays blank)."""
    return "" if cell == "" else f"{float(cell):.1%}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def warn_about(runs: Sequence[Run]) -> None:
    """On stderr: each run without its summary JSON or with failed generations, and runs over
    different question sets."""
    for run in runs:
        if not run.has_summary:
            print(f"note: {run.path}: no summary JSON beside it; run details are blank", file=sys.stderr)
    for run in runs:
        failed = sum(bool(r.generation_error) for r in run.rows)
        if failed:
            print(
                f"warning: {run.path}: {failed} of {len(run.rows)} generations failed (generation_error); "
                "its accuracy counts them as wrong answers",
                file=sys.stderr,
            )
    warning = mixed_sets_warning(runs)
    if warning:
        print(warning, file=sys.stderr)


def leaderboard_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="main.py leaderboard",
        description="One row per run, best accuracy first, with a 95% Wilson interval (docs/reports.md).",
    )
    parser.add_argument(
        "results", nargs="+", type=Path, help="results CSVs (the summary JSON is read beside each)"
    )
    parser.add_argument("-o", "--output", type=Path, default=None, help="write the leaderboard CSV here")
    args = parser.parse_args(argv)
    runs = load_runs(args.results)
    warn_about(runs)
    rows = leaderboard_rows(runs)
    print(format_text(rows))
    if args.output:
        atomic_write_text(args.output, to_csv(rows))
        print(f"leaderboard: {args.output}")
    return 0
