"""Scores: accuracy overall and per category from result rows.

Questions whose gold failed are a benchmark error: they are counted apart
(``gold_errors``) and never enter the model's accuracy.
"""

from __future__ import annotations

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
    )


def _total(rows: Sequence[ResultRow], key: str) -> int | None:
    values = [r.extra.get(key) for r in rows]
    present = [v for v in values if isinstance(v, int)]
    return sum(present) if present else None
