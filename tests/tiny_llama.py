"""Real parts for the llama-cpp and API runner tests, built here, nothing downloaded.

- :func:`write_tiny_gguf`: a 2-layer Llama with random weights and a SentencePiece-style
  vocabulary made from a few SQL strings, written with the ``gguf`` package in the layout
  llama.cpp's ``llama`` architecture loads.
- :class:`LlamaServer`: llama-cpp-python's own OpenAI-compatible server on that file, in a
  subprocess on a free local port.
- :class:`FaultProxy`: a stdlib HTTP proxy in front of the server that can answer chosen
  errors, delay, and count requests in flight.
"""

from __future__ import annotations

import csv
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

# Text the vocabulary is made from: whole words become tokens, every character too.
SQL_TEXTS = (
    "SELECT name, price FROM products WHERE price > 10 ORDER BY price DESC LIMIT 5;",
    "SELECT COUNT(*) FROM orders GROUP BY customer_id HAVING COUNT(*) > 1;",
    "SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id",
    "SELECT AVG(score) FROM students WHERE grade = 'A' AND year BETWEEN 2020 AND 2024;",
    "SELECT id FROM teachers LEFT JOIN classes USING (id) WHERE classes.id IS NULL",
    "SELECT DISTINCT city FROM shops UNION SELECT city FROM suppliers;",
    "SELECT MAX(created_at), MIN(created_at) FROM events WHERE kind <> 'test'",
    "```sql\nSELECT 1;\n```",
    "Question: Which products are the most expensive?",
    "Answer with one PostgreSQL query.",
)

# llama-cpp-python finishes a UTF-8 character begun at the token limit, so a model that
# emits raw byte tokens (random weights do) may go up to 3 tokens past max_tokens.
UTF8_OVERRUN = 3

SPACE = "\u2581"  # SentencePiece's visible space
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class TinyLlamaShape:
    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 128
    n_ctx_train: int = 4096


