"""Figures over a run's rows: rates, the Wilson interval, McNemar's exact test, SQL match.

Pure functions of the records in :mod:`eval.reports.runs`; no I/O.

Accuracy and the error, timeout and SQL-match rates count the rows whose gold ran (as the
harness's own summary does); latency and tokens count every row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from statistics import NormalDist

import sqlglot
from sqlglot.errors import SqlglotError

from eval.categories import CATEGORIES
from eval.reports.runs import Run, RunRow
from eval.sqltext import DIALECT, SqlTextError, expand_gold, split_statements

CONFIDENCE = 0.95


def wilson_interval(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion ``correct / n`` (None when n is 0).

    Unlike the normal ("Wald") interval it stays inside [0, 1] and does not collapse to
    a point at 0% or 100%, which matters for small benchmarks and near-perfect models.

    >>> tuple(round(x, 4) for x in wilson_interval(8, 10))
    (0.4902, 0.9433)
    """
    if n <= 0:
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs.

    Under "no difference" each discordant pair falls either way with probability 1/2, so
    ``b ~ Binomial(b + c, 1/2)``; the p-value doubles the smaller tail (capped at 1), which
    for p = 1/2 equals the usual two-sided binomial test. Computed with exact integers.

    >>> mcnemar_exact(0, 5)
    0.0625
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def direction(b: int, c: int) -> str:
    """Which way the discordant pairs lean: b = broke (baseline right only), c = fixed."""
    if b > c:
        return "candidate worse"
    if c > b:
        return "candidate better"
    return "no difference"


# --------------------------------------------------------------------------- SQL match


@lru_cache(maxsize=65536)
def normalize_sql(sql: str) -> str:
    """A canonical text for ``sql``: sqlglot's Postgres rendering, identifiers lowercased.

    Whitespace, keyword case, comments, a trailing ``;`` and unquoted identifier case do
    not matter. Text sqlglot cannot read falls back to its whitespace-collapsed lowercase.
    """
    try:
        statements = split_statements(sql)
    except SqlTextError:
        statements = [sql]
    text = "; ".join(statements)
    if len(statements) == 1:
        try:
            tree = sqlglot.parse_one(text, read=DIALECT)
            return tree.sql(dialect=DIALECT, normalize=True, comments=False)
        except SqlglotError:
            pass
    return " ".join(text.lower().split())


@lru_cache(maxsize=16384)
def _gold_forms(gold: str) -> frozenset[str]:
    try:
        expansions = expand_gold(gold)
    except SqlTextError:
        try:
            expansions = split_statements(gold)
        except SqlTextError:
            expansions = [gold]
    return frozenset(normalize_sql(sql) for sql in expansions)


def sql_matches_gold(generated: str, gold: str) -> bool:
    """Whether ``generated`` equals some gold expansion after :func:`normalize_sql`."""
    return bool(generated.strip()) and normalize_sql(generated) in _gold_forms(gold)


# --------------------------------------------------------------------------- run figures


@dataclass(frozen=True)
class Tally:
    correct: int = 0
    n: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None


@dataclass(frozen=True)
class RunStats:
    n: int
    correct: int
    gold_errors: int
    ci95: tuple[float, float] | None
    by_category: dict[str, Tally] = field(default_factory=dict)
    sql_exact_match: float | None = None
    error_rate: float | None = None
    timeout_rate: float | None = None
    truncated_rate: float | None = None
    generation_error_rate: float | None = None
    latency_mean_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    suite_accuracy: float | None = None
    tokens_used: int | None = None
    """sql-eval's per-question token counts, summed (its results have no prompt/completion split)."""

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def total_tokens(self) -> int | None:
        present = [t for t in (self.prompt_tokens, self.completion_tokens) if t is not None]
        return sum(present) if present else self.tokens_used


def run_stats(run: Run) -> RunStats:
    scored = run.scored_rows
    n = len(scored)
    correct = sum(r.correct for r in scored)
    return RunStats(
        n=n,
        correct=correct,
        gold_errors=len(run.rows) - n,
        ci95=wilson_interval(correct, n),
        by_category=by_category(scored),
        sql_exact_match=_rate(scored, lambda r: sql_matches_gold(r.generated, r.gold)),
        error_rate=_rate(scored, lambda r: r.error_db_exec),
        timeout_rate=_rate(scored, lambda r: r.timeout),
        truncated_rate=_rate(scored, lambda r: r.truncated),
        generation_error_rate=_rate(scored, lambda r: bool(r.generation_error)),
        latency_mean_s=_mean([r.latency_s for r in run.rows]),
        prompt_tokens=_total([r.prompt_tokens for r in run.rows]),
        completion_tokens=_total([r.completion_tokens for r in run.rows]),
        suite_accuracy=suite_accuracy(run),
        tokens_used=_total([r.tokens_used for r in run.rows]),
    )


def category_order(categories: Iterable[str]) -> list[str]:
    """Known categories first (in CATEGORIES order), then any others, sorted."""
    present = set(categories)
    return [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))


def by_category(rows: Sequence[RunRow]) -> dict[str, Tally]:
    """A tally per category, in :func:`category_order`."""
    return {
        c: Tally(sum(r.correct for r in rows if r.category == c), sum(r.category == c for r in rows))
        for c in category_order(r.category for r in rows)
    }


def suite_accuracy(run: Run) -> float | None:
    """From the rows' ``suite_correct`` where the run has it, else the summary's figure."""
    verdicts = [r.suite_correct for r in run.scored_rows if r.suite_correct is not None]
    if verdicts:
        return sum(verdicts) / len(verdicts)
    return run.meta.suite_accuracy


def _rate(rows: Sequence[RunRow], test: Callable[[RunRow], bool]) -> float | None:
    return sum(bool(test(r)) for r in rows) / len(rows) if rows else None


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _total(values: Sequence[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
