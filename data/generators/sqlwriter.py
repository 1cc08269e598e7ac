"""What the data generators share: SQL literals, INSERT batches, column lists, the output file.

Each script in this folder writes one PostgreSQL file, data/schemas/<db>/<db>.sql, and
imports this module as a sibling (``from sqlwriter import ...``). That works because Python
puts a script's own folder first on ``sys.path``, so ``python data/generators/<db>.py`` runs
from any working directory. This file has no ``__main__`` block: running it writes nothing.

The committed .sql files must come out byte-identical on every run. The seven generators were
first written apart and lay out their INSERTs differently (rows per statement, row indent, a
blank line between statements); ``InsertLayout`` names those differences so that each
generator keeps its own bytes while the code that writes them exists once.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path


class Num:
    """A numeric literal with a fixed number of decimals, never a float's repr.

    ``text`` is the literal; ``Num(2.5)`` is written ``2.50``, ``Num(0.1234, 3)`` ``0.123``.
    """

    def __init__(self, value: float, places: int = 2) -> None:
        self.text: str = f"{value:.{places}f}"


# What ``lit`` accepts (bool is an int and datetime a date, so both are covered).
Value = str | int | Decimal | Num | dt.date | None
Row = tuple[Value, ...]

# First words of the lines in a CREATE TABLE body that are not columns.
TABLE_CONSTRAINTS = frozenset({"PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "CONSTRAINT", "EXCLUDE", "--"})
CENT = Decimal("0.01")


def lit(value: object) -> str:
    """A PostgreSQL literal for a Python value.

    None is NULL; booleans TRUE/FALSE; int and Decimal as ``str`` writes them (a Decimal keeps
    its trailing zeros); ``Num`` its fixed text; a datetime ``'YYYY-MM-DD HH:MM:SS'``; a date
    ``'YYYY-MM-DD'``; a str in single quotes with each ``'`` doubled. A float raises TypeError,
    as does anything else: a float's repr would make the bytes depend on rounding noise, so
    numerics go through ``Num``, ``cents`` or ``Decimal`` on purpose.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):  # before int: bool is an int
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, Num):
        return value.text
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return f"'{value:%Y-%m-%d %H:%M:%S}'"
    if isinstance(value, dt.date):
        return f"'{value:%Y-%m-%d}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r} ({type(value).__name__})")


@dataclass(frozen=True)
class InsertLayout:
    """How one generator lays out its multi-row INSERT statements.

    chunk: rows per INSERT statement.
    row_indent: written before each row's ``(``.
    between: written between two statements (each already ends with ``;`` and a newline).
    """

    chunk: int
    row_indent: str = ""
    between: str = ""

    def inserts(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
        """INSERT INTO ``table`` statements of at most ``chunk`` rows each; "" for no rows."""
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES\n"
        statements = []
        for start in range(0, len(rows), self.chunk):
            batch = rows[start : start + self.chunk]
            body = ",\n".join(self.row_indent + "(" + ", ".join(lit(v) for v in row) + ")" for row in batch)
            statements.append(head + body + ";\n")
        return self.between.join(statements)


def columns_of(schema: str, table: str) -> list[str]:
    """The column names of ``table`` as its CREATE TABLE in ``schema`` lists them, in order.

    Reading them from the DDL means the INSERTs cannot drift from it. Expects the body on
    lines of its own between ``CREATE TABLE <table> (`` and ``);``, one column per line;
    table constraint lines (PRIMARY KEY, UNIQUE, ...) are skipped.
    """
    opening = f"CREATE TABLE {table} (\n"
    if opening not in schema:
        raise KeyError(f"no CREATE TABLE {table} in the schema")
    body = schema.split(opening, 1)[1].split("\n);", 1)[0]
    words = [line.split()[0] for line in body.splitlines() if line.strip()]
    return [word for word in words if word.split("(")[0] not in TABLE_CONSTRAINTS]


def comment_on(table: str, column: str | None, text: str) -> str:
    """``COMMENT ON TABLE t IS '...';``, or ``COMMENT ON COLUMN t.c ...`` when ``column`` is given."""
    target = f"TABLE {table}" if column is None else f"COLUMN {table}.{column}"
    return f"COMMENT ON {target} IS {lit(text)};"


def cents(x: float) -> Decimal:
    """``x`` to two decimals as ``f"{x:.2f}"`` rounds it (the float's exact value, ties to even)."""
    return Decimal(f"{x:.2f}")


def cents_half_up(value: Decimal | float | int) -> Decimal:
    """``value`` to two decimals from its shortest repr, ties away from zero (2.675 -> 2.68)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def items(text: str) -> list[str]:
    """A list written as one ``", "``-separated string (keeps long name lists compact)."""
    return text.split(", ")


def write_sql(path: Path, text: str, counts: Mapping[str, int] | None = None) -> None:
    """Write ``text`` to ``path`` as UTF-8 (making the folder) and say so, with row counts if given.

    With ``SQLWRITER_OUT_DIR`` set, the file goes to that folder under its own name instead:
    the test that regenerating leaves the committed files unchanged writes there.
    """
    out_dir = os.environ.get("SQLWRITER_OUT_DIR")
    if out_dir:
        path = Path(out_dir) / path.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if counts is None:
        detail = f" ({len(text.encode('utf-8'))} bytes)"
    else:
        detail = ": " + ", ".join(f"{name} {n}" for name, n in counts.items())
    print(f"wrote {path}{detail}")
