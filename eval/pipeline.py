"""One evaluation run, stage by stage: setup, generation, evaluation, output."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from eval import __version__
from eval.comparator import CompareOptions
from eval.db.base import Backend, ExecLimits
from eval.db.postgres import EmbeddedServer, ExternalServer, PostgresBackend
from eval.errors import BadInput
from eval.evaluate import Evaluator, oracle_sql, plan_gold
from eval.generate import build_requests, generate
from eval.goldcache import GoldCache
from eval.journal import Journal, fingerprint
from eval.output import (
    check_replaceable,
    format_table,
    result_record,
    row_from_record,
    summary_dict,
    write_results_csv,
    write_samples,
    write_summary_json,
)
from eval.prompts import Prompting, Rendered, Template, default_template, load_few_shot, load_template
from eval.questions import load_questions
from eval.records import Prediction, Question, ResultRow
from eval.schemas import combined_hash, discover, file_hash
from eval.scoring import GenerationErrorBudget, Summary, summarize
from eval.settings import run_settings
from eval.sqleval_prompts import database_glossary
from runners import Runner, RunnerConfig, load_runner

log = logging.getLogger(__name__)

GENERATION_ERRORS_EXIT = 3
"""The run completed, but more generations failed than --max-generation-errors allows: its
accuracy measures an outage or a setting, not the model."""


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
    dialect: str = "postgres"
    """Engine and SQL dialect: postgres, duckdb or sqlite (eval/dialects.py)."""
    gold_dialect: str = "postgres"
    """The dialect the gold queries are written in (a ``gold_dialect`` column overrides it)."""
    suite: int = 0
    """Variant databases per database for test-suite accuracy (eval/variants.py); 0: off."""
    suite_seed: int = 0
    prompt_file: str | None = None
    """A prompt template path or bundled name; None: the runner kind's default."""
    few_shot: Path | None = None
    max_generation_errors: GenerationErrorBudget = field(default_factory=GenerationErrorBudget)
    """Failed generations allowed before the run exits with GENERATION_ERRORS_EXIT."""
    log_samples: Path | None = None
    """Where to write one JSON line per question (prompt, raw output, SQL, verdict); None: not."""
    overwrite: bool = False
    """Replace an existing results file even when it holds another question set."""


def open_backend(config: RunConfig) -> Backend:
    """The embedded server unless a URL is given (or a file engine for --dialect duckdb|sqlite)."""
    cache_dir = config.cache_dir
    if config.dialect != "postgres":
        from eval.db.embedded import open_file_backend

        return open_file_backend(config.dialect, cache_dir, config.limits, pg_url=config.pg_url)
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
        questions = load_questions(path, limit=config.limit, gold_dialect=config.gold_dialect)
        if "generated_query" not in questions[0].fields:
            raise BadInput(f"{path}: missing required column: generated_query")
        return questions
    return load_questions(config.questions, limit=config.limit, gold_dialect=config.gold_dialect)


