"""The vllm runner's request and argument construction.

vLLM's engine cannot run here (it needs a CUDA build and a GPU), so this test injects a
stand-in ``vllm`` package through sys.modules that records what the runner asks for
(engine kwargs, sampling and beam-search parameters, LoRA request, prompt token ids) and
answers in vLLM's output shapes. The tokenizer is real (trained in tests/tiny_hf.py), so
prompt encoding and decoding are the runner's own.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from runners.base import GenerationRequest, RunnerConfig, RunnerError

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from runners.chat_prompt import encode_with_stops  # noqa: E402
from runners.vllm_offline import VLLMRunner, engine_kwargs  # noqa: E402
from tiny_hf import build_tokenizer  # noqa: E402

ANSWERS = [" COUNT(*) FROM customers", " name FROM students", " title FROM products ORDER BY price"]


@dataclass
class SamplingParams:
    temperature: float = 1.0
    max_tokens: int = 16
    stop: list[str] | None = None


@dataclass
class BeamSearchParams:
    beam_width: int
    max_tokens: int


@dataclass
class EngineArgs:
    """The engine options the quiet mode looks for (a vLLM from 0.8.3 on has both)."""

    model: str = ""
    use_tqdm_on_load: bool = True
    disable_log_stats: bool = False


@dataclass
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str


@dataclass
class CompletionOutput:
    """vllm.outputs.CompletionOutput's fields (those the runner may read)."""

    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None = None
    logprobs: Any = None
    finish_reason: str | None = None
    """"stop" (EOS, a stop string) or "length" (max_tokens ran out); None while unfinished."""
    stop_reason: int | str | None = None
    """The stop string or token id that ended it; None for EOS or the length limit."""


@dataclass
class FakeLLM:
    """Records the calls; answers ANSWERS[i] (beams: that and a worse variant), ended for
    the reason finish[i] ("stop" where finish is shorter)."""

    kwargs: dict[str, Any]
    calls: list[tuple[str, Any, Any, Any]] = field(default_factory=list)
    tokenizer: Any = None
    finish: list[str] = field(default_factory=list)

    def get_tokenizer(self):
        return self.tokenizer

    def generate(self, prompts, sampling_params=None, *, use_tqdm=True, lora_request=None):
        params = sampling_params
        self.calls.append(("generate", prompts, params, lora_request))
        ids = [self.tokenizer(a, add_special_tokens=False)["input_ids"] for a in ANSWERS]
        reasons = self.finish + ["stop"] * len(prompts)
        return [
            types.SimpleNamespace(outputs=[CompletionOutput(0, "ignored", ids[i], finish_reason=reasons[i])])
            for i in range(len(prompts))
        ]

    def beam_search(self, prompts, params, lora_request=None, use_tqdm=False):
        self.calls.append(("beam_search", prompts, params, lora_request))
        outputs = []
        for i, prompt in enumerate(prompts):
            # Like vLLM: a beam's tokens start with the prompt's.
            beams = [ANSWERS[i], ANSWERS[i] + " LIMIT 1"][: params.beam_width]
            sequences = [
                types.SimpleNamespace(
                    tokens=prompt["prompt_token_ids"]
                    + self.tokenizer(b, add_special_tokens=False)["input_ids"]
                )
                for b in beams
            ]
            outputs.append(types.SimpleNamespace(sequences=sequences))
        return outputs


