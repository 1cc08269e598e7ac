"""sql-eval's prompt files with ``-f``: every placeholder, Llama-3 markup, JSON messages, errors.

The files under tests/fixtures/sql_eval/ are written here in sql-eval's layout (its
placeholder names, its header tokens, its JSON shape); their wording is ours.
"""

from __future__ import annotations

import csv
import json

import pytest

from conftest import ROOT, SAMPLE, run_cli, sample_args
from eval import sqleval_prompts as sqleval
from eval.db.postgres import EmbeddedServer, PostgresBackend
from eval.errors import BadInput
from eval.extract import extract_sql
from eval.prompts import SQL_EVAL, Prompting, load_template, parse_template
from eval.records import Question
from eval.schemas import discover

FIXTURES = ROOT / "tests" / "fixtures" / "sql_eval"

METADATA = """-- One row per order line
CREATE TABLE orders (
  order_id integer, -- the order
  customer_id integer,
  product_id integer,
  PRIMARY KEY (order_id),
  FOREIGN KEY (customer_id) REFERENCES customers(customer_id),
  FOREIGN KEY (product_id) REFERENCES products(product_id)
);

CREATE TABLE customers (
  customer_id integer,
  PRIMARY KEY (customer_id)
);"""

VALUES = {
    "question": "How many orders were placed in 2023?",
    "table_metadata": METADATA,
    "instructions": "",
    "few_shot": "",
    "dialect": "PostgreSQL",
    "db_type": "postgres",
    "glossary": "",
}
INSTRUCTIONS = "Count every order line. Leave out cancelled ones."
SENTENCES = "Count every order line.\nLeave out cancelled ones."
JOINS = (
    "\nColumns that can be joined:\n"
    "orders.customer_id references customers.customer_id\n"
    "orders.product_id references products.product_id"
)
ROW = {
    "prev_invalid_sql": "SELECT nope FROM orders",
    "prev_error_msg": 'column "nope" does not exist',
    "question_0": "How many customers are there?",
    "query_0": "SELECT COUNT(*) FROM customers",
    "question_1": "How many orders?",
    "query_1": "SELECT COUNT(*) FROM orders",
}

# (placeholder, our values changed, the question row, what the placeholder renders to)
PLACEHOLDER_CASES = [
    ("user_question", {}, {}, "How many orders were placed in 2023?"),
    ("table_metadata_string", {}, {}, METADATA),
    (
        "table_metadata_string",
        {},
        {"table_metadata_string": "CREATE TABLE x (a int);"},
        "CREATE TABLE x (a int);",
    ),
    (
        "instructions",
        {"instructions": INSTRUCTIONS},
        {},
        f"\nFollow these instructions when you write the query:\n{SENTENCES}\n",
    ),
    ("instructions", {}, {}, ""),
    (
        "instruction_reflections",
        {"instructions": INSTRUCTIONS},
        {},
        f"\nI was also asked to follow these instructions when I write the query:\n{SENTENCES}\n\n",
    ),
    ("instruction_reflections", {}, {}, "\n"),
    (
        "k_shot_prompt",
        {"few_shot": "Question: a?\nSQL: SELECT 1"},
        {},
        "\nUse these correct examples as a reference for the answer:\nQuestion: a?\nSQL: SELECT 1",
    ),
    ("k_shot_prompt", {}, {}, ""),
    (
        "glossary",
        {"glossary": "- revenue = SUM(quantity * price)\n"},
        {},
        "- revenue = SUM(quantity * price)",
    ),
    (
        "glossary",
        {"glossary": "- ignored when the question has its own"},
        {"glossary": "Mugs are the products titled Mug."},
        "\nUse these definitions where they apply to the question:\nMugs are the products titled Mug.\n",
    ),
    ("glossary", {}, {}, ""),
    ("db_type", {}, {}, "postgres"),
    ("db_type", {"db_type": "sqlite"}, {}, "sqlite"),
    ("join_str", {}, {}, JOINS),
    ("join_str", {"table_metadata": "CREATE TABLE t (\n  a integer\n);"}, {}, ""),
    ("join_hints", {}, {}, JOINS),
    ("pruned_join_str", {}, {}, JOINS),
    ("table_aliases", {}, {}, ""),
    ("cot_instructions", {}, {}, ""),
    ("prev_invalid_sql", {}, ROW, "SELECT nope FROM orders"),
    ("prev_invalid_sql", {}, {}, ""),
    ("prev_error_msg", {}, ROW, 'column "nope" does not exist'),
    ("question_0", {}, ROW, "How many customers are there?"),
    ("query_0", {}, ROW, "SELECT COUNT(*) FROM customers"),
    ("question_1", {}, ROW, "How many orders?"),
    ("query_1", {}, ROW, "SELECT COUNT(*) FROM orders"),
    ("query_1", {}, {}, ""),
]