def run(config: RunConfig) -> int:
    started = time.perf_counter()
    if config.suite and config.dialect != "postgres":
        raise BadInput(
            f"--suite needs --dialect postgres (variants are PostgreSQL databases), not {config.dialect}"
        )
    questions = load_items(config)
    predictions_file = config.runner_config.predictions
    source_file = Path(predictions_file) if config.runner == "file" and predictions_file else config.questions
    runner_cls = load_runner(config.runner)
    runner_cls.preflight(config.runner_config)  # a wrong model path fails before the databases start
    if config.runner_config.num_beams > 1 and not (runner_cls.beam_search or runner_cls.raw_sql):
        log.warning(
            "-b %d: the %s runner has no beam search; it decodes greedily",
            config.runner_config.num_beams,
            config.runner,
        )
    setup = prompt_setup(config, runner_cls, questions)
    # After the inputs are checked, before anything is written or set aside.
    check_replaceable(config.output, questions, overwrite=config.overwrite)
    sources = discover(config.schemas, [q.db_name for q in questions])
    with open_backend(config) as backend:
        backend.prepare(sources)
        engine = backend.engine_version()
        setup_s = time.perf_counter() - started

        t0 = time.perf_counter()
        plans = {q.index: plan_gold(q) for q in questions}
        prompting = setup.prompting(config, backend)
        requests = build_requests(
            questions,
            gold_of=lambda q: oracle_sql(backend, plans[q.index], q.db_name),
            render=prompting.render if prompting else None,
        )
        with runner_cls(config.runner_config) as runner:
            described = dict(runner.describe())
            resolved = runner.settings()
            journal = Journal(
                config.output.with_name(config.output.name + ".generations.jsonl"),
                fingerprint(generation_identity(config, described, prompting, source_file)),
            )
            predictions, resumed_generations = generate(
                runner, requests, journal=journal, progress=config.progress
            )
        generation_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        cache = GoldCache(config.cache_dir / "gold" if config.gold_cache else None, config.limits.max_rows)
        evaluator = Evaluator(
            backend, parallel=config.parallel, compare_options=config.compare, gold_cache=cache
        )
        journal = Journal(
            config.output.with_name(config.output.name + ".evaluated.jsonl"),
            fingerprint(
                {
                    "questions": [q.fields for q in questions],
                    "schemas": combined_hash(sources.values()),
                    "compare": asdict(config.compare),
                    "limits": asdict(config.limits),
                    "version": __version__,
                    "dialect": config.dialect,
                }
            ),
        )
        rows, resumed = _evaluate_resumably(
            evaluator, journal, list(zip(questions, predictions)), config.progress
        )
        evaluation_s = time.perf_counter() - t0
        suite_meta: dict = {}
        if config.suite:
            from eval.variants import run_suite

            rows, suite_meta = run_suite(backend, sources, questions, rows, config, evaluator)

    summary = summarize(rows)
    meta = {
        "harness_version": __version__,
        "created_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "runner": described.get("runner", config.runner),
        "model": described.get("model", config.runner_config.model),
        "prompt_file": prompting.template.name if prompting else None,
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
            "resumed_generations": resumed_generations,
            "resumed_rows": resumed,
            "distinct_queries": evaluator.stats.distinct_queries,
            "executed": evaluator.stats.executed,
            "gold_cache_hits": evaluator.stats.gold_cache_hits,
        },
        "dialect": config.dialect,
        **run_settings(config.runner_config, resolved, prompting, config.few_shot, engine),
        **suite_meta,
    }
    write_results_csv(config.output, rows)
    if config.log_samples:
        write_samples(config.log_samples, list(zip(requests, predictions, rows)))
    write_summary_json(config.output.with_suffix(".json"), summary_dict(summary, meta))
    journal.discard()
    print(format_table(summary))
    print(f"results: {config.output}  summary: {config.output.with_suffix('.json')}")
    if summary.gold_errors:
        print(
            f"warning: {summary.gold_errors} gold query(ies) failed; they are benchmark errors, "
            "excluded from accuracy (see the gold_error column)",
            file=sys.stderr,
        )
    return generation_verdict(summary, config.max_generation_errors)


def generation_verdict(summary: Summary, budget: GenerationErrorBudget) -> int:
    """0, or GENERATION_ERRORS_EXIT with one line on stderr when too many generations failed."""
    failed, total = summary.generation_errors, summary.questions
    if not budget.exceeded(failed, total):
        return 0
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.generation_error_kinds.items()))
    print(
        f"error: {failed} of {total} generations failed ({kinds}), more than --max-generation-errors "
        f"{budget}: the accuracy measures the failures, not the model; see generation_error, "
        "fix the cause and rerun the same command to retry only those",
        file=sys.stderr,
    )
    return GENERATION_ERRORS_EXIT


@dataclass(frozen=True)
class PromptSetup:
    """The template and examples a run renders its prompts with (None: a runner without one)."""

    template: Template | None
    examples: list[dict[str, str]] | str = ""

    def prompting(self, config: RunConfig, backend: Backend) -> Prompting | None:
        """How questions become prompts, once the databases (their descriptions) are up."""
        if self.template is None:
            return None
        return Prompting.create(
            self.template,
            few_shot=self.examples,
            dialect=backend.dialect,
            metadata=backend.table_metadata,
            glossary=lambda db_name: database_glossary(config.schemas / db_name),
        )


