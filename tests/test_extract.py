"""SQL extraction from raw model output: a table of outputs and the exact SQL expected."""

from __future__ import annotations

import pytest

from eval.extract import Extraction, extract, extract_sql

FENCE = "```"

# (name, raw output, prefill, expected SQL)
CASES = [
    ("bare query", "SELECT COUNT(*) FROM customers", "", "SELECT COUNT(*) FROM customers"),
    ("trailing semicolon", "SELECT name FROM customers;\n", "", "SELECT name FROM customers"),
    (
        "sql fence with prose around",
        f"Sure! Here is the query:\n\n{FENCE}sql\nSELECT name\nFROM customers\nWHERE city IS NULL;\n{FENCE}\n\n"
        "It lists customers without a city.",
        "",
        "SELECT name\nFROM customers\nWHERE city IS NULL",
    ),
    (
        "postgresql fence",
        f"{FENCE}postgresql\nSELECT title FROM products ORDER BY price DESC\n{FENCE}",
        "",
        "SELECT title FROM products ORDER BY price DESC",
    ),
    (
        "plain fence",
        f"{FENCE}\nSELECT 1 AS one\n{FENCE}",
        "",
        "SELECT 1 AS one",
    ),
    (
        "python fence first, sql fence second",
        f"{FENCE}python\nprint('SELECT is a keyword')\n{FENCE}\n{FENCE}sql\nSELECT 2 AS two\n{FENCE}",
        "",
        "SELECT 2 AS two",
    ),
    (
        "unclosed fence (ran out of tokens after the query)",
        f"{FENCE}sql\nSELECT course_code, AVG(grade)\nFROM enrolments\nGROUP BY course_code\n",
        "",
        "SELECT course_code, AVG(grade)\nFROM enrolments\nGROUP BY course_code",
    ),
    (
        "[SQL] tags",
        "[SQL]SELECT name FROM students WHERE year_of_study = 2[/SQL]",
        "",
        "SELECT name FROM students WHERE year_of_study = 2",
    ),
    (
        "[SQL] tag never closed",
        "[SQL] SELECT name FROM students;",
        "",
        "SELECT name FROM students",
    ),
    (
        "<sql> tags with prose",
        "The answer is <sql>\nSELECT MAX(price) FROM products\n</sql> as requested.",
        "",
        "SELECT MAX(price) FROM products",
    ),
    (
        "leading prose on the same line",
        "The query is: SELECT COUNT(*) FROM orders WHERE quantity > 2",
        "",
        "SELECT COUNT(*) FROM orders WHERE quantity > 2",
    ),
    (
        "trailing explanation after a blank line, no semicolon",
        "SELECT c.name\nFROM customers c\nWHERE c.city = 'Lisbon'\n\nThis query returns every customer living in Lisbon.",
        "",
        "SELECT c.name\nFROM customers c\nWHERE c.city = 'Lisbon'",
    ),
    (
        "trailing explanation with an apostrophe right after the query",
        "SELECT title FROM products\nThe query's result lists every product title.",
        "",
        "SELECT title FROM products",
    ),
    (
        "several statements: the first complete one",
        "SELECT name FROM customers; SELECT title FROM products;",
        "",
        "SELECT name FROM customers",
    ),
    (
        "semicolon inside a string literal is text",
        "SELECT name FROM customers WHERE name = 'a;b'; DROP TABLE customers;",
        "",
        "SELECT name FROM customers WHERE name = 'a;b'",
    ),
    (
        "semicolon inside a comment is text",
        "SELECT name -- first; then more\nFROM customers;\nSELECT 2",
        "",
        "SELECT name -- first; then more\nFROM customers",
    ),
    (
        "closed think block before the answer",
        "<think>\nThe user wants the cheapest product. I could SELECT from products.\n</think>\n"
        f"{FENCE}sql\nSELECT title FROM products ORDER BY price LIMIT 1\n{FENCE}",
        "",
        "SELECT title FROM products ORDER BY price LIMIT 1",
    ),
    (
        "unclosed think block: no answer",
        "<think>\nFirst I need to SELECT the orders, then group them by",
        "",
        "",
    ),
    (
        "lone closing think tag (opened in the prompt)",
        "we need a count of orders; SELECT COUNT(*) would do.\n</think>\n\nSELECT COUNT(*) FROM orders",
        "",
        "SELECT COUNT(*) FROM orders",
    ),
    (
        "prefilled SELECT continued by a completion model",
        " COUNT(*) FROM customers WHERE city = 'Porto'\n```\n\nExplanation follows",
        "```sql\nSELECT",
        "SELECT COUNT(*) FROM customers WHERE city = 'Porto'",
    ),
    (
        "prefilled SELECT, continuation without the space",
        "name FROM customers;",
        "SELECT",
        "SELECT name FROM customers",
    ),
    (
        "prefilled SELECT but the model started over with a fence",
        f"{FENCE}sql\nSELECT title FROM products\n{FENCE}",
        "SELECT",
        "SELECT title FROM products",
    ),
    (
        "prefill ignored by a chat model answering in prose",
        f"Sure, here it is:\n{FENCE}sql\nSELECT name FROM customers;\n{FENCE}\nIt lists names.",
        f"{FENCE}sql\nSELECT",
        "SELECT name FROM customers",
    ),
    (
        "WITH query",
        "WITH totals AS (\n  SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id\n)\n"
        "SELECT MAX(n) FROM totals;\n\nThe CTE counts orders per customer.",
        "",
        "WITH totals AS (\n  SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id\n)\nSELECT MAX(n) FROM totals",
    ),
    (
        "prose that says 'with' and 'select' before the query",
        "To answer this with a join, select from both tables:\nSELECT s.full_name FROM students s JOIN enrolments e "
        "USING (student_id)",
        "",
        "SELECT s.full_name FROM students s JOIN enrolments e USING (student_id)",
    ),
    (
        "lowercase sql",
        "select name from customers where city is null",
        "",
        "select name from customers where city is null",
    ),
    (
        "end-of-turn marker left in the text",
        "SELECT AVG(grade) FROM enrolments<|im_end|>\nUser: thanks",
        "",
        "SELECT AVG(grade) FROM enrolments",
    ),
    (
        "eos text then junk",
        "SELECT 1</s>SELECT 2",
        "",
        "SELECT 1",
    ),
    (
        "multi-line string literal with a semicolon",
        "SELECT 'line one;\nline two' AS note FROM courses;\nExtra words",
        "",
        "SELECT 'line one;\nline two' AS note FROM courses",
    ),
    ("no sql at all", "I am sorry, I cannot answer that question.", "", ""),
    ("empty output", "", "", ""),
    (
        "unparseable junk after SELECT: kept as written for the database to reject",
        "SELECT SELECT FROM FROM ((\n\nmore junk",
        "",
        "SELECT SELECT FROM FROM ((\n\nmore junk",
    ),
    (
        "markdown bold prose then fence with a comment line (the comment is not the query)",
        f"**Query:**\n{FENCE}sql\n-- customers per city\nSELECT city, COUNT(*) FROM customers GROUP BY city;\n{FENCE}",
        "",
        "SELECT city, COUNT(*) FROM customers GROUP BY city",
    ),
]


