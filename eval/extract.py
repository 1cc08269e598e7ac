"""SQL extraction: the one query in a model's raw output, never an invented one.

:func:`extract` returns the query the model wrote, exactly as written (minus a trailing
``;``), and whether it was visibly *complete*. It never shortens a query to make it parse:
a query cut off by the token limit comes back cut (the database reports the error, and the
pipeline flags the row as truncated when the runner says the budget ran out). Output with
no query at all (a refusal, a question back) gives ``""``: "no SQL in the model output".

The rules, in the order they apply:

1. **Prefill.** The prompt may end with the start of the answer (the *prefill*:
   ```` ```sql\\nSELECT ````, ``SELECT``, ```` ```sql ````, ``[SQL]``, ``<think>\\n``...).
   The output is read as its continuation (prefill + output), except where the output
   plainly starts afresh: it opens its own block (```` ``` ````, ``[SQL]``, ``<sql>``,
   ``<answer>``, ``<query>``, ``<think>``, a JSON object), or its first line is prose (``**Answer**``, "Sure, ...",
   "Here is the query:"; chat APIs answer afresh), and then the output is read alone. A
   continuation that repeats the query's first keyword (``SELECT`` after a prefill ending
   in ``SELECT``) restarts the query inside the prefill's block. After a ``<think>``
   prefill the output is always a continuation: reasoning that never closes holds no
   answer, even if it drafts a query.
2. **End of turn.** Text after an end-of-turn marker (``<|im_end|>``, ``</s>``...) is cut.
3. **Reasoning.** ``<think>…</think>`` (also ``thinking``, ``reasoning``) is dropped; a
   lone ``</think>`` drops what precedes it; an unclosed ``<think>`` drops what follows.
4. **JSON.** A JSON object (bare, or in a ```` ```json ```` fence) with a string under a key
   naming SQL or a query (``sql``, ``query``, ``sql_query``...) is decoded (``\\n``, ``\\"``)
   and read in place of the output.
5. **Blocks.** Code fences (opened and closed only at the start of a line, as in
   Markdown: a ```` ``` ```` inside a string literal is text; three or more backticks,
   closed only by a run at least as long), ``[SQL]…[/SQL]``, ``<sql>…</sql>``,
   ``<answer>…</answer>`` and ``<query>…</query>`` tags (any case), and inline code
   (`` `SELECT …` ``, only when it parses) are blocks; a block that holds a block (a
   fence in ``<answer>``) is read as an answer of its own. The answer is the first block that holds a query (fences tagged with another
   language count only when no other block does); a block of DDL the model echoed from
   the prompt (``CREATE TABLE``, ``TIMESTAMP WITH TIME ZONE``, comments that say
   "select") holds none. An unclosed block runs to the end of the output.
6. **Corrections.** When the model explicitly takes back its query between it and the
   next ("That is wrong. Corrected:", "Wait, ...", "Oops", "Actually", "Let me fix
   that", "Scratch that", "On second thought", "Final query:", "Final answer:",
   "Improved version:", "Revised query:", "Here is the fixed query"), the last
   corrected query is the answer. Judgments are no correction ("this is the correct
   approach", "should be spelled as in the schema", "I corrected the column names
   above"), and a query offered as an alternative ("Alternatively", "Another way", after
   the last correction phrase) does not replace the one before it.
7. **Outside blocks**, Markdown escapes of ``_`` and ``*`` outside string literals are
   undone (``order\\_date``, ``SELECT \\*``), as Markdown would render them. Inside a
   block, text is kept as written.
8. **The query** starts at ``SELECT``, or at ``WITH`` that opens a CTE (``WITH name AS
   (``), at a line start or after prose that introduces it (``The query is: SELECT``); a
   "select" in prose that does not parse as a query is not one, nor is a ``SELECT`` nested
   in parentheses of an earlier candidate. It ends at the first top-level ``;`` (found by
   the SQL tokenizer, so a ``;`` in a literal or comment is text), at the block's end, at
   a closing tag or fence whose opener the reading left out (``SELECT 1[/SQL]`` after a
   ``[SQL]`` prefill ignored), or at the first line of prose after it ("This query ...",
   "To get ...", "In this query", labels such as "Output:" or "Result:", ``- It joins``,
   "1. We join", ``**Note**``); a line is taken for prose only when the query without it
   parses or the query with it does not either. A bullet whose text starts with an SQL
   word ("- SELECT picks the name") is prose only when the query parses without it and
   not with it (``- INTERVAL '1 day'`` continues one). Otherwise it runs to the end of the
   text, as written. A ``SELECT`` in a comment starts nothing, and a query that is only
   its first keyword and comments (a prefilled ``SELECT`` followed by ``-- I cannot
   answer``) is none: a refusal in SQL comments is "no SQL".

``complete`` is True when the query was ended by a ``;``, a closing fence or tag, the end
of a JSON string or inline code, or prose after it; False when it runs to the end of the
output (it may have been cut off).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from eval.sqltext import SqlTextError, UnsafeSqlError, check_query, tokenize

_MAX_TEXT = 200_000
"""Characters of output read at all (junk output can be megabytes)."""
_MAX_QUERY = 40_000
"""Characters a single query may span (a real one is far shorter)."""
_MAX_STARTS = 12
"""Places tried as the query's start (junk output can say "select" hundreds of times)."""