def test_the_cases_cover_every_sql_eval_placeholder():
    assert {case[0] for case in PLACEHOLDER_CASES} == set(sqleval.PLACEHOLDERS)


@pytest.mark.parametrize(("name", "changed", "row", "expected"), PLACEHOLDER_CASES)
def test_each_sql_eval_placeholder_renders_our_value(name, changed, row, expected):
    template = parse_template("t", "{user_question}\n{table_metadata_string}\nVALUE:{" + name + "}")
    assert template.flavour == SQL_EVAL
    rendered = template.render({**VALUES, **changed}, row=row)
    assert rendered.prompt.rsplit("VALUE:", 1)[1] == expected


def test_join_hints_from_column_references():
    ddl = (
        "CREATE TABLE lines (order_id int REFERENCES orders(id), sku text REFERENCES products (sku), "
        "n int REFERENCES counters);\nCREATE TABLE pairs (a int, b int, FOREIGN KEY (a, b) REFERENCES grid(x, y));"
    )
    assert sqleval.foreign_keys(ddl) == [
        ("lines.order_id", "orders.id"),
        ("lines.sku", "products.sku"),  # a reference without columns names no pair
        ("pairs.a", "grid.x"),
        ("pairs.b", "grid.y"),
    ]


def test_llama3_prompt_file_becomes_messages_and_a_prefill():
    template = load_template(str(FIXTURES / "prompt.md"))
    rendered = template.render({**VALUES, "instructions": INSTRUCTIONS})
    roles = [m["role"] for m in rendered.messages]
    system, user, assistant = (m["content"] for m in rendered.messages)
    assert roles == ["system", "user", "assistant"]
    assert system == "Answer with one query and make no assumptions."
    assert user == (
        "Write a postgres query for this question: `How many orders were placed in 2023?`\n"
        f"\nFollow these instructions when you write the query:\n{SENTENCES}\n"
        f"\nSchema:\n{METADATA}\n{JOINS}\n\n"
        "Write the postgres query that answers `How many orders were placed in 2023?`."
    )  # the end-of-turn token is markup, not content
    assert assistant == (
        "The question is: `How many orders were placed in 2023?`\n\n"
        f"\nI was also asked to follow these instructions when I write the query:\n{SENTENCES}\n\n"
        "\nSo the postgres query, using only the tables above, is:\n```sql\n"
    )
    assert rendered.prefill == assistant  # its last newline kept, as sql-eval's prompt ends
    assert rendered.prompt == f"{system}\n\n{user}\n{assistant}"
    assert "<|" not in rendered.prompt
    assert (
        extract_sql("SELECT COUNT(*) FROM orders;\n```\nDone.", rendered.prefill)
        == "SELECT COUNT(*) FROM orders"
    )


def test_json_chat_prompt_file_with_a_database_glossary():
    template = load_template(str(FIXTURES / "prompt_chat.json"))
    rendered = template.render({**VALUES, "glossary": "- an order line is one row of orders"})
    assert rendered.messages == (
        {"role": "system", "content": "You write postgres queries for a database schema."},
        {
            "role": "user",
            "content": "Write a SQL query answering `How many orders were placed in 2023?`.\n"
            f"- an order line is one row of orders\nThe schema:\n{METADATA}\n\nReply with the query only.",
        },
    )
    assert rendered.prefill == ""


def test_json_prompt_file_ending_in_an_assistant_message_is_a_prefill():
    template = load_template(str(FIXTURES / "prompt_prefill.json"))
    rendered = template.render(VALUES)
    assert [m["role"] for m in rendered.messages] == ["user", "assistant"]
    assert rendered.prefill == "```sql\n"
    user = rendered.messages[0]["content"]
    assert user.endswith(f"{METADATA}\n\n{JOINS}\n" + 'Example: {"sql": "..."}')  # {{ }} are braces
    assert extract_sql("SELECT 1\n```", rendered.prefill) == "SELECT 1"


