"""The comparator as a table of cases, plus properties that must hold for any result."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.comparator import CompareOptions, GoldCase, compare, judge
from eval.records import QueryResult


def R(*rows, cols=None):  # noqa: N802 - a short constructor keeps the table readable
    width = len(rows[0]) if rows else len(cols or ())
    return QueryResult(columns=tuple(cols or (f"c{i}" for i in range(width))), rows=tuple(rows))


SET = CompareOptions()
BAG = CompareOptions(multiset=True)

# (id, gold, prediction, order_keys, options, correct, exact_match)
CASES = [
    ("identical", R((1, "a"), (2, "b")), R((1, "a"), (2, "b")), None, SET, True, True),
    ("renamed columns", R((1,), cols=["n"]), R((1,), cols=["count"]), None, SET, True, True),
    ("column order permuted", R((1, "a"), (2, "b")), R(("a", 1), ("b", 2)), None, SET, True, True),
    ("extra column", R((1,), (2,)), R((1, "x"), (2, "y")), None, SET, True, False),
    (
        "extra columns before",
        R(
            ("a",),
        ),
        R(
            (9, 9, "a"),
        ),
        None,
        SET,
        True,
        False,
    ),
    ("row order ignored", R((1,), (2,), (3,)), R((3,), (1,), (2,)), None, SET, True, True),
    (
        "missing row",
        R((1,), (2,)),
        R(
            (1,),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "extra row",
        R(
            (1,),
        ),
        R((1,), (2,)),
        None,
        SET,
        False,
        False,
    ),
    (
        "wrong value",
        R(
            (1, "a"),
        ),
        R(
            (1, "b"),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "fewer columns",
        R(
            (1, "a"),
        ),
        R(
            (1,),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "columns match separately but not row by row",
        R((1, "a"), (2, "b")),
        R((1, "b"), (2, "a")),
        None,
        SET,
        False,
        False,
    ),
    (
        "two gold columns with equal values need two prediction columns",
        R((5, 5), (6, 6)),
        R((5, "x"), (6, "y")),
        None,
        SET,
        False,
        False,
    ),
    (
        "two gold columns with equal values, duplicated prediction column",
        R((5, 5), (6, 6)),
        R((5, 5, "x"), (6, 6, "y")),
        None,
        SET,
        True,
        False,
    ),
    (
        "matching must not be greedy",  # gold col 0 could take pred col 0 or 1; only 1 works
        R((1, 1), (1, 2)),
        R((1, 1, 1), (1, 2, 1)),
        None,
        SET,
        True,
        False,
    ),
    # ---- numbers
    (
        "decimal vs float",
        R(
            (Decimal("0.5"),),
        ),
        R(
            (0.5000000001,),
        ),
        None,
        SET,
        True,
        True,
    ),
    (
        "int vs decimal",
        R(
            (3,),
        ),
        R(
            (Decimal("3.000"),),
        ),
        None,
        SET,
        True,
        True,
    ),
    (
        "int vs float",
        R(
            (3,),
        ),
        R(
            (3.0,),
        ),
        None,
        SET,
        True,
        True,
    ),
    (
        "float beyond tolerance",
        R(
            (1.0,),
        ),
        R(
            (1.001,),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "rounded vs unrounded",
        R(
            (Decimal("12.35"),),
        ),
        R(
            (12.3456,),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "near zero",
        R(
            (0.0,),
        ),
        R(
            (5.5e-17,),
        ),
        None,
        SET,
        True,
        True,
    ),
    (
        "integers compare exactly",
        R(
            (1_000_000,),
        ),
        R(
            (1_000_001,),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "negative zero",
        R(
            (0.0,),
        ),
        R(
            (-0.0,),
        ),
        None,
        SET,
        True,
        True,
    ),
    (
        "tolerance is configurable",
        R(
            (1.0,),
        ),
        R(
            (1.001,),
        ),
        None,
        CompareOptions(rel_tol=1e-2),
        True,
        True,
    ),
    # ---- NULL
    (
        "null vs null",
        R(
            (None,),
        ),
        R(
            (None,),
        ),
        None,
        SET,
        True,
        True,
    ),
    (
        "null vs zero",
        R(
            (None,),
        ),
        R(
            (0,),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "null vs empty text",
        R(
            (None,),
        ),
        R(
            ("",),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "zero vs null",
        R(
            (0,),
        ),
        R(
            (None,),
        ),
        None,
        SET,
        False,
        False,
    ),
    ("null in a number column", R((1, None), (2, 3)), R((2, 3.0), (1, None)), None, SET, True, True),
    # ---- other types
    (
        "bool is not int",
        R(
            (True,),
        ),
        R(
            (1,),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "text is not number",
        R(
            ("1",),
        ),
        R(
            (1,),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "text is case sensitive",
        R(
            ("Zoë",),
        ),
        R(
            ("zoë",),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "date equals its midnight",
        R(
            (dt.date(2024, 1, 31),),
        ),
        R(
            (dt.datetime(2024, 1, 31),),
        ),
        None,
        SET,
        True,
        True,
    ),
    (
        "date vs other day",
        R(
            (dt.date(2024, 1, 31),),
        ),
        R(
            (dt.datetime(2024, 1, 31, 1),),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "aware timestamps in UTC",
        R(
            (dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc),),
        ),
        R(
            (dt.datetime(2024, 1, 1, 13, tzinfo=dt.timezone(dt.timedelta(hours=1))),),
        ),
        None,
        SET,
        True,
        True,
    ),
    # ---- empty results
    ("empty vs empty", R(cols=["a"]), R(cols=["x", "y"]), None, SET, True, False),
    ("empty vs empty same width", R(cols=["a"]), R(cols=["x"]), None, SET, True, True),
    (
        "empty gold vs rows",
        R(cols=["a"]),
        R(
            (1,),
        ),
        None,
        SET,
        False,
        False,
    ),
    (
        "rows vs empty prediction",
        R(
            (1,),
        ),
        R(cols=["a"]),
        None,
        SET,
        False,
        False,
    ),
    # ---- duplicates
    ("duplicates ignored (set)", R((1,), (1,), (2,)), R((1,), (2,)), None, SET, True, True),
    ("duplicates count (bag)", R((1,), (1,), (2,)), R((1,), (2,)), None, BAG, False, False),
    ("duplicates equal (bag)", R((1,), (1,), (2,)), R((2,), (1,), (1,)), None, BAG, True, True),
    ("bag, different multiplicities", R((1,), (1,), (2,)), R((1,), (2,), (2,)), None, BAG, False, False),
    (
        "set semantics after projection",
        R(("Oslo",), ("Rome",)),
        R(("Oslo", 1), ("Oslo", 2), ("Rome", 3)),
        None,
        SET,
        True,
        False,
    ),
    # ---- order
    ("order kept", R((3,), (2,), (1,)), R((3,), (2,), (1,)), (0,), SET, True, True),
    ("order reversed", R((3,), (2,), (1,)), R((1,), (2,), (3,)), (0,), SET, False, False),
    ("order ignored when not asked", R((3,), (2,), (1,)), R((1,), (2,), (3,)), None, SET, True, True),
    (
        "ties on the visible key in any order",
        R((3, "x"), (3, "y"), (1, "z")),
        R((3, "y"), (3, "x"), (1, "z")),
        (0,),
        SET,
        True,
        True,
    ),
    (
        "ties do not excuse the wrong order between groups",
        R((3, "x"), (3, "y"), (1, "z")),
        R((3, "x"), (1, "z"), (3, "y")),
        (0,),
        SET,
        False,
        False,
    ),
    (
        "wrong secondary sort direction",
        R(("a", 2), ("a", 1), ("b", 5)),
        R(("a", 1), ("a", 2), ("b", 5)),
        (0, 1),
        SET,
        False,
        False,
    ),
    (
        "right secondary direction, columns permuted",
        R(("a", 2), ("a", 1), ("b", 5)),
        R((2, "a"), (1, "a"), (5, "b")),
        (0, 1),
        SET,
        True,
        True,
    ),
    (
        "no visible key: exact sequence",
        R(("p",), ("q",)),
        R(("q",), ("p",)),
        (),
        SET,
        False,
        False,
    ),
    (
        "order with extra column",
        R((3,), (2,)),
        R(("c", 3), ("b", 2)),
        (0,),
        SET,
        True,
        False,
    ),
    (
        "shape 1x1 vs 1x3 of same value",
        R(
            (7,),
        ),
        R(
            (7, 7, 7),
        ),
        None,
        SET,
        True,
        False,
    ),
    (
        "shape 1x1 vs 3x1",
        R(
            (7,),
        ),
        R((7,), (8,), (9,)),
        None,
        SET,
        False,
        False,
    ),
]


@pytest.mark.parametrize(
    "gold,pred,order_keys,options,correct,exact",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_comparator_table(gold, pred, order_keys, options, correct, exact):
    verdict = compare(gold, pred, order_keys=order_keys, options=options)
    assert verdict.correct is correct, verdict.reason
    assert verdict.exact_match is exact
    if not correct:
        assert verdict.reason, "a wrong verdict must say why"


def test_judge_any_expansion_matches():
    golds = [
        GoldCase(
            R(
                (1, "a"),
            )
        ),
        GoldCase(
            R(
                ("a",),
            )
        ),
    ]
    assert judge(
        golds,
        R(
            ("a",),
        ),
        SET,
    ).correct
    assert judge(
        golds,
        R(
            ("a",),
        ),
        SET,
    ).exact_match
    assert not judge(
        golds,
        R(
            ("b",),
        ),
        SET,
    ).correct


def test_judge_prefers_exact_match():
    golds = [
        GoldCase(
            R(
                (1, "a"),
            )
        ),
        GoldCase(
            R(
                (1,),
            )
        ),
    ]
    verdict = judge(
        golds,
        R(
            (1,),
        ),
        SET,
    )
    assert verdict.correct and verdict.exact_match


def test_empty_gold_is_flagged():
    verdict = compare(R(cols=["a"]), R(cols=["a"]))
    assert verdict.correct and "empty gold" in verdict.reason


def test_large_results_compare_by_hash():
    rng = random.Random(7)
    rows = [(i, rng.random(), f"name{i % 977}") for i in range(50_000)]
    shuffled = rows[:]
    rng.shuffle(shuffled)
    pred = [(c, a, b) for a, b, c in shuffled]
    assert compare(R(*rows), R(*pred)).correct
    broken = pred[:]
    broken[123] = (broken[123][0], broken[123][1], broken[123][2] + 1)
    assert not compare(R(*rows), R(*broken)).correct


row_values = st.one_of(
    st.integers(-5, 5),
    st.none(),
    st.sampled_from(["a", "b", "Zoë"]),
    st.decimals(min_value=-3, max_value=3, places=2, allow_nan=False),
)
tables = st.integers(1, 3).flatmap(
    lambda width: st.lists(st.tuples(*[row_values] * width), min_size=1, max_size=8)
)


@settings(max_examples=150, deadline=None)
@given(rows=tables, seed=st.integers(0, 10_000), multiset=st.booleans())
def test_shuffling_and_renaming_never_change_the_verdict(rows, seed, multiset):
    rng = random.Random(seed)
    width = len(rows[0])
    permutation = list(range(width))
    rng.shuffle(permutation)
    shuffled = [tuple(row[j] for j in permutation) for row in rows]
    rng.shuffle(shuffled)
    gold = R(*rows)
    pred = QueryResult(columns=tuple(f"renamed{j}" for j in range(width)), rows=tuple(shuffled))
    verdict = compare(gold, pred, options=CompareOptions(multiset=multiset))
    assert verdict.correct and verdict.exact_match, verdict.reason


@settings(max_examples=150, deadline=None)
@given(rows=tables, seed=st.integers(0, 10_000))
def test_dropping_a_distinct_row_is_always_wrong(rows, seed):
    distinct = list(dict.fromkeys(rows))
    if len(distinct) < 2:
        return
    rng = random.Random(seed)
    victim = rng.choice(distinct)
    pred = [row for row in rows if row != victim]
    assert not compare(R(*rows), R(*pred)).correct


def test_bytes_compare_by_content():
    assert compare(R((memoryview(b"\x00\x01"),)), R((b"\x00\x01",))).correct
    assert not compare(R((memoryview(b"\x00\x01"),)), R((memoryview(b"\x00\x02"),))).correct


# --------------------------------------------------------------------------- bounded extra columns


@pytest.mark.parametrize(
    ("gold_width", "pred_width", "star", "correct"),
    [
        (1, 4, 0, True),  # three helper columns beside a one-column answer
        (1, 5, 0, False),  # a fourth is a shotgun
        (5, 10, 0, True),  # as many extra as the gold has columns
        (5, 11, 0, False),
        (1, 12, 10, True),  # SELECT * over a wide table, plus a column
        (1, 15, 10, False),  # ... plus more than the bound allows
    ],
)
def test_extra_columns_are_bounded(gold_width, pred_width, star, correct):
    gold = R(tuple(range(gold_width)), tuple(range(10, 10 + gold_width)))
    pred = R(tuple(range(pred_width)), tuple(range(10, 10 + pred_width)))
    verdict = compare(gold, pred, stored_columns=star)
    assert verdict.correct is correct, verdict.reason
    if not correct:
        assert f"prediction has {pred_width} columns" in verdict.reason


def test_the_bound_holds_for_an_empty_gold():
    empty = QueryResult(columns=("a",), rows=())
    assert compare(empty, QueryResult(columns=tuple("abcd"), rows=())).correct
    assert not compare(empty, QueryResult(columns=tuple("abcde"), rows=())).correct


def test_a_shotgun_of_constants_matches_no_one_row_gold():
    shotgun = R(tuple(range(1600)))
    assert not compare(R((42,)), shotgun).correct
    assert not judge([GoldCase(R((7,)))], shotgun, SET).correct


# --------------------------------------------------------------------------- ties given by the caller


def test_ties_on_hidden_sort_keys_allow_any_order_among_them():
    # Gold: names ordered by a key the output does not show; rows 2 and 3 tie on it.
    gold = R(("mug",), ("kettle",), ("teapot",), ("toaster",))
    ties = (0, 1, 1, 2)
    swapped = R(("mug",), ("teapot",), ("kettle",), ("toaster",))
    assert compare(gold, swapped, order_keys=(), ties=ties).correct
    assert not compare(gold, swapped, order_keys=()).correct  # without ties: the exact sequence
    moved = R(("kettle",), ("mug",), ("teapot",), ("toaster",))
    verdict = compare(gold, moved, order_keys=(), ties=ties)
    assert not verdict.correct and verdict.reason == "same rows in a different order"
