"""Cheap checks of what a local-model runner (hf, vllm) is asked to load, made before the
pipeline starts the databases (:meth:`runners.base.Runner.preflight`): no import of the
heavy libraries, no network, no model loading."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from runners.base import RunnerError

# What a Hugging Face hub id can look like: "name" (old un-namespaced models) or "org/name".
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)?$")


def check_model_ref(runner: str, model: str) -> None:
    """``model`` is given, and is a local path that exists or could be a hub id.

    "models/tiny" that is not on disk could still be on the hub (and is left to the
    loader); "/data/tiny", "./tiny", "~/tiny" or "a/b/c" can only be paths.
    """
    if not model:
        raise RunnerError(f"the {runner} runner needs -m MODEL (a Hugging Face model name or a local path)")
    if Path(model).expanduser().exists() or HUB_ID.match(model):
        return
    raise RunnerError(f"model not found: {model} is not a local path, nor a hub name like org/name")


def missing_module(*names: str) -> str | None:
    """The first of ``names`` that cannot be imported, found without importing it."""
    for name in names:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except ValueError:  # in sys.modules without a spec (a stand-in): present
            continue
    return None
