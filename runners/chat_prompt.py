"""Prompt text for local models that bring a tokenizer (hf, vllm).

A tokenizer with a chat template gets the request's messages through that template (a
last ``assistant`` message is a prefill the model continues); one without gets the
completion prompt. Both runners tokenize here, so the same request gives the same tokens.
"""

from __future__ import annotations

from typing import Any

from runners.base import GenerationRequest


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


def encode(tokenizer: Any, request: GenerationRequest) -> list[int]:
    text, add_special = prompt_text(tokenizer, request)
    ids: list[int] = tokenizer(text, add_special_tokens=add_special)["input_ids"]
    return ids
