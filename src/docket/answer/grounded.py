"""Generated answers, held to their sources.

1. The model always sees the evidence and decides with it: it reads the retrieved passages,
   widened to the sections around them within ``context_tokens`` (:func:`~docket.answer.context.widen`),
   each labelled with its document, and answers or replies that the documents do not say
   (:func:`~docket.models.prompts.build_prompt`). Nothing is decided before it.
2. Every ``[n]`` in the reply must name a source that was given; others are dropped.
3. Each sentence of the reply is a claim, checked against its sources:
   - a claim without ``[n]`` is attributed to the source whose sentence supports it best — a
     reply is never thrown away for lacking markers;
   - it is *supported* when some sentence of a cited source is close to it (the embedder's
     similarity blended with word coverage, at least ``min_support``);
   - every figure it states must appear in a cited source or come from a calculation it shows
     whose figures do (:mod:`docket.answer.numbers`);
   - a claim that follows an instruction planted in the sources is removed (:mod:`docket.answer.guard`).
   A claim that is not supported, or states a figure the sources do not give, stays in the
   answer marked ``(unverified)``, is listed in ``Answer.unsupported`` and its citations carry
   ``supported: false`` — it is never shown as plain fact.
4. Citations are numbered 1..n in the order they are first used (sources reordered to match).
5. An empty reply is asked for once more; if nothing usable comes back, the extractive answer is
   returned with a note saying why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from docket.answer.evidence import SEMANTIC_WEIGHT, _coverage, sentence_vectors
from docket.answer.extractive import ABSTAIN_TEXT, cite, extractive_answer
from docket.answer.guard import clean_reply, hit_flags, injected_claim, withheld_notes, withhold
from docket.answer.numbers import unsupported_numbers
from docket.index.keywords import query_terms
from docket.ledger import Store
from docket.models.prompts import Prompt, build_prompt
from docket.protocols import ChatModel, Embedder
from docket.sentences import sentence_spans
from docket.types import Answer, Citation, Hit, SentenceVectors, Usage

__all__ = ["UNVERIFIED", "Checked", "check_citations", "claims", "grounded_answer"]

_CITE = re.compile(r"\[(\d{1,3})\]")
UNVERIFIED = "(unverified)"
RETRY_REMINDER = (
    "Your previous answer was empty. Answer again: after every sentence that states a fact, put its "
    f"source number in square brackets, like [1]. If the sources do not contain the answer, reply exactly: "
    f"{ABSTAIN_TEXT}"
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


_END = re.compile(r"(?P<marks>(?:\s*\[\d{1,3}\])*)(?P<end>[.!?]?)(?P<tail>[\s\"')\]]*)$")


def _before_end(sentence: str, addition: str, before_marks: bool = False) -> str:
    """``sentence`` with ``addition`` put before its final punctuation (and, with ``before_marks``,
    before its closing citation markers): "… notice [1]." -> "… notice (unverified) [1]."."""
    match = _END.search(sentence)
    if match is None:  # pragma: no cover - the pattern matches every string
        return sentence + addition
    head = sentence[: match.start()]
    marks, end, tail = match.group("marks"), match.group("end"), match.group("tail")
    if before_marks:
        return f"{head.rstrip()}{addition}{marks}{end}{tail}"
    return f"{head.rstrip()}{marks}{addition}{end}{tail}"


def _segments(piece: str, claim: str) -> list[tuple[str, list[int]]]:
    """The parts of a claim and the sources each part cites: the text before each group of markers
    (the whole claim when there is one group, or the part is too short to stand alone)."""
    groups = list(re.finditer(r"(?:\s*\[\d{1,3}\])+", piece))
    out: list[tuple[str, list[int]]] = []
    previous = 0
    for group in groups:
        marks = [int(n) for n in _CITE.findall(group.group(0))]
        part = piece[previous : group.start()].strip(" ,;:")
        text = claim if len(groups) == 1 or len(part.split()) < 3 else part
        out.append((text, list(dict.fromkeys(marks))))
        previous = group.end()
    return out


def _abstains(text: str) -> bool:
    return ABSTAIN_TEXT.lower().rstrip(".") in text.lower()


@dataclass(frozen=True)
class Checked:
    """A reply after the checks: its text (unsupported claims marked), citations, notes, and the
    claims that could not be verified."""

    text: str
    citations: tuple[Citation, ...]
    notes: tuple[str, ...]
    unsupported: tuple[str, ...]
    sources: tuple[Hit, ...]


class _Support:
    """The sentences of the sources with their vectors, to match claims against."""

    def __init__(self, hits: Sequence[Hit], embedder: Embedder, store: Store | None) -> None:
        self.hits = list(hits)
        self.embedder = embedder
        self.vectors: list[SentenceVectors] = sentence_vectors(store, embedder, self.hits)
        self.flags = hit_flags(self.hits)

    def best(self, claim: str, n: int, vector: np.ndarray) -> tuple[float, int, int, str]:
        """The best sentence of source ``n`` (1-based) for ``claim``: (relevance, start, end, text)."""
        hit, sv = self.hits[n - 1], self.vectors[n - 1]
        if not sv.spans:
            return 0.0, 0, len(hit.text), hit.text
        floor = float(getattr(self.embedder, "similarity_floor", 0.0))
        sims = np.clip((sv.vectors @ vector - floor) / (1.0 - floor), 0.0, 1.0)
        terms = set(query_terms(claim))
        best = (-1.0, 0, 0, "")
        for k, (a, b) in enumerate(sv.spans):
            text = hit.text[a:b]
            if any(f.start < b and a < f.end for f in self.flags[n - 1]):
                continue  # a planted instruction or a revising claim never supports a claim
            score = SEMANTIC_WEIGHT * float(sims[k]) + (1 - SEMANTIC_WEIGHT) * _coverage(terms, text)
            if score > best[0]:
                best = (score, a, b, text)
        return best if best[0] >= 0 else (0.0, 0, len(hit.text), hit.text)


def check_citations(
    text: str,
    hits: list[Hit],
    embedder: Embedder,
    min_support: float = 0.5,
    *,
    question: str = "",
    system: str = "",
    store: Store | None = None,
    documents: Sequence[str] = (),
) -> tuple[str, list[Citation], list[str]]:
    """Clean ``text`` and check each claim (see the module docstring); returns the checked text,
    one Citation per (claim, source) pair, and notes for the user. Sources keep their numbers."""
    checked = _check(text, hits, embedder, min_support, question, system, store, documents, renumber=False)
    return checked.text, list(checked.citations), list(checked.notes)


def _check(
    text: str,
    hits: Sequence[Hit],
    embedder: Embedder,
    min_support: float,
    question: str,
    system: str,
    store: Store | None,
    documents: Sequence[str],
    *,
    renumber: bool = True,
) -> Checked:
    hits = list(hits)
    text, notes = clean_reply(text, hits)
    dropped = sorted({int(n) for n in _CITE.findall(text) if not 1 <= int(n) <= len(hits)})
    if dropped:
        notes.append(f"removed citations to sources that were not given: {', '.join(f'[{n}]' for n in dropped)}")
        text = _CITE.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= len(hits) else "", text)
        text = re.sub(r" +([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    # "… notice. [1]" -> "… notice [1].": a claim's markers before its final punctuation
    # (for checking; a claim that passes its check is shown as the model wrote it, so a streamed
    # reply stays a prefix of the checked answer)
    written = claims(text)
    pieces = [re.sub(r"([.!?])((?:\s*\[\d{1,3}\])+)\s*$", r"\2\1", p) for p in written]
    support = _Support(hits, embedder, store)
    bare = [re.sub(r"\s+([.,;:!?])", r"\1", _CITE.sub("", p)).strip() for p in pieces]
    vectors = embedder.embed_queries(bare) if bare else np.zeros((0, embedder.dim), dtype=np.float32)
    kept: list[tuple[str, list[int], bool]] = []  # (the claim as written, its sources, verified)
    found: list[Citation] = []
    removed: dict[str, int] = {}
    unsupported: list[str] = []
    attributed = 0
    for as_written, piece, claim, vector in zip(written, pieces, bare, vectors, strict=True):
        numbers = list(dict.fromkeys(int(n) for n in _CITE.findall(piece)))
        if not numbers and hits:  # no marker: attribute the claim to the source that supports it best
            score, n = max((support.best(claim, n, vector)[0], n) for n in range(1, len(hits) + 1))
            if score >= min_support:
                numbers = [n]
                piece = _before_end(piece, f" [{n}]")
                attributed += 1
        cited = [hits[n - 1] for n in numbers]
        why = injected_claim(claim, cited, hits, question, system)
        if why is not None:
            removed[why] = removed.get(why, 0) + 1
            continue
        citations = []
        verified = bool(numbers)
        for segment, marks in _segments(piece, claim):
            # "Beta requires 90 days [3] while Gamma requires 30 days [6]": each part is held to its own source
            segment_vector = vector if segment == claim else embedder.embed_queries([segment])[0]
            held = False
            for n in marks:
                relevance, start, end, quote = support.best(segment, n, segment_vector)
                document = documents[n - 1] if n - 1 < len(documents) else ""
                ok = relevance >= min_support
                held = held or ok
                citations.append(replace(cite(n, hits[n - 1], start, end, quote, document), supported=ok))
            verified = verified and held
        missing = unsupported_numbers(claim, [h.text for h in cited])
        if missing:
            verified = False
            citations = [replace(c, supported=False) for c in citations]
            notes.append(f"figures not found in the cited sources: {', '.join(missing)}")
        kept.append((as_written if verified and _CITE.findall(as_written) else piece, numbers, verified))
        found.extend(citations)
        if not verified:
            unsupported.append(claim)
    if removed:
        notes.extend(f"removed {count} statement(s): {why}" for why, count in removed.items())
    if attributed:
        notes.append(f"{attributed} statement(s) had no source number; matched to the source that supports them")
    if unsupported:
        notes.append(f"{len(unsupported)} statement(s) could not be matched to the sources: marked {UNVERIFIED}")
    # numbering: 1..n by first use (or as given), markers rewritten in place
    order = list(dict.fromkeys(n for _, numbers, _ in kept for n in numbers)) if renumber else []
    mapping = {old: new for new, old in enumerate(order, start=1)}
    sources = tuple(hits[n - 1] for n in order) + tuple(h for i, h in enumerate(hits, 1) if i not in mapping)
    parts = []
    for piece, _, verified in kept:
        piece = _CITE.sub(lambda m: f"[{mapping.get(int(m.group(1)), int(m.group(1)))}]", piece)
        parts.append(piece if verified else _before_end(piece, f" {UNVERIFIED}", before_marks=True))
    numbered = tuple(replace(c, n=mapping.get(c.n, c.n)) for c in found)
    return Checked(" ".join(parts), numbered, tuple(notes), tuple(unsupported), sources if renumber else tuple(hits))


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
    store: Store | None = None,
    documents: Sequence[str] = (),
    context_tokens: int = 0,
    count_tokens: Callable[[str], int] | None = None,
) -> Answer:
    """Answer with ``model`` from ``hits`` (widened to their sections when ``store`` and
    ``context_tokens`` are given), every claim checked; ``documents`` label the hits' documents."""
    from docket.answer.context import widen
    from docket.answer.evidence import gather

    labels = {h.doc_id: documents[i] for i, h in enumerate(hits) if i < len(documents)}
    evidence = gather(question, hits, embedder, store=store, labels=documents)
    sources = evidence.named_hits()
    if store is not None and context_tokens > 0 and count_tokens is not None:
        sources = widen(sources, store, context_tokens, count_tokens)
    source_labels = [labels.get(h.doc_id, "") for h in sources]

    def abstain(answered_by: str, usage: Usage, notes: tuple[str, ...] = ()) -> Answer:
        return Answer(
            question,
            ABSTAIN_TEXT,
            True,
            sources=tuple(hits),
            method="generated",
            confidence=evidence.confidence,
            model=answered_by,
            usage=usage,
            notes=notes,
        )

    if not sources:
        return abstain(model.name, Usage())
    # flagged statements never reach the model
    prompt = build_prompt(question, withhold(sources), instructions, source_labels)
    if on_prompt is not None:
        on_prompt(prompt)
    usage = Usage()
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
        if not text:
            continue
        if _abstains(text) and not _CITE.search(text):
            return abstain(answered_by, usage)
        checked = _check(text, sources, embedder, min_support, question, prompt.system, store, source_labels)
        if not checked.citations and evidence.confidence >= min_relevance:
            break  # nothing in the reply could be matched to a source, but the sources do answer
        if not checked.text:
            break
        return Answer(
            question,
            checked.text,
            False,
            checked.citations,
            checked.sources,
            "generated",
            evidence.confidence,
            answered_by,
            usage,
            checked.notes + tuple(withheld_notes(sources)),
            unsupported=checked.unsupported,
        )
    reason = (
        "the model returned an empty answer" if not text else "the model's answer could not be matched to the sources"
    )
    fallback = extractive_answer(question, list(hits), embedder, min_relevance=min_relevance, evidence=evidence)
    return replace(
        fallback,
        model=answered_by,
        usage=usage,
        notes=(f"{reason}; showing the extractive answer instead", *fallback.notes),
    )
