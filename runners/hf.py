"""The ``hf`` runner: a transformers causal LM on this machine.

Prompts are tokenized once, sorted by length (longest first, so an out-of-memory error
shows up in the first batch rather than after an hour) and generated in batches of
``--batch-size`` with left padding, greedy (``-b 1``) or with beam search, stopping at
EOS or, when the prompt left a ```` ``` ```` fence open (the default template ends in
```` ```sql\nSELECT ````), at the closing fence: each sequence (each beam) stops on its own,
through transformers' stop strings, and prompts are batched only with prompts that stop
alike. Every beam's text is kept, best first; the best is the prediction. A batch that
runs out of memory is split in two and retried; a single prompt that still does not fit
becomes that item's error. Latency is the batch's time shared equally by its items.

torch and transformers are imported when the runner starts (``pip install '.[hf]'``);
an adapter (``-a``) needs peft (``pip install '.[peft]'``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from runners.base import (
    OUT_OF_MEMORY,
    Generation,
    GenerationRequest,
    Runner,
    RunnerConfig,
    RunnerError,
    first_line,
)
from runners.chat_prompt import encode_with_stops, uses_chat_template
from runners.model_ref import check_hub_model, check_model_ref, missing_module

DTYPES = ("float32", "float16", "bfloat16")


class HFRunner(Runner):
    name = "hf"
    beam_search = True

    def __init__(self, config: RunnerConfig) -> None:
        super().__init__(config)
        check_model_ref(self.name, config.model)
        self.torch, transformers = _require()
        if not config.progress:
            # Process-wide, as the CLI wants it: also hub downloads' bars.
            transformers.utils.logging.disable_progress_bar()
        self.device = choose_device(config.device, self.torch)
        self.dtype = choose_dtype(config.dtype, self.device, self.torch)
        self.tokenizer = _load(transformers.AutoTokenizer, config.model, "tokenizer")
        self.model = _load(
            transformers.AutoModelForCausalLM, config.model, "model", **_dtype_kwarg(transformers, self.dtype)
        )
        if self.tokenizer.pad_token_id is None:
            _add_pad_token(self.tokenizer, self.model)
        if config.adapter:
            self.model = _with_adapter(self.model, config.adapter)
        self.model.to(self.device)
        self.model.eval()
        # The one line that says where it runs: "best found" and "auto" are decisions.
        print(f"hf: {config.model} on {self.device} as {self._dtype_name}", file=sys.stderr)

    @classmethod
    def preflight(cls, config: RunnerConfig) -> None:
        check_model_ref(cls.name, config.model)
        missing = missing_module("torch", "transformers")
        if missing:
            raise _missing_extra(missing)
        check_hub_model(config.model)

    def describe(self) -> dict[str, object]:
        return {
            "runner": self.name,
            "model": self.config.model,
            "adapter": self.config.adapter,
            "dtype": self._dtype_name,
            "chat_template": uses_chat_template(self.tokenizer),
        }

    def settings(self) -> dict[str, object]:
        return {**self.describe(), "device": self.device, "batch_size": self.config.batch_size}

    @property
    def _dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        encoded = [encode_with_stops(self.tokenizer, r) for r in requests]
        prompts = [tokens for tokens, _ in encoded]
        stops = [tuple(stop) for _, stop in encoded]
        # One generate() call has one set of stop strings: batch prompts that stop alike.
        for stop in sorted(set(stops)):
            members = [i for i, s in enumerate(stops) if s == stop]
            for batch in plan_batches([len(prompts[i]) for i in members], self.config.batch_size):
                yield from self._generate_fitting([members[j] for j in batch], prompts, stop)

    def _generate_fitting(
        self, batch: list[int], prompts: list[list[int]], stop: tuple[str, ...] = ()
    ) -> Iterator[tuple[int, Generation]]:
        """Generate ``batch``, halving it while it runs out of memory."""
        try:
            results = self._generate_batch([prompts[i] for i in batch], stop)
        except Exception as exc:
            if not is_out_of_memory(exc, self.torch):
                raise
            self._free_memory()
            if len(batch) == 1:
                yield (
                    batch[0],
                    Generation(
                        text="",
                        error=f"out of memory on {self.device}: {first_line(exc)}",
                        error_kind=OUT_OF_MEMORY,
                    ),
                )
                return
            half = len(batch) // 2
            yield from self._generate_fitting(batch[:half], prompts, stop)
            yield from self._generate_fitting(batch[half:], prompts, stop)
            return
        yield from zip(batch, results)

    def _generate_batch(self, prompts: list[list[int]], stop: tuple[str, ...] = ()) -> list[Generation]:
        torch = self.torch
        pad_id = self.tokenizer.pad_token_id
        input_ids, attention_mask = left_pad(prompts, pad_id)
        beams = self.config.num_beams
        started = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=torch.tensor(input_ids, device=self.device),
                attention_mask=torch.tensor(attention_mask, device=self.device),
                generation_config=self._generation_config(stop),
                tokenizer=self.tokenizer,  # stop strings are matched on its vocabulary
            )
        elapsed = (time.perf_counter() - started) / len(prompts)
        new_tokens = output[:, len(input_ids[0]) :].tolist()
        stops = self._stop_ids()
        results = []
        for i, prompt in enumerate(prompts):
            rows = new_tokens[i * beams : (i + 1) * beams]
            texts = tuple(self.tokenizer.decode(row, skip_special_tokens=True) for row in rows)
            completion = _count_until(rows[0], stops)
            results.append(
                Generation(
                    text=texts[0],
                    latency_s=elapsed,
                    prompt_tokens=len(prompt),
                    completion_tokens=completion,
                    beams=texts,
                    finish_reason=finish_reason(completion, texts[0], stop, self.config.max_new_tokens),
                )
            )
        return results

    def _generation_config(self, stop: tuple[str, ...] = ()) -> Any:
        """Greedy or beam search, from the model's own config minus its sampling settings,
        ending at EOS or at one of ``stop`` (a sequence that stops is padded after it)."""
        config = self.model.generation_config.__class__.from_dict(self.model.generation_config.to_dict())
        beams = self.config.num_beams
        config.do_sample = False
        config.temperature = config.top_p = config.top_k = None
        config.num_beams = beams
        config.num_return_sequences = beams
        config.early_stopping = beams > 1
        config.max_new_tokens = self.config.max_new_tokens
        config.max_length = None
        config.stop_strings = list(stop) or None
        config.pad_token_id = self.tokenizer.pad_token_id
        if config.eos_token_id is None:
            config.eos_token_id = self.tokenizer.eos_token_id
        return config

    def _stop_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos, self.tokenizer.eos_token_id]
        return {i for i in [*eos, self.tokenizer.pad_token_id] if i is not None}

    def _free_memory(self) -> None:
        if self.device.startswith("cuda"):
            self.torch.cuda.empty_cache()
        elif self.device == "mps":
            self.torch.mps.empty_cache()

    def close(self) -> None:
        self.model = None
        if hasattr(self, "torch"):
            self._free_memory()


# --------------------------------------------------------------------------- pure helpers


def plan_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (stable for ties)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), max(1, batch_size))]


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    """Input ids and attention mask, padded on the left so every prompt ends at the same column
    (a decoder-only model continues from the last column)."""
    width = max(len(p) for p in prompts)
    ids = [[pad_id] * (width - len(p)) + list(p) for p in prompts]
    mask = [[0] * (width - len(p)) + [1] * len(p) for p in prompts]
    return ids, mask


def choose_device(requested: str | None, torch: Any) -> str:
    """The requested device, else CUDA, else Apple's MPS, else the CPU."""
    if requested and requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise RunnerError(f"--device {requested}: CUDA is not available on this machine")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def choose_dtype(requested: str | None, device: str, torch: Any) -> Any:
    """The requested dtype, else bf16 on CUDA where supported (fp16 otherwise), fp16 on MPS,
    fp32 on the CPU (half precision there is slow or unsupported)."""
    if requested and requested != "auto":
        if requested not in DTYPES:
            raise RunnerError(f"--dtype {requested}: expected one of {', '.join(DTYPES)}")
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def is_out_of_memory(exc: BaseException, torch: Any) -> bool:
    kinds = tuple(k for k in (getattr(torch, "OutOfMemoryError", None), torch.cuda.OutOfMemoryError) if k)
    # MPS and some CUDA paths raise a plain RuntimeError.
    return isinstance(exc, kinds) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def finish_reason(completion_tokens: int, text: str, stop: Sequence[str], budget: int) -> str:
    """ "length" when the sequence used the whole budget without EOS or a stop string at its end.

    A sequence that ends early is followed by EOS or padding, so fewer tokens than the
    budget means it stopped; one that used the whole budget stopped only if a stop string
    completed on its last tokens.
    """
    if completion_tokens < budget or any(text.endswith(s) for s in stop):
        return "stop"
    return "length"


