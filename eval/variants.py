"""Variant databases for test-suite accuracy (``--suite K``).

A prediction can match the gold on the seeded data by luck: a filter that happens to be
redundant there, a join that loses no rows there, a boundary no row sits on. Each
database gets K variant instances, built deterministically from the base (same base,
seed and gold literals: same variants), and a prediction is *suite-correct* when it
matches the gold on the base and on every variant.

How a variant is made (:func:`generate_table`), table by table, parents before children:

- **rows are resampled**: some dropped, some duplicated as new rows with fresh keys;
- **values are perturbed**: numbers within the column's range (keeping integers whole
  and the column's decimals), dates and timestamps within the column's range, text and
  booleans from the column's own values, NULLs as often as in the column; values next to
  the gold queries' bounds (a date literal, the second before it, the day after) are
  favoured and planted on free rows (each value in some variant), since that is where
  wrong boundaries show;
- **keys stay keys**: primary-key, unique and key-like columns (an ``id`` column unique
  on the base) are never perturbed and stay unique; a duplicate gets fresh key values;
- **foreign keys stay consistent**: declared ones, and inferred ones (a ``..id`` column
  whose values all occur in another table's key of the same name); children of dropped
  parents are remapped to surviving parents, and a few others are remapped at random;
- **gold literals survive**: every literal a gold expansion compares a column with
  (``= 'x'``, ``IN``, ``LIKE``, ``BETWEEN``, range bounds, ``IS NULL``) is collected with sqlglot,
  and rows carrying it are kept unchanged in that column, with their parents.

Then every gold expansion runs on the variant; one that returns rows on the base but
none (or an error) on a variant makes that variant be rebuilt with another seed and half
the changes (up to three tries), and what still fails is reported (a correct prediction
still matches an empty gold; only its power to tell answers apart is lost). Variants are PostgreSQL databases on
the same server, built from the base as a template and rewritten by this module.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from eval.errors import BadInput
from eval.evaluate import Evaluator, plan_gold
from eval.records import Prediction, QueryResult, Question, ResultRow
from eval.schemas import SchemaSource
from eval.sqltext import DIALECT

# Bump when the generation changes, so cached variants are rebuilt.
VARIANT_FORMAT = "6"
ATTEMPTS = 3
P_BOUNDARY = 0.35
PROTECTED_PER_LITERAL = 3


@dataclass(frozen=True)
class Rates:
    """How much a variant changes: the chance of each change per row (or cell)."""

    drop: float = 0.15
    duplicate: float = 0.25
    perturb: float = 0.3
    remap: float = 0.15

    @classmethod
    def for_attempt(cls, attempt: int) -> Rates:
        """Each retry after a gold came out empty changes half as much as the one before."""
        f = 0.5**attempt
        base = cls()
        return cls(base.drop * f, base.duplicate * f, base.perturb * f, base.remap * f)


# --------------------------------------------------------------------------- gold literals


@dataclass(frozen=True)
class Literal:
    """A gold query compares the column named ``column`` with ``values`` through ``op``."""

    column: str
    op: str
    """'=', 'in', 'like', 'ilike', '<', '<=', '>', '>=', 'between', 'is null'."""
    values: tuple[str, ...]


_RANGE_OPS: dict[type, str] = {exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=", exp.EQ: "="}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "="}


def gold_literals(questions: Iterable[Question]) -> dict[str, tuple[Literal, ...]]:
    """Per database, the literals its gold expansions compare columns with (sorted, distinct)."""
    found: dict[str, set[Literal]] = {}
    for question in questions:
        for sql in plan_gold(question).expansions:
            try:
                tree = sqlglot.parse_one(sql, read=DIALECT)
            except SqlglotError:
                continue
            if not isinstance(tree, exp.Expression):
                continue
            found.setdefault(question.db_name, set()).update(literals_in(tree))
    return {db: tuple(sorted(items, key=repr)) for db, items in found.items()}


def literals_in(tree: exp.Expression) -> list[Literal]:
    out = []
    for node in tree.walk():
        if isinstance(node, tuple(_RANGE_OPS)):
            op = _RANGE_OPS[type(node)]
            left, right = node.this, node.expression
            if isinstance(right, exp.Column) and not isinstance(left, exp.Column):
                left, right, op = right, left, _FLIPPED[op]
            value = _literal_text(right)
            if isinstance(left, exp.Column) and value is not None:
                out.append(Literal(left.name.lower(), op, (value,)))
        elif isinstance(node, exp.In) and isinstance(node.this, exp.Column):
            values = [_literal_text(v) for v in node.expressions]
            if values and all(v is not None for v in values):
                out.append(Literal(node.this.name.lower(), "in", tuple(v for v in values if v is not None)))
        elif isinstance(node, (exp.Like, exp.ILike)) and isinstance(node.this, exp.Column):
            value = _literal_text(node.expression)
            if value is not None:
                op = "ilike" if isinstance(node, exp.ILike) else "like"
                out.append(Literal(node.this.name.lower(), op, (value,)))
        elif (
            isinstance(node, exp.Is)
            and isinstance(node.this, exp.Column)
            and isinstance(node.expression, exp.Null)
        ):
            out.append(Literal(node.this.name.lower(), "is null", ()))
        elif isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
            low, high = _literal_text(node.args.get("low")), _literal_text(node.args.get("high"))
            if low is not None and high is not None:
                out.append(Literal(node.this.name.lower(), "between", (low, high)))
    return out


def _literal_text(node: exp.Expression | None) -> str | None:
    """The text of a literal, through casts (``'2023-01-01'::date``, ``DATE '...'``) and signs."""
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, (exp.Cast, exp.Paren)):
        return _literal_text(node.this)
    if isinstance(node, exp.Neg):
        inner = _literal_text(node.this)
        return None if inner is None else f"-{inner}"
    return None


def matches(literal: Literal, value: Any) -> bool:
    """Whether a stored value satisfies the gold's comparison (False when types differ)."""
    if literal.op == "is null":
        return value is None
    if value is None:
        return False
    try:
        if literal.op in ("like", "ilike"):
            flags = re.IGNORECASE if literal.op == "ilike" else 0
            return re.fullmatch(_like_regex(literal.values[0]), str(value), flags | re.DOTALL) is not None
        if literal.op == "in":
            return any(_coerce(v, value) == value for v in literal.values)
        if literal.op == "between":
            low, high = (_coerce(v, value) for v in literal.values)
            return low <= value <= high
        bound = _coerce(literal.values[0], value)
        return {
            "=": value == bound,
            "<": value < bound,
            "<=": value <= bound,
            ">": value > bound,
            ">=": value >= bound,
        }[literal.op]
    except (ValueError, TypeError, ArithmeticError):
        return False


