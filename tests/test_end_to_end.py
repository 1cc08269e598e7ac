"""Whole runs on the real embedded PostgreSQL: oracle, file runner, outputs, bad input."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE, run_cli, sample_args
from eval.cli import main

OUTPUT_COLUMNS = [
    "generated_query",
    "correct",
    "exact_match",
    "error_db_exec",
    "timeout",
    "error_msg",
    "generation_error",
    "latency_seconds",
    "gold_error",
    "empty_gold",
    "mismatch",
    "prompt_tokens",
    "completion_tokens",
    "truncated",
    "raw_output",
]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_oracle_scores_everything(cache_dir, tmp_path):
    out = tmp_path / "oracle.csv"
    assert main(sample_args(cache_dir, out)) == 0
    rows = read_csv(out)
    assert len(rows) == 12
    assert all(r["correct"] == "1" for r in rows), [r["mismatch"] for r in rows if r["correct"] != "1"]
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["accuracy"] == 1.0 and summary["n"] == 12 and summary["gold_errors"] == 0
    assert summary["by_category"]["where"] == {"accuracy": 1.0, "n": 3}
    assert set(summary["timings"]) == {"setup_s", "generation_s", "evaluation_s", "total_s"}
    assert summary["questions_hash"].startswith("sha256:") and summary["schemas_hash"].startswith("sha256:")


def test_output_csv_keeps_input_columns_then_results(cache_dir, tmp_path):
    out = tmp_path / "oracle.csv"
    assert main(sample_args(cache_dir, out)) == 0
    with out.open(newline="") as handle:
        header = next(csv.reader(handle))
    assert header == [
        "question",
        "query",
        "db_name",
        "query_category",
        "instructions",
        "difficulty",
        *OUTPUT_COLUMNS,
    ]
    first = read_csv(out)[0]
    assert first["difficulty"] == "easy"
    assert first["generated_query"] == "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'"


def test_wrong_predictions_score_wrong(cache_dir, tmp_path):
    out = tmp_path / "wrong.csv"
    code = main(
        ["-r", "file", "--predictions", str(SAMPLE / "wrong_predictions.csv"), *sample_args(cache_dir, out)]
    )
    assert code == 0
    rows = read_csv(out)
    assert [r["correct"] for r in rows] == ["0"] * 12
    drop = rows[10]
    assert drop["error_db_exec"] == "1" and "DROP" in drop["error_msg"]
    descending = rows[3]
    assert descending["mismatch"] == "same rows in a different order"
    json_summary = json.loads(out.with_suffix(".json").read_text())
    assert json_summary["accuracy"] == 0.0 and json_summary["error_rate"] == pytest.approx(1 / 12)


def test_file_runner_evaluates_each_row_as_given(cache_dir, tmp_path):
    rows = read_csv(SAMPLE / "questions.csv")[:1]
    predictions = tmp_path / "preds.csv"
    with predictions.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "generated_query"])
        writer.writeheader()
        for sql in [
            "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'",
            "SELECT COUNT(*) AS lisboetas FROM customers WHERE city = 'Lisbon';",
            "SELECT COUNT(city) FROM customers",
            "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon'; DELETE FROM customers",
        ]:
            writer.writerow({**rows[0], "generated_query": sql})
    out = tmp_path / "preds_out.csv"
    assert main(["-r", "file", "--predictions", str(predictions), *sample_args(cache_dir, out)]) == 0
    verdicts = [(r["correct"], r["error_db_exec"]) for r in read_csv(out)]
    assert verdicts == [("1", "0"), ("1", "0"), ("0", "0"), ("0", "1")]


def test_second_run_uses_gold_cache(cache_dir, tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(sample_args(cache_dir, first)) == 0
    assert main(sample_args(cache_dir, second)) == 0
    execution = json.loads(second.with_suffix(".json").read_text())["execution"]
    assert execution["executed"] == 0
    assert execution["gold_cache_hits"] == execution["distinct_queries"] > 0


def test_gold_failure_is_the_benchmarks_error(cache_dir, tmp_path):
    questions = tmp_path / "q.csv"
    questions.write_text(
        "question,query,db_name,query_category\n"
        "How many customers?,SELECT COUNT(*) FROM customers,shop,where\n"
        "Broken gold,SELECT no_such_column FROM customers,shop,where\n"
    )
    out = tmp_path / "g.csv"
    args = sample_args(cache_dir, out)
    args[1] = str(questions)
    assert main(args) == 0
    rows = read_csv(out)
    assert rows[1]["gold_error"].startswith("gold query failed") and rows[1]["correct"] == "0"
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["n"] == 1 and summary["accuracy"] == 1.0 and summary["gold_errors"] == 1


def test_schema_change_rebuilds_database(cache_dir, tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(SAMPLE / "schemas", schemas)
    questions = tmp_path / "q.csv"
    questions.write_text(
        "question,query,db_name,query_category\nHow many?,SELECT COUNT(*) FROM courses,school,where\n"
    )
    predictions = tmp_path / "p.csv"
    predictions.write_text(
        "question,query,db_name,query_category,generated_query\n"
        "How many?,SELECT COUNT(*) FROM courses,school,where,SELECT 3\n"
    )
    base = ["--schemas", str(schemas), "--cache-dir", str(cache_dir), "--no-progress"]
    out = tmp_path / "r.csv"
    assert main(["-r", "file", "--predictions", str(predictions), "-o", str(out), *base]) == 0
    assert read_csv(out)[0]["correct"] == "1"
    extra = schemas / "school" / "02_more.sql"
    extra.write_text("INSERT INTO courses VALUES ('ART100', 2);\n")
    assert main(["-r", "file", "--predictions", str(predictions), "-o", str(out), *base]) == 0
    assert read_csv(out)[0]["correct"] == "0"  # 4 courses now: the database was rebuilt


def test_defog_style_schema_folder(cache_dir, tmp_path):
    schemas = tmp_path / "defog_data"
    (schemas / "tiny").mkdir(parents=True)
    (schemas / "tiny" / "tiny.sql").write_text(
        "CREATE TABLE t (id integer PRIMARY KEY, label text);\nINSERT INTO t VALUES (1, 'a;b'), (2, 'c');\n"
    )
    (schemas / "tiny" / "tiny.json").write_text('{"ignored": true}')
    (schemas / "__init__.py").write_text("")
    questions = tmp_path / "q.csv"
    questions.write_text("question,query,db_name,query_category\nLabels?,SELECT label FROM t,tiny,where\n")
    out = tmp_path / "d.csv"
    assert (
        main(
            [
                "-q",
                str(questions),
                "--schemas",
                str(schemas),
                "--cache-dir",
                str(cache_dir),
                "-o",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert read_csv(out)[0]["correct"] == "1"


# --------------------------------------------------------------------------- bad input


def bad_questions(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "make_args,expected",
    [
        (
            lambda t: ["-q", str(bad_questions(t, "question,db_name,query_category\nq,shop,where\n"))],
            "missing required column(s): query",
        ),
        (
            lambda t: [
                "-q",
                str(bad_questions(t, "question,query,db_name,query_category\nq,SELECT 1,nowhere,where\n")),
            ],
            "no schema for database 'nowhere'",
        ),
        (lambda t: ["-q", str(t / "absent.csv")], "file not found"),
        (lambda t: ["-r", "orcale"], "Did you mean oracle"),
        (lambda t: ["-r", "file"], "needs --predictions"),
        (
            lambda t: ["-r", "file", "--predictions", str(SAMPLE / "questions.csv")],
            "missing required column: generated_query",
        ),
        (
            lambda t: [
                "-r",
                "file",
                "--predictions",
                str(bad_questions(t, 'question,query\n"unterminated,x\n')),
            ],
            "missing required column",
        ),
        (lambda t: ["-p", "0"], "must be at least 1"),
        (lambda t: ["-t", "abc"], "expected a number"),
        (lambda t: ["--schemas", str(t / "nope")], "schemas directory not found"),
    ],
    ids=[
        "missing-column",
        "unknown-db",
        "missing-file",
        "unknown-runner",
        "file-without-predictions",
        "predictions-without-generated-query",
        "malformed-predictions",
        "bad-parallel",
        "bad-timeout",
        "missing-schemas",
    ],
)
def test_bad_input_is_one_line_and_exit_2(cache_dir, tmp_path, make_args, expected):
    args = make_args(tmp_path)
    defaults = ["-q", str(SAMPLE / "questions.csv"), "--schemas", str(SAMPLE / "schemas")]
    given = {a for a in args if a.startswith("-")}
    for flag, value in zip(defaults[::2], defaults[1::2]):
        if flag not in given:
            args = [flag, value, *args]
    proc = run_cli(*args, "--cache-dir", cache_dir, "-o", tmp_path / "out.csv", "--no-progress")
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_schema_file_that_fails_names_the_file(cache_dir, tmp_path):
    schemas = tmp_path / "schemas"
    (schemas / "broken").mkdir(parents=True)
    (schemas / "broken" / "01.sql").write_text("CREATE TABLE t (id integer);\nINSERT INTO t VALUES ('x');\n")
    questions = bad_questions(tmp_path, "question,query,db_name,query_category\nq,SELECT 1,broken,where\n")
    proc = run_cli("-q", questions, "--schemas", schemas, "--cache-dir", cache_dir, "-o", tmp_path / "o.csv")
    assert proc.returncode == 2
    assert "01.sql failed to load" in proc.stderr and "invalid input syntax" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_console_help_lists_subcommands():
    proc = run_cli("-h", cwd=ROOT)
    assert proc.returncode == 0 and "validate" in proc.stdout
