"""The one interface every way of producing SQL implements.

A runner turns a batch of :class:`GenerationRequest` into :class:`Generation` records.
It yields ``(index, generation)`` pairs as each item completes, every index of the batch
exactly once, in any order: the pipeline saves each generation the moment it arrives (so
a crash loses nothing) and shows progress, while batch-first backends (HF, vLLM) are free
to produce a whole batch at once.  A failure on one item is data (``Generation.error``),
never an exception that loses the rest of the batch.

This package is a leaf: it never imports ``eval``.  Prompt rendering, SQL extraction,
execution and scoring live in the pipeline and are shared by every runner.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

Number = TypeVar("Number", int, float)

# What kind of failure a Generation.error is: the first words of the results' generation_error.
SERVER_UNREACHABLE = "server unreachable"
"""No connection to the server (refused, DNS, reset), after every retry."""
RETRIES_EXHAUSTED = "retries exhausted"
"""The server kept answering with a retryable failure (429, 5xx, a timeout)."""
CONTEXT_OVERFLOW = "context overflow"
"""The prompt (plus the token budget, for some servers) does not fit the context window."""
OUT_OF_MEMORY = "out of memory"
"""The accelerator ran out of memory even for this prompt alone."""
REQUEST_REJECTED = "request rejected"
"""The server refused this request (a 4xx other than the above) or the template failed."""
NO_ANSWER = "no answer"
"""A reply came back without text (no choices, a refusal)."""
GENERATION_FAILED = "generation failed"
"""Any other failure, and what a runner that names no kind reports."""
ERROR_KINDS = (
    SERVER_UNREACHABLE,
    RETRIES_EXHAUSTED,
    CONTEXT_OVERFLOW,
    OUT_OF_MEMORY,
    REQUEST_REJECTED,
    NO_ANSWER,
    GENERATION_FAILED,
)

_CONTEXT_WORDS = re.compile(
    r"context (window|length)|context_length_exceeded|maximum context|too many tokens|"
    r"prompt is too long|input is too long|tokens`? must be <=",
    re.IGNORECASE,
)


def is_context_overflow(message: str) -> bool:
    """Whether a backend's error message says the prompt did not fit the context window.

    llama.cpp: "Requested tokens (900) exceed context window of 512"; vLLM and OpenAI:
    "This model's maximum context length is 4096 tokens" / ``context_length_exceeded``;
    TGI: "`inputs` tokens + `max_new_tokens` must be <= 4096".
    """
    return bool(_CONTEXT_WORDS.search(message))


@dataclass(frozen=True)
class GenerationRequest:
    """One question, rendered for a model."""

    key: str
    """Stable identity of the item within a run (used for resume files)."""
    prompt: str
    """The whole prompt as one text, for completion-style models."""
    messages: tuple[Mapping[str, str], ...] = ()
    """The same prompt as chat messages (``role``/``content``), for chat models."""
    gold_query: str = ""
    """The first gold expansion. Only the ``oracle`` runner may read it."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Every column of the question's row, as given (the ``file`` runner reads
    ``generated_query`` here)."""


@dataclass(frozen=True)
class Generation:
    """What a runner produced for one request."""

    text: str
    """Raw model output; the pipeline extracts the SQL from it."""
    error: str | None = None
    """Why nothing usable was produced (API error, out of memory...), else None."""
    error_kind: str | None = None
    """Which of :data:`ERROR_KINDS` ``error`` is; None reads as :data:`GENERATION_FAILED`."""
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    beams: tuple[str, ...] = ()
    """All beams' texts, best first, where the backend keeps them."""
    finish_reason: str | None = None
    """Why generation of ``text`` ended: ``"stop"`` (EOS, a stop string, the model's own end
    of turn) or ``"length"`` (the token budget, ``--max-new-tokens``, ran out); other
    backend reasons (``"content_filter"``) are kept as the backend says them; None where
    the backend does not tell."""

    @property
    def truncated(self) -> bool:
        """The token budget ran out before the model finished."""
        return self.finish_reason == "length"


@dataclass(frozen=True)
class RunnerConfig:
    """Options shared by the runners; each runner reads the ones it understands."""

    model: str = ""
    adapter: str | None = None
    num_beams: int = 1
    batch_size: int = 4
    max_new_tokens: int = 512
    parallel: int = 4
    api_url: str | None = None
    predictions: str | None = None
    device: str | None = None
    dtype: str | None = None
    progress: bool = True
    """False (``--no-progress``): backends keep their own progress bars (weights loading...)
    and load-time chatter off; warnings and errors still show."""
    extra: Mapping[str, object] = field(default_factory=dict)
    """Backend-specific options, by key: ``n_ctx``, ``n_gpu_layers``, ``max_retries``,
    ``request_timeout``, ``temperature``, ``tensor_parallel_size``,
    ``pipeline_parallel_size``, ``distributed_executor_backend``, ``quantization``,
    ``gpu_memory_utilization`` (the CLI always fills them; read them with :meth:`option`)."""

    def option(self, key: str, default: object = None) -> Any:
        """``extra[key]``, or ``default`` when it is absent or None."""
        value = self.extra.get(key)
        return default if value is None else value

    def number(self, key: str, default: Number, kind: type[Number]) -> Number:
        """:meth:`option` as ``kind`` (int or float); a value that is not one is a RunnerError."""
        value = self.option(key, default)
        try:
            return kind(value)
        except (TypeError, ValueError):
            noun = "a whole number" if kind is int else "a number"
            raise RunnerError(f"option {key} must be {noun}, got {value!r}") from None


class Runner(abc.ABC):
    """Base class for runners. Subclasses implement :meth:`generate`."""

    name: ClassVar[str] = ""
    chat: ClassVar[bool] = False
    """True when the runner sends ``messages`` rather than ``prompt``."""
    raw_sql: ClassVar[bool] = False
    """True when ``Generation.text`` is SQL as is (oracle, file): the pipeline then neither
    extracts SQL from it nor journals it for resume."""
    beam_search: ClassVar[bool] = False
    """True when ``-b`` > 1 means beam search; other runners decode greedily (or sample)."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config

    @classmethod
    def preflight(cls, config: RunnerConfig) -> None:
        """Raise :class:`RunnerError` for options that surely fail (a model path that does
        not exist, a required URL or key missing), cheaply: no model loading, no network.

        The pipeline calls it before it starts the databases, so a typo fails in a moment
        rather than after setup. The default checks nothing.
        """

    @abc.abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        """Yield ``(index, Generation)`` for every request, each index exactly once."""

    def describe(self) -> Mapping[str, object]:
        """What identifies this runner's output, for resume fingerprints and reports."""
        return {"runner": self.name, "model": self.config.model}

    def settings(self) -> Mapping[str, object]:
        """What the runner resolved, for the summary: :meth:`describe` plus choices that do not
        identify its output (the device, say). Not part of the resume fingerprint."""
        return self.describe()

    def close(self) -> None:
        """Release models, servers, threads. Called once, also after errors."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RunnerError(Exception):
    """A runner cannot start (missing extra, bad option, unreadable model path).

    The CLI turns it into one clear line and exit code 2.
    """


def first_line(exc: BaseException) -> str:
    """An exception's first line (library errors can run to pages), else its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
