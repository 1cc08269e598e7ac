"""PostgreSQL date and time semantics rewritten for SQLite, on the sqlglot tree.

sqlglot turns PostgreSQL into SQLite syntax, but SQLite has no date, timestamp or interval
types: the benchmark databases store dates as ``'YYYY-MM-DD'`` and timestamps as
``'YYYY-MM-DD HH:MM:SS'`` text, and sqlglot leaves ``EXTRACT``, ``date_trunc``, interval
arithmetic and ``date - date`` as text SQLite cannot run or (worse) runs as numbers.
:func:`rewrite_for_sqlite` replaces them, bottom-up, with SQLite's date functions:

==========================================  ============================================
PostgreSQL                                  SQLite (same value, same text format)
==========================================  ============================================
``EXTRACT(YEAR FROM x)`` (MONTH, DAY, ...)  ``CAST(STRFTIME('%Y', x) AS INTEGER)``
``EXTRACT(WEEK FROM x)`` (ISO week)         day of year of that week's Thursday, / 7
``EXTRACT(EPOCH FROM ts1 - ts2)``           ``(JULIANDAY(ts1) - JULIANDAY(ts2)) * 86400``
``date_trunc('month', x)``                  ``DATETIME(x, 'start of month')``
``x + INTERVAL '7 days'``                   ``DATETIME(x, '+7 days')``
``x + INTERVAL '1 month'``                  ``PG_ADD_MONTHS(x, 1)`` (clamped like PostgreSQL)
``date1 - date2`` (an integer)              ``CAST(JULIANDAY(d1) - JULIANDAY(d2) AS INTEGER)``
``date + n``                                ``DATE(x, PRINTF('%+d days', n))``
``ts1 - ts2`` (an interval)                 a number of days, as are interval literals of
                                            fixed length that it is compared with
``EXTRACT(YEAR FROM AGE(a, b))``            completed years from the calendar fields
``to_char(x, 'YYYY-MM')``                   ``STRFTIME('%Y-%m', x)`` (sqlglot; names refused)
``FROM generate_series(a, b, step) AS t(x)``  a recursive CTE adding ``step`` up to ``b``
``GROUP BY GROUPING SETS / ROLLUP / CUBE``  a UNION ALL of one GROUP BY per set
``num1 = num2`` (both ``numeric``)          equal within float rounding (relative 1e-9)
==========================================  ============================================

Types come from the database's columns (``schema``) through sqlglot's type annotation,
with PostgreSQL's rules for ``-`` and ``+`` on dates, timestamps and intervals. What has
no faithful SQLite form raises :class:`~eval.dialects.TranspileError` with the reason
(``GROUPING SETS``, intervals of months used as values, ``age()`` as an interval...), so
``validate --dialect sqlite`` keeps reporting it rather than scoring a wrong gold.

``PG_ADD_MONTHS`` is the one Python function this needs; :func:`register_functions`
installs it (pure, deterministic) on each SQLite connection.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Mapping

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.annotate_types import TypeAnnotator
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import ensure_schema

Schema = Mapping[str, Mapping[str, str]]

_DATE = {exp.DType.DATE, exp.DType.DATE32}
_TIMESTAMP = {
    exp.DType.TIMESTAMP,
    exp.DType.TIMESTAMPTZ,
    exp.DType.TIMESTAMPLTZ,
    exp.DType.DATETIME,
    exp.DType.TIMESTAMP_S,
    exp.DType.TIMESTAMP_MS,
}


class RewriteError(Exception):
    """The construct has no faithful SQLite form; the message says why."""


# ----------------------------------------------------------------------------- types


def _pg_binary_types() -> dict:
    """PostgreSQL's result types for ``+``/``-`` on dates, timestamps and intervals.

    sqlglot types ``ts - ts`` as a timestamp and ``date - date`` as a date; PostgreSQL
    gives an interval and an integer, and the rewrite depends on the difference.
    """
    t = exp.DType
    out: dict = {}
    for a in _TIMESTAMP | _DATE:
        for b in _TIMESTAMP | _DATE:
            out[(a, b)] = lambda _l, _r, a=a, b=b: t.INT if a in _DATE and b in _DATE else t.INTERVAL
        out[(a, t.INTERVAL)] = lambda _l, _r: t.TIMESTAMP
        out[(t.INTERVAL, a)] = lambda _l, _r: t.TIMESTAMP
    for n in (t.INT, t.BIGINT, t.SMALLINT, t.TINYINT):
        for d in _DATE:
            out[(d, n)] = lambda _l, _r: t.DATE
            out[(n, d)] = lambda _l, _r: t.DATE
    out[(t.INTERVAL, t.INTERVAL)] = lambda _l, _r: t.INTERVAL
    return out


def _annotated(tree: exp.Expr, schema: Schema | None) -> exp.Expr:
    """``tree`` qualified and typed from ``schema``; untyped where that is not possible."""
    if not schema:
        return tree
    try:
        typed = qualify(tree.copy(), schema=dict(schema), dialect="postgres", validate_qualify_columns=False)
        coercions = {**TypeAnnotator.BINARY_COERCIONS, **_pg_binary_types()}
        annotator = TypeAnnotator(ensure_schema(dict(schema), dialect="postgres"), binary_coercions=coercions)
        return annotator.annotate(typed)
    except (OptimizeError, SqlglotError, KeyError, ValueError):
        return tree  # unknown table or column: the rewrites that need no types still apply


def _kind(node: exp.Expr) -> str | None:
    """'date', 'timestamp', 'interval' or None, as PostgreSQL types ``node``."""
    if isinstance(node, exp.Interval):
        return "interval"
    if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        return "timestamp"
    kind = node.type.this if node.type else None
    if kind in _DATE:
        return "date"
    if kind in _TIMESTAMP:
        return "timestamp"
    if kind == exp.DType.INTERVAL:
        return "interval"
    return None


# ----------------------------------------------------------------------------- helpers


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _strftime(fmt: str, value: exp.Expr) -> exp.Expr:
    return _fn("STRFTIME", exp.Literal.string(fmt), value)


def _int(value: exp.Expr) -> exp.Expr:
    return exp.Cast(this=value, to=exp.DataType.build("INTEGER"))


def _julian(value: exp.Expr) -> exp.Expr:
    return _fn("JULIANDAY", value)


def _iso_thursday(value: exp.Expr) -> exp.Expr:
    """The Thursday of ``value``'s ISO week (it decides the ISO week and year)."""
    return _fn("DATE", value, exp.Literal.string("-3 days"), exp.Literal.string("weekday 4"))


