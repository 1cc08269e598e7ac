"""``python main.py validate``: check that a benchmark can score models fairly.

For every question: the category is known; every gold expansion parses as one query,
runs, returns rows, and returns the same result when run again; an ORDER BY ... LIMIT
has no tie at the cut (else which rows make the answer is arbitrary); a ``{a, b}`` column
choice does not merge rows that the fullest choice keeps apart (a name that two people
share would let a wrong list of names pass under set semantics). Prints counts per
database, category and difficulty. Exit 0 when clean, 1 when a problem was found.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp

from eval.categories import is_known
from eval.cli import DEFAULT_QUESTIONS, add_database_options, default_cache_dir, exec_limits
from eval.comparator import CompareOptions, GoldCase, compare
from eval.db.base import Backend
from eval.evaluate import gold_case, plan_gold, tie_segments
from eval.questions import load_questions
from eval.records import QueryResult, Question
from eval.schemas import discover
from eval.sqltext import gold_families, parse_single_query, sort_keys_sql, with_order_columns


@dataclass(frozen=True)
class Problem:
    question: Question
    message: str
    note: bool = False
    """Worth knowing, but scoring stays fair: printed as NOTE, and validate still passes."""

    def __str__(self) -> str:
        return f"{self.question.row_label}: {self.message}  [{self.question.question[:70]}]"


def validate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="main.py validate", description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--questions", type=Path, default=DEFAULT_QUESTIONS)
    add_database_options(parser)
    args = parser.parse_args(argv)

    from eval.pipeline import RunConfig, open_backend

    questions = load_questions(args.questions, gold_dialect=args.gold_dialect)
    sources = discover(args.schemas, [q.db_name for q in questions])
    config = RunConfig(
        questions=args.questions,
        schemas=args.schemas,
        output=Path("-"),
        limits=exec_limits(args),
        pg_url=args.pg_url,
        cache_dir=args.cache_dir or default_cache_dir(),
        allow_writable_role=args.allow_writable_role,
        dialect=args.dialect,
        gold_dialect=args.gold_dialect,
    )
    if args.dialect != "postgres":
        from eval.dialect_validate import validate_dialect

        return validate_dialect(config, questions, sources)
    with open_backend(config) as backend:
        backend.prepare(sources)
        found = [p for q in questions for p in check_question(backend, q)]
    print(count_table(questions))
    problems = [p for p in found if not p.note]
    for problem in found:
        print(f"{'NOTE' if problem.note else 'PROBLEM'} {problem}")
    notes = len(found) - len(problems)
    print(f"{len(questions)} questions, {len(problems)} problem(s)" + (f", {notes} note(s)" if notes else ""))
    return max(1 if problems else 0, check_gold_dialects(config, questions, sources))


def check_gold_dialects(config: Any, questions: list[Question], sources: Mapping[str, Any]) -> int:
    """Golds written in another dialect: run as written on an engine of that dialect and
    compared with their PostgreSQL transpilation; 1 when any differs. A dialect with no
    engine here (mysql, bigquery...) is only checked for transpiling at all (above)."""
    from eval.dialect_validate import validate_dialect

    status = 0
    for dialect in sorted({q.gold_dialect for q in questions} - {"postgres"}):
        written = [q for q in questions if q.gold_dialect == dialect]
        if dialect not in ("duckdb", "sqlite"):
            print(
                f"NOTE {len(written)} gold(s) in {dialect}: no {dialect} engine here to compare results with"
            )
            continue
        print(f"gold written in {dialect}: each run as written on {dialect} and transpiled on postgres")
        status = max(status, validate_dialect(dataclasses.replace(config, dialect=dialect), written, sources))
    return status


def check_question(backend: Backend, question: Question) -> list[Problem]:
    problems = []
    if not is_known(question.category):
        problems.append(Problem(question, f"unknown query_category {question.category!r}"))
    plan = plan_gold(question)
    if plan.error:
        return [*problems, Problem(question, plan.error)]
    ran: dict[str, QueryResult] = {}
    for sql, order, keyed in zip(plan.expansions, plan.orders, plan.sorted_by):
        first = ran[sql] = backend.execute(question.db_name, sql)
        if not first.ok:
            problems.append(Problem(question, f"gold fails: {first.error}  ({sql})"))
            continue
        if not first.rows:
            problems.append(Problem(question, f"gold returns no rows  ({sql})"))
        case = gold_case(first, order, backend.execute(question.db_name, keyed) if keyed else None)
        undetermined = undetermined_order(case)
        if undetermined and not any(p.note for p in problems):  # once per question, not per expansion
            problems.append(Problem(question, f"{undetermined}  ({sql})", note=True))
        second = backend.execute(question.db_name, sql)
        same = compare(
            first, second, order_keys=case.order_keys, ties=case.ties, options=CompareOptions(multiset=True)
        )
        if not same.correct:
            problems.append(Problem(question, f"gold is not deterministic: {same.reason}  ({sql})"))
        tie = tie_at_limit(backend, question.db_name, sql)
        if tie:
            problems.append(Problem(question, f"ambiguous: {tie}  ({sql})"))
    problems.extend(Problem(question, message) for message in collapsing_choices(backend, question, ran))
    return problems


def undetermined_order(case: GoldCase) -> str:
    """Describe rows that tie on the gold's whole sort order (keys the output does not show
    included) yet differ, or ''.

    Their order in the gold's result is arbitrary: the comparator accepts them in any
    order, but a question that asks for an ordering may want a tie-breaker.
    """
    if not case.result.rows or (case.ties is None and not case.order_keys):
        return ""  # no ORDER BY, or no sort key found among the columns
    # Without hidden keys the ties are those on the visible sort keys.
    ties = case.ties or tie_segments(
        [tuple(row[k] for k in case.order_keys or ()) for row in case.result.rows]
    )
    groups: dict[int, set[tuple]] = {}
    for segment, row in zip(ties, case.result.rows):
        groups.setdefault(segment, set()).add(tuple(map(repr, row)))
    tied = sum(len(rows) for rows in groups.values() if len(rows) > 1)
    if not tied:
        return ""
    return f"order not determined by the ORDER BY: {tied} rows tie on the sort keys (any order among them is accepted)"


def collapsing_choices(
    backend: Backend, question: Question, ran: Mapping[str, QueryResult] | None = None
) -> list[str]:
    """Column choices of a ``{}`` group that return fewer distinct rows than the fullest one.

    Such a choice (``{id, name}`` answered with names only, where two rows share a name)
    merges rows, so a prediction with wrong extra rows whose names collide would pass.
    ``ran`` holds results already fetched, by query text (not run again).
    """
    messages = []
    for family in gold_families(question.query):
        if len(family) < 2:
            continue
        counts = [_distinct_rows(backend, question.db_name, sql, ran or {}) for sql in family]
        if counts[0] is None:
            continue
        for sql, count in zip(family[1:], counts[1:]):
            if count is not None and count < counts[0]:
                messages.append(
                    f"column choice merges rows ({counts[0]} distinct rows with all columns, "
                    f"{count} with this choice): make it a whole ';' alternative or drop it  ({sql})"
                )
    return messages


def _distinct_rows(backend: Backend, db_name: str, sql: str, ran: Mapping[str, QueryResult]) -> int | None:
    result = ran.get(sql)
    if result is None:
        result = backend.execute(db_name, sql)
    if not result.ok:
        return None
    try:
        return len(set(map(tuple, result.rows)))
    except TypeError:  # an unhashable value (array, json): no verdict
        return None


def tie_at_limit(backend: Backend, db_name: str, sql: str) -> str:
    """Describe a tie across an ORDER BY ... LIMIT n cut, or '' when there is none."""
    tree = parse_single_query(sql)
    if tree is None:
        return ""
    limit = tree.args.get("limit")
    if not isinstance(limit, exp.Limit) or not isinstance(tree.args.get("order"), exp.Order):
        return ""
    try:
        n = int(limit.expression.name)
    except (AttributeError, ValueError):
        return ""
    keys = sort_keys_sql(tree)
    probe = tree.copy()
    probe.set("limit", exp.Limit(expression=exp.Literal.number(n + 1)))
    probe_sql = with_order_columns(probe, keys)
    if probe_sql is None:
        return ""
    result = backend.execute(db_name, probe_sql)
    if not result.ok or len(result.rows) <= n:
        return ""
    if result.rows[n - 1][-len(keys) :] == result.rows[n][-len(keys) :]:
        return f"rows {n} and {n + 1} tie on the ORDER BY keys at LIMIT {n}"
    return ""


def count_table(questions: Sequence[Question]) -> str:
    """Counts per database x category, and category x difficulty."""
    categories = sorted({q.category for q in questions})
    lines = [_table("db_name", [q.db_name for q in questions], [q.category for q in questions], categories)]
    difficulties = [q.fields.get("difficulty", "") for q in questions]
    if any(difficulties):
        levels: list[str] = [d for d in ("easy", "medium", "hard", "extra-hard") if d in difficulties]
        levels += sorted(set(difficulties) - set(levels))
        lines.append(_table("category", [q.category for q in questions], difficulties, levels))
    return "\n\n".join(lines)


def _table(row_name: str, row_keys: list[str], col_keys: list[str], columns: list[str]) -> str:
    counts = Counter(zip(row_keys, col_keys))
    rows = sorted(set(row_keys))
    width = max([len(row_name), *map(len, rows)]) + 2
    # At least 11 wide; wider for long names (sql-eval's instructions_cte_window...).
    cell = max([11, *(len(c) + 2 for c in columns)])
    head = f"{row_name:<{width}}" + "".join(f"{c:>{cell}}" for c in columns) + f"{'total':>8}"
    body = [
        f"{r:<{width}}"
        + "".join(f"{counts[(r, c)]:>{cell}}" for c in columns)
        + f"{sum(counts[(r, c)] for c in columns):>8}"
        for r in rows
    ]
    total = (
        f"{'total':<{width}}"
        + "".join(f"{sum(counts[(r, c)] for r in rows):>{cell}}" for c in columns)
        + f"{len(row_keys):>8}"
    )
    return "\n".join([head, *body, total])