def _coerce(text: str, like: Any) -> Any:
    """The literal's text as the type of a stored value (a date literal against a timestamp...)."""
    if isinstance(like, bool):
        return text.lower() in ("t", "true", "1", "yes", "on")
    if isinstance(like, int):
        return decimal.Decimal(text)
    if isinstance(like, decimal.Decimal):
        return decimal.Decimal(text)
    if isinstance(like, float):
        return float(text)
    if isinstance(like, dt.datetime):
        parsed = dt.datetime.fromisoformat(text.strip())
        return parsed if like.tzinfo or not parsed.tzinfo else parsed.replace(tzinfo=None)
    if isinstance(like, dt.date):
        return dt.date.fromisoformat(text.strip()[:10])
    return text


def _like_regex(pattern: str) -> str:
    out = []
    for char in pattern:
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return "".join(out)


# --------------------------------------------------------------------------- table model


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    """information_schema data_type, e.g. 'integer', 'numeric', 'text', 'date'."""
    nullable: bool = True
    max_length: int | None = None
    scale: int | None = None
    precision: int | None = None
    """Decimal digits of a ``numeric(p, s)`` (None for other types and bare numeric)."""


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[int, ...]
    parent: str
    parent_columns: tuple[int, ...]


@dataclass
class Table:
    """One table's columns, constraints and rows (as read from the base)."""

    name: str
    """Qualified and quoted, ready for SQL."""
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    keys: list[tuple[int, ...]] = field(default_factory=list)
    """Column sets that must stay unique (primary key, unique constraints, inferred keys)."""
    foreign_keys: list[ForeignKey] = field(default_factory=list)

    def index(self, column: str) -> int | None:
        for i, c in enumerate(self.columns):
            if c.name.lower() == column:
                return i
        return None

    def fixed_columns(self) -> set[int]:
        """Columns never perturbed: keys and foreign keys."""
        fixed = {i for key in self.keys for i in key}
        return fixed | {i for fk in self.foreign_keys for i in fk.columns}


_INTS = {"smallint", "integer", "bigint"}
_INT_LIMITS = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
_DECIMALS = {"numeric", "decimal"}
_FLOATS = {"real", "double precision"}
_TEXTS = {"text", "character varying", "character", "varchar", "char"}


