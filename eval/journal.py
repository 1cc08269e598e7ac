"""An append-only JSONL journal that makes a stage resumable.

The first line records a fingerprint of everything the entries depend on (model, prompt,
questions, options). On load, a journal with another fingerprint is set aside (renamed
``*.stale``), never silently reused. Each entry is one line, flushed as soon as it is
written, so a crash or SIGKILL loses at most the line being written; a torn last line is
ignored on load.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO


def fingerprint(parts: Mapping[str, Any]) -> str:
    """A stable hash of JSON-serialisable parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Journal:
    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self._handle: TextIO | None = None
        self.set_aside: Path | None = None
        """Where :meth:`load` moved a journal with another fingerprint (to tell the user)."""

    def load(self) -> dict[str, dict[str, Any]]:
        """Entries of a matching journal, by key; {} when there is none or it is stale."""
        if not self.path.exists():
            return {}
        entries: dict[str, dict[str, Any]] = {}
        with self.path.open(encoding="utf-8") as handle:
            header = _parse(handle.readline())
            if header is None or header.get("fingerprint") != self.fingerprint:
                handle.close()
                self.set_aside = self.path.with_name(self.path.name + ".stale")
                os.replace(self.path, self.set_aside)
                return {}
            for line in handle:
                entry = _parse(line)
                if entry is not None and "key" in entry:
                    entries[entry["key"]] = entry["value"]
        return entries

    def append(self, key: str, value: Mapping[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not self.path.exists() or self.path.stat().st_size == 0
            self._handle = self.path.open("a", encoding="utf-8")
            if fresh:
                self._write({"fingerprint": self.fingerprint})
        self._write({"key": key, "value": value})

    def _write(self, record: Mapping[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(json.dumps(record, default=str) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def discard(self) -> None:
        """Remove the journal once its stage's output is safely written."""
        self.close()
        self.path.unlink(missing_ok=True)


def _parse(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
