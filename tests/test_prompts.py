"""Prompt templates: placeholders, optional blocks, chat sections, prefill, few-shot, errors."""

from __future__ import annotations

import pytest

from conftest import SAMPLE
from eval.db.postgres import EmbeddedServer, PostgresBackend
from eval.errors import BadInput
from eval.prompts import Prompting, bundled_names, few_shot_text, load_few_shot, load_template, parse_template
from eval.records import Question
from eval.schemas import discover

VALUES = {
    "question": "How many customers live in Lisbon?",
    "table_metadata": "CREATE TABLE customers (\n  city text\n);",
    "instructions": "",
    "few_shot": "",
    "dialect": "PostgreSQL",
}


def test_bundled_templates():
    assert bundled_names() == ["chat", "default", "plain"]


def test_default_template_is_a_completion_prompt_with_a_prefill():
    rendered = load_template("default").render(VALUES)
    assert rendered.prefill == "```sql\nSELECT"
    assert rendered.prompt.endswith('answers "How many customers live in Lisbon?":\n```sql\nSELECT')
    assert "Write one PostgreSQL query" in rendered.prompt
    assert "CREATE TABLE customers (\n  city text\n);" in rendered.prompt
    assert "Notes" not in rendered.prompt and "examples" not in rendered.prompt  # empty optional blocks
    assert [m["role"] for m in rendered.messages] == ["user", "assistant"]
    assert rendered.messages[1]["content"] == "```sql\nSELECT"


def test_optional_blocks_appear_with_their_values():
    values = {
        **VALUES,
        "instructions": "Cities are stored in English.",
        "few_shot": "Question: a\nSQL: SELECT 1",
    }
    prompt = load_template("default").render(values).prompt
    assert "?\n\n### Notes for this question\nCities are stored in English.\n\n### Database" in prompt
    assert ");\n\n### Worked examples\nQuestion: a\nSQL: SELECT 1\n\n### Answer" in prompt


def test_chat_template_has_system_and_user_messages_and_no_prefill():
    rendered = load_template("chat").render({**VALUES, "instructions": "Use ILIKE."})
    assert [m["role"] for m in rendered.messages] == ["system", "user"]
    assert "PostgreSQL" in rendered.messages[0]["content"]
    assert rendered.messages[1]["content"].endswith(
        "Question: How many customers live in Lisbon?\n\nNotes: Use ILIKE."
    )
    assert rendered.prefill == ""
    assert rendered.prompt == rendered.messages[0]["content"] + "\n\n" + rendered.messages[1]["content"]


def test_template_without_markers_ending_in_select():
    rendered = load_template("plain").render(VALUES)
    assert rendered.prefill == "SELECT" and rendered.prompt.endswith("question:\nSELECT")
    assert rendered.messages == ({"role": "user", "content": rendered.prompt},)


def test_a_question_ending_in_a_keyword_is_no_prefill():
    rendered = load_template("chat").render({**VALUES, "question": "Which rows should I select"})
    assert rendered.prefill == ""


def test_values_are_not_substituted_twice():
    rendered = parse_template("t", "{table_metadata}\nQ: {question}").render(
        {**VALUES, "question": "{dialect}?"}
    )
    assert rendered.prompt.endswith("Q: {dialect}?")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{question} {table_metadata} {schema}", r"unknown placeholder\(s\) \{schema\}"),
        ("{question} only", r"lacks the placeholder\(s\) \{table_metadata\}"),
        ("<<robot>>\n{question} {table_metadata}", r"unknown role <<robot>>"),
        ("<<assistant>>\nx\n<<user>>\n{question} {table_metadata}", "may only be the last section"),
        ("hello\n<<user>>\n{question} {table_metadata}", "text before the first"),
    ],
)
def test_bad_templates(text, message):
    with pytest.raises(BadInput, match=message):
        parse_template("t", text)


def test_instructions_need_a_placeholder():
    template = parse_template("t", "{table_metadata}\n{question}")
    with pytest.raises(BadInput, match=r"no \{instructions\} placeholder"):
        template.render({**VALUES, "instructions": "Round to 2 decimals."})


def test_unknown_template_name(tmp_path):
    with pytest.raises(
        BadInput, match=r"no such file, nor a bundled template \(bundled: chat, default, plain\)"
    ):
        load_template("sqlcoder")
    path = tmp_path / "mine.txt"
    path.write_text("{table_metadata}\n-- {question}\nSELECT")
    assert load_template(str(path)).render(VALUES).prefill == "SELECT"


def test_few_shot_csv_filters_by_database(tmp_path):
    path = tmp_path / "shots.csv"
    path.write_text(
        "question,query,db_name\nHow many products?,SELECT COUNT(*) FROM products,shop\n"
        "How many students?,SELECT COUNT(*) FROM students,school\nAny?,SELECT 1,\n"
    )
    examples = load_few_shot(path)
    assert few_shot_text(examples, "shop") == (
        "Question: How many products?\nSQL: SELECT COUNT(*) FROM products\n\nQuestion: Any?\nSQL: SELECT 1"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("q,sql\na,b\n")
    with pytest.raises(BadInput, match="needs the columns question and query"):
        load_few_shot(bad)


def test_prompt_from_the_seeded_database(cache_dir):
    question = Question(0, "Which products cost most?", "SELECT 1", "shop", "order_by", "Only active ones.")
    with PostgresBackend(EmbeddedServer(cache_dir)) as backend:
        backend.prepare(discover(SAMPLE / "schemas", ["shop"]))
        prompting = Prompting.create(
            load_template("default"), dialect=backend.dialect, metadata=backend.table_metadata
        )
        rendered = prompting.render(question)
    assert "  price numeric(10,2), -- unit price in EUR\n" in rendered.prompt
    assert "-- One row per order line\nCREATE TABLE orders (" in rendered.prompt
    assert "Only active ones." in rendered.prompt and "Write one PostgreSQL query" in rendered.prompt


def test_cli_help_names_every_bundled_template():
    from eval.cli import build_parser

    help_text = " ".join(build_parser().format_help().split())
    listed = help_text.split("a bundled name (", 1)[1].split(")", 1)[0]
    assert sorted(listed.split(", ")) == bundled_names()
