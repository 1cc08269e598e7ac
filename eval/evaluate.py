"""The evaluation stage: execute gold and predicted SQL, compare, and build result rows.

Each distinct (database, query) runs once per run, whether it is a gold expansion, a
prediction, or both (the oracle's predictions reuse the gold results). Gold results also
come from the on-disk cache. Queries run in parallel over the backend's connection pools;
comparison is pure and happens as each prediction's result arrives.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace

from eval.comparator import CompareOptions, GoldCase, judge
from eval.db.base import Backend
from eval.goldcache import GoldCache
from eval.records import Prediction, QueryResult, Question, ResultRow
from eval.sqltext import SqlTextError, UnsafeSqlError, check_query, expand_gold, order_keys, runnable_query

# Words with which a question asks for an ordered answer (with a gold ORDER BY, order counts).
_ORDER_WORDS = re.compile(
    r"\b(order(ed|ing)?|sort(ed|ing)?|rank(ed|ing)?|top|highest|lowest|"
    r"(first|last)(?!(\s+and\s+last)?\s+names?\b)|"
    r"ascending|descending|alphabetical(ly)?|chronological(ly)?)\b",
    re.IGNORECASE,
)


def asks_for_order(question: Question) -> bool:
    """Whether the question itself asks for an ordering (by category or wording)."""
    return question.category == "order_by" or bool(_ORDER_WORDS.search(question.question))


@dataclass(frozen=True)
class GoldPlan:
    """What to run for a question's gold, and how to judge order for each expansion."""

    expansions: tuple[str, ...] = ()
    order_keys: tuple[tuple[int, ...] | None, ...] = ()
    error: str = ""


def plan_gold(question: Question) -> GoldPlan:
    try:
        expansions = expand_gold(question.query)
    except SqlTextError as exc:
        return GoldPlan(error=f"gold query cannot be expanded: {exc}")
    if not expansions:
        return GoldPlan(error="gold query is empty")
    ordered = asks_for_order(question)
    runnable, keys = [], []
    for sql in expansions:
        try:
            checked = check_query(sql)
        except (UnsafeSqlError, SqlTextError) as exc:
            return GoldPlan(error=f"gold expansion is not a single query: {exc}")
        runnable.append(checked.text)
        keys.append(order_keys(checked.tree) if (ordered and checked.tree is not None) else None)
    return GoldPlan(tuple(runnable), tuple(keys))


def oracle_sql(backend: Backend, plan: GoldPlan, db_name: str = "") -> str:
    """The oracle's answer: the first gold expansion, in the backend's dialect."""
    if not plan.expansions:
        return ""
    try:
        return backend.gold_sql(plan.expansions[0], db_name)
    except SqlTextError:
        return plan.expansions[0]


