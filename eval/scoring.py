"""Scores: accuracy overall and per category from result rows.

Questions whose gold failed are a benchmark error: they are counted apart
(``gold_errors``) and never enter the model's accuracy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from eval.records import ResultRow


@dataclass(frozen=True)
class Score:
    n: int
    correct: int
    accuracy: float
    exact_match: float
    error_rate: float
    timeout_rate: float
    truncated_rate: float = 0.0
    """Answers cut off by the token budget mid-query (scored wrong)."""
    generation_errors: int = 0
    """Questions with no answer at all: the generation failed (scored wrong)."""

    @property
    def generation_error_rate(self) -> float:
        return self.generation_errors / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"accuracy": self.accuracy, "n": self.n}


@dataclass(frozen=True)
class Summary:
    overall: Score
    by_category: dict[str, Score] = field(default_factory=dict)
    gold_errors: int = 0
    empty_gold: int = 0
    latency_mean_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    generation_errors: int = 0
    """Failed generations over every row, gold failed or not (what the exit code counts)."""
    generation_error_kinds: dict[str, int] = field(default_factory=dict)
    """How many of them of each kind (``server unreachable``, ``context overflow``...)."""
    questions: int = 0
    """Every row, scored or not."""


def score(rows: Sequence[ResultRow]) -> Score:
    n = len(rows)
    if n == 0:
        return Score(0, 0, 0.0, 0.0, 0.0, 0.0)
    correct = sum(r.correct for r in rows)
    return Score(
        n=n,
        correct=correct,
        accuracy=correct / n,
        exact_match=sum(r.exact_match for r in rows) / n,
        error_rate=sum(r.error_db_exec for r in rows) / n,
        timeout_rate=sum(r.timeout for r in rows) / n,
        truncated_rate=sum(r.truncated for r in rows) / n,
        generation_errors=sum(bool(r.generation_error) for r in rows),
    )


def summarize(rows: Sequence[ResultRow]) -> Summary:
    scored = [r for r in rows if not r.gold_error]
    categories = sorted({r.question.category for r in scored})
    by_category = {c: score([r for r in scored if r.question.category == c]) for c in categories}
    return Summary(
        overall=score(scored),
        by_category=by_category,
        gold_errors=len(rows) - len(scored),
        empty_gold=sum(r.empty_gold for r in scored),
        latency_mean_s=sum(r.latency_seconds for r in rows) / len(rows) if rows else 0.0,
        prompt_tokens=_total(rows, "prompt_tokens"),
        completion_tokens=_total(rows, "completion_tokens"),
        generation_errors=sum(bool(r.generation_error) for r in rows),
        generation_error_kinds=dict(Counter(_kind(r.generation_error) for r in rows if r.generation_error)),
        questions=len(rows),
    )


def _kind(generation_error: str) -> str:
    """The kind a generation_error starts with (``server unreachable: ...``)."""
    return generation_error.split(":", 1)[0]


def _total(rows: Sequence[ResultRow], key: str) -> int | None:
    values = [r.extra.get(key) for r in rows]
    present = [v for v in values if isinstance(v, int)]
    return sum(present) if present else None


@dataclass(frozen=True)
class GenerationErrorBudget:
    """How many failed generations a run may have before it exits non-zero
    (``--max-generation-errors``): a count, or a fraction of the questions."""

    count: int | None = 0
    fraction: float | None = None

    @classmethod
    def parse(cls, text: str) -> GenerationErrorBudget:
        """``3`` (a count) or ``0.05`` (a fraction: anything with a decimal point); ValueError else."""
        text = text.strip()
        if "." in text or "e" in text.lower():
            value = float(text)
            if not 0 <= value <= 1:
                raise ValueError(f"a fraction must be between 0 and 1, got {text}")
            return cls(count=None, fraction=value)
        count = int(text)
        if count < 0:
            raise ValueError(f"a count must be 0 or more, got {text}")
        return cls(count=count)

    def exceeded(self, failed: int, total: int) -> bool:
        if self.fraction is not None:
            return total > 0 and failed / total > self.fraction + 1e-12
        return failed > (self.count or 0)

    def __str__(self) -> str:
        return f"{self.fraction:g}" if self.fraction is not None else str(self.count)