def infer_keys(tables: Mapping[str, Table]) -> None:
    """Add key-like columns and foreign keys the schema does not declare (defog-style schemas).

    A key: a column named ``id`` or ``<something>id`` whose base values are unique and
    non-null, in a table without a declared primary key. A foreign key: a ``..id`` column
    (not itself the table's key) whose non-null values all occur in a single-column key of
    another table with the same column name, or named ``<table>_id`` for a key ``id``.
    """
    for table in tables.values():
        if table.keys:
            continue
        for i, column in enumerate(table.columns):
            if _id_like(column.name) and _unique_non_null(table.rows, i):
                table.keys.append((i,))
                break
    for table in tables.values():
        declared = {i for fk in table.foreign_keys for i in fk.columns}
        own_key = {i for key in table.keys for i in key if len(key) == 1}
        for i, column in enumerate(table.columns):
            if i in declared or i in own_key or not _id_like(column.name):
                continue
            parent = _inferred_parent(tables, table, i)
            if parent is not None:
                table.foreign_keys.append(ForeignKey((i,), parent[0], (parent[1],)))


def _id_like(name: str) -> bool:
    return name.lower() == "id" or name.lower().endswith("id")


def _unique_non_null(rows: Sequence[tuple], i: int) -> bool:
    values = [r[i] for r in rows]
    return bool(values) and None not in values and len(set(values)) == len(values)


def _inferred_parent(tables: Mapping[str, Table], child: Table, i: int) -> tuple[str, int] | None:
    name = child.columns[i].name.lower()
    values = {r[i] for r in child.rows} - {None}
    if not values:
        return None
    for parent_name, parent in sorted(tables.items()):
        if parent is child:
            continue
        for key in parent.keys:
            if len(key) != 1:
                continue
            key_name = parent.columns[key[0]].name.lower()
            bare = parent_name.split(".")[-1].strip('"').lower()
            named = key_name == name or (
                key_name == "id" and name in (f"{bare}_id", f"{bare.rstrip('s')}_id")
            )
            if named and values <= {r[key[0]] for r in parent.rows}:
                return parent_name, key[0]
    return None


def parents_first(tables: Mapping[str, Table]) -> list[str]:
    """Table names with every parent before its children (cycles broken by name order)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for fk in tables[name].foreign_keys:
            if fk.parent in tables and fk.parent != name:
                visit(fk.parent)
        visiting.discard(name)
        order.append(name)

    for name in sorted(tables):
        visit(name)
    return order


# --------------------------------------------------------------------------- generation


@dataclass
class _Row:
    values: list[Any]
    protected: set[int] = field(default_factory=set)
    """Columns carrying a gold literal: never changed."""
    kept: bool = False
    """Must survive (carries a literal, or is the parent of a row that does)."""
    childless: bool = False
    """A parent no child refers to on the base: kept, so "never ..." answers stay non-empty."""
    original: bool = True


def protect(tables: Mapping[str, Table], literals: Sequence[Literal], seed: str) -> dict[str, list[_Row]]:
    """Wrap each table's rows, marking those that carry a gold literal and their parents."""
    wrapped = {name: [_Row(list(r)) for r in t.rows] for name, t in tables.items()}
    for name in sorted(tables):
        _mark_carriers(tables[name], wrapped[name], literals, f"{seed}:{name}")
    _keep_parents(tables, wrapped)
    _mark_childless(tables, wrapped)
    return wrapped


def _mark_carriers(table: Table, rows: list[_Row], literals: Sequence[Literal], seed: str) -> None:
    """Protect a few rows carrying each literal, in that column, and keep them."""
    for literal in literals:
        i = table.index(literal.column)
        if i is None:
            continue
        carriers = [row for row in rows if matches(literal, row.values[i])]
        rng = random.Random(f"{seed}:{literal!r}")
        for row in rng.sample(carriers, min(PROTECTED_PER_LITERAL, len(carriers))):
            row.protected.add(i)
            row.kept = True


def _keep_parents(tables: Mapping[str, Table], wrapped: Mapping[str, list[_Row]]) -> None:
    """Keep the parents of kept rows (children first, so grandparents follow)."""
    for name in reversed(parents_first(tables)):
        for fk in tables[name].foreign_keys:
            if fk.parent not in tables:
                continue
            wanted = {tuple(r.values[i] for i in fk.columns) for r in wrapped[name] if r.kept}
            for parent_row in wrapped[fk.parent]:
                if tuple(parent_row.values[i] for i in fk.parent_columns) in wanted:
                    parent_row.kept = True


def _mark_childless(tables: Mapping[str, Table], wrapped: Mapping[str, list[_Row]]) -> None:
    """Mark parent rows that a child table does not refer to on the base."""
    for table in tables.values():
        for fk in table.foreign_keys:
            if fk.parent not in tables:
                continue
            used = _referenced(table, fk)
            for parent_row in wrapped[fk.parent]:
                if tuple(parent_row.values[i] for i in fk.parent_columns) not in used:
                    parent_row.childless = True


def _referenced(child: Table, fk: ForeignKey) -> set[tuple]:
    """The parent keys the child's base rows refer to through ``fk``."""
    return {tuple(r[i] for i in fk.columns) for r in child.rows}


