"""Runners: one module per way of producing SQL, looked up by name through a lazy registry.

Heavy libraries (torch, vllm, llama_cpp, openai) are imported only when their runner is
chosen. An unknown name answers with the close matches.
"""

from __future__ import annotations

import difflib
import importlib

from runners.base import Generation, GenerationRequest, Runner, RunnerConfig, RunnerError

# name -> ("module:Class", extra that installs its dependencies or None)
REGISTRY: dict[str, tuple[str, str | None]] = {
    "oracle": ("runners.oracle:OracleRunner", None),
    "file": ("runners.file:FileRunner", None),
    "hf": ("runners.hf:HFRunner", "hf"),
    "vllm": ("runners.vllm_offline:VLLMRunner", "vllm"),
    "openai": ("runners.openai_api:OpenAIRunner", "openai"),
    "api": ("runners.openai_api:APIRunner", "openai"),
    "llama-cpp": ("runners.llama_cpp:LlamaCppRunner", "llama-cpp"),
}


def runner_names() -> list[str]:
    return sorted(REGISTRY)


def load_runner(name: str) -> type[Runner]:
    """Import and return the runner class for ``name``.

    Raises RunnerError naming close matches for an unknown name, or the extra to install
    when the runner's optional dependency is missing.
    """
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, REGISTRY, n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise RunnerError(f"unknown runner {name!r}.{hint} Available: {', '.join(runner_names())}")
    target, extra = REGISTRY[name]
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra is None or (exc.name or "").startswith("runners"):
            raise
        raise RunnerError(
            f"runner {name!r} needs the optional dependency {exc.name!r}: pip install '.[{extra}]'"
        ) from exc
    cls: type[Runner] = getattr(module, class_name)
    return cls


__all__ = [
    "Generation",
    "GenerationRequest",
    "REGISTRY",
    "Runner",
    "RunnerConfig",
    "RunnerError",
    "load_runner",
    "runner_names",
]
