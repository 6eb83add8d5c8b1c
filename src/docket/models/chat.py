"""Chat models, registered by provider name, and the ``--model`` spec that selects one.

A spec is ``PROVIDER:MODEL`` (``openai:gpt-4o-mini``) or a bare provider name (``fake``).
``openai`` talks to any OpenAI-compatible server: OpenAI, Azure OpenAI, Ollama, vLLM,
llama.cpp's server, LM Studio, Groq, Together, OpenRouter, Mistral — the base URL comes from
``model.base_url`` (``DOCKET_OPENAI_BASE_URL``) and the key from ``OPENAI_API_KEY``.
``anthropic`` uses Anthropic's Messages API (``ANTHROPIC_API_KEY``; ``docket[anthropic]``).
``local`` runs a GGUF file in-process with llama.cpp (``local`` alone: the packaged default).
``fake`` is a deterministic model for tests.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from docket.errors import ModelNotConfiguredError, UnknownBackendError
from docket.models.base import CHAT_MODELS, Completion
from docket.protocols import ChatModel
from docket.types import Usage

__all__ = ["CHAT_MODELS", "Completion", "FakeChatModel", "FallbackChat", "chat_model_from_spec"]

NO_MODEL_MESSAGE = (
    "this needs a language model and none is configured. Configure one of three ways: "
    "pass --model openai:MODEL (with DOCKET_OPENAI_BASE_URL and OPENAI_API_KEY for your server), "
    'set DOCKET_MODEL__NAME=openai:MODEL, or add [model] name = "openai:MODEL" to docket.toml'
)


@CHAT_MODELS.register("fake")
class FakeChatModel:
    """Answers from a script (or echoes the first source's first sentence with [1]). Tests only."""

    def __init__(self, model: str = "fake", replies: list[str] | None = None) -> None:
        self.name = f"fake:{model}"
        self.replies = list(replies or [])
        self.prompts: list[Any] = []

    def complete(self, prompt: Any, stream: Callable[[str], None] | None = None) -> Completion:
        started = time.perf_counter()
        self.prompts.append(prompt)
        if self.replies:
            text = self.replies.pop(0)
        else:
            match = re.search(r"<source n=\"1\"[^>]*>\n(.+?)(?<=[.!?])\s", prompt.user, re.S)
            text = f"{match.group(1).strip()} [1]" if match else "I couldn't find this in your documents."
        if stream is not None:
            for piece in re.findall(r"\S+\s*", text):
                stream(piece)
        usage = Usage(prompt_tokens=len(prompt.render().split()), completion_tokens=len(text.split()))
        return Completion(text=text, model=self.name, usage=usage, seconds=time.perf_counter() - started)


class FallbackChat:
    """Asks ``primary``; when it fails (a ModelError: server down, key refused, rate limited after
    retries), asks ``fallback`` instead. The completion names the model that actually answered."""

    def __init__(self, primary: ChatModel, fallback: ChatModel) -> None:
        self.primary, self.fallback = primary, fallback
        self.name = f"{primary.name} (fallback {fallback.name})"

    def complete(self, prompt: Any, stream: Callable[[str], None] | None = None) -> Completion:
        from docket.errors import ModelError

        try:
            result: Completion = self.primary.complete(prompt, stream=stream)
        except ModelError:
            result = self.fallback.complete(prompt, stream=stream)
        return result

    def close(self) -> None:
        for chat in (self.primary, self.fallback):
            close = getattr(chat, "close", None)
            if close is not None:
                close()


def chat_model_from_spec(spec: str | None, options: dict[str, Any] | None = None) -> ChatModel:
    """Build the model a spec names; a clear error when none is given or the provider is unknown."""
    if not spec:
        raise ModelNotConfiguredError(NO_MODEL_MESSAGE)
    provider, _, model = spec.partition(":")
    # register the built-in providers: each registers itself in CHAT_MODELS (docket.models.base) on
    # import, and none imports this module, so loading them here makes no cycle
    import docket.models.anthropic_messages
    import docket.models.local
    import docket.models.openai_compat  # noqa: F401

    if provider not in CHAT_MODELS.names():
        raise UnknownBackendError(
            f"unknown model provider '{provider}' in '{spec}'. Providers: {', '.join(CHAT_MODELS.names())}"
        )
    if provider not in ("fake", "local") and not model:
        raise ModelNotConfiguredError(f"'{spec}' names no model; use {provider}:MODEL, e.g. openai:gpt-4o-mini")
    return CHAT_MODELS.create(provider, model=model or ("fake" if provider == "fake" else ""), **(options or {}))
