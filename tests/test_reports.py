"""Leaderboard, statistics and the regression gate, on hand-made result files.

Expected figures are computed here by hand or by scipy (an independent implementation),
never copied from the code under test.
"""

from __future__ import annotations

import csv
import json
import math
import re

import pytest
from reports_files import RESULT_COLUMNS, paired_rows, question_row, write_run
from scipy.stats import binomtest

from conftest import ROOT, run_cli
from eval.categories import CATEGORIES
from eval.cli import main
from eval.reports import leaderboard
from eval.reports.stats import mcnemar_exact, normalize_sql, sql_matches_gold, wilson_interval

# --------------------------------------------------------------------------- statistics


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054  # the 97.5% normal quantile
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (0, 12), (12, 12), (7, 10), (8, 9), (50, 100), (913, 1034)])
def test_wilson_interval_matches_scipy_and_the_formula(k, n):
    scipy_ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(scipy_ci.low, abs=1e-12)
    assert high == pytest.approx(scipy_ci.high, abs=1e-12)
    assert (low, high) == pytest.approx(wilson_by_hand(k, n), abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_interval_is_blank_without_questions():
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(
    "b,c", [(0, 0), (0, 1), (1, 0), (3, 3), (0, 5), (12, 0), (2, 7), (10, 1), (40, 60), (513, 470)]
)
def test_mcnemar_exact_matches_a_two_sided_binomial_test(b, c):
    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)


def test_mcnemar_exact_small_cases_by_hand():
    assert mcnemar_exact(0, 5) == 2 / 32  # both tails of the all-one-way outcome
    assert mcnemar_exact(1, 4) == 2 * (1 + 5) / 32
    assert mcnemar_exact(2, 2) == 1.0


@pytest.mark.parametrize(
    "generated,gold,same",
    [
        (
            "select count(*) from Customers where city='Lisbon';",
            "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'",
            True,
        ),
        (
            "SELECT COUNT(*) FROM customers WHERE city = 'lisbon'",
            "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'",
            False,
        ),
        ("SELECT name FROM customers -- the names", "SELECT {customer_id, name} FROM customers", True),
        ("SELECT customer_id, name FROM customers", "SELECT {customer_id, name} FROM customers", True),
        ("SELECT name, customer_id FROM customers", "SELECT {customer_id, name} FROM customers", False),
        ("select 2", "SELECT 1; SELECT 2", True),
        ("", "SELECT 1", False),
        ("not sql at all (((", "SELECT 1", False),
    ],
)
def test_sql_match_normalises_with_sqlglot(generated, gold, same):
    assert sql_matches_gold(generated, gold) is same


def test_normalize_sql_ignores_layout_and_keyword_case():
    assert normalize_sql("select\n  a ,b\nFROM   T") == normalize_sql("SELECT a, b FROM t")


# --------------------------------------------------------------------------- leaderboard


def alpha_rows() -> list[dict]:
    """7 of 10 right; rows 0-6 echo the gold in another layout; 7 was cut off, 8 errors,
    9 times out."""
    rows = []
    for i in range(10):
        values: dict = {"latency_seconds": 0.1 * i, "prompt_tokens": 10, "completion_tokens": i}
        if i < 7:
            values.update(correct=1, exact_match=1, mismatch="", generated_query=f"select {i}  as X from T;")
        if i == 7:
            values.update(truncated=1, error_msg="cut off by the token limit", mismatch="")
        if i == 8:
            values.update(error_db_exec=1, error_msg="relation does not exist", mismatch="")
        if i == 9:
            values.update(error_db_exec=1, timeout=1, error_msg="canceling statement", mismatch="")
        rows.append(question_row(i, **values))
    return rows


ALPHA_SUMMARY = {
    "runner": "hf",
    "model": "tiny-llama",
    "prompt_file": "prompts/a.txt",
    "num_beams": 4,
    "created_at": "2026-11-29T10:00:00+00:00",
    "questions_file": "bench.csv",
    "questions_hash": "sha256:aaa",
    "suite_accuracy": 0.6,
}


def beta_rows() -> list[dict]:
    """Right except question 2; question 9's gold failed (not counted); suite verdicts per row."""
    rows = []
    for i in range(10):
        ok = i not in (2, 9)
        values: dict = {"correct": int(ok), "suite_correct": int(ok and i != 0)}
        if i == 9:
            values.update(gold_error="gold timed out", suite_correct="")
        rows.append(question_row(i, **values))
    return rows