def test_json_messages_in_our_placeholders_keep_our_rules(tmp_path):
    path = tmp_path / "ours.json"
    messages = [
        {"role": "user", "content": "{table_metadata}\n[[Notes: {instructions}\n]]Q: {question}"},
        {"role": "assistant", "content": "SELECT"},
    ]
    path.write_text(json.dumps(messages))
    rendered = load_template(str(path)).render(VALUES)
    assert rendered.messages[0]["content"] == f"{METADATA}\nQ: How many orders were placed in 2023?"
    assert rendered.prefill == "SELECT"


def test_sql_eval_templates_need_a_place_for_instructions_and_examples():
    bare = parse_template("bare", "{user_question}\n{table_metadata_string}")
    with pytest.raises(
        BadInput,
        match=r"^prompt template 'bare' has no \{instructions\} or \{instruction_reflections\} "
        r"placeholder, but there are instructions$",
    ):
        bare.require("instructions")
    with pytest.raises(
        BadInput, match=r"has no \{k_shot_prompt\} placeholder, but there are --few-shot examples"
    ):
        bare.require("few_shot")
    reflective = parse_template("r", "{user_question}\n{table_metadata_string}\n{instruction_reflections}")
    reflective.require("instructions")  # the instructions reach the prompt through the reflection


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "p.md",
            "{user_question} {table_metadata_string} {date_now}",
            r"unknown placeholder\(s\) \{date_now\}; known: \{user_question\}, \{table_metadata_string\}, ",
        ),
        (
            "p.md",
            "{question} {table_metadata} {db_type}",
            r"unknown placeholder\(s\) \{db_type\}; .*sql-eval's placeholders are read in a file that uses",
        ),
        (
            "p.md",
            "{user_question} {table_metadata_string} {",
            r"Single '\{' encountered.*write \{\{ and \}\}",
        ),
        ("p.md", "{user_question}", r"lacks the placeholder\(s\) \{table_metadata_string\}"),
        (
            "p.md",
            "<|start_header_id|>ipython<|end_header_id|>\n\n{user_question} {table_metadata_string}",
            r"unknown role 'ipython'",
        ),
        (
            "p.md",
            "hi <|start_header_id|>user<|end_header_id|>\n\n{user_question} {table_metadata_string}",
            r"text before the first <\|start_header_id\|>",
        ),
        ("p.json", '{"role": "user"}', r"a JSON prompt is a non-empty list of messages"),
        ("p.json", "[", r"not valid JSON"),
        ("p.json", '[{"role": "robot", "content": "{user_question}"}]', r"unknown role 'robot'"),
        ("p.json", '[{"role": "user", "content": "x", "name": "me"}]', r"message 1 is not a"),
        ("p.json", '[{"role": "user", "content": 3}]', r"role and content must be strings"),
        (
            "p.json",
            '[{"role": "assistant", "content": "x"}, {"role": "user", "content": "{question} {table_metadata}"}]',
            r"an assistant message may only be the last one",
        ),
    ],
)
def test_bad_prompt_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BadInput, match=message):
        load_template(str(path))


def test_sql_eval_conversations_may_hold_assistant_turns(tmp_path):
    path = tmp_path / "turns.json"
    turns = [
        {"role": "user", "content": "How many customers?"},
        {"role": "assistant", "content": "SELECT COUNT(*) FROM customers"},
        {"role": "user", "content": "{user_question}\n{table_metadata_string}"},
    ]
    path.write_text(json.dumps(turns))
    rendered = load_template(str(path)).render(VALUES)
    assert [m["role"] for m in rendered.messages] == ["user", "assistant", "user"]
    assert rendered.prefill == ""


def test_database_glossary_reads_defog_data_json(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    assert sqleval.database_glossary(folder) == ""
    (folder / "shop.json").write_text(json.dumps({"table_metadata": {}, "glossary": "- NCT = net total"}))
    sqleval.database_glossary.cache_clear()
    assert sqleval.database_glossary(folder) == "- NCT = net total"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "broken.json").write_text("{")
    with pytest.raises(
        BadInput, match=r"broken.json: not a readable JSON file \(read for the prompt's \{glossary\}\)"
    ):
        sqleval.database_glossary(broken)


