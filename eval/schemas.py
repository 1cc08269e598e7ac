"""The schemas directory: ``DIR/<db_name>/*.sql`` files that create and seed each database.

Files run in name order inside the database ``<db_name>``. Anything that is not ``.sql``
is ignored, so a folder laid out like defog-data's ``defog_data/`` (``<db>/<db>.sql`` with
JSON metadata beside it) works as-is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eval.errors import BadInput

# Bump when the way databases are built changes, so cached databases are rebuilt.
BUILD_FORMAT = "1"


@dataclass(frozen=True)
class SchemaSource:
    """The SQL files for one database and the hash of their content."""

    db_name: str
    files: tuple[Path, ...]
    content_hash: str

    def read(self) -> list[tuple[Path, str]]:
        return [(f, f.read_text(encoding="utf-8")) for f in self.files]


def discover(schemas_dir: Path, db_names: Iterable[str]) -> dict[str, SchemaSource]:
    """The sources of the named databases; raises BadInput naming what is missing."""
    if not schemas_dir.is_dir():
        raise BadInput(f"schemas directory not found: {schemas_dir}")
    sources = {}
    for name in sorted(set(db_names)):
        folder = schemas_dir / name
        files = tuple(sorted(folder.glob("*.sql"))) if folder.is_dir() else ()
        if not files:
            raise BadInput(f"no schema for database {name!r}: expected {folder}/*.sql")
        sources[name] = SchemaSource(name, files, _hash_files(files))
    return sources


def available(schemas_dir: Path) -> list[str]:
    """Names of the databases a schemas directory defines."""
    if not schemas_dir.is_dir():
        return []
    return sorted(p.name for p in schemas_dir.iterdir() if p.is_dir() and any(p.glob("*.sql")))


def _hash_files(files: Iterable[Path]) -> str:
    digest = hashlib.sha256(BUILD_FORMAT.encode())
    for f in files:
        digest.update(f.name.encode() + b"\0")
        digest.update(f.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def combined_hash(sources: Iterable[SchemaSource]) -> str:
    """One hash for a set of databases (reported in the summary)."""
    digest = hashlib.sha256()
    for source in sorted(sources, key=lambda s: s.db_name):
        digest.update(f"{source.db_name}:{source.content_hash}\n".encode())
    return "sha256:" + digest.hexdigest()


def file_hash(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
