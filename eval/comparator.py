"""Decides whether a predicted result answers the question the gold result answers.

A pure function of two results: no I/O, imports nothing of the harness but the records.

Rules (``compare``):

1. **Columns.** Names and order do not matter, and the prediction may carry a few extra
   columns. Every gold column must be matched by a *distinct* prediction column holding
   the same values row by row. The matching is searched (not greedy): two gold columns
   with the same values cannot both claim one prediction column, and a first guess that
   fails is not the last word. ``SELECT id, name`` equals ``SELECT name AS n, id, email``.
   Extra columns are bounded: at most ``max(3, gold columns)`` besides the gold's
   (:func:`extra_column_limit`), widened by the prediction's columns that hold stored
   data (``stored_columns``: brought by ``*`` or named as plain columns over the
   database's tables, counted by the caller from the prediction's SQL with
   ``sqltext.stored_columns``). That keeps what real answers do (an id beside a name, the
   measure beside the entity, a few helper columns, ``SELECT *`` or every column listed)
   and rejects a shotgun of constant columns (``SELECT 0, 1, ...,
   1599`` would otherwise match every one-row gold whose value is among them).
2. **Rows.** Order does not matter unless ``order_keys`` is given (the gold has a
   top-level ORDER BY and the question asks for an ordering). Then the prediction's rows
   must come in the gold's order, except that rows tied on the sort keys may come in any
   order among themselves: ``ties`` (a segment number per gold row, from the whole sort
   order, hidden keys included) says which rows tie where the caller knows it, else the
   visible sort keys (the gold columns in ``order_keys``) decide. With neither
   (``order_keys == ()`` and no ``ties``) the whole sequence must match.
3. **Duplicates.** Set semantics by default: ``[1, 1, 2]`` equals ``[1, 2]``, as sql-eval
   and BIRD count, so scores stay comparable. ``multiset=True`` makes counts matter.
   Set semantics applies after projecting the prediction onto the matched columns.
4. **Values.** int, Decimal and float compare by value: equal within ``rel_tol``
   (default 1e-6) relative, or ``ABS_TOL`` absolute near zero; two integers compare
   exactly. NULL equals only NULL (never 0 or ''). Booleans are not numbers. A date
   equals the timestamp at its midnight; aware timestamps compare in UTC. Text is
   compared exactly (case and spaces count).
5. **Empty gold.** An empty gold result matches only an empty prediction, whatever its
   columns (within the bound of rule 1); the verdict's reason says so, since such a match
   is weak evidence.
6. **Exact match** is a correct verdict with as many columns as the gold.

How: each column is reduced to one 64-bit hash per value (numbers rounded to a binary
grid about ten times coarser than ``rel_tol``, so numbers within tolerance hash alike), rows to combined
hashes, and multisets are compared by sorting: O(n log n) time and O(n) memory, never
quadratic. Rows paired by equal hashes are then checked exactly against ``rel_tol``. Two
numbers within tolerance that straddle a grid line can hash apart and be judged
different; for float noise (1e-15 relative) that is a one-in-billions event.

Examples (``g`` gold, ``p`` prediction; rows as tuples):

- g ``[(1, 'a'), (2, 'b')]`` vs p ``[('b', 2, 'x'), ('a', 1, 'y')]`` -> correct, not exact.
- g ``[(Decimal('0.5'),)]`` vs p ``[(0.5000000001,)]`` -> correct, exact.
- g ``[(None,)]`` vs p ``[(0,)]`` -> wrong.
- g ``[(1,)]`` vs p ``[(1, 1, 1)]`` -> correct (extra columns), not exact.
- g ordered by col 0 ``[(3, 'x'), (3, 'y'), (1, 'z')]`` vs p ``[(3, 'y'), (3, 'x'), (1, 'z')]``
  -> correct (tie on the key); vs p ``[(1, 'z'), (3, 'x'), (3, 'y')]`` -> wrong order.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eval.records import QueryResult, Verdict

ABS_TOL = 1e-12
MIN_EXTRA_COLUMNS = 3
"""Extra columns always allowed beside the gold's (rule 1)."""
_EXACT_FLOAT_INTS = 2.0**53
_MAX_MATCHINGS = 10_000
_ROUGH_MATCHINGS = 4
_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_ROW_PRIME = np.uint64(0x100000001B3)
_KIND_SALT = {
    "number": np.uint64(0x243F6A8885A308D3),
    "text": np.uint64(0x13198A2E03707344),
    "bool": np.uint64(0xA4093822299F31D0),
    "time": np.uint64(0x082EFA98EC4E6C89),
    "other": np.uint64(0x452821E638D01377),
}