def test_sql_eval_prompt_on_the_seeded_database(cache_dir, tmp_path):
    schemas = tmp_path / "schemas"
    (schemas / "shop").mkdir(parents=True)
    (schemas / "shop" / "shop.json").write_text(json.dumps({"glossary": "- a mug is a product titled Mug"}))
    question = Question(0, "What share of orders are mugs?", "SELECT 1", "shop", "ratio", "Use a fraction.")
    template = load_template(str(FIXTURES / "prompt_chat.json"))
    with PostgresBackend(EmbeddedServer(cache_dir)) as backend:
        backend.prepare(discover(SAMPLE / "schemas", ["shop"]))
        prompting = Prompting.create(
            template,
            dialect=backend.dialect,
            metadata=backend.table_metadata,
            glossary=lambda db: sqleval.database_glossary(schemas / db),
        )
        rendered = prompting.render(question)
        joins = sqleval.join_hints(backend.table_metadata("shop"))
    system, user = (m["content"] for m in rendered.messages)
    assert system == "You write postgres queries for a database schema."
    assert "\nFollow these instructions when you write the query:\nUse a fraction.\n" in user
    assert "- a mug is a product titled Mug\nThe schema:\n" in user
    assert "  price numeric(10,2), -- unit price in EUR\n" in user
    assert joins == (
        "\nColumns that can be joined:\n"
        "orders.customer_id references customers.customer_id\n"
        "orders.product_id references products.product_id"
    )


def test_the_issue_s_prompt_file_runs_and_bad_ones_stop_with_exit_2(tmp_path):
    # The first part of the issue: sql-eval's prompt.md used to stop with "unknown placeholder(s)".
    template = load_template(str(FIXTURES / "prompt.md"))
    assert template.placeholders == {
        "db_type",
        "user_question",
        "instructions",
        "table_metadata_string",
        "join_str",
        "cot_instructions",
        "instruction_reflections",
    }
    bad = tmp_path / "bad.md"
    bad.write_text("{user_question}\n{table_metadata_string}\n{date_now} {schema}")
    args = ["-r", "api", "--api-url", "http://127.0.0.1:9/v1", "-m", "m", "-f", bad]
    proc = run_cli(
        *args, "-q", SAMPLE / "questions.csv", "--schemas", SAMPLE / "schemas", "-o", tmp_path / "o.csv"
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"prompt template '{bad}': unknown placeholder(s) {{date_now}}, {{schema}}; known: " in lines[0]


def test_a_model_run_with_sql_eval_s_prompt_file(cache_dir, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_hf import build_tiny_llama

    model = build_tiny_llama(tmp_path / "tiny")
    out = tmp_path / "run.csv"
    prompt = FIXTURES / "prompt.md"
    args = ["-r", "hf", "-m", model, "--max-new-tokens", "8", "-f", prompt, "-n", "3"]
    proc = run_cli(*args, *sample_args(cache_dir, out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["prompt_file"] == str(prompt)
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    # The model got the file's messages through its chat template, continuing the prefill:
    # the token count the run reports is that of the prompt rendered here.
    from transformers import AutoTokenizer

    from runners.base import GenerationRequest
    from runners.chat_prompt import encode_with_stops, prompt_text

    tokenizer = AutoTokenizer.from_pretrained(model)
    first = Question(0, rows[0]["question"], rows[0]["query"], "shop", "where")
    with PostgresBackend(EmbeddedServer(cache_dir)) as backend:
        backend.prepare(discover(SAMPLE / "schemas", ["shop"]))
        prompting = Prompting.create(
            load_template(str(prompt)), dialect="postgres", metadata=backend.table_metadata
        )
        rendered = prompting.render(first)
    request = GenerationRequest(key="0", prompt=rendered.prompt, messages=rendered.messages)
    text, _ = prompt_text(tokenizer, request)
    assert text.startswith("<s><|system|>\nAnswer with one query and make no assumptions.\n<|user|>\n")
    assert text.endswith(
        "<|assistant|>\nThe question is: `How many customers live in Lisbon?`\n\n\n\n"
        "So the postgres query, using only the tables above, is:\n```sql\n"
    )
    assert int(rows[0]["prompt_tokens"]) == len(encode_with_stops(tokenizer, request)[0])
