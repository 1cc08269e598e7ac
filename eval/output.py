"""Writing run outputs: the per-question CSV, the summary JSON, the printed table.

Every file is written to a temporary file beside its target and renamed into place, so a
crash never leaves a half-written results file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.errors import BadInput
from eval.questions import load_questions
from eval.records import Prediction, Question, ResultRow
from eval.scoring import Summary

if TYPE_CHECKING:
    from eval.generate import Prepared

OUTPUT_COLUMNS = (
    "generated_query",
    "correct",
    "exact_match",
    "error_db_exec",
    "timeout",
    "error_msg",
    "generation_error",
    "latency_seconds",
    "gold_error",
    "empty_gold",
    "mismatch",
    "prompt_tokens",
    "completion_tokens",
    "truncated",
    "raw_output",
)
SUMMARY_FORMAT_VERSION = 1


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new file beside ``path`` with a fresh name, mode 0666 less the umask.

    Results are meant to be shared, so not mkstemp's 0600; and the kernel applies the umask
    itself here, whereas reading it means setting it, process-wide, under other threads.
    """
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def result_record(row: ResultRow) -> dict[str, Any]:
    """The output columns of one row (input columns excluded)."""
    return {
        "generated_query": row.generated_query,
        "correct": int(row.correct),
        "exact_match": int(row.exact_match),
        "error_db_exec": int(row.error_db_exec),
        "timeout": int(row.timeout),
        "error_msg": row.error_msg,
        "generation_error": row.generation_error,
        "latency_seconds": round(row.latency_seconds, 4),
        "gold_error": row.gold_error,
        "empty_gold": int(row.empty_gold),
        "mismatch": row.mismatch,
        "prompt_tokens": _blank_none(row.extra.get("prompt_tokens")),
        "completion_tokens": _blank_none(row.extra.get("completion_tokens")),
        "truncated": int(row.truncated),
        "raw_output": row.raw_output,
        **({} if row.suite_correct is None else {"suite_correct": int(row.suite_correct)}),
    }


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def write_results_csv(path: Path, rows: Sequence[ResultRow]) -> None:
    """Every input column (in file order), then the output columns."""
    input_columns: list[str] = []
    for row in rows:
        for column in row.question.fields:
            if column not in input_columns and column not in (*OUTPUT_COLUMNS, "suite_correct"):
                input_columns.append(column)
    buffer = io.StringIO()
    # suite_correct only when the run had --suite (a column means the same on every row).
    suite = ["suite_correct"] if any(row.suite_correct is not None for row in rows) else []
    writer = csv.DictWriter(buffer, fieldnames=[*input_columns, *OUTPUT_COLUMNS, *suite], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        inputs = {c: row.question.fields.get(c, "") for c in input_columns}
        writer.writerow({**inputs, **result_record(row)})
    atomic_write_text(path, buffer.getvalue())


def summary_dict(summary: Summary, meta: Mapping[str, Any]) -> dict[str, Any]:
    overall = summary.overall
    return {
        "format_version": SUMMARY_FORMAT_VERSION,
        **meta,
        "n": overall.n,
        "correct": overall.correct,
        "accuracy": overall.accuracy,
        "exact_match": overall.exact_match,
        "error_rate": overall.error_rate,
        "timeout_rate": overall.timeout_rate,
        "truncated_rate": overall.truncated_rate,
        "generation_error_rate": overall.generation_error_rate,
        "generation_errors": summary.generation_errors,
        "generation_error_kinds": summary.generation_error_kinds,
        "gold_errors": summary.gold_errors,
        "empty_gold": summary.empty_gold,
        "by_category": {c: s.as_dict() for c, s in summary.by_category.items()},
        "latency_mean_s": summary.latency_mean_s,
        "prompt_tokens": summary.prompt_tokens,
        "completion_tokens": summary.completion_tokens,
    }


def write_summary_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def format_table(summary: Summary) -> str:
    """The per-category table printed at the end of a run."""
    width = max([12, *(len(c) + 1 for c in summary.by_category)])
    lines = [f"{'category':<{width}} {'n':>5} {'correct':>8} {'accuracy':>9} {'gen_errors':>11}"]
    for category, s in summary.by_category.items():
        lines.append(
            f"{category or '(none)':<{width}} {s.n:>5} {s.correct:>8} {s.accuracy:>9.1%} {s.generation_errors:>11}"
        )
    o = summary.overall
    lines.append(f"{'overall':<{width}} {o.n:>5} {o.correct:>8} {o.accuracy:>9.1%} {o.generation_errors:>11}")
    notes = []
    if summary.generation_errors:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.generation_error_kinds.items()))
        notes.append(
            f"{summary.generation_errors} of {summary.questions} generation(s) failed ({kinds}): "
            "no answer, scored wrong (see generation_error); rerun the same command to retry them"
        )
    if summary.gold_errors:
        notes.append(f"{summary.gold_errors} question(s) skipped: their gold query failed (see gold_error)")
    if o.truncated_rate:
        notes.append(
            f"{round(o.truncated_rate * o.n)} answer(s) cut off by the token limit (truncated=1): "
            "raise --max-new-tokens"
        )
    if summary.empty_gold:
        notes.append(f"{summary.empty_gold} question(s) have an empty gold result (weak evidence)")
    return "\n".join(lines + [f"note: {n}" for n in notes])


