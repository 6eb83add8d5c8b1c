"""Anthropic's Messages API through the official SDK (``pip install 'docket[anthropic]'``).

The key comes from ``ANTHROPIC_API_KEY`` (``model.anthropic_api_key``); ``model.anthropic_base_url``
points elsewhere when needed (a proxy, or a test server). The SDK retries rate limits and
server errors honouring ``Retry-After``; its exceptions are translated here into one
:class:`~docket.errors.ModelError` line naming the provider and what to check.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

from docket.errors import MissingExtraError, ModelError
from docket.models.base import CHAT_MODELS, Completion
from docket.models.prompts import Prompt
from docket.types import Usage

__all__ = ["AnthropicChat"]


@CHAT_MODELS.register("anthropic")
class AnthropicChat:
    def __init__(
        self,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        temperature: float = 0.0,
        max_tokens: int = 512,
    ) -> None:
        try:
            import anthropic
        except ImportError as exc:
            raise MissingExtraError("anthropic", "anthropic", "The anthropic provider") from exc
        self._sdk = anthropic
        self.name = f"anthropic:{model}"
        self.model = model
        self.base_url = base_url or "https://api.anthropic.com"
        self.temperature, self.max_tokens, self.timeout = temperature, max_tokens, timeout
        self._client = anthropic.Anthropic(
            api_key=api_key or "missing-key", base_url=base_url, timeout=timeout, max_retries=max_retries
        )
        self._takes_temperature = "temperature" in inspect.signature(self._client.messages.create).parameters

    def _translate(self, exc: Exception) -> ModelError:
        sdk = self._sdk
        where = f"{self.name} at {self.base_url}"
        if isinstance(exc, sdk.AuthenticationError | sdk.PermissionDeniedError):
            return ModelError(f"{where}: the API key was refused; check ANTHROPIC_API_KEY")
        if isinstance(exc, sdk.NotFoundError):
            return ModelError(f"{where}: model '{self.model}' was not found; check the model name")
        if isinstance(exc, sdk.RateLimitError):
            return ModelError(f"{where}: rate limited, still after retries; try again later")
        if isinstance(exc, sdk.APITimeoutError):
            return ModelError(f"{where}: no answer within {self.timeout:g}s")
        if isinstance(exc, sdk.APIConnectionError):
            return ModelError(f"{where}: cannot reach the server; check the network or model.anthropic_base_url")
        if isinstance(exc, sdk.APIStatusError):
            return ModelError(f"{where}: HTTP {exc.status_code}: the server failed")
        return ModelError(f"{where}: {type(exc).__name__}")

    def complete(self, prompt: Prompt, stream: Callable[[str], None] | None = None) -> Completion:
        started = time.perf_counter()
        request: dict[str, Any] = {
            "model": self.model,
            "system": prompt.system,
            "messages": [{"role": "user", "content": prompt.user}],
            "max_tokens": self.max_tokens,
        }
        if self._takes_temperature:  # newer SDK versions no longer accept sampling parameters
            request["temperature"] = self.temperature
        try:
            if stream is None:
                message = self._client.messages.create(**request)
            else:
                with self._client.messages.stream(**request) as events:
                    for piece in events.text_stream:
                        stream(piece)
                    message = events.get_final_message()
        except self._sdk.APIError as exc:
            raise self._translate(exc) from exc
        text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
        usage = Usage(int(message.usage.input_tokens or 0), int(message.usage.output_tokens or 0))
        return Completion(text=text, model=self.name, usage=usage, seconds=time.perf_counter() - started)

    def close(self) -> None:
        self._client.close()
