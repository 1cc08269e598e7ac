"""Per-query overhead of the DuckDB and SQLite backends (run by hand; not part of the tests).

    python bench/bench_file_exec.py [--dialect duckdb|sqlite] [-n 3000] [-p 4]

Builds the test sample's ``shop`` database in a private cache dir and prints, for one
small query (``SELECT COUNT(*) FROM orders``):

- floor: the engine's own cursor, executed and fetched in a loop (no backend);
- backend serial: ``backend.execute`` in a loop (pool, statement check, timeout, row cap);
- backend parallel: the same from ``-p`` threads;

each in microseconds per query, with its ratio to the floor.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.db.base import ExecLimits  # noqa: E402
from eval.db.embedded import open_file_backend  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from eval.schemas import discover  # noqa: E402

SAMPLE = ROOT / "tests" / "fixtures" / "sample"
SQL = "SELECT COUNT(*) FROM orders"


def per_query_us(run, n: int, parallel: int = 1) -> float:
    started = time.perf_counter()
    if parallel == 1:
        for _ in range(n):
            run()
    else:
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(lambda _: run(), range(n)))
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", default="duckdb", choices=("duckdb", "sqlite"))
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("-p", type=int, default=4)
    args = parser.parse_args()
    questions = load_questions(SAMPLE / "questions.csv")
    sources = discover(SAMPLE / "schemas", [q.db_name for q in questions])
    cache = Path(tempfile.mkdtemp(prefix="sqlharness-bench-"))
    try:
        with open_file_backend(args.dialect, cache, ExecLimits()) as backend:
            backend.prepare(sources)
            per_query_us(lambda: backend.execute("shop", SQL), 200)  # warm up
            serial = per_query_us(lambda: backend.execute("shop", SQL), args.n)
            parallel = per_query_us(lambda: backend.execute("shop", SQL), args.n, args.p)
        # After the backend closed: DuckDB opens a file with one configuration per process.
        path = next((cache / args.dialect).glob("shop-*"))
        if args.dialect == "duckdb":
            import duckdb

            raw = duckdb.connect(str(path), read_only=True)
        else:
            import sqlite3

            raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        per_query_us(lambda: raw.execute(SQL).fetchall(), 200)
        floor = per_query_us(lambda: raw.execute(SQL).fetchall(), args.n)
        raw.close()
        print(f"{args.dialect} floor:            {floor:7.0f} us/query")
        print(f"{args.dialect} backend serial:   {serial:7.0f} us/query  ({serial / floor:.2f}x floor)")
        print(
            f"{args.dialect} backend {args.p} threads: {parallel:5.0f} us/query  ({parallel / floor:.2f}x floor)"
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
