"""Verdict rules that need the real database: sort keys reached through ``*`` or not
selected at all, and the bound on extra columns (eval/comparator.py, rules 1 and 2)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conftest import SAMPLE, run_cli
from eval.cli import main
from eval.sqltext import order_spec, parse_single_query

# In the sample shop, the Kettle and the Teapot both cost 25.50: they tie on price.
CHEAPEST_FIRST = "List every product, cheapest first."
TITLES_CHEAPEST_FIRST = "List the product titles, cheapest first."
NO_CITY = "Which customers have no city on file?"
LISBON = "How many customers live in Lisbon?"
ORDERS_BY_CUSTOMER = "List every order with its customer, in order of customer."

CASES = [
    # (question, gold, prediction, correct)
    (
        CHEAPEST_FIRST,
        "SELECT * FROM products ORDER BY price",
        "SELECT * FROM products ORDER BY price, title",
        True,
    ),
    (
        CHEAPEST_FIRST,
        "SELECT * FROM products ORDER BY price",
        "SELECT * FROM products ORDER BY price, title DESC",
        True,
    ),
    (
        CHEAPEST_FIRST,
        "SELECT * FROM products ORDER BY price",
        "SELECT * FROM products ORDER BY price DESC",
        False,
    ),
    (CHEAPEST_FIRST, "SELECT * FROM products ORDER BY price", "SELECT * FROM products ORDER BY title", False),
    (
        TITLES_CHEAPEST_FIRST,
        "SELECT title FROM products ORDER BY price",
        "SELECT title FROM products ORDER BY price, title",
        True,
    ),
    (
        TITLES_CHEAPEST_FIRST,
        "SELECT title FROM products ORDER BY price",
        "SELECT title FROM products ORDER BY price, title DESC",
        True,
    ),
    (
        TITLES_CHEAPEST_FIRST,
        "SELECT title FROM products ORDER BY price",
        "SELECT title FROM products ORDER BY title",
        False,
    ),
    (
        NO_CITY,
        "SELECT name FROM customers WHERE city IS NULL",
        "SELECT * FROM customers WHERE city IS NULL",
        True,
    ),
    (
        NO_CITY,
        "SELECT name FROM customers WHERE city IS NULL",
        "SELECT name, 1, 2, 3 FROM customers WHERE city IS NULL",
        True,
    ),
    (
        NO_CITY,
        "SELECT name FROM customers WHERE city IS NULL",
        "SELECT name, 1, 2, 3, 4 FROM customers WHERE city IS NULL",
        False,
    ),
    # A star over the query's own table earns its columns; a star over constants does not.
    (
        NO_CITY,
        "SELECT name FROM customers WHERE city IS NULL",
        "SELECT *, 1, 2, 3 FROM customers WHERE city IS NULL",
        True,
    ),
    (
        NO_CITY,
        "SELECT name FROM customers WHERE city IS NULL",
        "SELECT * FROM (SELECT name, 1, 2, 3, 4 FROM customers WHERE city IS NULL) AS s",
        False,
    ),
    # A sort key that * shows twice (o.customer_id and c.customer_id): rows tied on it may
    # come in any order, and the direction still counts.
    (
        ORDERS_BY_CUSTOMER,
        "SELECT * FROM orders o JOIN customers c ON c.customer_id = o.customer_id ORDER BY o.customer_id",
        "SELECT * FROM orders o JOIN customers c ON c.customer_id = o.customer_id"
        " ORDER BY o.customer_id, o.order_id DESC",
        True,
    ),
    (
        ORDERS_BY_CUSTOMER,
        "SELECT * FROM orders o JOIN customers c ON c.customer_id = o.customer_id ORDER BY o.customer_id",
        "SELECT * FROM orders o JOIN customers c ON c.customer_id = o.customer_id ORDER BY o.customer_id DESC",
        False,
    ),
    # A key c.* does not bring (the product's price) is a hidden key: tied prices in any order.
    (
        ORDERS_BY_CUSTOMER,
        "SELECT c.*, o.order_id FROM orders o JOIN customers c ON c.customer_id = o.customer_id"
        " JOIN products p ON p.product_id = o.product_id ORDER BY p.price DESC",
        "SELECT c.*, o.order_id FROM orders o JOIN customers c ON c.customer_id = o.customer_id"
        " JOIN products p ON p.product_id = o.product_id ORDER BY p.price",
        False,
    ),
    # Every column listed is as honest as a star; a star over a subquery or CTE of stored
    # columns is a star over the table.
    (
        NO_CITY,
        "SELECT name FROM customers WHERE city IS NULL",
        "SELECT o.order_id, o.customer_id, o.product_id, o.quantity, o.ordered_at, c.name"
        " FROM orders o JOIN customers c ON c.customer_id = o.customer_id WHERE c.city IS NULL",
        True,
    ),
    (
        NO_CITY,
        "SELECT name FROM customers WHERE city IS NULL",
        "WITH c AS (SELECT * FROM customers) SELECT *, 1 FROM c JOIN orders o USING (customer_id)"
        " WHERE c.city IS NULL",
        True,
    ),
    (
        NO_CITY,
        "SELECT name FROM customers WHERE city IS NULL",
        "SELECT * FROM (SELECT * FROM customers WHERE city IS NULL) s JOIN orders USING (customer_id)",
        True,
    ),
    # Stored columns in one branch of a set operation, or computed ones in a CTE, earn
    # nothing: the constants would otherwise match any small count.
    (
        LISBON,
        "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'",
        "SELECT a.order_id, a.customer_id, a.product_id, a.quantity, b.order_id, b.customer_id,"
        " b.product_id, b.quantity FROM orders a, orders b WHERE false"
        " UNION ALL SELECT 0, 1, 2, 3, 4, 5, 6, 7",
        False,
    ),
    (
        LISBON,
        "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'",
        "WITH s AS (SELECT 0 AS a, 1 AS b, 2 AS c, 3 AS d, 4 AS e) SELECT * FROM s",
        False,
    ),
    (
        LISBON,
        "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'",
        "SELECT o.*, o.quantity, o.quantity FROM orders o WHERE false"
        " UNION ALL SELECT 0, 1, 2, 3, now()::timestamp, 4, 5 FROM (VALUES (1)) v",
        False,
    ),
]


def write_predictions(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "query", "db_name", "query_category", "generated_query"])
        for question, gold, prediction, _ in CASES:
            writer.writerow([question, gold, "shop", "order_by", prediction])


@pytest.fixture(scope="module")
def verdicts(cache_dir, tmp_path_factory) -> list[dict[str, str]]:
    folder = tmp_path_factory.mktemp("verdicts")
    write_predictions(folder / "predictions.csv")
    out = folder / "out.csv"
    args = ["-r", "file", "--predictions", str(folder / "predictions.csv"), "-o", str(out)]
    args += ["--schemas", str(SAMPLE / "schemas"), "--cache-dir", str(cache_dir), "--no-progress"]
    assert main(args) == 0
    with out.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[2] for c in CASES])
def test_verdict(verdicts, index):
    row = verdicts[index]
    assert row["generated_query"] == CASES[index][2]
    assert row["correct"] == str(int(CASES[index][3])), row["mismatch"] or row["error_msg"]
    if "UNION" in CASES[index][2] or "WITH s" in CASES[index][2]:
        # Wrong because of the bound, not because the query failed.
        assert row["error_msg"] == ""
        assert "columns: at most 3 beyond" in row["mismatch"], row["mismatch"]


def test_validate_notes_an_order_left_open_by_hidden_keys(cache_dir, tmp_path):
    questions = tmp_path / "questions.csv"
    with questions.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "query", "db_name", "query_category"])
        writer.writerow(
            [TITLES_CHEAPEST_FIRST, "SELECT title FROM products ORDER BY price", "shop", "order_by"]
        )
        writer.writerow(
            [
                "Titles by price, then title.",
                "SELECT title FROM products ORDER BY price, title",
                "shop",
                "order_by",
            ]
        )
        # Every sort key shown, and still two rows (Kettle, Teapot) tie on it.
        writer.writerow(
            [
                "Titles and prices, cheapest first.",
                "SELECT {title, product_id}, price FROM products ORDER BY price",
                "shop",
                "order_by",
            ]
        )
        # Ties on the visible key, but the rows are identical there: nothing to note.
        writer.writerow(
            ["Prices, cheapest first.", "SELECT price FROM products ORDER BY price", "shop", "order_by"]
        )
    proc = run_cli("validate", "-q", questions, "--schemas", SAMPLE / "schemas", "--cache-dir", cache_dir)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    notes = [line for line in proc.stdout.splitlines() if line.startswith("NOTE")]
    assert len(notes) == 2, notes
    assert "row 2 " in notes[0] and "2 rows tie on the sort keys" in notes[0]
    # One note per question, not one per column choice.
    assert "row 4 " in notes[1] and "2 rows tie on the sort keys" in notes[1]
    assert "4 questions, 0 problem(s), 2 note(s)" in proc.stdout


def test_a_key_qualified_by_another_table_is_not_the_selected_column():
    # ORDER BY d.name for SELECT e.name: another column that happens to share the name.
    spec = order_spec(
        parse_single_query("SELECT e.name FROM emp e JOIN dept d ON d.id = e.dept ORDER BY d.name")
    )
    assert spec is not None and spec.keys == () and spec.hidden == ("d.name",)
    # Qualified on one side only: the same column.
    spec = order_spec(parse_single_query("SELECT name FROM emp e ORDER BY e.name"))
    assert spec is not None and spec.keys == (0,) and spec.hidden == ()
    # Behind a star a column key is looked up by name and kept as a hidden key too.
    spec = order_spec(parse_single_query("SELECT * FROM emp e JOIN dept d ON d.id = e.dept ORDER BY d.name"))
    assert spec is not None and spec.names == ("name",) and spec.hidden == ("d.name",)
