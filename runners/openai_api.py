"""The ``openai`` and ``api`` runners: chat completions over HTTP with the official client.

``openai`` talks to api.openai.com (or ``--api-url``) and needs ``OPENAI_API_KEY``.
``api`` talks to any OpenAI-compatible server (``vllm serve``, TGI, llama.cpp's server,
llama-cpp-python's server); ``--api-url`` is required and the key is optional.

Each request sends the request's chat ``messages`` with temperature 0 (``temperature`` in
``config.extra``) and a length limit of ``config.max_new_tokens``; the raw reply is
returned, the pipeline extracts the SQL.  Up to ``config.parallel`` requests are in flight
at once (a pool of threads) and each item is yielded as it completes.

Failures, decided per HTTP status:

- 429, 408, 409, 5xx, timeouts and connection errors are retried up to ``max_retries``
  times (``config.extra``, default 5) with exponential backoff and jitter, or after the
  server's ``Retry-After``.  The client's own retries are off, so every attempt is ours,
  counted in :attr:`ChatAPIRunner.stats` and logged.
- 401 and 403 stop the run with :class:`RunnerError`: the key is shared by every request,
  so nothing further can succeed.  A 404 before any request succeeded also stops the run
  (a wrong model name or URL fails every item alike); after a success it is per-item.
- Any other status (400 for a prompt over the context window, 422...) is not retried and
  becomes that item's ``Generation.error``; the rest of the batch goes on.

``latency_s`` is the duration of the attempt that answered (backoff waits and failed
attempts excluded, so it measures the model, not the rate limiter).
"""

from __future__ import annotations

import email.utils
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import openai

from runners.base import (
    CONTEXT_OVERFLOW,
    GENERATION_FAILED,
    NO_ANSWER,
    REQUEST_REJECTED,
    RETRIES_EXHAUSTED,
    SERVER_UNREACHABLE,
    Generation,
    GenerationRequest,
    Runner,
    RunnerConfig,
    RunnerError,
    is_context_overflow,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
# A server asking for a longer pause than this is treated as asking for this long.
MAX_RETRY_AFTER_S = 300.0
RETRYABLE_STATUS = frozenset({408, 409, 429})
AUTH_STATUS = frozenset({401, 403})
NO_KEY_PLACEHOLDER = "not-needed"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before trying a failed request again."""

    max_retries: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based).

        The server's own ``Retry-After`` wins; otherwise ``base * 2**retry`` capped, with
        "equal jitter" (a random half of it) so parallel workers do not retry in lockstep.
        """
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S) * random.uniform(1.0, 1.1)
        ceiling = min(self.cap_s, self.base_s * 2**retry)
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class RequestStats:
    """Counters over the runner's life, for logs and tests (updated under a lock)."""

    attempts: int = 0
    retries: int = 0
    failed_items: int = 0


@dataclass(frozen=True)
class _Failure:
    message: str
    retryable: bool
    retry_after: float | None = None
    kind: str = GENERATION_FAILED
    """What the item's error is, should this be its last attempt (runners.base)."""


