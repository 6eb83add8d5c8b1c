"""Generated answers whose citations are checked against the source text.

1. Retrieval evidence is scored first (the extractive scorer); below ``min_relevance`` Docket
   abstains without calling the model, so it is never asked to improvise.
2. The model gets :func:`~docket.answer.prompts.build_prompt`'s prompt.
3. Every ``[n]`` in the reply must name a source that was given; others are dropped.
4. Each sentence that cites is checked against its passages: it is *supported* when some
   sentence of a cited passage is close to it (the embedder's similarity blended with word
   coverage, as in extractive answers, at least ``min_support``). Unsupported sentences stay in
   the answer, their citation marked ``supported: false``, and a note says so.
5. A reply that is empty, or cites nothing although it does not abstain, is asked for once more;
   if it is still unusable, the extractive answer is returned with a note saying why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from docket.answer.extractive import ABSTAIN_TEXT, extractive_answer, score_sentences
from docket.answer.guard import clean_reply, injected_claim, withheld_notes, withhold
from docket.answer.prompts import Prompt, build_prompt
from docket.protocols import ChatModel, Embedder
from docket.sentences import sentence_spans
from docket.types import Answer, Citation, Hit, Usage

__all__ = ["check_citations", "claims", "grounded_answer"]

_CITE = re.compile(r"\[(\d{1,3})\]")
RETRY_REMINDER = (
    "Your previous answer did not cite the sources. Answer again: after every sentence that states "
    f"a fact, put its source number in square brackets, like [1]. If the sources do not contain the "
    f"answer, reply exactly: {ABSTAIN_TEXT}"
)


_LEADING_CITES = re.compile(r"(?:\s*\[\d{1,3}\])+")
_FILLER = re.compile(
    r"^\W*(this|that|it|which)?\s*(is|was|are)?\s*(as\s+)?(stated|mentioned|explained|described|shown|noted|"
    r"according|per|see)\b.{0,40}\b(source|sources|document|documents|passage)s?\W*$",
    re.IGNORECASE,
)


def claims(text: str) -> list[str]:
    """Sentences of an answer, each with its citation markers: those after its end (``... report [1].``)
    and those that open the next piece (``... report. [1] Next``, as extractive answers write them).
    A sentence that only points at a source ("This is stated in the source [1].") belongs to the
    sentence before it, which is the claim being cited."""
    out: list[str] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        lead = _LEADING_CITES.match(piece)
        if lead and out:
            out[-1] = f"{out[-1]} {lead.group(0).strip()}"
            piece = piece[lead.end() :].strip()
        bare = _CITE.sub("", piece).strip(" .,;")
        if bare and not (out and _FILLER.match(bare)):
            out.append(piece)
        elif piece and out:
            out[-1] = f"{out[-1]} {piece}"
    return out


def _abstains(text: str) -> bool:
    return ABSTAIN_TEXT.lower().rstrip(".") in text.lower()


def check_citations(
    text: str, hits: list[Hit], embedder: Embedder, min_support: float = 0.5, *, question: str = "", system: str = ""
) -> tuple[str, list[Citation], list[str]]:
    """Clean ``text`` of citations to unknown sources and check each cited sentence.

    Images, markup and unknown URLs are removed, and so is every sentence that follows an
    instruction planted in the sources or ``question`` or repeats ``system`` (the prompt's rules;
    see :mod:`docket.answer.guard`). Returns the cleaned text, one Citation per (sentence, source)
    pair, and notes for the user.
    """
    text, notes = clean_reply(text, hits)
    dropped = sorted({int(n) for n in _CITE.findall(text) if not 1 <= int(n) <= len(hits)})
    if dropped:
        notes.append(f"removed citations to sources that were not given: {', '.join(f'[{n}]' for n in dropped)}")
        text = _CITE.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= len(hits) else "", text)
        text = re.sub(r" +([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    citations: list[Citation] = []
    unsupported = 0
    kept: list[str] = []
    removed: dict[str, int] = {}
    for sentence in claims(text):
        numbers = list(dict.fromkeys(int(n) for n in _CITE.findall(sentence)))
        claim = _CITE.sub("", sentence).strip()
        found: list[Citation] = []
        for n in numbers:
            hit = hits[n - 1]
            best = score_sentences(claim, [hit], embedder)
            top = best[0] if best else None
            supported = top is not None and top.relevance >= min_support
            location = hit.location
            quote = hit.text
            if top is not None:
                quote = top.text
                if location.char_start is not None:
                    location = replace(
                        location, char_start=location.char_start + top.start, char_end=location.char_start + top.end
                    )
            found.append(
                Citation(
                    n=n,
                    path=hit.path,
                    location=location,
                    quote=quote,
                    supported=supported,
                    chunk_id=hit.chunk_id if hit.chunk_id >= 0 else None,
                )
            )
        cited = [hits[n - 1] for n in numbers]
        why = injected_claim(claim, cited, hits, question, system)
        if why is not None:
            removed[why] = removed.get(why, 0) + 1
            continue
        kept.append(sentence)
        citations.extend(found)
        unsupported += sum(not c.supported for c in found)
    if removed:
        text = " ".join(kept)
        notes.extend(f"removed {count} statement(s): {why}" for why, count in removed.items())
    if unsupported:
        notes.append(f"{unsupported} cited statement(s) could not be matched to their source; check them")
    return text, citations, notes


def grounded_answer(
    question: str,
    hits: list[Hit],
    model: ChatModel,
    embedder: Embedder,
    *,
    min_relevance: float = 0.5,
    min_support: float = 0.5,
    stream: Callable[[str], None] | None = None,
    on_prompt: Callable[[Prompt], None] | None = None,
    instructions: str = "",
    on_reply: Callable[[str], None] | None = None,
) -> Answer:
    """Answer with ``model`` from ``hits``, citations checked; abstain or fall back when needed.
    ``instructions`` are added to the prompt's rules (see :func:`build_prompt`)."""
    evidence = score_sentences(question, hits, embedder)
    best = evidence[0].relevance if evidence else 0.0

    def abstain(answered_by: str, usage: Usage) -> Answer:
        return Answer(
            question,
            ABSTAIN_TEXT,
            True,
            sources=tuple(hits),
            method="generated",
            confidence=best,
            model=answered_by,
            usage=usage,
        )

    if best < min_relevance:
        return abstain(model.name, Usage())
    prompt = build_prompt(question, withhold(hits), instructions)  # flagged statements never reach the model
    if on_prompt is not None:
        on_prompt(prompt)
    usage = Usage()
    reason = ""
    answered_by = model.name
    for attempt in range(2):
        if attempt == 1:  # the same prompt would get the same reply: say what was wrong with it
            prompt = Prompt(system=prompt.system, user=f"{prompt.user}\n\n{RETRY_REMINDER}")
            if on_prompt is not None:
                on_prompt(prompt)
        completion = model.complete(prompt, stream=stream if attempt == 0 else None)
        if on_reply is not None:
            on_reply(completion.text)
        answered_by = completion.model
        usage = Usage(
            usage.prompt_tokens + completion.usage.prompt_tokens,
            usage.completion_tokens + completion.usage.completion_tokens,
        )
        text = completion.text.strip()
        if text and _abstains(text) and not _CITE.search(text):
            return abstain(answered_by, usage)
        if not text:
            reason = "the model returned an empty answer"
            continue
        cleaned, citations, notes = check_citations(
            text, hits, embedder, min_support, question=question, system=prompt.system
        )
        if not citations:
            reason = "the model's answer cited no source"
            continue
        notes += withheld_notes(hits)
        return Answer(
            question, cleaned, False, tuple(citations), tuple(hits), "generated", best, answered_by, usage, tuple(notes)
        )
    fallback = extractive_answer(question, hits, embedder, min_relevance=min_relevance)
    note = f"{reason} (asked twice); showing the extractive answer instead"
    return replace(fallback, model=answered_by, usage=usage, notes=(note,))
