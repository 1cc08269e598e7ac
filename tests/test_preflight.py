"""Bad runner options fail before the databases start (Runner.preflight).

Each CLI run gets a fresh cache dir: the embedded server would create ``pgdata`` there, so
its absence shows nothing was set up before the error.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import SAMPLE, run_cli
from runners import load_runner
from runners.base import RunnerConfig, RunnerError
from runners.model_ref import check_model_ref


def preflight_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI on the sample benchmark; assert exit 2, one line, no database; return the line."""
    cache = tmp_path / "cache"
    proc = run_cli(
        *args,
        "-q", str(SAMPLE / "questions.csv"),
        "--schemas", str(SAMPLE / "schemas"),
        "--cache-dir", str(cache),
        "-o", str(tmp_path / "out.csv"),
        "--no-progress",
        env=env,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    [line] = proc.stderr.strip().splitlines()  # and so no traceback
    assert line.startswith("error: ")
    assert not (cache / "pgdata").exists()  # failed before the embedded server started
    assert not (tmp_path / "out.csv").exists()
    return line


def test_hf_model_path_that_does_not_exist(tmp_path):
    line = preflight_cli(tmp_path, "-r", "hf", "-m", str(tmp_path / "no-such-model"))
    assert (
        line
        == f"error: model not found: {tmp_path / 'no-such-model'} is not a local path, nor a hub name like org/name"
    )


@pytest.fixture
def silent_hub() -> Iterator[str]:
    """A hub endpoint that accepts connections and never answers (a firewall that drops
    replies, a captive network): only a timeout ends a request to it."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def empty_hub() -> Iterator[str]:
    """A hub endpoint that answers as the hub does for a repository it does not have."""

    class NoSuchRepo(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("X-Error-Message", "Repository not found")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NoSuchRepo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("hub", ["refused", "silent", "offline", "empty"])
def test_hub_model_that_cannot_be_fetched_fails_in_seconds(tmp_path, silent_hub, empty_hub, hub):
    with socket.create_server(("127.0.0.1", 0)) as closed:  # a port nothing listens on, after
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env = {
        "HF_HUB_CACHE": str(tmp_path / "hub"),  # an empty cache
        "HF_ENDPOINT": {"silent": silent_hub, "empty": empty_hub}.get(hub, refused),
        "HF_HUB_OFFLINE": "1" if hub == "offline" else "",
        "TRANSFORMERS_OFFLINE": "",
    }
    start = time.monotonic()
    line = preflight_cli(tmp_path, "-r", "hf", "-m", "some-org/some-model", env=env)
    assert time.monotonic() - start < 20  # one short try (5 s), not the loaders' minute of retries
    hint = (
        "point -m at a local copy (a model directory), or download it into the Hugging Face cache "
        "on a machine with network and run with HF_HUB_OFFLINE=1"
    )
    if hub == "offline":
        assert line == (
            "error: model some-org/some-model is neither a local path nor in the Hugging Face cache "
            f"({tmp_path / 'hub'}), and HF_HUB_OFFLINE is set; {hint}"
        )
    elif hub == "empty":
        assert line == (
            f"error: model some-org/some-model is neither a local path nor on the hub: {empty_hub} "
            f"has no such model (a private one needs HF_TOKEN); {hint}"
        )
    else:
        assert line.startswith(
            f"error: model some-org/some-model is neither a local path nor reachable: {env['HF_ENDPOINT']} "
            "did not answer ("
        )
        assert line.endswith(f"); {hint}")
        assert ("timed out" if hub == "silent" else "refused") in line.lower()


def test_llama_cpp_file_missing_or_not_gguf(tmp_path):
    line = preflight_cli(tmp_path, "-r", "llama-cpp", "-m", str(tmp_path / "absent.gguf"))
    assert line == f"error: model file not found: {tmp_path / 'absent.gguf'}"
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 a zip, not a GGUF")
    assert "is not a GGUF file" in preflight_cli(tmp_path, "-r", "llama-cpp", "-m", str(fake))


def test_api_without_url(tmp_path):
    line = preflight_cli(tmp_path, "-r", "api", "-m", "tiny", env={"OPENAI_BASE_URL": ""})
    assert line.startswith("error: runner 'api' needs the server's address: --api-url")


def test_openai_without_key(tmp_path):
    line = preflight_cli(tmp_path, "-r", "openai", "-m", "gpt-test", env={"OPENAI_API_KEY": ""})
    assert line == "error: runner 'openai' needs an API key: set OPENAI_API_KEY"


@pytest.mark.parametrize(
    "model, ok",
    [
        ("org/name", True),
        ("gpt2", True),  # an old un-namespaced hub model
        ("Qwen/Qwen2.5-Coder-7B-Instruct", True),
        ("models/tiny", True),  # not on disk, but could be on the hub: left to the loader
        ("/no/such/dir", False),
        ("./tiny", False),
        ("~/no-such-model-here", False),
        ("a/b/c", False),
        ("", False),
    ],
)
def test_what_could_be_a_model(model, ok, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative names resolve in an empty directory
    if ok:
        check_model_ref("hf", model)
    else:
        with pytest.raises(RunnerError):
            check_model_ref("hf", model)


def test_an_existing_local_directory_passes(tmp_path):
    check_model_ref("hf", str(tmp_path))


def test_hf_and_vllm_preflight_name_a_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(RunnerError, match=r"pip install '\.\[hf\]'"):
        load_runner("hf").preflight(RunnerConfig(model="org/name"))
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(RunnerError, match=r"pip install '\.\[vllm\]'"):
        load_runner("vllm").preflight(RunnerConfig(model="org/name"))


def test_runners_without_checks_pass():
    load_runner("oracle").preflight(RunnerConfig())


def test_numeric_options_read_through_one_helper():
    config = RunnerConfig(extra={"n_ctx": "2048", "max_retries": "many", "temperature": None})
    assert config.number("n_ctx", 4096, int) == 2048
    assert config.number("temperature", 0.5, float) == 0.5  # None: the default
    with pytest.raises(RunnerError, match=r"^option max_retries must be a whole number, got 'many'$"):
        config.number("max_retries", 5, int)
    with pytest.raises(RunnerError, match=r"^option request_timeout must be a number, got 'soon'$"):
        RunnerConfig(extra={"request_timeout": "soon"}).number("request_timeout", 120.0, float)
