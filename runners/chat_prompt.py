"""Prompt text for local models that bring a tokenizer (hf, vllm, llama-cpp).

A tokenizer with a chat template gets the request's messages through that template (a
last ``assistant`` message is a prefill the model continues); one without gets the
completion prompt. The runners tokenize here, so the same request gives the same tokens,
and decide here where the answer ends (:func:`stop_sequences`).
"""

from __future__ import annotations

import re
from typing import Any

from runners.base import GenerationRequest

FENCE = "```"
CLOSING_FENCE = "\n" + FENCE
FENCE_LINE = re.compile(r"^ {0,3}```", re.MULTILINE)


def uses_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def prompt_text(tokenizer: Any, request: GenerationRequest) -> tuple[str, bool]:
    """The text to tokenize and whether the tokenizer should add its special tokens.

    A chat template writes the special tokens (BOS...) itself: adding them again would
    double them. Templates that refuse a system message (some do, by raising) get it
    folded into the first user message.
    """
    if not (uses_chat_template(tokenizer) and request.messages):
        return request.prompt, True
    messages = [dict(m) for m in request.messages]
    try:
        return _apply(tokenizer, messages), False
    except Exception:  # jinja2's TemplateError, raised by the template's own checks
        if messages[0]["role"] != "system" or len(messages) < 2:
            raise
    system, first, rest = messages[0], messages[1], messages[2:]
    merged = {"role": first["role"], "content": f"{system['content']}\n\n{first['content']}"}
    return _apply(tokenizer, [merged, *rest]), False


def _apply(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    prefill = messages[-1]["role"] == "assistant"
    text = tokenizer.apply_chat_template(
        messages,
        tokenize=False,
        add_generation_prompt=not prefill,
        continue_final_message=prefill,
    )
    return str(text)


def encode_with_stops(tokenizer: Any, request: GenerationRequest) -> tuple[list[int], list[str]]:
    """The prompt's tokens and where its answer ends (:func:`stop_sequences`)."""
    text, add_special = prompt_text(tokenizer, request)
    return tokenize(tokenizer, text, add_special), stop_sequences(text)


def tokenize(tokenizer: Any, text: str, add_special: bool) -> list[int]:
    ids: list[int] = tokenizer(text, add_special_tokens=add_special)["input_ids"]
    return ids


def stop_sequences(prompt: str) -> list[str]:
    """Stop at the closing fence when the prompt leaves a ``` fence open for the SQL
    (the default template ends in ```` ```sql\nSELECT ````): what a model writes after
    it is chatter that only costs time.

    Only fences that begin a line count (as in Markdown), both the one the prompt opens
    (a ```sql mentioned inside a sentence opens nothing) and the one that closes it: the
    stop is a newline and the fence, so a ``` inside a string literal of the query does
    not end the answer.
    """
    return [CLOSING_FENCE] if len(FENCE_LINE.findall(prompt)) % 2 == 1 else []
