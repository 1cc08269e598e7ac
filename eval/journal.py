"""An append-only JSONL journal that makes a stage resumable.

The first line records a fingerprint of everything the entries depend on (model, prompt,
questions, options). On load, a journal with another fingerprint is set aside (renamed
``*.stale``, or ``*.2.stale``, ``*.3.stale``... when earlier ones exist: a backup is never
replaced), never silently reused. Each entry is one line, flushed as soon as it is
written, so a crash or SIGKILL loses at most the line being written; a torn last line is
ignored on load.
"""

from __future__ import annotations

import hashlib
import itertools
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
                self.set_aside = set_aside(self.path)
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


def set_aside(path: Path) -> Path:
    """Rename ``path`` to the first free name of ``NAME.stale``, ``NAME.2.stale``...; return it.

    A hard link claims the new name only if it is free (so no race with another run
    replaces a backup), then the old name goes; where links are not supported, a checked
    rename.
    """
    for n in itertools.count(1):
        target = path.with_name(f"{path.name}.stale" if n == 1 else f"{path.name}.{n}.stale")
        try:
            os.link(path, target)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            if target.exists():
                continue
            os.replace(path, target)
            return target
        path.unlink()
        return target
    raise AssertionError("unreachable")


def _parse(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
