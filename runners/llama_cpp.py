"""The ``llama-cpp`` runner: a local GGUF model through llama-cpp-python.

``-m`` is the path of a ``.gguf`` file.  Options from ``config.extra``: ``n_ctx`` (context
window, default 4096), ``n_gpu_layers`` (default -1: every layer a GPU build can take; a
CPU-only build ignores it), ``seed`` (default 0).

Prompt style is decided by the file: when the GGUF carries a chat template
(``tokenizer.chat_template``, as every instruction-tuned conversion does) the request's
chat ``messages`` go through ``create_chat_completion``, so the model sees the turn markers
it was trained on; otherwise the plain ``prompt`` is continued with ``create_completion``
(base models).  Decoding is greedy (temperature 0, no repetition penalty), at most
``config.max_new_tokens`` tokens.  A completion prompt that ends inside an open ```` ``` ````
fence stops at the closing fence; nothing else is cut, since the pipeline extracts the
SQL from the raw text.

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

from runners.base import Generation, GenerationRequest, Runner, RunnerConfig, RunnerError

GGUF_MAGIC = b"GGUF"
FENCE = "```"
DEFAULT_N_CTX = 4096


class LlamaCppRunner(Runner):
    name = "llama-cpp"

    def __init__(self, config: RunnerConfig) -> None:
        super().__init__(config)
        self.path = gguf_path(config.model)
        self.n_ctx = _int_option(config, "n_ctx", DEFAULT_N_CTX)
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_gpu_layers=_int_option(config, "n_gpu_layers", -1),
                seed=_int_option(config, "seed", 0),
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise RunnerError(f"llama.cpp could not load {self.path}: {exc}") from exc
        self.uses_chat = bool(self.llm.metadata.get("tokenizer.chat_template"))

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        for index, request in enumerate(requests):
            yield index, self._one(request)

    def describe(self) -> Mapping[str, object]:
        return {
            "runner": self.name,
            "model": str(self.path),
            "n_ctx": self.n_ctx,
            "style": "chat" if self.uses_chat else "completion",
            "max_new_tokens": self.config.max_new_tokens,
        }

    def close(self) -> None:
        self.llm.close()  # frees the model and context now, not at garbage collection

    def _one(self, request: GenerationRequest) -> Generation:
        greedy: dict[str, Any] = {
            "max_tokens": self.config.max_new_tokens,
            "temperature": 0.0,
            "repeat_penalty": 1.0,
        }
        start = time.perf_counter()
        try:
            if self.uses_chat and request.messages:
                reply: Any = self.llm.create_chat_completion(
                    messages=[dict(m) for m in request.messages],  # type: ignore[misc]
                    **greedy,
                )
                text = reply["choices"][0]["message"]["content"] or ""
            else:
                reply = self.llm.create_completion(
                    request.prompt, stop=stop_sequences(request.prompt), **greedy
                )
                text = reply["choices"][0]["text"]
        except ValueError as exc:  # llama-cpp-python's "Requested tokens (N) exceed context window"
            return Generation(text="", error=f"llama.cpp: {exc}", latency_s=time.perf_counter() - start)
        except jinja2.TemplateError as exc:  # a template that refuses, e.g., a system message
            return Generation(text="", error=f"the model's chat template: {exc}", latency_s=0.0)
        usage = reply.get("usage") or {}
        return Generation(
            text=text,
            latency_s=time.perf_counter() - start,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )


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


def stop_sequences(prompt: str) -> list[str]:
    """Stop at the closing fence when the prompt leaves a ``` fence open for the SQL."""
    return [FENCE] if prompt.count(FENCE) % 2 == 1 else []


def _int_option(config: RunnerConfig, key: str, default: int) -> int:
    value = config.extra.get(key, default)
    if value is None:
        return default
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise RunnerError(f"option {key} must be a whole number, got {value!r}") from None
