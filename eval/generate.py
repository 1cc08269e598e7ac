"""The generation stage: render prompts, run the runner, extract SQL, journal for resume.

Each generation is appended to a fingerprinted journal (``OUT.csv.generations.jsonl``)
the moment it arrives, so rerunning the same command generates only what is missing,
and Ctrl-C or a crash loses nothing already generated. The journal is kept after the
run: re-evaluating the same generations (other comparison options, a fixed benchmark
database) costs no model time. Runners that return SQL as is (oracle, file) are neither
journaled nor extracted from.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from eval.extract import Extraction, extract
from eval.journal import Journal
from eval.prompts import Rendered
from eval.records import Prediction, Question
from runners.base import GENERATION_FAILED, Generation, GenerationRequest, Runner


@dataclass(frozen=True)
class Prepared:
    """A request and what extraction needs to know about its prompt."""

    request: GenerationRequest
    prefill: str = ""


def build_requests(
    questions: Sequence[Question],
    *,
    gold_of: Callable[[Question], str],
    render: Callable[[Question], Rendered] | None = None,
) -> list[Prepared]:
    """A request per question; ``render`` is None for runners that need no prompt."""
    prepared = []
    for q in questions:
        rendered = (
            render(q) if render else Rendered(q.question, ({"role": "user", "content": q.question},), "")
        )
        request = GenerationRequest(
            key=f"{q.index}:{_digest(rendered)}",
            prompt=rendered.prompt,
            messages=rendered.messages,
            gold_query=gold_of(q),
            fields=q.fields,
        )
        prepared.append(Prepared(request, rendered.prefill))
    return prepared


def _digest(rendered: Rendered) -> str:
    text = json.dumps([rendered.prompt, list(rendered.messages)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generate(
    runner: Runner,
    items: Sequence[Prepared],
    *,
    journal: Journal | None = None,
    progress: bool = True,
) -> tuple[list[Prediction], int]:
    """A prediction per item, in order, and how many came from the journal.

    A runner's per-item error is kept as the prediction's error.
    """
    journal = None if runner.raw_sql else journal
    done = _load(journal)
    # A journaled failure (retries ran out, out of memory) is tried again: only answers
    # are worth keeping.
    generations: dict[int, Generation] = {
        i: generation_from_record(done[item.request.key])
        for i, item in enumerate(items)
        if item.request.key in done and not done[item.request.key].get("error")
    }
    todo = [i for i in range(len(items)) if i not in generations]
    with tqdm(
        total=len(items),
        initial=len(generations),
        desc="generating",
        unit="q",
        disable=not progress or None,
        leave=False,
    ) as bar:
        try:
            for position, generation in runner.generate([items[i].request for i in todo]):
                index = todo[position]
                generations[index] = generation
                if journal is not None:
                    journal.append(items[index].request.key, generation_record(generation))
                bar.update(1)
        finally:
            if journal is not None:
                journal.close()
    missing = Generation(
        text="", error=f"runner {runner.name!r} returned no generation", error_kind=GENERATION_FAILED
    )
    predictions = [
        _prediction(generations.get(i, missing), item.prefill, extract_from=not runner.raw_sql)
        for i, item in enumerate(items)
    ]
    return predictions, len(items) - len(todo)


def _load(journal: Journal | None) -> dict[str, dict[str, Any]]:
    if journal is None:
        return {}
    done = journal.load()
    if journal.set_aside is not None:
        print(
            f"note: {journal.path} was made with another model, prompt, options or question set; "
            f"set aside as {journal.set_aside.name}, generating afresh",
            file=sys.stderr,
        )
    return done


def generation_record(generation: Generation) -> dict[str, Any]:
    return {
        "text": generation.text,
        "error": generation.error,
        "error_kind": generation.error_kind,
        "latency_s": round(generation.latency_s, 4),
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": generation.completion_tokens,
        "beams": list(generation.beams),
        "finish_reason": generation.finish_reason,
    }


def generation_from_record(record: Mapping[str, Any]) -> Generation:
    return Generation(
        text=record["text"],
        error=record.get("error"),
        error_kind=record.get("error_kind"),
        latency_s=float(record.get("latency_s") or 0.0),
        prompt_tokens=record.get("prompt_tokens"),
        completion_tokens=record.get("completion_tokens"),
        beams=tuple(record.get("beams") or ()),
        finish_reason=record.get("finish_reason"),
    )


def _prediction(generation: Generation, prefill: str, *, extract_from: bool) -> Prediction:
    found = extract(generation.text, prefill) if extract_from else Extraction(generation.text.strip(), True)
    return Prediction(
        sql=found.sql,
        raw_text=generation.text,
        error=generation.error,
        error_kind=generation.error_kind or "",
        latency_s=generation.latency_s,
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        # Cut off mid-query. A budget that ran out after the query was closed (a ';', a
        # closing fence, prose after it) only cut the chatter: the answer is judged.
        truncated=generation.truncated and not found.complete,
        extracted=extract_from,
        beams=generation.beams,
        finish_reason=generation.finish_reason,
    )