# Each class of failure the extractor once had, with the rule that now decides it
# (eval/extract.py's docstring). (name, raw output, prefill, expected SQL, complete)
RULES = [
    # 1. Truncation is never repaired: the query comes back as written, and incomplete.
    (
        "cut after AND in a fence",
        f"{FENCE}sql\nSELECT u.id\nFROM users u\nWHERE u.signup_date >= '2024-01-01' AND",
        "",
        "SELECT u.id\nFROM users u\nWHERE u.signup_date >= '2024-01-01' AND",
        False,
    ),
    (
        "cut inside ORDER BY ... DESC",
        " region, SUM(amount) AS revenue\nFROM sales\nGROUP BY region\nORDER BY revenue DE",
        f"{FENCE}sql\nSELECT",
        "SELECT region, SUM(amount) AS revenue\nFROM sales\nGROUP BY region\nORDER BY revenue DE",
        False,
    ),
    (
        "cut inside a string literal",
        " title FROM products WHERE title ILIKE '%organic",
        f"{FENCE}sql\nSELECT",
        "SELECT title FROM products WHERE title ILIKE '%organic",
        False,
    ),
    (
        "cut at HAVING",
        " city, COUNT(*)\nFROM customers\nGROUP BY city\nHAVING",
        f"{FENCE}sql\nSELECT",
        "SELECT city, COUNT(*)\nFROM customers\nGROUP BY city\nHAVING",
        False,
    ),
    (
        "cut inside a subquery: the outer query, never the inner one",
        " name FROM customers\nWHERE id IN (\n  SELECT customer_id FROM orders",
        f"{FENCE}sql\nSELECT",
        "SELECT name FROM customers\nWHERE id IN (\n  SELECT customer_id FROM orders",
        False,
    ),
    (
        "cut inside a subquery on one line",
        "The query is: select a from t where x in (select b from u",
        "",
        "select a from t where x in (select b from u",
        False,
    ),
    # 5. The block that holds a query, never DDL echoed from the prompt.
    (
        "schema echoed in a sql fence first",
        f"{FENCE}sql\nCREATE TABLE orders (\n  id integer,\n  placed_at timestamp WITH TIME ZONE,\n"
        f"  note text -- what customers select most\n);\n{FENCE}\n\n{FENCE}sql\nSELECT COUNT(*) FROM orders;\n{FENCE}",
        "",
        "SELECT COUNT(*) FROM orders",
        True,
    ),
    (
        "fence closes only at a line start: ``` in a literal is text",
        f"{FENCE}sql\nSELECT id FROM notes WHERE body LIKE '%{FENCE}%'\n{FENCE}",
        "",
        f"SELECT id FROM notes WHERE body LIKE '%{FENCE}%'",
        True,
    ),
    # 1. Prefills the bundled and users' templates end with.
    (
        "prefill ```sql and a continuation that starts SELECT",
        f"SELECT name FROM customers\n{FENCE}",
        f"{FENCE}sql\n",
        "SELECT name FROM customers",
        True,
    ),
    (
        "prefill ```sql without its newline",
        f"\nSELECT name FROM customers\n{FENCE}",
        f"{FENCE}sql",
        "SELECT name FROM customers",
        True,
    ),
    (
        "prefill [SQL], the closing tag is not the answer",
        "SELECT name FROM customers[/SQL]",
        "[SQL]",
        "SELECT name FROM customers",
        True,
    ),
    (
        "prefill ```sql SELECT, restarted with SELECT",
        f"SELECT name FROM customers\n{FENCE}",
        f"{FENCE}sql\nSELECT",
        "SELECT name FROM customers",
        True,
    ),
    (
        "chat model answering afresh: **Answer**",
        f"**Answer**\n{FENCE}sql\nSELECT name FROM customers;\n{FENCE}",
        f"{FENCE}sql\nSELECT",
        "SELECT name FROM customers",
        True,
    ),
    (
        "chat model answering afresh: Sure",
        "Sure\n\nSELECT name FROM customers",
        f"{FENCE}sql\nSELECT",
        "SELECT name FROM customers",
        False,
    ),
    (
        "chat model answering afresh: Here is the query",
        "Here is the query\nSELECT name FROM customers;",
        "SELECT",
        "SELECT name FROM customers",
        True,
    ),
    (
        "chat model answering afresh: Certainly",
        f"Certainly! Here is the query\n{FENCE}sql\nSELECT 1\n{FENCE}",
        f"{FENCE}sql\nSELECT",
        "SELECT 1",
        True,
    ),
    # 6. Explicit corrections: the corrected query.
    (
        "corrected in a second fence",
        f"{FENCE}sql\nSELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id\n{FENCE}\n"
        f"That is wrong. Corrected:\n{FENCE}sql\nSELECT c.name FROM customers c LEFT JOIN orders o ON o.customer_id = c.id\n{FENCE}",
        "",
        "SELECT c.name FROM customers c LEFT JOIN orders o ON o.customer_id = c.id",
        True,
    ),
    (
        "corrected without fences",
        "SELECT a FROM t JOIN u ON u.id = t.id;\nWait, it should be a LEFT JOIN:\nSELECT a FROM t LEFT JOIN u ON u.id = t.id;",
        "",
        "SELECT a FROM t LEFT JOIN u ON u.id = t.id",
        True,
    ),
    (
        "an alternative does not replace the answer",
        f"{FENCE}sql\nSELECT a FROM t\n{FENCE}\nAlternatively, with a subquery:\n{FENCE}sql\nSELECT a FROM (SELECT a FROM t) s\n{FENCE}",
        "",
        "SELECT a FROM t",
        True,
    ),
    # 4, 5, 7. JSON, inline code, Markdown escapes.
    (
        "inline code",
        "You can use `SELECT COUNT(*) FROM orders` to count them.",
        "",
        "SELECT COUNT(*) FROM orders",
        True,
    ),
    (
        "JSON answer with escapes",
        '{"sql": "SELECT name\\nFROM customers WHERE city = \\"x\\""}',
        "",
        'SELECT name\nFROM customers WHERE city = "x"',
        True,
    ),
    (
        "JSON answer in a json fence",
        f'{FENCE}json\n{{"query": "SELECT 1 AS one"}}\n{FENCE}',
        "",
        "SELECT 1 AS one",
        True,
    ),
    (
        "Markdown escapes outside code",
        "SELECT order\\_date, \\* FROM orders",
        "",
        "SELECT order_date, * FROM orders",
        False,
    ),
    (
        "backslashes in a fence are kept",
        f"{FENCE}sql\nSELECT id FROM t WHERE code LIKE 'a\\_b';\n{FENCE}",
        "",
        "SELECT id FROM t WHERE code LIKE 'a\\_b'",
        True,
    ),
    # Refusals and questions back: no SQL.
    (
        "refusal that says select",
        "I'm sorry, but I cannot select data about refunds: the schema has no such table.",
        "",
        "",
        False,
    ),
    (
        "question back",
        "Could you clarify which year you mean? Select a year and I will write the query.",
        f"{FENCE}sql\nSELECT",
        "",
        False,
    ),
    (
        "a sentence that starts with Select",
        f"Select the customers who signed up in 2024.\n{FENCE}sql\nSELECT * FROM customers\n{FENCE}",
        "",
        "SELECT * FROM customers",
        True,
    ),
    # 3. Reasoning.
    (
        "think prefill never closed: a draft is no answer",
        "The user wants a count. Draft: SELECT COUNT(*) FROM orders",
        "<think>\n",
        "",
        False,
    ),
    (
        "think prefill closed",
        f"Draft SELECT x\n</think>\n{FENCE}sql\nSELECT COUNT(*) FROM orders\n{FENCE}",
        "<think>\n",
        "SELECT COUNT(*) FROM orders",
        True,
    ),
    # 8. Where a query ends.
    ("prose line ends the query", "SELECT a\nFROM t\nThe query returns a.", "", "SELECT a\nFROM t", True),
    (
        "a column named like prose is SQL",
        " id,\n  result\nFROM t;",
        "SELECT",
        "SELECT id,\n  result\nFROM t",
        True,
    ),
    ("WITH inside a type name is no query", "CREATE TABLE t (at timestamp WITH TIME ZONE);", "", "", False),
    # 8. Prose that ends a query: openers made of SQL words, labels, numbered notes.
    (
        "To get ... ends the query",
        "SELECT a FROM t\nTo get the answer we filter by b.",
        "",
        "SELECT a FROM t",
        True,
    ),
    ("In this query ... ends it", "SELECT a FROM t\nIn this query, we pick a.", "", "SELECT a FROM t", True),
    (
        "In order to ... ends it",
        "SELECT a FROM t\nIn order to count, group by a.",
        "",
        "SELECT a FROM t",
        True,
    ),
    ("Output: label ends it", "SELECT a FROM t\nOutput:\n| a |\n| 1 |", "", "SELECT a FROM t", True),
    ("Result: label ends it", "SELECT a FROM t\nResult:", "", "SELECT a FROM t", True),
    (
        "Expected output: label ends it",
        "SELECT a FROM t\nExpected output: one row",
        "",
        "SELECT a FROM t",
        True,
    ),
    ("This returns ... ends it", "SELECT a FROM t\nThis returns a.", "", "SELECT a FROM t", True),
    ("Here, we ... ends it", "SELECT a FROM t\nHere, we select a.", "", "SELECT a FROM t", True),
    ("The above ... ends it", "SELECT a FROM t\nThe above query selects a.", "", "SELECT a FROM t", True),
    ("numbered explanation ends it", "SELECT a FROM t\n1. We join t.", "", "SELECT a FROM t", True),
    (
        "To get ... after a prefilled continuation",
        " a FROM t\nTo get the answer we filter by b.",
        f"{FENCE}sql\nSELECT",
        "SELECT a FROM t",
        True,
    ),
    (
        "prose after ; on the same line",
        "SELECT a FROM t; This gives the answer.",
        "",
        "SELECT a FROM t",
        True,
    ),
    (
        "prose with apostrophes after ;",
        "SELECT a FROM t WHERE b = 'x'; It doesn't count nulls.",
        "",
        "SELECT a FROM t WHERE b = 'x'",
        True,
    ),
    ("a cast's :: is no label", " a\n::text AS s FROM t", "SELECT", "SELECT a\n::text AS s FROM t", False),
    # 8. Bullets that start with an SQL word explain the query; SQL lines stay in it.
    (
        "bullets starting with SQL words",
        "SELECT name\nFROM t\nWHERE x = 1\n- SELECT picks the name\n- FROM names the table\n- WHERE filters rows",
        "",
        "SELECT name\nFROM t\nWHERE x = 1",
        True,
    ),
    ("star bullet FROM ...", "SELECT name FROM t\n* FROM joins the tables", "", "SELECT name FROM t", True),
    (
        "numbered bullets starting with SQL words",
        "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id\n1. JOIN links orders\n2. SELECT keeps the name",
        "",
        "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id",
        True,
    ),
    (
        "a line '- INTERVAL ...' continues the query",
        "SELECT now()\n- INTERVAL '1 day' AS yesterday\nThis returns yesterday.",
        "",
        "SELECT now()\n- INTERVAL '1 day' AS yesterday",
        True,
    ),
    ("a line '* FROM t' continues SELECT", "SELECT\n* FROM orders", "", "SELECT\n* FROM orders", False),
    # 6. Corrections: phrases that take a query back, and judgments that do not.
    ("Scratch that", "SELECT a FROM t;\nScratch that:\nSELECT b FROM t;", "", "SELECT b FROM t", True),
    (
        "Final query: after a draft",
        f"{FENCE}sql\nSELECT a FROM t\n{FENCE}\nFinal query:\n{FENCE}sql\nSELECT b FROM t\n{FENCE}",
        "",
        "SELECT b FROM t",
        True,
    ),
    ("Final answer:", "SELECT a FROM t;\n\nFinal answer: SELECT b FROM t;", "", "SELECT b FROM t", True),
    (
        "Improved version:",
        "SELECT a FROM t;\nImproved version:\nSELECT a FROM t ORDER BY a;",
        "",
        "SELECT a FROM t ORDER BY a",
        True,
    ),
    (
        "Here is the fixed query",
        "SELECT a FROM t WHERE d = 1;\nHere is the fixed query:\nSELECT a FROM t WHERE day = 1;",
        "",
        "SELECT a FROM t WHERE day = 1",
        True,
    ),
    (
        "On second thought (an opener of SQL words)",
        "SELECT a FROM t JOIN u ON u.id = t.id\nOn second thought, use a LEFT JOIN:\nSELECT a FROM t LEFT JOIN u ON u.id = t.id",
        "",
        "SELECT a FROM t LEFT JOIN u ON u.id = t.id",
        False,
    ),
    (
        "Revised query:",
        "SELECT a FROM t;\nRevised query: SELECT a, b FROM t;",
        "",
        "SELECT a, b FROM t",
        True,
    ),
    (
        "'the correct approach' then an alternative keeps the first",
        "SELECT a FROM t;\nThis is the correct approach.\nAlternatively:\nSELECT a FROM u;",
        "",
        "SELECT a FROM t",
        True,
    ),
    (
        "'should be spelled as in the schema' is no correction",
        f"{FENCE}sql\nSELECT full_name FROM students\n{FENCE}\nThe name should be spelled as in the schema.\n"
        f"{FENCE}sql\nSELECT 1\n{FENCE}",
        "",
        "SELECT full_name FROM students",
        True,
    ),
    (
        "'I corrected the column names above' then another way",
        "SELECT name FROM customers;\nI corrected the column names above to match the schema.\n\nAnother way:\n"
        "SELECT c.name FROM customers c;",
        "",
        "SELECT name FROM customers",
        True,
    ),
    (
        "a correction then an alternative: the corrected one",
        "SELECT a FROM t;\nThat is wrong. Corrected:\nSELECT b FROM t;\nAlternatively:\nSELECT b FROM t2;",
        "",
        "SELECT b FROM t",
        True,
    ),
    # 5. <answer>, <query>, uppercase tags; four-backtick fences.
    ("<answer> tags", "<answer>SELECT a FROM t</answer>", "", "SELECT a FROM t", True),
    ("<SQL> uppercase tags", "<SQL>SELECT a FROM t</SQL>", "", "SELECT a FROM t", True),
    (
        "<query> tags after reasoning",
        "Reasoning first.\n<query>\nSELECT a FROM t\n</query>",
        "",
        "SELECT a FROM t",
        True,
    ),
    (
        "<answer> around prose and a fence",
        f"<answer>\nHere is the query:\n{FENCE}sql\nSELECT a FROM t;\n{FENCE}\n</answer>",
        "",
        "SELECT a FROM t",
        True,
    ),
    ("<answer> with a refusal", "<answer>I cannot answer this with the schema.</answer>", "", "", False),
    ("<answer> prefill", "SELECT a FROM t</answer>", "<answer>", "SELECT a FROM t", True),
    ("four-backtick fence", "````sql\nSELECT a FROM t\n````", "", "SELECT a FROM t", True),
    (
        "four-backtick fence around a fence",
        f"````markdown\n{FENCE}sql\nSELECT a FROM t\n{FENCE}\n````",
        "",
        "SELECT a FROM t",
        True,
    ),
    ("four-backtick fence unclosed", "````sql\nSELECT a FROM t WHERE", "", "SELECT a FROM t WHERE", False),
    # 8. A closing tag or fence whose opener the reading left out ends the query.
    (
        "stray [/SQL] on its own line",
        "Here it is:\nSELECT a FROM t\n[/SQL]\nmore text",
        "[SQL]",
        "SELECT a FROM t",
        True,
    ),
    (
        "stray [/SQL] on the query's line",
        "Sure, here is the query: SELECT a FROM t[/SQL]",
        "[SQL]",
        "SELECT a FROM t",
        True,
    ),
    (
        "stray closing fence",
        f"Here is the query:\nSELECT a FROM t\n{FENCE}",
        f"{FENCE}sql\n",
        "SELECT a FROM t",
        True,
    ),
    (
        "[/SQL] in a literal is text",
        "SELECT a FROM t WHERE b = '[/SQL]'",
        "",
        "SELECT a FROM t WHERE b = '[/SQL]'",
        False,
    ),
    # 8. Comments only after a prefill: a refusal, no SQL.
    (
        "refusal in comments, prefill ```sql",
        f"-- I cannot answer this question with the given schema\n{FENCE}",
        f"{FENCE}sql\n",
        "",
        False,
    ),
    (
        "refusal in comments, prefill [SQL]",
        " -- I cannot answer this question with the given schema\n[/SQL]",
        "[SQL]",
        "",
        False,
    ),
    (
        "refusal with apostrophes and SELECT in comments",
        "-- I'm sorry, I can't answer; there's no refunds table to SELECT from\n[/SQL]",
        "[SQL]",
        "",
        False,
    ),
    (
        "refusal after a prefilled SELECT",
        "-- I cannot answer this question\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "",
        False,
    ),
    (
        "refusal in a block comment",
        f"/* I cannot answer this: select what? */\n{FENCE}",
        f"{FENCE}sql\n",
        "",
        False,
    ),
]