@dataclass(frozen=True)
class _Pool:
    """One column's base values and their range, computed once per table."""

    values: list[Any]
    present: list[Any]
    low: Any = None
    high: Any = None
    near: tuple[Any, ...] = ()
    """Values beside the gold's bounds, of the column's type."""

    @classmethod
    def of(cls, values: list[Any], boundary: Sequence[Any]) -> _Pool:
        present = [v for v in values if v is not None]
        if not present:
            return cls(values, present)
        kind = type(present[0])
        near = tuple(dict.fromkeys(b for b in boundary if type(b) is kind))
        if not _ranged(present[0]):
            return cls(values, present, near=near)
        return cls(values, present, min(present), max(present), near)


def generate_table(
    table: Table,
    rows: list[_Row],
    parents: Mapping[str, list[tuple]],
    boundaries: Mapping[str, list[Any]],
    rng: random.Random,
    rates: Rates = Rates(),
    index: int = 1,
) -> list[tuple]:
    """The variant's rows for one table (see the module docstring for the rules).

    ``parents`` holds the variant rows already written for the tables this one refers to.
    """
    survivors = [r for r in rows if r.kept or r.childless or rng.random() >= rates.drop] or rows[:1]
    fixed = table.fixed_columns()
    pools = [
        _Pool.of([r.values[i] for r in rows], [b for b in boundaries.get(c.name.lower(), []) if _fits(c, b)])
        for i, c in enumerate(table.columns)
    ]
    fresh = _KeyMaker(table, parents, pools)
    copies = []
    for n, row in enumerate(list(survivors)):
        if rng.random() < rates.duplicate:
            copy = _Row(list(row.values), original=False)
            if fresh.fill(copy, n, rng):
                copies.append(copy)
    out = survivors + copies
    for row in out:
        for i, column in enumerate(table.columns):
            if i in fixed or i in row.protected or rng.random() >= rates.perturb:
                continue
            row.values[i] = perturb(column, row.values[i], pools[i], rng)
    _plant_boundaries(table, out, fixed, pools, rng, index)
    _fix_foreign_keys(table, out, {**parents, table.name: [tuple(r.values) for r in out]}, rng, rates.remap)
    return _unique_keys(table, out)


def _plant_boundaries(
    table: Table, rows: list[_Row], fixed: set[int], pools: list[_Pool], rng: random.Random, index: int
) -> None:
    """Put values from beside the gold's bounds on free rows (where wrong bounds show).

    Each value once, as far as rows allow; the ``index``-th variant starts further along
    the list, so that K small variants between them still plant every value.
    """
    for i in range(len(table.columns)):
        values = list(pools[i].near)
        if i in fixed or not values:
            continue
        candidates = [r for r in rows if i not in r.protected and not r.kept]
        count = min(len(values), len(candidates))
        start = (index - 1) * count
        chosen = [values[(start + j) % len(values)] for j in range(count)]
        for row, value in zip(rng.sample(candidates, count), chosen):
            row.values[i] = value


def _targets(table: Table, fk: ForeignKey, parent_rows: Sequence[tuple]) -> list[tuple]:
    """The key values a foreign key may point at, from the parent's variant rows.

    Parents the base's children already refer to, when there are any: a parent without
    children on the base stays without (questions about "never" keep their answers).
    """
    targets = [t for t in dict.fromkeys(tuple(r[i] for i in fk.parent_columns) for r in parent_rows)]
    targets = [t for t in targets if None not in t]
    used = _referenced(table, fk)
    return [t for t in targets if t in used] or targets


class _KeyMaker:
    """Fresh key values for duplicated rows: a parent's key, the next integer, a suffixed text."""

    def __init__(self, table: Table, parents: Mapping[str, list[tuple]], pools: list[_Pool]) -> None:
        self.table = table
        self.columns = sorted({i for key in table.keys for i in key})
        self.targets: dict[int, tuple[list[tuple], int]] = {}
        for fk in table.foreign_keys:
            targets = _targets(table, fk, parents.get(fk.parent, []))
            for j, i in enumerate(fk.columns):
                if targets:
                    self.targets[i] = (targets, j)
        self.top = {
            i: max((v for v in pools[i].present if isinstance(v, int)), default=0) for i in self.columns
        }

    def fill(self, row: _Row, n: int, rng: random.Random) -> bool:
        """Give ``row`` new key values; False when a key column's type has none to give."""
        for i in self.columns:
            column = self.table.columns[i]
            if i in self.targets:
                targets, j = self.targets[i]
                row.values[i] = rng.choice(targets)[j]
            elif column.data_type in _INTS:
                row.values[i] = self.top[i] + 1 + n
                if not _fits(column, row.values[i]):  # a smallint key already near its limit
                    return False
            elif column.data_type in _TEXTS and isinstance(row.values[i], str):
                suffix = f"~{n}"
                room = (column.max_length or 10_000) - len(suffix)
                if room < 1:
                    return False
                row.values[i] = row.values[i][:room] + suffix
            else:
                return False
        return True


