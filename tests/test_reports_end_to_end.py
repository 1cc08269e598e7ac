"""Reports over two real runs of the sample benchmark (oracle and file runners, real Postgres)."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import SAMPLE, run_cli, sample_args


def test_leaderboard_report_and_compare_on_real_runs(cache_dir, tmp_path):
    oracle, wrong = tmp_path / "oracle.csv", tmp_path / "wrong.csv"
    proc = run_cli(*sample_args(cache_dir, oracle))
    assert proc.returncode == 0, proc.stderr
    predictions = SAMPLE / "wrong_predictions.csv"
    proc = run_cli(*sample_args(cache_dir, wrong), "-r", "file", "--predictions", predictions)
    assert proc.returncode == 0, proc.stderr
    with wrong.open(newline="") as handle:
        wrong_rows = list(csv.DictReader(handle))
    n, wrong_correct = len(wrong_rows), sum(r["correct"] == "1" for r in wrong_rows)
    assert n == 12 and wrong_correct < n

    board = tmp_path / "leaderboard.csv"
    proc = run_cli("leaderboard", wrong, oracle, "-o", board)
    assert proc.returncode == 0, proc.stderr
    # the file runner's summary hashes the predictions file, but the questions are the same
    assert "different question sets" not in proc.stderr
    with board.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["run"], r["runner"]) for r in rows] == [("oracle", "oracle"), ("wrong", "file")]
    assert float(rows[0]["accuracy"]) == 1.0 and float(rows[0]["sql_exact_match"]) == 1.0
    assert float(rows[1]["accuracy"]) == pytest.approx(wrong_correct / n, abs=1e-6)
    assert rows[0]["question_set"] == rows[1]["question_set"]
    assert rows[0]["questions_hash"] != rows[1]["questions_hash"]
    errors = sum(r["error_db_exec"] == "1" for r in wrong_rows)
    assert float(rows[1]["error_rate"]) == pytest.approx(errors / n, abs=1e-6)

    report = tmp_path / "report.html"
    proc = run_cli("report", oracle, wrong, "-o", report)
    assert proc.returncode == 0, proc.stderr
    text = report.read_text()
    assert text.count('<tr class="run-row">') == 2
    assert text.count('<tr class="failure">') == n - wrong_correct
    assert "DROP TABLE enrolments" in text  # a failed prediction, with its error
    assert "not a query" in text

    proc = run_cli("compare", oracle, wrong, "--json")
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["mcnemar"]["b"] == n - wrong_correct and result["mcnemar"]["c"] == 0
    assert result["mcnemar"]["direction"] == "candidate worse"
    assert run_cli("compare", oracle, oracle).returncode == 0
    assert run_cli("compare", wrong, oracle).returncode == 0
