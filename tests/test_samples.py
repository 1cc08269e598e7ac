"""What the model was asked and said: the raw_output column, --log-samples, ``main.py prompt``.

A small echo runner, registered like any other, answers each question the way chat
models write (prose around a code fence holding the gold query) and records the prompts
it was sent, so the samples file and the ``prompt`` command can be checked against what a
run really sends. The llama-cpp runner on a tiny GGUF checks the same through the CLI.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from conftest import ROOT, run_cli, sample_args
from eval.cli import main
from runners import REGISTRY
from runners.base import Generation, GenerationRequest, Runner


class EchoRunner(Runner):
    name = "echo"
    chat = True
    sent: list[GenerationRequest] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        for index, request in enumerate(requests):
            type(self).sent.append(request)
            if request.fields.get("query_category") == "ratio":  # one kind of failure, as data
                yield index, Generation(text="", error="HTTP 400: too long", error_kind="context overflow")
                continue
            yield (
                index,
                Generation(
                    text=f"Here it is:\n```sql\n{request.gold_query};\n```\nDone.",
                    beams=("first", "second"),
                    finish_reason="stop",
                    prompt_tokens=7,
                    completion_tokens=3,
                ),
            )


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setitem(REGISTRY, "echo", (f"{__name__}:EchoRunner", None))
    monkeypatch.setattr(EchoRunner, "sent", [])
    return EchoRunner


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_samples_hold_prompt_raw_output_sql_and_verdict(echo, cache_dir, tmp_path):
    out, samples = tmp_path / "echo.csv", tmp_path / "samples.jsonl"
    args = ["-r", "echo", "--log-samples", str(samples), "--max-generation-errors", "1.0"]
    assert main([*args, *sample_args(cache_dir, out)]) == 0
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    rows = read_csv(out)
    assert len(lines) == len(rows) == len(echo.sent) == 12
    by_index = {request.key.split(":")[0]: request for request in echo.sent}
    for i, (sample, row) in enumerate(zip(lines, rows)):
        sent = by_index[str(i)]
        assert (sample["index"], sample["question"], sample["db_name"]) == (
            i,
            row["question"],
            row["db_name"],
        )
        assert sample["prompt"] == sent.prompt  # the very text the runner was given
        assert sample["messages"] == [dict(m) for m in sent.messages]
        assert sample["messages"][-1]["role"] == "user" and sample["prefill"] == ""  # the chat template
        assert sample["raw_output"] == row["raw_output"]
        assert sample["generated_query"] == row["generated_query"]
        assert str(sample["correct"]) == row["correct"] and sample["mismatch"] == row["mismatch"]
        if row["query_category"] == "ratio":
            assert sample["generation_error"] == "context overflow: HTTP 400: too long"
            assert (sample["raw_output"], sample["correct"], sample["beams"]) == ("", 0, [])
        else:
            assert sample["raw_output"] == f"Here it is:\n```sql\n{sent.gold_query};\n```\nDone."
            assert sample["generated_query"] == sent.gold_query  # extracted from the fence
            assert (sample["beams"], sample["finish_reason"], sample["prompt_tokens"]) == (
                ["first", "second"],
                "stop",
                7,
            )
    assert sum(s["correct"] for s in lines) == 10  # 12 questions, 2 of them ratio


def test_prompt_prints_what_a_run_sends_without_running_it(echo, cache_dir, tmp_path, capsys):
    assert main(["prompt", "-r", "echo", "-n", "3", *sample_args(cache_dir, tmp_path / "x.csv")]) == 0
    printed = capsys.readouterr().out
    assert echo.sent == []  # no model was asked anything
    assert not (tmp_path / "x.csv").exists()
    assert printed.count("===== row ") == 3
    assert printed.startswith(
        "===== row 2 (db_name='shop'): How many customers live in Lisbon?\n----- system\n"
    )
    assert main(["-r", "echo", "-n", "3", *sample_args(cache_dir, tmp_path / "run.csv")]) == 0
    for request in echo.sent:
        for message in request.messages:
            assert f"----- {message['role']}\n{message['content']}\n" in printed


def test_prompt_for_a_runner_without_prompts_is_one_line_and_exit_2(cache_dir, tmp_path):
    proc = run_cli("prompt", "-r", "oracle", *sample_args(cache_dir, tmp_path / "x.csv"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: runner 'oracle' sends no prompt; choose a model runner with -r"
    ]


def test_raw_output_of_the_oracle_is_its_sql(cache_dir, tmp_path):
    out = tmp_path / "oracle.csv"
    assert main(["-n", "2", *sample_args(cache_dir, out)]) == 0
    for row in read_csv(out):
        assert row["raw_output"] == row["generated_query"] != ""


def test_summary_names_the_template_and_examples_by_hash(echo, cache_dir, tmp_path):
    shots = tmp_path / "shots.csv"
    shots.write_text("question,query\nHow many products are there?,SELECT COUNT(*) FROM products\n")
    out = tmp_path / "shots.csv.out.csv"
    assert main(["-r", "echo", "-n", "2", "--few-shot", str(shots), *sample_args(cache_dir, out)]) == 0
    prompt = json.loads(out.with_suffix(".json").read_text())["prompt"]
    assert prompt["few_shot_file"] == str(shots)
    assert prompt["few_shot_sha256"] == hashlib.sha256(shots.read_bytes()).hexdigest()
    chat = (ROOT / "eval" / "prompts" / "chat.txt").read_text()
    assert (prompt["template"], prompt["template_sha256"]) == (
        "chat",
        hashlib.sha256(chat.encode()).hexdigest(),
    )
