"""Benchmark of test-suite accuracy (run by hand; not part of the test suite).

    python bench/bench_suite.py [-q data/questions_gen.csv] [--negatives data/negatives.csv]
                                [--schemas data/schemas] [-k 3] [--seed 0] [-p N]

On one embedded server in a private cache dir, prints:

- the time to build the K variants of every database (cold), and to reuse them (cached);
- the evaluation time of the negatives (wrong predictions) without and with the suite,
  each with an empty gold cache, and the ratio;
- how many negatives the base database alone misses (scores them correct), and how many
  of those the suite catches; the oracle's suite accuracy (must be 100%).

Without data/negatives.csv (or data/questions_gen.csv) it falls back to the sample in
tests/fixtures/sample (questions.csv, wrong_predictions.csv, schemas/).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.comparator import CompareOptions  # noqa: E402
from eval.db.base import ExecLimits  # noqa: E402
from eval.evaluate import Evaluator, plan_gold  # noqa: E402
from eval.goldcache import GoldCache  # noqa: E402
from eval.pipeline import RunConfig, open_backend  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from eval.records import Prediction  # noqa: E402
from eval.schemas import discover  # noqa: E402
from eval.variants import build_suite, suite_rows  # noqa: E402

SAMPLE = ROOT / "tests" / "fixtures" / "sample"


def paths(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    if args.questions.exists() and args.negatives.exists():
        return args.questions, args.negatives, args.schemas
    print(f"note: {args.questions} or {args.negatives} missing; using the sample in {SAMPLE}")
    return SAMPLE / "questions.csv", SAMPLE / "wrong_predictions.csv", SAMPLE / "schemas"


def evaluator(backend, gold_dir: Path, parallel: int) -> Evaluator:
    shutil.rmtree(gold_dir, ignore_errors=True)
    cache = GoldCache(gold_dir, ExecLimits().max_rows)
    return Evaluator(backend, parallel=parallel, compare_options=CompareOptions(), gold_cache=cache)


def hard_coded_items(backend, questions) -> list:
    """Each question answered with its gold's result on the base, written out as constants.

    Right on the base by construction; right on a variant only where the variants leave
    that answer unchanged. The share caught measures how far the variants move answers.
    """
    items = []
    for q in questions:
        plan = plan_gold(q)
        if not plan.expansions:
            continue
        result = backend.execute(q.db_name, plan.expansions[0])
        if not result.ok or not result.rows or len(result.rows) > 50:
            continue
        with backend._admin(q.db_name) as conn, conn.cursor() as cur:
            width = len(result.columns)
            row_sql = "(" + ", ".join(["%s"] * width) + ")"
            values = ", ".join(cur.mogrify(row_sql, row).decode() for row in result.rows)
        names = ", ".join(f"c{i}" for i in range(width))
        items.append((q, Prediction(sql=f"SELECT * FROM (VALUES {values}) AS answer({names})")))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--questions", type=Path, default=ROOT / "data" / "questions_gen.csv")
    parser.add_argument("--negatives", type=Path, default=ROOT / "data" / "negatives.csv")
    parser.add_argument("--schemas", type=Path, default=ROOT / "data" / "schemas")
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-p", "--parallel", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    questions_path, negatives_path, schemas = paths(args)
    questions = load_questions(questions_path)
    negatives = load_questions(negatives_path)
    items = [(q, Prediction(sql=q.fields.get("generated_query", ""))) for q in negatives]
    cache_dir = Path(tempfile.mkdtemp(prefix="sqlharness-bench-suite-"))
    os.chmod(cache_dir, 0o755)  # the embedded server may run as another user
    config = RunConfig(questions=questions_path, schemas=schemas, output=Path("-"), cache_dir=cache_dir)
    print(
        f"benchmark: {questions_path} ({len(questions)} questions), {negatives_path} ({len(negatives)} negatives)"
    )
    print(f"k={args.k} seed={args.seed} -p {args.parallel}")
    try:
        with open_backend(config) as backend:
            sources = discover(schemas, [q.db_name for q in questions + negatives])
            started = time.perf_counter()
            backend.prepare(sources)
            print(
                f"base databases (first build): {time.perf_counter() - started:.2f}s, {len(sources)} databases"
            )

            checker = evaluator(backend, cache_dir / "gold-build", args.parallel)
            started = time.perf_counter()
            suite = build_suite(backend, sources, questions, args.k, args.seed, gold=checker.run_gold)
            cold = time.perf_counter() - started
            started = time.perf_counter()
            build_suite(backend, sources, questions, args.k, args.seed, gold=checker.run_gold)
            warm = time.perf_counter() - started
            print(f"variant build: {cold:.2f}s cold ({suite.built} databases built), {warm:.2f}s cached")
            print(
                f"  rebuilt with another seed: {len(suite.rebuilt)}; golds still empty on a variant: {len(suite.empty_gold)}"
            )
            for line in suite.empty_gold[:10]:
                print(f"    {line}")

            plain = evaluator(backend, cache_dir / "gold-plain", args.parallel)
            started = time.perf_counter()
            base_rows = plain.evaluate(items)
            without = time.perf_counter() - started

            with_suite = evaluator(backend, cache_dir / "gold-suite", args.parallel)
            started = time.perf_counter()
            rows, skipped = suite_rows(with_suite, with_suite.evaluate(items), suite.variants)
            with_s = time.perf_counter() - started
            print(
                f"evaluation of the negatives: {without:.3f}s without the suite, {with_s:.3f}s with it "
                f"({with_s / without:.1f}x)"
            )

            missed = [r for r in base_rows if r.correct]
            caught = [r for r in rows if r.correct and not r.suite_correct]
            print(f"negatives scored correct on the base alone: {len(missed)} of {len(base_rows)}")
            print(
                f"  of those, caught by the suite: {len(caught)} ({len(caught) / max(len(missed), 1):.0%}); "
                f"variant golds skipped (gold failed on a variant): {skipped}"
            )
            for row in caught[:5]:
                print(f"    caught: {row.question.question[:60]!r}: {row.generated_query[:80]!r}")
            for row in [r for r in rows if r.suite_correct][:5]:
                print(f"    still missed: {row.question.question[:60]!r}: {row.generated_query[:80]!r}")

            oracle_items = [
                (q, Prediction(sql=plan_gold(q).expansions[0])) for q in questions if plan_gold(q).expansions
            ]
            plain = evaluator(backend, cache_dir / "gold-oracle-plain", args.parallel)
            started = time.perf_counter()
            plain.evaluate(oracle_items)
            without = time.perf_counter() - started
            oracle = evaluator(backend, cache_dir / "gold-oracle", args.parallel)
            started = time.perf_counter()
            judged, _ = suite_rows(oracle, oracle.evaluate(oracle_items), suite.variants)
            with_s = time.perf_counter() - started
            accuracy = sum(bool(r.suite_correct) for r in judged) / max(len(judged), 1)
            print(
                f"oracle (every answer right, so all run on the variants): {without:.3f}s without the suite, "
                f"{with_s:.3f}s with it ({with_s / without:.1f}x); suite accuracy {accuracy:.1%}"
            )
            hard = hard_coded_items(backend, questions)
            probe = evaluator(backend, cache_dir / "gold-hard", args.parallel)
            judged, _ = suite_rows(probe, probe.evaluate(hard), suite.variants)
            passed = [r for r in judged if r.correct]
            caught = sum(not r.suite_correct for r in passed)
            print(
                f"hard-coded answers (the base's gold result as a VALUES list): {len(passed)} pass on the base, "
                f"the suite catches {caught} ({caught / max(len(passed), 1):.0%})"
            )
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
