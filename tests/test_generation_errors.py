"""Failed generations as their own outcome: kinds, the reason's text, the exit threshold.

The real failures (a server that is down, a prompt over llama.cpp's context, hf out of
memory) are tested with the runners: tests/test_runner_api.py, test_runner_llama.py,
test_runner_hf.py.
"""

from __future__ import annotations

import pytest

from eval.records import Prediction
from eval.scoring import GenerationErrorBudget
from runners.base import is_context_overflow


@pytest.mark.parametrize(
    ("text", "failed", "total", "exceeded"),
    [
        ("0", 0, 10, False),
        ("0", 1, 10, True),  # the default: any failure
        ("3", 3, 10, False),
        ("3", 4, 10, True),
        ("0.1", 1, 10, False),  # a fraction: at most 10% of the questions
        ("0.1", 2, 10, True),
        ("0.25", 1, 3, True),
        ("1.0", 10, 10, False),
        ("0.0", 1, 1000, True),
        ("0.0", 0, 0, False),
    ],
)
def test_the_budget_is_a_count_or_a_fraction(text, failed, total, exceeded):
    assert GenerationErrorBudget.parse(text).exceeded(failed, total) is exceeded


@pytest.mark.parametrize(("text", "shown"), [("0", "0"), ("7", "7"), ("0.05", "0.05"), ("1.0", "1")])
def test_the_budget_is_shown_as_given(text, shown):
    assert str(GenerationErrorBudget.parse(text)) == shown


@pytest.mark.parametrize("text", ["-1", "1.5", "-0.1", "many", "nan", ""])
def test_a_bad_budget_is_refused(text):
    with pytest.raises(ValueError):
        GenerationErrorBudget.parse(text)


@pytest.mark.parametrize(
    ("error", "kind", "shown"),
    [
        (None, "", ""),
        (
            "APIConnectionError: Connection error.",
            "server unreachable",
            "server unreachable: APIConnectionError: Connection error.",
        ),
        (
            "out of memory on cuda: CUDA out of memory",
            "out of memory",
            "out of memory on cuda: CUDA out of memory",
        ),
        ("the runner crashed", "", "generation failed: the runner crashed"),
    ],
)
def test_the_generation_error_names_its_kind_once(error, kind, shown):
    assert Prediction(sql="", error=error, error_kind=kind).generation_error == shown


@pytest.mark.parametrize(
    ("message", "overflow"),
    [
        ("Requested tokens (900) exceed context window of 512", True),  # llama.cpp
        ("This model's maximum context length is 4096 tokens. However, you requested 5000 tokens", True),
        ("Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096", True),  # TGI
        ("context_length_exceeded", True),
        ("Invalid value for temperature", False),
        ("temperature must be <= 2", False),
        ("model not found", False),
    ],
)
def test_context_overflow_is_recognised_in_backends_words(message, overflow):
    assert is_context_overflow(message) is overflow