def _field(unit: str, x: exp.Expr) -> exp.Expr:
    """``EXTRACT(unit FROM x)`` for a date or timestamp ``x``."""
    simple = {
        "YEAR": "%Y",
        "MONTH": "%m",
        "DAY": "%d",
        "HOUR": "%H",
        "MINUTE": "%M",
        "DOY": "%j",
        "DOW": "%w",
    }
    if unit in simple:
        return _int(_strftime(simple[unit], x))
    if unit == "SECOND":
        return exp.Cast(this=_strftime("%f", x), to=exp.DataType.build("REAL"))
    if unit == "ISODOW":  # Monday 1 .. Sunday 7; %w is Sunday 0
        return (
            exp.paren(
                exp.Mod(
                    this=exp.paren(exp.Add(this=_int(_strftime("%w", x)), expression=exp.Literal.number(6))),
                    expression=exp.Literal.number(7),
                )
            )
            + 1
        )
    if unit == "WEEK":
        doy = _int(_strftime("%j", _iso_thursday(x)))
        return exp.Div(
            this=exp.paren(exp.Add(this=doy, expression=exp.Literal.number(6))),
            expression=exp.Literal.number(7),
            typed=True,
        )
    if unit == "ISOYEAR":
        return _int(_strftime("%Y", _iso_thursday(x)))
    if unit == "QUARTER":
        month = _int(_strftime("%m", x))
        return exp.Div(
            this=exp.paren(exp.Add(this=month, expression=exp.Literal.number(2))),
            expression=exp.Literal.number(3),
            typed=True,
        )
    if unit == "EPOCH":
        return exp.Mul(
            this=exp.paren(exp.Sub(this=_julian(x), expression=exp.Literal.number(2440587.5))),
            expression=exp.Literal.number(86400.0),
        )
    raise RewriteError(f"EXTRACT({unit} FROM ...) has no SQLite form here")


