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


def describe_tables(conn, inline: Mapping[tuple[str, str], str] | None = None) -> str:
    """CREATE TABLE statements for every table in ``public``, descriptions as comments."""
    with conn.cursor() as cur:
        cur.execute(_COLUMNS_SQL)
        rows = cur.fetchall()
    conn.rollback()
    inline = inline or {}
    tables: dict[str, list[str]] = defaultdict(list)
    table_comments: dict[str, str] = {}
    for table, table_comment, column, col_type, comment in rows:
        description = comment or inline.get((table, column), "")
        line = f"  {column} {col_type}"
        tables[table].append(line + (f" -- {_one_line(description)}" if description else ""))
        table_comments[table] = table_comment or inline.get((table, ""), "")
    blocks = []
    for table, lines in tables.items():
        head = f"-- {_one_line(table_comments[table])}\n" if table_comments[table] else ""
        body = ",\n".join(lines)
        blocks.append(f"{head}CREATE TABLE {table} (\n{body}\n);")
    return "\n\n".join(blocks)


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
        if column.comments:
            found[(table, column.name)] = " ".join(c.strip() for c in column.comments)


def _one_line(text: str) -> str:
    return " ".join(text.split())
