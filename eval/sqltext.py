"""Reading SQL text with sqlglot: statement splitting, gold expansion, statement checks, ORDER BY.

Nothing here uses regular expressions on SQL: the tokenizer knows string literals, quoted
identifiers, dollar quotes and comments, so a ``;`` or ``{`` inside any of them is text.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

# sqlglot warns when it falls back to an opaque Command (SET, DO, EXPLAIN ...); we classify
# those ourselves, so the warning is noise on the user's terminal.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

DIALECT = "postgres"


class SqlTextError(ValueError):
    """The SQL text cannot be read (unbalanced braces, untokenizable input)."""


def tokenize(sql: str, dialect: str = DIALECT) -> list[Token]:
    try:
        return sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError as exc:
        raise SqlTextError(f"cannot tokenize SQL: {exc}") from exc


def split_statements(sql: str, dialect: str = DIALECT) -> list[str]:
    """Split on top-level ``;`` tokens; empty pieces (comments only, blanks) are dropped."""
    return [text for text, _ in _statements(sql, tokenize(sql, dialect))]


def _statements(sql: str, tokens: list[Token]) -> list[tuple[str, list[Token]]]:
    """Each statement's text (trimmed, no ``;``) and its tokens."""
    pieces: list[tuple[str, list[Token]]] = []
    start, current = 0, list[Token]()
    for token in [*tokens, None]:
        if token is None or token.token_type == TokenType.SEMICOLON:
            end = token.start if token is not None else len(sql)
            if current:
                pieces.append((sql[start:end].strip(), current))
            start, current = (token.end + 1 if token is not None else end), []
        else:
            current.append(token)
    return pieces


# --------------------------------------------------------------------------- gold expansion


@dataclass(frozen=True)
class _Group:
    start: int
    end: int  # index of the closing brace
    items: tuple[str, ...]  # empty for a bare ``{}``


def expand_gold(query: str) -> list[str]:
    """All concrete SQL queries a gold ``query`` field accepts, in a stable order.

    - Whole alternatives are separated by top-level ``;``.
    - ``{a, b}`` means any non-empty subset of the listed items, in the listed order.
    - A bare ``{}`` repeats the subset chosen by a non-empty group: with as many bare
      groups as non-empty ones they pair up in order (the first ``{}`` repeats the first
      group's choice); a single ``{}`` with several groups takes all their choices.

    >>> expand_gold("SELECT {id, name}, COUNT(*) FROM t GROUP BY {}")[-1]
    'SELECT id, name, COUNT(*) FROM t GROUP BY id, name'
    """
    expansions: list[str] = []
    for family in gold_families(query):
        for sql in family:
            if sql not in expansions:
                expansions.append(sql)
    return expansions


def gold_families(query: str) -> list[list[str]]:
    """The expansions of each ``;`` alternative, fullest column choice first."""
    return [_expand_groups(alternative) for alternative in split_statements(query)]


def _expand_groups(sql: str) -> list[str]:
    groups = _find_groups(sql)
    if not groups:
        return [sql]
    filled = [g for g in groups if g.items]
    bare = [g for g in groups if not g.items]
    if not filled:
        raise SqlTextError("a '{}' group needs a non-empty '{a, b}' group to repeat")
    if bare and len(bare) not in (1, len(filled)):
        raise SqlTextError(
            f"{len(bare)} bare '{{}}' groups for {len(filled)} column groups: use one, or one per group"
        )
    choices_per_group = [_non_empty_subsets(g.items) for g in filled]
    results = []
    for choice in itertools.product(*choices_per_group):
        texts = {id(g): ", ".join(c) for g, c in zip(filled, choice)}
        for i, g in enumerate(bare):
            chosen = choice[i : i + 1] if len(bare) == len(filled) else choice
            texts[id(g)] = ", ".join(item for c in chosen for item in c)
        results.append(_substitute(sql, groups, texts))
    return results


def _find_groups(sql: str) -> list[_Group]:
    groups: list[_Group] = []
    open_at: int | None = None
    depth = 0
    item_start = 0
    items: list[str] = []
    for token in tokenize(sql):
        kind = token.token_type
        if kind == TokenType.L_BRACE:
            if open_at is not None:
                raise SqlTextError("nested '{' in a gold query")
            open_at, depth, item_start, items = token.start, 0, token.end + 1, []
        elif open_at is None:
            if kind == TokenType.R_BRACE:
                raise SqlTextError("'}' without '{' in a gold query")
        elif kind in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif kind in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
        elif kind == TokenType.COMMA and depth == 0:
            items.append(sql[item_start : token.start].strip())
            item_start = token.end + 1
        elif kind == TokenType.R_BRACE:
            items.append(sql[item_start : token.start].strip())
            cleaned = tuple(item for item in items if item)
            groups.append(_Group(open_at, token.end, cleaned))
            open_at = None
    if open_at is not None:
        raise SqlTextError("'{' without '}' in a gold query")
    return groups


