"""Command line: ``python main.py [options]`` runs an evaluation; subcommands do the rest.

Exit codes: 0 the run completed (or the gate passed), 1 a gate failed, 2 bad input or a
harness error (one line on stderr, never a traceback), 3 the run completed but more
generations failed than ``--max-generation-errors`` allows, 130 interrupted (SIGINT), 143
terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.comparator import CompareOptions
from eval.db.base import ExecLimits
from eval.errors import HarnessError
from eval.scoring import GenerationErrorBudget
from runners import RunnerConfig, RunnerError, runner_names

if TYPE_CHECKING:
    from eval.pipeline import RunConfig

# name -> "module:function"; the function takes argv and returns the exit code.
SUBCOMMANDS: dict[str, str] = {
    "validate": "eval.validate:validate_main",
    "leaderboard": "eval.reports.leaderboard:leaderboard_main",
    "report": "eval.reports.html:report_main",
    "compare": "eval.reports.gate:compare_main",
    "prompt": "eval.cli:prompt_main",
}

DEFAULT_QUESTIONS = Path("data/questions_gen.csv")
DEFAULT_SCHEMAS = Path("data/schemas")
PG_URL_ENV = "SQLHARNESS_PG_URL"
OPENAI_BASE_URL_ENV = "OPENAI_BASE_URL"


def default_cache_dir() -> Path:
    """The platform's user cache directory (honours XDG_CACHE_HOME on Linux)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("sqlharness", appauthor=False))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    _log_to_stderr()
    with stop_on_signals():
        if args and args[0] in SUBCOMMANDS:
            module_name, function_name = SUBCOMMANDS[args[0]].split(":")
            command: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), function_name)
            return guarded(lambda: command(args[1:]))
        return guarded(lambda: run_main(args))


class Terminated(KeyboardInterrupt):
    """SIGTERM (what CI cancellation and ``kill`` send). A KeyboardInterrupt, so that it
    unwinds exactly like Ctrl-C: journals closed, the embedded server this run started
    stopped."""


def _raise_terminated(signum: int, frame: object) -> None:
    # A second SIGTERM must not cut the cleanup short (CI may repeat it before SIGKILL).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt and SIGTERM :class:`Terminated` while a command runs.

    Installed explicitly: Python sets its Ctrl-C handler only when SIGINT was not
    inherited as ignored (nohup, ``cmd &`` in a script, some CI runners), and SIGTERM's
    default ends the process without unwinding. The previous handlers come back after,
    for callers that run the CLI in-process (signals can only be set from the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_terminated),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (the handler outlives one ``main()``
    call when the CLI is called in-process, as the tests do)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _log_to_stderr() -> None:
    """Our own warnings on stderr, as ``WARNING: ...``.

    Only the harness's loggers get the handler: configuring the root logger would print
    a second copy of every line from libraries that bring their own handler (the hub's
    retry warnings, for one).
    """
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    for name in ("eval", "runners"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.WARNING)
            logger.propagate = False


