"""One evaluation run, stage by stage: setup, generation, evaluation, output."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from eval import __version__
from eval.comparator import CompareOptions
from eval.db.base import Backend, ExecLimits
from eval.db.postgres import EmbeddedServer, ExternalServer, PostgresBackend
from eval.errors import BadInput
from eval.evaluate import Evaluator, plan_gold
from eval.generate import build_requests, generate
from eval.goldcache import GoldCache
from eval.output import format_table, summary_dict, write_results_csv, write_summary_json
from eval.questions import load_questions
from eval.records import Question, ResultRow
from eval.schemas import combined_hash, discover, file_hash
from eval.scoring import summarize
from runners import RunnerConfig, load_runner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    questions: Path
    schemas: Path
    output: Path
    runner: str = "oracle"
    runner_config: RunnerConfig = field(default_factory=RunnerConfig)
    limit: int | None = None
    parallel: int = 2
    limits: ExecLimits = field(default_factory=ExecLimits)
    compare: CompareOptions = field(default_factory=CompareOptions)
    pg_url: str | None = None
    cache_dir: Path = Path(".")
    gold_cache: bool = True
    allow_writable_role: bool = False
    progress: bool = True


def open_backend(config: RunConfig) -> Backend:
    """The embedded server unless a URL is given."""
    cache_dir = config.cache_dir
    if config.pg_url:
        server: EmbeddedServer | ExternalServer = ExternalServer(config.pg_url, cache_dir)
    else:
        server = EmbeddedServer(cache_dir)
    return PostgresBackend(server, config.limits, allow_writable_role=config.allow_writable_role)


def load_items(config: RunConfig) -> list[Question]:
    """The questions to evaluate: the questions file, or the predictions file for ``file``."""
    if config.runner == "file":
        if not config.runner_config.predictions:
            raise BadInput("the file runner needs --predictions FILE")
        path = Path(config.runner_config.predictions)
        questions = load_questions(path, limit=config.limit)
        if "generated_query" not in questions[0].fields:
            raise BadInput(f"{path}: missing required column: generated_query")
        return questions
    return load_questions(config.questions, limit=config.limit)


def run(config: RunConfig) -> int:
    started = time.perf_counter()
    questions = load_items(config)
    sources = discover(config.schemas, [q.db_name for q in questions])
    runner_cls = load_runner(config.runner)
    with open_backend(config) as backend:
        backend.prepare(sources)
        setup_s = time.perf_counter() - started

        t0 = time.perf_counter()
        plans = {q.index: plan_gold(q) for q in questions}
        requests = build_requests(
            questions,
            gold_of=lambda q: plans[q.index].expansions[0] if plans[q.index].expansions else "",
            prompt_for=lambda q: q.question,
        )
        with runner_cls(config.runner_config) as runner:
            predictions = generate(runner, requests, progress=config.progress)
            described = dict(runner.describe())
        generation_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        cache = GoldCache(config.cache_dir / "gold" if config.gold_cache else None, config.limits.max_rows)
        evaluator = Evaluator(
            backend, parallel=config.parallel, compare_options=config.compare, gold_cache=cache
        )
        rows = _evaluate_with_progress(evaluator, list(zip(questions, predictions)), config.progress)
        evaluation_s = time.perf_counter() - t0

    summary = summarize(rows)
    source_file = Path(config.runner_config.predictions) if config.runner == "file" else config.questions
    meta = {
        "harness_version": __version__,
        "created_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "runner": described.get("runner", config.runner),
        "model": described.get("model", config.runner_config.model),
        "prompt_file": described.get("prompt_file"),
        "num_beams": config.runner_config.num_beams,
        "questions_file": str(source_file),
        "questions_hash": file_hash(source_file),
        "schemas_hash": combined_hash(sources.values()),
        "timings": {
            "setup_s": round(setup_s, 4),
            "generation_s": round(generation_s, 4),
            "evaluation_s": round(evaluation_s, 4),
            "total_s": round(time.perf_counter() - started, 4),
        },
        "execution": {
            "distinct_queries": evaluator.stats.distinct_queries,
            "executed": evaluator.stats.executed,
            "gold_cache_hits": evaluator.stats.gold_cache_hits,
        },
    }
    write_results_csv(config.output, rows)
    write_summary_json(config.output.with_suffix(".json"), summary_dict(summary, meta))
    print(format_table(summary))
    print(f"results: {config.output}  summary: {config.output.with_suffix('.json')}")
    if summary.gold_errors:
        print(
            f"warning: {summary.gold_errors} gold query(ies) failed; they are benchmark errors, "
            "excluded from accuracy (see the gold_error column)",
            file=sys.stderr,
        )
    return 0


def _evaluate_with_progress(evaluator: Evaluator, items, progress: bool) -> list[ResultRow]:
    correct = 0
    done = 0
    with tqdm(total=len(items), desc="evaluating", unit="q", disable=not progress or None) as bar:

        def on_row(row: ResultRow) -> None:
            nonlocal correct, done
            done += 1
            correct += row.correct
            bar.update(1)
            bar.set_postfix(accuracy=f"{correct / done:.1%}")

        return evaluator.evaluate(items, on_row=on_row)