_END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>", "<end_of_turn>", "</s>", "<|EOT|>")
_THINK_TAGS = ("think", "thinking", "reasoning")
_TAGS = (("[SQL]", "[/SQL]"), ("<sql>", "</sql>"), ("<answer>", "</answer>"), ("<query>", "</query>"))
_SQL_LANGS = frozenset(
    ("sql", "postgresql", "postgres", "psql", "pgsql", "plpgsql", "sqlite", "duckdb", "mysql", "")
)
# Markdown: a fence is three or more backticks, and only a run at least as long closes it
# (so a ```` ```` ```` fence can hold a ```` ``` ```` one).
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,})[ \t]*([\w+#.-]*)[^\n`]*$", re.MULTILINE)
_FENCE_LINE = re.compile(r"^[ \t]*```[^\n]*$", re.MULTILINE)
_INLINE = re.compile(r"(?<!`)(`{1,2})(?!`)([^`\n]+?)(?<!`)\1(?!`)")
_SELECT = re.compile(r"\bSELECT\b", re.IGNORECASE)
_CTE = re.compile(r"\bWITH\s+(?:RECURSIVE\s+)?(?:\"[^\"]+\"|\w+)\s*(?:\([^()]*\))?\s+AS\b", re.IGNORECASE)
_RESTART = re.compile(r"(?:SELECT|WITH)\b", re.IGNORECASE)
_OWN_BLOCK = re.compile(
    r"(?:```|\[SQL\]|<sql>|<answer>|<query>|<think|<thinking|<reasoning|\{\s*\")", re.IGNORECASE
)
# Phrases by which a model takes back the query it wrote. Each names a mistake or a
# replacement; words that merely judge ("the correct approach", "should be spelled as in
# the schema", "I corrected the column names above") are not among them.
_CORRECTION = re.compile(
    r"\b(?:wrong|incorrect|mistakes?|oops|wait|actually|scratch\s+that|on\s+second\s+thought|"
    r"my\s+bad|apologi[sz]e|apologies|not\s+(?:quite\s+)?right|correction|"
    r"(?:corrected|fixed|revised|updated|improved|amended|final)(?:\s+(?:sql\s+)?"
    r"(?:query|version|sql|answer|statement|solution))|(?:corrected|fixed|revised)\s*:|"
    r"(?:correct|right)\s+(?:sql\s+)?(?:query|version|answer|sql)\s*(?::|is\b|would\s+be\b)|"
    r"let\s+me\s+(?:fix|correct|revise|redo|rewrite|re-?write|try\s+again)|"
    r"should\s+have\s+(?:been|used|included))",
    re.IGNORECASE,
)
# Phrases that offer another query beside the answer: after the last correction phrase,
# they keep the first query.
_ALTERNATIVE = re.compile(
    r"\b(?:alternatively|alternative|another\s+(?:way|option|approach|version|query|solution)|"
    r"you\s+(?:could|can|may)\s+also|equivalently|for\s+comparison)\b",
    re.IGNORECASE,
)
_JSON_CUT = re.compile(r"\{\s*\"(\w+)\"\s*:\s*\"")
_CLOSER = re.compile(
    r"'(?:[^'\n]|'')*'|(" + "|".join(re.escape(c) for _, c in _TAGS) + r"|(?m:^[ \t]*```))", re.IGNORECASE
)
_BLOCK_COMMENT = re.compile(r"'(?:[^'\n]|'')*'|/\*.*?(?:\*/|$(?![\s\S]))", re.DOTALL)
"""``/* ... */`` comments (an unclosed one runs to the end), and the literals that hide one."""
_KEYWORD_ONLY = re.compile(r"^(?:SELECT|WITH)\b\s*(?:(?:--[^\n]*|/\*.*?(?:\*/|$))\s*)*$", re.I | re.DOTALL)
"""A query that is its first keyword and comments only: no query."""
_MARKDOWN_ESCAPE = re.compile(r"\\([_*])")
_JSON_KEYS = ("sql", "query", "sql_query", "sqlquery", "final_sql", "final_query", "answer")

# SQL words that may begin (or follow the first word of) a line of a query: a line that
# starts with one of them is never prose.
_SQL_WORDS = frozenset(
    [
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "join",
        "left",
        "right",
        "inner",
        "outer",
        "full",
        "cross",
        "natural",
        "on",
        "using",
        "group",
        "order",
        "by",
        "having",
        "limit",
        "offset",
        "fetch",
        "union",
        "intersect",
        "except",
        "all",
        "distinct",
        "case",
        "when",
        "then",
        "else",
        "end",
        "as",
        "in",
        "is",
        "null",
        "between",
        "like",
        "ilike",
        "similar",
        "with",
        "recursive",
        "over",
        "partition",
        "window",
        "rows",
        "range",
        "asc",
        "desc",
        "nulls",
        "first",
        "last",
        "lateral",
        "exists",
        "any",
        "some",
        "values",
        "filter",
        "within",
        "interval",
        "cast",
        "true",
        "false",
        "to",
        "at",
        "time",
        "zone",
        "into",
        "only",
    ]
)
_PROSE_OPENERS = (
    frozenset(
        [
            "this",
            "the",
            "these",
            "that",
            "those",
            "it",
            "its",
            "it's",
            "here",
            "here's",
            "heres",
            "note",
            "explanation",
            "explanations",
            "sure",
            "certainly",
            "okay",
            "ok",
            "of",
            "i",
            "i'm",
            "i'll",
            "i've",
            "we",
            "we'll",
            "let",
            "let's",
            "yes",
            "unfortunately",
            "sorry",
            "apologies",
            "assuming",
            "however",
            "also",
            "alternatively",
            "wait",
            "actually",
            "hmm",
            "corrected",
            "correction",
            "oops",
            "finally",
            "therefore",
            "thus",
            "please",
            "you",
            "your",
            "my",
        ]
    )
    - _SQL_WORDS
)
"""Words that open a sentence and never a line of SQL."""
_WEAK_OPENERS = frozenset(
    [
        "answer",
        "query",
        "result",
        "results",
        "output",
        "key",
        "how",
        "why",
        "what",
        "which",
        "there",
        "so",
        "now",
        "given",
        "based",
        "below",
        "above",
        "no",
        "to",
        "in",
        "scratch",
        "expected",
        "final",
        "improved",
        "revised",
        "updated",
        "example",
        "sample",
        "step",
    ]
)
"""Words that open a sentence but could name a column: prose only when no SQL word follows."""
_WORD = r"[A-Za-z][a-z']*"
_PLAIN_WORDS = re.compile(rf"^({_WORD}) ({_WORD}),? ({_WORD})\b")
_OPENER = re.compile(r"^([A-Za-z][A-Za-z']*)(?:[!:]|\.(?:\s|$)|$|,?\s+([A-Za-z][\w']*))")
# "Output:", "Final query:", "Expected result:": a label, never a line of SQL (a ``:`` there
# is a cast's ``::`` or a parameter's ``:name``, never followed by a space).
_LABEL = re.compile(r"^[A-Za-z][\w']*(?: [A-Za-z][\w']*){0,2}:(?:\s|$)")
# Openers made of SQL words that still open only a sentence.
_PROSE_PHRASE = re.compile(r"^(?:on\s+second\s+thought|in\s+order\s+to|to\s+do\s+(?:so|this))\b", re.I)
_MARKER = re.compile(r"^(?:\*\*|__|#{1,6}\s|>\s|[-*+]\s+[A-Za-z]|\d+[.)]\s+[A-Za-z])")


@dataclass(frozen=True)
class Extraction:
    """The query found in a model's output."""

    sql: str
    """The query as written (no trailing ``;``), or "" when the output holds none."""
    complete: bool = False
    """The query was visibly ended (a ``;``, a closing fence or tag, prose after it)."""


NO_SQL = Extraction("")


def extract_sql(text: str, prefill: str = "") -> str:
    """The query in ``text`` (see the module docstring), or ""."""
    return extract(text, prefill).sql


def extract(text: str, prefill: str = "") -> Extraction:
    """The query in ``text``, continued from ``prefill``, and whether it was complete."""
    return _extract(_reading(text[:_MAX_TEXT], prefill))


# --------------------------------------------------------------------------- the prefill


@dataclass(frozen=True)
class _Prefill:
    head: str
    """The prefill up to where the query begins (the whole prefill when it has no query)."""
    query: str
    """The part of the query the prefill already wrote (``SELECT``), else ""."""
    open_block: bool
    """The prefill leaves a fence or tag open for the answer."""
    in_reasoning: bool
    """The prefill leaves a ``<think>`` open."""


def _prefill_state(prefill: str) -> _Prefill:
    lower = prefill.lower()
    think = max(lower.rfind(f"<{tag}>") for tag in _THINK_TAGS)
    closed = max(lower.rfind(f"</{tag}>") for tag in _THINK_TAGS)
    in_reasoning = think > closed
    opener_end = _open_block_end(prefill)
    tail = prefill[opener_end:]
    start = _query_start_in_prefill(tail)
    if start is None:
        return _Prefill(prefill, "", opener_end > 0, in_reasoning)
    return _Prefill(prefill[: opener_end + start], tail[start:], opener_end > 0, in_reasoning)


def _open_block_end(prefill: str) -> int:
    """Where the prefill's unclosed fence or tag ends (its content begins), else 0."""
    end = 0
    fences = list(_FENCE_LINE.finditer(prefill))
    if len(fences) % 2 == 1:  # the last fence line opens a block that nothing closes
        end = fences[-1].end() + (1 if prefill[fences[-1].end() : fences[-1].end() + 1] == "\n" else 0)
    lower = prefill.lower()
    for opening, closing in _TAGS:
        at = lower.rfind(opening.lower())
        if at >= 0 and lower.find(closing.lower(), at) < 0:
            end = max(end, at + len(opening))
    return end


def _query_start_in_prefill(tail: str) -> int | None:
    match = re.search(r"(?:^|\s)((?:SELECT|WITH)\b)", tail, re.IGNORECASE)
    return match.start(1) if match else None


def _reading(text: str, prefill: str) -> str:
    """The text to extract from: the output alone or as the prefill's continuation."""
    if not prefill:
        return text
    state = _prefill_state(prefill)
    start = text.lstrip()
    if state.in_reasoning:
        return text if re.match(r"<(?:think|thinking|reasoning)>", start, re.I) else _join(prefill, text)
    if not (state.open_block or state.query):
        return text  # a prefill of prose ("Answer:") contributes nothing to the query
    if _OWN_BLOCK.match(start):
        return text
    if state.query and _RESTART.match(start):
        return state.head + text.lstrip()
    first_line = start.split("\n", 1)[0]
    if _is_prose_line(first_line):
        return text
    return _join(prefill, text)


def _join(prefill: str, text: str) -> str:
    # Some tokenizers drop the space that separated "SELECT" from the continuation.
    glue = " " if prefill[-1:].isalnum() and text[:1].isalnum() else ""
    return prefill + glue + text


# --------------------------------------------------------------------------- the output


def _extract(text: str) -> Extraction:
    text, ended = _cut_end_markers(text)
    found = _extract_answer(_drop_reasoning(text))
    # The model ended its turn itself: nothing of the query was cut off.
    return Extraction(found.sql, found.complete or (ended and bool(found.sql)))


def _extract_answer(text: str) -> Extraction:
    answer, closed = _json_answer(text)
    if answer is not None:
        found = _extract_answer(answer)
        return Extraction(found.sql, closed and bool(found.sql) or found.complete)
    blocks = _blocks(text)
    chosen = _choose(text, [b for b in blocks if b.lang in _SQL_LANGS and b.query is not None])
    if chosen is None:
        chosen = _choose(text, [b for b in blocks if b.query is not None])
    if chosen is not None and not (chosen.inline and _statement(text[: chosen.start]) is not None):
        assert chosen.query is not None
        return Extraction(chosen.query.sql, chosen.query.complete or chosen.closed)
    # No block, or inline code after a query written outside any: that query comes first.
    return _plain(_unescape_markdown(text))


def _cut_end_markers(text: str) -> tuple[str, bool]:
    ends = [i for i in (text.find(m) for m in _END_MARKERS) if i >= 0]
    return (text[: min(ends)], True) if ends else (text, False)


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


def _json_answer(text: str) -> tuple[str | None, bool]:
    """The query string of a JSON answer (``{"sql": "..."}``) and whether its string was
    closed, else (None, False). A JSON answer cut off inside its string gives what it has."""
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"\{\s*\"", text)][:8]
    for at in starts:
        try:
            value, _ = decoder.raw_decode(text, at)
        except ValueError:
            cut = _JSON_CUT.match(text, at)
            if cut and cut.group(1).lower() in _JSON_KEYS and "\n" not in text[cut.end() :].strip("\n"):
                return _json_prefix(text[cut.end() :]), False
            continue
        found = _json_query(value)
        if found is not None:
            return found, True
    return None, False


