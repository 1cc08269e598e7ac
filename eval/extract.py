"""SQL extraction: the one query in a model's raw output.

Models wrap their SQL in many ways. In order, :func:`extract_sql`

1. puts back the prompt's prefill (a prompt ending in ``SELECT`` is continued, so the
   output starts mid-query) unless the output starts over on its own; where the result
   does not parse but the output alone does (a chat model that ignored the prefill and
   answered in prose), the output alone wins;
2. cuts at an end-of-turn marker the backend left in the text (``<|im_end|>``...);
3. drops reasoning: ``<think>…</think>`` blocks, everything before a lone ``</think>``
   (the opening tag was in the prompt), and an unclosed ``<think>`` to the end (the model
   ran out of tokens while thinking: no answer);
4. takes the inside of the first ``[SQL]…[/SQL]`` or ``<sql>…</sql>`` tag, else of the
   first SQL code fence (```sql, ```postgresql..., then a fence without a language, then
   any), an unclosed one running to the end;
5. in that text, finds where the query starts (``SELECT`` / ``WITH`` at a line start
   first, then anywhere, skipping prose that happens to say "select"), and keeps the
   first complete statement: up to the first top-level ``;`` (found by the SQL tokenizer
   of eval/sqltext.py, so a ``;`` in a literal or comment is text), else the longest run
   of lines that parses, which leaves a trailing explanation out.

Where nothing parses, the first paragraph from the query's start is returned so that the
database reports the error; where there is no query at all, "".
"""

from __future__ import annotations

import re

from eval.sqltext import SqlTextError, UnsafeSqlError, check_query, split_statements, tokenize

_END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>", "<end_of_turn>", "</s>", "<|EOT|>")
_THINK_TAGS = ("think", "thinking", "reasoning")
_TAGS = (("[SQL]", "[/SQL]"), ("<sql>", "</sql>"))
_SQL_LANGS = ("sql", "postgresql", "postgres", "psql", "pgsql", "plpgsql", "sqlite", "duckdb", "mysql")
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_START = re.compile(r"\b(?:SELECT|WITH)\b", re.IGNORECASE)
_LINE_START = re.compile(r"^[ \t]*(?:SELECT|WITH)\b", re.IGNORECASE | re.MULTILINE)
_STARTS_OVER = re.compile(r"\s*(?:```|\[SQL\]|<sql>|<think|SELECT\b|WITH\b)", re.IGNORECASE)
_MAX_LINES = 80
"""Lines of a candidate searched for the statement's end (a query is rarely longer)."""
_MAX_STARTS = 12
"""Places tried as the query's start (junk output can say "select" hundreds of times)."""


def extract_sql(text: str, prefill: str = "") -> str:
    """The first complete SQL query in ``text`` (see the module docstring), or ""."""
    if not prefill or _STARTS_OVER.match(text):
        return _extract(text)
    continued = _extract(_join(prefill, text))
    if _parses(continued):
        return continued
    # A chat model that ignored the prefill and answered in prose: read the output alone.
    alone = _extract(text)
    return alone if _parses(alone) else continued


def _extract(text: str) -> str:
    text = _cut_end_markers(text)
    text = _drop_reasoning(text)
    inner = _tagged(text)
    if inner is None:
        inner = _fenced(text)
    return _first_query(inner if inner is not None else text)


def _join(prefill: str, text: str) -> str:
    # Some tokenizers drop the space that separated "SELECT" from the continuation.
    glue = " " if prefill[-1:].isalnum() and text[:1].isalnum() else ""
    return prefill + glue + text


def _cut_end_markers(text: str) -> str:
    ends = [i for i in (text.find(m) for m in _END_MARKERS) if i >= 0]
    return text[: min(ends)] if ends else text


def _drop_reasoning(text: str) -> str:
    for tag in _THINK_TAGS:
        opening, closing = f"<{tag}>", f"</{tag}>"
        text = re.sub(rf"{re.escape(opening)}.*?{re.escape(closing)}", "", text, flags=re.DOTALL | re.I)
        lower = text.lower()
        if closing in lower:  # opened in the prompt (chat templates of reasoning models)
            text = text[lower.rindex(closing) + len(closing) :]
        elif opening in lower:  # never closed: the model ran out of tokens while thinking
            text = text[: lower.index(opening)]
    return text


def _tagged(text: str) -> str | None:
    lower = text.lower()
    for opening, closing in _TAGS:
        start = lower.find(opening.lower())
        if start >= 0:
            start += len(opening)
            end = lower.find(closing.lower(), start)
            return text[start : end if end >= 0 else len(text)]
    return None


def _fenced(text: str) -> str | None:
    """The body of the best code fence that contains a query start, else None."""
    fences = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    fences = [(lang, body) for lang, body in fences if _START.search(body)]
    for wanted in (lambda lang: lang in _SQL_LANGS, lambda lang: lang == "", lambda lang: True):
        for lang, body in fences:
            if wanted(lang):
                return body
    return None


def _first_query(text: str) -> str:
    starts = [m.start() for m in _LINE_START.finditer(text)]
    starts += [m.start() for m in _START.finditer(text) if m.start() not in starts]
    for start in starts[:_MAX_STARTS]:
        statement = _statement_at(text[start:].lstrip())
        if statement is not None:
            return statement
    if not starts:
        return ""
    return text[starts[0] :].strip().split("\n\n")[0].strip()


def _statement_at(text: str) -> str | None:
    """The first complete statement at the start of ``text`` if one parses, else None."""
    lines = text.splitlines(keepends=True)[:_MAX_LINES]
    upto = len(lines)
    for k in range(1, len(lines) + 1):
        prefix = "".join(lines[:k])
        try:
            tokens = tokenize(prefix)
        except SqlTextError:
            continue  # a string or comment still open: read more lines
        if any(t.token_type.name == "SEMICOLON" for t in tokens):
            pieces = split_statements(prefix)
            statement = pieces[0] if pieces else ""
            if _parses(statement):
                return statement
            upto = k - 1  # prose ran into a ';': look for the query before this line
            break
    for k in range(upto, 0, -1):
        candidate = "".join(lines[:k]).strip()
        if _parses(candidate):
            return candidate
    return None


def _parses(sql: str) -> bool:
    """One query that sqlglot parses (a parse gap of sqlglot is not enough evidence here)."""
    if not sql:
        return False
    try:
        return check_query(sql).tree is not None
    except (UnsafeSqlError, SqlTextError):
        return False
