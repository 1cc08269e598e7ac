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

    # Another question set (one question reworded) into the same file: refused, nothing touched.
    questions = tmp_path / "questions.csv"
    text = (SAMPLE / "questions.csv").read_text()
    questions.write_text(
        text.replace("How many customers live in Lisbon?", "How many customers are in Lisbon?")
    )
    args = sample_args(cache_dir, out)
    args[args.index("-q") + 1] = str(questions)
    journal = out.with_name(out.name + ".generations.jsonl")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["-r", "counting", *args]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {out} holds results over another question set (12 rows; this run: 12); nothing was "
        "changed: choose another -o, or pass --overwrite to replace it"
    ]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert len(counting.generated) == QUESTIONS

    # With --overwrite it runs, and the old journal is set aside.
    assert main(["-r", "counting", "--overwrite", *args]) == 0
    assert "set aside" in capsys.readouterr().err
    assert len(counting.generated) == 2 * QUESTIONS
    first_backup = journal.with_name(journal.name + ".stale")
    assert first_backup.read_bytes() == before[journal.name]

    # A second change sets the next journal aside beside the first, which is kept as it was.
    questions.write_text(text.replace("How many customers live in Lisbon?", "Count the Lisbon customers."))
    assert main(["-r", "counting", "--overwrite", *args]) == 0
    assert "set aside as run.csv.generations.jsonl.2.stale" in capsys.readouterr().err
    assert first_backup.read_bytes() == before[journal.name]
    second_backup = journal.with_name(journal.name + ".2.stale")
    assert len(second_backup.read_text().splitlines()) == 1 + QUESTIONS  # the second run's journal
    assert second_backup.read_bytes() != before[journal.name]


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


def test_a_smaller_question_set_never_replaces_a_results_file(counting, cache_dir, tmp_path, capsys):
    out = tmp_path / "full.csv"
    assert main(["-r", "counting", *sample_args(cache_dir, out)]) == 0
    before = out.read_bytes(), out.with_suffix(".json").read_bytes()
    capsys.readouterr()
    assert main(["-r", "counting", "-n", "3", *sample_args(cache_dir, out)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"error: {out} holds results over another question set (12 rows; this run: 3); nothing was "
        "changed: choose another -o, or pass --overwrite to replace it"
    )
    assert (out.read_bytes(), out.with_suffix(".json").read_bytes()) == before
    # the same questions again replace it (a rerun); --overwrite replaces it with fewer
    assert main(["-r", "counting", *sample_args(cache_dir, out)]) == 0
    assert main(["-r", "counting", "-n", "3", "--overwrite", *sample_args(cache_dir, out)]) == 0
    assert summary_of(out)["n"] == 3


def test_a_file_that_is_not_results_is_not_replaced(counting, cache_dir, tmp_path, capsys):
    out = tmp_path / "notes.csv"
    out.write_text("my,own\nnotes,here\n")
    assert main(["-r", "counting", *sample_args(cache_dir, out)]) == 2
    assert "exists and is not a results file of this harness; nothing was changed" in capsys.readouterr().err
    assert out.read_text() == "my,own\nnotes,here\n"


@pytest.mark.parametrize(
    ("flags", "name"),
    [
        ([], "questions_gen_oracle.csv"),
        (["-n", "3"], "questions_gen_oracle_n3.csv"),
        (["-r", "file", "--predictions", "p/preds.csv"], "preds_file.csv"),
    ],
)
def test_default_output_names_what_tells_runs_apart(flags, name):
    from eval.cli import build_parser, default_output

    assert default_output(build_parser().parse_args(flags)) == Path("results") / name


def test_default_output_of_a_model_runner_hashes_its_generation_settings():
    from eval.cli import build_parser, default_output

    def name(*flags: str) -> str:
        return default_output(build_parser().parse_args(["-r", "hf", "-m", "org/tiny-7b", *flags])).name

    base = name()
    assert base.startswith("questions_gen_hf_tiny-7b_") and len(base) == len("questions_gen_hf_tiny-7b_") + 12
    assert name("-n", "3").startswith("questions_gen_hf_tiny-7b_n3_")
    changed = {
        name(*f) for f in (["--max-new-tokens", "64"], ["-b", "4"], ["-f", "chat"], ["--temperature", "0.7"])
    }
    assert len(changed) == 4 and base not in changed  # each setting gives another name
    assert name("--batch-size", "16") == base  # batching does not change what is generated
