"""Loading a finished run: the results CSV and the summary JSON beside it, as typed records.

Files come from many harness versions and runners, so every field beyond the few a report
cannot do without is read defensively: a missing column or summary key reads as blank
(``""`` or ``None``), never as an error. What is required, and a clear one-line error
(:class:`~eval.errors.BadInput`, exit 2) when absent or malformed: the file itself, the
columns ``question, query, db_name, correct, generated_query``, and 0/1 flags.

The per-question CSVs of defog's sql-eval load too (docs/reports.md, "Results from
sql-eval"): they share our column names, write flags as ``1.00``/``0.00`` or ``True``/
``False`` (pandas), and count tokens in one ``tokens_used`` column.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from eval.errors import BadInput
from eval.questions import load_questions
from eval.records import Question

REQUIRED_RESULT_COLUMNS = ("question", "query", "db_name", "correct", "generated_query")

_TRUE = {"1", "true", "True", "TRUE"}
_FALSE = {"0", "false", "False", "FALSE", ""}
_FLAG_NUMBER = re.compile(r"[01](?:\.0*)?")
"""A flag pandas wrote from a float column (sql-eval's ``float_format="%.2f"``): 1.00, 0.0."""


@dataclass(frozen=True)
class RunRow:
    """One evaluated prediction, as read back from a results CSV."""

    position: int
    """0-based data row: CSV record ``position + 2``, the header being 1.

    Not a line number: a quoted cell (generated SQL, often) may span several lines.
    """
    db_name: str
    question: str
    gold: str
    category: str
    generated: str
    correct: bool
    exact_match: bool = False
    error_db_exec: bool = False
    timeout: bool = False
    truncated: bool = False
    """Cut off by the token budget mid-query (results without the column: False)."""
    error_msg: str = ""
    generation_error: str = ""
    """Why no answer was generated (an outage, a context overflow...), else ''. sql-eval's
    ``error_query_gen`` = 1 reads as one, its ``error_msg`` the reason."""
    gold_error: str = ""
    mismatch: str = ""
    latency_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_used: int | None = None
    """sql-eval's one token count per question (ours are split into prompt and completion)."""
    suite_correct: bool | None = None
    """Test-suite verdict, where the run computed one (blank column: None)."""

    @property
    def key(self) -> tuple[str, str]:
        """How two runs pair their questions (with occurrence order for duplicates)."""
        return (self.db_name, self.question)

    @property
    def scored(self) -> bool:
        """Whether the row counts toward accuracy: its gold ran (as the harness scores)."""
        return not self.gold_error

    @property
    def why_wrong(self) -> str:
        """A short description of the failure: the error, the timeout, or the mismatch."""
        if self.gold_error:
            return f"gold failed: {self.gold_error}"
        if self.generation_error:  # our error_msg says it already; sql-eval's holds the reason
            return self.error_msg or f"generation failed: {self.generation_error}"
        if self.timeout:
            return f"timed out{': ' + self.error_msg if self.error_msg else ''}"
        if self.error_msg:
            return self.error_msg
        return self.mismatch or "wrong result"


@dataclass(frozen=True)
class RunMeta:
    """What the summary JSON says about the run; blank where it says nothing."""

    runner: str = ""
    model: str = ""
    prompt_file: str = ""
    num_beams: str = ""
    created_at: str = ""
    questions_file: str = ""
    questions_hash: str = ""
    suite_accuracy: float | None = None


@dataclass(frozen=True)
class Run:
    path: Path
    meta: RunMeta
    rows: tuple[RunRow, ...]
    has_summary: bool = True

    @property
    def name(self) -> str:
        """The results file's stem: short, and unique enough to label a run."""
        return self.path.stem

    @property
    def scored_rows(self) -> tuple[RunRow, ...]:
        return tuple(r for r in self.rows if r.scored)

    @cached_property
    def question_set(self) -> str:
        """A short hash of the distinct (db_name, question, gold SQL) triples.

        Unlike the summary's ``questions_hash`` (a hash of the input *file*, which for the
        ``file`` runner is the predictions file), two runs over the same questions get the
        same value whatever runner produced them and however often a question repeats.
        """
        triples = sorted({f"{r.db_name}\t{r.question}\t{r.gold}" for r in self.rows})
        return hashlib.sha256("\n".join(triples).encode()).hexdigest()[:12]


def results_path(path: Path) -> Path:
    """Accept either file of a run: ``X.json`` means its results ``X.csv``."""
    return path.with_suffix(".csv") if path.suffix == ".json" else path


def load_run(path: Path) -> Run:
    """Read a results CSV and, when present, the summary JSON beside it."""
    csv_path = results_path(path)
    questions = load_questions(csv_path, required=REQUIRED_RESULT_COLUMNS)
    rows = tuple(_row(csv_path, q) for q in questions)
    summary = _read_summary(csv_path.with_suffix(".json"))
    return Run(path=csv_path, meta=_meta(summary or {}), rows=rows, has_summary=summary is not None)


def _read_summary(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: not a readable summary JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadInput(f"{path}: not a summary JSON (expected an object)")
    return data


def _meta(summary: Mapping[str, Any]) -> RunMeta:
    options = summary.get("runner_options")
    options = options if isinstance(options, Mapping) else {}

    def text(*keys: str) -> str:
        # A key may sit at the top level or, in newer files, under runner_options.
        for key in keys:
            for source in (summary, options):
                value = source.get(key)
                if value not in (None, ""):
                    return str(value)
        return ""

    suite = summary.get("suite_accuracy")
    return RunMeta(
        runner=text("runner"),
        model=text("model"),
        prompt_file=text("prompt_file", "prompt"),
        num_beams=text("num_beams", "beams"),
        created_at=text("created_at", "date"),
        questions_file=text("questions_file"),
        questions_hash=text("questions_hash"),
        suite_accuracy=float(suite)
        if isinstance(suite, (int, float)) and not isinstance(suite, bool)
        else None,
    )


def _row(path: Path, q: Question) -> RunRow:
    fields = q.fields
    where = f"{path}: row {q.index + 2}"
    return RunRow(
        position=q.index,
        db_name=q.db_name,
        question=q.question,
        gold=q.query,
        category=q.category,
        generated=fields.get("generated_query", ""),
        correct=_flag(fields.get("correct", ""), where, "correct", required=True),
        exact_match=_flag(fields.get("exact_match", ""), where, "exact_match"),
        error_db_exec=_flag(fields.get("error_db_exec", ""), where, "error_db_exec"),
        timeout=_flag(fields.get("timeout", ""), where, "timeout"),
        truncated=_flag(fields.get("truncated", ""), where, "truncated"),
        error_msg=fields.get("error_msg", ""),
        generation_error=_generation_error(fields, where),
        gold_error=fields.get("gold_error", ""),
        mismatch=fields.get("mismatch", ""),
        latency_s=_number(fields.get("latency_seconds", ""), where, "latency_seconds", float),
        prompt_tokens=_number(fields.get("prompt_tokens", ""), where, "prompt_tokens", int),
        completion_tokens=_number(fields.get("completion_tokens", ""), where, "completion_tokens", int),
        tokens_used=_number(fields.get("tokens_used", ""), where, "tokens_used", int),
        suite_correct=_optional_flag(fields.get("suite_correct", ""), where),
    )


def _flag(text: str, where: str, column: str, *, required: bool = False) -> bool:
    text = text.strip()
    if _FLAG_NUMBER.fullmatch(text):
        return text.startswith("1")
    if text in _TRUE:
        return True
    if text in _FALSE and not (required and text == ""):
        return False
    raise BadInput(f"{where}: {column} must be 0 or 1 (or 0.00/1.00, False/True), got {text!r}")


def _generation_error(fields: Mapping[str, str], where: str) -> str:
    """Our ``generation_error`` column, or sql-eval's ``error_query_gen`` flag with its message."""
    ours = fields.get("generation_error", "").strip()
    if ours or "generation_error" in fields:
        return ours
    if _flag(fields.get("error_query_gen", ""), where, "error_query_gen"):
        return fields.get("error_msg", "").strip() or "generation failed"
    return ""


def _optional_flag(text: str, where: str) -> bool | None:
    return None if not text.strip() else _flag(text, where, "suite_correct")


def _number(text: str, where: str, column: str, kind: type[int] | type[float]) -> Any:
    text = text.strip()
    if not text or text.lower() == "nan":  # pandas' missing value, should it be written out
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{where}: {column} must be a number, got {text!r}") from None
    if kind is float:
        return value
    # A count pandas wrote from a float column (a blank elsewhere in it) reads 31.00.
    if not value.is_integer():
        raise BadInput(f"{where}: {column} must be a whole number, got {text!r}")
    return int(value)
