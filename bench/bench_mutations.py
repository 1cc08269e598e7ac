"""How well the data tells near misses apart (run by hand; not part of the test suite).

    python bench/bench_mutations.py [-q data/questions_gen.csv] [--schemas data/schemas]
                                    [-k 3] [--seed 0] [-p N] [--list]

Each gold (its fullest expansion) is mutated mechanically, one change at a time, with
sqlglot: a comparison's strictness flipped (``>=``/``>``, ``<``/``<=``, ``=`` to ``>=``),
a date literal moved by a day either way, a number compared against moved by one, one
conjunct of a WHERE or HAVING dropped (or the whole WHERE), a join's kind changed (inner
to LEFT and back), an aggregate swapped (SUM/AVG, MIN/MAX, COUNT/COUNT DISTINCT) and an
EXTRACT field changed (YEAR/ISOYEAR, DOW/ISODOW). Every mutation changes what the query
asks, so a data set that scores one correct cannot tell that near miss from the answer.

On one embedded server in a private cache dir, prints per kind of mutation: how many ran
(a mutation that fails is wrong for an uninteresting reason and is counted apart), how
many the base data scores correct ("indistinguishable on the base"), and how many of
those the ``--suite`` variants still score correct. ``--list`` prints every survivor.

Some mutations are equivalent to the gold by the schema's constraints (COUNT(DISTINCT pk),
a LEFT JOIN along a NOT NULL foreign key, a bound that no value can ever take): no data
can separate those, so read the survivors before blaming the data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlglot  # noqa: E402
from bench_suite import evaluator  # noqa: E402
from sqlglot import exp  # noqa: E402
from sqlglot.errors import SqlglotError  # noqa: E402

from eval.evaluate import plan_gold  # noqa: E402
from eval.pipeline import RunConfig, open_backend  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from eval.records import Prediction, Question  # noqa: E402
from eval.schemas import discover  # noqa: E402
from eval.sqltext import DIALECT  # noqa: E402
from eval.variants import build_suite, suite_rows  # noqa: E402

Mutant = Callable[[exp.Expression], exp.Expression | None]
"""Given a copy of a node, the node to put in its place (None: leave it out)."""

_STRICTNESS: dict[type, type] = {
    exp.GTE: exp.GT,
    exp.GT: exp.GTE,
    exp.LT: exp.LTE,
    exp.LTE: exp.LT,
    exp.EQ: exp.GTE,
}
_AGGREGATES: dict[type, type] = {exp.Sum: exp.Avg, exp.Avg: exp.Sum, exp.Min: exp.Max, exp.Max: exp.Min}
_EXTRACT_FIELDS = {"YEAR": "ISOYEAR", "ISOYEAR": "YEAR", "DOW": "ISODOW", "ISODOW": "DOW"}


def _is_comparison_operand(node: exp.Expression) -> bool:
    parent = node.parent
    return isinstance(parent, exp.Predicate | exp.Between) or (
        isinstance(parent, exp.Cast) and isinstance(parent.parent, exp.Predicate | exp.Between)
    )


def _text_equality(node: exp.Expression) -> bool:
    """``kind = 'deposit'``: turning it into ``>=`` is no mistake anyone makes."""
    value = node.expression
    return (
        isinstance(node, exp.EQ)
        and isinstance(value, exp.Literal)
        and value.is_string
        and _as_date(value.this) is None
    )


def _column_equality(node: exp.Expression) -> bool:
    """``t.id = d.id`` (a join written in WHERE, a correlated subquery): no near miss either."""
    return isinstance(node, exp.EQ) and all(
        isinstance(side, exp.Column) for side in (node.this, node.expression)
    )


def _as_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def mutants(node: exp.Expression, fks: frozenset[tuple[str, str, str, str]]) -> Iterator[tuple[str, Mutant]]:
    """The mutations that apply at ``node``, each as (kind, how to rewrite a copy of it)."""
    # A join condition's ``=`` turned ``>=`` is no near miss anyone writes.
    in_join = isinstance(node.find_ancestor(exp.Join, exp.Where, exp.Having, exp.Select), exp.Join)
    if type(node) in _STRICTNESS and not in_join and not _text_equality(node) and not _column_equality(node):
        op = _STRICTNESS[type(node)]
        yield "comparison strictness", lambda n, op=op: op(this=n.this, expression=n.expression)
    if isinstance(node, exp.Literal) and _is_comparison_operand(node) and not in_join:
        if node.is_string and _as_date(node.this):
            for days in (1, -1):

                def moved(n: exp.Expression, days: int = days) -> exp.Expression:
                    day = _as_date(n.this) + dt.timedelta(days=days)  # type: ignore[operator]
                    return exp.Literal.string(day.isoformat() + n.this[10:])

                yield "date bound moved a day", moved
        elif node.is_int:
            yield "number moved by one", lambda n: exp.Literal.number(int(n.this) + 1)
    if isinstance(node, exp.Where):
        yield "WHERE dropped", lambda n: None
    if isinstance(node, exp.And) and isinstance(node.parent, exp.Where | exp.Having | exp.And):
        yield "one condition dropped", lambda n: n.this
        yield "one condition dropped", lambda n: n.expression
    if isinstance(node, exp.Join) and node.args.get("on") is not None and not _kind_is_moot(node, fks):
        if node.side == "LEFT":
            yield "join kind", lambda n: n.set("side", None) or n
        elif not node.side and node.kind in ("", "INNER"):

            def left(n: exp.Expression) -> exp.Expression:
                n.set("kind", None)
                n.set("side", "LEFT")
                return n

            yield "join kind", left
    if type(node) in _AGGREGATES:
        agg = _AGGREGATES[type(node)]
        yield "aggregate swapped", lambda n, agg=agg: agg(this=n.this)
    if isinstance(node, exp.Count) and not isinstance(node.this, exp.Star):
        if isinstance(node.this, exp.Distinct):
            yield "aggregate swapped", lambda n: exp.Count(this=n.this.expressions[0])
        elif node.this is not None:
            yield "aggregate swapped", lambda n: exp.Count(this=exp.Distinct(expressions=[n.this]))
    if isinstance(node, exp.Extract) and node.this.name.upper() in _EXTRACT_FIELDS:
        field = _EXTRACT_FIELDS[node.this.name.upper()]
        yield (
            "EXTRACT field",
            lambda n, field=field: exp.Extract(this=exp.var(field), expression=n.expression),
        )


def _kind_is_moot(join: exp.Join, fks: frozenset[tuple[str, str, str, str]]) -> bool:
    """Inner and LEFT give the same rows: the join follows a NOT NULL foreign key to the
    joined table's key, or the WHERE clause rejects the NULLs a LEFT JOIN would add."""
    select = join.parent
    alias = join.this.alias_or_name
    where = select.args.get("where") if isinstance(select, exp.Select) else None
    if where is not None and any(c.table == alias for c in where.find_all(exp.Column)):
        return True
    on = join.args["on"]
    if not isinstance(on, exp.EQ) or not all(
        isinstance(side, exp.Column) for side in (on.this, on.expression)
    ):
        return False
    tables = _table_names(select)
    ours, theirs = (on.this, on.expression) if on.this.table == alias else (on.expression, on.this)
    parent, child = tables.get(ours.table), tables.get(theirs.table)
    return bool(parent and child and (child, theirs.name, parent, ours.name) in fks)


