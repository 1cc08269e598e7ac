"""When a question asks for an ordering (so a gold ORDER BY makes row order count)."""

from __future__ import annotations

import pytest

from eval.evaluate import asks_for_order
from eval.records import Question


@pytest.mark.parametrize(
    "text,category,expected",
    [
        ("List products sorted by price", "where", True),
        ("Which are the top 5 sellers?", "group_by", True),
        ("Rank the students by GPA", "join", True),
        ("Show the last 3 orders", "date", True),
        ("Who ordered first?", "date", True),
        ("List the first and last names of all nurses", "where", False),
        ("How many customers live in Oslo?", "where", False),
        ("How many customers live in Oslo?", "order_by", True),
    ],
)
def test_asks_for_order(text, category, expected):
    question = Question(index=0, question=text, query="SELECT 1", db_name="x", category=category)
    assert asks_for_order(question) is expected
