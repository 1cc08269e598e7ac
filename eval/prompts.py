"""Prompt templates: one text file per prompt, rendered per question.

A template is plain text with placeholders:

- ``{question}``, ``{table_metadata}`` (CREATE TABLE text with column comments): required;
- ``{instructions}``: the question's instructions (required when a question has some);
- ``{few_shot}``: the ``--few-shot`` examples (required when that flag is given);
- ``{dialect}``: the SQL dialect's name, e.g. ``PostgreSQL``.

``[[ ... ]]`` marks an optional block: it is kept (without the brackets) only when every
placeholder inside it has a non-empty value, so a question without instructions leaves no
empty "Notes:" heading behind.

Lines ``<<system>>``, ``<<user>>`` and ``<<assistant>>`` split the template into chat
messages. A last ``<<assistant>>`` section is a *prefill*: the start of the answer that
the model continues (e.g. ``SELECT``). Completion models get all sections joined into one
text; chat models get the messages. A template without markers is one user message.

A ``.json`` file is a list of ``{"role", "content"}`` messages, each content a template.
Files written for defog's sql-eval (its placeholders, ``{user_question}``...) are read as
sql-eval reads them: see :mod:`eval.sqleval_prompts`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from eval import sqleval_prompts as sqleval
from eval.errors import BadInput
from eval.records import Question
from runners.base import Runner

PLACEHOLDERS = ("question", "table_metadata", "instructions", "few_shot", "dialect")
REQUIRED = ("question", "table_metadata")
ROLES = ("system", "user", "assistant")
DIALECT_NAMES = {"postgres": "PostgreSQL", "duckdb": "DuckDB", "sqlite": "SQLite"}
OURS, SQL_EVAL = "sqlharness", "sql-eval"
"""A template's flavour: our placeholders and markup, or sql-eval's (eval/sqleval_prompts.py)."""

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_OPTIONAL = re.compile(r"\[\[\n?(.*?)\]\]\n?", re.DOTALL)
_MARKER = re.compile(r"^<<(\w+)>>[ \t]*$", re.MULTILINE)
# A template without an assistant section whose last line starts the answer.
_LAST_LINE_PREFILL = re.compile(r"(?:^|\n)((?:```sql\n)?SELECT)\s*$")


@dataclass(frozen=True)
class Rendered:
    """One question's prompt, in both shapes."""

    prompt: str
    """Everything as one text, for completion models."""
    messages: tuple[Mapping[str, str], ...]
    """The same as chat messages; a last ``assistant`` message is a prefill."""
    prefill: str
    """The answer's start the model continues ("" when none); extraction prepends it."""


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    sections: tuple[tuple[str, str], ...]
    """``(role, template text)`` in order."""
    flavour: str = OURS

    @cached_property
    def placeholders(self) -> set[str]:
        if self.flavour == SQL_EVAL:
            return {f for _, text in self.sections for f in sqleval.format_fields(self.name, text)}
        return {p for _, text in self.sections for p in _PLACEHOLDER.findall(text)}

    def require(self, name: str) -> None:
        """Refuse a template that would drop a value the run has (instructions, examples)."""
        carriers = sqleval.CARRIERS[name] if self.flavour == SQL_EVAL else (name,)
        if not self.placeholders & set(carriers):
            listed = " or ".join("{" + c + "}" for c in carriers)
            what = "--few-shot examples" if name == "few_shot" else name
            raise BadInput(f"prompt template {self.name!r} has no {listed} placeholder, but there are {what}")

    def render(self, values: Mapping[str, str], row: Mapping[str, str] | None = None) -> Rendered:
        """Fill the placeholders; optional blocks whose values are empty disappear.

        ``row`` is the question's CSV row, which sql-eval's templates read some values from.
        """
        for name in ("instructions", "few_shot"):
            if values.get(name, "").strip():
                self.require(name)
        if self.flavour == SQL_EVAL:
            filled = sqleval.sql_eval_values(values, row or {}, self.placeholders)
            # As sql-eval formats them: nothing stripped, so a prefill keeps its last newline.
            messages = [{"role": role, "content": sqleval.fill(text, filled)} for role, text in self.sections]
        else:
            messages = [{"role": role, "content": _fill_ours(text, values)} for role, text in self.sections]
        prefill = messages[-1]["content"] if messages[-1]["role"] == "assistant" else ""
        if not prefill:
            # Matched in the template, not the rendered text: a question ending in "select"
            # is no prefill.
            match = _LAST_LINE_PREFILL.search(self.sections[-1][1])
            prefill = match.group(1) if match else ""
        return Rendered(prompt=_join(messages), messages=tuple(messages), prefill=prefill)