_TRUNC = {
    "YEAR": ["start of year"],
    "MONTH": ["start of month"],
    "DAY": ["start of day"],
    # PostgreSQL weeks start on Monday: back six days, then forward to the next Monday.
    "WEEK": ["start of day", "-6 days", "weekday 1"],
}
_TRUNC_FORMAT = {"HOUR": "%Y-%m-%d %H:00:00", "MINUTE": "%Y-%m-%d %H:%M:00", "SECOND": "%Y-%m-%d %H:%M:%S"}


def _trunc(unit: str, x: exp.Expr) -> exp.Expr:
    """``date_trunc(unit, x)``: a timestamp in the databases' text format."""
    if unit in _TRUNC:
        return _fn("DATETIME", x, *(exp.Literal.string(m) for m in _TRUNC[unit]))
    if unit in _TRUNC_FORMAT:
        return _strftime(_TRUNC_FORMAT[unit], x)
    if unit == "QUARTER":
        back = exp.Mod(
            this=exp.paren(exp.Sub(this=_int(_strftime("%m", x)), expression=exp.Literal.number(1))),
            expression=exp.Literal.number(3),
        )
        shift = _fn("PRINTF", exp.Literal.string("-%d months"), back)
        return _fn("DATETIME", x, exp.Literal.string("start of month"), shift)
    raise RewriteError(f"date_trunc('{unit.lower()}', ...) has no SQLite form here")


# ----------------------------------------------------------------------------- intervals

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_UNIT_MONTHS = {"month": 1, "year": 12}
_UNIT_ALIASES = {"sec": "second", "min": "minute", "hr": "hour", "mon": "month", "yr": "year"}
_PART = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*([a-z]+?)s?\b", re.IGNORECASE)


def _interval_parts(node: exp.Interval) -> tuple[int, float]:
    """(months, seconds) of an interval literal such as ``'1 month 2 days'`` or ``'24' HOURS``."""
    text = node.this.name if isinstance(node.this, exp.Literal) else None
    if text is None:
        raise RewriteError("an interval that is not a literal has no SQLite form here")
    unit = node.unit.name if node.unit else ""
    if unit:
        text = f"{text} {unit}"
    months, seconds, pos = 0, 0.0, 0
    for match in _PART.finditer(text):
        if text[pos : match.start()].strip():
            break
        amount, name = float(match.group(1)), match.group(2).lower().rstrip("s")
        name = _UNIT_ALIASES.get(name, name)
        if name in _UNIT_MONTHS and amount.is_integer():
            months += int(amount) * _UNIT_MONTHS[name]
        elif name in _UNIT_SECONDS:
            seconds += amount * _UNIT_SECONDS[name]
        else:
            raise RewriteError(f"interval {text!r} has no SQLite form here")
        pos = match.end()
    if text[pos:].strip() or pos == 0:
        raise RewriteError(f"interval {text!r} has no SQLite form here")
    return months, seconds


def _interval_days(node: exp.Interval) -> exp.Expr:
    """An interval literal as a number of days (how interval values are kept in SQLite)."""
    months, seconds = _interval_parts(node)
    if months:
        raise RewriteError("an interval of months or years used as a value has no SQLite form")
    return exp.Literal.number(repr(seconds / 86400))


