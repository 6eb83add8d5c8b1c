"""A loopback OpenAI-compatible chat server that answers from a script: for command-line tests
that need a model to say something exact (the real llama.cpp server is tested in tests/models)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def send_json(
    handler: BaseHTTPRequestHandler, status: int, data: object, headers: dict[str, str] | None = None
) -> None:
    """Answer a request of a loopback test server with ``data`` as JSON."""
    payload = json.dumps(data).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(payload)


@dataclass
class ScriptedModel:
    url: str  # the base URL, ending in /v1
    default: str
    replies: list[str] = field(default_factory=list)  # answered in order, then ``default``
    prompts: list[str] = field(default_factory=list)  # the last message of every request


@contextmanager
def scripted_model_server(default: str = "I couldn't find this in your documents.") -> Iterator[ScriptedModel]:
    script = ScriptedModel(url="", default=default)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.prompts.append(body["messages"][-1]["content"])
            text = script.replies.pop(0) if script.replies else script.default
            send_json(
                self,
                200,
                {
                    "choices": [{"message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 10},
                },
            )

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield script
    finally:
        httpd.shutdown()
        httpd.server_close()
