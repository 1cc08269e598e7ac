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
from eval.dialects import to_postgres
from eval.goldcache import GoldCache
from eval.records import Prediction, QueryResult, Question, ResultRow
from eval.sqltext import (
    OrderSpec,
    SqlTextError,
    UnsafeSqlError,
    check_query,
    expand_gold,
    order_spec,
    stored_columns,
    with_order_columns,
)

# Words with which a question asks for an ordered answer (with a gold ORDER BY, order counts).
_ORDER_WORDS = re.compile(
    r"\b(order(ed|ing)?|sort(ed|ing)?|rank(ed|ing)?|top|highest|lowest|"
    r"(first|last)(?!(\s+and\s+last)?\s+names?\b)|"
    r"ascending|descending|alphabetical(ly)?|chronological(ly)?)\b",
    re.IGNORECASE,
)


TRUNCATED_MESSAGE = "the model's output was cut off by the token limit mid-query: raise --max-new-tokens"
NO_SQL_MESSAGE = "no SQL in the model output"
GENERATION_FAILED = "generation failed"


def asks_for_order(question: Question) -> bool:
    """Whether the question itself asks for an ordering (by category or wording)."""
    return question.category == "order_by" or bool(_ORDER_WORDS.search(question.question))


@dataclass(frozen=True)
class GoldPlan:
    """What to run for a question's gold, and how to judge order for each expansion."""

    expansions: tuple[str, ...] = ()
    orders: tuple[OrderSpec | None, ...] = ()
    """Each expansion's ORDER BY where the question asks for an order, else None."""
    sorted_by: tuple[str | None, ...] = ()
    """Each expansion with its hidden sort keys appended to the output, where it has any
    (to tell rows tied on the whole sort order), else None."""
    error: str = ""
    dialect: str = "postgres"
    """The dialect the gold is written in; ``expansions`` are always PostgreSQL text."""
    written: tuple[str, ...] = ()
    """Each expansion as written in ``dialect`` (run as is on an engine of that dialect)."""

    @property
    def order_keys(self) -> tuple[tuple[int, ...] | None, ...]:
        """The visible sort keys of each expansion (None: order does not count)."""
        return tuple(None if o is None else o.keys for o in self.orders)


def gold_case(
    result: QueryResult, order: OrderSpec | None, sorted_result: QueryResult | None = None
) -> GoldCase:
    """How to judge a prediction against one gold expansion's result.

    Sort keys that only ``*`` shows are found by column name; where the sort order has
    keys the output does not show, ``sorted_result`` (the same query with those keys
    appended) tells which rows tie on the whole order, so that they may come in any order.
    """
    if order is None or not result.ok:
        return GoldCase(result, None)
    keys = list(order.keys)
    lowered = [c.lower() for c in result.columns]
    for name in order.names:
        if lowered.count(name.lower()) == 1 and lowered.index(name.lower()) not in keys:
            keys.append(lowered.index(name.lower()))
    ties = None
    if sorted_result is not None and _same_visible_rows(result, sorted_result):
        width = len(result.columns)
        ties = tie_segments([tuple(row[k] for k in keys) + tuple(row[width:]) for row in sorted_result.rows])
    return GoldCase(result, tuple(keys), ties)


def _same_visible_rows(result: QueryResult, sorted_result: QueryResult) -> bool:
    """The keyed query returned the very rows of the plain one, in the same order."""
    width = len(result.columns)
    return (
        sorted_result.ok
        and len(sorted_result.rows) == len(result.rows)
        and all(tuple(a[:width]) == tuple(b) for a, b in zip(sorted_result.rows, result.rows))
    )


def tie_segments(sort_keys: Sequence[tuple[object, ...]]) -> tuple[int, ...]:
    """A segment number per row: consecutive rows with equal sort keys share one."""
    segments, current = [], 0
    for i, key in enumerate(sort_keys):
        if i and key != sort_keys[i - 1]:
            current += 1
        segments.append(current)
    return tuple(segments)


def plan_gold(question: Question) -> GoldPlan:
    try:
        expansions = expand_gold(question.query)
    except SqlTextError as exc:
        return GoldPlan(error=f"gold query cannot be expanded: {exc}")
    if not expansions:
        return GoldPlan(error="gold query is empty")
    ordered = asks_for_order(question)
    runnable: list[str] = []
    orders: list[OrderSpec | None] = []
    sorted_by: list[str | None] = []
    dialect = question.gold_dialect
    for written in expansions:
        try:
            sql = to_postgres(written, dialect)
        except SqlTextError as exc:
            return GoldPlan(error=f"gold does not transpile from {dialect} to postgres: {exc}")
        try:
            checked = check_query(sql)
        except (UnsafeSqlError, SqlTextError) as exc:
            return GoldPlan(error=f"gold expansion is not a single query: {exc}")
        runnable.append(checked.text)
        order = order_spec(checked.tree) if (ordered and checked.tree is not None) else None
        orders.append(order)
        keyed = with_order_columns(checked.tree, order.hidden) if order and checked.tree is not None else None
        sorted_by.append(keyed)
    return GoldPlan(
        tuple(runnable), tuple(orders), tuple(sorted_by), dialect=dialect, written=tuple(expansions)
    )


