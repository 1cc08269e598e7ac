"""The hf runner on a real tiny Llama (random weights, tokenizer trained in the test).

End to end through ``python main.py -r hf``, resume after SIGKILL, and the runner's
batching, device/dtype choice, out-of-memory splitting and missing-extra message.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlglot

from conftest import ROOT, SAMPLE, run_cli, sample_args
from eval import __version__
from eval.evaluate import NO_SQL_MESSAGE
from runners.base import OUT_OF_MEMORY, GenerationRequest, RunnerConfig, RunnerError
from runners.chat_prompt import CLOSING_FENCE

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from runners.hf import HFRunner, choose_device, choose_dtype, left_pad, plan_batches  # noqa: E402
from tiny_hf import build_fence_writer, build_tiny_llama, build_tokenizer, cache_as_hub_model  # noqa: E402

QUESTIONS = 12  # rows of tests/fixtures/sample/questions.csv


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def journal_lines(out: Path) -> list[dict]:
    path = out.with_name(out.name + ".generations.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def hf_args(model: Path, cache_dir: Path, out: Path, *extra: str) -> list[str]:
    return ["-r", "hf", "-m", str(model), "--max-new-tokens", "12", *extra, *sample_args(cache_dir, out)]


# --------------------------------------------------------------------------- end to end


def test_end_to_end_beams_journal_and_resume(tiny_model, cache_dir, tmp_path):
    out = tmp_path / "hf.csv"
    first = run_cli(*hf_args(tiny_model, cache_dir, out, "-b", "2", "--batch-size", "4"))
    assert first.returncode == 0, first.stderr[-2000:]
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == QUESTIONS
    # Junk SQL from random weights: recorded as an error or a wrong answer, never a crash.
    assert all(r["correct"] == "0" for r in rows)
    assert all(
        r["error_db_exec"] == "1"
        or r["mismatch"]
        or r["truncated"] == "1"
        or r["error_msg"] == NO_SQL_MESSAGE
        for r in rows
    )
    assert all(int(r["prompt_tokens"]) > 50 and 0 <= int(r["completion_tokens"]) <= 12 for r in rows)

    lines = journal_lines(out)
    assert "fingerprint" in lines[0] and len(lines) == 1 + QUESTIONS
    entries = [line["value"] for line in lines[1:]]
    assert sorted(int(line["key"].split(":")[0]) for line in lines[1:]) == list(range(QUESTIONS))
    assert all(len(e["beams"]) == 2 and e["beams"][0] == e["text"] for e in entries)
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["execution"]["resumed_generations"] == 0
    assert summary["prompt_file"] == "default" and summary["num_beams"] == 2
    # every setting, and the one line saying where it ran
    assert [line for line in first.stderr.splitlines() if line.startswith("hf: ")] == [
        f"hf: {tiny_model} on cpu as float32"
    ]
    options = summary["runner_options"]
    assert (options["num_beams"], options["batch_size"], options["max_new_tokens"]) == (2, 4, 12)
    assert (options["device"], options["dtype"], options["temperature"]) == (None, None, 0.0)
    resolved = summary["runner_resolved"]
    assert (resolved["device"], resolved["dtype"], resolved["model"]) == ("cpu", "float32", str(tiny_model))
    default_text = (ROOT / "eval" / "prompts" / "default.txt").read_text()
    assert summary["prompt"]["template"] == "default"
    assert summary["prompt"]["template_sha256"] == hashlib.sha256(default_text.encode()).hexdigest()
    versions = summary["versions"]
    assert versions["engine"].startswith("PostgreSQL ") and versions["sqlharness"] == __version__
    assert (versions["torch"], versions["transformers"]) == (torch.__version__, transformers.__version__)
    assert (
        versions["sqlglot"] == sqlglot.__version__
        and "openai" not in versions
        and "llama_cpp" not in versions
    )

    again = run_cli(*hf_args(tiny_model, cache_dir, out, "-b", "2", "--batch-size", "3"))
    assert again.returncode == 0, again.stderr[-2000:]
    assert journal_lines(out) == lines  # nothing regenerated, nothing appended
    assert json.loads(out.with_suffix(".json").read_text())["execution"]["resumed_generations"] == QUESTIONS


def test_answers_cut_by_the_token_limit_are_flagged_and_not_run(tiny_model, cache_dir, tmp_path):
    out = tmp_path / "cut.csv"
    proc = run_cli(*hf_args(tiny_model, cache_dir, out, "--max-new-tokens", "3"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    entries = {int(line["key"].split(":")[0]): line["value"] for line in journal_lines(out)[1:]}
    assert {e["finish_reason"] for e in entries.values()} == {"length"}  # random weights: no EOS in 3
    truncated = [r for r in rows if r["truncated"] == "1"]
    assert truncated, "3 tokens of junk after ```sql SELECT never end a query"
    for row in truncated:
        assert row["correct"] == "0" and row["error_db_exec"] == "0"
        assert "--max-new-tokens" in row["error_msg"]
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["truncated_rate"] == pytest.approx(len(truncated) / len(rows))
    assert "cut off by the token limit" in proc.stdout


def test_sigkill_mid_generation_loses_nothing(tiny_model, cache_dir, tmp_path):
    out = tmp_path / "killed.csv"
    journal = out.with_name(out.name + ".generations.jsonl")
    args = hf_args(tiny_model, cache_dir, out, "--batch-size", "1", "--max-new-tokens", "48")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and len(journal.read_text().splitlines()) >= 4:  # header + 3
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = [json.loads(line) for line in journal.read_text().splitlines() if line.endswith("}")]
    assert 4 <= len(before) < 1 + QUESTIONS

    resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = journal_lines(out)
    assert after[: len(before)] == before  # what was generated before the kill is kept as is
    assert len({line["key"] for line in after[1:]}) == QUESTIONS == len(after) - 1  # none twice
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["execution"]["resumed_generations"] == len(before) - 1


@pytest.mark.parametrize("offline", ["1", ""])
def test_a_hub_id_in_the_local_cache_runs_without_the_hub(tiny_model, cache_dir, tmp_path, offline):
    """Offline mode, or a hub that cannot be reached (nothing listens there): the copy in
    the Hugging Face cache is used, without waiting on the hub."""
    cache_as_hub_model(tiny_model, tmp_path / "hub", "tiny-org/tiny-llama")
    env = {
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HUB_OFFLINE": offline,
        "TRANSFORMERS_OFFLINE": "",
        "HF_ENDPOINT": "http://127.0.0.1:9",  # the discard port: connection refused
    }
    out = tmp_path / "cached.csv"
    args = ["-r", "hf", "-m", "tiny-org/tiny-llama", "--max-new-tokens", "4", "-n", "2"]
    start = time.monotonic()
    proc = run_cli(*args, *sample_args(cache_dir, out), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert time.monotonic() - start < 60  # not minutes of retries per file
    lines = proc.stderr.strip().splitlines()
    # The hf runner says which device and dtype it chose: one line, not a warning.
    assert [line for line in lines if line.startswith("hf: ")] == [
        "hf: tiny-org/tiny-llama on cpu as float32"
    ]
    lines = [line for line in lines if not line.startswith("hf: ")]
    if offline:
        assert lines == []
    else:
        [warned] = lines
        assert warned.startswith("WARNING: http://127.0.0.1:9 did not answer (")
        assert warned.endswith("refused); using the copy of tiny-org/tiny-llama in the Hugging Face cache")
    assert json.loads(out.with_suffix(".json").read_text())["model"] == "tiny-org/tiny-llama"
    assert len(journal_lines(out)) == 1 + 2


def test_changed_options_set_the_journal_aside(tiny_model, cache_dir, tmp_path):
    out = tmp_path / "changed.csv"
    assert run_cli(*hf_args(tiny_model, cache_dir, out, "-n", "2")).returncode == 0
    changed = run_cli(*hf_args(tiny_model, cache_dir, out, "-n", "2", "-f", "plain"))
    assert changed.returncode == 0, changed.stderr[-2000:]
    assert "set aside" in changed.stderr
    assert out.with_name(out.name + ".generations.jsonl.stale").exists()
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["execution"]["resumed_generations"] == 0 and summary["prompt_file"] == "plain"


def test_bad_prompt_template_is_exit_2(tiny_model, tmp_path):
    questions = SAMPLE / "questions.csv"
    proc = run_cli(
        "-r", "hf", "-m", tiny_model, "-f", "no-such-template", "-q", questions, "-o", tmp_path / "x.csv"
    )
    assert proc.returncode == 2
    assert "no-such-template" in proc.stderr and "bundled: chat, default, plain" in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- the runner itself


def requests_of(texts: list[str]) -> list[GenerationRequest]:
    return [
        GenerationRequest(key=str(i), prompt=t, messages=({"role": "user", "content": t},))
        for i, t in enumerate(texts)
    ]


PROMPTS = [
    "How many customers live in Lisbon?",
    "Which customers have never ordered? Count them per city and order by the count, largest first.",
    "Average grade?",
    "What is the total revenue per product title, for orders placed in 2023 only?",
    "List products.",
]


def test_batching_restores_the_original_order(tiny_model):
    single = HFRunner(RunnerConfig(model=str(tiny_model), batch_size=1, max_new_tokens=8))
    batched = HFRunner(RunnerConfig(model=str(tiny_model), batch_size=3, max_new_tokens=8))
    requests = requests_of(PROMPTS)
    one = dict(single.generate(requests))
    many = dict(batched.generate(requests))
    assert sorted(many) == list(range(len(PROMPTS)))
    # Each answer belongs to its own prompt: left padding changes nothing a model sees.
    assert [many[i].prompt_tokens for i in range(5)] == [one[i].prompt_tokens for i in range(5)]
    assert [many[i].text for i in range(5)] == [one[i].text for i in range(5)]
    assert len({one[i].prompt_tokens for i in range(5)}) == 5


def test_plan_batches_sorts_by_length_longest_first():
    assert plan_batches([5, 9, 1, 9, 3], 2) == [[1, 3], [0, 4], [2]]
    assert plan_batches([], 4) == []


def test_left_pad():
    ids, mask = left_pad([[7, 8, 9], [5]], pad_id=0)
    assert ids == [[7, 8, 9], [0, 0, 5]]
    assert mask == [[1, 1, 1], [0, 0, 1]]


def test_device_and_dtype_choice():
    assert choose_device("cpu", torch) == "cpu"
    if not torch.cuda.is_available():
        assert choose_device(None, torch) in {"cpu", "mps"}
        with pytest.raises(RunnerError, match="CUDA is not available"):
            choose_device("cuda:1", torch)
    assert choose_dtype(None, "cpu", torch) is torch.float32
    assert choose_dtype(None, "mps", torch) is torch.float16
    assert choose_dtype("bfloat16", "cpu", torch) is torch.bfloat16
    # CUDA's choice depends on the card: a stand-in for torch.cuda answers the question.
    for bf16, expected in ((True, torch.bfloat16), (False, torch.float16)):
        fake = SimpleNamespace(
            float16=torch.float16,
            bfloat16=torch.bfloat16,
            cuda=SimpleNamespace(is_bf16_supported=lambda bf16=bf16: bf16),
        )
        assert choose_dtype(None, "cuda", fake) is expected


class SmallMemoryRunner(HFRunner):
    """A real runner whose 'device' holds at most ``fits`` prompts at once.

    Real out-of-memory errors need a GPU; the limit is imposed here, the rest is real.
    """

    fits = 1
    calls: list[int]

    def _generate_batch(self, prompts, stop=()):
        self.calls.append(len(prompts))
        if len(prompts) > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super()._generate_batch(prompts, stop)


def test_out_of_memory_splits_the_batch_then_reports_per_item(tiny_model):
    runner = SmallMemoryRunner(RunnerConfig(model=str(tiny_model), batch_size=4, max_new_tokens=4))
    runner.calls = []
    results = dict(runner.generate(requests_of(PROMPTS)))
    assert sorted(results) == list(range(5)) and all(g.error is None for g in results.values())
    assert runner.calls == [4, 2, 1, 1, 2, 1, 1, 1]

    runner.fits, runner.calls = 0, []
    results = dict(runner.generate(requests_of(PROMPTS[:2])))
    assert all(
        g.error and g.error.startswith("out of memory on cpu: CUDA out of memory") for g in results.values()
    )
    assert {g.error_kind for g in results.values()} == {OUT_OF_MEMORY}


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(RunnerError, match=r"pip install '\.\[hf\]'"):
        HFRunner(RunnerConfig(model="anything"))


def test_missing_model_is_a_runner_error(tmp_path):
    with pytest.raises(RunnerError, match="model not found: .*nothing-here is not a local path"):
        HFRunner(RunnerConfig(model=str(tmp_path / "nothing-here")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunnerError, match="cannot load the tokenizer"):
        HFRunner(RunnerConfig(model=str(tmp_path / "empty")))


def test_missing_adapter_extra(tiny_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(RunnerError, match=r"pip install '\.\[peft\]'"):
        HFRunner(RunnerConfig(model=str(tiny_model), adapter=str(tiny_model)))


def test_chat_template_without_a_system_role_gets_it_folded_in():
    from runners.chat_prompt import prompt_text
    from tiny_hf import build_tokenizer

    tokenizer = build_tokenizer()
    tokenizer.chat_template = (
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    request = GenerationRequest(
        key="0",
        prompt="unused",
        messages=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Count rows."}),
    )
    assert prompt_text(tokenizer, request) == ("[user] Be brief.\n\nCount rows.\n[assistant] ", False)
    tokenizer.chat_template = None
    assert prompt_text(tokenizer, request) == ("unused", True)


def test_a_tokenizer_without_pad_token_pads_with_eos(tiny_model, tmp_path):
    import shutil

    from transformers import AutoTokenizer

    model_dir = tmp_path / "no-pad"
    shutil.copytree(tiny_model, model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(model_dir)
    assert AutoTokenizer.from_pretrained(model_dir).pad_token is None

    runner = HFRunner(RunnerConfig(model=str(model_dir), batch_size=2, max_new_tokens=4))
    assert runner.tokenizer.pad_token == runner.tokenizer.eos_token == "</s>"
    results = dict(runner.generate(requests_of(PROMPTS[:3])))
    assert sorted(results) == [0, 1, 2] and all(g.error is None for g in results.values())


def test_peft_adapter_is_applied(tiny_model, tmp_path):
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    # Random (not zero) LoRA weights, so the adapter visibly changes the model.
    config = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    torch.manual_seed(1)
    peft.get_peft_model(base, config).save_pretrained(tmp_path / "adapter")

    plain = HFRunner(RunnerConfig(model=str(tiny_model), max_new_tokens=8))
    adapted = HFRunner(
        RunnerConfig(model=str(tiny_model), adapter=str(tmp_path / "adapter"), max_new_tokens=8)
    )
    assert isinstance(adapted.model, peft.PeftModel)
    assert adapted.describe()["adapter"] == str(tmp_path / "adapter")
    ids = torch.tensor([plain.tokenizer("SELECT name FROM customers")["input_ids"]])
    with torch.no_grad():
        assert not torch.allclose(plain.model(ids).logits, adapted.model(ids).logits)
    results = dict(adapted.generate(requests_of(PROMPTS[:2])))
    assert sorted(results) == [0, 1] and all(g.error is None for g in results.values())


# --------------------------------------------------------------------------- stopping at the fence


@pytest.fixture(scope="session")
def fence_writer(tmp_path_factory) -> Path:
    return build_fence_writer(tmp_path_factory.mktemp("fence-writer"))


def test_the_fence_stop_string_matches_per_sequence_on_a_real_tokenizer():
    from transformers import StopStringCriteria

    tokenizer = build_tokenizer()
    criterion = StopStringCriteria(tokenizer=tokenizer, stop_strings=[CLOSING_FENCE])
    ids = tokenizer.convert_tokens_to_ids
    newline, select, one = ids(["Ċ", "SELECT", "Ġ1"])
    rows = {
        "fence token last": [select, one, newline, ids("```")],
        "fence written as `` then `": [select, one, newline, ids("``"), ids("`")],
        "fence then more": [select, one, newline, ids("```"), newline],
        "no fence": [select, one, newline, select],
        "fence inside a token": [select, one, newline, ids("`"), ids("``")],
        "fence mid-line (in a literal)": [select, one, ids("```")],
    }
    width = max(len(r) for r in rows.values())
    batch = torch.tensor([[tokenizer.pad_token_id] * (width - len(r)) + r for r in rows.values()])
    stopped = criterion(batch, torch.zeros(len(rows), len(tokenizer))).tolist()
    assert dict(zip(rows, stopped)) == {
        "fence token last": True,
        "fence written as `` then `": True,
        "fence then more": False,
        "no fence": False,
        "fence inside a token": True,
        "fence mid-line (in a literal)": False,
    }


def fence_requests() -> list[GenerationRequest]:
    """An open ```sql fence (as the default template leaves it), and none."""
    return [
        GenerationRequest(key="open", prompt="How many customers?\n```sql\nSELECT"),
        GenerationRequest(key="none", prompt="How many customers? SELECT"),
        GenerationRequest(key="open2", prompt="Which products?\n```sql\nSELECT"),
    ]


