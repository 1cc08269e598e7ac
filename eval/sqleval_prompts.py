"""sql-eval's prompt files, read as they are: placeholders, Llama-3 chat markup, JSON messages.

defog's sql-eval fills its prompt files with Python's ``str.format``, so a file written for
it uses its own placeholder names (``{user_question}``, ``{table_metadata_string}``...) and
``{{``/``}}`` for literal braces. A file that uses ``{user_question}`` or
``{table_metadata_string}`` is read that way here (see :func:`is_sql_eval`), and every
placeholder gets our value with the meaning sql-eval gives it (:func:`sql_eval_values`).
The wording of the headings around those values is ours.

Two shapes of file become chat messages:

- ``.md``/text files with Llama-3 header tokens (``<|start_header_id|>user<|end_header_id|>``)
  are split at them, so a chat template writes the model's own markup (sql-eval pasted the
  tokens as text, which only a Llama-3 tokenizer reads as markup);
- ``.json`` files: a list of ``{"role", "content"}`` messages.

A last ``assistant`` message is the prefill, the start of the answer, as in our templates.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache, partial
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from eval.errors import BadInput
from eval.sqltext import SqlTextError, split_statements

# Every name sql-eval's prompt files and its generate_prompt use.
PLACEHOLDERS = (
    "user_question",
    "table_metadata_string",
    "instructions",
    "instruction_reflections",
    "k_shot_prompt",
    "glossary",
    "db_type",
    "join_str",
    "join_hints",
    "pruned_join_str",
    "table_aliases",
    "cot_instructions",
    "prev_invalid_sql",
    "prev_error_msg",
    "question_0",
    "query_0",
    "question_1",
    "query_1",
)
REQUIRED = ("user_question", "table_metadata_string")
# Which placeholders carry a value the run must not drop (see Template.require).
CARRIERS = {"instructions": ("instructions", "instruction_reflections"), "few_shot": ("k_shot_prompt",)}
# Values sql-eval reads from the questions CSV's own columns, when a row has them.
ROW_COLUMNS = ("prev_invalid_sql", "prev_error_msg", "question_0", "query_0", "question_1", "query_1")
ROLES = ("system", "user", "assistant")

INSTRUCTIONS_HEADING = "Follow these instructions when you write the query:"
REFLECTION_HEADING = "I was also asked to follow these instructions when I write the query:"
EXAMPLES_HEADING = "Use these correct examples as a reference for the answer:"
GLOSSARY_HEADING = "Use these definitions where they apply to the question:"
JOINS_HEADING = "Columns that can be joined:"

_MARKERS = re.compile(r"\{(user_question|table_metadata_string)\}")
_HEADER = re.compile(r"<\|start_header_id\|>(\w+)<\|end_header_id\|>(?:\n\n|\n)?")
_BEGIN = "<|begin_of_text|>"
_END_OF_TURN = "<|eot_id|>"


def is_sql_eval(texts: Iterable[str]) -> bool:
    """Whether a template is written in sql-eval's placeholders (it names the question or
    the schema the way sql-eval does; every sql-eval prompt file does)."""
    return any(_MARKERS.search(text) for text in texts)


def format_fields(name: str, text: str) -> list[str]:
    """The placeholders of a ``str.format`` template, in order; bad braces are BadInput."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise BadInput(
            f"prompt template {name!r}: {exc} (sql-eval's prompt files are Python format strings: "
            "write {{ and }} for a literal brace)"
        ) from None
    return [field for _, field, _, _ in parsed if field is not None]


def fill(text: str, values: Mapping[str, str]) -> str:
    """``str.format`` as sql-eval applies it: one pass, ``{{`` and ``}}`` become braces."""
    try:
        return text.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        # Only a field nested in a format spec ({x:{y}}) gets here: the rest was checked.
        raise BadInput(f"prompt template: cannot fill {text[:40]!r}...: {exc!r}") from None


# --------------------------------------------------------------------------- file shapes


