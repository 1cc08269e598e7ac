"""Test-suite accuracy on the real embedded PostgreSQL: variant databases and suite verdicts."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import psycopg2
import pytest

from conftest import SAMPLE, sample_args
from eval.cli import main
from eval.db.base import ExecLimits
from eval.db.postgres import EmbeddedServer, PostgresBackend
from eval.questions import load_questions
from eval.schemas import discover
from eval.variants import build_suite, gold_literals

QUESTIONS = SAMPLE / "questions.csv"
SCHEMAS = SAMPLE / "schemas"

# Foreign keys of the sample, checked with real queries on every variant.
ORPHANS = {
    "shop": [
        "SELECT COUNT(*) FROM orders o LEFT JOIN customers c USING (customer_id) WHERE c.customer_id IS NULL",
        "SELECT COUNT(*) FROM orders o LEFT JOIN products p USING (product_id) WHERE p.product_id IS NULL",
    ],
    "school": [
        "SELECT COUNT(*) FROM enrolments e LEFT JOIN students s USING (student_id) "
        "WHERE e.student_id IS NOT NULL AND s.student_id IS NULL",
        "SELECT COUNT(*) FROM enrolments e LEFT JOIN courses c USING (course_code) "
        "WHERE e.course_code IS NOT NULL AND c.course_code IS NULL",
    ],
}
DUPLICATE_KEYS = {
    "shop": [
        "SELECT COUNT(*) - COUNT(DISTINCT customer_id) FROM customers",
        "SELECT COUNT(*) - COUNT(DISTINCT order_id) FROM orders",
    ],
    "school": ["SELECT COUNT(*) - COUNT(DISTINCT (student_id, course_code)) FROM enrolments"],
}


@pytest.fixture(scope="module")
def backend(cache_dir):
    with PostgresBackend(EmbeddedServer(cache_dir), ExecLimits()) as backend:
        yield backend


def checksums(backend: PostgresBackend, db_name: str) -> dict[str, str]:
    out = {}
    for (table,) in backend.admin_query(
        db_name, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    ):
        rows = backend.admin_query(
            db_name, f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"
        )
        out[table] = rows[0][0]
    return out


def drop_database(backend: PostgresBackend, name: str) -> None:
    conn = psycopg2.connect(**backend.server.params("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    conn.close()


def build(backend: PostgresBackend, questions_path: Path, schemas: Path, k: int = 3, seed: int = 0):
    questions = load_questions(questions_path)
    sources = discover(schemas, [q.db_name for q in questions])
    backend.prepare(sources)
    return build_suite(backend, sources, questions, k, seed), questions


def test_variants_keep_keys_and_foreign_keys(backend):
    suite, _ = build(backend, QUESTIONS, SCHEMAS)
    assert set(suite.variants) == {"shop", "school"}
    for db_name, names in suite.variants.items():
        assert len(names) == 3
        for name in names:
            for sql in ORPHANS[db_name] + DUPLICATE_KEYS[db_name]:
                assert backend.admin_query(name, sql) == [(0,)], (name, sql)


def test_variants_differ_from_base_and_are_deterministic(backend):
    suite, _ = build(backend, QUESTIONS, SCHEMAS)
    first = {name: checksums(backend, name) for names in suite.variants.values() for name in names}
    base = checksums(backend, "shop")
    assert all(first[name] != base for name in suite.variants["shop"])
    assert first["shop__v1"] != first["shop__v2"]
    # Drop the variants and build again from scratch: the same content, checksum for checksum.
    for names in suite.variants.values():
        for name in names:
            drop_database(backend, name)
    again, _ = build(backend, QUESTIONS, SCHEMAS)
    assert again.built == 6
    assert {name: checksums(backend, name) for names in again.variants.values() for name in names} == first
    cached, _ = build(backend, QUESTIONS, SCHEMAS)
    assert cached.built == 0


def test_gold_results_stay_non_empty(backend):
    suite, questions = build(backend, QUESTIONS, SCHEMAS)
    assert suite.empty_gold == ()
    from eval.evaluate import plan_gold

    for question in questions:
        for sql in plan_gold(question).expansions:
            for name in suite.variants[question.db_name]:
                result = backend.execute(name, sql)
                assert result.ok and result.rows, (name, sql, result.error)


def test_gold_literals_are_collected():
    literals = gold_literals(load_questions(QUESTIONS))
    shop = {(x.column, x.op, x.values) for x in literals["shop"]}
    assert ("city", "=", ("Lisbon",)) in shop
    assert ("ordered_at", "<", ("2023-02-01",)) in shop
    assert ("city", "is null", ()) in shop
    assert ("title", "=", ("Mug",)) in shop


def test_defog_shaped_schema_without_declared_keys(backend, tmp_path):
    """No PRIMARY/FOREIGN KEY declared (as in defog-data): keys and links are inferred from the data."""
    folder = tmp_path / "defog" / "library"
    folder.mkdir(parents=True)
    authors = ", ".join(f"({i}, 'author {i}', '{['PT', 'NO', 'FR'][i % 3]}')" for i in range(1, 21))
    books = ", ".join(
        f"({100 + i}, {1 + i % 20}, 'book {i}', {1990 + i % 30}, {5 + i % 40}.50)" for i in range(60)
    )
    (folder / "library.sql").write_text(
        "CREATE TABLE authors (author_id integer, name text, country varchar(2));\n"
        "CREATE TABLE books (book_id integer, author_id integer, title text, published integer, price numeric(6,2));\n"
        f"INSERT INTO authors VALUES {authors};\nINSERT INTO books VALUES {books};\n"
    )
    (folder / "library.json").write_text("{}")  # defog keeps metadata beside; ignored
    questions = tmp_path / "q.csv"
    questions.write_text(
        "question,query,db_name,query_category\n"
        'Books by Portuguese authors?,"SELECT b.title FROM books b JOIN authors a ON a.author_id = b.author_id '
        "WHERE a.country = 'PT'\",library,join\n"
        "Books from 2010 on?,SELECT COUNT(*) FROM books WHERE published >= 2010,library,where\n"
    )
    suite, _ = build(backend, questions, tmp_path / "defog")
    assert suite.empty_gold == ()
    for name in suite.variants["library"]:
        orphans = backend.admin_query(
            name,
            "SELECT COUNT(*) FROM books b LEFT JOIN authors a USING (author_id) WHERE a.author_id IS NULL",
        )
        assert orphans == [(0,)]
        assert backend.admin_query(name, "SELECT COUNT(*) - COUNT(DISTINCT book_id) FROM books") == [(0,)]
        assert backend.admin_query(name, "SELECT COUNT(*) FROM authors WHERE country = 'PT'")[0][0] > 0
    sums = [checksums(backend, n)["books"] for n in suite.variants["library"]]
    assert len(set(sums)) == 3 and checksums(backend, "library")["books"] not in sums


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_suite_catches_what_the_base_misses(cache_dir, tmp_path):
    """Predictions right on the base data only by luck: a constant, a filter redundant there, a bound."""
    predictions = tmp_path / "lucky.csv"
    gold = "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'"
    rows = [
        ("SELECT 2", "constant"),
        (
            "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon' AND customer_id <= 4",
            "redundant on the base",
        ),
        (gold, "right"),
    ]
    with predictions.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "query", "db_name", "query_category", "note", "generated_query"])
        for sql, note in rows:
            writer.writerow(["How many customers live in Lisbon?", gold, "shop", "where", note, sql])
        # No order on the base sits in the last minute of January: a wrong bound that only a
        # value planted beside the gold's bound reveals.
        january = "SELECT COUNT(*) FROM orders WHERE ordered_at >= '2023-01-01' AND ordered_at < '2023-02-01'"
        wrong = "SELECT COUNT(*) FROM orders WHERE ordered_at >= '2023-01-01' AND ordered_at <= '2023-01-31 23:59'"
        writer.writerow(
            ["How many orders were placed in January 2023?", january, "shop", "date", "bound", wrong]
        )
    out = tmp_path / "lucky_out.csv"
    args = sample_args(cache_dir, out)
    code = main([*args[2:], "-r", "file", "--predictions", str(predictions), "--suite", "3"])
    assert code == 0
    result = read_csv(out)
    assert [r["correct"] for r in result] == ["1", "1", "1", "1"]
    assert [r["suite_correct"] for r in result] == ["0", "0", "1", "0"]
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["accuracy"] == 1.0
    assert summary["suite_accuracy"] == pytest.approx(1 / 4) and summary["suite_correct"] == 1
    assert summary["suite_by_category"] == {
        "where": {"accuracy": pytest.approx(1 / 3), "n": 3},
        "date": {"accuracy": 0.0, "n": 1},
    }
    assert summary["suite"]["k"] == 3 and summary["suite"]["variants"]["shop"] == [
        "shop__v1",
        "shop__v2",
        "shop__v3",
    ]


def test_oracle_is_suite_correct_and_columns_only_with_suite(cache_dir, tmp_path):
    out = tmp_path / "oracle.csv"
    assert main([*sample_args(cache_dir, out), "--suite"]) == 0
    result = read_csv(out)
    assert list(result[0])[-1] == "suite_correct"
    assert all(r["suite_correct"] == "1" for r in result)
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["suite_accuracy"] == 1.0 and summary["suite"]["k"] == 3
    assert summary["suite_by_category"]["where"] == {"accuracy": 1.0, "n": 3}
    plain = tmp_path / "plain.csv"
    assert main(sample_args(cache_dir, plain)) == 0
    assert "suite_correct" not in read_csv(plain)[0]
    assert "suite_accuracy" not in json.loads(plain.with_suffix(".json").read_text())


def test_suite_with_another_dialect_is_refused(cache_dir, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main([*sample_args(cache_dir, out), "--suite", "--dialect", "sqlite"]) == 2
    assert "--suite needs --dialect postgres" in capsys.readouterr().err


def test_self_referencing_table_larger_than_one_insert_page(backend, tmp_path):
    """A table whose rows point at later rows of itself, beyond one INSERT page (1000 rows).

    Its foreign key is checked at the end of each INSERT statement: written in pages, a row
    pointing into a later page would be refused, and the variant would fall back to the base.
    """
    folder = tmp_path / "selfref" / "staff"
    folder.mkdir(parents=True)
    rows = ", ".join(f"({i}, {'NULL' if i == 2500 else i + 1}, {1000 + i % 97})" for i in range(1, 2501))
    (folder / "staff.sql").write_text(
        "CREATE TABLE staff (staff_id integer PRIMARY KEY, "
        "boss_id integer REFERENCES staff (staff_id), salary integer NOT NULL);\n"
        f"INSERT INTO staff VALUES {rows};\n"
    )
    questions = tmp_path / "q.csv"
    questions.write_text(
        "question,query,db_name,query_category\n"
        "How many earn 1050 or more?,SELECT COUNT(*) FROM staff WHERE salary >= 1050,staff,where\n"
    )
    suite, _ = build(backend, questions, tmp_path / "selfref", k=2)
    base = checksums(backend, "staff")["staff"]
    for name in suite.variants["staff"]:
        assert checksums(backend, name)["staff"] != base, name
        orphans = backend.admin_query(
            name,
            "SELECT COUNT(*) FROM staff s LEFT JOIN staff b ON b.staff_id = s.boss_id "
            "WHERE s.boss_id IS NOT NULL AND b.staff_id IS NULL",
        )
        assert orphans == [(0,)]


def test_row_left_without_a_parent_is_dropped_once():
    """A row whose first foreign key has nothing left to point at goes; the next key skips it."""
    from eval.variants import Column, ForeignKey, Rates, Table, _Row, generate_table

    table = Table(
        "public.visits",
        (Column("visit_id", "integer"), Column("pet_id", "integer"), Column("vet_id", "integer")),
        [(1, 10, 20), (2, 11, 20)],
        keys=[(0,)],
        foreign_keys=[ForeignKey((1,), "public.pets", (0,)), ForeignKey((2,), "public.vets", (0,))],
    )
    rows = [_Row(list(r)) for r in table.rows]
    parents = {"public.pets": [], "public.vets": [(20,)]}
    out = generate_table(table, rows, parents, {}, random.Random(0), Rates(0, 0, 0, 0))
    assert out == []


def test_bound_beside_the_column_types_limit(backend, tmp_path):
    """``amount < 99.99`` on a numeric(4,2): 100.00, beside the bound, cannot be stored.

    Planted, it failed the child's insert; the base rows tried next pointed at dropped
    parents, and the whole run stopped. Values the column cannot hold are left out.
    """
    folder = tmp_path / "ovf" / "till"
    folder.mkdir(parents=True)
    items = ", ".join(f"({i}, 'item {i}')" for i in range(1, 41))
    sales = ", ".join(f"({i}, {1 + i % 40}, {10 + (i * 7) % 89}.{i % 100:02d})" for i in range(1, 301))
    (folder / "till.sql").write_text(
        "CREATE TABLE items (item_id integer PRIMARY KEY, name text NOT NULL);\n"
        "CREATE TABLE sales (sale_id integer PRIMARY KEY, item_id integer NOT NULL REFERENCES items (item_id), "
        "amount numeric(4,2) NOT NULL);\n"
        f"INSERT INTO items VALUES {items};\nINSERT INTO sales VALUES {sales};\n"
    )
    questions = tmp_path / "q.csv"
    questions.write_text(
        "question,query,db_name,query_category\n"
        "Sales under 99.99?,SELECT COUNT(*) FROM sales WHERE amount < 99.99,till,where\n"
    )
    suite, _ = build(backend, questions, tmp_path / "ovf", k=2)
    base = checksums(backend, "till")["sales"]
    for name in suite.variants["till"]:
        assert checksums(backend, name)["sales"] != base, name
        assert (
            backend.admin_query(name, "SELECT COUNT(*) FROM sales WHERE amount IN (99.99, 99.98)")[0][0] > 0
        )
        orphans = "SELECT COUNT(*) FROM sales s LEFT JOIN items i USING (item_id) WHERE i.item_id IS NULL"
        assert backend.admin_query(name, orphans) == [(0,)]


def test_duplicates_get_no_key_past_the_column_type():
    """A smallint key at 32767: a duplicated row gets no fresh key rather than one that cannot be stored."""
    from eval.variants import Column, Rates, Table, _Row, generate_table

    table = Table(
        "public.slots",
        (Column("slot_id", "smallint", nullable=False), Column("label", "text")),
        [(32766, "a"), (32767, "b")],
        keys=[(0,)],
    )
    rows = [_Row(list(r)) for r in table.rows]
    out = generate_table(
        table, rows, {}, {}, random.Random(0), Rates(drop=0, duplicate=1, perturb=0, remap=0)
    )
    assert sorted(r[0] for r in out) == [32766, 32767]