def perturb(column: Column, value: Any, pool: _Pool, rng: random.Random) -> Any:
    """A plausible new value for one cell, of the column's own kind and range."""
    if not pool.present:
        return value
    if pool.near and rng.random() < P_BOUNDARY:
        return rng.choice(pool.near)
    if rng.random() < 0.5 or pool.low is None:
        choice = rng.choice(pool.values)
        return value if (choice is None and not column.nullable) else choice
    return _between(pool.low, pool.high, column, rng)


def _ranged(value: Any) -> bool:
    return isinstance(value, (int, float, decimal.Decimal, dt.date)) and not isinstance(value, bool)


def _between(low: Any, high: Any, column: Column, rng: random.Random) -> Any:
    if isinstance(low, int):
        return rng.randint(low, high)
    if isinstance(low, decimal.Decimal):
        scale = column.scale if column.scale is not None else max(0, -low.as_tuple().exponent)  # type: ignore[operator]
        raw = decimal.Decimal(str(rng.uniform(float(low), float(high))))
        return min(max(raw.quantize(decimal.Decimal(1).scaleb(-scale)), low), high)
    if isinstance(low, float):
        return rng.uniform(low, high)
    if isinstance(low, dt.datetime):
        span = int((high - low).total_seconds())
        return low + dt.timedelta(seconds=rng.randint(0, max(span, 0)))
    if isinstance(low, dt.date):
        return low + dt.timedelta(days=rng.randint(0, (high - low).days))
    return low


def boundary_values(literals: Sequence[Literal], tables: Mapping[str, Table]) -> dict[str, list[Any]]:
    """Per column name, values at and just beside the gold's bounds, typed like the column."""
    samples: dict[str, Any] = {}
    for table in tables.values():
        for i, column in enumerate(table.columns):
            value = next((r[i] for r in table.rows if r[i] is not None), None)
            if value is not None:
                samples.setdefault(column.name.lower(), value)
    out: dict[str, list[Any]] = {}
    for literal in literals:
        like = samples.get(literal.column)
        if like is None or literal.op in ("like", "ilike", "in", "is null") or not _ranged(like):
            continue
        for text in literal.values:
            try:
                beside = _beside(_coerce(text, like), like)
            except (ValueError, TypeError, ArithmeticError):  # also a date past year 9999
                continue
            out.setdefault(literal.column, []).extend(beside)
    return out


def _fits(column: Column, value: Any) -> bool:
    """Whether the column's type can store ``value``: a value beside a gold bound may not
    (``< 99.99`` on a ``numeric(4,2)``), and one such value would fail the table's insert."""
    limit = _INT_LIMITS.get(column.data_type)
    if limit is not None and isinstance(value, int):
        return -limit <= value < limit
    if column.precision is not None and isinstance(value, decimal.Decimal):
        step = decimal.Decimal(1).scaleb(-(column.scale or 0))
        stored = value.quantize(step, rounding=decimal.ROUND_HALF_UP)  # PostgreSQL rounds ties away from 0
        return abs(stored) < decimal.Decimal(10) ** (column.precision - (column.scale or 0))
    return True


def _beside(bound: Any, like: Any) -> list[Any]:
    if isinstance(like, dt.datetime):
        base = bound if isinstance(bound, dt.datetime) else dt.datetime.combine(bound, dt.time())
        return [
            base,
            base - dt.timedelta(seconds=1),
            base + dt.timedelta(hours=12),
            base - dt.timedelta(hours=12),
        ]
    if isinstance(like, dt.date):
        return [bound, bound - dt.timedelta(days=1), bound + dt.timedelta(days=1)]
    if isinstance(like, int):
        whole = int(bound)
        return [whole, whole - 1, whole + 1]
    if isinstance(like, decimal.Decimal):
        step = decimal.Decimal(1).scaleb(like.as_tuple().exponent)  # type: ignore[arg-type]
        return [bound, bound - step, bound + step]
    if isinstance(like, float):
        return [float(bound), float(bound) * 0.999, float(bound) * 1.001]
    return []


def _fix_foreign_keys(
    table: Table, rows: list[_Row], parents: Mapping[str, list[tuple]], rng: random.Random, remap: float
) -> None:
    """Point every child row at an existing parent: remap orphans, remap a few others at random."""
    for fk in table.foreign_keys:
        if fk.parent not in parents:
            continue  # a parent outside the variant's tables: leave as is
        existing = {tuple(r[i] for i in fk.parent_columns) for r in parents[fk.parent]}
        targets = _targets(table, fk, parents[fk.parent])
        for row in rows:
            if not row.values:
                continue  # already gone: an earlier foreign key had nothing to point at
            current = tuple(row.values[i] for i in fk.columns)
            if any(v is None for v in current):
                continue
            locked = any(i in row.protected for i in fk.columns)
            orphan = current not in existing
            if orphan or (not locked and not row.kept and rng.random() < remap):
                if not targets:
                    row.values = []  # nothing to point at: the row goes
                    continue
                for i, value in zip(fk.columns, rng.choice(targets)):
                    row.values[i] = value


