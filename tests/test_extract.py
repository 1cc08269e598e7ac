"""SQL extraction from raw model output: a table of outputs and the exact SQL expected."""

from __future__ import annotations

import pytest

from eval.extract import extract_sql

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
        "unparseable junk after SELECT: first paragraph kept for the database to reject",
        "SELECT SELECT FROM FROM ((\n\nmore junk",
        "",
        "SELECT SELECT FROM FROM ((",
    ),
    (
        "markdown bold prose then fence with a comment line (the comment is not the query)",
        f"**Query:**\n{FENCE}sql\n-- customers per city\nSELECT city, COUNT(*) FROM customers GROUP BY city;\n{FENCE}",
        "",
        "SELECT city, COUNT(*) FROM customers GROUP BY city",
    ),
]


@pytest.mark.parametrize(("name", "raw", "prefill", "expected"), CASES, ids=[c[0] for c in CASES])
def test_extract(name, raw, prefill, expected):
    assert extract_sql(raw, prefill) == expected