class ChatAPIRunner(Runner):
    """Shared machinery of ``openai`` and ``api``; subclasses build the client."""

    chat = True
    length_parameter = "max_tokens"

    def __init__(self, config: RunnerConfig) -> None:
        super().__init__(config)
        if config.parallel < 1:
            raise RunnerError(f"--api-concurrency must be at least 1 for runner {self.name!r}")
        self.policy = RetryPolicy(
            max_retries=config.number("max_retries", 5, int),
            base_s=config.number("retry_base_s", 1.0, float),
        )
        if self.policy.max_retries < 0:
            raise RunnerError("max_retries must be 0 or more")
        self.timeout_s = config.number("request_timeout", DEFAULT_TIMEOUT_S, float)
        self.temperature = config.number("temperature", 0.0, float)
        self.stats = RequestStats()
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self.client = self._make_client()
        self.model = self._model_name()

    # -- what subclasses decide --------------------------------------------------------

    def _make_client(self) -> openai.OpenAI:
        raise NotImplementedError

    def _model_name(self) -> str:
        if not self.config.model:
            raise RunnerError(f"runner {self.name!r} needs a model name: -m MODEL")
        return self.config.model

    # -- the interface -------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        stop = threading.Event()  # set on a fatal error or when the caller stops reading
        todo: queue.SimpleQueue[tuple[int, GenerationRequest]] = queue.SimpleQueue()
        for item in enumerate(requests):
            todo.put(item)
        done: queue.SimpleQueue[tuple[int, Generation | BaseException]] = queue.SimpleQueue()
        # Daemon threads rather than a ThreadPoolExecutor: after Ctrl-C the process exits
        # at once instead of waiting for requests in flight (up to request_timeout).
        for n in range(min(self.config.parallel, len(requests))):
            worker = threading.Thread(
                target=self._work, args=(todo, done, stop), name=f"runner-{self.name}-{n}", daemon=True
            )
            worker.start()
        try:
            for _ in requests:
                index, outcome = done.get()
                if isinstance(outcome, BaseException):
                    raise outcome
                yield index, outcome
        finally:
            stop.set()  # queued requests are never sent; workers waiting to retry give up

    def describe(self) -> Mapping[str, object]:
        # No URL: it says where the model is served, not what answers (a server restarted
        # on another port must not throw away the generations journal).
        return {
            "runner": self.name,
            "model": self.model,
            "temperature": self.temperature,
            "max_new_tokens": self.config.max_new_tokens,
        }

    def close(self) -> None:
        self.client.close()

    # -- one item ------------------------------------------------------------------------

    def _work(
        self,
        todo: queue.SimpleQueue[tuple[int, GenerationRequest]],
        done: queue.SimpleQueue[tuple[int, Generation | BaseException]],
        stop: threading.Event,
    ) -> None:
        while not stop.is_set():
            try:
                index, request = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((index, self._complete(request, stop)))
            except BaseException as exc:  # raised again in the caller's thread, not lost here
                done.put((index, exc))

    def _complete(self, request: GenerationRequest, stop: threading.Event) -> Generation:
        """One item, retried as the policy allows; raises RunnerError when the run must stop."""
        messages = [dict(m) for m in request.messages] or [{"role": "user", "content": request.prompt}]
        retry = 0
        while not stop.is_set():
            outcome = self._attempt(messages, stop)
            if isinstance(outcome, Generation):
                return outcome
            if not outcome.retryable or retry >= self.policy.max_retries:
                self._count(failed_items=1)
                attempts = f" after {retry + 1} attempts" if retry else ""
                return Generation(text="", error=f"{outcome.message}{attempts}", error_kind=outcome.kind)
            wait = self.policy.delay(retry, outcome.retry_after)
            log.warning("%s: %s; retrying in %.1fs", self.name, outcome.message, wait)
            self._count(retries=1)
            retry += 1
            stop.wait(wait)
        return Generation(text="", error="not sent: the run stopped", error_kind=GENERATION_FAILED)

    def _attempt(self, messages: list[dict[str, str]], stop: threading.Event) -> Generation | _Failure:
        self._count(attempts=1)
        start = time.perf_counter()
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=self.temperature,
                # Set in the body: the client's typing of the two names differs across
                # its versions. Each runner sends the name its servers read.
                extra_body={self.length_parameter: self.config.max_new_tokens},
            )
        except openai.APIError as exc:
            try:
                return self._judge(exc)
            except RunnerError:
                stop.set()  # no other worker sends another request
                raise
        self._answered.set()
        return _generation(response, time.perf_counter() - start)

    def _judge(self, exc: openai.APIError) -> _Failure:
        """Retry or not, or stop the whole run (raises RunnerError)."""
        message = f"{type(exc).__name__}: {exc.message}"
        if isinstance(exc, openai.APITimeoutError):  # reached, but too slow to answer
            return _Failure(message, retryable=True, kind=RETRIES_EXHAUSTED)
        if isinstance(exc, openai.APIConnectionError):
            return _Failure(message, retryable=True, kind=SERVER_UNREACHABLE)
        if not isinstance(exc, openai.APIStatusError):  # a reply the client could not read
            return _Failure(message, retryable=False)
        status = exc.status_code
        message = f"HTTP {status}: {_short(exc.message)}"
        if status in AUTH_STATUS:
            raise RunnerError(
                f"{self._where()} refused the request ({message}); check OPENAI_API_KEY"
            ) from exc
        if status == 404 and not self._answered.is_set():
            raise RunnerError(f"{self._where()} has no model {self.model!r} or no such endpoint ({message})")
        retryable = status in RETRYABLE_STATUS or status >= 500
        if retryable:
            return _Failure(message, True, _retry_after(exc.response.headers), kind=RETRIES_EXHAUSTED)
        kind = CONTEXT_OVERFLOW if is_context_overflow(exc.message) else REQUEST_REJECTED
        return _Failure(message, False, kind=kind)

    def _where(self) -> str:
        return f"the API at {self.client.base_url}"

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)