@dataclass(frozen=True)
class CompareOptions:
    rel_tol: float = 1e-6
    multiset: bool = False


@dataclass(frozen=True)
class GoldCase:
    """One gold expansion's result and whether (and by which columns) its order counts."""

    result: QueryResult
    order_keys: tuple[int, ...] | None = None
    ties: tuple[int, ...] | None = None
    """A segment number per row: rows tied on the whole sort order share one (rule 2)."""


def extra_column_limit(gold_columns: int, stored_columns: int = 0) -> int:
    """How many columns beyond the gold's a prediction may have (rule 1).

    ``stored_columns`` (the prediction's columns that hold stored data) may include the
    ones that answer the question, so only those beyond the gold's width widen the bound.
    """
    return max(MIN_EXTRA_COLUMNS, gold_columns) + max(0, stored_columns - gold_columns)


def judge(
    golds: Sequence[GoldCase], pred: QueryResult, options: CompareOptions, *, stored_columns: int = 0
) -> Verdict:
    """The best verdict over all gold expansions: correct if any matches.

    ``exact_match`` holds if some matching expansion has as many columns as the prediction.
    When none matches, the reason is the first expansion's (the fullest answer).
    """
    wrong: list[tuple[int, Verdict]] = []
    best: Verdict | None = None
    for gold in golds:
        verdict = compare(
            gold.result,
            pred,
            order_keys=gold.order_keys,
            ties=gold.ties,
            options=options,
            stored_columns=stored_columns,
        )
        if verdict.correct:
            if verdict.exact_match:
                return verdict
            best = best or verdict
        else:
            # Explain with the expansion closest to the prediction's width.
            wrong.append((abs(len(pred.columns) - len(gold.result.columns)), verdict))
    if best is not None:
        return best
    if wrong:
        return min(wrong, key=lambda pair: pair[0])[1]
    return Verdict(correct=False, reason="no gold result to compare with")


def compare(
    gold: QueryResult,
    pred: QueryResult,
    *,
    order_keys: tuple[int, ...] | None = None,
    ties: tuple[int, ...] | None = None,
    options: CompareOptions = CompareOptions(),
    stored_columns: int = 0,
) -> Verdict:
    """Compare one gold result with one predicted result (rules in the module docstring)."""
    if not gold.ok or not pred.ok:
        return Verdict(correct=False, reason="a query failed; nothing to compare")
    n_gold_cols, n_pred_cols = len(gold.columns), len(pred.columns)
    limit = extra_column_limit(n_gold_cols, stored_columns)
    if n_pred_cols - n_gold_cols > limit:
        return Verdict(
            False,
            reason=f"prediction has {n_pred_cols} columns: at most {limit} beyond the gold's {n_gold_cols} are accepted",
        )
    if not gold.rows:
        if pred.rows:
            return Verdict(False, reason=f"gold is empty, prediction has {len(pred.rows)} rows")
        return Verdict(True, n_gold_cols == n_pred_cols, reason="empty gold result (weak evidence)")
    if n_pred_cols < n_gold_cols:
        return Verdict(False, reason=f"prediction has {n_pred_cols} columns, gold needs {n_gold_cols}")
    if options.multiset and len(gold.rows) != len(pred.rows):
        return Verdict(False, reason=_count_reason(len(gold.rows), len(pred.rows)))
    g = _Table.of(gold, options.rel_tol)
    p = _Table.of(pred, options.rel_tol)
    # Fast path: pair columns by O(n) fingerprints and try the few assignments they allow;
    # the row-level check is what decides, so a loose pairing only costs a failed try.
    # Only when that finds nothing are the exact (sorting) column signatures computed,
    # to explain the failure or to search the assignments properly.
    rough = _rough_candidates(g, p, options.multiset)
    if all(rough):
        for tried, mapping in enumerate(_matchings(rough)):
            if tried == _ROUGH_MATCHINGS:
                break
            if _rows_match(g, p, mapping, order_keys, ties, options)[0]:
                return Verdict(True, exact_match=n_gold_cols == n_pred_cols)
    candidates = _column_candidates(g, p, options.multiset)
    for gi, options_for_gi in enumerate(candidates):
        if not options_for_gi:
            return Verdict(False, reason=_column_reason(g, p, gi, gold.columns[gi], options))
    reason = "no assignment of prediction columns reproduces the gold rows"
    for mapping in _matchings(candidates):
        ok, why = _rows_match(g, p, mapping, order_keys, ties, options)
        if ok:
            return Verdict(True, exact_match=n_gold_cols == n_pred_cols)
        reason = why
    return Verdict(False, reason=reason)


