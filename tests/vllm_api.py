"""The parts of vLLM's Python API that the vllm runner calls, read from vLLM itself.

vLLM cannot be imported here (it needs a CUDA build), but its wheel's source can be read:

    pip download vllm --no-deps -d /tmp/vllm
    python tests/vllm_api.py /tmp/vllm/vllm-*.whl > tests/fixtures/vllm_api.json

reads, with ``ast`` and without importing anything of vLLM, the parameter names of the
calls the runner makes and the fields of the objects it builds and reads, into the
snapshot that tests/test_vllm_api.py checks the runner and the test stand-in against.
Where vLLM is importable, :func:`live_api` reads the same names from the installed
library, and that test compares the two.
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

# What the runner uses, by where vLLM defines it: (name in the snapshot, class, member or
# None for the class's own fields). A member may live in a mixin: every class of the
# listed files is searched for it.
WANTED = [
    ("LLM.__init__", "LLM", "__init__"),
    ("LLM.generate", "LLM", "generate"),
    ("LLM.beam_search", "LLM", "beam_search"),
    ("LLM.get_tokenizer", "LLM", "get_tokenizer"),
    ("EngineArgs", "EngineArgs", None),
    ("SamplingParams", "SamplingParams", None),
    ("BeamSearchParams", "BeamSearchParams", None),
    ("LoRARequest", "LoRARequest", None),
    ("RequestOutput", "RequestOutput", "__init__"),
    ("CompletionOutput", "CompletionOutput", None),
    ("BeamSearchOutput", "BeamSearchOutput", None),
    ("BeamSearchSequence", "BeamSearchSequence", None),
]
FILES = [
    "vllm/entrypoints/llm.py",
    "vllm/entrypoints/generate/beam_search/offline.py",
    "vllm/entrypoints/generate/beam_search/utils.py",
    "vllm/beam_search.py",  # where beam search lived before 0.11
    "vllm/engine/arg_utils.py",
    "vllm/sampling_params.py",
    "vllm/lora/request.py",
    "vllm/outputs.py",
]


def _params(function: ast.FunctionDef) -> list[str]:
    """Parameter names in order; ``*`` (or ``*args``) before the keyword-only ones."""
    args = function.args
    names = [a.arg for a in [*args.posonlyargs, *args.args] if a.arg != "self"]
    if args.vararg:
        names.append("*" + args.vararg.arg)
    elif args.kwonlyargs:
        names.append("*")
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append("**" + args.kwarg.arg)
    return names


def _fields(cls: ast.ClassDef) -> list[str]:
    """A dataclass's or msgspec Struct's fields: its annotated class attributes, in order."""
    return [
        node.target.id
        for node in cls.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and "ClassVar" not in ast.unparse(node.annotation)
    ]


def source_api(texts: dict[str, str], version: str) -> dict[str, Any]:
    """The snapshot, from the source text of FILES (path -> text)."""
    classes: dict[str, list[ast.ClassDef]] = {}
    for text in texts.values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, []).append(node)
    api: dict[str, Any] = {"version": version}
    for key, class_name, member in WANTED:
        found = classes.get(class_name, [])
        if member is None:
            api[key] = _fields(found[0]) if found else None
            continue
        # The class itself first, then any class that defines the member (a mixin).
        candidates = found + [c for group in classes.values() for c in group if c not in found]
        functions = [
            node
            for cls in candidates
            for node in cls.body
            if isinstance(node, ast.FunctionDef) and node.name == member
        ]
        api[key] = _params(functions[0]) if functions else None
    return api


def wheel_api(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        texts = {f: archive.read(f).decode("utf-8") for f in FILES if f in names}
    version = wheel.name.split("-")[1]
    return source_api(texts, version)


def live_api() -> dict[str, Any]:
    """The same names from the installed vLLM (raises ImportError without it)."""
    import vllm
    from vllm.engine.arg_utils import EngineArgs
    from vllm.lora.request import LoRARequest
    from vllm.outputs import CompletionOutput, RequestOutput
    from vllm.sampling_params import BeamSearchParams, SamplingParams

    try:
        from vllm.entrypoints.generate.beam_search.utils import BeamSearchOutput, BeamSearchSequence
    except ImportError:
        from vllm.beam_search import BeamSearchOutput, BeamSearchSequence  # type: ignore[no-redef]

    def params(obj: Any) -> list[str]:
        names: list[str] = []
        for p in inspect.signature(obj).parameters.values():
            if p.name == "self":
                continue
            if p.kind == p.KEYWORD_ONLY and not any(n.startswith("*") for n in names):
                names.append("*")
            prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
            names.append(prefix + p.name)
        return names

    llm = vllm.LLM
    return {
        "version": vllm.__version__,
        "LLM.__init__": params(llm.__init__),
        "LLM.generate": params(llm.generate),
        "LLM.beam_search": params(llm.beam_search),
        "LLM.get_tokenizer": params(llm.get_tokenizer),
        "EngineArgs": params(EngineArgs),
        "SamplingParams": params(SamplingParams),
        "BeamSearchParams": params(BeamSearchParams),
        "LoRARequest": params(LoRARequest),
        "RequestOutput": params(RequestOutput.__init__),
        "CompletionOutput": params(CompletionOutput),
        "BeamSearchOutput": params(BeamSearchOutput),
        "BeamSearchSequence": params(BeamSearchSequence),
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/vllm_api.py VLLM_WHEEL > tests/fixtures/vllm_api.json")
    print(json.dumps(wheel_api(Path(sys.argv[1])), indent=1))