def _shift(x: exp.Expr, interval: exp.Interval, sign: int) -> exp.Expr:
    """``x ± interval`` as a timestamp in the databases' text format."""
    months, seconds = _interval_parts(interval)
    value = x
    if months:
        value = _fn("PG_ADD_MONTHS", value, exp.Literal.number(sign * months))
    # DATETIME gives whole seconds, the data's format; fractions of a second are not kept.
    if not float(seconds).is_integer():
        raise RewriteError("an interval with a fraction of a second has no SQLite form here")
    modifier = f"{sign * seconds:+.6f} seconds"  # not %g: it keeps only 6 digits
    return _fn("DATETIME", value, exp.Literal.string(modifier))


def _age_years(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """``EXTRACT(YEAR FROM AGE(a, b))``: completed years, negative when ``a`` is earlier."""

    def forward(later: exp.Expr, earlier: exp.Expr) -> exp.Expr:
        years = exp.Sub(this=_int(_strftime("%Y", later)), expression=_int(_strftime("%Y", earlier)))
        before = exp.LT(
            this=_strftime("%m-%d %H:%M:%f", later), expression=_strftime("%m-%d %H:%M:%f", earlier)
        )
        return exp.Sub(this=years, expression=exp.paren(before))

    return exp.Case(
        ifs=[
            exp.If(
                this=exp.GTE(this=_julian(a.copy()), expression=_julian(b.copy())),
                true=forward(a.copy(), b.copy()),
            )
        ],
        default=exp.Neg(this=exp.paren(forward(b.copy(), a.copy()))),
    )


# ----------------------------------------------------------------------------- the rewrite


def rewrite_for_sqlite(tree: exp.Expr, schema: Schema | None = None) -> exp.Expr:
    """``tree`` (PostgreSQL) with date/time semantics in SQLite's functions; RewriteError if none."""
    tree = _grouping_sets_as_union(_series_as_cte(tree))
    for unsupported in tree.find_all(exp.GroupingSets, exp.Rollup, exp.Cube, exp.GenerateSeries):
        names = {exp.GroupingSets: "GROUPING SETS", exp.Rollup: "ROLLUP", exp.Cube: "CUBE"}
        name = names.get(type(unsupported), "generate_series()")
        if name != "generate_series()":
            name += " with ORDER BY, LIMIT, DISTINCT, a window or GROUPING()"
        raise RewriteError(f"{name} is not supported by SQLite")
    typed: exp.Expr = _annotated(tree, schema)
    for node in reversed(list(typed.walk())):  # children before their parents
        new = _rewrite_node(node)
        if new is not None and new is not node:
            new.type = node.type
            if node is typed:
                typed = new
            else:
                node.replace(new)
    return typed


def _grouping_sets_as_union(tree: exp.Expr) -> exp.Expr:
    """``GROUP BY GROUPING SETS / ROLLUP / CUBE`` as a UNION ALL of plain GROUP BYs.

    Each branch groups by one set; grouping expressions outside it read NULL (outside
    aggregates), as in PostgreSQL. Refused (left in place) with ORDER BY, LIMIT, DISTINCT,
    window functions or GROUPING(), which a union of branches would change.
    """
    for select in list(tree.find_all(exp.Select)):
        group = select.args.get("group")
        kinds = (exp.GroupingSets, exp.Rollup, exp.Cube)
        if not isinstance(group, exp.Group) or not any(isinstance(e, kinds) for e in group.expressions):
            continue
        blocked = ("order", "limit", "offset", "distinct")
        if any(select.args.get(k) for k in blocked) or select.find(exp.Window, exp.Grouping, exp.GroupingId):
            continue
        sets = _expand_sets(group.expressions)
        if sets is None:
            continue
        every = {e.sql(): e for chosen in sets for e in chosen}
        with_ = select.args.get("with_")
        branches = [_branch(select, chosen, every) for chosen in sets]
        union: exp.Expr = branches[0]
        for branch in branches[1:]:
            union = exp.union(union, branch, distinct=False)
        if with_ is not None:
            union.set("with_", with_.copy())
        if select is tree:
            tree = union
        else:
            select.replace(exp.paren(union) if isinstance(select.parent, exp.Union) else union)
    return tree


def _expand_sets(items: list[exp.Expr]) -> list[list[exp.Expr]] | None:
    """The grouping sets a GROUP BY list stands for (their cross product), in order."""
    sets: list[list[exp.Expr]] = [[]]
    for item in items:
        if isinstance(item, exp.GroupingSets):
            options = [_members(o) for o in item.expressions]
        elif isinstance(item, (exp.Rollup, exp.Cube)):
            members = [_members(m) for m in item.expressions]  # (a, b) is one element
            n = len(members)
            if isinstance(item, exp.Rollup):
                picks = [list(range(k)) for k in range(n, -1, -1)]
            else:
                picks = [[i for i in range(n) if mask >> i & 1] for mask in range(2**n - 1, -1, -1)]
            options = [[e for i in pick for e in members[i]] for pick in picks]
        else:
            options = [[item]]
        sets = [chosen + option for chosen in sets for option in options]
    return sets if len(sets) <= 64 else None


def _members(option: exp.Expr) -> list[exp.Expr]:
    if isinstance(option, exp.Tuple):
        return list(option.expressions)
    return [option.this if isinstance(option, exp.Paren) else option]


def _branch(select: exp.Select, chosen: list[exp.Expr], every: dict[str, exp.Expr]) -> exp.Select:
    """``select`` grouped by ``chosen``; the other grouping expressions NULL outside aggregates."""
    branch = select.copy()
    branch.set("with_", None)
    kept = {e.sql() for e in chosen}
    branch.set("group", exp.Group(expressions=[e.copy() for e in chosen]) if chosen else None)
    nulled = set(every) - kept
    for part in [*branch.expressions, branch.args.get("having")]:
        if part is None:
            continue
        for node in list(part.walk()):
            if node.sql() in nulled and not node.find_ancestor(exp.AggFunc) and node.parent is not None:
                node.replace(exp.Null())
    return branch


def _series_as_cte(tree: exp.Expr) -> exp.Expr:
    """``FROM generate_series(a, b[, step]) AS t(x)`` as a recursive CTE in a subquery.

    Each value is the previous one plus the step (months clamped as PostgreSQL does), and
    the series stops past ``b``, so the values are PostgreSQL's; other uses of
    generate_series stay refused.
    """
    for n, series in enumerate(list(tree.find_all(exp.GenerateSeries))):
        table = series.parent
        if not isinstance(table, exp.Table) or table.this is not series:
            continue
        start, end, step = series.args.get("start"), series.args.get("end"), series.args.get("step")
        if start is None or end is None:
            continue
        alias = table.args.get("alias")
        columns = alias.columns if isinstance(alias, exp.TableAlias) else []
        name = alias.name if isinstance(alias, exp.TableAlias) and alias.name else "generate_series"
        column = columns[0].name if columns else name
        value = exp.column("v")
        if isinstance(step, exp.Interval):
            months, seconds = _interval_parts(step)
            ascending = months > 0 or (months == 0 and seconds > 0)
            following = _shift(value, step, 1)
            # PostgreSQL steps dates by intervals as timestamps; compare in one text format.
            start, end = _fn("DATETIME", start.copy()), _fn("DATETIME", end.copy())
        else:
            step = step or exp.Literal.number(1)
            if not step.is_int or int(step.to_py()) == 0:
                continue  # a step known only at run time: left refused below
            ascending = int(step.to_py()) > 0
            following = exp.Add(this=value, expression=step.copy())
        within = exp.LTE if ascending else exp.GTE
        cte = f"_series{n}"
        anchor = exp.select(exp.alias_(start.copy(), "v")).where(
            within(this=start.copy(), expression=end.copy())
        )
        recursive = (
            exp.select(exp.alias_(following, "v"))
            .from_(cte)
            .where(within(this=following.copy(), expression=end.copy()))
        )
        # Typed for the rewrites outside (a timestamp CAST is DATETIME() in SQLite).
        out = exp.cast(exp.column("v"), "TIMESTAMP") if isinstance(step, exp.Interval) else exp.column("v")
        body = (
            exp.select(exp.alias_(out, column))
            .from_(cte)
            .with_(cte, as_=exp.union(anchor, recursive, distinct=False), recursive=True)
        )
        table.replace(exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(name))))
    return tree