@dataclass
class EvalStats:
    """Counters a run reports (and the benchmark reads)."""

    executed: int = 0
    gold_cache_hits: int = 0
    distinct_queries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Evaluator:
    """Runs the evaluation stage for one backend."""

    def __init__(
        self,
        backend: Backend,
        *,
        parallel: int,
        compare_options: CompareOptions,
        gold_cache: GoldCache | None = None,
    ) -> None:
        self.backend = backend
        self.parallel = max(1, parallel)
        self.compare_options = compare_options
        self.gold_cache = gold_cache
        self.stats = EvalStats()
        self._results: dict[tuple[str, str], Future[QueryResult]] = {}
        self._results_lock = threading.Lock()
        self._plans: dict[tuple[str, bool], GoldPlan] = {}

    def evaluate(
        self,
        items: Sequence[tuple[Question, Prediction]],
        on_row: Callable[[int, ResultRow], None] | None = None,
    ) -> list[ResultRow]:
        """Result rows for ``items``, in the same order."""
        plans = {q.index: self._plan(q) for q, _ in items}
        with ThreadPoolExecutor(self.parallel, thread_name_prefix="sqlharness-exec") as pool:
            self._pool = pool
            for question, _ in items:  # queue every gold expansion first: they are shared
                for sql in plans[question.index].expansions:
                    with contextlib.suppress(SqlTextError):  # reported by _gold_result
                        self._submit(
                            question.db_name, self.backend.gold_sql(sql, question.db_name), gold=True
                        )
            futures = [
                pool.submit(self._evaluate_one, question, prediction, plans[question.index])
                for question, prediction in items
            ]
            # Report rows as they complete (journal, progress), return them in item order.
            position_of = {future: i for i, future in enumerate(futures)}
            for future in as_completed(futures):
                if on_row is not None:
                    on_row(position_of[future], future.result())
            rows = [future.result() for future in futures]
        if self.gold_cache is not None:
            self.gold_cache.save()
        return rows

    def _plan(self, question: Question) -> GoldPlan:
        """plan_gold, once per distinct gold text (predictions files repeat questions)."""
        key = (question.query, asks_for_order(question))
        if key not in self._plans:
            self._plans[key] = plan_gold(question)
        return self._plans[key]

    # ---------------------------------------------------------------- execution

    def _submit(self, db_name: str, sql: str, *, gold: bool) -> Future[QueryResult]:
        key = (db_name, sql)
        with self._results_lock:
            future = self._results.get(key)
            if future is None:
                future = self._pool.submit(self._run, db_name, sql, gold)
                self._results[key] = future
                self.stats.distinct_queries += 1
            return future

    def _run(self, db_name: str, sql: str, gold: bool) -> QueryResult:
        content_hash = self.backend.content_hash(db_name)
        cache = self.gold_cache if gold else None
        if cache is not None:
            cached = cache.get(db_name, content_hash, sql)
            if cached is not None:
                with self.stats.lock:
                    self.stats.gold_cache_hits += 1
                return cached
        result = self.backend.execute(db_name, sql)
        with self.stats.lock:
            self.stats.executed += 1
        if cache is not None:
            cache.put(db_name, content_hash, sql, result)
        return result

    def run_gold(self, db_name: str, sql: str) -> QueryResult:
        """Run one gold query now, through the gold cache (the suite's variant checks)."""
        return self._run(db_name, sql, gold=True)

    def _result(self, db_name: str, sql: str, *, gold: bool) -> QueryResult:
        # Called from a worker: waiting on a future that is queued behind us could
        # deadlock a full pool, so run it here if nobody has started it yet.
        while True:
            future, mine = self._take_over(db_name, sql, gold)
            if mine:
                try:
                    result = self._run(db_name, sql, gold)
                except BaseException as exc:
                    future.set_exception(exc)
                    raise
                future.set_result(result)
                return result
            if not future.cancelled():
                return future.result()
            # Another worker took this query over after we looked it up: its
            # replacement is in the table now (swapped under the lock).

    def _take_over(self, db_name: str, sql: str, gold: bool) -> tuple[Future[QueryResult], bool]:
        """The query's future, or a running replacement that the caller must fulfil
        (True) when the queued one could be cancelled. Identical predictions of several
        questions race here."""
        future = self._submit(db_name, sql, gold=gold)
        with self._results_lock:
            future = self._results[(db_name, sql)]
            if future.running() or future.done() or not future.cancel():
                return future, False
            replacement: Future[QueryResult] = Future()
            replacement.set_running_or_notify_cancel()  # so that nobody else cancels it
            self._results[(db_name, sql)] = replacement
            return replacement, True

    def _gold_result(self, db_name: str, sql: str) -> QueryResult:
        """A gold expansion's result, run in the backend's dialect (transpiled if need be)."""
        try:
            text = self.backend.gold_sql(sql, db_name)
        except SqlTextError as exc:
            return QueryResult(error=f"gold does not transpile to {self.backend.dialect}: {exc}")
        return self._result(db_name, text, gold=True)

    # ---------------------------------------------------------------- judging

    def _evaluate_one(self, question: Question, prediction: Prediction, plan: GoldPlan) -> ResultRow:
        gold_error = plan.error
        golds: list[GoldCase] = []
        for sql, keys in zip(plan.expansions, plan.order_keys):
            result = self._gold_result(question.db_name, sql)
            if not result.ok:
                gold_error = f"gold query failed: {result.error}"
                break
            golds.append(GoldCase(result, keys))
        row = ResultRow(
            question=question,
            generated_query=prediction.sql,
            correct=False,
            exact_match=False,
            error_db_exec=False,
            timeout=False,
            error_msg="",
            latency_seconds=prediction.latency_s,
            gold_error=gold_error,
            extra={
                "prompt_tokens": prediction.prompt_tokens,
                "completion_tokens": prediction.completion_tokens,
            },
        )
        empty_gold = bool(golds) and all(not g.result.rows for g in golds)
        if prediction.error is not None:
            return replace(row, error_msg=f"generation failed: {prediction.error}")
        try:
            sql = runnable_query(prediction.sql, self.backend.dialect)
        except (UnsafeSqlError, SqlTextError) as exc:
            return replace(row, error_db_exec=True, error_msg=f"not run: {exc}")
        pred = self._result(question.db_name, sql, gold=False)
        if not pred.ok:
            return replace(row, error_db_exec=True, timeout=pred.timeout, error_msg=pred.error or "")
        if gold_error:
            return row
        verdict = judge(golds, pred, self.compare_options)
        return replace(
            row,
            correct=verdict.correct,
            exact_match=verdict.exact_match,
            mismatch="" if verdict.correct else verdict.reason,
            empty_gold=empty_gold,
        )