def default_template(runner: type[Runner]) -> str:
    """The bundled template a runner gets without ``--prompt-file``."""
    return "chat" if runner.chat else "default"


def bundled_names() -> list[str]:
    folder = resources.files("eval") / "prompts"
    return sorted(p.name[: -len(".txt")] for p in folder.iterdir() if p.name.endswith(".txt"))


def load_template(name_or_path: str) -> Template:
    """A bundled template by name (``default``, ``chat``...) or a template file by path."""
    path = Path(name_or_path)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"prompt template {name_or_path!r}: cannot read it: {exc}") from None
        if path.suffix.lower() == ".json":
            return checked(_messages_template(str(path), text))
        return parse_template(str(path), text)
    if name_or_path in bundled_names():
        text = (resources.files("eval") / "prompts" / f"{name_or_path}.txt").read_text(encoding="utf-8")
        return parse_template(name_or_path, text)
    raise BadInput(
        f"prompt template {name_or_path!r}: no such file, nor a bundled template "
        f"(bundled: {', '.join(bundled_names())})"
    )


def parse_template(name: str, text: str) -> Template:
    """Check the placeholders and split the chat sections; a problem is BadInput."""
    if sqleval.is_sql_eval([text]):
        return checked(Template(name, text, sqleval.header_sections(name, text), SQL_EVAL))
    return checked(Template(name, text, _sections(name, text)))


def _messages_template(name: str, text: str) -> Template:
    """A JSON list of messages; its contents are in our placeholders or in sql-eval's."""
    sections = sqleval.json_sections(name, text)
    flavour = SQL_EVAL if sqleval.is_sql_eval(content for _, content in sections) else OURS
    if flavour == OURS and any(role == "assistant" for role, _ in sections[:-1]):
        raise BadInput(f"prompt template {name!r}: an assistant message may only be the last one (a prefill)")
    return Template(name, text, sections, flavour)


def checked(template: Template) -> Template:
    """``template``, once its placeholders are all known and the required ones present."""
    known, required = (
        (sqleval.PLACEHOLDERS, sqleval.REQUIRED) if template.flavour == SQL_EVAL else (PLACEHOLDERS, REQUIRED)
    )
    found = template.placeholders
    unknown = sorted(found - set(known))
    if unknown:
        hint = ""
        if template.flavour == OURS and set(unknown) & set(sqleval.PLACEHOLDERS):
            hint = " (sql-eval's placeholders are read in a file that uses {user_question} or {table_metadata_string})"
        raise BadInput(
            f"prompt template {template.name!r}: unknown placeholder(s) {_braced(unknown)}; "
            f"known: {_braced(known)}{hint}"
        )
    missing = [p for p in required if p not in found]
    if missing:
        raise BadInput(f"prompt template {template.name!r} lacks the placeholder(s) {_braced(missing)}")
    return template


def _braced(names: Iterable[str]) -> str:
    return ", ".join("{" + n + "}" for n in names)


def _sections(name: str, text: str) -> tuple[tuple[str, str], ...]:
    markers = list(_MARKER.finditer(text))
    if not markers:
        return (("user", text.strip("\n")),)
    if text[: markers[0].start()].strip():
        raise BadInput(f"prompt template {name!r}: text before the first <<role>> line")
    sections = []
    for marker, following in zip(markers, [*markers[1:], None]):
        role = marker.group(1)
        if role not in ROLES:
            raise BadInput(f"prompt template {name!r}: unknown role <<{role}>> (known: {', '.join(ROLES)})")
        end = following.start() if following else len(text)
        sections.append((role, text[marker.end() : end].strip("\n")))
    if any(role == "assistant" for role, _ in sections[:-1]):
        raise BadInput(f"prompt template {name!r}: <<assistant>> may only be the last section (a prefill)")
    return tuple(sections)


