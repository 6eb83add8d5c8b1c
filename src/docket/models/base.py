"""What chat providers share: the registry they register in, and what a completion returns.

Providers (:mod:`docket.models.openai_compat`, :mod:`docket.models.anthropic_messages`,
:mod:`docket.models.local`) import this module and register themselves in :data:`CHAT_MODELS`;
:mod:`docket.models.chat` builds one from a ``--model`` spec through the same registry. A provider
never imports the dispatcher that selects it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from docket.protocols import ChatModel
from docket.registry import Registry
from docket.types import Usage

__all__ = ["CHAT_MODELS", "Completion"]

CHAT_MODELS: Registry[ChatModel] = Registry("model provider", "docket.chat_models")


@dataclass(frozen=True)
class Completion:
    """What a model returned, with its usage and how long it took."""

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