def header_sections(name: str, text: str) -> tuple[tuple[str, str], ...]:
    """Messages from Llama-3 header tokens; a text without them is one user message.

    The blank line after a header and the end-of-turn token closing a message are markup,
    not content; everything else (a prefill's trailing newline included) is kept as is.
    """
    text = text.removeprefix(_BEGIN)
    headers = list(_HEADER.finditer(text))
    if not headers:
        return (("user", text),)
    if text[: headers[0].start()].strip():
        raise BadInput(f"prompt template {name!r}: text before the first <|start_header_id|>")
    sections = []
    for header, following in zip(headers, [*headers[1:], None]):
        role = _role(name, header.group(1))
        content = text[header.end() : following.start() if following else len(text)]
        sections.append((role, content.removesuffix(_END_OF_TURN)))
    return tuple(sections)


def json_sections(name: str, text: str) -> tuple[tuple[str, str], ...]:
    """Messages from a JSON list of ``{"role", "content"}`` objects (sql-eval's chat prompts)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"prompt template {name!r}: not valid JSON: {exc}") from None
    if not isinstance(data, list) or not data:
        raise BadInput(f"prompt template {name!r}: a JSON prompt is a non-empty list of messages")
    return tuple(_message(name, i, item) for i, item in enumerate(data, start=1))


def _message(name: str, number: int, item: object) -> tuple[str, str]:
    if not isinstance(item, dict) or set(item) != {"role", "content"}:
        raise BadInput(f'prompt template {name!r}: message {number} is not a {{"role", "content"}} object')
    role, content = item["role"], item["content"]
    if not isinstance(role, str) or not isinstance(content, str):
        raise BadInput(f"prompt template {name!r}: message {number}: role and content must be strings")
    return _role(name, role), content


def _role(name: str, role: str) -> str:
    if role not in ROLES:
        raise BadInput(f"prompt template {name!r}: unknown role {role!r} (known: {', '.join(ROLES)})")
    return role


# --------------------------------------------------------------------------- values


def sql_eval_values(
    values: Mapping[str, str], row: Mapping[str, str], needed: Iterable[str]
) -> dict[str, str]:
    """The value of each ``needed`` sql-eval placeholder, from our values and the question row.

    ``values`` holds our placeholders (``question``, ``table_metadata``, ``instructions``,
    ``few_shot``) plus ``db_type`` (``postgres``, ``duckdb``, ``sqlite``) and ``glossary``
    (the database's, if it has one); ``row`` is the question's CSV row. Only what the
    template uses is computed.
    """
    metadata = _cell(row, "table_metadata_string") or values.get("table_metadata", "")
    instructions = values.get("instructions", "")
    makers: dict[str, Callable[[], str]] = {
        "user_question": lambda: values.get("question", ""),
        # sql-eval takes a question's own schema text over the database's, when the CSV has one.
        "table_metadata_string": lambda: metadata,
        "instructions": lambda: instructions_text(instructions),
        "instruction_reflections": lambda: reflections_text(instructions),
        "k_shot_prompt": lambda: examples_text(values.get("few_shot", "")),
        "glossary": lambda: glossary_text(_cell(row, "glossary"), values.get("glossary", "")),
        "db_type": lambda: values.get("db_type", "") or "postgres",
        "join_str": lambda: join_hints(metadata),
        "join_hints": lambda: join_hints(metadata),
        "pruned_join_str": lambda: join_hints(metadata),
        # sql-eval fills these two only with its --cot_table_alias option; by default, and
        # here (we have no such option), they are empty.
        "table_aliases": str,
        "cot_instructions": str,
        **{column: partial(_cell, row, column) for column in ROW_COLUMNS},
    }
    return {name: makers[name]() for name in needed}


def _cell(row: Mapping[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _sentences(instructions: str) -> str:
    # sql-eval puts each sentence of a question's instructions on a line of its own.
    return instructions.strip().replace(". ", ".\n")


def instructions_text(instructions: str) -> str:
    """``{instructions}``: the question's instructions under a heading, or nothing."""
    if not instructions.strip():
        return ""
    return f"\n{INSTRUCTIONS_HEADING}\n{_sentences(instructions)}\n"


def reflections_text(instructions: str) -> str:
    """``{instruction_reflections}``: the instructions again, in the answer's own voice (the
    prefill of sql-eval's reasoning prompts restates them), then a newline; a lone newline
    when there are none, as in sql-eval."""
    if not instructions.strip():
        return "\n"
    return f"\n{REFLECTION_HEADING}\n{_sentences(instructions)}\n\n"


def examples_text(few_shot: str) -> str:
    """``{k_shot_prompt}``: the ``--few-shot`` examples under a heading, or nothing.

    sql-eval reads them from a ``k_shot_prompt`` column with ``-k``; our examples come from
    ``--few-shot``, so that flag plays the part of ``-k``.
    """
    return f"\n{EXAMPLES_HEADING}\n{few_shot.strip()}" if few_shot.strip() else ""


def glossary_text(question_glossary: str, database_glossary: str) -> str:
    """``{glossary}``: the question's ``glossary`` column under a heading, else the database's
    glossary as written (defog-data keeps one per database), else nothing."""
    if question_glossary:
        return f"\n{GLOSSARY_HEADING}\n{question_glossary}\n"
    return database_glossary.strip()


@lru_cache(maxsize=256)
def join_hints(table_metadata: str) -> str:
    """``{join_str}``: which columns join which, from the schema's foreign keys.

    sql-eval lists joinable column pairs that defog-data keeps beside each schema; the
    same pairs here come from the ``FOREIGN KEY``/``REFERENCES`` clauses of the CREATE
    TABLE text the prompt shows. Nothing when there are none.
    """
    pairs = [f"{a} references {b}" for a, b in foreign_keys(table_metadata)]
    return f"\n{JOINS_HEADING}\n" + "\n".join(pairs) if pairs else ""


def foreign_keys(table_metadata: str) -> list[tuple[str, str]]:
    """``("table.column", "other.column")`` for each foreign-key column, in schema order."""
    try:
        statements = split_statements(table_metadata)
    except SqlTextError:
        return []
    found: list[tuple[str, str]] = []
    for statement in statements:
        try:
            tree = sqlglot.parse_one(statement, read="postgres")
        except SqlglotError:
            continue  # not a CREATE TABLE sqlglot reads: it names no join
        if isinstance(tree, exp.Create) and isinstance(tree.this, exp.Schema):
            found += [p for p in _table_keys(tree.this) if p not in found]
    return found


def _table_keys(schema: exp.Schema) -> list[tuple[str, str]]:
    table = schema.this.name
    pairs = []
    for key in schema.find_all(exp.ForeignKey):
        reference = key.args.get("reference")
        if reference is not None:
            columns = [e.name for e in key.expressions]
            pairs += _pairs(table, columns, reference.this)
    for column in schema.find_all(exp.ColumnDef):
        for constraint in column.constraints:
            if isinstance(constraint.kind, exp.Reference):
                pairs += _pairs(table, [column.name], constraint.kind.this)
    return pairs


def _pairs(table: str, columns: list[str], target: exp.Expression) -> list[tuple[str, str]]:
    # A reference without columns points at the other table's primary key, which the
    # CREATE TABLE text does not name here: no pair rather than a guess.
    if not isinstance(target, exp.Schema):
        return []
    other = target.this.name
    return [(f"{table}.{c}", f"{other}.{r.name}") for c, r in zip(columns, target.expressions)]


# --------------------------------------------------------------------------- defog-data glossary


@lru_cache(maxsize=64)
def database_glossary(folder: Path) -> str:
    """The ``glossary`` of a defog-data database folder (``<db>/<db>.json``), else "".

    That is what sql-eval's ``{glossary}`` holds for a question without its own glossary.
    """
    path = folder / f"{folder.name}.json"
    if not path.is_file():
        return ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(
            f"{path}: not a readable JSON file (read for the prompt's {{glossary}}): {exc}"
        ) from None
    glossary = data.get("glossary") if isinstance(data, dict) else None
    return glossary if isinstance(glossary, str) else ""