def _rewrite_node(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Extract):
        return _extract(node)
    if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        return _trunc(node.text("unit").upper(), node.this)
    if isinstance(node, (exp.Add, exp.Sub)):
        return _arith(node)
    if isinstance(node, (exp.EQ, exp.NEQ)) and _is_decimal(node.left) and _is_decimal(node.right):
        return _float_equality(node)
    if isinstance(node, exp.TimeToStr):
        _check_format(node)
        return None
    if isinstance(node, exp.Interval) and not _is_shift_operand(node):
        _check_interval_context(node)
        return _interval_days(node)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "age" and not _is_age(node):
        raise RewriteError("age() of one argument counts from today: not reproducible")
    if _is_age(node) and not (isinstance(node.parent, exp.Extract) and node.parent.name.upper() == "YEAR"):
        raise RewriteError("age() gives an interval of years and months, which SQLite cannot hold")
    return None


def _extract(node: exp.Extract) -> exp.Expr:
    unit = node.this.name.upper()
    x = node.expression
    if _is_age(x) and unit == "YEAR":
        return _age_years(*x.expressions)
    if _kind(x) == "interval":
        if unit != "EPOCH":
            raise RewriteError(f"EXTRACT({unit} FROM an interval) has no SQLite form here")
        return exp.Mul(this=exp.paren(x), expression=exp.Literal.number(86400))
    return _field(unit, x)