def _count_until(tokens: Sequence[int], stops: set[int]) -> int:
    for n, token in enumerate(tokens):
        if token in stops:
            return n
    return len(tokens)


# --------------------------------------------------------------------------- loading


def _require() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise _missing_extra(exc.name or str(exc)) from None
    return torch, transformers


def _missing_extra(module: str) -> RunnerError:
    return RunnerError(
        f"the hf runner needs torch and transformers ({module} is missing): pip install '.[hf]'"
    )


def _dtype_kwarg(transformers: Any, dtype: Any) -> dict[str, Any]:
    # transformers 4.56 renamed torch_dtype to dtype (the old name warns, then goes).
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def _load(loader: Any, model: str, what: str, **kwargs: Any) -> Any:
    try:
        return loader.from_pretrained(model, **kwargs)
    except (OSError, ValueError) as exc:
        raise RunnerError(f"cannot load the {what} of {model!r}: {first_line(exc)}") from None


def _add_pad_token(tokenizer: Any, model: Any) -> None:
    """Batches need a pad token: reuse EOS (masked out anyway), else add one."""
    if tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    else:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
        model.resize_token_embeddings(len(tokenizer))


def _with_adapter(model: Any, adapter: str) -> Any:
    try:
        from peft import PeftModel
    except ImportError:
        raise RunnerError("an adapter (-a) needs peft: pip install '.[peft]'") from None
    try:
        return PeftModel.from_pretrained(model, adapter)
    except (OSError, ValueError) as exc:
        raise RunnerError(f"cannot load the adapter {adapter!r}: {first_line(exc)}") from None
