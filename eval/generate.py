"""The generation stage: turn questions into requests, run the runner, collect predictions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tqdm import tqdm

from eval.records import Prediction, Question
from runners.base import Generation, GenerationRequest, Runner


def build_requests(
    questions: Sequence[Question],
    *,
    gold_of: Callable[[Question], str],
    prompt_for: Callable[[Question], str],
) -> list[GenerationRequest]:
    requests = []
    for q in questions:
        prompt = prompt_for(q)
        requests.append(
            GenerationRequest(
                key=str(q.index),
                prompt=prompt,
                messages=({"role": "user", "content": prompt},),
                gold_query=gold_of(q),
                fields=q.fields,
            )
        )
    return requests


def generate(
    runner: Runner,
    requests: Sequence[GenerationRequest],
    *,
    progress: bool = True,
) -> list[Prediction]:
    """A prediction per request, in request order; a runner's per-item error is kept."""
    predictions: list[Prediction | None] = [None] * len(requests)
    with tqdm(
        total=len(requests), desc="generating", unit="q", disable=not progress or None, leave=False
    ) as bar:
        for index, generation in runner.generate(requests):
            predictions[index] = _prediction(generation)
            bar.update(1)
    missing = [i for i, p in enumerate(predictions) if p is None]
    for i in missing:
        predictions[i] = Prediction(sql="", error=f"runner {runner.name!r} returned no generation")
    return [p for p in predictions if p is not None]


def _prediction(generation: Generation) -> Prediction:
    return Prediction(
        sql=generation.text.strip(),
        raw_text=generation.text,
        error=generation.error,
        latency_s=generation.latency_s,
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
    )