# The STRFTIME directives that mean what the to_char pattern sqlglot mapped them from meant.
_FAITHFUL_DIRECTIVES = re.compile(r"%[YmdHMSj%]")


def _check_format(node: exp.TimeToStr) -> None:
    """``to_char`` as sqlglot maps it, refused where SQLite would print something else.

    SQLite's STRFTIME has no month or day names, 12-hour clock or ISO week, and sqlglot
    leaves PostgreSQL patterns it cannot map (``Mon``, ``FMDay``) as literal letters.
    """
    fmt = node.args.get("format")
    text = fmt.name if isinstance(fmt, exp.Literal) else None
    rest = _FAITHFUL_DIRECTIVES.sub("", text) if text is not None else "?"
    if text is None or "%" in rest or re.search(r"[A-Za-z]", rest):
        raise RewriteError(f"to_char format {text!r} has no SQLite form (only YYYY MM DD HH24 MI SS)")


def _is_age(node: exp.Expr) -> bool:
    """``age(a, b)``; the one-argument form counts from today, which no gold should."""
    return isinstance(node, exp.Anonymous) and node.name.lower() == "age" and len(node.expressions) == 2


# Relative difference under which two computed numerics count as equal: sums of REAL
# differ from PostgreSQL's exact numeric sums by about 1e-15; real data by far more.
_REL_TOLERANCE = 1e-9


def _is_decimal(node: exp.Expr) -> bool:
    return bool(node.type and node.type.this == exp.DType.DECIMAL)


def _float_equality(node: exp.EQ | exp.NEQ) -> exp.Expr:
    """``a = b`` on ``numeric`` values, which SQLite keeps as floating-point REAL.

    ``SUM`` of REALs is not exactly PostgreSQL's exact sum, so the test becomes "equal
    within float rounding"; NULL still gives NULL.
    """
    a, b = node.left, node.right
    gap = _fn("ABS", exp.Sub(this=a.copy(), expression=b.copy()))
    scale = exp.Mul(
        this=exp.Literal.number(_REL_TOLERANCE),
        expression=_fn("MAX", _fn("ABS", a.copy()), _fn("ABS", b.copy())),
    )
    return (
        exp.LTE(this=gap, expression=scale)
        if isinstance(node, exp.EQ)
        else exp.GT(this=gap, expression=scale)
    )


