"""Table metadata for prompts, read back from a seeded database."""

from __future__ import annotations

from conftest import SAMPLE
from eval.db.postgres import EmbeddedServer, PostgresBackend
from eval.schemas import discover


def test_metadata_has_comment_on_and_inline_comments(cache_dir):
    with PostgresBackend(EmbeddedServer(cache_dir)) as backend:
        backend.prepare(discover(SAMPLE / "schemas", ["shop"]))
        text = backend.table_metadata("shop")
    assert "-- One row per order line\nCREATE TABLE orders (" in text  # COMMENT ON TABLE
    assert "  quantity integer, -- Units ordered; always positive" in text  # COMMENT ON COLUMN
    assert "  price numeric(10,2), -- unit price in EUR" in text  # inline comment, last column
    assert "  city text, -- NULL when the customer gave no address" in text
    assert "  name text,\n" in text  # no description: no comment
    assert "  FOREIGN KEY (customer_id) REFERENCES customers(customer_id),\n" in text
    assert "  PRIMARY KEY (product_id)\n);" in text
    assert text.index("CREATE TABLE customers") < text.index("CREATE TABLE orders")
