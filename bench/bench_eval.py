"""Benchmark of the evaluation phase (run by hand; not part of the test suite).

    python bench/bench_eval.py [-q data/questions_gen.csv] [--schemas data/schemas] [-p N]

Prints, on one embedded server in a private cache dir:

- floor: the sum of the raw execution times of the distinct queries (gold expansions),
  run one after another on one connection with a plain cursor;
- oracle cold: evaluation phase with an empty gold cache;
- oracle warm: the same with the gold cache filled (the oracle's predictions are the
  gold queries, so nothing executes: comparison only);
- predictions warm: gold cached, each prediction a textually distinct copy of the gold
  (so every prediction really executes);
- the same with the question file repeated 10x and 100x, to show linear growth;
- a 1,000,000 x 5 comparison.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.comparator import CompareOptions, compare  # noqa: E402
from eval.db.base import ExecLimits  # noqa: E402
from eval.evaluate import Evaluator, plan_gold  # noqa: E402
from eval.goldcache import GoldCache  # noqa: E402
from eval.pipeline import RunConfig, open_backend  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from eval.records import Prediction, QueryResult, Question  # noqa: E402
from eval.schemas import discover  # noqa: E402


def evaluation_seconds(backend, items, cache: GoldCache, parallel: int) -> tuple[float, float, int]:
    evaluator = Evaluator(backend, parallel=parallel, compare_options=CompareOptions(), gold_cache=cache)
    started = time.perf_counter()
    rows = evaluator.evaluate(items)
    elapsed = time.perf_counter() - started
    accuracy = sum(r.correct for r in rows) / len(rows)
    return elapsed, accuracy, evaluator.stats.executed


def floor_seconds(backend, questions: list[Question]) -> tuple[float, int]:
    """Raw execution of every distinct gold expansion, sequentially, one connection."""
    import psycopg2

    distinct = sorted({(q.db_name, sql) for q in questions for sql in plan_gold(q).expansions})
    total = 0.0
    connections: dict[str, object] = {}
    for db_name, sql in distinct:
        if db_name not in connections:
            params = backend.server.params(db_name)
            params["user"] = backend.reader_user
            conn = psycopg2.connect(**params)
            conn.set_session(readonly=True)
            connections[db_name] = conn
        conn = connections[db_name]
        with conn.cursor() as cur:
            started = time.perf_counter()
            cur.execute(sql)
            cur.fetchall()
            total += time.perf_counter() - started
        conn.rollback()
    for conn in connections.values():
        conn.close()
    return total, len(distinct)


def oracle_items(questions):
    return [(q, Prediction(sql=plan_gold(q).expansions[0])) for q in questions]


def copied_items(questions, copies: int):
    items = []
    for k in range(copies):
        for q in questions:
            sql = plan_gold(q).expansions[0] + f"\n/* copy {k} */"
            items.append((q, Prediction(sql=sql)))
    return items


def big_compare() -> list[float]:
    rng = random.Random(1)
    rows = tuple(
        (i, f"name{i % 5000}", rng.random() * 1000, round(rng.random(), 4), i % 13) for i in range(1_000_000)
    )
    gold = QueryResult(columns=tuple("abcde"), rows=rows)
    pred = QueryResult(columns=tuple("vwxyz"), rows=rows[::-1])
    times = []
    for _ in range(3):  # the first call also pays for fresh memory pages
        started = time.perf_counter()
        assert compare(gold, pred).correct
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--questions", type=Path, default=ROOT / "data" / "questions_gen.csv")
    parser.add_argument("--schemas", type=Path, default=ROOT / "data" / "schemas")
    parser.add_argument("-p", "--parallel", type=int, default=None)
    args = parser.parse_args()
    import os

    parallel = args.parallel or os.cpu_count() or 2
    questions = load_questions(args.questions)
    cache_dir = Path(tempfile.mkdtemp(prefix="sqlharness-bench-"))
    config = RunConfig(
        questions=args.questions,
        schemas=args.schemas,
        output=Path("-"),
        cache_dir=cache_dir,
        limits=ExecLimits(),
    )
    print(f"benchmark: {args.questions} ({len(questions)} questions), -p {parallel}, cores {os.cpu_count()}")
    try:
        started = time.perf_counter()
        with open_backend(config) as backend:
            backend.prepare(discover(args.schemas, [q.db_name for q in questions]))
            print(f"setup (first build of the databases): {time.perf_counter() - started:.2f}s")
            floor, n_distinct = floor_seconds(backend, questions)
            floor_again, _ = floor_seconds(backend, questions)
            floor = min(floor, floor_again)
            print(f"floor: {n_distinct} distinct gold queries, raw sequential execution {floor:.3f}s")

            gold_dir = cache_dir / "gold"
            shutil.rmtree(gold_dir, ignore_errors=True)
            cold, acc, executed = evaluation_seconds(
                backend, oracle_items(questions), GoldCache(gold_dir, 100_000), parallel
            )
            print(
                f"oracle cold:  {cold:.3f}s  ({cold / floor:.2f}x floor)  executed {executed}  accuracy {acc:.1%}"
            )
            warm, acc, executed = evaluation_seconds(
                backend, oracle_items(questions), GoldCache(gold_dir, 100_000), parallel
            )
            print(f"oracle warm:  {warm:.3f}s  executed {executed}  accuracy {acc:.1%}")
            base = None
            for copies in (1, 10, 100):
                items = copied_items(questions, copies)
                seconds, acc, executed = evaluation_seconds(
                    backend, items, GoldCache(gold_dir, 100_000), parallel
                )
                base = base or seconds
                print(
                    f"predictions warm x{copies:<3}: {len(items):>6} predictions {seconds:7.3f}s  "
                    f"{seconds / len(items) * 1000:.2f} ms/prediction  ({seconds / base:.1f}x the x1 run)  "
                    f"executed {executed}  accuracy {acc:.1%}"
                )
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    times = big_compare()
    print(
        f"compare 1,000,000 x 5 (shuffled, renamed), one core: first {times[0]:.3f}s, "
        f"best of 3 {min(times):.3f}s"
    )


if __name__ == "__main__":
    main()