def _check_interval_context(node: exp.Interval) -> None:
    """An interval literal becomes days only beside an interval; else its use is unknown.

    ``x + INTERVAL '1 day'`` with ``x`` of unknown type (no schema, a column sqlglot
    cannot type) would otherwise add a number of days to a text timestamp.
    """
    parent = node.parent
    if isinstance(parent, exp.Binary) and not isinstance(parent, exp.Connector):
        other = parent.right if parent.left is node else parent.left
        if _kind(other) != "interval":
            raise RewriteError(f"cannot tell the type of what {node.sql('postgres')} is used with")


def _is_shift_operand(node: exp.Interval) -> bool:
    """``node`` is added to or subtracted from a date or timestamp (handled by the parent)."""
    parent = node.parent
    if not isinstance(parent, (exp.Add, exp.Sub)):
        return False
    other = parent.left if parent.right is node else parent.right
    return _kind(other) in ("date", "timestamp")


def _arith(node: exp.Add | exp.Sub) -> exp.Expr | None:
    left, right = node.left, node.right
    lk, rk = _kind(left), _kind(right)
    sign = -1 if isinstance(node, exp.Sub) else 1
    temporal = ("date", "timestamp")
    if lk not in temporal and rk not in temporal:
        return None  # numbers, or intervals kept as days: SQLite's + and - are right
    if lk in temporal and isinstance(right, exp.Interval):
        return _shift(left, right, sign)
    if rk in temporal and isinstance(left, exp.Interval) and sign == 1:
        return _shift(right, left, 1)
    if lk in temporal and rk in temporal and sign == -1:
        days = exp.Sub(this=_julian(left), expression=_julian(right))
        return _int(days) if lk == rk == "date" else exp.paren(days)
    if lk == "date" and _is_integer(right):
        return _add_days(left, right, sign)
    if rk == "date" and _is_integer(left) and sign == 1:
        return _add_days(right, left, 1)
    # Anything else beside a date or timestamp (an untyped operand, an interval column)
    # would be text arithmetic in SQLite: refused rather than guessed.
    op = "-" if sign < 0 else "+"
    raise RewriteError(f"{lk or 'an untyped value'} {op} {rk or 'an untyped value'} has no SQLite form here")


def _is_integer(node: exp.Expr) -> bool:
    return bool(node.type and node.type.is_type(*exp.DataType.INTEGER_TYPES))


def _add_days(day: exp.Expr, count: exp.Expr, sign: int) -> exp.Expr:
    """``date ± n``: a date, as PostgreSQL gives."""
    days = exp.Mul(this=exp.paren(count), expression=exp.Literal.number(sign))
    return _fn("DATE", day, _fn("PRINTF", exp.Literal.string("%+d days"), days))


# ----------------------------------------------------------------------------- functions


def _add_months(value: str | None, months: int) -> str | None:
    """PostgreSQL's ``+ n months``: the day is clamped to the month's last day."""
    if value is None:
        return None
    text = str(value)
    day_part, rest = text[:10], text[10:]
    try:
        date = dt.date.fromisoformat(day_part)
    except ValueError:
        return None
    total = date.year * 12 + date.month - 1 + int(months)
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    shifted = dt.date(year, month + 1, min(date.day, last))
    return shifted.isoformat() + (rest or " 00:00:00")


FUNCTIONS: dict[str, tuple[int, Callable[..., str | None]]] = {"PG_ADD_MONTHS": (2, _add_months)}


def register_functions(conn: sqlite3.Connection) -> None:
    """Install the rewrites' Python functions (pure and deterministic) on ``conn``."""
    for name, (arity, function) in FUNCTIONS.items():
        conn.create_function(name, arity, function, deterministic=True)