def _table_names(select: exp.Expression) -> dict[str, str]:
    """Alias -> table name for the plain tables a SELECT reads."""
    sources = [select.args.get("from_") or select.args.get("from")]
    sources += list(select.args.get("joins") or [])
    return {
        s.this.alias_or_name: s.this.name
        for s in sources
        if s is not None and type(s.this) is exp.Table and isinstance(s.this.this, exp.Identifier)
    }


FK_SQL = """
SELECT cl.relname, ca.attname, pl.relname, pa.attname
FROM pg_constraint k
JOIN pg_class cl ON cl.oid = k.conrelid JOIN pg_class pl ON pl.oid = k.confrelid
JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = k.conkey[1]
JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
WHERE k.contype = 'f' AND cardinality(k.conkey) = 1 AND ca.attnotnull
"""
"""Single-column foreign keys whose column is NOT NULL: (child, column, parent, key)."""


def mutations(sql: str, fks: frozenset[tuple[str, str, str, str]] = frozenset()) -> list[tuple[str, str]]:
    """Every single-change mutation of ``sql``, as (kind, SQL), without repeats; ``fks`` are
    the database's NOT NULL foreign keys, along which a join's kind changes nothing."""
    try:
        tree = sqlglot.parse_one(sql, read=DIALECT)
    except SqlglotError:
        return []
    original = tree.sql(dialect=DIALECT)
    seen, out = {original}, []
    for index, node in enumerate(tree.walk()):
        for kind, mutant in mutants(node, fks):
            copy = tree.copy()
            target = next(n for i, n in enumerate(copy.walk()) if i == index)
            replacement = mutant(target.copy())
            if replacement is None:
                target.pop()
            else:
                target.replace(replacement)
            text = copy.sql(dialect=DIALECT)
            if text not in seen:
                seen.add(text)
                out.append((kind, text))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--questions", type=Path, default=ROOT / "data" / "questions_gen.csv")
    parser.add_argument("--schemas", type=Path, default=ROOT / "data" / "schemas")
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-p", "--parallel", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--list", action="store_true", help="print every mutation the base cannot tell apart")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    items: list[tuple[Question, Prediction]] = []
    kinds: list[str] = []
    cache_dir = Path(tempfile.mkdtemp(prefix="sqlharness-bench-mutations-"))
    os.chmod(cache_dir, 0o755)  # the embedded server may run as another user
    config = RunConfig(questions=args.questions, schemas=args.schemas, output=Path("-"), cache_dir=cache_dir)
    try:
        with open_backend(config) as backend:
            sources = discover(args.schemas, [q.db_name for q in questions])
            backend.prepare(sources)
            for q in questions:
                with backend._admin(q.db_name) as conn, conn.cursor() as cur:
                    cur.execute(FK_SQL)
                    fks = frozenset(cur.fetchall())
                plan = plan_gold(q)
                for kind, sql in mutations(plan.expansions[0], fks) if plan.expansions else []:
                    items.append((q, Prediction(sql=sql)))
                    kinds.append(kind)
            print(
                f"benchmark: {args.questions} ({len(questions)} questions), {len(items)} mutations of the golds"
            )
            check = evaluator(backend, cache_dir / "gold", args.parallel)
            started = time.perf_counter()
            suite = build_suite(backend, sources, questions, args.k, args.seed, gold=check.run_gold)
            print(f"k={args.k} seed={args.seed}: variants built in {time.perf_counter() - started:.1f}s")
            started = time.perf_counter()
            rows, _ = suite_rows(check, check.evaluate(items), suite.variants)
            print(f"evaluated in {time.perf_counter() - started:.1f}s")
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    ran, failed, base, both = Counter(), Counter(), Counter(), Counter()
    survivors = []
    for kind, row in zip(kinds, rows):
        if row.error_db_exec or row.error_msg:
            failed[kind] += 1
            continue
        ran[kind] += 1
        if row.correct:
            base[kind] += 1
            both[kind] += bool(row.suite_correct)
            survivors.append((kind, row))
    print(
        f"\n| mutation | ran | failed | same result on the base | also on every variant (--suite -k {args.k}) |"
    )
    print("|---|---:|---:|---:|---:|")
    for kind in sorted(ran | failed, key=lambda k: -ran[k]):
        print(
            f"| {kind} | {ran[kind]} | {failed[kind]} | {base[kind]} ({base[kind] / max(ran[kind], 1):.1%}) | {both[kind]} |"
        )
    total, same, kept = sum(ran.values()), sum(base.values()), sum(both.values())
    print(
        f"| all | {total} | {sum(failed.values())} | {same} ({same / max(total, 1):.1%}) | {kept} ({kept / max(total, 1):.1%}) |"
    )
    for kind, row in survivors if args.list else []:
        flag = "suite too" if row.suite_correct else "suite catches"
        print(
            f"[{row.question.db_name}] {kind} ({flag}): {row.question.question[:70]}\n    {row.generated_query}"
        )


if __name__ == "__main__":
    main()