def _unique_keys(table: Table, rows: list[_Row]) -> list[tuple]:
    """Drop rows whose key repeats one already taken (kept and original rows claim first)."""
    ordered = sorted(
        (r for r in rows if r.values), key=lambda r: (not r.kept, not r.original)
    )  # stable: same order every time
    seen: list[set[tuple]] = [set() for _ in table.keys]
    out = []
    for row in ordered:
        tuples = [tuple(row.values[i] for i in key) for key in table.keys]
        if any(t in s for t, s in zip(tuples, seen)):
            continue
        for t, s in zip(tuples, seen):
            s.add(t)
        out.append(tuple(row.values))
    return out


# --------------------------------------------------------------------------- building and checking


@dataclass(frozen=True)
class SuiteBuild:
    """The variants of every database, and what the gold check found."""

    variants: dict[str, tuple[str, ...]]
    """base database -> variant database names."""
    rebuilt: tuple[str, ...] = ()
    """'<variant>: <reason>' for each variant rebuilt with another seed."""
    empty_gold: tuple[str, ...] = ()
    """'<variant>: <question>' for golds still empty or failing on a variant after the retries."""
    built: int = 0
    """How many variant databases were (re)built in this call (the rest were cached)."""


def variant_hash(base_hash: str, literals: Sequence[Literal], seed: int, index: int, attempt: int) -> str:
    payload = json.dumps(
        [VARIANT_FORMAT, base_hash, seed, index, attempt, [repr(x) for x in literals]], sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def build_suite(
    backend: Any,
    sources: Mapping[str, SchemaSource],
    questions: Sequence[Question],
    k: int,
    seed: int = 0,
    *,
    gold: Callable[[str, str], QueryResult] | None = None,
) -> SuiteBuild:
    """Build (or reuse) ``k`` variants of each database, checking that golds stay non-empty.

    ``backend`` is a PostgresBackend (variants are databases on its server); ``gold`` runs
    a gold query on a database, ``(db_name, sql) -> QueryResult`` (default: the backend).
    """
    from eval.db.postgres import PostgresBackend

    if not isinstance(backend, PostgresBackend):
        raise BadInput(
            f"--suite needs --dialect postgres (variants are built on the PostgreSQL server), not {backend.dialect}"
        )
    run_gold = gold or backend.execute
    literals = gold_literals(questions)
    golds = _golds_by_db(questions)
    variants: dict[str, tuple[str, ...]] = {}
    rebuilt: list[str] = []
    empty: list[str] = []
    built = 0
    for db_name, source in sorted(sources.items()):
        db_literals = literals.get(db_name, ())
        # Only golds with rows on the base can come out empty on a variant: run those once.
        live = _golds_with_rows(run_gold, db_name, golds.get(db_name, []))
        names = []
        for index in range(1, k + 1):
            name = f"{db_name}__v{index}"
            hashes = [variant_hash(source.content_hash, db_literals, seed, index, a) for a in range(ATTEMPTS)]
            attempt = 0
            while True:
                # A previous run may have settled on a later attempt: accept it as it is.
                built += backend.derive_database(
                    name,
                    db_name,
                    hashes[attempt],
                    _rewriter(db_literals, hashes[attempt], Rates.for_attempt(attempt), index),
                    accept=hashes[attempt + 1 :],
                )
                attempt = hashes.index(backend.content_hash(name))
                failures = _gold_failures(run_gold, name, live)
                if not failures or attempt + 1 == ATTEMPTS:
                    break
                rebuilt.append(f"{name}: {failures[0]}")
                attempt += 1
            empty.extend(f"{name}: {f}" for f in failures)
            names.append(name)
        variants[db_name] = tuple(names)
    return SuiteBuild(variants, tuple(rebuilt), tuple(empty), built)


def _golds_by_db(questions: Sequence[Question]) -> dict[str, list[tuple[Question, str]]]:
    out: dict[str, list[tuple[Question, str]]] = {}
    seen = set()
    for question in questions:
        for sql in plan_gold(question).expansions:
            if (question.db_name, sql) not in seen:
                seen.add((question.db_name, sql))
                out.setdefault(question.db_name, []).append((question, sql))
    return out


def _golds_with_rows(
    run_gold: Callable[[str, str], QueryResult], base: str, golds: list[tuple[Question, str]]
) -> list[tuple[Question, str]]:
    """The golds that run and return rows on the base database."""
    out = []
    for question, sql in golds:
        on_base = run_gold(base, sql)
        if on_base.ok and on_base.rows:
            out.append((question, sql))
    return out


def _gold_failures(
    run_gold: Callable[[str, str], QueryResult], variant: str, golds: list[tuple[Question, str]]
) -> list[str]:
    """Golds (with rows on the base) that have none, or fail, on the variant."""
    failures: list[str] = []
    failed: set[str] = set()
    for question, sql in golds:
        if question.row_label in failed:
            continue  # one line per question
        on_variant = run_gold(variant, sql)
        if not on_variant.ok:
            failures.append(f"{question.row_label} gold fails: {on_variant.error}")
        elif not on_variant.rows:
            failures.append(f"{question.row_label} gold returns no rows")
        else:
            continue
        failed.add(question.row_label)
    return failures


def _rewriter(literals: Sequence[Literal], seed: str, rates: Rates, index: int) -> Callable[[Any], None]:
    return lambda conn: rewrite(conn, literals, seed, rates, index)


def rewrite(
    conn: Any, literals: Sequence[Literal], seed: str, rates: Rates = Rates(), index: int = 1
) -> None:
    """Turn a fresh copy of the base (an admin connection to it) into a variant."""
    tables = read_tables(conn)
    infer_keys(tables)
    wrapped = protect(tables, literals, seed)
    boundaries = boundary_values(literals, tables)
    order = parents_first(tables)
    with conn.cursor() as cur:
        if order:
            cur.execute("TRUNCATE " + ", ".join(order))
        written: dict[str, list[tuple]] = {}
        for name in order:
            rng = random.Random(f"{seed}:{name}")
            rows = generate_table(tables[name], wrapped[name], written, boundaries, rng, rates, index)
            written[name] = _insert(cur, tables[name], rows)
    conn.commit()


def _insert(cur: Any, table: Table, rows: list[tuple]) -> list[tuple]:
    """Insert ``rows``; when a check constraint rejects them, fall back to the base's rows."""
    from psycopg2 import Error as PgError
    from psycopg2.extras import Json, execute_values

    columns = ", ".join(_quote(c.name) for c in table.columns)
    sql = f"INSERT INTO {table.name} ({columns}) OVERRIDING SYSTEM VALUE VALUES %s"
    json_columns = [i for i, c in enumerate(table.columns) if c.data_type in ("json", "jsonb")]

    def adapt(row: tuple) -> tuple:
        if not json_columns:
            return row
        return tuple(Json(v) if i in json_columns and v is not None else v for i, v in enumerate(row))

    # A foreign key is checked at the end of each statement: rows of a table that refers
    # to itself go in one statement, or a row pointing into a later page would be refused.
    self_referencing = any(fk.parent == table.name for fk in table.foreign_keys)
    for candidate in (rows, table.rows):
        cur.execute("SAVEPOINT sqlharness_variant")
        try:
            if candidate:
                page = len(candidate) if self_referencing else 1000
                execute_values(cur, sql, [adapt(r) for r in candidate], page_size=page)
            cur.execute("RELEASE SAVEPOINT sqlharness_variant")
            return list(candidate)
        except PgError:
            cur.execute("ROLLBACK TO SAVEPOINT sqlharness_variant")
    raise BadInput(f"cannot write the variant rows of {table.name}")


def read_tables(conn: Any) -> dict[str, Table]:
    """Every user table of the database: columns, declared keys, and rows in storage order."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
            ORDER BY 2
            """
        )
        relations = cur.fetchall()
        tables: dict[str, Table] = {}
        names = {oid: name for oid, name in relations}
        numbers_of: dict[str, dict[int, int]] = {}
        for oid, name in relations:
            columns, numbers = _columns(cur, oid)
            numbers_of[name] = numbers
            cur.execute(f"SELECT {', '.join(_quote(c.name) for c in columns)} FROM {name} ORDER BY ctid")
            rows = [tuple(r) for r in cur.fetchall()]
            table = Table(name, tuple(columns), rows)
            cur.execute(
                "SELECT contype, conkey, confrelid, confkey FROM pg_constraint "
                "WHERE conrelid = %s AND contype IN ('p', 'u', 'f') ORDER BY contype <> 'p', conname",
                (oid,),
            )
            for kind, conkey, parent_oid, confkey in cur.fetchall():
                positions = tuple(numbers[n] for n in conkey if n in numbers)
                if kind in ("p", "u"):
                    table.keys.append(positions)
                elif parent_oid in names:
                    table.foreign_keys.append(ForeignKey(positions, names[parent_oid], tuple(confkey)))
            tables[name] = table
    # Parent column numbers are attribute numbers of the parent: turn them into positions.
    for table in tables.values():
        table.foreign_keys = [
            replace(fk, parent_columns=tuple(numbers_of[fk.parent][n] for n in fk.parent_columns))
            for fk in table.foreign_keys
        ]
    return tables


