"""``python main.py validate --dialect duckdb|sqlite``: does each gold transpile faithfully?

Every gold expansion is transpiled from PostgreSQL with sqlglot, run on both engines, and
the two results compared with the comparator (multiset, the gold's order where the
question asks for one) after :func:`eval.dialects.comparable` irons out the engines' type
differences. A question is listed when an expansion does not transpile, fails on the
target engine, or returns a different result. Exit 1 when any is listed.

A gold written in the target's own dialect (``--gold-dialect sqlite --dialect sqlite``)
runs there as written, and its transpilation *to* PostgreSQL is what is checked: the same
comparison, the other way round. ``validate --gold-dialect sqlite`` on PostgreSQL does
both checks in one go.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eval.comparator import CompareOptions, compare
from eval.db.base import Backend
from eval.dialects import comparable
from eval.evaluate import gold_text, plan_gold
from eval.pipeline import RunConfig, open_backend
from eval.records import Question
from eval.schemas import SchemaSource
from eval.sqltext import SqlTextError


@dataclass(frozen=True)
class Unfaithful:
    question: Question
    kind: str
    """'transpile error', 'execution error' or 'different result'."""
    detail: str

    def __str__(self) -> str:
        return f"{self.question.row_label}: {self.kind}: {self.detail}  [{self.question.question[:70]}]"


def check_transpiled(reference: Backend, target: Backend, question: Question) -> list[Unfaithful]:
    """How the target engine's answer to ``question``'s gold differs from PostgreSQL's."""
    plan = plan_gold(question)
    if plan.error:
        return [Unfaithful(question, "transpile error", plan.error)]
    found = []
    for sql, keys in zip(plan.expansions, plan.order_keys):
        try:
            text = gold_text(target, plan, sql, question.db_name)
        except SqlTextError as exc:
            found.append(Unfaithful(question, "transpile error", f"{exc}  ({sql})"))
            continue
        expected = reference.execute(question.db_name, sql)
        if not expected.ok:
            continue  # a failing PostgreSQL gold is validate's own finding, not the dialect's
        got = target.execute(question.db_name, text)
        if not got.ok:
            found.append(Unfaithful(question, "execution error", f"{got.error}  ({text})"))
            continue
        same = compare(
            comparable(expected), comparable(got), order_keys=keys, options=CompareOptions(multiset=True)
        )
        if not same.correct or len(got.columns) != len(expected.columns):
            reason = same.reason if not same.correct else "different number of columns"
            found.append(Unfaithful(question, "different result", f"{reason}  ({text})"))
    return found


def validate_dialect(
    config: RunConfig, questions: Sequence[Question], sources: Mapping[str, SchemaSource]
) -> int:
    """Print the unfaithful questions for ``config.dialect``; 1 when any, else 0."""
    reference_config = dataclasses.replace(config, dialect="postgres")
    with open_backend(reference_config) as reference, open_backend(config) as target:
        reference.prepare(sources)
        target.prepare(sources)
        found = [u for q in questions for u in check_transpiled(reference, target, q)]
    dialect = config.dialect
    for item in found:
        print(f"UNFAITHFUL {item}")
    bad = len({u.question.index for u in found})
    print(f"{len(questions)} questions, {bad} not transpiled faithfully to {dialect}")
    return 1 if found else 0