def sql_vocab(texts: Iterable[str] = SQL_TEXTS) -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types of an SPM vocabulary llama.cpp accepts.

    Ids 0-2 are ``<unk> <s> </s>``; then all 256 byte tokens (llama.cpp's SPM tokenizer
    falls back to them for characters outside the vocabulary, and looks up ``<0x0A>`` for
    the newline); then every character and every prefix of every word, with ``▁`` for a
    space. Prefixes matter: SPM merges adjacent pieces only into pieces that exist, so a
    word is reachable one character at a time. Longer pieces score higher, so merges
    prefer them.
    """
    from gguf import TokenType

    tokens = ["<unk>", "<s>", "</s>"]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [TokenType.BYTE] * 256
    pieces: set[str] = set()
    for text in texts:
        spm = SPACE + text.replace(" ", SPACE)
        pieces.update(spm)
        for word in spm.replace(SPACE, " " + SPACE).split():
            pieces.update(word[:end] for end in range(2, len(word) + 1))
    pieces.discard("\n")  # the newline is the byte token <0x0A>
    for piece in sorted(pieces, key=lambda p: (len(p), p)):
        tokens.append(piece)
        types.append(TokenType.NORMAL)
    scores = [0.0] * 259 + [float(len(t)) for t in tokens[259:]]
    return tokens, scores, [int(t) for t in types]


def write_tiny_gguf(path: Path, *, chat_template: str | None = None, seed: int = 0) -> Path:
    """Write a tiny random-weight Llama to ``path`` (a few hundred KB) and return it."""
    import gguf

    shape = TinyLlamaShape()
    tokens, scores, types = sql_vocab()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("sqlharness-tiny-test")
    writer.add_context_length(shape.n_ctx_train)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layer)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)
    writer.add_rope_dimension_count(shape.n_embd // shape.n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    for name, tensor in _weights(shape, len(tokens), seed):
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _weights(shape: TinyLlamaShape, n_vocab: int, seed: int) -> Iterable[tuple[str, np.ndarray]]:
    """Tensors in numpy order (rows, cols); GGUF stores the dimensions reversed."""
    rng = np.random.default_rng(seed)
    head_dim = shape.n_embd // shape.n_head
    d, kv = shape.n_embd, shape.n_head_kv * head_dim

    def w(*dims: int) -> np.ndarray:
        return (rng.standard_normal(dims) * 0.1).astype(np.float32)

    ones = np.ones(d, dtype=np.float32)
    yield "token_embd.weight", w(n_vocab, d)
    for n in range(shape.n_layer):
        yield f"blk.{n}.attn_norm.weight", ones
        yield f"blk.{n}.attn_q.weight", w(d, d)
        yield f"blk.{n}.attn_k.weight", w(kv, d)
        yield f"blk.{n}.attn_v.weight", w(kv, d)
        yield f"blk.{n}.attn_output.weight", w(d, d)
        yield f"blk.{n}.ffn_norm.weight", ones
        yield f"blk.{n}.ffn_gate.weight", w(shape.n_ff, d)
        yield f"blk.{n}.ffn_up.weight", w(shape.n_ff, d)
        yield f"blk.{n}.ffn_down.weight", w(d, shape.n_ff)
    yield "output_norm.weight", ones
    yield "output.weight", w(n_vocab, d)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` on a GGUF, started and stopped by the test."""

    def __init__(self, model: Path, *, n_ctx: int = 512, log: Path | None = None) -> None:
        self.model = model
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._log = open(log or model.with_suffix(".server.log"), "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                str(n_ctx),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120) -> LlamaServer:
        """Block until ``/v1/models`` answers; fail with the server's log if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama server exited ({self.process.returncode}):\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(f"llama server did not answer within {timeout}s:\n{self.log_text()}")

    def served_models(self) -> list[str]:
        with urllib.request.urlopen(f"{self.url}/models", timeout=5) as reply:
            return [m["id"] for m in json.load(reply)["data"]]

    def log_text(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@dataclass(frozen=True)
class Fault:
    """An answer the proxy gives instead of forwarding."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FaultProxy:
    """A local HTTP proxy in front of an upstream ``/v1`` server.

    ``faults`` are answered, in order, to the first POSTs; ``bad_marker`` in a request body
    gets a 400 every time; ``delay_s`` holds each forwarded request from POST number
    ``hold_from`` (0-based) on (so concurrency shows, or a run is caught mid-generation).
    It records how many POSTs arrived and the most that were in flight at once.
    """

    upstream: str
    faults: list[Fault] = field(default_factory=list)
    bad_marker: str | None = None
    delay_s: float = 0.0
    hold_from: int = 0
    posts: int = 0
    bodies: list[dict] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def admit(self, body: bytes) -> tuple[Fault | None, float]:
        """Count a POST; the fault to answer (None to forward) and how long to hold it."""
        with self.lock:
            hold = self.delay_s if self.posts >= self.hold_from else 0.0
            self.posts += 1
            self.bodies.append(json.loads(body or b"{}"))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.bad_marker and self.bad_marker.encode() in body:
                return Fault(400), hold
            return (self.faults.pop(0) if self.faults else None), hold

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def forward(
        self, path: str, body: bytes, headers: dict[str, str], hold: float
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        time.sleep(hold)
        host, port = self.upstream.split("//")[1].split("/")[0].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            conn.request("POST", path, body=body, headers=headers)
            reply = conn.getresponse()
            return reply.status, reply.getheaders(), reply.read()
        finally:
            conn.close()


def _handler_for(proxy: FaultProxy) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fault, hold = proxy.admit(body)
            try:
                status, headers, data = self._answer(fault, hold, body)
            finally:
                # Out of flight before the client can read the answer: its next request may
                # arrive before this thread runs again, and counting both would overstate
                # the concurrency (seen under load: 4 in flight with --api-concurrency 3).
                proxy.leave()
            self._reply(status, headers, data)

        def _answer(
            self, fault: Fault | None, hold: float, body: bytes
        ) -> tuple[int, list[tuple[str, str]], bytes]:
            if fault is not None:
                payload = json.dumps({"error": {"message": f"injected {fault.status}", "type": "test"}})
                return fault.status, list(fault.headers.items()), payload.encode()
            headers = {
                "Content-Type": "application/json",
                "Authorization": self.headers.get("Authorization", ""),
            }
            status, reply_headers, data = proxy.forward(self.path, body, headers, hold)
            return status, [(k, v) for k, v in reply_headers if k.lower() == "content-type"], data

        def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


def cli_rows(output: Path, questions: Path, limit: int | None = None) -> list[dict[str, str]]:
    """The results CSV of a CLI run, checked to hold one row per question (the first
    ``limit``), in order."""
    with output.open(newline="") as f:
        rows = list(csv.DictReader(f))
    with questions.open(newline="") as f:
        asked = [row["question"] for row in csv.DictReader(f)]
    assert [row["question"] for row in rows] == asked[:limit]
    return rows