def _json_prefix(rest: str) -> str:
    """A JSON string's text up to where the output stops (its closing quote never came)."""
    rest = rest.rstrip().removesuffix("`").rstrip()
    for trim in range(min(len(rest), 6) + 1):  # an escape cut in half decodes without its tail
        try:
            return str(json.loads('"' + rest[: len(rest) - trim] + '"'))
        except ValueError:
            continue
    return rest


def _json_query(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    by_key = {str(k).lower(): v for k, v in value.items()}
    for key in _JSON_KEYS:
        candidate = by_key.get(key)
        if isinstance(candidate, str) and (_SELECT.search(candidate) or _CTE.search(candidate)):
            return candidate
    for candidate in value.values():
        nested = _json_query(candidate)
        if nested is not None:
            return nested
    return None


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    lang: str
    body: str
    closed: bool
    query: _Statement | None
    inline: bool = False


@dataclass(frozen=True)
class _Statement:
    sql: str
    complete: bool
    start: int
    end: int
    """Offsets in the text it was found in."""


def _blocks(text: str) -> list[_Block]:
    """Fences, tags and inline code spans, in order of appearance (none nested in another)."""
    spans: list[_Block] = []
    for start, end, lang, body, closed in [*_fences(text), *_tags(text)]:
        spans.append(_Block(start, end, lang, body, closed, _inner_query(body)))
    spans.sort(key=lambda b: b.start)
    blocks: list[_Block] = []
    for block in spans:
        if not blocks or block.start >= blocks[-1].end:
            blocks.append(block)
    outside = [(0, len(text))]
    for block in blocks:
        outside = [
            piece
            for a, b in outside
            for piece in ((a, min(b, block.start)), (max(a, block.end), b))
            if piece[0] < piece[1]
        ]
    for a, b in outside:
        for match in _INLINE.finditer(text, a, b):
            code = match.group(2).strip()
            if _parses(code):
                statement = _ended(code, 0, ended=True)
                blocks.append(_Block(match.start(), match.end(), "", code, True, statement, inline=True))
    blocks.sort(key=lambda b: b.start)
    return blocks


def _inner_query(body: str) -> _Statement | None:
    """The query in a block's body; a body that holds a block or JSON of its own (``<answer>``
    around a fence, ```` ```` ```` around ```` ``` ````) is read as an answer of its own."""
    if not (
        _FENCE_OPEN.search(body) or _JSON_CUT.search(body) or any(o.lower() in body.lower() for o, _ in _TAGS)
    ):
        return _statement(body)
    found = _extract_answer(body)
    return _Statement(found.sql, found.complete, 0, len(body)) if found.sql else None


def _fences(text: str) -> list[tuple[int, int, str, str, bool]]:
    found: list[tuple[int, int, str, str, bool]] = []
    pos = 0
    while True:
        opening = _FENCE_OPEN.search(text, pos)
        if opening is None:
            return found
        ticks = len(opening.group(1))
        body_start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*`{{{ticks},}}[ \t]*$", re.MULTILINE).search(text, body_start)
        if closing is None:
            body, end, closed = text[body_start:], len(text), False
        else:
            body, end, closed = text[body_start : closing.start()], closing.end(), True
        body, closed = _trailing_fence(body, closed, ticks)
        found.append((opening.start(), end, opening.group(2).lower(), body, closed))
        pos = end


def _trailing_fence(body: str, closed: bool, ticks: int = 3) -> tuple[str, bool]:
    """A body whose last line ends in a fence's backticks outside any literal (``...FROM t```):
    that closes the block, although Markdown would want the fence on a line of its own."""
    stripped = body.rstrip()
    run = len(stripped) - len(stripped.rstrip("`"))
    if run >= ticks and stripped.count("'") % 2 == 0:
        return stripped[:-run], True
    return body, closed


def _tags(text: str) -> list[tuple[int, int, str, str, bool]]:
    lower = text.lower()
    found = []
    for opening, closing in _TAGS:
        pos = 0
        while (start := lower.find(opening.lower(), pos)) >= 0:
            body_start = start + len(opening)
            stop = lower.find(closing.lower(), body_start)
            end = stop + len(closing) if stop >= 0 else len(text)
            found.append((start, end, "sql", text[body_start : stop if stop >= 0 else len(text)], stop >= 0))
            pos = end
    return found


def _choose(text: str, blocks: list[_Block]) -> _Block | None:
    """The first block, or the last one that a correction introduces."""
    if not blocks:
        return None
    chosen = blocks[0]
    for block in blocks[1:]:
        if _corrects(text, chosen.end, block.start):
            chosen = block
    return chosen


def _corrects(text: str, start: int, end: int) -> bool:
    """Whether the text between two queries takes back the first: a correction phrase with
    no offer of an alternative after it ("Wrong. Alternatively, ..." keeps the first)."""
    corrections = [m.end() for m in _CORRECTION.finditer(text, start, end)]
    if not corrections:
        return False
    alternative = [m.start() for m in _ALTERNATIVE.finditer(text, start, end)]
    return not alternative or alternative[-1] < corrections[-1]


# --------------------------------------------------------------------------- plain text


def _plain(text: str) -> Extraction:
    """The query in text outside any block, the corrected one where the model corrects itself."""
    first = _statement(text)
    if first is None:
        return NO_SQL
    chosen = first
    while True:
        rest = _statement(text, chosen.end)
        if rest is None:
            break
        if _corrects(text, chosen.end, rest.start):
            chosen = rest
            continue
        # An uncorrected second query leaves the answer alone; look further for a correction.
        later = _statement(text, rest.end)
        if later is None or not _corrects(text, rest.end, later.start):
            break
        chosen = later
    return Extraction(chosen.sql, chosen.complete)


def _unescape_markdown(text: str) -> str:
    """``\\_`` and ``\\*`` outside string literals, as Markdown renders them."""
    if "\\" not in text:
        return text
    pieces = re.split(r"('(?:[^']|'')*')", text)
    return "".join(p if i % 2 else _MARKDOWN_ESCAPE.sub(r"\1", p) for i, p in enumerate(pieces))


# --------------------------------------------------------------------------- the statement


def _statement(text: str, pos: int = 0) -> _Statement | None:
    """The first query in ``text`` at or after ``pos`` (rule 8 of the module docstring)."""
    starts = _starts(text, pos)
    tried: list[_Statement] = []
    for start, strong in starts[:_MAX_STARTS]:
        if any(_nested(text, earlier.start, start) for earlier in tried):
            continue
        statement = _statement_at(text, start)
        tried.append(statement)
        if _KEYWORD_ONLY.match(statement.sql):
            continue  # a prefilled SELECT the model followed with only a comment (a refusal)
        if _parses(statement.sql):
            return statement
        if strong and not _reads_as_prose(statement.sql):
            return statement  # the model's query as written (cut off, or wrong SQL)
    return None


def _starts(text: str, pos: int) -> list[tuple[int, bool]]:
    """Candidate query starts after ``pos``, in order, and whether each is *strong*: at a
    line start or after an introducing colon (a weak one must parse to count)."""
    found = [m.start() for m in _SELECT.finditer(text, pos)]
    found += [m.start() for m in _CTE.finditer(text, pos)]
    comments = [m.span() for m in _BLOCK_COMMENT.finditer(text) if m.group(0).startswith("/*")]
    starts = []
    for start in sorted(found):
        if any(a < start < b for a, b in comments):
            continue  # "/* I cannot select ... */"
        line_start = text.rfind("\n", 0, start) + 1
        before = text[line_start:start]
        if "--" in before or "#" in before.lstrip()[:1]:
            continue  # in a comment
        starts.append((start, not before.strip() or before.rstrip().endswith(":")))
    return starts


def _nested(text: str, outer: int, inner: int) -> bool:
    """Whether ``inner`` lies inside parentheses opened after ``outer`` (a subquery)."""
    if inner <= outer:
        return False
    depth = 0
    quote = ""
    for char in text[outer:inner]:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
    return depth > 0


def _statement_at(text: str, start: int) -> _Statement:
    """The statement beginning at ``start``: up to ``;``, or the prose after it, or the end."""
    region = text[start : start + _MAX_QUERY]
    closer = _stray_closer(region)
    if closer is not None:
        region = region[:closer]
    lines = region.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    prose = next((k for k in range(1, len(lines)) if _is_prose_line(lines[k])), None)
    bullet = next((k for k in range(1, prose or len(lines)) if _is_sql_word_bullet(lines[k])), None)
    if bullet is not None:
        # "- SELECT picks the name": a bullet explaining the query, when the query parses
        # without it and not with it (``- INTERVAL '1 day'`` continues one).
        before = _ended(region[: offsets[bullet]], start, ended=True)
        if _parses(before.sql) and not _parses(
            _ended(region[: offsets[prose or len(lines)]], start, ended=True).sql
        ):
            return before
    if prose is None:
        return _ended(region, start, ended=closer is not None)
    short = _ended(region[: offsets[prose]], start, ended=True)
    if short.complete and ";" in region[: offsets[prose]]:
        return short  # the query ended at its ';' before the prose
    long = _ended(region, start, ended=closer is not None)
    if _parses(long.sql):
        # What looked like prose is part of the query (a column named ``note``): sqlglot
        # also accepts the cut ``SELECT id,``, so the whole query is tried first.
        return long
    return short


def _stray_closer(region: str) -> int | None:
    """Where a closing tag or a fence line whose opener is not in the text ends the query
    (``SELECT 1[/SQL]`` after a ``[SQL]`` prefill the reading left out), else None; one in a
    string literal is text."""
    for match in _CLOSER.finditer(region):
        if match.group(1) is not None:
            return match.start(1)
    return None


def _is_sql_word_bullet(line: str) -> bool:
    stripped = line.strip()
    return bool(re.match(r"(?:[-*+]|\d+[.)])\s+[A-Za-z]", stripped)) and _starts_with_sql_word(
        re.sub(r"^\W+\s*", "", stripped)
    )


def _ended(region: str, start: int, *, ended: bool) -> _Statement:
    """``region`` up to its first top-level ``;`` (complete), else whole (``ended`` says
    whether something visibly ends it)."""
    cut = _semicolon(region)
    if cut is not None:
        return _Statement(region[:cut].strip(), True, start, start + cut + 1)
    return _Statement(region.strip(), ended, start, start + len(region))


def _semicolon(region: str) -> int | None:
    """Offset of the first top-level ``;`` (the tokenizer knows literals and comments)."""
    if ";" not in region:
        return None
    try:
        tokens = tokenize(region)
    except SqlTextError:
        # A literal still open somewhere (cut off, or prose with an apostrophe): the
        # longest prefix that tokenizes decides.
        for k in range(len(region), 0, -1):
            if region[k - 1] == ";":
                try:
                    tokens = tokenize(region[:k])
                except SqlTextError:
                    continue
                break
        else:
            return None
    for token in tokens:
        if token.token_type.name == "SEMICOLON":
            return token.start
    return None


def _is_prose_line(line: str) -> bool:
    """A line of prose after (or instead of) a query: a Markdown marker, a sentence opener
    ("This query ...", "Sure, ..."), or three plain words, none of them SQL."""
    stripped = line.strip()
    if not stripped or stripped.startswith("--"):
        return False
    if _MARKER.match(stripped):
        return not _starts_with_sql_word(re.sub(r"^\W+\s*", "", stripped))
    if _LABEL.match(stripped) or _PROSE_PHRASE.match(stripped):
        return True
    opener = _OPENER.match(stripped)
    if opener:
        word, following = opener.group(1).lower(), opener.group(2)
        if word in _PROSE_OPENERS:
            return True
        if word in _WEAK_OPENERS and following is not None and following.lower() not in _SQL_WORDS:
            return True
    words = _PLAIN_WORDS.match(stripped)
    return words is not None and not any(w.lower() in _SQL_WORDS for w in words.groups())


def _starts_with_sql_word(text: str) -> bool:
    first = re.match(r"[A-Za-z_]+", text)
    return first is not None and first.group(0).lower() in _SQL_WORDS


def _reads_as_prose(sql: str) -> bool:
    """A sentence that happens to begin with "Select": no SQL punctuation, ends like one."""
    first = sql.split("\n", 1)[0].strip()
    return bool(re.search(r"[.?!]$", first)) and not re.search(r"[(),=*<>'\";]", first)


def _parses(sql: str) -> bool:
    """One query that sqlglot parses (a parse gap of sqlglot is not enough evidence here)."""
    if not sql:
        return False
    try:
        return check_query(sql).tree is not None
    except (UnsafeSqlError, SqlTextError):
        return False
