"""The OpenAI-compatible path against a real server: llama.cpp's (llama-cpp-python) serving the packaged
SmolLM2-135M model on 127.0.0.1 (the ``llama_server`` fixture, tests/models/conftest.py). The model is tiny
and its answers are poor: these tests check the protocol, streaming, usage, retries and timeouts, and that
Docket's checks hold whatever the model says, not its wisdom. `make test` installs both packages; elsewhere
the tests skip."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from docket.answer.grounded import grounded_answer
from docket.errors import ModelError
from docket.models.openai_compat import OpenAICompatChat
from docket.models.prompts import Prompt


class FlakyProxy:
    """A loopback HTTP proxy in front of a real server that misbehaves on purpose: request n is answered
    per ``plan[n]`` -- ``"throttle"`` is HTTP 429 with ``Retry-After: 1``, ``"stall"`` never answers (until
    the proxy closes) -- and every request past the plan is forwarded. ``arrivals`` records when each
    request came in (``time.monotonic()``)."""

    def __init__(self, upstream: str, plan: Sequence[str]) -> None:
        self.upstream = httpx.URL(upstream)
        self.plan = list(plan)
        self.arrivals: list[float] = []
        self.released = threading.Event()
        self._lock = threading.Lock()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.arrivals.append(time.monotonic())
            n = len(self.arrivals) - 1
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        action = self.plan[n] if n < len(self.plan) else "forward"
        if action == "stall":
            self.released.wait(30)
            return
        if action == "throttle":
            payload = b'{"error": {"message": "slow down"}}'
            status, headers = 429, {"Retry-After": "1", "Content-Type": "application/json"}
        else:
            upstream = httpx.post(
                str(self.upstream.copy_with(path=handler.path)),
                content=body,
                headers={"Content-Type": handler.headers.get("Content-Type", "application/json")},
                timeout=60,
            )
            payload = upstream.content
            status, headers = upstream.status_code, {"Content-Type": upstream.headers.get("content-type", "")}
        handler.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(payload))}.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve on 127.0.0.1; yields the proxy's base URL (same path as the upstream's)."""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                proxy._answer(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up (the timeout test) closes its socket; that is the point

        httpd = Server(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield str(self.upstream.copy_with(host="127.0.0.1", port=httpd.server_address[1]))
        finally:
            self.released.set()
            httpd.shutdown()
            httpd.server_close()


PROMPT = Prompt(system="You are a helpful assistant.", user="Say hello in one short sentence.")


def test_completion_with_token_usage(llama_server: str) -> None:
    chat = OpenAICompatChat("local", base_url=llama_server, max_tokens=24)
    result = chat.complete(PROMPT)
    chat.close()
    assert result.text.strip()
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0


def test_streaming_from_the_real_server(llama_server: str) -> None:
    pieces: list[str] = []
    chat = OpenAICompatChat("local", base_url=llama_server, max_tokens=24)
    result = chat.complete(PROMPT, stream=pieces.append)
    chat.close()
    assert len(pieces) > 1 and "".join(pieces) == result.text


def test_grounded_answer_holds_whatever_the_model_says(llama_server: str, demo_kb) -> None:
    question = "How many weeks of paid parental leave does Clef offer?"
    hits = demo_kb.search(question, k=4)
    chat = OpenAICompatChat("local", base_url=llama_server, max_tokens=64)
    answer = grounded_answer(question, hits, chat, demo_kb.embedder)
    chat.close()
    assert answer.model == "openai:local" and answer.usage is not None
    assert answer.usage.prompt_tokens > 0
    for c in answer.citations:  # only sources that were given, each checked
        assert 1 <= c.n <= len(hits) and c.supported in (True, False)
    if answer.method == "extractive":
        assert answer.notes and "extractive answer instead" in answer.notes[0]


def test_a_429_is_retried_after_retry_after_and_then_the_real_server_answers(llama_server: str) -> None:
    proxy = FlakyProxy(llama_server, ["throttle"])
    with proxy.running() as url:
        chat = OpenAICompatChat("local", base_url=url, max_tokens=16, backoff=0.01)
        result = chat.complete(PROMPT)
        chat.close()
    assert result.text.strip() and result.usage.completion_tokens > 0
    assert len(proxy.arrivals) == 2
    assert proxy.arrivals[1] - proxy.arrivals[0] >= 0.95  # the server's Retry-After: 1, not the 0.01 s backoff


def test_a_server_that_does_not_answer_in_time_is_a_model_error(llama_server: str) -> None:
    proxy = FlakyProxy(llama_server, ["stall"])
    with proxy.running() as url:
        chat = OpenAICompatChat("local", base_url=url, max_tokens=16, timeout=0.5, max_retries=0)
        with pytest.raises(ModelError, match=r"openai:local: no answer from http://127\.0\.0\.1:\d+/v1 within 0\.5s"):
            chat.complete(PROMPT)
        chat.close()
    assert len(proxy.arrivals) == 1


def test_a_schema_keeps_even_a_tiny_model_to_valid_json(llama_server: str) -> None:
    from docket.workflows.schemas import schema_problem

    schema = {
        "type": "object",
        "properties": {"vendor": {"type": "string"}, "total": {"type": "number"}},
        "required": ["vendor", "total"],
        "additionalProperties": False,
    }
    prompt = Prompt(
        system="You extract data from an invoice into JSON.",
        user="Invoice from Acme Supplies Ltd. Amount due: 1,250.00 EUR.",
        schema=schema,
    )
    chat = OpenAICompatChat("local", base_url=llama_server, max_tokens=96)
    result = chat.complete(prompt)
    chat.close()
    assert schema_problem(schema, json.loads(result.text)) is None