@pytest.mark.parametrize("beams", [1, 3])
def test_generation_stops_at_the_closing_fence_only_when_one_is_open(fence_writer, beams):
    runner = HFRunner(RunnerConfig(model=str(fence_writer), max_new_tokens=10, num_beams=beams, batch_size=4))
    results = dict(runner.generate(fence_requests()))
    assert sorted(results) == [0, 1, 2]
    for i in (0, 2):  # stopped right after the fence, each beam on its own
        assert results[i].text == "\n```" and results[i].completion_tokens == 2
        assert len(results[i].beams) == beams and all(b.endswith("\n```") for b in results[i].beams)
        assert results[i].finish_reason == "stop" and not results[i].truncated
    # Without an open fence the model's chatter runs to the length limit.
    assert results[1].text.startswith("\n```SELECT\n```SELECT") and results[1].completion_tokens == 10
    assert results[1].finish_reason == "length" and results[1].truncated


def test_no_progress_keeps_model_loading_quiet_and_the_fence_ends_answers(fence_writer, cache_dir, tmp_path):
    out = tmp_path / "quiet.csv"
    quiet = run_cli(*hf_args(fence_writer, cache_dir, out))  # sample_args says --no-progress
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "Loading" not in quiet.stderr and "%|" not in quiet.stderr, quiet.stderr[-2000:]
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # The default template leaves ```sql open: every answer ends at the model's first fence.
    assert len(rows) == QUESTIONS and {r["completion_tokens"] for r in rows} == {"2"}

    # The same run with progress shows transformers' weight-loading bar: the check above can fail.
    args = [
        a for a in hf_args(fence_writer, cache_dir, tmp_path / "loud.csv", "-n", "1") if a != "--no-progress"
    ]
    loud = run_cli(*args)
    assert loud.returncode == 0, loud.stderr[-2000:]
    assert "Loading weights" in loud.stderr
