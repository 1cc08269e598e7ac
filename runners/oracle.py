"""The ``oracle`` runner: answers with the first gold expansion.

A sanity check of a benchmark and of the harness: it must score 100% on any valid
benchmark, so anything less points at the benchmark (or the harness), not at a model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from runners.base import Generation, GenerationRequest, Runner


class OracleRunner(Runner):
    name = "oracle"
    raw_sql = True

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        for index, request in enumerate(requests):
            yield index, Generation(text=request.gold_query)