# --------------------------------------------------------------------------- canonical columns


@dataclass(frozen=True)
class _Column:
    kind: str
    hashes: np.ndarray  # uint64, one per row
    floats: np.ndarray | None = None  # exact values of a number column (NaN for NULL)
    ints: np.ndarray | None = None  # object array when every value is an int (or NULL)


@dataclass(frozen=True)
class _Table:
    columns: tuple[_Column, ...]
    n_rows: int

    @classmethod
    def of(cls, result: QueryResult, rel_tol: float) -> _Table:
        columns = _object_columns(result.rows, len(result.columns))
        return cls(tuple(_column(values, rel_tol) for values in columns), len(result.rows))


def _object_columns(rows: Sequence[tuple], width: int) -> list[np.ndarray]:
    """The result's columns as object arrays (one C-level pass where the values allow)."""
    if not rows:
        return []
    try:
        matrix = np.array(rows, dtype=object)
        if matrix.shape == (len(rows), width):
            return [matrix[:, j] for j in range(width)]
    except ValueError:
        pass
    # Values that are themselves sequences (PostgreSQL arrays) would become extra axes.
    return [np.fromiter(column, dtype=object, count=len(rows)) for column in zip(*rows)]


def _column(values: np.ndarray, rel_tol: float) -> _Column:
    types, nulls = _value_types(values)
    if types and types <= {int, float, decimal.Decimal}:
        return _number_column(values, nulls, types, rel_tol)
    if types <= {str}:  # also an all-NULL column
        return _Column("text", _finish(pd.util.hash_array(values), nulls, "text"))
    if types <= {bool}:
        flags = np.fromiter((bool(v) for v in values), dtype=np.uint64, count=len(values))
        return _Column("bool", _finish(pd.util.hash_array(flags), nulls, "bool"))
    if types <= {dt.date, dt.datetime}:
        canon = np.asarray([_time_key(v) for v in values], dtype=object)
        return _Column("time", _finish(pd.util.hash_array(canon), nulls, "time"))
    canon = np.asarray([_other_key(v) for v in values], dtype=object)
    return _Column("other", _finish(pd.util.hash_array(canon), nulls, "other"))


# pandas' C-level type inference for the common NULL-free columns; what it reports as
# "mixed" (NULLs among the values, odd types) takes the per-value pass.
_UNIFORM_TYPES: dict[str, frozenset[type]] = {
    "integer": frozenset({int}),
    "floating": frozenset({float}),
    "mixed-integer-float": frozenset({int, float}),
    "decimal": frozenset({decimal.Decimal}),
    "string": frozenset({str}),
    "boolean": frozenset({bool}),
    "date": frozenset({dt.date}),
    "datetime": frozenset({dt.datetime}),
}


def _value_types(values: np.ndarray) -> tuple[set[type], np.ndarray]:
    """The value types of a column (NULL left out) and its mask of NULLs."""
    uniform = _UNIFORM_TYPES.get(pd.api.types.infer_dtype(values, skipna=False))
    if uniform is not None:
        return set(uniform), np.zeros(len(values), dtype=bool)
    types = set(map(type, values))
    if type(None) not in types:
        return types, np.zeros(len(values), dtype=bool)
    types.discard(type(None))
    nulls = np.equal(values, None).astype(bool)  # type: ignore[call-overload]  # elementwise "is NULL"
    return types, nulls


def _number_column(values: np.ndarray, nulls: np.ndarray, types: set, rel_tol: float) -> _Column:
    if nulls.any():
        filled = values.copy()
        filled[nulls] = math.nan
        floats = filled.astype(np.float64)
    else:
        floats = values.astype(np.float64)
    ints = values if types == {int} else None
    hashes = pd.util.hash_array(_quantize(floats, rel_tol))
    return _Column("number", _finish(hashes, nulls, "number"), floats, ints)


def _quantize(x: np.ndarray, rel_tol: float) -> np.ndarray:
    """Round each number to a binary grid about ten times coarser than the tolerance.

    Works on the binary exponent (frexp), which is exact and cheaper than log10.
    """
    bits = max(1, math.floor(math.log2(1 / rel_tol)) - 3) if rel_tol > 0 else 52
    out = np.where(np.abs(x) < ABS_TOL, 0.0, x)
    mantissa, exponent = np.frexp(out)
    return np.ldexp(np.round(np.ldexp(mantissa, bits)), exponent - bits) + 0.0  # -0.0 -> 0.0