def gold_text(backend: Backend, plan: GoldPlan, sql: str, db_name: str = "") -> str:
    """An expansion of ``plan`` (or its keyed copy) as ``backend`` runs it: as written on
    an engine of the gold's own dialect, else transpiled from PostgreSQL (raises
    SqlTextError where that cannot be done faithfully)."""
    if plan.dialect == backend.dialect and sql in plan.expansions:
        return plan.written[plan.expansions.index(sql)]
    return backend.gold_sql(sql, db_name)


def oracle_sql(backend: Backend, plan: GoldPlan, db_name: str = "") -> str:
    """The oracle's answer: the first gold expansion, in the backend's dialect."""
    if not plan.expansions:
        return ""
    try:
        return gold_text(backend, plan, plan.expansions[0], db_name)
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
        self._plans: dict[tuple[str, bool, str], GoldPlan] = {}
        # Each gold expansion's case is built once, not once per prediction of it (a
        # predictions file can answer one question thousands of times).
        self._cases: dict[tuple[str, str, OrderSpec | None, str | None, str], GoldCase] = {}

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
                plan = plans[question.index]
                for sql in [*plan.expansions, *filter(None, plan.sorted_by)]:
                    with contextlib.suppress(SqlTextError):  # reported by _gold_result
                        self._submit(
                            question.db_name, gold_text(self.backend, plan, sql, question.db_name), gold=True
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
        key = (question.query, asks_for_order(question), question.gold_dialect)
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

    def _gold_result(self, db_name: str, sql: str, plan: GoldPlan) -> QueryResult:
        """A gold expansion's result, run in the backend's dialect (transpiled if need be)."""
        try:
            text = gold_text(self.backend, plan, sql, db_name)
        except SqlTextError as exc:
            return QueryResult(error=f"gold does not transpile to {self.backend.dialect}: {exc}")
        return self._result(db_name, text, gold=True)

    def _gold_case(
        self, db_name: str, sql: str, order: OrderSpec | None, keyed: str | None, plan: GoldPlan
    ) -> GoldCase:
        """:func:`gold_case` for one expansion, built on first use (a race only builds it twice)."""
        key = (db_name, sql, order, keyed, plan.dialect)
        case = self._cases.get(key)
        if case is None:
            result = self._gold_result(db_name, sql, plan)
            sorted_result = self._gold_result(db_name, keyed, plan) if keyed and result.ok else None
            case = self._cases[key] = gold_case(result, order, sorted_result)
        return case

    # ---------------------------------------------------------------- judging

    def _evaluate_one(self, question: Question, prediction: Prediction, plan: GoldPlan) -> ResultRow:
        gold_error = plan.error
        golds: list[GoldCase] = []
        for sql, order, keyed in zip(plan.expansions, plan.orders, plan.sorted_by):
            case = self._gold_case(question.db_name, sql, order, keyed, plan)
            if not case.result.ok:
                gold_error = f"gold query failed: {case.result.error}"
                break
            golds.append(case)
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
            raw_output=prediction.raw_text,
            extra={
                "prompt_tokens": prediction.prompt_tokens,
                "completion_tokens": prediction.completion_tokens,
            },
        )
        empty_gold = bool(golds) and all(not g.result.rows for g in golds)
        if prediction.error is not None:
            failure = prediction.generation_error  # "server unreachable: ...", "generation failed: ..."
            error_msg = (
                failure if failure.startswith(GENERATION_FAILED) else f"{GENERATION_FAILED}: {failure}"
            )
            return replace(row, error_msg=error_msg, generation_error=failure)
        if prediction.truncated:
            # Never run: a prefix of a query can parse and even score (a dropped filter).
            return replace(row, truncated=True, error_msg=TRUNCATED_MESSAGE)
        if prediction.extracted and not prediction.sql:
            return replace(row, error_msg=NO_SQL_MESSAGE)
        try:
            checked = check_query(prediction.sql, self.backend.dialect)
        except (UnsafeSqlError, SqlTextError) as exc:
            return replace(row, error_db_exec=True, error_msg=f"not run: {exc}")
        pred = self._result(question.db_name, checked.text, gold=False)
        if not pred.ok:
            return replace(row, error_db_exec=True, timeout=pred.timeout, error_msg=pred.error or "")
        if gold_error:
            return row
        stored = stored_columns(checked.tree, len(pred.columns))
        verdict = judge(golds, pred, self.compare_options, stored_columns=stored)
        return replace(
            row,
            correct=verdict.correct,
            exact_match=verdict.exact_match,
            mismatch="" if verdict.correct else verdict.reason,
            empty_gold=empty_gold,
        )
