"""What a run was made with, for the summary JSON: every runner option, the prompt's hashes,
the versions of the engine and the libraries. One place, so a setting is never missing.

Secrets stay out: the API URL loses its user info, query and fragment (where keys hide),
and API keys are never read here.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlglot

from eval import __version__
from eval.prompts import Prompting
from eval.schemas import file_hash
from runners import RunnerConfig

# module imported by a runner -> its distribution on PyPI (reported only where imported)
LIBRARIES = {
    "torch": "torch",
    "transformers": "transformers",
    "peft": "peft",
    "vllm": "vllm",
    "llama_cpp": "llama_cpp_python",
    "openai": "openai",
    "duckdb": "duckdb",
}


def runner_options(config: RunnerConfig) -> dict[str, Any]:
    """Every option the runners read, as given on the command line (None: the default)."""
    return {
        "model": config.model,
        "adapter": config.adapter,
        "num_beams": config.num_beams,
        "batch_size": config.batch_size,
        "max_new_tokens": config.max_new_tokens,
        "api_concurrency": config.parallel,
        "api_url": redacted_url(config.api_url),
        "device": config.device,
        "dtype": config.dtype,
        "predictions": config.predictions,
        **{key: value for key, value in sorted(config.extra.items()) if not key.startswith("_")},
    }


def redacted_url(url: str | None) -> str | None:
    """``url`` without user, password, query or fragment: ``https://host:port/path``.

    >>> redacted_url("https://me:sk-secret@api.example.com:8443/v1?api-key=sk-x#frag")
    'https://api.example.com:8443/v1'
    """
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def prompt_settings(prompting: Prompting | None, few_shot: Path | None) -> dict[str, Any]:
    """The template as resolved (its name and the SHA-256 of its text) and the examples file's hash."""
    template = prompting.template if prompting else None
    return {
        "template": template.name if template else None,
        "template_sha256": hashlib.sha256(template.text.encode()).hexdigest() if template else None,
        "few_shot_file": str(few_shot) if few_shot else None,
        "few_shot_sha256": file_hash(few_shot).removeprefix("sha256:") if few_shot else None,
    }


def versions(engine: str) -> dict[str, str]:
    """The engine's, ours, Python's, sqlglot's, and those of the runners' libraries this run imported."""
    found = {
        "engine": engine,
        "sqlharness": __version__,
        "python": platform.python_version(),
        "sqlglot": sqlglot.__version__,
    }
    for module, distribution in LIBRARIES.items():
        if module in sys.modules:
            found[module] = _version(module, distribution)
    return found


def _version(module: str, distribution: str) -> str:
    value = getattr(sys.modules[module], "__version__", None)
    if isinstance(value, str):
        return value
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def run_settings(
    config: RunnerConfig,
    resolved: Mapping[str, object],
    prompting: Prompting | None,
    few_shot: Path | None,
    engine: str,
) -> dict[str, Any]:
    """The summary's settings: ``runner_options`` as given, ``runner_resolved`` as the runner
    chose them (device, dtype, n_ctx...), ``prompt`` and ``versions``."""
    return {
        "runner_options": runner_options(config),
        "runner_resolved": dict(resolved),
        "prompt": prompt_settings(prompting, few_shot),
        "versions": versions(engine),
    }