def _columns(cur: Any, oid: int) -> tuple[list[Column], dict[int, int]]:
    cur.execute(
        """
        SELECT a.attnum, a.attname, format_type(a.atttypid, NULL), NOT a.attnotnull,
               information_schema._pg_char_max_length(a.atttypid, a.atttypmod),
               information_schema._pg_numeric_scale(a.atttypid, a.atttypmod),
               CASE WHEN a.atttypid = 'numeric'::regtype
                    THEN information_schema._pg_numeric_precision(a.atttypid, a.atttypmod) END
        FROM pg_attribute a
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum
        """,
        (oid,),
    )
    columns, numbers = [], {}
    for position, (attnum, name, data_type, nullable, max_length, scale, precision) in enumerate(
        cur.fetchall()
    ):
        columns.append(Column(name, data_type, nullable, max_length, scale, precision))
        numbers[attnum] = position
    return columns, numbers


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- suite evaluation


def suite_rows(
    evaluator: Evaluator, rows: Sequence[ResultRow], variants: Mapping[str, Sequence[str]]
) -> tuple[list[ResultRow], int]:
    """``rows`` with ``suite_correct`` set; also how many (row, variant) golds failed and were skipped.

    Only rows correct on the base are run on the variants (a wrong one is suite-wrong).
    Gold and prediction run through the evaluator, so the same execution, comparison and
    gold cache apply. A variant on which the gold itself fails says nothing about the
    prediction and is skipped for that row.
    """
    items: list[tuple[Question, Prediction]] = []
    owners: list[int] = []
    for position, row in enumerate(rows):
        if not row.correct or row.gold_error:
            continue
        for name in variants.get(row.question.db_name, ()):
            items.append((replace(row.question, db_name=name), Prediction(sql=row.generated_query)))
            owners.append(position)
    verdicts = evaluator.evaluate(items) if items else []
    caught: set[int] = set()
    skipped = 0
    for position, verdict in zip(owners, verdicts):
        if verdict.gold_error:
            skipped += 1
        elif not verdict.correct:
            caught.add(position)
    out = [
        replace(row, suite_correct=row.correct and not row.gold_error and position not in caught)
        for position, row in enumerate(rows)
    ]
    return out, skipped


