"""The ``vllm`` runner: vLLM's offline engine (``vllm.LLM``), every prompt in one call.

Greedy (``-b 1``) goes through ``LLM.generate`` with ``SamplingParams(temperature=0)``;
``-b N`` through ``LLM.beam_search`` with ``BeamSearchParams(beam_width=N)`` (vLLM dropped
the old ``use_beam_search`` sampling flag). Prompts are tokenized here, with the model's
chat template where it has one (runners/chat_prompt.py, as the hf runner), and handed to
vLLM as token ids, so both runners see the same tokens. Greedy decoding also stops where
the hf runner does, at the closing fence when the prompt left one open (beam search has
no stop strings in vLLM: it ends at EOS or the length limit). Each generation carries
vLLM's finish reason, ``"length"`` when ``max_tokens`` ran out (truncated); under beam
search the best beam's, where this vLLM records one. An adapter (``-a``) is served as a
LoRA (``enable_lora=True`` and a ``LoRARequest``); multi-GPU and quantization flags are
passed through to the engine.

vllm is imported when the runner starts (``pip install '.[vllm]'``; it needs a CUDA
build): this module stays importable without it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from runners.base import Generation, GenerationRequest, Runner, RunnerConfig, RunnerError, first_line
from runners.chat_prompt import encode_with_stops
from runners.model_ref import check_hub_model, check_model_ref, missing_module

ADAPTER_NAME = "sqlharness-adapter"

_Finished = tuple[list[list[int]], str | None]
"""A prompt's candidates (generated token ids, best first) and why the best one ended."""


class VLLMRunner(Runner):
    name = "vllm"
    beam_search = True

    def __init__(self, config: RunnerConfig) -> None:
        super().__init__(config)
        check_model_ref(self.name, config.model)
        self.vllm = _require()
        kwargs = engine_kwargs(config)
        if not config.progress:
            kwargs.update(quiet_engine_kwargs(self.vllm))
            logging.getLogger("vllm").setLevel(logging.WARNING)  # its INFO lines while loading
        try:
            self.llm = self.vllm.LLM(**kwargs)
        except (OSError, ValueError) as exc:
            raise RunnerError(f"vllm cannot load {config.model!r}: {first_line(exc)}") from None
        self.tokenizer = self.llm.get_tokenizer()
        self.lora = lora_request(config.adapter)

    @classmethod
    def preflight(cls, config: RunnerConfig) -> None:
        check_model_ref(cls.name, config.model)
        if missing_module("vllm"):
            raise _missing_extra("vllm")
        check_hub_model(config.model)

    def describe(self) -> dict[str, object]:
        return {
            "runner": self.name,
            "model": self.config.model,
            "adapter": self.config.adapter,
            "dtype": self.config.dtype or "auto",
            "quantization": self.config.option("quantization"),
        }

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        encoded = [encode_with_stops(self.tokenizer, r) for r in requests]
        prompts = [tokens for tokens, _ in encoded]
        if not prompts:
            return
        started = time.perf_counter()
        if self.config.num_beams > 1:
            finished = self._beam_search(prompts)
        else:
            finished = self._greedy(prompts, [stop for _, stop in encoded])
        latency = (time.perf_counter() - started) / len(prompts)
        for index, (prompt, (candidates, reason)) in enumerate(zip(prompts, finished)):
            texts = tuple(self.tokenizer.decode(tokens, skip_special_tokens=True) for tokens in candidates)
            yield (
                index,
                Generation(
                    text=texts[0] if texts else "",
                    latency_s=latency,
                    prompt_tokens=len(prompt),
                    completion_tokens=len(candidates[0]) if candidates else 0,
                    beams=texts,
                    finish_reason=reason,
                ),
            )

    def _greedy(self, prompts: list[list[int]], stops: list[list[str]]) -> list[_Finished]:
        """Per prompt, the generated token ids (one candidate) and why generation ended;
        each prompt its own stops."""
        params = [sampling_params(self.config, stop) for stop in stops]
        outputs = self.llm.generate(
            [{"prompt_token_ids": p} for p in prompts], params, lora_request=self.lora, use_tqdm=False
        )
        # CompletionOutput.finish_reason is "stop" (EOS or a stop string) or "length"
        # (max_tokens ran out), the vocabulary Generation.finish_reason uses.
        return [
            ([list(o.outputs[0].token_ids)], o.outputs[0].finish_reason) if o.outputs else ([], None)
            for o in outputs
        ]

    def _beam_search(self, prompts: list[list[int]]) -> list[_Finished]:
        """Per prompt, each beam's generated token ids, best first (vLLM's order), and why
        the best beam ended where this vLLM says (None where it does not)."""
        params = beam_search_params(self.config)
        outputs = self.llm.beam_search(
            [{"prompt_token_ids": p} for p in prompts], params, lora_request=self.lora
        )
        # A beam's tokens include the prompt's; its .text decodes both, so decode ourselves.
        # BeamSearchSequence has a finish_reason field only in newer vLLMs, hence getattr.
        return [
            (
                [list(seq.tokens[len(prompt) :]) for seq in output.sequences],
                getattr(output.sequences[0], "finish_reason", None) if output.sequences else None,
            )
            for prompt, output in zip(prompts, outputs)
        ]

    def close(self) -> None:
        self.llm = None


