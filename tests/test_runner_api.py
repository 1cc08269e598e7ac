"""The ``api`` and ``openai`` runners against a real server: llama-cpp-python's own
OpenAI-compatible server on a tiny GGUF written here, with a local proxy in front of it
to inject failures and count requests in flight.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

pytest.importorskip("openai", reason="needs the openai extra: pip install '.[openai]'")
pytest.importorskip("llama_cpp.server", reason="needs the llama-cpp extra: pip install '.[llama-cpp]'")

from conftest import ROOT, SAMPLE, ignore_sigint, postgres_processes, run_cli, sample_args, wait_for
from runners import load_runner
from runners.base import (
    CONTEXT_OVERFLOW,
    REQUEST_REJECTED,
    RETRIES_EXHAUSTED,
    SERVER_UNREACHABLE,
    Generation,
    GenerationRequest,
    RunnerConfig,
    RunnerError,
)
from runners.openai_api import APIRunner, OpenAIRunner, RetryPolicy, _retry_after
from tiny_llama import (
    CHAT_TEMPLATE,
    SQL_TEXTS,
    UTF8_OVERRUN,
    Fault,
    FaultProxy,
    LlamaServer,
    cli_rows,
    free_port,
    write_tiny_gguf,
)

MAX_NEW = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LlamaServer]:
    model = write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", chat_template=CHAT_TEMPLATE)
    srv = LlamaServer(model, n_ctx=2048)  # the sample's prompts are ~700 tokens
    try:
        yield srv.wait_ready()
    finally:
        srv.stop()


@pytest.fixture
def proxy_to(server) -> Iterator:
    """Make proxies in front of the server; all are stopped at teardown."""
    made: list[FaultProxy] = []

    def make(**options) -> FaultProxy:
        made.append(FaultProxy(server.url, **options))
        return made[-1]

    yield make
    for proxy in made:
        proxy.stop()


def requests(n: int, marker: str = "") -> list[GenerationRequest]:
    out = []
    for i in range(n):
        text = f"Question {i}: which products cost more than 10? {marker if i == 1 else ''}"
        out.append(GenerationRequest(key=str(i), prompt=text, messages=({"role": "user", "content": text},)))
    return out


def api_config(url: str, **extra) -> RunnerConfig:
    options = {"retry_base_s": 0.01, **extra}
    parallel = options.pop("parallel", 2)
    return RunnerConfig(model="tiny", api_url=url, parallel=parallel, max_new_tokens=MAX_NEW, extra=options)


def run(runner_cls, config: RunnerConfig, batch: list[GenerationRequest]) -> dict[int, Generation]:
    with runner_cls(config) as runner:
        pairs = list(runner.generate(batch))
    assert sorted(i for i, _ in pairs) == list(range(len(batch)))  # every index exactly once
    return dict(pairs)


def assert_answered(generation: Generation, *, max_tokens: int | None = MAX_NEW) -> None:
    assert generation.error is None
    assert generation.latency_s > 0
    assert generation.prompt_tokens is not None and generation.prompt_tokens > 5
    assert generation.completion_tokens is not None and generation.completion_tokens >= 1
    if max_tokens is not None:
        assert generation.completion_tokens <= max_tokens + UTF8_OVERRUN
        # The server's finish_reason reaches the generation: "length" when the budget ran out.
        expected = "length" if generation.completion_tokens >= max_tokens else "stop"
        assert generation.finish_reason == expected


# -- end to end ------------------------------------------------------------------------


def test_api_runner_end_to_end_finds_the_served_model(server):
    config = RunnerConfig(api_url=server.url, parallel=2, max_new_tokens=MAX_NEW)
    runner_cls = load_runner("api")
    assert runner_cls is APIRunner
    with runner_cls(config) as runner:
        assert runner.describe()["model"] == server.served_models()[0]  # no -m: the one served
        results = dict(runner.generate(requests(3)))
    assert sorted(results) == [0, 1, 2]
    for generation in results.values():
        assert_answered(generation)


def test_openai_runner_with_api_url(proxy_to, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    proxy = proxy_to()
    # One request: llama-cpp-python's server reads only max_tokens, so this one runs to
    # the end of the context window.
    results = run(load_runner("openai"), api_config(proxy.url), requests(1))
    assert_answered(results[0], max_tokens=None)
    [sent] = proxy.bodies
    assert sent["max_completion_tokens"] == MAX_NEW and "max_tokens" not in sent
    assert sent["temperature"] == 0 and sent["model"] == "tiny"
    assert sent["messages"] == [{"role": "user", "content": requests(1)[0].prompt}]


def test_api_runner_sends_max_tokens(proxy_to):
    proxy = proxy_to()
    run(APIRunner, api_config(proxy.url, temperature=0.5), requests(1))
    [sent] = proxy.bodies
    assert sent["max_tokens"] == MAX_NEW and "max_completion_tokens" not in sent
    assert sent["temperature"] == 0.5


def test_greedy_answers_are_repeatable(server):
    batch = requests(2)
    first = run(APIRunner, api_config(server.url), batch)
    second = run(APIRunner, api_config(server.url, parallel=1), batch)
    assert [first[i].text for i in range(2)] == [second[i].text for i in range(2)]


# -- failures --------------------------------------------------------------------------


def test_retries_after_429_with_retry_after_and_503(proxy_to):
    proxy = proxy_to(faults=[Fault(429, {"Retry-After": "1"}), Fault(503), Fault(503)])
    start = time.monotonic()
    with APIRunner(api_config(proxy.url, parallel=1)) as runner:
        [(index, generation)] = list(runner.generate(requests(1)))
        assert runner.stats.retries == 3
    assert time.monotonic() - start >= 1.0  # the server's Retry-After was honoured
    assert index == 0
    assert_answered(generation)
    assert proxy.posts == 4


def test_retries_give_up_after_max_retries(proxy_to):
    proxy = proxy_to(faults=[Fault(503)] * 3)
    results = run(APIRunner, api_config(proxy.url, parallel=1, max_retries=1), requests(1))
    assert results[0].text == ""
    assert results[0].error is not None and "HTTP 503" in results[0].error
    assert "after 2 attempts" in results[0].error
    assert results[0].error_kind == RETRIES_EXHAUSTED
    assert proxy.posts == 2


def test_bad_request_is_an_item_error_and_not_retried(proxy_to):
    proxy = proxy_to(bad_marker="POISON")
    with APIRunner(api_config(proxy.url)) as runner:
        results = dict(runner.generate(requests(3, marker="POISON")))
        assert runner.stats.retries == 0
    assert results[1].error is not None and results[1].error.startswith("HTTP 400")
    assert results[1].error_kind == REQUEST_REJECTED
    assert_answered(results[0])
    assert_answered(results[2])
    assert proxy.posts == 3


def test_timeout_is_retried_then_reported(proxy_to):
    proxy = proxy_to(delay_s=1.0)
    config = api_config(proxy.url, parallel=1, max_retries=1, request_timeout=0.3)
    results = run(APIRunner, config, requests(1))
    assert results[0].error is not None and "Timeout" in results[0].error
    assert results[0].error_kind == RETRIES_EXHAUSTED  # the server was reached, but too slow
    assert proxy.posts == 2


def test_unreachable_server_is_an_item_error_after_retries():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    results = run(APIRunner, api_config(url, max_retries=2), requests(2))
    for generation in results.values():
        assert generation.error is not None and "APIConnectionError" in generation.error
        assert "after 3 attempts" in generation.error
        assert generation.error_kind == SERVER_UNREACHABLE


def test_prompt_over_the_servers_context_is_a_context_overflow(server):
    too_long = " ".join(SQL_TEXTS) * 40  # far more than the server's 2048 tokens
    batch = [
        *requests(1),
        GenerationRequest(key="long", prompt=too_long, messages=({"role": "user", "content": too_long},)),
    ]
    results = run(APIRunner, api_config(server.url), batch)
    assert_answered(results[0])
    assert results[1].error is not None and results[1].error.startswith("HTTP 400")
    assert "context" in results[1].error
    assert results[1].error_kind == CONTEXT_OVERFLOW


@pytest.mark.parametrize("parallel", [1, 3])
def test_concurrency_is_bounded_by_parallel(proxy_to, parallel):
    proxy = proxy_to(delay_s=0.3)  # hold each request so that overlapping ones show
    results = run(APIRunner, api_config(proxy.url, parallel=parallel), requests(6))
    assert all(g.error is None for g in results.values())
    assert proxy.max_in_flight == parallel  # reached, never passed


def test_rejected_key_stops_the_run_before_sending_the_rest(proxy_to):
    proxy = proxy_to(faults=[Fault(401)])
    with (
        APIRunner(api_config(proxy.url, parallel=1)) as runner,
        pytest.raises(RunnerError, match="OPENAI_API_KEY"),
    ):
        list(runner.generate(requests(4)))
    time.sleep(0.2)
    assert proxy.posts == 1


def test_unknown_model_before_any_answer_stops_the_run(proxy_to):
    proxy = proxy_to(faults=[Fault(404)])
    with APIRunner(api_config(proxy.url, parallel=1)) as runner, pytest.raises(RunnerError, match="no model"):
        list(runner.generate(requests(2)))


def test_stopping_early_sends_nothing_more(proxy_to):
    proxy = proxy_to(delay_s=0.2)
    with APIRunner(api_config(proxy.url, parallel=1)) as runner:
        stream = runner.generate(requests(5))
        next(stream)
        stream.close()  # the caller stops reading (an interrupt, a crash downstream)
        time.sleep(1.0)
    assert proxy.posts <= 2  # the answered one, and at most one already in flight


def test_interrupt_exits_without_waiting_for_requests_in_flight(proxy_to):
    proxy = proxy_to(delay_s=60)
    script = f"""