def suite_accuracy(rows: Sequence[ResultRow]) -> dict[str, Any]:
    """Summary keys: ``suite_accuracy`` (a number, as ``accuracy``), ``suite_correct`` and
    ``suite_by_category`` (``{category: {"accuracy", "n"}}``), over questions whose gold ran."""
    scored = [r for r in rows if not r.gold_error]

    def accuracy(group: list[ResultRow]) -> float:
        return sum(bool(r.suite_correct) for r in group) / len(group) if group else 0.0

    categories = sorted({r.question.category for r in scored})
    by_category = {}
    for category in categories:
        group = [r for r in scored if r.question.category == category]
        by_category[category] = {"accuracy": accuracy(group), "n": len(group)}
    return {
        "suite_accuracy": accuracy(scored),
        "suite_correct": sum(bool(r.suite_correct) for r in scored),
        "suite_by_category": by_category,
    }


def run_suite(
    backend: Any,
    sources: Mapping[str, SchemaSource],
    questions: Sequence[Question],
    rows: Sequence[ResultRow],
    config: Any,
    evaluator: Evaluator,
) -> tuple[list[ResultRow], dict[str, Any]]:
    """The pipeline's hook: build the variants, judge the rows on them, report."""
    started = time.perf_counter()
    build = build_suite(
        backend,
        sources,
        questions,
        config.suite,
        config.suite_seed,
        gold=evaluator.run_gold,
    )
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    judged, skipped = suite_rows(evaluator, rows, build.variants)
    evaluation_s = time.perf_counter() - started
    if build.empty_gold:
        import logging

        logging.getLogger(__name__).warning(
            "%d gold result(s) still empty or failing on a variant after %d tries: %s",
            len(build.empty_gold),
            ATTEMPTS,
            "; ".join(build.empty_gold[:5]),
        )
    meta = {
        **suite_accuracy(judged),
        "suite": {
            "k": config.suite,
            "seed": config.suite_seed,
            "variants": {db: list(names) for db, names in build.variants.items()},
            "built": build.built,
            "rebuilt": list(build.rebuilt),
            "empty_gold": list(build.empty_gold),
            "skipped_gold_errors": skipped,
            "build_s": round(build_s, 4),
            "evaluation_s": round(evaluation_s, 4),
        },
    }
    return judged, meta
