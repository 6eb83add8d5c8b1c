"""Structural defences against instructions planted in documents (prompt injection).

The prompt already says sources are data (:mod:`docket.answer.prompts`); these checks hold even for
a model that obeys whatever it reads:

- :func:`is_instruction` (:mod:`docket.answer.instructions`) recognises a sentence that instructs
  whoever reads or answers it, by what it does rather than by fixed phrases: it addresses an
  assistant or "whoever answers", says what an answer must contain, overrides another part of the
  text, sets a label or a field, or counterfeits system markup. Such a sentence is never evidence:
  extractive answers never quote it and a generated claim is never supported by it.
- :func:`clean_reply` makes a model's reply inert: Markdown images (which a renderer would fetch,
  sending data to their host) and HTML tags are removed, Markdown links keep only their label, and
  a bare URL survives only when the sources state it outside an instruction.
- :func:`injected_claim` names why a generated sentence follows a planted instruction: it repeats
  the system prompt (six words in a row), is itself an instruction, quotes a number that the sources give only inside an
  instruction, or repeats an instruction's words more closely than any statement of its sources.
  Such sentences are removed from the answer with a note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from docket.answer.instructions import is_instruction
from docket.index.keywords import query_terms
from docket.sentences import sentence_spans, words
from docket.types import Hit

__all__ = ["clean_reply", "injected_claim", "instruction_sentences", "is_instruction"]

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*[a-z][\w+.-]*:[^)]*\)", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-z][a-z0-9-]*(\s[^<>]*)?/?>", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|ftp|data|javascript):[^\s<>()\"']+", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
# how much of a claim's content words an instruction must hold for the claim to repeat it
_ECHO_SHARE = 0.6
_PROMPT_SHINGLE = 6  # words in a row shared with the system prompt that count as repeating it


def instruction_sentences(texts: Iterable[str]) -> list[str]:
    """The sentences of ``texts`` that :func:`is_instruction` recognises."""
    found: list[str] = []
    for text in texts:
        for start, end in sentence_spans(text):
            if is_instruction(text[start:end]):
                found.append(text[start:end])
    return found


def _factual_text(hits: list[Hit]) -> str:
    parts: list[str] = []
    for hit in hits:
        parts.extend(hit.text[s:e] for s, e in sentence_spans(hit.text) if not is_instruction(hit.text[s:e]))
    return "\n".join(parts)


def clean_reply(text: str, hits: list[Hit]) -> tuple[str, list[str]]:
    """``text`` with images, HTML tags, link targets and unknown URLs removed, and notes saying so."""
    notes: list[str] = []
    factual = _factual_text(hits)
    cleaned = _IMAGE.sub("", text)
    cleaned = _LINK.sub(lambda m: m.group(1), cleaned)
    cleaned = _HTML_TAG.sub("", cleaned)
    cleaned = _URL.sub(lambda m: m.group(0) if m.group(0).rstrip(".,;") in factual else "", cleaned)
    if cleaned != text:
        cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
        notes.append("removed images, links or markup from the model's answer that the sources do not give")
    return cleaned, notes


def _numbers(text: str) -> set[str]:
    found = set()
    for token in _NUMBER.findall(text):
        plain = token.replace(",", "")
        found.add(plain.rstrip("0").rstrip(".") if "." in plain else plain)
    return found


def _shingles(text: str) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i : i + _PROMPT_SHINGLE]) for i in range(len(tokens) - _PROMPT_SHINGLE + 1)}


def _coverage(terms: set[str], sentences: list[str]) -> float:
    if not terms or not sentences:
        return 0.0
    return max(len(terms & set(query_terms(s))) for s in sentences) / len(terms)


def injected_claim(claim: str, cited: list[Hit], hits: list[Hit], question: str = "", system: str = "") -> str | None:
    """Why ``claim`` (a generated sentence citing ``cited``) follows an instruction planted in the
    sources or the question, or None. ``system`` is the prompt's instructions, never to be repeated."""
    if system and _shingles(claim) & _shingles(system):
        return "it repeats Docket's instructions to the model"
    if is_instruction(claim):
        return "it is an instruction, not an answer"
    instructions = instruction_sentences([h.text for h in hits] + [question])
    if not instructions:
        return None
    factual = _factual_text(cited or hits)
    if _numbers(claim) & (_numbers(" ".join(instructions)) - _numbers(factual)):
        return "it quotes a number that the sources give only inside an instruction"
    terms = set(query_terms(claim))
    echo = _coverage(terms, instructions)
    facts = [factual[s:e] for s, e in sentence_spans(factual)]
    if echo >= _ECHO_SHARE and echo > _coverage(terms, facts):
        return "it repeats an instruction found in the sources"
    return None
