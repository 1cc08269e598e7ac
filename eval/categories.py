"""Question categories: ours, and sql-eval's names read as ours. The one place that knows them.

Our six categories are :data:`CATEGORIES`. defog's sql-eval names two of them otherwise
(``date_functions``, ``table_join``): :func:`canonical` maps those to ours when a
questions or results file is read, so ``validate``, the run's own summary, the
leaderboard's ``accuracy_<category>`` columns, the report and ``compare`` all see one name.
sql-eval's other categories (``instruct`` in its questions file; ``basic_*``,
``instructions_*`` and ``keywords_*`` in its instruct files) have no counterpart here:
they are known, kept as written, and reported on their own.

>>> canonical("table_join"), canonical("join"), canonical("keywords_ratio")
('join', 'join', 'keywords_ratio')
>>> is_known("instructions_cte_join"), is_known("joins")
(True, False)
"""

from __future__ import annotations

CATEGORIES = ("date", "group_by", "order_by", "ratio", "join", "where")

SQL_EVAL_ALIASES = {"date_functions": "date", "table_join": "join"}
"""sql-eval's name -> ours, for the categories both benchmarks have."""
SQL_EVAL_OTHERS = frozenset({"instruct"})
"""sql-eval's questions-file categories with no counterpart here (kept as written)."""
SQL_EVAL_PREFIXES = ("basic_", "instructions_", "keywords_")
"""Its instruct files' categories (``basic_left_join``, ``instructions_cte_window``,
``keywords_ratio``...), kept as written."""


def canonical(category: str) -> str:
    """Our name for ``category``: sql-eval's aliases mapped, anything else as written."""
    name = category.strip()
    return SQL_EVAL_ALIASES.get(name, name)


def is_known(category: str) -> bool:
    """One of ours (after :func:`canonical`) or one of sql-eval's own categories."""
    name = canonical(category)
    return name in CATEGORIES or name in SQL_EVAL_OTHERS or name.startswith(SQL_EVAL_PREFIXES)
