"""Faults mid-run: the embedded server dies; the harness itself is SIGKILLed."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SAMPLE, wait_for

N_SLOW = 40


def slow_predictions(path: Path, sleep_s: float) -> Path:
    """N_SLOW distinct right answers to one question, each taking ``sleep_s`` to run."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "query", "db_name", "query_category", "generated_query"])
        for i in range(N_SLOW):
            sql = (
                f"WITH pause AS (SELECT pg_sleep({sleep_s})) /* {i} */ "
                "SELECT COUNT(*) FROM customers, pause WHERE city = 'Lisbon'"
            )
            writer.writerow(
                [
                    "How many customers live in Lisbon?",
                    "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'",
                    "shop",
                    "where",
                    sql,
                ]
            )
    return path


def start_run(predictions: Path, cache_dir: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "-r",
            "file",
            "--predictions",
            str(predictions),
            "--schemas",
            str(SAMPLE / "schemas"),
            "--cache-dir",
            str(cache_dir),
            "-o",
            str(out),
            "-p",
            "2",
            "--no-progress",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def journal_lines(out: Path) -> int:
    journal = out.with_name(out.name + ".evaluated.jsonl")
    return len(journal.read_text().splitlines()) - 1 if journal.exists() else 0


def test_server_killed_mid_run_every_question_gets_a_verdict(tmp_path):
    cache = tmp_path / "own-cache"  # a server of its own: this test kills it
    out = tmp_path / "killed.csv"
    proc = start_run(slow_predictions(tmp_path / "p.csv", 0.1), cache, out)
    try:
        wait_for(lambda: journal_lines(out) >= 5)
        postmaster = int((cache / "pgdata" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    rows = list(csv.DictReader(out.open(newline="")))
    assert len(rows) == N_SLOW
    # Queries cut off by the crash were retried on the restarted server.
    assert [r["correct"] for r in rows] == ["1"] * N_SLOW, [
        r["error_msg"] for r in rows if r["correct"] != "1"
    ]
    assert "connection lost" in stderr


def test_sigkilled_run_resumes_without_repeating_work(cache_dir, tmp_path):
    out = tmp_path / "resumed.csv"
    predictions = slow_predictions(tmp_path / "p.csv", 0.05)
    first = start_run(predictions, cache_dir, out)
    try:
        wait_for(lambda: journal_lines(out) >= 10)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    finished = journal_lines(out)
    assert 10 <= finished < N_SLOW
    assert not out.exists()  # no half-written results file

    second = start_run(predictions, cache_dir, out)
    _, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr
    summary = json.loads(out.with_suffix(".json").read_text())
    execution = summary["execution"]
    assert execution["resumed_rows"] == finished
    # Only the unfinished predictions ran again (plus the one gold query, or its cache).
    assert execution["executed"] <= N_SLOW - finished + 1
    assert summary["n"] == N_SLOW and summary["accuracy"] == 1.0
    assert not out.with_name(out.name + ".evaluated.jsonl").exists()


def test_changed_predictions_do_not_reuse_a_stale_journal(cache_dir, tmp_path):
    out = tmp_path / "stale.csv"
    journal = out.with_name(out.name + ".evaluated.jsonl")
    journal.write_text('{"fingerprint": "something else"}\n{"key": "0:x", "value": {}}\n')
    predictions = tmp_path / "p.csv"
    predictions.write_text(
        "question,query,db_name,query_category,generated_query\n"
        "Q,SELECT COUNT(*) FROM orders,shop,where,SELECT COUNT(*) FROM orders\n"
    )
    proc = start_run(predictions, cache_dir, out)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["execution"]["resumed_rows"] == 0 and summary["accuracy"] == 1.0
    assert journal.with_name(journal.name + ".stale").exists()
