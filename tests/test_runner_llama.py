"""The ``llama-cpp`` runner on a tiny random-weight GGUF written by the test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="needs the llama-cpp extra: pip install '.[llama-cpp]'")

import llama_cpp

from conftest import SAMPLE, run_cli, sample_args
from runners import load_runner
from runners.base import GenerationRequest, RunnerConfig, RunnerError
from runners.llama_cpp import LlamaCppRunner, stop_sequences
from tiny_llama import CHAT_TEMPLATE, SQL_TEXTS, UTF8_OVERRUN, cli_rows, write_tiny_gguf

MAX_NEW = 8
N_CTX = 256


@pytest.fixture(scope="module")
def base_gguf(tmp_path_factory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "base.gguf")


@pytest.fixture(scope="module")
def chat_gguf(tmp_path_factory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "chat.gguf", chat_template=CHAT_TEMPLATE)


def config(path: Path, **extra) -> RunnerConfig:
    return RunnerConfig(model=str(path), max_new_tokens=MAX_NEW, extra={"n_ctx": N_CTX, **extra})


def request(i: int, text: str | None = None) -> GenerationRequest:
    text = text or f"-- question {i}: the most expensive products\nSELECT"
    return GenerationRequest(key=str(i), prompt=text, messages=({"role": "user", "content": text},))


def test_the_tiny_vocabulary_round_trips_and_merges(base_gguf):
    llm = llama_cpp.Llama(model_path=str(base_gguf), n_ctx=N_CTX, verbose=False)
    try:
        for text in SQL_TEXTS[:3]:
            tokens = llm.tokenize(text.encode(), add_bos=False)
            # SentencePiece prefixes a space; detokenizing without <s> keeps it
            assert llm.detokenize(tokens).decode().removeprefix(" ") == text
            assert len(tokens) < len(text) / 2  # words merged into pieces, not characters
    finally:
        llm.close()


def test_completion_style_generates_every_item(base_gguf):
    batch = [request(i) for i in range(3)]
    runner_cls = load_runner("llama-cpp")
    assert runner_cls is LlamaCppRunner
    with runner_cls(config(base_gguf)) as runner:
        assert runner.describe()["style"] == "completion"
        prompt_length = len(runner.llm.tokenize(batch[0].prompt.encode()))
        results = list(runner.generate(batch))
    assert [i for i, _ in results] == [0, 1, 2]
    for _, generation in results:
        assert generation.error is None
        assert generation.latency_s > 0
        assert 1 <= (generation.completion_tokens or 0) <= MAX_NEW + UTF8_OVERRUN
        assert isinstance(generation.text, str)
        # llama.cpp says why it stopped: the budget, or EOS / a stop string before it.
        used = generation.completion_tokens or 0
        assert generation.finish_reason == ("length" if used >= MAX_NEW else "stop")
        assert generation.truncated is (generation.finish_reason == "length")
    assert results[0][1].prompt_tokens == prompt_length


def test_greedy_decoding_is_repeatable(base_gguf):
    texts = []
    for _ in range(2):
        with LlamaCppRunner(config(base_gguf, seed=123 + len(texts))) as runner:
            [(_, generation)] = runner.generate([request(0)])
            texts.append(generation.text)
    assert texts[0] == texts[1] and texts[0] != ""


def test_chat_template_in_the_file_selects_chat_style(chat_gguf):
    batch = [request(0)]
    with LlamaCppRunner(config(chat_gguf)) as runner:
        assert runner.describe()["style"] == "chat"
        text, tokens = runner.render(batch[0])
        [(_, generation)] = runner.generate(batch)
    assert text == f"<|user|>\n{batch[0].prompt}\n<|assistant|>\n"  # the template's turns
    assert generation.error is None
    assert generation.prompt_tokens == len(tokens)


def test_a_prefill_is_continued_not_closed(chat_gguf, base_gguf):
    prefill = GenerationRequest(
        key="p",
        prompt="Which products are the most expensive?\n```sql\nSELECT",
        messages=(
            {"role": "user", "content": "Which products are the most expensive?"},
            {"role": "assistant", "content": "```sql\nSELECT"},
        ),
    )
    with LlamaCppRunner(config(chat_gguf)) as runner:
        text, _ = runner.render(prefill)
        [(_, generation)] = runner.generate([prefill])
    assert text.endswith("<|assistant|>\n```sql\nSELECT")  # no end of turn after it
    assert stop_sequences(text) == ["\n```"]
    assert generation.error is None
    with LlamaCppRunner(config(base_gguf)) as runner:  # no template: the plain prompt
        assert runner.render(prefill)[0] == prefill.prompt


def test_a_system_message_is_folded_into_a_template_that_refuses_it(tmp_path):
    strict = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
    path = write_tiny_gguf(tmp_path / "strict.gguf", chat_template=strict + CHAT_TEMPLATE)
    system = GenerationRequest(
        key="s",
        prompt="p",
        messages=({"role": "system", "content": "SQL only."}, {"role": "user", "content": "Count orders."}),
    )
    with LlamaCppRunner(config(path)) as runner:
        text, _ = runner.render(system)
        [(_, generation)] = runner.generate([system])
    assert text == "<|user|>\nSQL only.\n\nCount orders.\n<|assistant|>\n"
    assert generation.error is None


def test_a_template_that_always_refuses_is_an_item_error(tmp_path):
    path = write_tiny_gguf(tmp_path / "refusing.gguf", chat_template="{{ raise_exception('not today') }}")
    with LlamaCppRunner(config(path)) as runner:
        [(_, generation)] = runner.generate([request(0)])
    assert generation.error is not None and "not today" in generation.error


def test_prompt_over_the_context_window_is_an_item_error(base_gguf):
    too_long = " ".join(SQL_TEXTS) * 4
    with LlamaCppRunner(config(base_gguf)) as runner:
        results = dict(runner.generate([request(0), request(1, too_long), request(2)]))
    assert results[1].error is not None and "context" in results[1].error
    assert results[0].error is None and results[2].error is None


def test_missing_file_is_a_runner_error(tmp_path):
    with pytest.raises(RunnerError, match="not found"):
        LlamaCppRunner(config(tmp_path / "nope.gguf"))


def test_non_gguf_file_is_a_runner_error(tmp_path):
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(RunnerError, match="not a GGUF"):
        LlamaCppRunner(config(fake))


def test_truncated_gguf_is_a_runner_error(base_gguf, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(base_gguf.read_bytes()[:2000])
    with pytest.raises(RunnerError, match="could not load"):
        LlamaCppRunner(config(broken))


def test_no_model_is_a_runner_error():
    with pytest.raises(RunnerError, match="-m PATH.gguf"):
        LlamaCppRunner(RunnerConfig())


@pytest.mark.parametrize(
    ("prompt", "stops"),
    [
        ("Write the SQL.\n```sql\n", ["\n```"]),
        ("Schema:\n```sql\nCREATE TABLE t (a int);\n```\nAnswer:", []),
        ("Schema:\n```\nt(a)\n```\nAnswer:\n```sql\n", ["\n```"]),
        ("SELECT", []),
        ("Reply inside a ```sql code block.\nQuestion: q", []),
        ("<|assistant|>\n```sql\nSELECT", ["\n```"]),
    ],
)
def test_stop_at_the_closing_fence_only_when_one_is_open(prompt, stops):
    assert stop_sequences(prompt) == stops


def test_a_temperature_samples_by_seed(base_gguf):
    def text(seed: int) -> str:
        with LlamaCppRunner(config(base_gguf, temperature=1.5, seed=seed)) as runner:
            [(_, generation)] = runner.generate([request(0)])
        return generation.text

    assert text(1) == text(1)  # the seed makes sampling repeatable
    assert text(1) != text(2)


# -- through the command line ----------------------------------------------------------


def test_cli_missing_model_file_is_one_line_and_exit_2(cache_dir, tmp_path):
    proc = run_cli(
        "-r", "llama-cpp", "-m", tmp_path / "absent.gguf", *sample_args(cache_dir, tmp_path / "r.csv")
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: model file not found: {tmp_path / 'absent.gguf'}"]


def test_cli_end_to_end(cache_dir, base_gguf, tmp_path):
    out = tmp_path / "llama.csv"
    args = ["-r", "llama-cpp", "-m", base_gguf, "--n-ctx", "2048", "--max-new-tokens", "24"]
    proc = run_cli(*args, *sample_args(cache_dir, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in cli_rows(out, SAMPLE / "questions.csv"):
        assert not row["error_msg"].startswith("generation failed"), row["error_msg"]
        assert row["correct"] == "0"  # random weights write junk: wrong, not a crash
        assert int(row["prompt_tokens"]) > 100  # the schema is in the prompt
        assert 1 <= int(row["completion_tokens"]) <= 24 + UTF8_OVERRUN
        assert float(row["latency_seconds"]) > 0


def test_cli_prompts_over_the_context_are_generation_errors_and_exit_3(cache_dir, base_gguf, tmp_path):
    out = tmp_path / "small.csv"
    proc = run_cli("-r", "llama-cpp", "-m", base_gguf, "--n-ctx", "512", *sample_args(cache_dir, out))
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: 12 of 12 generations failed (12 context overflow), more than --max-generation-errors 0:"
        )
    )
    for row in cli_rows(out, SAMPLE / "questions.csv"):
        assert row["correct"] == "0"
        assert re.fullmatch(
            r"context overflow: llama\.cpp: Requested tokens \(\d+\) exceed context window of 512",
            row["generation_error"],
        ), row["generation_error"]
    summary = json.loads(out.with_suffix(".json").read_text())
    assert (summary["accuracy"], summary["n"], summary["generation_error_rate"]) == (0.0, 12, 1.0)
    assert summary["generation_error_kinds"] == {"context overflow": 12}
    assert summary["runner_options"]["n_ctx"] == 512 and summary["runner_resolved"]["n_ctx"] == 512
    assert summary["runner_resolved"]["style"] == "completion"
    assert summary["versions"]["llama_cpp"] == llama_cpp.__version__
    # told on stdout too, under the table
    assert "note: 12 of 12 generation(s) failed (12 context overflow)" in proc.stdout


def test_cli_prompt_prints_what_the_run_sent_and_samples_record_it(cache_dir, base_gguf, tmp_path):
    out, samples = tmp_path / "llama.csv", tmp_path / "samples.jsonl"
    common = ["-r", "llama-cpp", "-m", base_gguf, "--n-ctx", "2048", "--max-new-tokens", "8", "-n", "2"]
    proc = run_cli(*common, "--log-samples", samples, *sample_args(cache_dir, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = [json.loads(line) for line in samples.read_text().splitlines()]
    rows = cli_rows(out, SAMPLE / "questions.csv", limit=2)
    assert [s["raw_output"] for s in sent] == [r["raw_output"] for r in rows]
    assert all(s["raw_output"] and s["finish_reason"] in ("stop", "length") for s in sent)

    shown = run_cli("prompt", *common, *sample_args(cache_dir, tmp_path / "unused.csv"))
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert not (tmp_path / "unused.csv").exists()
    # a base GGUF gets the one joined text: printed as the run sent it, prefill included
    for sample in sent:
        assert sample["prompt"].endswith("```sql\nSELECT") and f"\n{sample['prompt']}\n" in shown.stdout
    assert "note: shown as the one text llama-cpp sends a model without a chat template" in shown.stderr