from eval.cli import stop_on_signals
from runners.openai_api import APIRunner
from runners.base import GenerationRequest, RunnerConfig
runner = APIRunner(RunnerConfig(model="m", api_url={proxy.url!r}, parallel=2))
try:
    with stop_on_signals():
        list(runner.generate([GenerationRequest(key=str(i), prompt="q") for i in range(4)]))
except KeyboardInterrupt:
    print("interrupted")
"""
    # SIGINT inherited as ignored: the harness's own handler must make Ctrl-C work.
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=ignore_sigint,
    )  # fmt: skip
    try:
        wait_for(lambda: proxy.in_flight == 2)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert stdout == "interrupted\n", stderr
    assert time.monotonic() - start < 10  # not the 60 s the proxy holds each request
    assert proxy.max_in_flight == 2


@pytest.mark.parametrize(
    ("signum", "code", "message"),
    [
        (signal.SIGINT, 130, "interrupted: finished generations are kept; rerun the same command to resume"),
        (signal.SIGTERM, 143, "terminated: finished generations are kept; rerun the same command to resume"),
    ],
)
def test_signal_mid_generation_stops_the_run_and_its_server(proxy_to, tmp_path, signum, code, message):
    """Ctrl-C or SIGTERM (CI cancelling a job) with requests in flight: the run stops in
    seconds with one line, what was generated is in the journal, and the embedded server
    this run started (a cache dir of its own) is stopped."""
    proxy = proxy_to(delay_s=60, hold_from=3)  # three answers, then requests that hang
    cache, out = tmp_path / "cache", tmp_path / "run.csv"
    journal = out.with_name(out.name + ".generations.jsonl")
    args = ["-r", "api", "--api-url", proxy.url, "-m", "tiny", "--max-new-tokens", str(MAX_NEW)]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *args, "--api-concurrency", "2", *sample_args(cache, out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore_sigint,
    )  # fmt: skip
    try:
        wait_for(lambda: proxy.posts == 5 and proxy.in_flight == 2, timeout=120)
        wait_for(lambda: journal.exists() and len(journal.read_text().splitlines()) == 4)  # header, 3 answers
        start = time.monotonic()
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert stderr.strip().splitlines() == [message]
    assert time.monotonic() - start < 15
    entries = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert len(entries) == 3 and all(e["value"]["error"] is None for e in entries)
    assert not out.exists()
    assert postgres_processes(cache) == []
    assert (cache / "pgdata" / "PG_VERSION").exists()  # it did start one, and stopped it


# -- options ---------------------------------------------------------------------------


def test_api_runner_needs_an_url():
    with pytest.raises(RunnerError, match="--api-url"):
        APIRunner(RunnerConfig(model="tiny"))


def test_openai_runner_needs_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(RunnerError, match="OPENAI_API_KEY"):
        OpenAIRunner(RunnerConfig(model="gpt-test"))


def test_openai_runner_needs_a_model(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with pytest.raises(RunnerError, match="-m MODEL"):
        OpenAIRunner(RunnerConfig())


def test_bad_option_is_a_runner_error():
    with pytest.raises(RunnerError, match="max_retries"):
        APIRunner(RunnerConfig(model="m", api_url="http://127.0.0.1:9/v1", extra={"max_retries": "many"}))


def test_no_concurrency_names_the_flag_that_sets_it():
    with pytest.raises(RunnerError, match=r"^--api-concurrency must be at least 1 for runner 'api'$"):
        APIRunner(RunnerConfig(model="m", api_url="http://127.0.0.1:9/v1", parallel=0))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_header(headers, expected):
    assert _retry_after(headers) == expected


def test_retry_after_as_http_date():
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    wait = _retry_after({"retry-after": when})
    assert wait is not None and 28 <= wait <= 30


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(base_s=1.0, cap_s=8.0)
    for retry, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        waits = {policy.delay(retry, None) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered, not lockstep
    assert 3.0 <= policy.delay(0, 3.0) <= 3.3  # the server's Retry-After wins


@pytest.mark.parametrize(
    ("runner", "module", "extra"), [("api", "openai", "openai"), ("llama-cpp", "llama_cpp", "llama-cpp")]
)
def test_missing_extra_names_it(monkeypatch, runner, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    monkeypatch.delitem(sys.modules, "runners.openai_api", raising=False)
    monkeypatch.delitem(sys.modules, "runners.llama_cpp", raising=False)
    with pytest.raises(RunnerError, match=re.escape(f"pip install '.[{extra}]'")):
        load_runner(runner)


# -- through the command line ----------------------------------------------------------


def test_cli_api_runner_end_to_end(server, cache_dir, tmp_path):
    out = tmp_path / "api.csv"
    args = [
        "-r",
        "api",
        "--api-url",
        server.url,
        "-m",
        "tiny",
        "--max-new-tokens",
        "24",
        "--api-concurrency",
        "3",
    ]
    proc = run_cli(*args, *sample_args(cache_dir, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in cli_rows(out, SAMPLE / "questions.csv"):
        assert not row["error_msg"].startswith("generation failed"), row["error_msg"]
        assert row["correct"] == "0"  # random weights write junk: wrong, not a crash
        assert int(row["prompt_tokens"]) > 100
        assert int(row["completion_tokens"]) >= 1
        assert float(row["latency_seconds"]) > 0


def test_cli_openai_runner_reads_the_base_url_from_the_environment(server, cache_dir, tmp_path):
    out = tmp_path / "openai.csv"
    env = {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test"}
    proc = run_cli("-r", "openai", "-m", "tiny", "-n", "1", *sample_args(cache_dir, out), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in cli_rows(out, SAMPLE / "questions.csv", limit=1):
        assert not row["error_msg"].startswith("generation failed"), row["error_msg"]
        assert int(row["completion_tokens"]) >= 1 and float(row["latency_seconds"]) > 0


def test_cli_api_runner_without_url_is_one_line_and_exit_2(cache_dir, tmp_path):
    env = {"OPENAI_BASE_URL": ""}
    proc = run_cli("-r", "api", "-m", "tiny", *sample_args(cache_dir, tmp_path / "r.csv"), env=env)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: runner 'api' needs the server's address: --api-url")


def server_down_run(cache_dir, tmp_path, *extra: str, url: str | None = None):
    """A run of the first 3 sample questions against a port where nothing listens."""
    out = tmp_path / "down.csv"
    url = url or f"http://127.0.0.1:{free_port()}/v1"
    args = ["-r", "api", "--api-url", url, "-m", "tiny", "-n", "3", "--max-retries", "1", *extra]
    return run_cli(*args, *sample_args(cache_dir, out), env={"OPENAI_API_KEY": "sk-from-env"}), out


def test_cli_summary_holds_every_setting_and_no_secret(cache_dir, tmp_path):
    port = free_port()
    url = f"http://me:sk-in-url@127.0.0.1:{port}/v1?api-key=sk-in-query"
    proc, out = server_down_run(
        cache_dir, tmp_path, "--temperature", "0.5", "--max-new-tokens", "33", url=url
    )
    assert proc.returncode == 3, proc.stderr[-3000:]
    text = out.with_suffix(".json").read_text()
    assert "sk-" not in text  # neither the URL's secrets nor the environment's key
    summary = json.loads(text)
    options = summary["runner_options"]
    assert options["api_url"] == f"http://127.0.0.1:{port}/v1"
    assert (options["temperature"], options["max_new_tokens"], options["max_retries"]) == (0.5, 33, 1)
    assert (options["api_concurrency"], options["request_timeout"], options["model"]) == (8, 120.0, "tiny")
    assert summary["runner_resolved"] == {
        "runner": "api",
        "model": "tiny",
        "temperature": 0.5,
        "max_new_tokens": 33,
    }
    chat_text = (ROOT / "eval" / "prompts" / "chat.txt").read_text()
    assert summary["prompt"]["template"] == "chat"
    assert summary["prompt"]["template_sha256"] == hashlib.sha256(chat_text.encode()).hexdigest()
    import openai

    assert summary["versions"]["openai"] == openai.__version__ and "torch" not in summary["versions"]


def test_cli_server_down_is_a_generation_error_and_exit_3(cache_dir, tmp_path):
    proc, out = server_down_run(cache_dir, tmp_path)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: 3 of 3 generations failed (3 server unreachable), more than --max-generation-errors 0: "
        "the accuracy measures the failures, not the model; see generation_error, fix the cause and "
        "rerun the same command to retry only those"
    )
    rows = cli_rows(out, SAMPLE / "questions.csv", limit=3)
    for row in rows:
        assert row["generation_error"].startswith("server unreachable: APIConnectionError: Connection error.")
        assert row["generation_error"].endswith("after 2 attempts")
        assert row["error_msg"] == f"generation failed: {row['generation_error']}"
        assert (row["correct"], row["error_db_exec"], row["raw_output"]) == ("0", "0", "")
    summary = json.loads(out.with_suffix(".json").read_text())
    assert (summary["n"], summary["accuracy"], summary["error_rate"]) == (3, 0.0, 0.0)
    assert summary["generation_error_rate"] == 1.0 and summary["generation_errors"] == 3
    assert summary["generation_error_kinds"] == {"server unreachable": 3}
    assert re.search(r"^overall +3 +0 +0\.0% +3$", proc.stdout, re.MULTILINE), proc.stdout

    # ... and the reports built on it say so
    board = tmp_path / "board.csv"
    assert run_cli("leaderboard", out, "-o", board).returncode == 0
    [entry] = list(csv.DictReader(board.open(newline="")))
    assert (entry["generation_error_rate"], entry["error_rate"], entry["accuracy"]) == ("1.0", "0.0", "0.0")
    page = tmp_path / "report.html"
    assert run_cli("report", out, "-o", page).returncode == 0
    assert page.read_text().count("generation failed: server unreachable: APIConnectionError") == 3
    gate = run_cli("compare", out, out)
    assert gate.returncode == 2 and gate.stdout == ""
    [line] = gate.stderr.strip().splitlines()
    assert line.startswith(f"error: runs cannot be compared: {out} has 3 failed generation(s) (first: shop: ")


@pytest.mark.parametrize(("budget", "code"), [("3", 0), ("2", 3), ("1.0", 0), ("0.5", 3), ("0", 3)])
def test_cli_max_generation_errors_sets_the_threshold(cache_dir, tmp_path, budget, code):
    proc, out = server_down_run(cache_dir, tmp_path, "--max-generation-errors", budget)
    assert proc.returncode == code, proc.stderr[-3000:]
    assert out.is_file()  # the results are written either way
    assert ("more than --max-generation-errors" in proc.stderr) is (code == 3)


@pytest.mark.parametrize("budget", ["-1", "1.5", "some"])
def test_cli_bad_max_generation_errors_is_exit_2(cache_dir, tmp_path, budget):
    proc = run_cli("--max-generation-errors", budget, *sample_args(cache_dir, tmp_path / "r.csv"))
    assert proc.returncode == 2
    assert "--max-generation-errors: expected a count (3) or a fraction with a decimal point" in proc.stderr
    assert "Traceback" not in proc.stderr