@pytest.mark.parametrize(("name", "raw", "prefill", "expected", "complete"), RULES, ids=[c[0] for c in RULES])
def test_extraction_rules(name, raw, prefill, expected, complete):
    assert extract(raw, prefill) == Extraction(expected, complete)


@pytest.mark.parametrize(("name", "raw", "prefill", "expected"), CASES, ids=[c[0] for c in CASES])
def test_extract(name, raw, prefill, expected):
    assert extract_sql(raw, prefill) == expected


# Raw outputs written the way the models people evaluate answer (sqlcoder continuations,
# chat APIs, Qwen / Llama-3 / Mistral / Phi-3, reasoning models, JSON modes, refusals,
# answers cut by the token limit), each with the SQL a careful reader takes as the answer.
# Written by hand, independently of the extractor's code.
NO_SQL = ""
REALISTIC = [
    # ------------------------------------------------------------------
    # sqlcoder-style continuations of a prompt ending in "```sql\nSELECT"
    # ------------------------------------------------------------------
    (
        "sqlcoder continuation",
        " name FROM customers WHERE city = 'Lisbon';\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT name FROM customers WHERE city = 'Lisbon'",
        True,
    ),
    (
        "sqlcoder multiline select list",
        "\n  c.name,\n  COUNT(o.id) AS order_count\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\n"
        "GROUP BY c.name\nORDER BY order_count DESC;\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT\n  c.name,\n  COUNT(o.id) AS order_count\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\n"
        "GROUP BY c.name\nORDER BY order_count DESC",
        True,
    ),
    (
        "sqlcoder no semicolon closed by fence",
        " p.title, SUM(oi.quantity) AS units FROM products p JOIN order_items oi ON oi.product_id = p.id "
        "GROUP BY p.title ORDER BY units DESC NULLS LAST LIMIT 5\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT p.title, SUM(oi.quantity) AS units FROM products p JOIN order_items oi ON oi.product_id = p.id "
        "GROUP BY p.title ORDER BY units DESC NULLS LAST LIMIT 5",
        True,
    ),
    (
        "sqlcoder repeats SELECT keyword",
        " SELECT COUNT(*) FROM users WHERE country = 'PT';\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT COUNT(*) FROM users WHERE country = 'PT'",
        True,
    ),
    (
        "sqlcoder repeats SELECT on a new line",
        "\nSELECT\n  u.country,\n  COUNT(*) AS n\nFROM users u\nGROUP BY u.country;\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT\n  u.country,\n  COUNT(*) AS n\nFROM users u\nGROUP BY u.country",
        True,
    ),
    (
        "sqlcoder eos token after fence",
        " id, title FROM products WHERE price > 100 ORDER BY price;\n" + FENCE + "</s>",
        f"{FENCE}sql\nSELECT",
        "SELECT id, title FROM products WHERE price > 100 ORDER BY price",
        True,
    ),
    (
        "sqlcoder lowercase continuation",
        " date_trunc('month', o.order_date) as month, sum(o.total) as revenue from orders o "
        "where o.status = 'completed' group by 1 order by 1;\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT date_trunc('month', o.order_date) as month, sum(o.total) as revenue from orders o "
        "where o.status = 'completed' group by 1 order by 1",
        True,
    ),
    (
        "sqlcoder CASE with THEN/ELSE lines",
        "\n  c.id,\n  CASE\n    WHEN SUM(o.total) >= 1000 THEN 'gold'\n    WHEN SUM(o.total) >= 250 THEN 'silver'\n"
        "    ELSE 'bronze'\n  END AS tier\nFROM customers c\nLEFT JOIN orders o ON o.customer_id = c.id\nGROUP BY c.id;\n"
        + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT\n  c.id,\n  CASE\n    WHEN SUM(o.total) >= 1000 THEN 'gold'\n    WHEN SUM(o.total) >= 250 THEN 'silver'\n"
        "    ELSE 'bronze'\n  END AS tier\nFROM customers c\nLEFT JOIN orders o ON o.customer_id = c.id\nGROUP BY c.id",
        True,
    ),
    (
        "sqlcoder window running total",
        " customer_id, order_date, total, SUM(total) OVER (PARTITION BY customer_id ORDER BY order_date) AS running_total "
        "FROM orders ORDER BY customer_id, order_date;\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT customer_id, order_date, total, SUM(total) OVER (PARTITION BY customer_id ORDER BY order_date) AS running_total "
        "FROM orders ORDER BY customer_id, order_date",
        True,
    ),
    (
        "sqlcoder casts and interval",
        " u.country, COUNT(DISTINCT s.user_id)::float / NULLIF(COUNT(DISTINCT u.id), 0) AS active_ratio FROM users u "
        "LEFT JOIN sessions s ON s.user_id = u.id AND s.started_at >= CURRENT_DATE - INTERVAL '30 days' GROUP BY u.country;\n"
        + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT u.country, COUNT(DISTINCT s.user_id)::float / NULLIF(COUNT(DISTINCT u.id), 0) AS active_ratio FROM users u "
        "LEFT JOIN sessions s ON s.user_id = u.id AND s.started_at >= CURRENT_DATE - INTERVAL '30 days' GROUP BY u.country",
        True,
    ),
    (
        "sqlcoder doubled apostrophe literal",
        " id, name FROM customers WHERE city = 'Val d''Or';\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT id, name FROM customers WHERE city = 'Val d''Or'",
        True,
    ),
    (
        "sqlcoder star",
        " * FROM products WHERE category = 'books' AND price < 20;\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT * FROM products WHERE category = 'books' AND price < 20",
        True,
    ),
    (
        "sqlcoder aliases without AS",
        " c.name customer_name, o.total amount, o.order_date FROM customers c JOIN orders o ON o.customer_id = c.id "
        "WHERE o.total > 250;\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT c.name customer_name, o.total amount, o.order_date FROM customers c JOIN orders o ON o.customer_id = c.id "
        "WHERE o.total > 250",
        True,
    ),
    # The model keeps generating a second block with no correction wording: first block wins (rule 3).
    (
        "sqlcoder rambles a second block",
        " name FROM customers ORDER BY signup_date DESC LIMIT 10;\n"
        + FENCE
        + "\n\n"
        + FENCE
        + "sql\nSELECT name, signup_date FROM customers ORDER BY signup_date DESC LIMIT 10;\n"
        + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT name FROM customers ORDER BY signup_date DESC LIMIT 10",
        True,
    ),
    (
        "sqlcoder semicolon then prose",
        " title, price FROM products WHERE category = 'garden' ORDER BY price DESC;\n\n"
        "The query above lists garden products from most to least expensive.",
        f"{FENCE}sql\nSELECT",
        "SELECT title, price FROM products WHERE category = 'garden' ORDER BY price DESC",
        True,
    ),
    (
        "sqlcoder FILTER clause",
        "\n  COUNT(*) FILTER (WHERE status = 'cancelled') AS cancelled,\n  COUNT(*) AS total_orders\nFROM orders\n"
        "WHERE order_date >= DATE '2024-01-01';\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT\n  COUNT(*) FILTER (WHERE status = 'cancelled') AS cancelled,\n  COUNT(*) AS total_orders\nFROM orders\n"
        "WHERE order_date >= DATE '2024-01-01'",
        True,
    ),
    (
        "sqlcoder identifier lines and EXTRACT",
        "\n  EXTRACT(YEAR FROM signup_date) AS yr,\n  country,\n  COUNT(*) AS signups\nFROM users\n"
        "GROUP BY EXTRACT(YEAR FROM signup_date), country\nORDER BY yr, signups DESC\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT\n  EXTRACT(YEAR FROM signup_date) AS yr,\n  country,\n  COUNT(*) AS signups\nFROM users\n"
        "GROUP BY EXTRACT(YEAR FROM signup_date), country\nORDER BY yr, signups DESC",
        True,
    ),
    # ------------------------------------------------------------------
    # Truncated by the token limit (rule 1: returned exactly as written)
    # ------------------------------------------------------------------
    (
        "truncated continuation after AND",
        " u.id, u.country FROM users u WHERE u.signup_date >= '2024-01-01' AND",
        f"{FENCE}sql\nSELECT",
        "SELECT u.id, u.country FROM users u WHERE u.signup_date >= '2024-01-01' AND",
        False,
    ),
    (
        "truncated continuation in ORDER BY keyword",
        "\n  p.category,\n  SUM(oi.quantity * p.price) AS revenue\nFROM order_items oi\nJOIN products p ON p.id = oi.product_id\n"
        "GROUP BY p.category\nORDER BY revenue DE",
        f"{FENCE}sql\nSELECT",
        "SELECT\n  p.category,\n  SUM(oi.quantity * p.price) AS revenue\nFROM order_items oi\nJOIN products p ON p.id = oi.product_id\n"
        "GROUP BY p.category\nORDER BY revenue DE",
        False,
    ),
    # Cut inside the IN (...) subquery: the whole outer text, never the inner SELECT on its own.
    (
        "truncated inside subquery",
        " c.name, c.city FROM customers c WHERE c.id IN (\n  SELECT o.customer_id\n  FROM orders o\n"
        "  WHERE o.status = 'shipped'\n    AND o.order_date >= DATE '2024-01-01'\n  GROUP BY o.customer_id\n  HAVING",
        f"{FENCE}sql\nSELECT",
        "SELECT c.name, c.city FROM customers c WHERE c.id IN (\n  SELECT o.customer_id\n  FROM orders o\n"
        "  WHERE o.status = 'shipped'\n    AND o.order_date >= DATE '2024-01-01'\n  GROUP BY o.customer_id\n  HAVING",
        False,
    ),
    (
        "truncated inside CASE",
        "\n  o.id,\n  CASE\n    WHEN o.total > 500 THEN 'large'\n    WHEN o.total > 100 THEN",
        f"{FENCE}sql\nSELECT",
        "SELECT\n  o.id,\n  CASE\n    WHEN o.total > 500 THEN 'large'\n    WHEN o.total > 100 THEN",
        False,
    ),
    (
        "truncated continuation mid string literal",
        " name FROM customers WHERE city = 'San Fr",
        f"{FENCE}sql\nSELECT",
        "SELECT name FROM customers WHERE city = 'San Fr",
        False,
    ),
    (
        "truncated plain SELECT prefill at HAVING",
        " customer_id, COUNT(*) FROM orders GROUP BY customer_id HAVING",
        "SELECT",
        "SELECT customer_id, COUNT(*) FROM orders GROUP BY customer_id HAVING",
        False,
    ),
    (
        "truncated fence mid ILIKE literal",
        "Here's a query that finds the organic products:\n\n"
        + FENCE
        + "sql\nSELECT id, title\nFROM products\nWHERE title ILIKE '%organic",
        "",
        "SELECT id, title\nFROM products\nWHERE title ILIKE '%organic",
        False,
    ),
    (
        "truncated fence CTE at ORDER BY",
        "Here's the query:\n\n"
        + FENCE
        + "sql\nWITH monthly AS (\n  SELECT date_trunc('month', order_date) AS m, SUM(total) AS revenue\n"
        "  FROM orders\n  GROUP BY 1\n)\nSELECT m, revenue, revenue - LAG(revenue) OVER (ORDER BY m) AS delta\nFROM monthly\nORDER BY",
        "",
        "WITH monthly AS (\n  SELECT date_trunc('month', order_date) AS m, SUM(total) AS revenue\n"
        "  FROM orders\n  GROUP BY 1\n)\nSELECT m, revenue, revenue - LAG(revenue) OVER (ORDER BY m) AS delta\nFROM monthly\nORDER BY",
        False,
    ),
    (
        "truncated sql-fence prefill at join condition",
        "SELECT c.name, SUM(o.total)\nFROM customers c\nJOIN orders o ON o.customer_id =",
        f"{FENCE}sql\n",
        "SELECT c.name, SUM(o.total)\nFROM customers c\nJOIN orders o ON o.customer_id =",
        False,
    ),
    (
        "truncated [SQL] prefill in IN list",
        "\nSELECT o.id FROM orders o WHERE o.status IN ('pending', 'on_hold'",
        "[SQL]",
        "SELECT o.id FROM orders o WHERE o.status IN ('pending', 'on_hold'",
        False,
    ),
    (
        "truncated unfenced chat answer at BETWEEN",
        "Sure, here's the query:\n\nSELECT p.title, p.price\nFROM products p\nWHERE p.category = 'electronics'\n"
        "  AND p.price BETWEEN 100 AND",
        "",
        "SELECT p.title, p.price\nFROM products p\nWHERE p.category = 'electronics'\n  AND p.price BETWEEN 100 AND",
        False,
    ),
    # JSON string never closed: the decoded text so far, unrepaired (rule 1 + rule 5).
    (
        "truncated JSON string",
        '{"sql": "SELECT name FROM customers WHERE city = \'Porto\' AND signup_date >',
        "",
        "SELECT name FROM customers WHERE city = 'Porto' AND signup_date >",
        False,
    ),
    # ------------------------------------------------------------------
    # Other prefills: plain "SELECT", "```sql\n", "```sql", "[SQL]", tags
    # ------------------------------------------------------------------
    (
        "plain SELECT prefill",
        " AVG(total) FROM orders WHERE status = 'paid';",
        "SELECT",
        "SELECT AVG(total) FROM orders WHERE status = 'paid'",
        True,
    ),
    (
        "plain SELECT prefill prose after",
        " DISTINCT city FROM customers ORDER BY city;\n\nThis returns each city exactly once, sorted alphabetically.",
        "SELECT",
        "SELECT DISTINCT city FROM customers ORDER BY city",
        True,
    ),
    (
        "chat model ignores SELECT prefill",
        "Sure! Here is the query you asked for:\n\nSELECT name FROM customers WHERE signup_date < '2020-01-01';\n\n"
        "It lists every customer who signed up before 2020.",
        "SELECT",
        "SELECT name FROM customers WHERE signup_date < '2020-01-01'",
        True,
    ),
    (
        "sql fence prefill with scalar subquery",
        "SELECT o.id, o.total\nFROM orders o\nWHERE o.total > (SELECT AVG(total) FROM orders);\n"
        + FENCE
        + "\n\nThis compares each order with the average order total.",
        f"{FENCE}sql\n",
        "SELECT o.id, o.total\nFROM orders o\nWHERE o.total > (SELECT AVG(total) FROM orders)",
        True,
    ),
    (
        "sql fence prefill without newline",
        "\nSELECT category, MIN(price) AS cheapest, MAX(price) AS priciest\nFROM products\nGROUP BY category\n"
        + FENCE,
        f"{FENCE}sql",
        "SELECT category, MIN(price) AS cheapest, MAX(price) AS priciest\nFROM products\nGROUP BY category",
        True,
    ),
    (
        "[SQL] prefill closed by [/SQL]",
        " SELECT name FROM customers WHERE city = 'Oslo' [/SQL]",
        "[SQL]",
        "SELECT name FROM customers WHERE city = 'Oslo'",
        True,
    ),
    (
        "[SQL] prefill multiline with eos",
        "\nSELECT p.category, AVG(p.price) AS avg_price\nFROM products p\nGROUP BY p.category\nHAVING AVG(p.price) > 50;\n[/SQL]</s>",
        "[SQL]",
        "SELECT p.category, AVG(p.price) AS avg_price\nFROM products p\nGROUP BY p.category\nHAVING AVG(p.price) > 50",
        True,
    ),
    (
        "sql tags in chat answer",
        "<sql>SELECT COUNT(DISTINCT customer_id) FROM orders WHERE order_date >= '2024-06-01'</sql>",
        "",
        "SELECT COUNT(DISTINCT customer_id) FROM orders WHERE order_date >= '2024-06-01'",
        True,
    ),
    (
        "sql tag prefill",
        "SELECT id FROM users WHERE country = 'FR'</sql>",
        "<sql>",
        "SELECT id FROM users WHERE country = 'FR'",
        True,
    ),
    # ------------------------------------------------------------------
    # Chat answers with fences (GPT-4o, Claude, Qwen, Llama-3, Phi-3, Mixtral)
    # ------------------------------------------------------------------
    (
        "gpt-4o ignores sqlcoder prefill",
        "**Answer**\n"
        + FENCE
        + "sql\nSELECT c.city, COUNT(*) AS customers\nFROM customers c\nGROUP BY c.city\n"
        "ORDER BY customers DESC;\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT c.city, COUNT(*) AS customers\nFROM customers c\nGROUP BY c.city\nORDER BY customers DESC",
        True,
    ),
    (
        "gpt-4o fenced with explanation heading",
        "To find the average order value per customer city, join `orders` to `customers` and group by city:\n\n"
        + FENCE
        + "sql\nSELECT c.city, ROUND(AVG(o.total), 2) AS avg_order_value\nFROM orders o\n"
        "JOIN customers c ON c.id = o.customer_id\nGROUP BY c.city\nORDER BY avg_order_value DESC;\n"
        + FENCE
        + "\n\n### Explanation\n1. **JOIN** links each order to its customer.\n2. **AVG** computes the mean total per city.",
        "",
        "SELECT c.city, ROUND(AVG(o.total), 2) AS avg_order_value\nFROM orders o\n"
        "JOIN customers c ON c.id = o.customer_id\nGROUP BY c.city\nORDER BY avg_order_value DESC",
        True,
    ),
    (
        "claude CTE with ROW_NUMBER",
        "I'll rank each customer's orders by total and keep the largest one.\n\n"
        + FENCE
        + "sql\nWITH ranked AS (\n  SELECT\n    o.customer_id,\n    o.id AS order_id,\n    o.total,\n"
        "    ROW_NUMBER() OVER (PARTITION BY o.customer_id ORDER BY o.total DESC) AS rn\n  FROM orders o\n)\n"
        "SELECT c.name, r.order_id, r.total\nFROM ranked r\nJOIN customers c ON c.id = r.customer_id\nWHERE r.rn = 1;\n"
        + FENCE
        + "\n\nThis query:\n- Uses `ROW_NUMBER()` to rank orders within each customer\n"
        "- Keeps only the top-ranked order per customer",
        "",
        "WITH ranked AS (\n  SELECT\n    o.customer_id,\n    o.id AS order_id,\n    o.total,\n"
        "    ROW_NUMBER() OVER (PARTITION BY o.customer_id ORDER BY o.total DESC) AS rn\n  FROM orders o\n)\n"
        "SELECT c.name, r.order_id, r.total\nFROM ranked r\nJOIN customers c ON c.id = r.customer_id\nWHERE r.rn = 1",
        True,
    ),
    (
        "qwen fenced with im_end",
        FENCE
        + "sql\nSELECT u.country, COUNT(s.id) AS session_count\nFROM users u\nJOIN sessions s ON s.user_id = u.id\n"
        "GROUP BY u.country\nORDER BY session_count DESC;\n" + FENCE + "<|im_end|>",
        "",
        "SELECT u.country, COUNT(s.id) AS session_count\nFROM users u\nJOIN sessions s ON s.user_id = u.id\n"
        "GROUP BY u.country\nORDER BY session_count DESC",
        True,
    ),
    (
        "qwen lowercase fenced",
        FENCE + "sql\nselect u.country, count(*) as signups\nfrom users u\n"
        "where u.signup_date between '2024-01-01' and '2024-03-31'\ngroup by u.country\norder by signups desc;\n"
        + FENCE,
        "",
        "select u.country, count(*) as signups\nfrom users u\n"
        "where u.signup_date between '2024-01-01' and '2024-03-31'\ngroup by u.country\norder by signups desc",
        True,
    ),
    (
        "llama-3 untagged fence with eot",
        "Here is the SQL query:\n\n"
        + FENCE
        + "\nSELECT title, price\nFROM products\nWHERE category = 'kitchen'\n"
        "ORDER BY price ASC;\n"
        + FENCE
        + "\n\nThis query selects the title and price of all kitchen products, "
        "sorted from cheapest to most expensive.<|eot_id|>",
        "",
        "SELECT title, price\nFROM products\nWHERE category = 'kitchen'\nORDER BY price ASC",
        True,
    ),
    (
        "phi-3 fenced with explanation bullets",
        "Sure! Here's a SQL query that finds the top 3 products by units sold:\n\n"
        + FENCE
        + "sql\nSELECT p.title, SUM(oi.quantity) AS units_sold\nFROM products p\nINNER JOIN order_items oi ON p.id = oi.product_id\n"
        "GROUP BY p.title\nORDER BY units_sold DESC\nLIMIT 3;\n"
        + FENCE
        + "\n\nExplanation:\n- We join products with order_items on the product id.\n"
        "- We sum the quantities and select the top 3 with LIMIT.<|end|>",
        "",
        "SELECT p.title, SUM(oi.quantity) AS units_sold\nFROM products p\nINNER JOIN order_items oi ON p.id = oi.product_id\n"
        "GROUP BY p.title\nORDER BY units_sold DESC\nLIMIT 3",
        True,
    ),
    (
        "mixtral uppercase SQL tag with comments in CTE",
        "Here is a cohort query:\n\n"
        + FENCE
        + "SQL\nWITH first_orders AS (\n  -- earliest order per customer\n"
        "  SELECT customer_id, MIN(order_date) AS first_date\n  FROM orders\n  GROUP BY customer_id\n)\n"
        "SELECT date_trunc('month', first_date) AS cohort, COUNT(*) AS new_customers /* cohort size */\n"
        "FROM first_orders\nGROUP BY 1\nORDER BY 1;\n" + FENCE + "</s>",
        "",
        "WITH first_orders AS (\n  -- earliest order per customer\n"
        "  SELECT customer_id, MIN(order_date) AS first_date\n  FROM orders\n  GROUP BY customer_id\n)\n"
        "SELECT date_trunc('month', first_date) AS cohort, COUNT(*) AS new_customers /* cohort size */\n"
        "FROM first_orders\nGROUP BY 1\nORDER BY 1",
        True,
    ),
    # A comment line opening the fence: the fence's query is its whole content, comment included (rule 8/9).
    (
        "fence opening with a comment line",
        FENCE + "sql\n-- Customers with more than 3 orders\nSELECT c.name, COUNT(*) AS n\nFROM customers c\n"
        "JOIN orders o ON o.customer_id = c.id\nGROUP BY c.name\nHAVING COUNT(*) > 3;\n" + FENCE,
        "",
        "SELECT c.name, COUNT(*) AS n\nFROM customers c\n"
        "JOIN orders o ON o.customer_id = c.id\nGROUP BY c.name\nHAVING COUNT(*) > 3",
        True,
    ),
    (
        "query fence then sample output fence",
        FENCE
        + "sql\nSELECT status, ROUND(AVG(total), 2) AS avg_total\nFROM orders\nGROUP BY status;\n"
        + FENCE
        + "\n\nExample output:\n\n"
        + FENCE
        + "\n status    | avg_total\n-----------+----------\n shipped   |     84.10\n"
        " cancelled |     42.75\n" + FENCE,
        "",
        "SELECT status, ROUND(AVG(total), 2) AS avg_total\nFROM orders\nGROUP BY status",
        True,
    ),
    (
        "DISTINCT ON latest order",
        "Use PostgreSQL's `DISTINCT ON` to keep the latest order per customer:\n\n"
        + FENCE
        + "sql\nSELECT DISTINCT ON (customer_id) customer_id, id AS order_id, order_date\nFROM orders\n"
        "ORDER BY customer_id, order_date DESC;\n" + FENCE,
        "",
        "SELECT DISTINCT ON (customer_id) customer_id, id AS order_id, order_date\nFROM orders\n"
        "ORDER BY customer_id, order_date DESC",
        True,
    ),
    (
        "generate_series daily counts",
        FENCE + "sql\nSELECT d::date AS day, COUNT(o.id) AS orders_placed\n"
        "FROM generate_series(DATE '2024-01-01', DATE '2024-01-31', INTERVAL '1 day') AS d\n"
        "LEFT JOIN orders o ON o.order_date = d::date\nGROUP BY d\nORDER BY d;\n"
        + FENCE
        + "\n\nDays without orders show a count of 0 thanks to the LEFT JOIN.",
        "",
        "SELECT d::date AS day, COUNT(o.id) AS orders_placed\n"
        "FROM generate_series(DATE '2024-01-01', DATE '2024-01-31', INTERVAL '1 day') AS d\n"
        "LEFT JOIN orders o ON o.order_date = d::date\nGROUP BY d\nORDER BY d",
        True,
    ),
    (
        "fenced apostrophes escaped",
        "Here you go:\n\n" + FENCE + "sql\nSELECT title, price\nFROM products\n"
        "WHERE category = 'Men''s Apparel' OR title = 'Children''s Atlas';\n" + FENCE,
        "",
        "SELECT title, price\nFROM products\nWHERE category = 'Men''s Apparel' OR title = 'Children''s Atlas'",
        True,
    ),
    (
        "fenced semicolon inside literal and comment",
        FENCE
        + "sql\nSELECT id, name\nFROM customers\nWHERE name = 'Smith; Jones' -- names can contain ;\nORDER BY id;\n"
        + FENCE,
        "",
        "SELECT id, name\nFROM customers\nWHERE name = 'Smith; Jones' -- names can contain ;\nORDER BY id",
        True,
    ),
    (
        "gpt-4o prose mentioning select before fence",
        "We need to select customers whose every order was cancelled. A `NOT EXISTS` check does that:\n\n"
        + FENCE
        + "sql\nSELECT c.id, c.name\nFROM customers c\nWHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)\n"
        "  AND NOT EXISTS (\n    SELECT 1 FROM orders o\n    WHERE o.customer_id = c.id AND o.status <> 'cancelled'\n  );\n"
        + FENCE,
        "",
        "SELECT c.id, c.name\nFROM customers c\nWHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)\n"
        "  AND NOT EXISTS (\n    SELECT 1 FROM orders o\n    WHERE o.customer_id = c.id AND o.status <> 'cancelled'\n  )",
        True,
    ),
    # ------------------------------------------------------------------
    # Schema echoed from the prompt (rule 2)
    # ------------------------------------------------------------------
    (
        "schema echo with select in column comment",
        "Given the schema:\n\n" + FENCE + "sql\nCREATE TABLE orders (\n  id SERIAL PRIMARY KEY,\n"
        "  customer_id INT REFERENCES customers(id),\n  order_date DATE,\n"
        "  total NUMERIC(10,2), -- select from this for revenue\n  status TEXT\n);\n"
        + FENCE
        + "\n\nThe query is:\n\n"
        + FENCE
        + "sql\nSELECT status, COUNT(*) AS n\nFROM orders\nGROUP BY status;\n"
        + FENCE,
        "",
        "SELECT status, COUNT(*) AS n\nFROM orders\nGROUP BY status",
        True,
    ),
    (
        "schema echo with timestamp with time zone",
        FENCE
        + "sql\nCREATE TABLE sessions (\n  id BIGINT,\n  user_id INT,\n  started_at TIMESTAMP WITH TIME ZONE,\n"
        "  ended_at TIMESTAMP WITH TIME ZONE\n);\n"
        + FENCE
        + "\n\n"
        + FENCE
        + "sql\nSELECT user_id, AVG(ended_at - started_at) AS avg_length\nFROM sessions\nGROUP BY user_id;\n"
        + FENCE,
        "",
        "SELECT user_id, AVG(ended_at - started_at) AS avg_length\nFROM sessions\nGROUP BY user_id",
        True,
    ),
    (
        "schema echo with select literal in comment",
        "Based on this table:\n\n"
        + FENCE
        + "sql\nCREATE TABLE products (\n  id INT PRIMARY KEY,\n  title TEXT,\n"
        "  price NUMERIC,\n  category TEXT -- e.g. 'select', 'premium', 'basic'\n);\n"
        + FENCE
        + "\n\nthe cheapest product in each category is:\n\n"
        + FENCE
        + "sql\nSELECT category, MIN(price) AS min_price\nFROM products\nGROUP BY category;\n"
        + FENCE,
        "",
        "SELECT category, MIN(price) AS min_price\nFROM products\nGROUP BY category",
        True,
    ),
    (
        "schema echo of two tables then query",
        "Using the tables:\n\n"
        + FENCE
        + "sql\nCREATE TABLE users (id INT, signup_date DATE, country CHAR(2));\n"
        "CREATE TABLE sessions (id INT, user_id INT, started_at TIMESTAMP);\n"
        + FENCE
        + "\n\n"
        + FENCE
        + "sql\nSELECT u.id\nFROM users u\nLEFT JOIN sessions s ON s.user_id = u.id\nWHERE s.id IS NULL;\n"
        + FENCE
        + "\n\nThese are users who never started a session.",
        "",
        "SELECT u.id\nFROM users u\nLEFT JOIN sessions s ON s.user_id = u.id\nWHERE s.id IS NULL",
        True,
    ),
    (
        "schema echo then clarifying question",
        "The relevant table is:\n\n" + FENCE + "sql\nCREATE TABLE orders (\n  id INT,\n  customer_id INT,\n"
        "  order_date DATE,\n  total NUMERIC,\n  status TEXT -- select one of: pending, shipped, cancelled\n);\n"
        + FENCE
        + "\n\nThere is no column for the sales channel. Do you want me to treat every order as an online order?",
        "",
        NO_SQL,
        False,
    ),
    # ------------------------------------------------------------------
    # Several blocks: corrections (final one wins) and alternatives (first wins)
    # ------------------------------------------------------------------
    (
        "correction wait left join fenced",
        FENCE
        + "sql\nSELECT c.name, COUNT(o.id) AS orders\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\n"
        "GROUP BY c.name;\n"
        + FENCE
        + "\n\nWait, it should be a LEFT JOIN so customers with no orders are counted too:\n\n"
        + FENCE
        + "sql\nSELECT c.name, COUNT(o.id) AS orders\nFROM customers c\nLEFT JOIN orders o ON o.customer_id = c.id\n"
        "GROUP BY c.name;\n" + FENCE,
        "",
        "SELECT c.name, COUNT(o.id) AS orders\nFROM customers c\nLEFT JOIN orders o ON o.customer_id = c.id\nGROUP BY c.name",
        True,
    ),
    (
        "correction oops forgot filter fenced",
        FENCE
        + "sql\nSELECT p.category, SUM(oi.quantity) AS units\nFROM order_items oi\nJOIN products p ON p.id = oi.product_id\n"
        "GROUP BY p.category;\n"
        + FENCE
        + "\n\nOops, I forgot the filter on delivered orders:\n\n"
        + FENCE
        + "sql\nSELECT p.category, SUM(oi.quantity) AS units\nFROM order_items oi\nJOIN products p ON p.id = oi.product_id\n"
        "JOIN orders o ON o.id = oi.order_id\nWHERE o.status = 'delivered'\nGROUP BY p.category;\n" + FENCE,
        "",
        "SELECT p.category, SUM(oi.quantity) AS units\nFROM order_items oi\nJOIN products p ON p.id = oi.product_id\n"
        "JOIN orders o ON o.id = oi.order_id\nWHERE o.status = 'delivered'\nGROUP BY p.category",
        True,
    ),
    (
        "correction that is wrong unfenced",
        "SELECT name FROM customers WHERE signup_date > '2023-12-31';\n\nThat is wrong. Corrected:\n"
        "SELECT name FROM customers WHERE signup_date >= '2023-01-01' AND signup_date < '2024-01-01';",
        "",
        "SELECT name FROM customers WHERE signup_date >= '2023-01-01' AND signup_date < '2024-01-01'",
        True,
    ),
    (
        "correction actually unfenced",
        "You can use:\n\nSELECT title FROM products WHERE price = MAX(price);\n\nActually, the correct query is:\n\n"
        "SELECT title FROM products WHERE price = (SELECT MAX(price) FROM products);\n\n"
        "Aggregates are not allowed in WHERE, so a subquery is needed.",
        "",
        "SELECT title FROM products WHERE price = (SELECT MAX(price) FROM products)",
        True,
    ),
    (
        "correction let me fix that fenced",
        "Here is the query:\n\n" + FENCE + "sql\nSELECT o.customer_id, COUNT(*)\nFROM orders o\n"
        "WHERE o.date >= '2024-01-01'\nGROUP BY o.customer_id;\n"
        + FENCE
        + "\n\nHmm, the column is `order_date`, not `date`. Let me fix that:\n\n"
        + FENCE
        + "sql\nSELECT o.customer_id, COUNT(*)\nFROM orders o\nWHERE o.order_date >= '2024-01-01'\nGROUP BY o.customer_id;\n"
        + FENCE,
        "",
        "SELECT o.customer_id, COUNT(*)\nFROM orders o\nWHERE o.order_date >= '2024-01-01'\nGROUP BY o.customer_id",
        True,
    ),
    (
        "correction in sqlcoder continuation",
        " name FROM customers WHERE city = 'Lyon';\n"
        + FENCE
        + "\n\nWait, the question asks for the city too:\n\n"
        + FENCE
        + "sql\nSELECT name, city FROM customers WHERE city = 'Lyon';\n"
        + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT name, city FROM customers WHERE city = 'Lyon'",
        True,
    ),
    # "Wait, ..." with no new query after it: nothing replaces the first query.
    (
        "wait remark without a new query",
        FENCE
        + "sql\nSELECT id, total FROM orders WHERE status = 'shipped';\n"
        + FENCE
        + "\n\nWait, if status values are stored in uppercase, compare `LOWER(status)` instead.",
        "",
        "SELECT id, total FROM orders WHERE status = 'shipped'",
        True,
    ),
    (
        "alternative left join does not replace",
        FENCE
        + "sql\nSELECT c.name\nFROM customers c\nWHERE NOT EXISTS (\n  SELECT 1 FROM orders o WHERE o.customer_id = c.id\n);\n"
        + FENCE
        + "\n\nAlternatively, with a LEFT JOIN:\n\n"
        + FENCE
        + "sql\nSELECT c.name\nFROM customers c\nLEFT JOIN orders o ON o.customer_id = c.id\nWHERE o.id IS NULL;\n"
        + FENCE,
        "",
        "SELECT c.name\nFROM customers c\nWHERE NOT EXISTS (\n  SELECT 1 FROM orders o WHERE o.customer_id = c.id\n)",
        True,
    ),
    (
        "alternative inline window does not replace",
        "SELECT customer_id, MAX(total) AS biggest FROM orders GROUP BY customer_id;\n\n"
        "Alternatively, you could use a window function: "
        "`SELECT DISTINCT customer_id, MAX(total) OVER (PARTITION BY customer_id) FROM orders`.",
        "",
        "SELECT customer_id, MAX(total) AS biggest FROM orders GROUP BY customer_id",
        True,
    ),
    # ------------------------------------------------------------------
    # Fences close only at the start of a line (rule 4)
    # ------------------------------------------------------------------
    (
        "backticks inside LIKE literal",
        FENCE + "sql\nSELECT id, note\nFROM orders\nWHERE note LIKE '%```%';\n" + FENCE,
        "",
        "SELECT id, note\nFROM orders\nWHERE note LIKE '%```%'",
        True,
    ),
    (
        "backticks at end of a query line",
        " id FROM orders WHERE note LIKE '```%'\n  OR note LIKE '%```'\n" + FENCE,
        f"{FENCE}sql\nSELECT",
        "SELECT id FROM orders WHERE note LIKE '```%'\n  OR note LIKE '%```'",
        True,
    ),
    # ------------------------------------------------------------------
    # Inline code, JSON, Markdown escapes (rule 5)
    # ------------------------------------------------------------------
    (
        "inline code in a sentence",
        "You can run `SELECT COUNT(*) FROM users WHERE country = 'DE'` to get the number of German users.",
        "",
        "SELECT COUNT(*) FROM users WHERE country = 'DE'",
        True,
    ),
    (
        "inline lowercase code",
        "The answer is `select max(total) from orders`.",
        "",
        "select max(total) from orders",
        True,
    ),
    (
        "inline code with semicolon",
        "Use `SELECT AVG(price) FROM products;` \u2014 it averages over every product.",
        "",
        "SELECT AVG(price) FROM products",
        True,
    ),
    (
        "json sql key",
        '{"sql": "SELECT name FROM customers WHERE city = \'Paris\'"}',
        "",
        "SELECT name FROM customers WHERE city = 'Paris'",
        True,
    ),
    (
        "json fence query key with escapes",
        FENCE
        + 'json\n{\n  "query": "SELECT \\"name\\", city\\nFROM customers\\nWHERE signup_date >= \'2024-01-01\';"\n}\n'
        + FENCE,
        "",
        "SELECT \"name\", city\nFROM customers\nWHERE signup_date >= '2024-01-01'",
        True,
    ),
    (
        "json with reasoning field",
        '{"reasoning": "We select the five customers who spent the most by summing order totals.", '
        '"sql": "SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id '
        'GROUP BY c.name ORDER BY spent DESC LIMIT 5"}',
        "",
        "SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id "
        "GROUP BY c.name ORDER BY spent DESC LIMIT 5",
        True,
    ),
    (
        "json after prose",
        'Here is the JSON you requested:\n{"query": "SELECT id FROM orders WHERE status = \'refunded\'"}',
        "",
        "SELECT id FROM orders WHERE status = 'refunded'",
        True,
    ),
    (
        "json empty sql with explanation",
        '{"sql": "", "explanation": "The schema has no refunds table, so this cannot be answered."}',
        "",
        NO_SQL,
        False,
    ),
    (
        "mistral escaped star and underscore",
        "Here is the query:\n\nSELECT \\* FROM orders WHERE order\\_date >= '2024-01-01';\n\n"
        "This selects all orders placed in 2024 or later.",
        "",
        "SELECT * FROM orders WHERE order_date >= '2024-01-01'",
        True,
    ),
    (
        "mistral escaped identifiers multiline",
        "SELECT customer\\_id, SUM(total) AS total\\_spent\nFROM orders\nGROUP BY customer\\_id\n"
        "ORDER BY total\\_spent DESC\nLIMIT 10;\n\nThis query groups orders by customer and keeps the ten biggest spenders.",
        "",
        "SELECT customer_id, SUM(total) AS total_spent\nFROM orders\nGROUP BY customer_id\nORDER BY total_spent DESC\nLIMIT 10",
        True,
    ),
    (
        "backslash kept inside fence",
        "Underscore is a LIKE wildcard, so escape it:\n\n"
        + FENCE
        + "sql\nSELECT id, title FROM products WHERE title LIKE '%\\_%';\n"
        + FENCE,
        "",
        "SELECT id, title FROM products WHERE title LIKE '%\\_%'",
        True,
    ),
    # ------------------------------------------------------------------
    # Refusals, clarifying questions, prose using "select" (rule 6)
    # ------------------------------------------------------------------
    (
        "refusal no refunds table",
        "I'm sorry, but the schema has no table about refunds, so I can't write a query that answers this question. "
        "If refunds are recorded as orders with status 'refunded', let me know and I can adjust.",
        "",
        NO_SQL,
        False,
    ),
    (
        "clarifying question about year",
        'Could you clarify which year you mean? The question says "last year", but the orders table holds data up to '
        "2024 \u2014 should I use calendar year 2023 or the 12 months before today?",
        "",
        NO_SQL,
        False,
    ),
    (
        "prose using the word select",
        "To answer this, you would select every customer whose first order came after their signup date, but the "
        "schema does not say whether signup_date is the real signup or the import date, so the question cannot be "
        "answered reliably.",
        "",
        NO_SQL,
        False,
    ),
    (
        "llama refusal to drop table",
        "I can't help with that. Dropping the users table would permanently delete data.<|eot_id|>",
        "",
        NO_SQL,
        False,
    ),
    (
        "clarifying question with options",
        "Before I write the query, which metric do you want?\n\n- total revenue per month, or\n"
        "- number of orders per month?\n\nPlease select one and I'll write the SQL.",
        "",
        NO_SQL,
        False,
    ),
    # ------------------------------------------------------------------
    # Reasoning models (rule 7)
    # ------------------------------------------------------------------
    (
        "think then fenced answer",
        "<think>\nThe user wants customers in Berlin. Something like SELECT * FROM customers WHERE city = 'Berlin'. "
        "But they only asked for names, so select name and sort.\n</think>\n\n"
        + FENCE
        + "sql\nSELECT name FROM customers WHERE city = 'Berlin' ORDER BY name;\n"
        + FENCE,
        "",
        "SELECT name FROM customers WHERE city = 'Berlin' ORDER BY name",
        True,
    ),
    (
        "think prefill closed then unfenced answer",
        "Okay, count orders per status. Draft: SELECT status, COUNT(*) FROM orders GROUP BY status. "
        "I should alias the count.\n</think>\n\nSELECT status, COUNT(*) AS cnt FROM orders GROUP BY status;",
        "<think>\n",
        "SELECT status, COUNT(*) AS cnt FROM orders GROUP BY status",
        True,
    ),
    (
        "think prefill with fenced draft then final answer",
        "We need monthly revenue. First attempt:\n\n"
        + FENCE
        + "sql\nSELECT month(order_date), SUM(total) FROM orders;\n"
        + FENCE
        + "\n\nNo, PostgreSQL has no month() and the GROUP BY is missing. Use date_trunc.\n</think>\n\n"
        "**Final Answer**\n\n"
        + FENCE
        + "sql\nSELECT date_trunc('month', order_date) AS month, SUM(total) AS revenue\n"
        "FROM orders\nGROUP BY 1\nORDER BY 1;\n" + FENCE,
        "<think>\n",
        "SELECT date_trunc('month', order_date) AS month, SUM(total) AS revenue\nFROM orders\nGROUP BY 1\nORDER BY 1",
        True,
    ),
    (
        "think then inline answer",
        "<think>\nLatest order date is just MAX over orders.\n</think>\nThe query is: `SELECT MAX(order_date) FROM orders`",
        "",
        "SELECT MAX(order_date) FROM orders",
        True,
    ),
    (
        "think never closes with fenced draft",
        "We need users who signed up in 2023 and had no sessions. Draft:\n\n"
        + FENCE
        + "sql\nSELECT u.id FROM users u LEFT JOIN sessions s ON s.user_id = u.id WHERE s.id IS NULL;\n"
        + FENCE
        + "\n\nBut wait, the signup_date filter is missing. Also is signup_date a DATE or TEXT column? "
        "The schema says DATE, so I can compare with",
        "<think>\n",
        NO_SQL,
        False,
    ),
    (
        "think never closes without prefill",
        "<think>\nHmm, revenue per category. SELECT p.category, SUM(oi.quantity * p.price) FROM order_items oi "
        "JOIN products p ON p.id = oi.product_id GROUP BY p.category; that looks right, but should cancelled orders be "
        'excluded? The question says "sold", so probably yes, which means joining orders and',
        "",
        NO_SQL,
        False,
    ),
    (
        "think then refusal",
        "<think>\nThe question asks for refunds but there is no refunds table. Maybe SELECT ... FROM orders WHERE "
        "status = 'refunded'? There is no such status in the sample values.\n</think>\n\n"
        "I'm sorry, but the schema has no information about refunds, so I can't write this query.",
        "",
        NO_SQL,
        False,
    ),
    # ------------------------------------------------------------------
    # Unfenced answers ended by prose; one-line "The query is:" answers (rule 8)
    # ------------------------------------------------------------------
    (
        "one line after the query is with semicolon",
        "The query is: SELECT COUNT(*) FROM orders WHERE status = 'cancelled';",
        "",
        "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'",
        True,
    ),
    # Nothing follows the query, so by the rules it is not visibly finished (complete=False).
    (
        "one line after the query is at end of output",
        "The query is: SELECT title FROM products ORDER BY price DESC LIMIT 3",
        "",
        "SELECT title FROM products ORDER BY price DESC LIMIT 3",
        False,
    ),
    (
        "one line after the query is then prose line",
        "The query is: SELECT DISTINCT category FROM products\nIt lists each category once.",
        "",
        "SELECT DISTINCT category FROM products",
        True,
    ),
    (
        "query is on next line then prose",
        "The query is:\nSELECT u.id FROM users u WHERE u.country = 'BR' AND u.signup_date >= CURRENT_DATE - INTERVAL '7 days';\n\n"
        "This finds Brazilian users who signed up in the last week.",
        "",
        "SELECT u.id FROM users u WHERE u.country = 'BR' AND u.signup_date >= CURRENT_DATE - INTERVAL '7 days'",
        True,
    ),
    (
        "unfenced lines starting with identifiers then explanation",
        "Here is the query:\nSELECT\n  name,\n  city\nFROM customers\nWHERE city IN ('Lisbon', 'Porto')\nORDER BY\n  name\n"
        "Explanation: it keeps customers from the two cities and sorts them by name.",
        "",
        "SELECT\n  name,\n  city\nFROM customers\nWHERE city IN ('Lisbon', 'Porto')\nORDER BY\n  name",
        True,
    ),
    (
        "unfenced prose right after without blank line",
        "SELECT name, city FROM customers WHERE signup_date >= '2024-01-01'\n"
        "This query returns customers who signed up this year.",
        "",
        "SELECT name, city FROM customers WHERE signup_date >= '2024-01-01'",
        True,
    ),
    (
        "unfenced ended by bold note",
        "SELECT o.id, o.total\nFROM orders o\nWHERE o.status = 'pending'\n  AND o.order_date < CURRENT_DATE - 30\n"
        "**Note**: pending orders older than 30 days may need follow-up.",
        "",
        "SELECT o.id, o.total\nFROM orders o\nWHERE o.status = 'pending'\n  AND o.order_date < CURRENT_DATE - 30",
        True,
    ),
    (
        "unfenced ended by bullet list",
        "Certainly! To get each customer's total spend:\n\nSELECT c.name, SUM(o.total) AS total_spent\nFROM customers c\n"
        "JOIN orders o ON o.customer_id = c.id\nGROUP BY c.name\n- It joins orders to customers.\n"
        "- It sums the totals per customer.",
        "",
        "SELECT c.name, SUM(o.total) AS total_spent\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\nGROUP BY c.name",
        True,
    ),
    (
        "unfenced semicolon inside literal then prose",
        "SELECT title FROM products WHERE category = 'toys;games';\nThis returns products in the combined category.",
        "",
        "SELECT title FROM products WHERE category = 'toys;games'",
        True,
    ),
    (
        "unfenced CTE from chat model",
        "Sure,\n\nWITH spend AS (\n  SELECT customer_id, SUM(total) AS s\n  FROM orders\n  GROUP BY customer_id\n)\n"
        "SELECT c.name, spend.s\nFROM spend\nJOIN customers c ON c.id = spend.customer_id\nWHERE spend.s > 1000;\n\n"
        "This lists customers who spent more than 1000 in total.",
        "",
        "WITH spend AS (\n  SELECT customer_id, SUM(total) AS s\n  FROM orders\n  GROUP BY customer_id\n)\n"
        "SELECT c.name, spend.s\nFROM spend\nJOIN customers c ON c.id = spend.customer_id\nWHERE spend.s > 1000",
        True,
    ),
    (
        "unfenced answer with eot after semicolon",
        "SELECT id, signup_date FROM users WHERE country = 'JP' ORDER BY signup_date;<|eot_id|>",
        "",
        "SELECT id, signup_date FROM users WHERE country = 'JP' ORDER BY signup_date",
        True,
    ),
    # Ambiguous: no ';' or fence, but the model ended its turn (<|im_end|>), so nothing was cut off;
    # written as complete=True since the output does not end with the query.
    (
        "unfenced answer ended only by im_end",
        "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL<|im_end|>",
        "",
        "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL",
        True,
    ),
]


@pytest.mark.parametrize(
    ("name", "raw", "prefill", "expected", "complete"), REALISTIC, ids=[c[0] for c in REALISTIC]
)
def test_realistic_outputs(name, raw, prefill, expected, complete):
    assert extract(raw, prefill) == Extraction(expected, complete)


def test_the_realistic_table_is_large_and_varied():
    assert len(REALISTIC) >= 60
    assert sum(not c[3] for c in REALISTIC) >= 5  # no SQL
    assert sum(bool(c[3]) and not c[4] for c in REALISTIC) >= 8  # cut off
