"""The layout's rules, checked: who may import whom, and lint."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_runners_never_import_the_pipeline():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m == "eval" or m.startswith("eval.")
        )
        for path in (ROOT / "runners").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_comparator_imports_only_the_records():
    ours = {
        m for m in imported_modules(ROOT / "eval" / "comparator.py") if m.split(".")[0] in {"eval", "runners"}
    }
    assert ours == {"eval.records"}


def test_ruff_is_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_mypy_is_clean():
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
