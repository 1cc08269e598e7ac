"""Gold results cached on disk across runs.

Keyed by the database's content hash (the schema files' hash) and the exact query text,
so a changed seed file or gold query is simply a miss. Only successful results are kept:
a timeout or error may be passing. One pickle file per database build, written
atomically, so concurrent or killed runs never leave a torn file.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
from pathlib import Path

from eval.output import atomic_write_bytes
from eval.records import QueryResult

_FORMAT = 1


class GoldCache:
    def __init__(self, directory: Path | None, max_rows: int) -> None:
        self.directory = directory
        self.max_rows = max_rows
        self._entries: dict[tuple[str, str], dict[str, QueryResult]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, db_name: str, content_hash: str, sql: str) -> QueryResult | None:
        entries = self._load(db_name, content_hash)
        with self._lock:
            result = entries.get(sql)
            if result is None:
                self.misses += 1
            else:
                self.hits += 1
            return result

    def put(self, db_name: str, content_hash: str, sql: str, result: QueryResult) -> None:
        if not result.ok:
            return
        entries = self._load(db_name, content_hash)
        with self._lock:
            entries[sql] = result
            self._dirty.add((db_name, content_hash))

    def save(self) -> None:
        if self.directory is None:
            return
        for db_name, content_hash in sorted(self._dirty):
            payload = {"format": _FORMAT, "entries": self._entries[(db_name, content_hash)]}
            atomic_write_bytes(self._path(db_name, content_hash), pickle.dumps(payload, protocol=5))
        self._dirty.clear()

    def _path(self, db_name: str, content_hash: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{db_name}-{content_hash[:20]}-rows{self.max_rows}.pickle"

    def _load(self, db_name: str, content_hash: str) -> dict[str, QueryResult]:
        key = (db_name, content_hash)
        with self._lock:
            if key in self._entries:
                return self._entries[key]
            entries: dict[str, QueryResult] = {}
            if self.directory is not None and content_hash:
                path = self._path(db_name, content_hash)
                # A cache file from another version or a torn write is a miss, not an error.
                with contextlib.suppress(
                    OSError, pickle.UnpicklingError, EOFError, AttributeError, KeyError, TypeError
                ):
                    payload = pickle.loads(path.read_bytes())
                    if payload.get("format") == _FORMAT:
                        entries = dict(payload["entries"])
            self._entries[key] = entries
            return entries