def _non_empty_subsets(items: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Largest subsets first, so the first expansion is the fullest answer."""
    return [combo for size in range(len(items), 0, -1) for combo in itertools.combinations(items, size)]


def _substitute(sql: str, groups: list[_Group], texts: dict[int, str]) -> str:
    out, pos = [], 0
    for g in groups:
        out.append(sql[pos : g.start])
        out.append(texts[id(g)])
        pos = g.end + 1
    out.append(sql[pos:])
    return "".join(out)


# --------------------------------------------------------------------------- statement checks


class UnsafeSqlError(ValueError):
    """The text is not exactly one read-only query; the message says why."""


_WRITE_NODES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Copy,
    exp.Command,
    exp.TruncateTable,
    exp.Grant,
)


@dataclass(frozen=True)
class CheckedQuery:
    """One read-only query: the text to run (no trailing ``;``) and its syntax tree."""

    text: str
    tree: exp.Expression | None
    """None where sqlglot could not parse text that PostgreSQL may accept (see check_query)."""


def parse_single_query(sql: str, dialect: str = DIALECT) -> exp.Expression | None:
    """The syntax tree of ``sql`` if it is one read-only query, else UnsafeSqlError."""
    return check_query(sql, dialect).tree


def check_query(sql: str, dialect: str = DIALECT) -> CheckedQuery:
    """Check that ``sql`` is exactly one read-only query, tokenizing and parsing it once.

    Rejects empty text, several statements (a ``;`` inside a literal is not a second one),
    anything but SELECT / VALUES / set operations, data-modifying CTEs, SELECT INTO and
    row-locking clauses. The database's read-only transaction is the second line of
    defence; this one gives a clear message before anything runs.

    Where sqlglot cannot parse text that PostgreSQL may well accept, a stricter check of
    the tokens decides instead (starting like a query, no write keyword) and the tree is
    None: a model must not lose a point to a parser gap.
    """
    try:
        statements = _statements(sql, tokenize(sql, dialect))
    except SqlTextError as exc:
        raise UnsafeSqlError(str(exc)) from exc
    if not statements:
        raise UnsafeSqlError("empty query")
    if len(statements) > 1:
        raise UnsafeSqlError(f"{len(statements)} statements; exactly one query is allowed")
    text, tokens = statements[0]
    try:
        parsed = sqlglot.Dialect.get_or_raise(dialect).parser().parse(tokens, sql)
        trees = [t for t in parsed if isinstance(t, exp.Expression)]
    except ParseError as exc:
        _check_tokens(tokens, exc)
        return CheckedQuery(text, None)
    if len(trees) != 1:
        raise UnsafeSqlError("exactly one query is allowed")
    _check_tree(trees[0])
    return CheckedQuery(text, trees[0])


_QUERY_STARTS = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.TABLE, TokenType.L_PAREN}
_WRITE_TOKENS = {
    TokenType.INSERT,
    TokenType.UPDATE,
    TokenType.DELETE,
    TokenType.MERGE,
    TokenType.INTO,
    TokenType.CREATE,
    TokenType.DROP,
    TokenType.ALTER,
    TokenType.TRUNCATE,
    TokenType.GRANT,
    TokenType.COPY,
    TokenType.LOCK,
    TokenType.SET,
    TokenType.EXECUTE,
    TokenType.COMMAND,
}


def _check_tree(tree: exp.Expression) -> None:
    if not isinstance(tree, (exp.Query, exp.Values)):
        raise UnsafeSqlError(f"not a query: {_statement_kind(tree)} statements are not run")
    for node in tree.walk():
        if isinstance(node, _WRITE_NODES):
            raise UnsafeSqlError(f"not a read-only query: contains {_statement_kind(node)}")
        if isinstance(node, exp.Into):
            raise UnsafeSqlError("not a read-only query: SELECT INTO creates a table")
        if isinstance(node, exp.Lock):
            raise UnsafeSqlError("not a read-only query: row-locking clause (FOR UPDATE/SHARE)")


def _check_tokens(tokens: list[Token], parse_error: ParseError) -> None:
    if tokens[0].token_type not in _QUERY_STARTS or any(t.token_type in _WRITE_TOKENS for t in tokens):
        raise UnsafeSqlError(f"cannot parse SQL: {first_line(str(parse_error))}")


def _statement_kind(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper()


def first_line(text: str) -> str:
    """The first line of a message ('' for a blank one), for one-line errors."""
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


# --------------------------------------------------------------------------- ORDER BY


@dataclass(frozen=True)
class OrderSpec:
    """How a query's top-level ORDER BY orders its result.

    ``keys`` are select-list positions; ``names`` are keys that only a ``*`` brings into
    the output (resolved against the result's column names once it has run); ``hidden``
    are keys the output does not show at all, as SQL: :func:`with_order_columns` appends
    them to the select list so that ties on the whole sort order can be seen.
    """

    keys: tuple[int, ...] = ()
    names: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()


def order_spec(tree: exp.Expression) -> OrderSpec | None:
    """The top-level ORDER BY of ``tree`` as an :class:`OrderSpec`, or None without one.

    Keys refer to select-list items by position, alias, or the same expression. An ORDER
    BY inside a subquery or window does not count: only the outermost one orders the
    result."""
    order = tree.args.get("order")
    if not isinstance(order, exp.Order) or not order.expressions:
        return None
    projections = _projections(tree)
    star = any(map(_is_star, projections))
    keys: list[int] = []
    names: list[str] = []
    hidden: list[str] = []
    for ordered in order.expressions:
        key = ordered.this if isinstance(ordered, exp.Ordered) else ordered
        if _is_position(key) and star:
            index: int | None = int(key.this) - 1  # a position counts output columns, * included
        else:
            index = _projection_index(key, projections)
        if index is not None:
            if index not in keys:
                keys.append(index)
        elif star and isinstance(key, exp.Column):
            # Found by name among the columns * brings where the name is unique; also
            # appended as a hidden key, which decides the ties where it is not (two
            # tables' ``name``) or where ``c.*`` does not bring it at all.
            names.append(key.name)
            hidden.append(key.sql(dialect=DIALECT))
        elif not _is_position(key):
            hidden.append(key.sql(dialect=DIALECT))
    return OrderSpec(tuple(keys), tuple(names), tuple(hidden))


def _is_star(projection: exp.Expression) -> bool:
    """``*`` or ``t.*`` in a select list."""
    return isinstance(projection, exp.Star) or (isinstance(projection, exp.Column) and projection.is_star)


def _is_position(key: exp.Expression) -> bool:
    return isinstance(key, exp.Literal) and key.is_int


ORDER_COLUMN = "__sqlharness_order_"
"""Prefix of the sort-key columns :func:`with_order_columns` appends."""


def with_order_columns(tree: exp.Expression, keys: Sequence[str]) -> str | None:
    """The query with ``keys`` (sort keys as SQL) appended to its select list, or None
    for a set operation (whose ORDER BY can only name output columns) or keys that do
    not parse.

    Appending a sort key to a SELECT changes none of its rows: PostgreSQL evaluates every
    ORDER BY expression per output row already (grouped or aggregated as the query is, and
    under DISTINCT a key must be in the select list anyway)."""
    if not keys or not isinstance(tree, exp.Select):
        return None
    try:
        extra = [
            exp.alias_(sqlglot.parse_one(key, read=DIALECT), f"{ORDER_COLUMN}{i}")
            for i, key in enumerate(keys)
        ]
    except (ParseError, TokenError):
        return None
    return tree.copy().select(*extra, copy=False).sql(dialect=DIALECT)


def sort_keys_sql(tree: exp.Expression) -> list[str]:
    """Each top-level ORDER BY key as an expression over the query's sources (an output
    alias or position replaced by the expression it names), as SQL."""
    order = tree.args.get("order")
    if not isinstance(order, exp.Order):
        return []
    projections = _projections(tree)
    aliases = {p.alias_or_name.lower(): p for p in projections}
    keys = []
    for ordered in order.expressions:
        key = ordered.this if isinstance(ordered, exp.Ordered) else ordered
        if _is_position(key) and 0 < int(key.this) <= len(projections):
            key = projections[int(key.this) - 1]
        elif isinstance(key, exp.Column) and not key.table and key.name.lower() in aliases:
            key = aliases[key.name.lower()]
        keys.append((key.this if isinstance(key, exp.Alias) else key).sql(dialect=DIALECT))
    return keys


def stored_columns(tree: exp.Expression | None, n_columns: int) -> int:
    """How many of a result's ``n_columns`` hold stored data rather than computed values.

    A column counts when a ``*`` brought it or the select list names it as a plain column,
    and every source of its SELECT holds stored data: a table of the database, or a
    subquery or CTE made only of such columns (``SELECT * FROM (SELECT * FROM t) s`` is
    ``SELECT * FROM t``; ``SELECT * FROM (SELECT 0, 1, ...) s`` earns nothing). A set
    operation counts what its poorest branch counts, so ``SELECT * FROM t WHERE false
    UNION ALL SELECT 0, 1, ...`` earns nothing either. The comparator allows this many
    extra columns on top of its fixed bound: listing every column of a table is as
    honest as ``SELECT *`` over it, and neither can smuggle in constants.
    """
    if tree is None:
        return 0
    ctes = {cte.alias_or_name.lower(): cte.this for cte in tree.find_all(exp.CTE)}
    return _stored_count(tree, n_columns, ctes, frozenset())


def _stored_count(query: exp.Expression, n_columns: int, ctes: dict, seen: frozenset[str]) -> int:
    if isinstance(query, exp.Subquery):
        query = query.this
    if isinstance(query, exp.SetOperation):
        return min(
            _stored_count(query.this, n_columns, ctes, seen),
            _stored_count(query.expression, n_columns, ctes, seen),
        )
    if not isinstance(query, exp.Select) or not _sources_are_stored(query, ctes, seen):
        return 0
    computed = sum(1 for p in query.expressions if not _is_star(p) and not _is_plain_column(p))
    return max(0, n_columns - computed)


def _is_plain_column(projection: exp.Expression) -> bool:
    inner = projection.this if isinstance(projection, exp.Alias) else projection
    return isinstance(inner, exp.Column) and not inner.is_star


def _is_stored_query(query: exp.Expression, ctes: dict, seen: frozenset[str]) -> bool:
    if isinstance(query, exp.Subquery):
        query = query.this
    if isinstance(query, exp.SetOperation):
        return _is_stored_query(query.this, ctes, seen) and _is_stored_query(query.expression, ctes, seen)
    return (
        isinstance(query, exp.Select)
        and all(_is_star(p) or _is_plain_column(p) for p in query.expressions)
        and _sources_are_stored(query, ctes, seen)
    )


def _sources_are_stored(select: exp.Select, ctes: dict, seen: frozenset[str]) -> bool:
    source = select.args.get("from_") or select.args.get("from")
    sources = [source.this] if isinstance(source, exp.From) else []
    sources += [join.this for join in select.args.get("joins") or []]
    if not sources:
        return False
    for s in sources:
        if isinstance(s, exp.Subquery):
            if not _is_stored_query(s.this, ctes, seen):
                return False
        elif type(s) is exp.Table and isinstance(s.this, exp.Identifier):
            name = s.name.lower()
            # A recursive CTE refers to itself: its rows are computed, not stored.
            if (
                name in ctes
                and not s.args.get("db")
                and (name in seen or not _is_stored_query(ctes[name], ctes, seen | {name}))
            ):
                return False
        else:
            return False  # a function, VALUES, a lateral: computed rows
    return True


def _projections(tree: exp.Expression) -> list[exp.Expression]:
    while isinstance(tree, exp.SetOperation):
        tree = tree.this
    if isinstance(tree, exp.Subquery):
        tree = tree.this
    return list(tree.expressions) if isinstance(tree, exp.Select) else []


def _projection_index(key: exp.Expression, projections: list[exp.Expression]) -> int | None:
    if isinstance(key, exp.Literal) and key.is_int:
        position = int(key.this) - 1
        return position if 0 <= position < len(projections) else None
    key_sql = key.sql(dialect=DIALECT).lower()
    key_name = key.name.lower() if isinstance(key, exp.Column) else None
    for i, projection in enumerate(projections):
        if (
            key_name is not None
            and not key.args.get("table")
            and projection.alias_or_name.lower() == key_name
        ):
            return i
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if inner.sql(dialect=DIALECT).lower() == key_sql:
            return i
    key_table = key.table.lower() if isinstance(key, exp.Column) else ""
    for i, projection in enumerate(projections):
        # ``ORDER BY t.name`` for ``SELECT name``: the same column, qualified on one side
        # only. ``ORDER BY d.name`` for ``SELECT e.name`` is another column.
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if (
            key_name is not None
            and isinstance(inner, exp.Column)
            and inner.name.lower() == key_name
            and (not inner.table or not key_table or inner.table.lower() == key_table)
        ):
            return i
    return None
