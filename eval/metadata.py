"""Table metadata for prompts: CREATE TABLE text with column descriptions.

Derived from the seeded database's catalog (so it shows what really exists), with
descriptions from ``COMMENT ON`` and, where a column has none, from inline ``--``
comments in the schema files' CREATE TABLE statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from eval.schemas import SchemaSource
from eval.sqltext import split_statements

_COLUMNS_SQL = """
SELECT c.relname, obj_description(c.oid, 'pg_class'), a.attname,
       format_type(a.atttypid, a.atttypmod), col_description(c.oid, a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'v', 'p') AND n.nspname = 'public'
ORDER BY c.relname, a.attnum
"""


_KEYS_SQL = """
SELECT c.conrelid::regclass::text, pg_get_constraintdef(c.oid)
FROM pg_constraint c
JOIN pg_namespace n ON n.oid = c.connamespace
WHERE c.contype IN ('p', 'f') AND n.nspname = 'public'
ORDER BY 1, c.contype DESC, 2
"""


def describe_tables(conn, inline: Mapping[tuple[str, str], str] | None = None) -> str:
    """CREATE TABLE statements for every table in ``public``: columns, keys, descriptions."""
    with conn.cursor() as cur:
        cur.execute(_COLUMNS_SQL)
        rows = cur.fetchall()
        cur.execute(_KEYS_SQL)
        keys = cur.fetchall()
    conn.rollback()
    inline = inline or {}
    items: dict[str, list[tuple[str, str]]] = defaultdict(list)  # table -> (definition, comment)
    table_comments: dict[str, str] = {}
    for table, table_comment, column, col_type, comment in rows:
        items[table].append((f"{column} {col_type}", comment or inline.get((table, column), "")))
        table_comments[table] = table_comment or inline.get((table, ""), "")
    for table, definition in keys:
        if table in items:
            items[table].append((definition, ""))
    return "\n\n".join(_create_table(t, items[t], table_comments[t]) for t in items)


def _create_table(table: str, items: list[tuple[str, str]], comment: str) -> str:
    lines = []
    for i, (definition, description) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"  {definition}{comma}" + (f" -- {_one_line(description)}" if description else ""))
    head = f"-- {_one_line(comment)}\n" if comment else ""
    return head + f"CREATE TABLE {table} (\n" + "\n".join(lines) + "\n);"


def inline_comments(source: SchemaSource) -> dict[tuple[str, str], str]:
    """``(table, column) -> comment`` from ``--`` comments in CREATE TABLE statements.

    ``(table, "")`` holds the comment written just before a CREATE TABLE.
    Only CREATE TABLE statements are parsed; data statements are skipped unread.
    """
    found: dict[tuple[str, str], str] = {}
    for _, text in source.read():
        try:
            statements = split_statements(text)
        except ValueError:
            continue
        for statement in statements:
            if "create" not in statement[:200].lower():
                continue
            _collect(statement, found)
    return found


def _collect(statement: str, found: dict[tuple[str, str], str]) -> None:
    try:
        tree = sqlglot.parse_one(statement, read="postgres")
    except (ParseError, TokenError):
        return
    if not isinstance(tree, exp.Create) or not isinstance(tree.this, exp.Schema):
        return
    table = tree.this.this.name
    if tree.comments:
        found[(table, "")] = " ".join(c.strip() for c in tree.comments)
    for column in tree.find_all(exp.ColumnDef):
        # sqlglot attaches a trailing comment to the column or to its last constraint.
        comments = [c.strip() for node in column.walk() for c in (node.comments or [])]
        if comments:
            found[(table, column.name)] = " ".join(comments)


def _one_line(text: str) -> str:
    return " ".join(text.split())
