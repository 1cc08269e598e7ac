"""The ``file`` runner: predictions read from ``--predictions FILE``.

The pipeline loads the predictions CSV as the question set (it carries the question
columns plus ``generated_query``), so one question may appear many times with different
predictions; each row is evaluated as given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from runners.base import Generation, GenerationRequest, Runner

PREDICTION_COLUMN = "generated_query"


class FileRunner(Runner):
    name = "file"
    raw_sql = True

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        for index, request in enumerate(requests):
            yield index, Generation(text=request.fields.get(PREDICTION_COLUMN, "") or "")

    def describe(self) -> dict[str, object]:
        return {"runner": self.name, "model": self.config.model or self.config.predictions or ""}
