"""Cheap checks of what a local-model runner (hf, vllm) is asked to load, made before the
pipeline starts the databases (:meth:`runners.base.Runner.preflight`): no import of the
heavy libraries, no model loading, at most one short request to the hub."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path

from runners.base import RunnerError, first_line

log = logging.getLogger(__name__)

# What a Hugging Face hub id can look like: "name" (old un-namespaced models) or "org/name".
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)?$")
# One try, this long: the loaders' own retries with backoff take a minute to say the same.
HUB_PROBE_TIMEOUT_S = 5.0
LOCAL_COPY_HINT = (
    "point -m at a local copy (a model directory), or download it into the Hugging Face cache "
    "on a machine with network and run with HF_HUB_OFFLINE=1"
)


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


def check_hub_model(model: str) -> None:
    """A hub id that is not a local path is in the local Hugging Face cache, or the hub
    answers for it; else RunnerError. Offline (``HF_HUB_OFFLINE=1``), only the cache counts.

    A cached model whose hub cannot be reached turns offline mode on for this run: the
    loaders would otherwise retry the hub with backoff for each of its files (minutes)
    before they fall back to the cache. Any hub answer but "no such model" (rate limits,
    server errors, gated access) is left to the loader.
    """
    if Path(model).expanduser().exists():
        return
    import huggingface_hub
    from huggingface_hub import constants

    cached = isinstance(huggingface_hub.try_to_load_from_cache(model, "config.json"), str)
    if constants.HF_HUB_OFFLINE:
        if not cached:
            raise RunnerError(
                f"model {model} is neither a local path nor in the Hugging Face cache "
                f"({constants.HF_HUB_CACHE}), and HF_HUB_OFFLINE is set; {LOCAL_COPY_HINT}"
            )
        return
    problem = _ask_hub(model)
    if problem is None:
        return
    if cached:
        os.environ["HF_HUB_OFFLINE"] = "1"  # for subprocesses (vLLM's workers) too
        constants.HF_HUB_OFFLINE = True  # read at import, which has happened
        log.warning("%s; using the copy of %s in the Hugging Face cache", problem[1], model)
        return
    raise RunnerError(
        f"model {model} is neither a local path nor {problem[0]}: {problem[1]}; {LOCAL_COPY_HINT}"
    )


def _ask_hub(model: str) -> tuple[str, str] | None:
    """One short request for the model's config.json: None when the hub has the model (or
    answered in a way the loader should judge), else what failed and how."""
    import huggingface_hub
    from huggingface_hub import constants, errors

    url = huggingface_hub.hf_hub_url(model, "config.json")
    try:
        huggingface_hub.get_hf_file_metadata(url, timeout=HUB_PROBE_TIMEOUT_S)
    except errors.GatedRepoError:
        return None  # it exists; the loader says how to get access
    except errors.RepositoryNotFoundError:
        return "on the hub", f"{constants.ENDPOINT} has no such model (a private one needs HF_TOKEN)"
    except errors.HfHubHTTPError:
        return None
    except Exception as exc:
        if not _unreachable(exc):
            raise
        return "reachable", f"{constants.ENDPOINT} did not answer ({first_line(exc)})"
    return None


def _unreachable(exc: BaseException) -> bool:
    """A connection error or timeout of whichever HTTP client the hub library uses
    (requests' are OSErrors; httpx's and httpx2's are TransportErrors)."""
    return isinstance(exc, OSError) or any(c.__name__ == "TransportError" for c in type(exc).__mro__)


def missing_module(*names: str) -> str | None:
    """The first of ``names`` that cannot be imported, found without importing it."""
    for name in names:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except ValueError:  # in sys.modules without a spec (a stand-in): present
            continue
    return None
