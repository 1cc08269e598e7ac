"""sql-eval's results CSVs in ``leaderboard``, ``report`` and ``compare``.

tests/fixtures/sql_eval/results.csv is written here in the layout sql-eval's runners
write (its columns and order, rows sorted by db_name, category and question, flags as
pandas writes them: 1.00/0.00 from float columns, True/False from booleans, counts as
31.00 when a blank made the column float). Its 10 rows, by hand:

- right: rows 1, 3, 5, 6, 8, 10 (6 of 10); its SQL equals the gold in rows 1, 3, 5, 8;
- row 2: generation failed (error_query_gen 1, no SQL, no latency or tokens): read as a
  generation error, so compare refuses to gate this file as it is;
- row 7: failed to run (error_db_exec 1); row 9: timed out (timeout True);
- categories are sql-eval's own: date_functions, group_by, instruct, order_by, table_join
  (date_functions and table_join read as our date and join).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from reports_files import write_run

from conftest import ROOT, run_cli
from eval.errors import BadInput
from eval.reports.runs import load_run

SQL_EVAL_RESULTS = ROOT / "tests" / "fixtures" / "sql_eval" / "results.csv"
LATENCIES = [0.35, 0.52, 0.61, 0.40, 0.70, 0.55, 0.30, 0.80, 0.65]
TOKENS = [25, 31, 40, 22, 45, 38, 18, 50, 41]


def fixture_rows() -> list[dict[str, str]]:
    with SQL_EVAL_RESULTS.open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_csv(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_a_sql_eval_results_file_loads_with_its_flags_and_counts():
    run = load_run(SQL_EVAL_RESULTS)
    assert [i for i, r in enumerate(run.rows) if r.correct] == [0, 2, 4, 5, 7, 9]
    assert [i for i, r in enumerate(run.rows) if r.exact_match] == [0, 2, 4, 7]
    assert [i for i, r in enumerate(run.rows) if r.error_db_exec] == [6]
    assert [i for i, r in enumerate(run.rows) if r.timeout] == [8]
    assert run.rows[1].latency_s is None and run.rows[1].tokens_used is None
    assert [r.tokens_used for r in run.rows if r.tokens_used is not None] == TOKENS
    assert (run.rows[0].prompt_tokens, run.rows[0].completion_tokens) == (None, None)
    assert run.rows[1].why_wrong == "GENERATION ERROR: Request timed out"
    assert run.rows[3].why_wrong == "wrong result"  # sql-eval writes no mismatch description
    # sql-eval's names for our categories are read as ours; its others are kept
    assert [r.category for r in run.rows] == [
        *("group_by", "order_by", "date", "date", "group_by", "group_by"),
        *("instruct", "order_by", "join", "join"),
    ]
    assert not run.has_summary and run.meta.runner == ""


def test_leaderboard_on_a_sql_eval_results_file(tmp_path):
    out = tmp_path / "lb.csv"
    proc = run_cli("leaderboard", SQL_EVAL_RESULTS, "-o", out)
    assert proc.returncode == 0, proc.stderr
    (row,) = read_csv(out)
    assert (row["run"], row["n"], row["correct"], row["gold_errors"]) == ("results", "10", "6", "0")
    assert float(row["accuracy"]) == 0.6
    low, high = wilson(6, 10)
    assert float(row["accuracy_ci95_low"]) == pytest.approx(low, abs=1e-6)
    assert float(row["accuracy_ci95_high"]) == pytest.approx(high, abs=1e-6)
    # sql-eval's date_functions and table_join fill accuracy_date and accuracy_join;
    # instruct counts in accuracy but has no column.
    assert (row["accuracy_group_by"], row["accuracy_order_by"]) == ("1.0", "0.5")
    assert (row["accuracy_date"], row["accuracy_join"]) == ("0.5", "0.5")
    assert (row["accuracy_ratio"], row["accuracy_where"]) == ("", "")
    assert float(row["sql_exact_match"]) == pytest.approx(0.4)
    assert float(row["error_rate"]) == pytest.approx(0.1)  # the generation failure is not one
    assert float(row["timeout_rate"]) == pytest.approx(0.1)
    assert float(row["truncated_rate"]) == 0.0
    assert float(row["generation_error_rate"]) == pytest.approx(0.1)  # its error_query_gen row
    assert float(row["latency_mean_s"]) == pytest.approx(sum(LATENCIES) / 9, abs=1e-6)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == ("", "", str(sum(TOKENS)))
    assert row["suite_accuracy"] == ""
    assert "60.0% [31.3%, 83.2%]" in proc.stdout
    assert proc.stdout.splitlines()[1].rstrip().endswith("40.0%    10.0%")  # sql=, gen.fail
    assert f"warning: {SQL_EVAL_RESULTS}: 1 of 10 generations failed (generation_error)" in proc.stderr


def test_report_on_a_sql_eval_results_file(tmp_path):
    out = tmp_path / "report.html"
    proc = run_cli("report", SQL_EVAL_RESULTS, "-o", out)
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert page.count('<tr class="failure">') == 4
    for reason in (
        "GENERATION ERROR: Request timed out",
        "QUERY EXECUTION ERROR: column &quot;mug&quot; does not exist",
        "timed out: QUERY EXECUTION TIMEOUT: canceling statement due to statement timeout",
        "wrong result",
    ):
        assert reason in page, reason
    for category in ("date", "instruct", "join"):
        assert f'data-category="{category}"' in page  # sql-eval's names mapped to ours
    assert 'data-category="date_functions"' not in page
    assert "60.0%" in page


def candidate_rows() -> list[dict[str, str]]:
    """Our layout over the same questions: breaks 'per city' (row 4), fixes rows 3 and 6."""
    rows = []
    for i, row in enumerate(fixture_rows()):
        right = row["correct"] == "1.00"
        if i == 4:
            right = False
        if i in (3, 6):
            right = True
        rows.append(
            {
                **{k: row[k] for k in ("question", "query", "db_name", "query_category")},
                "generated_query": row["generated_query"],
                "correct": int(right),
                "mismatch": "" if right else "values differ",
            }
        )
    return rows


def answered_baseline(tmp_path) -> Path:
    """The fixture with its failed generation (row 2) answered, wrongly: a run compare gates."""
    rows = fixture_rows()
    rows[1].update(error_query_gen="0", error_msg="", generated_query="SELECT 1")
    return write_run(tmp_path / "sql_eval.csv", rows, columns=list(rows[0]))


def test_compare_refuses_a_sql_eval_run_whose_generation_failed(tmp_path):
    ours = write_run(tmp_path / "ours.csv", candidate_rows(), {"runner": "hf", "model": "tiny"})
    for args in ((SQL_EVAL_RESULTS, ours), (ours, SQL_EVAL_RESULTS)):
        proc = run_cli("compare", *args)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.strip().splitlines() == [
            f"error: runs cannot be compared: {SQL_EVAL_RESULTS} has 1 failed generation(s) (first: "
            "school: 'Rank the students by number of courses taken.': GENERATION ERROR: Request timed out); "
            "fix the cause and rerun it (only the failed ones are generated again)"
        ]


def test_compare_gates_a_run_against_a_sql_eval_baseline(tmp_path):
    ours = write_run(tmp_path / "ours.csv", candidate_rows(), {"runner": "hf", "model": "tiny"})
    proc = run_cli("compare", answered_baseline(tmp_path), ours, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["n"] == 10 and report["excluded_gold_errors"] == 0
    assert report["baseline"]["accuracy"] == pytest.approx(0.6)
    assert report["candidate"]["accuracy"] == pytest.approx(0.7)
    assert report["delta"] == pytest.approx(0.1)
    assert (report["mcnemar"]["b"], report["mcnemar"]["c"], report["mcnemar"]["p_value"]) == (1, 2, 1.0)
    assert [b["question"] for b in report["broke"]] == ["How many customers are there per city?"]
    assert sorted(f["question"] for f in report["fixed"]) == [
        "What share of order lines are for mugs?",
        "Which month of 2023 had the most orders?",
    ]
    date = report["by_category"]["date"]
    assert date == {"n": 2, "baseline": 0.5, "candidate": 1.0, "delta": 0.5}
    assert report["passed"] is True


def test_compare_fails_a_sql_eval_candidate_that_regressed(tmp_path):
    ours = write_run(tmp_path / "ours.csv", candidate_rows(), {"runner": "hf"})
    proc = run_cli("compare", ours, answered_baseline(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert "overall: 70.0% -> 60.0% (-10.0 pts)" in proc.stdout
    assert "regression:" in proc.stderr


@pytest.mark.parametrize(
    ("cell", "value"),
    [("1.00", True), ("0.00", False), ("1.0", True), ("0", False), ("True", True), ("False", False)],
)
def test_flags_as_sql_eval_writes_them(tmp_path, cell, value):
    rows = fixture_rows()
    rows[0]["correct"] = cell
    run = load_run(write_run(tmp_path / "r.csv", rows, columns=list(rows[0])))
    assert run.rows[0].correct is value


@pytest.mark.parametrize(
    ("column", "cell", "message"),
    [
        ("correct", "0.5", r"row 2: correct must be 0 or 1 \(or 0\.00/1\.00, False/True\), got '0\.5'"),
        ("correct", "2.00", r"correct must be 0 or 1"),
        ("tokens_used", "31.5", r"row 2: tokens_used must be a whole number, got '31\.5'"),
        ("latency_seconds", "fast", r"row 2: latency_seconds must be a number, got 'fast'"),
    ],
)
def test_bad_cells_in_a_sql_eval_file_are_bad_input(tmp_path, column, cell, message):
    rows = fixture_rows()
    rows[0][column] = cell
    path = write_run(tmp_path / "r.csv", rows, columns=list(rows[0]))
    with pytest.raises(BadInput, match=message):
        load_run(path)
    proc = run_cli("leaderboard", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