def _finish(hashes: np.ndarray, nulls: np.ndarray, kind: str) -> np.ndarray:
    hashes = hashes ^ _KIND_SALT[kind]
    hashes[nulls] = _NULL_HASH
    return hashes


def _time_key(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    assert isinstance(value, dt.date)
    return dt.datetime(value.year, value.month, value.day).isoformat()


def _other_key(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes:" + bytes(value).hex()  # psycopg2 gives bytea as memoryview
    if isinstance(value, (dict, list)):
        return type(value).__name__ + ":" + json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        # A number in a mixed column: compare it as a number would hash on its own.
        return "number:" + repr(float(value))
    return type(value).__name__ + ":" + str(value)


# --------------------------------------------------------------------------- column matching


def _signature(column: _Column, multiset: bool) -> np.ndarray:
    ordered = np.sort(column.hashes)
    return ordered if multiset else ordered[_first_in_run(ordered)]


def _first_in_run(ordered: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values in a sorted array.

    (Cheaper than np.unique, which on some numpy versions hashes instead of sorting.)
    """
    mask = np.ones(ordered.shape, dtype=bool)
    mask[1:] = ordered[1:] != ordered[:-1]
    return mask


def _fingerprint(column: _Column, multiset: bool) -> tuple[int, ...]:
    """What equal value sets (or bags) of a column must share, in one pass, no sort."""
    h = column.hashes
    if h.size == 0:
        return ()
    if not multiset:
        return (int(h.min()), int(h.max()))
    with np.errstate(over="ignore"):  # wrapping sums are fine for a fingerprint
        return (int(h.min()), int(h.max()), int(h.sum(dtype=np.uint64)), int((h * h).sum(dtype=np.uint64)))


def _rough_candidates(g: _Table, p: _Table, multiset: bool) -> list[list[int]]:
    """A superset of :func:`_column_candidates`: columns whose fingerprints agree."""
    pred = [_fingerprint(c, multiset) for c in p.columns]
    gold = [_fingerprint(c, multiset) for c in g.columns]
    return [[j for j, fp in enumerate(pred) if fp == gold_fp] for gold_fp in gold]


def _column_candidates(g: _Table, p: _Table, multiset: bool) -> list[list[int]]:
    """For each gold column, the prediction columns holding the same values (as a bag or set).

    A necessary condition for any row-level match, and cheap: one sort per column.
    """
    pred_sigs = [_signature(c, multiset) for c in p.columns]
    candidates = []
    for gc in g.columns:
        sig = _signature(gc, multiset)
        candidates.append([j for j, ps in enumerate(pred_sigs) if np.array_equal(sig, ps)])
    return candidates


def _matchings(candidates: list[list[int]]):
    """Yield injective gold->prediction column assignments, most constrained columns first."""
    order = sorted(range(len(candidates)), key=lambda i: len(candidates[i]))
    mapping: dict[int, int] = {}
    used: set[int] = set()
    budget = [_MAX_MATCHINGS]

    def search(depth: int):
        if budget[0] <= 0:
            return
        if depth == len(order):
            budget[0] -= 1
            yield tuple(mapping[i] for i in range(len(candidates)))
            return
        gi = order[depth]
        for pj in candidates[gi]:
            if pj in used:
                continue
            mapping[gi] = pj
            used.add(pj)
            yield from search(depth + 1)
            used.discard(pj)
            del mapping[gi]

    yield from search(0)


# --------------------------------------------------------------------------- row comparison


def _row_hashes(table: _Table, column_indexes: Sequence[int]) -> np.ndarray:
    combined = np.zeros(table.n_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for index in column_indexes:
            combined = combined * _ROW_PRIME ^ table.columns[index].hashes
    return combined


def _rows_match(
    g: _Table,
    p: _Table,
    mapping: tuple[int, ...],
    order_keys: tuple[int, ...] | None,
    ties: tuple[int, ...] | None,
    options: CompareOptions,
) -> tuple[bool, str]:
    gold_rows = _row_hashes(g, range(len(g.columns)))
    pred_rows = _row_hashes(p, mapping)
    if order_keys is None:
        # Order does not matter: one sort per side gives both the distinct rows and
        # their pairing (equal hashes line up).
        gold_idx = _by_hash(gold_rows, options.multiset)
        pred_idx = _by_hash(pred_rows, options.multiset)
        if len(gold_idx) != len(pred_idx):
            return False, _count_reason(len(gold_idx), len(pred_idx))
        gold_pairing = pred_pairing = np.arange(len(gold_idx))
        g_rows, p_rows = gold_rows[gold_idx], pred_rows[pred_idx]
    else:
        gold_idx = np.arange(g.n_rows)
        pred_idx = np.arange(p.n_rows)
        if not options.multiset:
            gold_idx = _first_occurrences(gold_rows)
            pred_idx = _first_occurrences(pred_rows)
        if len(gold_idx) != len(pred_idx):
            return False, _count_reason(len(gold_idx), len(pred_idx))
        g_rows, p_rows = gold_rows[gold_idx], pred_rows[pred_idx]
        # Pair rows within each run of tied sort keys (or row by row with no visible key).
        if ties is not None and len(ties) == g.n_rows:
            segments = np.asarray(ties, dtype=np.int64)[gold_idx]
        elif order_keys:
            segments = _tie_segments(_row_hashes(g, order_keys)[gold_idx])
        else:
            segments = np.arange(len(gold_idx))
        gold_pairing = np.lexsort((g_rows, segments))
        pred_pairing = np.lexsort((p_rows, segments))
    if not np.array_equal(g_rows[gold_pairing], p_rows[pred_pairing]):
        if order_keys is not None and _same_bag(g_rows, p_rows):
            return False, "same rows in a different order"
        missing = np.setdiff1d(g_rows, p_rows).size
        extra = np.setdiff1d(p_rows, g_rows).size
        return False, f"rows differ: {missing} gold rows missing, {extra} unexpected rows"
    paired_gold = gold_idx[gold_pairing]
    paired_pred = pred_idx[pred_pairing]
    for gi, pj in enumerate(mapping):
        if not _values_close(g.columns[gi], p.columns[pj], paired_gold, paired_pred, options):
            return False, f"numbers differ beyond rel_tol={options.rel_tol:g} in gold column {gi + 1}"
    return True, ""


def _by_hash(row_hashes: np.ndarray, multiset: bool) -> np.ndarray:
    """Row indexes sorted by row hash: every row (multiset), or one per distinct row."""
    order = np.argsort(row_hashes)
    return order if multiset else order[_first_in_run(row_hashes[order])]


def _first_occurrences(row_hashes: np.ndarray) -> np.ndarray:
    """Indexes of each distinct row's first occurrence, in original order."""
    order = np.argsort(row_hashes, kind="stable")
    return np.sort(order[_first_in_run(row_hashes[order])])


def _tie_segments(key_hashes: np.ndarray) -> np.ndarray:
    """Consecutive runs of equal sort-key values get one segment number each."""
    if key_hashes.size == 0:
        return key_hashes.astype(np.int64)
    changes = np.concatenate(([0], (key_hashes[1:] != key_hashes[:-1]).astype(np.int64)))
    return np.cumsum(changes)


def _same_bag(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(np.sort(a), np.sort(b))


def _values_close(
    gc: _Column, pc: _Column, gold_idx: np.ndarray, pred_idx: np.ndarray, options: CompareOptions
) -> bool:
    """Exact check of paired numbers (hash equality only proved them on the grid)."""
    if gc.kind != "number" or pc.kind != "number":
        return True
    assert gc.floats is not None and pc.floats is not None
    if gc.ints is not None and pc.ints is not None:
        g, p = gc.floats[gold_idx], pc.floats[pred_idx]
        if np.nanmax(np.abs(g), initial=0.0) < _EXACT_FLOAT_INTS:
            return bool(np.array_equal(g, p, equal_nan=True))  # exact: these ints fit a float
        return bool(np.all(gc.ints[gold_idx] == pc.ints[pred_idx]))
    return bool(
        np.all(
            np.isclose(
                gc.floats[gold_idx],
                pc.floats[pred_idx],
                rtol=options.rel_tol,
                atol=ABS_TOL,
                equal_nan=True,
            )
        )
    )


# --------------------------------------------------------------------------- reasons


def _count_reason(n_gold: int, n_pred: int) -> str:
    return f"row count differs: gold {n_gold}, prediction {n_pred}"


def _column_reason(g: _Table, p: _Table, gi: int, name: str, options: CompareOptions) -> str:
    semantics = "bag" if options.multiset else "set"
    if p.n_rows == 0:
        return f"prediction returned no rows, gold has {g.n_rows}"
    if options.multiset or g.n_rows == p.n_rows:
        return f"no prediction column holds gold column {name!r}'s values ({semantics} of values differs)"
    return (
        f"no prediction column holds gold column {name!r}'s values "
        f"(gold {g.n_rows} rows, prediction {p.n_rows})"
    )