def engine_kwargs(config: RunnerConfig) -> dict[str, Any]:
    """``vllm.LLM(**kwargs)`` for the runner's options."""
    kwargs: dict[str, Any] = {
        "model": config.model,
        "dtype": config.dtype or "auto",
        "tensor_parallel_size": config.option("tensor_parallel_size", 1),
        "pipeline_parallel_size": config.option("pipeline_parallel_size", 1),
        "gpu_memory_utilization": config.option("gpu_memory_utilization", 0.9),
        "seed": 0,
    }
    for key in ("distributed_executor_backend", "quantization"):
        if config.option(key) is not None:
            kwargs[key] = config.option(key)
    if config.adapter:
        kwargs["enable_lora"] = True
        rank = adapter_rank(config.adapter)
        if rank is not None:
            kwargs["max_lora_rank"] = rank
    return kwargs


def quiet_engine_kwargs(vllm: Any) -> dict[str, Any]:
    """Engine options that turn off vLLM's weight-loading bars and stats logging, those this
    vLLM has (``use_tqdm_on_load`` came in 0.8.3; an unknown option is refused)."""
    engine_args = getattr(vllm, "EngineArgs", None)
    if not (isinstance(engine_args, type) and dataclasses.is_dataclass(engine_args)):
        return {}
    known = {f.name for f in dataclasses.fields(engine_args)}
    wanted = {"use_tqdm_on_load": False, "disable_log_stats": True}
    return {key: value for key, value in wanted.items() if key in known}


def sampling_params(config: RunnerConfig, stop: Sequence[str] = ()) -> Any:
    from vllm import SamplingParams

    return SamplingParams(temperature=0.0, max_tokens=config.max_new_tokens, stop=list(stop) or None)


def beam_search_params(config: RunnerConfig) -> Any:
    from vllm.sampling_params import BeamSearchParams

    return BeamSearchParams(beam_width=config.num_beams, max_tokens=config.max_new_tokens)


def lora_request(adapter: str | None) -> Any:
    if not adapter:
        return None
    from vllm.lora.request import LoRARequest

    return LoRARequest(ADAPTER_NAME, 1, adapter)


def adapter_rank(adapter: str) -> int | None:
    """The LoRA rank from a local adapter's config (vLLM refuses ranks above max_lora_rank,
    16 by default); None where it cannot be read (a hub name)."""
    try:
        rank = json.loads((Path(adapter) / "adapter_config.json").read_text()).get("r")
    except (OSError, ValueError):
        return None
    return rank if isinstance(rank, int) else None


def _require() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise _missing_extra(exc.name or str(exc)) from None
    return vllm


def _missing_extra(module: str) -> RunnerError:
    return RunnerError(
        f"the vllm runner needs vllm ({module} is missing; it needs a CUDA machine): pip install '.[vllm]'"
    )
