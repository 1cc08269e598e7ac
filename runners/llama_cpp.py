"""The ``llama-cpp`` runner: a local GGUF model through llama-cpp-python.

``-m`` is the path of a ``.gguf`` file.  Options from ``config.extra``: ``n_ctx`` (context
window, default 4096), ``n_gpu_layers`` (default -1: every layer a GPU build can take; a
CPU-only build ignores it), ``temperature`` (default 0: greedy), ``seed`` (default 0, for
sampling at a temperature above 0).

The prompt is built as for ``hf`` and ``vllm`` (:mod:`runners.chat_prompt`, one place):
a GGUF that carries a chat template (``tokenizer.chat_template``, as instruction-tuned
conversions do) gets the request's chat ``messages`` in that template, continuing a last
``assistant`` message (the prompt's prefill, e.g. an opened ```` ```sql ```` block) rather
than closing it; a GGUF without one (a base model) gets the plain ``prompt``.  The
template is rendered by llama-cpp-python's own Jinja formatter, as its server does.
Decoding is greedy unless a temperature is set (and never penalizes repetition), at most
``config.max_new_tokens`` tokens, ending at the model's end-of-turn token or, when the
prompt left a ```` ``` ```` fence open, at the closing fence; the pipeline extracts the SQL
from the raw text.

Items run one at a time (a llama.cpp context is not shared between threads) and each is
yielded when done.  A prompt longer than the context window is that item's error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2  # llama-cpp-python renders chat templates with it
import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from runners.base import (
    CONTEXT_OVERFLOW,
    REQUEST_REJECTED,
    Generation,
    GenerationRequest,
    Runner,
    RunnerConfig,
    RunnerError,
    is_context_overflow,
)
from runners.chat_prompt import prompt_text, stop_sequences

GGUF_MAGIC = b"GGUF"
DEFAULT_N_CTX = 4096


class LlamaCppRunner(Runner):
    name = "llama-cpp"

    def __init__(self, config: RunnerConfig) -> None:
        super().__init__(config)
        self.path = gguf_path(config.model)
        self.n_ctx = config.number("n_ctx", DEFAULT_N_CTX, int)
        self.temperature = config.number("temperature", 0.0, float)
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_gpu_layers=config.number("n_gpu_layers", -1, int),
                seed=config.number("seed", 0, int),
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise RunnerError(f"llama.cpp could not load {self.path}: {exc}") from exc
        self.template = GGUFChatTemplate(self.llm)
        self.uses_chat = self.template.chat_template is not None

    @classmethod
    def preflight(cls, config: RunnerConfig) -> None:
        gguf_path(config.model)  # exists, and starts with the GGUF magic

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        for index, request in enumerate(requests):
            yield index, self._one(request)

    def describe(self) -> Mapping[str, object]:
        return {
            "runner": self.name,
            "model": str(self.path),
            "n_ctx": self.n_ctx,
            "style": "chat" if self.uses_chat else "completion",
            "temperature": self.temperature,
            "max_new_tokens": self.config.max_new_tokens,
        }

    def close(self) -> None:
        self.llm.close()  # frees the model and context now, not at garbage collection

    def render(self, request: GenerationRequest) -> tuple[str, list[int]]:
        """The prompt text the model continues, and its tokens."""
        text, add_special = prompt_text(self.template, request)
        # A rendered template already holds BOS and turn markers as text: parse them as
        # special tokens. A plain prompt gets BOS added and its text taken literally.
        tokens = self.llm.tokenize(text.encode(), add_bos=add_special, special=not add_special)
        return text, tokens

    def _one(self, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        try:
            text, tokens = self.render(request)
            reply: Any = self.llm.create_completion(
                tokens,
                max_tokens=self.config.max_new_tokens,
                temperature=self.temperature,
                repeat_penalty=1.0,
                stop=stop_sequences(text),
            )
        # ValueError: llama-cpp-python's "Requested tokens (N) exceed context window", or a
        # template's raise_exception; TemplateError: a template that fails to render.
        except (ValueError, jinja2.TemplateError) as exc:
            kind = CONTEXT_OVERFLOW if is_context_overflow(str(exc)) else REQUEST_REJECTED
            return Generation(
                text="", error=f"llama.cpp: {exc}", error_kind=kind, latency_s=time.perf_counter() - start
            )
        usage = reply.get("usage") or {}
        choice = reply["choices"][0]
        return Generation(
            text=choice["text"],
            latency_s=time.perf_counter() - start,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=choice.get("finish_reason"),  # "stop" or "length", as llama.cpp says
        )


class GGUFChatTemplate:
    """A GGUF's chat template behind the tokenizer interface :mod:`runners.chat_prompt`
    reads (``chat_template``, ``apply_chat_template``)."""

    def __init__(self, llm: llama_cpp.Llama) -> None:
        self.chat_template: str | None = llm.metadata.get("tokenizer.chat_template") or None
        self.eos_token = _token_text(llm, llm.token_eos())
        self.bos_token = _token_text(llm, llm.token_bos())

    def apply_chat_template(
        self,
        messages: list[dict[str, str]],
        *,
        tokenize: bool = False,
        add_generation_prompt: bool = True,
        continue_final_message: bool = False,
    ) -> str:
        assert self.chat_template and not tokenize
        formatter = Jinja2ChatFormatter(
            template=self.chat_template,
            eos_token=self.eos_token,
            bos_token=self.bos_token,
            add_generation_prompt=add_generation_prompt,
        )
        text: str = formatter(messages=messages).prompt  # type: ignore[arg-type]
        if continue_final_message:
            # As transformers does: end right after the last message's text, dropping the
            # end-of-turn markers the template wrote after it.
            final = messages[-1]["content"].strip()
            text = text[: text.rindex(final) + len(final)]
        return text


def _token_text(llm: llama_cpp.Llama, token: int) -> str:
    return llm.detokenize([token], special=True).decode(errors="replace") if token >= 0 else ""


def gguf_path(model: str) -> Path:
    """The model path, checked: it exists and starts with the GGUF magic bytes."""
    if not model:
        raise RunnerError("runner 'llama-cpp' needs a model file: -m PATH.gguf")
    path = Path(model).expanduser()
    if not path.is_file():
        raise RunnerError(f"model file not found: {path}")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise RunnerError(
            f"{path} is not a GGUF file; llama-cpp loads .gguf models "
            "(convert others with llama.cpp's convert_hf_to_gguf.py)"
        )
    return path