def read_csv(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_leaderboard_rows_hold_the_documented_figures(tmp_path, capsys):
    alpha = write_run(tmp_path / "alpha.csv", alpha_rows(), ALPHA_SUMMARY)
    beta = write_run(tmp_path / "beta.csv", beta_rows())  # no summary JSON: details blank
    out = tmp_path / "board" / "leaderboard.csv"
    assert main(["leaderboard", str(alpha), str(beta), "-o", str(out)]) == 0
    with out.open(newline="") as handle:
        assert next(csv.reader(handle)) == list(leaderboard.COLUMNS)
    first, second = read_csv(out)
    assert [first["run"], second["run"]] == ["beta", "alpha"]  # 8/9 beats 7/10
    assert [first["rank"], second["rank"]] == ["1", "2"]

    a = second
    assert (a["model"], a["runner"], a["prompt_file"], a["num_beams"]) == (
        "tiny-llama",
        "hf",
        "prompts/a.txt",
        "4",
    )
    assert (a["questions_file"], a["questions_hash"]) == ("bench.csv", "sha256:aaa")
    assert (a["n"], a["correct"], float(a["accuracy"])) == ("10", "7", 0.7)
    low, high = wilson_by_hand(7, 10)
    assert float(a["accuracy_ci95_low"]) == pytest.approx(low, abs=1e-6)
    assert float(a["accuracy_ci95_high"]) == pytest.approx(high, abs=1e-6)
    for c in CATEGORIES:  # category of question i is CATEGORIES[i % 6]; right when i < 7
        ids = [i for i in range(10) if i % 6 == CATEGORIES.index(c)]
        assert float(a[f"accuracy_{c}"]) == pytest.approx(sum(i < 7 for i in ids) / len(ids))
    assert float(a["sql_exact_match"]) == pytest.approx(0.7)
    assert float(a["error_rate"]) == pytest.approx(0.2)
    assert float(a["timeout_rate"]) == pytest.approx(0.1)
    assert float(a["truncated_rate"]) == pytest.approx(0.1)
    assert float(first["truncated_rate"]) == 0.0  # beta's results have no truncated column
    assert float(a["latency_mean_s"]) == pytest.approx(sum(0.1 * i for i in range(10)) / 10)
    assert (a["prompt_tokens"], a["completion_tokens"], a["total_tokens"]) == ("100", "45", "145")
    assert float(a["suite_accuracy"]) == 0.6  # from the summary
    assert a["gold_errors"] == "0"

    b = first
    assert (b["model"], b["runner"], b["num_beams"], b["created_at"], b["questions_hash"]) == (
        "",
        "",
        "",
        "",
        "",
    )
    assert (b["n"], b["correct"], b["gold_errors"]) == ("9", "8", "1")
    assert float(b["accuracy_ci95_low"]) == pytest.approx(wilson_by_hand(8, 9)[0], abs=1e-6)
    assert float(b["suite_accuracy"]) == pytest.approx(7 / 9)  # rows' suite_correct, gold error left out
    assert (b["latency_mean_s"], b["total_tokens"], b["sql_exact_match"]) == ("", "", "0.0")
    assert b["question_set"] == a["question_set"]

    captured = capsys.readouterr()
    assert "beta.csv: no summary JSON" in captured.err
    assert "different question sets" not in captured.err


def test_leaderboard_columns_are_documented():
    doc = (ROOT / "docs" / "reports.md").read_text()
    for column in leaderboard.COLUMNS:
        assert f"`{column}`" in doc, column


def test_leaderboard_columns_are_in_the_documented_order():
    doc = (ROOT / "docs" / "reports.md").read_text()
    section = doc.split("\n## Leaderboard\n", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", section, re.MULTILINE)
    assert documented == list(leaderboard.COLUMNS)


def test_leaderboard_tiebreak_does_not_depend_on_argument_order(tmp_path):
    one = write_run(tmp_path / "one.csv", alpha_rows())
    two = write_run(tmp_path / "two.csv", alpha_rows())
    out1, out2 = tmp_path / "1.csv", tmp_path / "2.csv"
    assert main(["leaderboard", str(two), str(one), "-o", str(out1)]) == 0
    assert main(["leaderboard", str(one), str(two), "-o", str(out2)]) == 0
    assert out1.read_text() == out2.read_text()
    assert [(r["rank"], r["run"]) for r in read_csv(out1)] == [("1", "one"), ("1", "two")]


def test_leaderboard_warns_when_question_sets_differ(tmp_path, capsys):
    alpha = write_run(tmp_path / "alpha.csv", alpha_rows(), ALPHA_SUMMARY)
    other_rows = [question_row(i, query=f"SELECT {i} + 1 AS x FROM t") for i in range(10)]
    other = write_run(tmp_path / "other.csv", other_rows, {"questions_file": "other_bench.csv"})
    out = tmp_path / "lb.csv"
    assert main(["leaderboard", str(alpha), str(other), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "different question sets" in err
    assert str(alpha) in err and str(other) in err and "other_bench.csv" in err
    sets = {r["run"]: r["question_set"] for r in read_csv(out)}
    assert sets["alpha"] != sets["other"]


def test_json_path_reads_the_run_beside_it(tmp_path, capsys):
    alpha = write_run(tmp_path / "alpha.csv", alpha_rows(), ALPHA_SUMMARY)
    assert main(["leaderboard", str(alpha.with_suffix(".json"))]) == 0
    assert "tiny-llama" in capsys.readouterr().out


# --------------------------------------------------------------------------- compare


def compare(tmp_path, baseline_rows, candidate_rows, *flags):
    base = write_run(tmp_path / "base.csv", baseline_rows, {"runner": "oracle"})
    cand = write_run(tmp_path / "cand.csv", candidate_rows, {"runner": "file"})
    proc = run_cli("compare", base, cand, "--json", *flags)
    return proc.returncode, (json.loads(proc.stdout) if proc.stdout.strip() else None), proc.stderr


@pytest.mark.parametrize(
    "n,both,broke,fixed,flags,code",
    [
        (20, 10, 0, 0, (), 0),  # identical verdicts
        (100, 60, 10, 0, (), 1),  # 10 points lower
        (1000, 500, 10, 0, (), 1),  # 1 point lower (within --max-drop) but p = 0.002
        (1000, 500, 10, 0, ("--alpha", "0.001"), 0),  # ... not significant at 0.001
        (200, 100, 3, 1, (), 0),  # 1 point lower, p = 0.625
        (50, 20, 1, 0, (), 0),  # exactly --max-drop (2 points): allowed
        (50, 20, 1, 0, ("--max-drop", "0.019"), 1),
        (100, 40, 0, 10, (), 0),  # better
        (100, 40, 10, 0, ("--max-drop", "0.2", "--alpha", "0"), 0),  # gate switched off
    ],
)
def test_compare_gate(tmp_path, n, both, broke, fixed, flags, code):
    baseline, candidate = paired_rows(n, both=both, broke=broke, fixed=fixed)
    returncode, report, stderr = compare(tmp_path, baseline, candidate, *flags)
    assert returncode == code, stderr
    assert report["n"] == n
    assert report["baseline"]["accuracy"] == pytest.approx((both + broke) / n)
    assert report["candidate"]["accuracy"] == pytest.approx((both + fixed) / n)
    assert report["delta"] == pytest.approx((fixed - broke) / n)
    assert report["mcnemar"]["b"] == broke and report["mcnemar"]["c"] == fixed
    expected_p = binomtest(broke, broke + fixed, 0.5).pvalue if broke + fixed else 1.0
    assert report["mcnemar"]["p_value"] == pytest.approx(expected_p, rel=1e-9)
    want = "candidate worse" if broke > fixed else "candidate better" if fixed > broke else "no difference"
    assert report["mcnemar"]["direction"] == want
    assert report["passed"] is (code == 0)
    assert len(report["broke"]) == broke and len(report["fixed"]) == fixed
    assert ("regression:" in stderr) is (code == 1)


def test_compare_text_output(tmp_path):
    baseline, candidate = paired_rows(12, both=4, broke=2, fixed=1)
    candidate[4]["error_msg"] = "column nope does not exist"
    candidate[6]["query_category"] = "relabelled"  # the baseline's categories are used
    base = write_run(tmp_path / "base.csv", baseline)
    cand = write_run(tmp_path / "cand.csv", candidate)
    proc = run_cli("compare", base, cand, "--max-drop", "0.1")
    assert proc.returncode == 0, proc.stderr  # 8.3 points <= 10; p = 1.0
    out = proc.stdout
    assert "overall: 50.0% -> 41.7% (-8.3 pts)" in out
    assert "broke (2)" in out and "fixed (1)" in out
    assert "Question number 4?" in out and "column nope does not exist" in out
    assert re.search(r"two-sided p = 1 \(candidate worse\)", out)
    # per category: question i has category CATEGORIES[i % 6]; 4 and 5 broke, 6 fixed
    by_line = {
        line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in CATEGORIES
    }
    assert "-50.0 pts" in by_line["join"] and "-50.0 pts" in by_line["where"]
    assert "+50.0 pts" in by_line["date"]
    assert "+0.0 pts" in by_line["ratio"]


def test_compare_pairs_duplicate_questions_by_occurrence(tmp_path):
    baseline = [question_row(0, correct=c) for c in (1, 1, 0)] + [question_row(1, correct=1)]
    candidate = [question_row(0, correct=c) for c in (1, 0, 0)] + [question_row(1, correct=1)]
    code, report, _ = compare(tmp_path, baseline, candidate, "--max-drop", "0.5")
    assert code == 0
    assert report["broke"] == [
        {"db_name": "shop", "question": "Question number 0?", "occurrence": 1, "category": "date"}
    ]
    assert report["fixed"] == []


def test_compare_leaves_out_questions_whose_gold_failed(tmp_path):
    baseline, candidate = paired_rows(10, both=5, broke=0, fixed=0)
    baseline[0]["gold_error"] = "gold timed out"
    candidate[9]["gold_error"] = "gold timed out"
    code, report, _ = compare(tmp_path, baseline, candidate)
    assert code == 0
    assert report["n"] == 8 and report["excluded_gold_errors"] == 2
    assert report["baseline"]["accuracy"] == pytest.approx(4 / 8)


def one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_compare_refuses_different_question_sets(tmp_path):
    baseline, candidate = paired_rows(10, both=5, broke=0, fixed=0)
    base = write_run(tmp_path / "base.csv", baseline)
    assert "different question sets" in one_line_error(
        run_cli("compare", base, write_run(tmp_path / "c1.csv", candidate[:-1]))
    )
    extra = [*candidate, question_row(0, correct=1)]  # question 0 twice
    line = one_line_error(run_cli("compare", base, write_run(tmp_path / "c2.csv", extra)))
    assert "1 question(s)" in line and "occurrence 2" in line
    changed = [dict(r) for r in candidate]
    changed[3]["query"] = "SELECT 3 AS y FROM t"
    line = one_line_error(run_cli("compare", base, write_run(tmp_path / "c3.csv", changed)))
    assert "gold SQL differs" in line and "Question number 3?" in line


def test_compare_bad_input_is_one_line_and_exit_2(tmp_path):
    baseline, candidate = paired_rows(4, both=2, broke=0, fixed=0)
    base = write_run(tmp_path / "base.csv", baseline)
    assert "file not found" in one_line_error(run_cli("compare", base, tmp_path / "missing.csv"))
    candidate[1]["correct"] = "yes"
    bad = write_run(tmp_path / "bad.csv", candidate)
    assert "row 3: correct must be 0 or 1" in one_line_error(run_cli("compare", base, bad))
    # A cell over several lines (generated SQL often is) does not shift the row number.
    candidate[0]["generated_query"] = "SELECT -1 AS x\nFROM t\nWHERE true"
    multi = write_run(tmp_path / "multi.csv", candidate)
    assert "row 3: correct must be 0 or 1" in one_line_error(run_cli("compare", base, multi))
    unjudged = [{k: v for k, v in row.items() if k != "correct"} for row in candidate]
    columns = [c for c in RESULT_COLUMNS if c != "correct"]
    no_verdicts = write_run(tmp_path / "nv.csv", unjudged, columns=columns)
    assert "missing required column(s): correct" in one_line_error(run_cli("compare", base, no_verdicts))
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\xff\xfe\x00garbage")
    assert "not a readable CSV" in one_line_error(run_cli("compare", base, broken))
    (tmp_path / "base.json").write_text("{not json")
    assert "summary JSON" in one_line_error(run_cli("compare", base, base))
