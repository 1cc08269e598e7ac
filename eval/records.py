"""Typed records passed between the pipeline's stages.

Frozen dataclasses only: a stage reads records and returns new ones, so nothing downstream
can quietly change what an earlier stage decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REQUIRED_COLUMNS = ("question", "query", "db_name", "query_category")


@dataclass(frozen=True)
class Question:
    """One row of a questions (or predictions) file."""

    index: int
    """0-based row number in the file (the key for resume and for error messages)."""
    question: str
    query: str
    """The gold SQL as written, alternatives and ``{}`` groups included."""
    db_name: str
    category: str
    """``query_category``, with sql-eval's names mapped to ours (eval/categories.py); the
    row's own text stays in ``fields``."""
    instructions: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Every column of the row, as read (carried to the output)."""
    gold_dialect: str = "postgres"
    """The SQL dialect ``query`` is written in (``--gold-dialect`` or a ``gold_dialect``
    column): other than PostgreSQL, it is transpiled with sqlglot, or run as written on an
    engine of its own dialect."""

    @property
    def row_label(self) -> str:
        """How error messages name this row: its line in the CSV (header is line 1)."""
        return f"row {self.index + 2} (db_name={self.db_name!r})"


@dataclass(frozen=True)
class QueryResult:
    """The outcome of executing one SQL statement: rows, or an error as data."""

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    error: str | None = None
    timeout: bool = False
    too_large: bool = False
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Verdict:
    """The comparator's decision for one prediction against the gold expansions."""

    correct: bool
    exact_match: bool = False
    reason: str = ""
    """Why it is wrong (or, for a correct one, a note such as 'empty gold')."""


@dataclass(frozen=True)
class ResultRow:
    """One evaluated prediction, as written to the per-question CSV."""

    question: Question
    generated_query: str
    correct: bool
    exact_match: bool
    error_db_exec: bool
    timeout: bool
    error_msg: str
    latency_seconds: float
    gold_error: str
    """Non-empty when the gold itself failed: a benchmark error, not the model's."""
    empty_gold: bool = False
    """The gold result is empty: a match is weak evidence."""
    mismatch: str = ""
    """How a wrong result that did execute differs from the gold."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Runner-specific figures (tokens, beams) carried to the output."""
    suite_correct: bool | None = None
    """With ``--suite``: correct on the base and on every variant database; else None."""
    truncated: bool = False
    """The model's output was cut off by the token budget mid-query: wrong, and not run."""
    generation_error: str = ""
    """Non-empty when no answer was generated (``server unreachable: ...``, ``context
    overflow: ...``): an outage or a setting, not the model's answer. Scored wrong."""
    raw_output: str = ""
    """What the runner returned, before SQL was extracted from it."""


@dataclass(frozen=True)
class Prediction:
    """The SQL a runner produced for one question, and what it cost."""

    sql: str
    raw_text: str = ""
    error: str | None = None
    """Generation failed (API error, model crash): nothing to execute."""
    error_kind: str = ""
    """What kind of failure ``error`` is (runners.base.ERROR_KINDS); '' reads as
    "generation failed"."""
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    truncated: bool = False
    """The token budget ran out before the query was finished (see eval/extract.py)."""
    extracted: bool = False
    """``sql`` was extracted from model output (not given as is by oracle or file): an
    empty ``sql`` then means the output held no SQL."""
    beams: tuple[str, ...] = ()
    """Every beam's raw text, best first, where the runner keeps them."""
    finish_reason: str | None = None
    """Why generation ended, as the runner says (``stop``, ``length``), else None."""

    @property
    def generation_error(self) -> str:
        """``kind: reason`` when generation failed (the results' ``generation_error``), else ''."""
        if self.error is None:
            return ""
        kind = self.error_kind or "generation failed"
        return self.error if self.error.startswith(kind) else f"{kind}: {self.error}"