def guarded(action: Callable[[], int]) -> int:
    """Run ``action``, turning known errors into one line and an exit code."""
    try:
        return action()
    except (HarnessError, RunnerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("terminated: finished generations are kept; rerun the same command to resume", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted: finished generations are kept; rerun the same command to resume", file=sys.stderr)
        return 130


def _bounded(kind: type, minimum: float, inclusive: bool) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` above (or at) ``minimum``, with a plain message."""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if value < minimum or (not inclusive and value == minimum) or value != value:
            bound = "at least" if inclusive else "greater than"
            raise argparse.ArgumentTypeError(f"must be {bound} {minimum:g}, got {text}")
        return value

    return parse


positive_int = _bounded(int, 1, inclusive=True)
positive_float = _bounded(float, 0, inclusive=False)
non_negative_int = _bounded(int, 0, inclusive=True)
non_negative_float = _bounded(float, 0, inclusive=True)


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that needs databases."""
    parser.add_argument(
        "--schemas", type=Path, default=DEFAULT_SCHEMAS, help="schemas directory (default: %(default)s)"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(PG_URL_ENV),
        help=f"use an existing PostgreSQL server (or set {PG_URL_ENV}); default: the embedded one",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="embedded server and cache location")
    parser.add_argument(
        "-t", "--timeout", type=positive_float, default=10.0, help="seconds per query (default: %(default)s)"
    )
    parser.add_argument(
        "--max-rows", type=positive_int, default=100_000, help="row cap per result (default: %(default)s)"
    )
    parser.add_argument(
        "-p",
        "--parallel",
        type=positive_int,
        default=os.cpu_count() or 2,
        help="parallel queries (default: CPU cores)",
    )
    parser.add_argument(
        "--dialect",
        choices=("postgres", "duckdb", "sqlite"),
        default="postgres",
        help="engine and SQL dialect; gold queries are transpiled from PostgreSQL (default: %(default)s)",
    )
    parser.add_argument(
        "--allow-writable-role",
        action="store_true",
        help="with --pg-url, run queries through your own role if the read-only role cannot be created (dangerous)",
    )
    parser.add_argument(
        "--gold-dialect",
        type=gold_dialect,
        default="postgres",
        help="the SQL dialect the gold queries are written in (sqlite, mysql, bigquery...; a gold_dialect "
        "column overrides it per row); transpiled with sqlglot, or run as written on --dialect of the "
        "same name (default: %(default)s)",
    )


def gold_dialect(text: str) -> str:
    from eval.questions import known_dialect

    name = text.strip().lower()
    if not known_dialect(name):
        raise argparse.ArgumentTypeError(f"sqlglot reads no dialect named {text!r}")
    return name


def build_parser(prog: str = "main.py", description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description
        or "Execution-based evaluation of text-to-SQL models on sandboxed PostgreSQL. "
        f"Subcommands: {', '.join(SUBCOMMANDS)} (python main.py SUBCOMMAND -h).",
    )
    parser.add_argument(
        "-q", "--questions", type=Path, default=DEFAULT_QUESTIONS, help="questions CSV (default: %(default)s)"
    )
    parser.add_argument(
        "-r", "--runner", default="oracle", help=f"one of: {', '.join(runner_names())} (default: %(default)s)"
    )
    parser.add_argument("-m", "--model", default="", help="model name or path, for model runners")
    parser.add_argument(
        "-o", "--output", type=Path, default=None, help="per-question results CSV (summary JSON beside it)"
    )
    parser.add_argument(
        "-n", "--num-questions", type=positive_int, default=None, help="evaluate only the first N questions"
    )
    parser.add_argument(
        "--predictions",
        default=None,
        help="CSV of predictions for -r file (question columns + generated_query)",
    )
    parser.add_argument(
        "--rel-tol",
        type=positive_float,
        default=1e-6,
        help="relative tolerance for numbers (default: %(default)s)",
    )
    parser.add_argument(
        "--multiset", action="store_true", help="duplicate rows count (default: set semantics)"
    )
    parser.add_argument(
        "--no-gold-cache", action="store_true", help="do not read or write cached gold results"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars (also none from the model libraries)"
    )
    parser.add_argument(
        "--suite",
        type=positive_int,
        nargs="?",
        const=3,
        default=0,
        metavar="K",
        help="test-suite accuracy: also check correct answers on K variant databases (K default 3)",
    )
    parser.add_argument("--suite-seed", type=int, default=0, help="seed of the variant databases")
    parser.add_argument(
        "--log-samples",
        type=Path,
        default=None,
        metavar="FILE.jsonl",
        help="also write one JSON line per question: prompt, raw output, extracted SQL, verdict, mismatch",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing results file even when it holds another question set",
    )
    parser.add_argument(
        "--max-generation-errors",
        type=generation_error_budget,
        default=GenerationErrorBudget(),
        metavar="N|F",
        help="failed generations allowed before the run exits 3: a count (default 0: any failure), "
        "or a fraction of the questions with a decimal point (0.05)",
    )
    add_database_options(parser)
    add_model_options(parser)
    return parser


def generation_error_budget(text: str) -> GenerationErrorBudget:
    try:
        return GenerationErrorBudget.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected a count (3) or a fraction with a decimal point (0.05): {exc}"
        ) from None


def fraction(text: str) -> float:
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be at most 1, got {text}")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options of the model runners (hf, vllm, openai, api, llama-cpp); each reads its own."""
    group = parser.add_argument_group("model runners")
    group.add_argument(
        "-f",
        "--prompt-file",
        default=None,
        help="prompt template: a path, or a bundled name (default, chat, plain). Default: 'chat' for "
        "chat runners (openai, api), else 'default'",
    )
    group.add_argument("--few-shot", type=Path, default=None, help="examples for the prompt's {few_shot}")
    group.add_argument("-b", "--num-beams", type=positive_int, default=1, help="beams (1: greedy)")
    group.add_argument("--batch-size", type=positive_int, default=4, help="prompts per batch (hf)")
    group.add_argument(
        "--max-new-tokens", type=positive_int, default=512, help="tokens generated at most per answer"
    )
    group.add_argument("-a", "--adapter", default=None, help="PEFT/LoRA adapter path (hf, vllm)")
    group.add_argument(
        "--device", default=None, help="cuda, cuda:1, mps or cpu (hf; default: the best found)"
    )
    group.add_argument(
        "--dtype",
        choices=("auto", "float32", "float16", "bfloat16"),
        default=None,
        help="weights' dtype (hf, vllm; default: bf16 on CUDA where supported, else fp16; fp32 on CPU)",
    )
    group.add_argument(
        "--api-url",
        default=os.environ.get(OPENAI_BASE_URL_ENV),
        help=f"OpenAI-compatible server URL (openai, api; default: ${OPENAI_BASE_URL_ENV})",
    )
    group.add_argument(
        "--api-concurrency",
        type=positive_int,
        default=8,
        help="requests in flight at once (openai, api; default: %(default)s). -p is for queries",
    )
    group.add_argument(
        "--max-retries",
        type=non_negative_int,
        default=5,
        help="retries of a failed request (default: %(default)s)",
    )
    group.add_argument(
        "--request-timeout",
        type=positive_float,
        default=120.0,
        help="seconds per request (default: %(default)s)",
    )
    group.add_argument(
        "--temperature", type=non_negative_float, default=0.0, help="sampling temperature (default: 0)"
    )
    group.add_argument("--n-ctx", type=positive_int, default=4096, help="context length (llama-cpp)")
    group.add_argument(
        "--n-gpu-layers", type=int, default=-1, help="layers offloaded to the GPU (llama-cpp; -1: all)"
    )
    group.add_argument("--tensor-parallel-size", type=positive_int, default=1, help="GPUs per model (vllm)")
    group.add_argument(
        "--pipeline-parallel-size", type=positive_int, default=1, help="pipeline stages (vllm)"
    )
    group.add_argument(
        "--distributed-executor-backend",
        choices=("mp", "ray"),
        default=None,
        help="vllm's multi-GPU executor",
    )
    group.add_argument(
        "--quantization", default=None, help="weight quantization method (vllm: awq, gptq, fp8...)"
    )
    group.add_argument(
        "--gpu-memory-utilization",
        type=fraction,
        default=0.9,
        help="GPU memory share for vllm (default: 0.9)",
    )


def runner_config(args: argparse.Namespace) -> RunnerConfig:
    """The runners' options from the parsed flags (runners never see argparse)."""
    return RunnerConfig(
        model=args.model,
        adapter=args.adapter,
        num_beams=args.num_beams,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        parallel=args.api_concurrency,
        api_url=args.api_url,
        predictions=args.predictions,
        device=args.device,
        dtype=args.dtype,
        progress=not args.no_progress,
        extra={
            "n_ctx": args.n_ctx,
            "n_gpu_layers": args.n_gpu_layers,
            "max_retries": args.max_retries,
            "request_timeout": args.request_timeout,
            "temperature": args.temperature,
            "tensor_parallel_size": args.tensor_parallel_size,
            "pipeline_parallel_size": args.pipeline_parallel_size,
            "distributed_executor_backend": args.distributed_executor_backend,
            "quantization": args.quantization,
            "gpu_memory_utilization": args.gpu_memory_utilization,
        },
    )


# The flags that change what a model generates: runs that differ in one get other default names.
GENERATION_FLAGS = (
    "prompt_file",
    "few_shot",
    "num_beams",
    "max_new_tokens",
    "temperature",
    "adapter",
    "dtype",
    "quantization",
)


def default_output(args: argparse.Namespace) -> Path:
    """``results/<questions>_<runner>[_<model>][_n<N>][_<settings>].csv``.

    What tells runs apart is in the name, so that no run replaces another's results: ``-n``,
    and for model runners 8 hex digits of a hash of :data:`GENERATION_FLAGS`' values.
    """
    source = Path(args.predictions) if args.runner == "file" and args.predictions else args.questions
    parts = [source.stem, args.runner]
    if args.model:
        parts.append(Path(args.model.rstrip("/")).name.replace(":", "_"))
    if args.num_questions:
        parts.append(f"n{args.num_questions}")
    if args.runner not in ("oracle", "file"):
        parts.append(generation_settings_hash(args))
    return Path("results") / ("_".join(parts) + ".csv")


def generation_settings_hash(args: argparse.Namespace) -> str:
    """8 hex digits over the values of the flags that change generations."""
    values = {name: getattr(args, name) for name in GENERATION_FLAGS}
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def exec_limits(args: argparse.Namespace) -> ExecLimits:
    return ExecLimits(timeout_s=args.timeout, max_rows=args.max_rows)


def run_main(argv: list[str]) -> int:
    from eval.pipeline import run  # imported late: `-h` stays fast

    return run(run_config(build_parser().parse_args(argv)))


def prompt_main(argv: list[str]) -> int:
    """``python main.py prompt [run options]``: print the prompts a run would send."""
    from eval.pipeline import show_prompts

    parser = build_parser(
        "main.py prompt",
        "Print the rendered prompts a run with these options would send (-n N for the first N), "
        "without loading or running a model.",
    )
    return show_prompts(run_config(parser.parse_args(argv)))


def run_config(args: argparse.Namespace) -> RunConfig:
    """The pipeline's RunConfig from the parsed flags."""
    from eval.pipeline import RunConfig

    return RunConfig(
        questions=args.questions,
        schemas=args.schemas,
        output=args.output or default_output(args),
        runner=args.runner,
        runner_config=runner_config(args),
        prompt_file=args.prompt_file,
        few_shot=args.few_shot,
        limit=args.num_questions,
        parallel=args.parallel,
        limits=exec_limits(args),
        compare=CompareOptions(rel_tol=args.rel_tol, multiset=args.multiset),
        pg_url=args.pg_url,
        cache_dir=args.cache_dir or default_cache_dir(),
        gold_cache=not args.no_gold_cache,
        allow_writable_role=args.allow_writable_role,
        progress=not args.no_progress,
        dialect=args.dialect,
        gold_dialect=args.gold_dialect,
        suite=args.suite,
        suite_seed=args.suite_seed,
        max_generation_errors=args.max_generation_errors,
        log_samples=args.log_samples,
        overwrite=args.overwrite,
    )
