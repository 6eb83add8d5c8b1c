"""The OpenAI-compatible provider against a real HTTP server on 127.0.0.1 speaking the API's wire format."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from docket.errors import ModelError
from docket.models.openai_compat import OpenAICompatChat
from docket.models.prompts import Prompt
from tests.scripted_model import send_json

PROMPT = Prompt(system="Answer from the sources.", user="Question: how long is leave?")


class Handler(BaseHTTPRequestHandler):
    calls: ClassVar[dict[str, int]] = {}
    bodies: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _json(self, status: int, data: dict, headers: dict[str, str] | None = None) -> None:
        send_json(self, status, data, headers)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.bodies.append({**body, "auth": self.headers.get("Authorization")})
        model = body["model"]
        Handler.calls[model] = Handler.calls.get(model, 0) + 1
        if model == "denied":
            return self._json(401, {"error": {"message": "Incorrect API key provided"}})
        if model == "missing":
            return self._json(404, {"error": {"message": "The model does not exist"}})
        if model == "limited" and Handler.calls[model] == 1:
            return self._json(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        if model == "slow":
            time.sleep(1.5)
        wanted = (body.get("response_format") or {}).get("type")
        if model == "json-object-only" and wanted == "json_schema":
            return self._json(422, {"error": {"message": "response_format.type: unknown value json_schema"}})
        if model == "no-formats" and wanted is not None:
            return self._json(400, {"error": {"message": "Unrecognized request argument: response_format"}})
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in ["Twelve ", "weeks ", "[1]."]:
                event = {"choices": [{"delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            usage = {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 3}}
            self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
            return None
        return self._json(
            200,
            {
                "choices": [{"message": {"role": "assistant", "content": "Twelve weeks [1]."}}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 4},
            },
        )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_completion_with_usage_and_the_key_sent(server: str) -> None:
    chat = OpenAICompatChat("ok", base_url=server, api_key="sk-test")
    result = chat.complete(PROMPT)
    chat.close()
    assert result.text == "Twelve weeks [1]." and result.model == "openai:ok"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 4)
    sent = Handler.bodies[-1]
    assert sent["messages"] == PROMPT.messages and sent["auth"] == "Bearer sk-test"


def test_streaming_delivers_pieces_and_usage(server: str) -> None:
    pieces: list[str] = []
    chat = OpenAICompatChat("ok", base_url=server)
    result = chat.complete(PROMPT, stream=pieces.append)
    chat.close()
    assert pieces == ["Twelve ", "weeks ", "[1]."] and result.text == "Twelve weeks [1]."
    assert result.usage.prompt_tokens == 11


def test_429_is_retried_after_the_servers_retry_after(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import docket.models.openai_compat as module

    waits: list[float] = []
    monkeypatch.setattr(module.time, "sleep", waits.append)
    chat = OpenAICompatChat("limited", base_url=server, backoff=5.0)
    result = chat.complete(PROMPT)
    chat.close()
    assert result.text == "Twelve weeks [1]." and Handler.calls["limited"] == 2
    assert waits == [0.0]  # the server's Retry-After, not the 5 s backoff


@pytest.mark.parametrize(
    ("model", "expected"),
    [("denied", "API key was refused; check OPENAI_API_KEY"), ("missing", "model 'missing' or the endpoint")],
)
def test_http_errors_say_what_to_check(server: str, model: str, expected: str) -> None:
    chat = OpenAICompatChat(model, base_url=server, api_key="sk-secret-value", max_retries=0)
    with pytest.raises(ModelError) as err:
        chat.complete(PROMPT)
    chat.close()
    assert expected in str(err.value) and server in str(err.value)
    assert "sk-secret-value" not in str(err.value)


def test_a_server_that_does_not_answer_in_time(server: str) -> None:
    chat = OpenAICompatChat("slow", base_url=server, timeout=0.3, max_retries=0)
    with pytest.raises(ModelError, match=r"no answer .* within 0\.3s"):
        chat.complete(PROMPT)
    chat.close()


def test_an_unreachable_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chat = OpenAICompatChat("ok", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0.01)
    with pytest.raises(ModelError, match="cannot reach"):
        chat.complete(PROMPT)
    chat.close()


def test_docket_ask_with_an_openai_compatible_server(server: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import shutil
    import subprocess
    import sys

    from tests.conftest import DEMO

    shutil.copytree(DEMO / "Benefits and Perks", tmp_path / "docs")
    env = {**os.environ, "DOCKET_OPENAI_BASE_URL": server, "OPENAI_API_KEY": "sk-test", "DOCKET_HOME": str(tmp_path)}
    run = [sys.executable, "-m", "docket"]
    subprocess.run([*run, "ingest", str(tmp_path / "docs"), "--json"], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [*run, "ask", "How many weeks of parental leave do we offer?", "--model", "openai:ok", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    answer = json.loads(out)
    assert answer["model"] == "openai:ok" and answer["method"] == "generated"
    assert answer["usage"] == {"prompt_tokens": 11, "completion_tokens": 4, "cost": None}
    assert answer["citations"][0]["n"] == 1 and isinstance(answer["citations"][0]["supported"], bool)
    shown = subprocess.run([*run, "config", "show", "--json"], env=env, check=True, capture_output=True, text=True)
    assert "sk-test" not in shown.stdout and json.loads(shown.stdout)["model"]["base_url"] == server


SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}


def test_a_schema_is_asked_for_in_the_first_form_the_server_accepts_and_remembered(server: str) -> None:
    prompt = Prompt(system="Extract.", user="Total: 12", schema=SCHEMA)
    chat = OpenAICompatChat("json-object-only", base_url=server, max_retries=0)
    first = len(Handler.bodies)
    chat.complete(prompt)
    chat.complete(prompt)
    chat.close()
    sent = [b["response_format"] for b in Handler.bodies[first:]]
    # OpenAI's json_schema refused once, then llama.cpp's json_object + schema for every call
    assert sent[0] == {"type": "json_schema", "json_schema": {"name": "reply", "schema": SCHEMA}}
    assert sent[1:] == [{"type": "json_object", "schema": SCHEMA}] * 2


def test_a_server_without_structured_output_gets_the_schema_in_the_prompt_only(server: str) -> None:
    chat = OpenAICompatChat("no-formats", base_url=server, max_retries=0)
    result = chat.complete(Prompt(system="Extract.", user="Total: 12", schema=SCHEMA))
    again_from = len(Handler.bodies)
    chat.complete(Prompt(system="Extract.", user="Total: 13", schema=SCHEMA))
    chat.close()
    assert result.text == "Twelve weeks [1]."
    assert "response_format" not in Handler.bodies[-1] and len(Handler.bodies) == again_from + 1


def test_a_prompt_without_a_schema_sends_no_response_format(server: str) -> None:
    chat = OpenAICompatChat("ok", base_url=server)
    chat.complete(PROMPT)
    chat.close()
    assert "response_format" not in Handler.bodies[-1]
