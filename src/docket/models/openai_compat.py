"""Any OpenAI-compatible chat server, over plain HTTP (httpx).

``POST {base_url}/chat/completions`` with the prompt's messages; streaming reads the server-sent
events. :class:`OpenAICompatClient` does the HTTP for this and for the ``openai`` embedder
(``POST {base_url}/embeddings``, :mod:`docket.models.embedders`): rate limits and server errors
(429, 500, 502, 503, 504), timeouts and dropped connections are retried with exponential backoff
that honours ``Retry-After``. Every failure becomes one :class:`~docket.errors.ModelError` line
naming the server and what to check; the API key never appears in a message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from docket.errors import ModelError
from docket.models.base import CHAT_MODELS, Completion
from docket.models.prompts import Prompt
from docket.types import Usage

__all__ = ["OpenAICompatChat", "OpenAICompatClient"]

RETRY_STATUSES = {429, 500, 502, 503, 504}


class OpenAICompatClient:
    """POSTs to one OpenAI-compatible server with the retries and error messages every endpoint shares.

    ``name`` starts every error message (``openai:gpt-4o-mini``); ``base_url_setting`` and
    ``key_setting`` are what the messages tell the user to check.
    """

    def __init__(
        self,
        name: str,
        model: str,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        base_url_setting: str = "DOCKET_OPENAI_BASE_URL",
        key_setting: str = "OPENAI_API_KEY",
    ) -> None:
        self.name, self.model = name, model
        self.base_url = base_url.rstrip("/")
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        self.base_url_setting, self.key_setting = base_url_setting, key_setting
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._key = api_key or ""  # only to blank it out of a server's error message that echoes it
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    def post(self, path: str, body: dict[str, Any], stream: bool = False) -> httpx.Response:
        """``POST {base_url}{path}``; retried on 429/5xx, timeouts and dropped connections, else a ModelError."""
        url = f"{self.base_url}{path}"
        for attempt in range(self.max_retries + 1):
            try:
                request = self._client.build_request("POST", url, json=body)
                response = self._client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                if attempt < self.max_retries:
                    time.sleep(self.backoff * 2**attempt)
                    continue
                raise ModelError(f"{self.name}: no answer from {self.base_url} within {self.timeout:g}s") from exc
            except httpx.TransportError as exc:
                if attempt < self.max_retries:
                    time.sleep(self.backoff * 2**attempt)
                    continue
                raise ModelError(
                    f"{self.name}: cannot reach {self.base_url} ({type(exc).__name__}); is the server running and "
                    f"{self.base_url_setting} right?"
                ) from exc
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                wait = _retry_after(response)
                if wait is None:
                    wait = self.backoff * 2**attempt
                response.close()
                time.sleep(min(wait, 60.0))
                continue
            if response.status_code >= 400:
                if stream:
                    response.read()
                raise self.error(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def error(self, response: httpx.Response) -> ModelError:
        """One line naming the server, the HTTP status and what to check (never the key)."""
        status = response.status_code
        try:
            detail = str(response.json().get("error", {}).get("message", ""))[:200]
        except (ValueError, AttributeError):
            detail = response.text[:200]
        if self._key and self._key in detail:
            detail = detail.replace(self._key, "[API key]")
        if status in (401, 403):
            hint = f"the API key was refused; check {self.key_setting}"
        elif status == 404:
            hint = f"model '{self.model}' or the endpoint was not found; check the model name and the base URL"
        elif status == 429:
            hint = "rate limited, still after retries; try again later or raise your quota"
        else:
            hint = "the server failed"
        return ModelError(f"{self.name} at {self.base_url}: HTTP {status}: {hint}" + (f" ({detail})" if detail else ""))

    def close(self) -> None:
        self._client.close()


@CHAT_MODELS.register("openai")
class OpenAICompatChat:
    def __init__(
        self,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        temperature: float = 0.0,
        max_tokens: int = 512,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.temperature, self.max_tokens = temperature, max_tokens
        self._http = OpenAICompatClient(self.name, model, base_url, api_key, timeout, max_retries, backoff, transport)
        self.base_url = self._http.base_url
        self._formats = list(RESPONSE_FORMATS)  # those this server has not refused yet

    def _post(self, body: dict[str, Any], stream: bool) -> httpx.Response:
        return self._http.post("/chat/completions", body, stream=stream)

    def _post_formatted(self, body: dict[str, Any], schema: dict[str, Any] | None, stream: bool) -> httpx.Response:
        """POST asking for a reply that follows ``schema`` in the first way this server accepts:
        OpenAI's ``json_schema``, then ``json_object`` with a schema (llama-cpp-python, vLLM's
        older form), then the schema in the prompt only. A refusal is remembered."""
        while schema is not None and self._formats:
            body["response_format"] = self._formats[0](schema)
            try:
                return self._post(body, stream=stream)
            except ModelError as exc:
                if not _refused_format(exc):
                    raise
                self._formats.pop(0)
        body.pop("response_format", None)
        return self._post(body, stream=stream)

    def complete(self, prompt: Prompt, stream: Callable[[str], None] | None = None) -> Completion:
        started = time.perf_counter()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": prompt.messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        schema = getattr(prompt, "schema", None)
        if stream is None:
            response = self._post_formatted(body, schema, stream=False)
            try:
                data = response.json()
                text = data["choices"][0]["message"]["content"] or ""
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise ModelError(f"{self.name}: malformed response from {self.base_url}") from exc
            usage = data.get("usage") or {}
        else:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
            text, usage = self._stream(self._post_formatted(body, schema, stream=True), stream)
        return Completion(
            text=text,
            model=self.name,
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
            seconds=time.perf_counter() - started,
        )

    def _stream(self, response: httpx.Response, on_text: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
        parts: list[str] = []
        usage: dict[str, Any] = {}
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[len("data:") :].strip()
                if payload == "[DONE]":
                    break
                try:
                    event = json.loads(payload)
                except ValueError as exc:
                    raise ModelError(f"{self.name}: malformed stream event from {self.base_url}") from exc
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        parts.append(piece)
                        on_text(piece)
        except httpx.TransportError as exc:
            raise ModelError(f"{self.name}: the stream from {self.base_url} broke off") from exc
        finally:
            response.close()
        return "".join(parts), usage

    def close(self) -> None:
        self._http.close()


RESPONSE_FORMATS: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...] = (
    lambda schema: {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}},
    lambda schema: {"type": "json_object", "schema": schema},
)


def _refused_format(exc: ModelError) -> bool:
    """The server does not take that form of ``response_format``: a 400/422 answer, or any error
    naming the field (llama-cpp-python's server answers an unknown form with a 500)."""
    message = str(exc)
    return ": HTTP 400:" in message or ": HTTP 422:" in message or "response_format" in message


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
