"""The generation stage through the CLI with a small counting runner (no model needed).

The runner is registered through the runner registry like any other. It answers each
question with its gold query wrapped the way chat models write (prose and a code fence),
so the run also shows extraction working end to end, and it counts what it generates,
so resume can be checked exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE, sample_args
from eval.cli import main
from runners import REGISTRY
from runners.base import Generation, GenerationRequest, Runner

QUESTIONS = 12


class CountingRunner(Runner):
    name = "counting"
    generated: list[str] = []
    prompts: list[str] = []
    interrupt_after: int | None = None
    failing: set[str] = set()

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        for index, request in enumerate(requests):
            if self.interrupt_after is not None and len(self.generated) >= self.interrupt_after:
                raise KeyboardInterrupt
            type(self).generated.append(request.key)
            type(self).prompts.append(request.prompt)
            if request.key.split(":")[0] in self.failing:  # keys are "index:prompt digest"
                yield index, Generation(text="", error="rate limited: retries exhausted")
                continue
            yield index, Generation(text=f"Sure, here it is:\n```sql\n{request.gold_query};\n```\nIt counts.")


@pytest.fixture
def counting(monkeypatch):
    monkeypatch.setitem(REGISTRY, "counting", (f"{__name__}:CountingRunner", None))
    monkeypatch.setattr(CountingRunner, "generated", [])
    monkeypatch.setattr(CountingRunner, "prompts", [])
    monkeypatch.setattr(CountingRunner, "interrupt_after", None)
    monkeypatch.setattr(CountingRunner, "failing", set())
    return CountingRunner


def journal_of(out: Path) -> list[dict]:
    path = out.with_name(out.name + ".generations.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def summary_of(out: Path) -> dict:
    return json.loads(out.with_suffix(".json").read_text())


def test_generations_are_extracted_journaled_and_reused(counting, cache_dir, tmp_path, capsys):
    out = tmp_path / "run.csv"
    assert main(["-r", "counting", *sample_args(cache_dir, out)]) == 0
    assert len(counting.generated) == QUESTIONS
    summary = summary_of(out)
    assert summary["accuracy"] == 1.0  # the gold came back out of the prose and the fence
    assert summary["prompt_file"] == "default"
    assert len(journal_of(out)) == 1 + QUESTIONS

    assert main(["-r", "counting", *sample_args(cache_dir, out)]) == 0
    assert len(counting.generated) == QUESTIONS  # nothing generated again
    assert summary_of(out)["execution"]["resumed_generations"] == QUESTIONS
    assert summary_of(out)["accuracy"] == 1.0

    # Another question set (one question reworded): the old journal is set aside.
    questions = tmp_path / "questions.csv"
    text = (SAMPLE / "questions.csv").read_text()
    questions.write_text(
        text.replace("How many customers live in Lisbon?", "How many customers are in Lisbon?")
    )
    args = sample_args(cache_dir, out)
    args[args.index("-q") + 1] = str(questions)
    capsys.readouterr()
    assert main(["-r", "counting", *args]) == 0
    assert "set aside" in capsys.readouterr().err
    assert len(counting.generated) == 2 * QUESTIONS
    assert out.with_name(out.name + ".generations.jsonl.stale").exists()


def test_interrupted_generation_resumes_where_it_stopped(counting, cache_dir, tmp_path):
    out = tmp_path / "interrupted.csv"
    counting.interrupt_after = 5
    assert main(["-r", "counting", *sample_args(cache_dir, out)]) == 130
    assert len(journal_of(out)) == 1 + 5 and not out.exists()

    counting.interrupt_after = None
    assert main(["-r", "counting", *sample_args(cache_dir, out)]) == 0
    assert len(counting.generated) == QUESTIONS  # 5 before, the 7 missing after
    assert len(set(counting.generated)) == QUESTIONS
    assert summary_of(out)["execution"]["resumed_generations"] == 5


def test_template_change_regenerates(counting, cache_dir, tmp_path):
    out = tmp_path / "templates.csv"
    assert main(["-r", "counting", "-n", "3", *sample_args(cache_dir, out)]) == 0
    template = tmp_path / "mine.txt"
    template.write_text((ROOT / "eval" / "prompts" / "plain.txt").read_text() + "\n")
    assert main(["-r", "counting", "-n", "3", "-f", str(template), *sample_args(cache_dir, out)]) == 0
    assert len(counting.generated) == 6
    assert summary_of(out)["prompt_file"] == str(template)


def test_few_shot_examples_reach_the_prompt(counting, cache_dir, tmp_path, capsys):
    shots = tmp_path / "shots.csv"
    shots.write_text(
        "question,query,db_name\nHow many products are there?,SELECT COUNT(*) FROM products,shop\n"
    )
    out = tmp_path / "shots_run.csv"
    assert main(["-r", "counting", "-n", "2", "--few-shot", str(shots), *sample_args(cache_dir, out)]) == 0
    assert all(
        "### Worked examples\nQuestion: How many products are there?\nSQL: SELECT" in p
        for p in counting.prompts
    )

    capsys.readouterr()
    assert (
        main(["-r", "counting", "--few-shot", str(tmp_path / "missing.csv"), *sample_args(cache_dir, out)])
        == 2
    )
    assert "missing.csv" in capsys.readouterr().err


def test_failed_generations_are_retried_on_rerun(counting, cache_dir, tmp_path):
    out = tmp_path / "failing.csv"
    counting.failing = {"0", "3"}
    assert main(["-r", "counting", *sample_args(cache_dir, out)]) == 3  # generations failed
    first = summary_of(out)
    assert first["accuracy"] == pytest.approx((QUESTIONS - 2) / QUESTIONS)
    assert first["generation_errors"] == 2

    counting.failing = set()
    assert main(["-r", "counting", *sample_args(cache_dir, out)]) == 0
    assert len(counting.generated) == QUESTIONS + 2  # only the two failures again
    assert sorted(key.split(":")[0] for key in counting.generated[QUESTIONS:]) == ["0", "3"]
    assert summary_of(out)["execution"]["resumed_generations"] == QUESTIONS - 2
    assert summary_of(out)["accuracy"] == 1.0


def test_template_without_instructions_is_refused_before_setup(counting, tmp_path, capsys):
    template = tmp_path / "bare.txt"
    template.write_text("Question: {question}\nTables:\n{table_metadata}\nSELECT")
    cache = tmp_path / "fresh-cache"
    args = sample_args(cache, tmp_path / "bare.csv")
    assert main(["-r", "counting", "-f", str(template), *args]) == 2
    assert "has no {instructions} placeholder" in capsys.readouterr().err
    assert counting.generated == []
    assert not (cache / "pgdata").exists()  # refused before the embedded server started


def test_beams_on_a_runner_without_beam_search_are_flagged(counting, cache_dir, tmp_path, capsys):
    out = tmp_path / "beams.csv"
    assert main(["-r", "counting", "-n", "2", "-b", "3", *sample_args(cache_dir, out)]) == 0
    assert "-b 3: the counting runner has no beam search; it decodes greedily" in capsys.readouterr().err
