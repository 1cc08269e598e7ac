"""The vllm runner and the test stand-in (tests/test_runner_vllm.py) against vLLM's real API.

vLLM cannot run here (it needs a CUDA build), so the names it offers were read from its
released wheel into tests/fixtures/vllm_api.json (by tests/vllm_api.py; the file says
which version). The runner's calls are read from its source with ``ast``, so a call added
later is checked too. Where vLLM is importable, the snapshot is compared with it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
from pathlib import Path

import pytest
from vllm_api import live_api

from conftest import ROOT
from runners.base import RunnerConfig
from runners.vllm_offline import engine_kwargs

API = json.loads((ROOT / "tests" / "fixtures" / "vllm_api.json").read_text())
RUNNER = ROOT / "runners" / "vllm_offline.py"


def accepts(key: str) -> set[str]:
    return {name.lstrip("*") for name in API[key]} - {""}


def positional(key: str) -> list[str]:
    """The parameters that may be passed by position (those before any ``*``)."""
    names = API[key]
    cut = next((i for i, n in enumerate(names) if n.startswith("*")), len(names))
    return names[:cut]


def calls(name: str) -> list[ast.Call]:
    """Every call in the runner's source of a function or method named ``name``."""
    tree = ast.parse(RUNNER.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                found.append(node)
    return found


def check_call(call: ast.Call, key: str) -> None:
    assert len(call.args) <= len(positional(key)), (
        f"{ast.unparse(call)}: too many positional arguments for {key}"
    )
    unknown = {k.arg for k in call.keywords if k.arg is not None} - accepts(key)
    if not any(n.startswith("**") for n in API[key]):
        assert not unknown, f"{ast.unparse(call)}: {key} (vLLM {API['version']}) has no {sorted(unknown)}"


def test_snapshot_is_of_a_current_vllm():
    major, minor = (int(part) for part in API["version"].split(".")[:2])
    assert (major, minor) >= (0, 11), API["version"]
    assert all(API[key] is not None for key in API), [k for k in API if API[k] is None]


@pytest.mark.parametrize(
    ("function", "key"),
    [
        ("SamplingParams", "SamplingParams"),
        ("BeamSearchParams", "BeamSearchParams"),
        ("LoRARequest", "LoRARequest"),
        ("generate", "LLM.generate"),
        ("beam_search", "LLM.beam_search"),
        ("get_tokenizer", "LLM.get_tokenizer"),
    ],
)
def test_the_runner_calls_vllm_as_it_is(function, key):
    found = calls(function)
    assert found, f"the runner no longer calls {function}: update this test"
    for call in found:
        check_call(call, key)


def test_lora_request_positional_order():
    # The runner passes (name, id, path) positionally; vLLM's field order must agree.
    (call,) = calls("LoRARequest")
    assert len(call.args) == 3
    assert API["LoRARequest"][:3] == ["lora_name", "lora_int_id", "lora_path"]


def test_engine_options_are_known_to_vllm(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 8}')
    config = RunnerConfig(
        model="m",
        adapter=str(adapter),
        extra={"quantization": "awq", "distributed_executor_backend": "mp", "tensor_parallel_size": 2},
    )
    # LLM(**kwargs) passes what it does not name itself on to EngineArgs.
    known = accepts("LLM.__init__") | accepts("EngineArgs")
    unknown = set(engine_kwargs(config)) - known
    assert not unknown, f"vLLM {API['version']} knows no engine option {sorted(unknown)}"
    assert {"use_tqdm_on_load", "disable_log_stats"} <= accepts("EngineArgs")


@pytest.mark.parametrize(
    ("key", "attribute"),
    [
        ("RequestOutput", "outputs"),
        ("CompletionOutput", "token_ids"),
        ("CompletionOutput", "finish_reason"),
        ("BeamSearchOutput", "sequences"),
        ("BeamSearchSequence", "tokens"),
    ],
)
def test_the_outputs_the_runner_reads_exist(key, attribute):
    assert attribute in accepts(key), f"vLLM {API['version']}'s {key} has no {attribute}"


def test_the_stand_in_follows_vllm():
    stand_in = pytest.importorskip("test_runner_vllm")
    for key in ("SamplingParams", "BeamSearchParams", "LoRARequest", "EngineArgs"):
        fields = [f.name for f in dataclasses.fields(getattr(stand_in, key))]
        extra = set(fields) - accepts(key)
        assert not extra, f"the stand-in's {key} has fields vLLM's lacks: {sorted(extra)}"
    assert [f.name for f in dataclasses.fields(stand_in.LoRARequest)] == API["LoRARequest"][:3]
    for method, key in (("generate", "LLM.generate"), ("beam_search", "LLM.beam_search")):
        signature = inspect.signature(getattr(stand_in.FakeLLM, method))
        params = [p for p in signature.parameters.values() if p.name != "self"]
        by_position = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
        assert by_position == positional(key)[: len(by_position)], (
            f"stand-in {method}{signature} vs {API[key]}"
        )
        assert {p.name for p in params} <= accepts(key), f"stand-in {method}{signature} vs {API[key]}"


def test_snapshot_matches_the_installed_vllm():
    try:
        live = live_api()
    except ImportError:
        pytest.skip("vllm is not importable here (it needs a CUDA build); the snapshot stands in")
    if live["version"] != API["version"]:
        pytest.skip(f"installed vLLM {live['version']}, snapshot of {API['version']}: regenerate to compare")
    assert live == API


def test_the_snapshot_is_read_from_source_as_documented(tmp_path):
    # The reader itself: a wheel-like archive with one class in it.
    import zipfile

    from vllm_api import wheel_api

    wheel = tmp_path / "vllm-9.9.9-cp38-abi3-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(
            "vllm/sampling_params.py",
            "class SamplingParams:\n    n: int = 1\n    temperature: float = 1.0\n"
            "    X: 'ClassVar[int]' = 0\n\nclass BeamSearchParams:\n    beam_width: int\n",
        )
        archive.writestr(
            "vllm/entrypoints/llm.py",
            "class LLM:\n    def __init__(self, model, *, seed=0, **kwargs): ...\n",
        )
    api = wheel_api(Path(wheel))
    assert api["version"] == "9.9.9"
    assert api["SamplingParams"] == ["n", "temperature"]
    assert api["BeamSearchParams"] == ["beam_width"]
    assert api["LLM.__init__"] == ["model", "*", "seed", "**kwargs"]
    assert api["LLM.generate"] is None