class OpenAIRunner(ChatAPIRunner):
    """api.openai.com (or ``--api-url``), with ``OPENAI_API_KEY``."""

    name = "openai"
    # The official API's current name for the limit (reasoning models reject max_tokens).
    # Servers that only read max_tokens (llama-cpp-python's) then generate unbounded:
    # use the `api` runner for those.
    length_parameter = "max_completion_tokens"

    @classmethod
    def preflight(cls, config: RunnerConfig) -> None:
        cls._api_key()
        if not config.model:
            raise RunnerError(f"runner {cls.name!r} needs a model name: -m MODEL")

    @staticmethod
    def _api_key() -> str:
        # Also with --api-url: the client insists on a key (keyless servers: the api runner).
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise RunnerError("runner 'openai' needs an API key: set OPENAI_API_KEY")
        return key

    def _make_client(self) -> openai.OpenAI:
        key = self._api_key()
        return openai.OpenAI(
            api_key=key, base_url=self.config.api_url or None, max_retries=0, timeout=self.timeout_s
        )


class APIRunner(ChatAPIRunner):
    """Any OpenAI-compatible server at ``--api-url``; the key is optional."""

    name = "api"

    @classmethod
    def preflight(cls, config: RunnerConfig) -> None:
        if not config.api_url:
            raise RunnerError(
                "runner 'api' needs the server's address: --api-url http://HOST:PORT/v1 (or OPENAI_BASE_URL)"
            )

    def _make_client(self) -> openai.OpenAI:
        self.preflight(self.config)
        # Local servers usually need no key, but the client insists on one.
        key = os.environ.get("OPENAI_API_KEY") or NO_KEY_PLACEHOLDER
        return openai.OpenAI(api_key=key, base_url=self.config.api_url, max_retries=0, timeout=self.timeout_s)

    def _model_name(self) -> str:
        """``-m`` if given, else the one model the server serves."""
        if self.config.model:
            return self.config.model
        try:
            served = [model.id for model in self.client.models.list()]
        except openai.APIError as exc:
            raise RunnerError(
                f"cannot list the models of {self._where()}: {exc.message}; pass -m MODEL"
            ) from exc
        if len(served) != 1:
            raise RunnerError(f"{self._where()} serves {len(served)} models {served}; choose one with -m")
        return served[0]


def _generation(response: Any, latency_s: float) -> Generation:
    if not response.choices:
        return Generation(
            text="", error="the reply had no choices", error_kind=NO_ANSWER, latency_s=latency_s
        )
    message = response.choices[0].message
    usage = response.usage
    error = None
    if message.content is None:
        error = f"the reply had no text (refusal: {getattr(message, 'refusal', None)!r})"
    return Generation(
        text=message.content or "",
        error=error,
        error_kind=NO_ANSWER if error else None,
        latency_s=latency_s,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        finish_reason=getattr(response.choices[0], "finish_reason", None),
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, or ``Retry-After`` as
    seconds or an HTTP date; None when absent or unreadable."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
