"""The Anthropic provider (official SDK) against an HTTP server on 127.0.0.1 that answers in the
Messages API's documented JSON and server-sent-event formats."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

pytest.importorskip("anthropic")

from docket.errors import ModelError
from docket.models.anthropic_messages import AnthropicChat
from docket.models.prompts import Prompt
from tests.scripted_model import send_json

PROMPT = Prompt(system="Answer from the sources.", user="Question: how long is leave?")


def _message(text: str) -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 5},
    }


class Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []
    calls: ClassVar[dict[str, int]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, data: dict, headers: dict[str, str] | None = None) -> None:
        send_json(self, status, data, headers)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers.get("x-api-key") or (self.headers.get("authorization") or "").removeprefix("Bearer ")
        Handler.requests.append({**body, "key": key})
        model = body["model"]
        Handler.calls[model] = Handler.calls.get(model, 0) + 1
        if model == "denied":
            return self._send(401, {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}})
        if model == "missing":
            return self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": "no model"}})
        if model == "busy" and Handler.calls[model] == 1:
            return self._send(
                429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}, {"retry-after": "0"}
            )
        if not body.get("stream"):
            return self._send(200, _message("Twelve weeks [1]."))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        start = {**_message(""), "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
        events = [
            ("message_start", {"type": "message_start", "message": start}),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            *[
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
                )
                for t in ("Twelve ", "weeks [1].")
            ],
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 5},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()
        return None


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_messages_api_completion_with_usage(server: str) -> None:
    chat = AnthropicChat("claude-test", api_key="key-1", base_url=server)
    result = chat.complete(PROMPT)
    chat.close()
    assert result.text == "Twelve weeks [1]." and result.model == "anthropic:claude-test"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (12, 5)
    sent = Handler.requests[-1]
    assert sent["system"] == PROMPT.system and sent["messages"] == [{"role": "user", "content": PROMPT.user}]
    assert sent["key"] == "key-1"


def test_messages_api_streaming(server: str) -> None:
    pieces: list[str] = []
    chat = AnthropicChat("claude-test", base_url=server)
    result = chat.complete(PROMPT, stream=pieces.append)
    chat.close()
    assert pieces == ["Twelve ", "weeks [1]."] and result.text == "Twelve weeks [1]."
    assert result.usage.completion_tokens == 5


def test_rate_limits_are_retried(server: str) -> None:
    chat = AnthropicChat("busy", base_url=server, max_retries=2)
    assert chat.complete(PROMPT).text == "Twelve weeks [1]."
    chat.close()
    assert Handler.calls["busy"] == 2


@pytest.mark.parametrize(
    ("model", "expected"), [("denied", "check ANTHROPIC_API_KEY"), ("missing", "model 'missing' was not found")]
)
def test_errors_say_what_to_check(server: str, model: str, expected: str) -> None:
    chat = AnthropicChat(model, api_key="secret-key-value", base_url=server, max_retries=0)
    with pytest.raises(ModelError) as err:
        chat.complete(PROMPT)
    chat.close()
    assert expected in str(err.value) and "secret-key-value" not in str(err.value)