@pytest.fixture
def fake_vllm(monkeypatch):
    tokenizer = build_tokenizer()
    engines: list[FakeLLM] = []

    def make_llm(**kwargs):
        engines.append(FakeLLM(kwargs, tokenizer=tokenizer))
        return engines[-1]

    vllm = types.ModuleType("vllm")
    vllm.LLM = make_llm
    vllm.SamplingParams = SamplingParams
    vllm.EngineArgs = EngineArgs
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.BeamSearchParams = BeamSearchParams
    lora = types.ModuleType("vllm.lora")
    lora_request = types.ModuleType("vllm.lora.request")
    lora_request.LoRARequest = LoRARequest
    for name, module in {
        "vllm": vllm,
        "vllm.sampling_params": sampling,
        "vllm.lora": lora,
        "vllm.lora.request": lora_request,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    return types.SimpleNamespace(engines=engines, tokenizer=tokenizer)


def requests() -> list[GenerationRequest]:
    questions = ["How many customers?", "Which students?", "Products by price?"]
    return [
        GenerationRequest(
            key=str(i),
            prompt=f"{q}\nSELECT",
            messages=({"role": "user", "content": q}, {"role": "assistant", "content": "SELECT"}),
        )
        for i, q in enumerate(questions)
    ]


def test_greedy_generation(fake_vllm):
    config = RunnerConfig(model="org/model", max_new_tokens=64)
    runner = VLLMRunner(config)
    results = dict(runner.generate(requests()))
    (engine,) = fake_vllm.engines
    assert engine.kwargs == {
        "model": "org/model",
        "dtype": "auto",
        "tensor_parallel_size": 1,
        "pipeline_parallel_size": 1,
        "gpu_memory_utilization": 0.9,
        "seed": 0,
    }
    ((kind, prompts, params, lora),) = engine.calls
    assert kind == "generate" and lora is None
    assert params == [SamplingParams(temperature=0.0, max_tokens=64)] * 3  # one per prompt
    # One call for all prompts, as token ids through the chat template (prefill continued).
    assert prompts == [{"prompt_token_ids": encode_with_stops(fake_vllm.tokenizer, r)[0]} for r in requests()]
    chat_text = fake_vllm.tokenizer.decode(prompts[0]["prompt_token_ids"])
    assert chat_text.startswith("<s><|user|>\nHow many customers?\n<|assistant|>\nSELECT")
    assert [results[i].text for i in range(3)] == ANSWERS
    assert all(results[i].beams == (ANSWERS[i],) for i in range(3))
    assert results[0].prompt_tokens == len(prompts[0]["prompt_token_ids"])


def test_greedy_finish_reason_is_vllms_so_a_length_cut_is_truncated(fake_vllm):
    runner = VLLMRunner(RunnerConfig(model="m", max_new_tokens=64))
    fake_vllm.engines[0].finish = ["length", "stop"]
    results = dict(runner.generate(requests()[:2]))
    assert results[0].finish_reason == "length" and results[0].truncated
    assert results[1].finish_reason == "stop" and not results[1].truncated


def test_greedy_stops_at_the_closing_fence_of_an_open_fence(fake_vllm):
    fenced = GenerationRequest(
        key="fenced",
        prompt="How many customers?\n```sql\nSELECT",
        messages=(
            {"role": "user", "content": "How many customers?"},
            {"role": "assistant", "content": "```sql\nSELECT"},
        ),
    )
    dict(VLLMRunner(RunnerConfig(model="m", max_new_tokens=64)).generate([fenced, requests()[0]]))
    ((_, _, params, _),) = fake_vllm.engines[0].calls
    # As the hf runner: the fence the prefill opened ends the answer; no fence, no stop.
    assert params == [
        SamplingParams(temperature=0.0, max_tokens=64, stop=["\n```"]),
        SamplingParams(temperature=0.0, max_tokens=64),
    ]


def test_beam_search_and_lora(fake_vllm, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 64, "peft_type": "LORA"}))
    config = RunnerConfig(
        model="org/base-model",
        num_beams=2,
        max_new_tokens=32,
        adapter=str(adapter),
        dtype="bfloat16",
        extra={
            "tensor_parallel_size": 2,
            "pipeline_parallel_size": 2,
            "distributed_executor_backend": "ray",
            "quantization": "awq",
            "gpu_memory_utilization": 0.75,
        },
    )
    results = dict(VLLMRunner(config).generate(requests()))
    (engine,) = fake_vllm.engines
    assert engine.kwargs == {
        "model": "org/base-model",
        "dtype": "bfloat16",
        "tensor_parallel_size": 2,
        "pipeline_parallel_size": 2,
        "gpu_memory_utilization": 0.75,
        "seed": 0,
        "distributed_executor_backend": "ray",
        "quantization": "awq",
        "enable_lora": True,
        "max_lora_rank": 64,
    }
    ((kind, prompts, params, lora),) = engine.calls
    assert kind == "beam_search" and len(prompts) == 3
    assert params == BeamSearchParams(beam_width=2, max_tokens=32)
    assert lora == LoRARequest("sqlharness-adapter", 1, str(adapter))
    # The prompt's tokens are cut off each beam; the best beam is the prediction.
    assert results[2].beams == (ANSWERS[2], ANSWERS[2] + " LIMIT 1")
    assert results[2].text == ANSWERS[2]
    # These stand-in beams, like an older vLLM's, say nothing of why they ended.
    assert results[2].finish_reason is None and not results[2].truncated


def test_engine_kwargs_leave_unset_options_to_vllm():
    kwargs = engine_kwargs(RunnerConfig(model="m", extra={"quantization": None}))
    assert "quantization" not in kwargs and "distributed_executor_backend" not in kwargs
    assert "enable_lora" not in kwargs


def test_no_progress_turns_off_vllms_loading_bars(fake_vllm, monkeypatch):
    VLLMRunner(RunnerConfig(model="m"))
    VLLMRunner(RunnerConfig(model="m", progress=False))
    loud, quiet = (engine.kwargs for engine in fake_vllm.engines)
    assert "use_tqdm_on_load" not in loud and "disable_log_stats" not in loud
    assert quiet["use_tqdm_on_load"] is False and quiet["disable_log_stats"] is True
    # An older vLLM without these options is not handed them (it would refuse them).
    monkeypatch.delattr(sys.modules["vllm"], "EngineArgs")
    VLLMRunner(RunnerConfig(model="m", progress=False))
    assert "use_tqdm_on_load" not in fake_vllm.engines[-1].kwargs


def test_missing_vllm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # as on a machine without vllm (this one)
    with pytest.raises(RunnerError, match=r"pip install '\.\[vllm\]'"):
        VLLMRunner(RunnerConfig(model="m"))


def test_missing_vllm_through_the_cli_is_exit_2(monkeypatch, cache_dir, tmp_path, capsys):
    from conftest import sample_args
    from eval.cli import main

    monkeypatch.setitem(sys.modules, "vllm", None)
    out = tmp_path / "vllm.csv"
    assert main(["-r", "vllm", "-m", "org/model", "-n", "1", *sample_args(cache_dir, out)]) == 2
    err = capsys.readouterr().err
    assert "pip install '.[vllm]'" in err and "Traceback" not in err
    assert not out.exists()