def row_from_record(question: Question, record: Mapping[str, Any]) -> ResultRow:
    """The inverse of :func:`result_record` (used when resuming from a journal)."""

    def tokens(key: str) -> int | None:
        value = record.get(key)
        return value if isinstance(value, int) else None

    return ResultRow(
        question=question,
        generated_query=record["generated_query"],
        correct=bool(record["correct"]),
        exact_match=bool(record["exact_match"]),
        error_db_exec=bool(record["error_db_exec"]),
        timeout=bool(record["timeout"]),
        error_msg=record["error_msg"],
        latency_seconds=float(record["latency_seconds"]),
        gold_error=record["gold_error"],
        empty_gold=bool(record["empty_gold"]),
        mismatch=record["mismatch"],
        extra={"prompt_tokens": tokens("prompt_tokens"), "completion_tokens": tokens("completion_tokens")},
        truncated=bool(record.get("truncated", 0)),
        generation_error=record.get("generation_error", ""),
        raw_output=record.get("raw_output", ""),
    )


def sample_record(prepared: Prepared, prediction: Prediction, row: ResultRow) -> dict[str, Any]:
    """One question of ``--log-samples``: what the model was asked, what it said, the verdict."""
    question = row.question
    return {
        "index": question.index,
        "db_name": question.db_name,
        "question": question.question,
        "query_category": question.fields.get("query_category", question.category),
        "gold_query": question.query,
        "prompt": prepared.request.prompt,
        "messages": [dict(m) for m in prepared.request.messages],
        "prefill": prepared.prefill,
        "raw_output": prediction.raw_text,
        "beams": list(prediction.beams),
        "finish_reason": prediction.finish_reason,
        "generated_query": row.generated_query,
        "generation_error": row.generation_error,
        "correct": int(row.correct),
        "exact_match": int(row.exact_match),
        "error_db_exec": int(row.error_db_exec),
        "timeout": int(row.timeout),
        "truncated": int(row.truncated),
        "error_msg": row.error_msg,
        "mismatch": row.mismatch,
        "gold_error": row.gold_error,
        "latency_seconds": round(row.latency_seconds, 4),
        "prompt_tokens": prediction.prompt_tokens,
        "completion_tokens": prediction.completion_tokens,
        **({} if row.suite_correct is None else {"suite_correct": int(row.suite_correct)}),
    }


def write_samples(path: Path, samples: Sequence[tuple[Prepared, Prediction, ResultRow]]) -> None:
    """``--log-samples``: one JSON object per line, in question order (written atomically)."""
    lines = [json.dumps(sample_record(*sample), ensure_ascii=False, default=str) for sample in samples]
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def check_replaceable(path: Path, questions: Sequence[Question], *, overwrite: bool) -> None:
    """Raise BadInput when ``path`` holds results over another question set (unless ``overwrite``).

    Rerunning the same questions replaces the file (a resumed or repeated run); a run over
    other questions (``-n 3`` where ten were run, another benchmark) would lose those
    results silently. Nothing is touched before this check.
    """
    if overwrite or not path.exists():
        return
    try:
        held = load_questions(path, required=("question", "query", "db_name"))
    except BadInput:
        raise BadInput(
            f"{path} exists and is not a results file of this harness; nothing was changed: "
            "choose another -o, or pass --overwrite to replace it"
        ) from None
    if _question_set(held) != _question_set(questions):
        raise BadInput(
            f"{path} holds results over another question set ({len(held)} rows; this run: "
            f"{len(questions)}); nothing was changed: choose another -o, or pass --overwrite to replace it"
        )


def _question_set(questions: Sequence[Question]) -> Counter[tuple[str, str, str]]:
    return Counter((q.db_name, q.question, q.query) for q in questions)