def prompt_setup(config: RunConfig, runner_cls: type[Runner], questions: Sequence[Question]) -> PromptSetup:
    """Read the template and examples before the databases start, so that a bad file fails fast."""
    examples = load_few_shot(config.few_shot) if config.few_shot else ""
    if runner_cls.raw_sql:
        return PromptSetup(None, examples)
    template = load_template(config.prompt_file or default_template(runner_cls))
    # A value the template would drop is refused before setup, not mid-run.
    if any(q.instructions.strip() for q in questions):
        template.require("instructions")
    if config.few_shot:
        template.require("few_shot")
    return PromptSetup(template, examples)


def show_prompts(config: RunConfig) -> int:
    """``python main.py prompt``: print the rendered prompts a run would send; no model runs.

    The databases are started (the prompts hold their descriptions), the runner is not:
    its class says only whether it sends chat messages, and which template is its default.
    """
    questions = load_items(config)
    runner_cls = load_runner(config.runner)
    if runner_cls.raw_sql:
        raise BadInput(f"runner {config.runner!r} sends no prompt; choose a model runner with -r")
    setup = prompt_setup(config, runner_cls, questions)
    sources = discover(config.schemas, [q.db_name for q in questions])
    with open_backend(config) as backend:
        backend.prepare(sources)
        prompting = setup.prompting(config, backend)
        assert prompting is not None
        for question in questions:
            print(format_prompt(question, prompting.render(question), chat=runner_cls.chat))
    if not runner_cls.chat:
        print(
            f"note: shown as the one text {config.runner} sends a model without a chat template; "
            "a model with one gets these sections as chat messages in its own template",
            file=sys.stderr,
        )
    return 0


def format_prompt(question: Question, rendered: Rendered, *, chat: bool) -> str:
    """One question's prompt: chat messages by role for chat runners, else the one text."""
    head = f"===== {question.row_label}: {question.question}"
    if not chat:
        return f"{head}\n{rendered.prompt}\n"
    parts = [head]
    for n, message in enumerate(rendered.messages, start=1):
        prefill = rendered.prefill and n == len(rendered.messages) and message["role"] == "assistant"
        role = f"{message['role']} (prefill: the answer continues it)" if prefill else message["role"]
        parts.append(f"----- {role}\n{message['content']}")
    return "\n".join(parts) + "\n"


def generation_identity(
    config: RunConfig, described: Mapping[str, object], prompting: Prompting | None, source: Path
) -> dict[str, object]:
    """What generations depend on: reusing a journal with another identity would be stale.

    Each prompt's text is also in its journal key, so a changed database description
    regenerates that question too.
    """
    rc = config.runner_config
    return {
        "runner": described,
        "options": {
            "num_beams": rc.num_beams,
            "max_new_tokens": rc.max_new_tokens,
            "adapter": rc.adapter,
            "temperature": rc.option("temperature"),
            "quantization": rc.option("quantization"),
        },
        "template": prompting.template.text if prompting else None,
        "few_shot": prompting.few_shot if prompting else None,
        "questions": file_hash(source),
    }


def _item_key(question: Question, prediction: Prediction) -> str:
    text = f"{prediction.sql}\0{prediction.error}\0{prediction.error_kind}\0{prediction.raw_text}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{question.index}:{digest}"


def _evaluate_resumably(
    evaluator: Evaluator,
    journal: Journal,
    items: list[tuple[Question, Prediction]],
    progress: bool,
) -> tuple[list[ResultRow], int]:
    """Evaluate what the journal does not already hold; journal each row as it completes.

    Returns the rows in item order and how many came from the journal.
    """
    done = journal.load()
    keys = [_item_key(q, p) for q, p in items]
    todo = [item for item, key in zip(items, keys) if key not in done]
    todo_keys = [key for key in keys if key not in done]
    correct = sum(bool(done[k]["correct"]) for k in keys if k in done)
    finished = len(items) - len(todo)
    with tqdm(
        total=len(items), initial=finished, desc="evaluating", unit="q", disable=not progress or None
    ) as bar:

        def on_row(position: int, row: ResultRow) -> None:
            nonlocal correct, finished
            journal.append(todo_keys[position], result_record(row))
            finished += 1
            correct += row.correct
            bar.update(1)
            bar.set_postfix(accuracy=f"{correct / finished:.1%}")

        try:
            fresh = iter(evaluator.evaluate(todo, on_row=on_row))
        finally:
            journal.close()
    rows = [row_from_record(q, done[k]) if k in done else next(fresh) for (q, _), k in zip(items, keys)]
    return rows, len(items) - len(todo)
