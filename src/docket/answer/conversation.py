"""Follow-up questions in a chat, rewritten into standalone questions before retrieval.

"And for part-timers?" means nothing to a search engine; after "How many weeks of parental
leave do we offer?" it means "How many weeks of parental leave do part-timers get?". Retrieval
and answering therefore run on a *standalone* question:

- with a model, :func:`build_rewrite_prompt` asks it to rewrite the follow-up using the recent
  turns (the prompt is a value, shown by ``--show-prompt`` and logged with the answer);
- without one, a follow-up (a short message, or one that starts with "and", "what about", or
  leans on "it"/"they"/"that"...) is joined to the previous standalone question, which keeps the
  topic's words in the query; a message that stands on its own is used as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from docket.models.prompts import Prompt
from docket.protocols import ChatModel
from docket.sentences import words
from docket.types import Usage

__all__ = ["REWRITE_SYSTEM_PROMPT", "Turn", "build_rewrite_prompt", "is_follow_up", "standalone_question"]

REWRITE_SYSTEM_PROMPT = """You rewrite the user's latest message in a conversation about a business's documents
into one standalone question that can be understood without the conversation.
Rules:
- Keep the user's meaning, language and wording; resolve words like "it", "they", "that" and
  elliptical questions ("and for part-timers?") from the earlier turns.
- If the message already stands on its own, return it unchanged.
- Reply with the question only: no quotes, no explanation, no answer."""

# How many earlier turns the rewrite sees; older ones rarely matter and cost tokens.
HISTORY_TURNS = 4

_CONNECTIVES = re.compile(
    r"^\s*(and|or|but|also|so|then|what about|how about|what if|same for|even|except|only)\b", re.IGNORECASE
)
_REFERENCES = {"it", "its", "they", "them", "their", "that", "this", "those", "these", "he", "she", "there", "one"}
_STOP = {"what", "how", "is", "are", "the", "a", "an", "for", "of", "to", "do", "does", "we", "i", "in", "on", "about"}


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the user's question as asked, the standalone question it became, and
    the answer given."""

    question: str
    query: str
    answer: str


def is_follow_up(message: str) -> bool:
    """Does ``message`` lean on earlier turns (for the rewrite without a model)?"""
    tokens = words(message)
    content = [t for t in tokens if t not in _STOP and t not in _REFERENCES]
    return bool(_CONNECTIVES.match(message)) or any(t in _REFERENCES for t in tokens) or len(content) <= 2


def build_rewrite_prompt(message: str, history: Sequence[Turn]) -> Prompt:
    """The prompt that turns ``message`` into a standalone question, given the recent turns."""
    lines = []
    for turn in history[-HISTORY_TURNS:]:
        lines.append(f"User: {turn.question.strip()}")
        lines.append(f"Assistant: {_shorten(turn.answer)}")
    conversation = "\n".join(lines)
    user = f"Conversation so far:\n{conversation}\n\nLatest message: {message.strip()}\n\nStandalone question:"
    return Prompt(system=REWRITE_SYSTEM_PROMPT, user=user)


def standalone_question(
    message: str,
    history: Sequence[Turn],
    model: ChatModel | None = None,
    on_prompt: Callable[[Prompt], None] | None = None,
) -> tuple[str, Usage]:
    """The question to search and answer for ``message``, and the tokens the rewrite used."""
    if not history:
        return message.strip(), Usage()
    if model is None:
        if not is_follow_up(message):
            return message.strip(), Usage()
        return f"{history[-1].query.strip()} {message.strip()}", Usage()
    prompt = build_rewrite_prompt(message, history)
    if on_prompt is not None:
        on_prompt(prompt)
    completion = model.complete(prompt)
    rewritten = _clean(completion.text)
    # a reply that is empty or rambles is not a question: keep the heuristic instead
    if not rewritten or len(rewritten) > 3 * len(message) + 200:
        rewritten = standalone_question(message, history)[0]
    return rewritten, completion.usage


def _clean(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else ""
    text = re.sub(r"^(standalone question|question|rewritten)\s*:\s*", "", text, flags=re.IGNORECASE)
    return text.strip().strip("\"'“”").strip()


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