def _fill_ours(text: str, values: Mapping[str, str]) -> str:
    """One section of our template: optional blocks first, then the placeholders."""
    kept = _OPTIONAL.sub(lambda m: _optional(m.group(1), values), text)
    return _fill(kept, values).rstrip("\n")


def _optional(block: str, values: Mapping[str, str]) -> str:
    names = _PLACEHOLDER.findall(block)
    return block if all(values.get(n, "").strip() for n in names) else ""


def _fill(text: str, values: Mapping[str, str]) -> str:
    # One pass: a value that itself contains "{question}" is text, not a placeholder.
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)


def _join(messages: list[dict[str, str]]) -> str:
    """The completion prompt: sections in order, the prefill right after a newline."""
    text = ""
    for message in messages:
        separator = "\n" if message["role"] == "assistant" else "\n\n"
        text = f"{text}{separator}{message['content']}" if text else message["content"]
    return text


# --------------------------------------------------------------------------- few-shot examples


def load_few_shot(path: Path) -> list[dict[str, str]] | str:
    """A CSV of examples (``question``, ``query``, optional ``db_name``), or any text file as is."""
    try:
        if path.suffix.lower() != ".csv":
            return path.read_text(encoding="utf-8").strip()
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise BadInput(f"--few-shot {path}: {exc.strerror or exc}") from None
    if not rows or not {"question", "query"} <= set(rows[0]):
        raise BadInput(f"--few-shot {path}: a CSV needs the columns question and query")
    return rows


def few_shot_text(examples: list[dict[str, str]] | str, db_name: str) -> str:
    """The examples for one database (a CSV's ``db_name`` column, when present, selects)."""
    if isinstance(examples, str):
        return examples
    chosen = [e for e in examples if not e.get("db_name") or e["db_name"] == db_name]
    return "\n\n".join(f"Question: {e['question'].strip()}\nSQL: {e['query'].strip()}" for e in chosen)


def dialect_name(dialect: str) -> str:
    return DIALECT_NAMES.get(dialect, dialect)


@dataclass(frozen=True)
class Prompting:
    """How a run turns questions into prompts: template, examples, database descriptions."""

    template: Template
    few_shot: list[dict[str, str]] | str
    dialect: str
    """The dialect's display name, e.g. PostgreSQL."""
    metadata: Callable[[str], str]
    """db_name -> CREATE TABLE text with comments (the backend's table_metadata)."""
    db_type: str = "postgres"
    """The dialect's short name (sql-eval's ``{db_type}``)."""
    glossary: Callable[[str], str] | None = None
    """db_name -> the database's glossary (sql-eval's ``{glossary}``), when there is a source."""

    @classmethod
    def create(
        cls,
        template: Template,
        *,
        few_shot: list[dict[str, str]] | str = "",
        dialect: str,
        metadata: Callable[[str], str],
        glossary: Callable[[str], str] | None = None,
    ) -> Prompting:
        return cls(template, few_shot, dialect_name(dialect), metadata, dialect, glossary)

    def render(self, question: Question) -> Rendered:
        values = {
            "question": question.question,
            "instructions": question.instructions,
            "table_metadata": self.metadata(question.db_name),
            "few_shot": few_shot_text(self.few_shot, question.db_name),
            "dialect": self.dialect,
            "db_type": self.db_type,
        }
        # Read only for a template that shows it: a glossary file is sql-eval's source alone.
        if self.glossary and self.template.flavour == SQL_EVAL and "glossary" in self.template.placeholders:
            values["glossary"] = self.glossary(question.db_name)
        return self.template.render(values, row=question.fields)
