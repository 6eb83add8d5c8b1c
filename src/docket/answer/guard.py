"""Structural defences against instructions planted in documents (prompt injection).

The prompt already says sources are data (:mod:`docket.answer.prompts`); these checks hold even for
a model that obeys whatever it reads:

- :func:`is_instruction` recognises a sentence that addresses an AI system ("ignore previous
  instructions", "reveal your system prompt", ``[system]`` blocks, fake ``<source>`` tags). Such a
  sentence is never evidence: extractive answers never quote it and a generated claim is never
  supported by it.
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

from docket.index.keywords import query_terms
from docket.sentences import sentence_spans, words
from docket.types import Hit

__all__ = ["clean_reply", "injected_claim", "instruction_sentences", "is_instruction"]

_INSTRUCTION = re.compile(
    r"|".join(
        [
            r"\b(ignore|disregard|forget|override)\b[\w\s,]{0,30}\b(previous|prior|above|earlier|preceding|"
            r"all|any|your|the)\b[\w\s]{0,20}\b(instructions?|rules|prompts?|directions|guidelines)\b",
            r"\bsystem\s+(prompt|message|instructions?)\b",
            r"\b(reveal|print|repeat|output|show|disclose)\b[\w\s]{0,20}\b(prompt|instructions)\b",
            r"</?\s*source\b",
            r"^\W*\[?\s*(system|assistant|developer)\s*[\]:]",
            r"\b(note|message|instructions?)\s+(to|for)\s+(the\s+)?(ai|assistants?|models?|llms?|chatbots?|bots?)\b",
            r"\b(ai|assistants?|chatbots?|language\s+models?|llms?)\b[\w\s,]{0,20}\b(reading|processing|"
            r"answering|summari[sz]ing|must|should|are\s+instructed)\b",
            r"\byou\s+are\s+now\s+(an?\s+)?(ai|assistant|chatbot|model|dan|in\s+developer\s+mode|unrestricted)\b",
            r"\bnew\s+instructions?\b",
            r"\bwhen\s+(you\s+)?(answer|reply|respond)(ing)?\b[\w\s,]{0,40}\b(say|state|tell|write|append|include|add)\b",
            r"\b(say|reply|respond|answer|state)\s+(only\s+|exactly\s+)?(that|with)\b[\w\s]{0,10}"
            r"\b(refund|total|price|amount|discount|escalat\w*|priority|category)\b",
            r"\bset\s+(the\s+)?[\w\s]{0,15}\b(escalate|priority|category|sentiment|total|field)\b[\w\s]{0,10}\bto\b",
        ]
    ),
    re.IGNORECASE | re.MULTILINE,
)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*[a-z][\w+.-]*:[^)]*\)", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-z][a-z0-9-]*(\s[^<>]*)?/?>", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|ftp|data|javascript):[^\s<>()\"']+", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
# how much of a claim's content words an instruction must hold for the claim to repeat it
_ECHO_SHARE = 0.6
_PROMPT_SHINGLE = 6  # words in a row shared with the system prompt that count as repeating it


def is_instruction(sentence: str) -> bool:
    """Whether ``sentence`` addresses an AI system instead of stating something about the business."""
    return _INSTRUCTION.search(sentence) is not None


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
