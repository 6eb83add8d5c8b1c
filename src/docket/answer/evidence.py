"""The evidence for one question: the retrieved passages cut into sentences and table rows,
each scored once, that every kind of answer chooses from and every check verifies against.

:func:`gather` takes the hits a (scoped) search returned and builds :class:`Evidence`:

- **units** — the sentences of prose and the rows of tables (:func:`docket.sentences.unit_spans`),
  with their vectors from ingest (:class:`~docket.types.SentenceVectors`, kept by chunk hash).
  Passages indexed before those existed get theirs computed once here and kept.
- **flags** — a unit that instructs whoever answers instead of stating something, or a claim that
  revises another statement of its document (:func:`docket.answer.guard.hit_flags`), is never
  evidence; it stays listed as flagged.
- **scores** — relevance is the cosine between the question and the unit (rescaled above the
  embedder's floor) blended with the share of the question's words the unit contains; then the
  unit is weighed by what the question asks for (:func:`question_kind`): a question for an amount
  prefers units that state one, a date question units with a date, and so on; a table row whose
  label matches the question's words is preferred for figures; a sentence that names only years the
  question does not ask about ranks lower. Units of the best-ranked passages
  get a small lift: retrieval saw the whole passage. When the best passage belongs to a long
  document, units are ranked by their cosine to what the question asks once the words that only
  say which document it is about are taken out (:func:`asked_part`): "How many people were killed
  when the Cessna 172 crashed near Boquete, Panama?" is answered by "Injuries: 3 Fatal, 1 Serious",
  not by the report's opening sentence that repeats the aircraft and the place.
- **labels** — each passage's document label (profile, else title), so answers can say which
  document every statement comes from.

``Evidence.confidence`` is what abstention is decided on: the best unit's score, lowered when
its document lacks words the question uses (``covered``: a question about a study the knowledge
base does not hold finds a similar study's sentences close, but not its words).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from docket.answer.contradictions import is_reference
from docket.answer.figures import HEADER_YEAR
from docket.answer.guard import hit_flags
from docket.errors import NotFoundError
from docket.index.keywords import STOPWORDS, query_terms
from docket.ledger import Store
from docket.protocols import Embedder
from docket.sentences import CELL_SEPARATOR, is_table_text, sentence_spans, unit_spans, words
from docket.types import Hit, SentenceVectors

__all__ = [
    "Evidence",
    "Unit",
    "asked_terms",
    "asked_years",
    "confidence",
    "gather",
    "holds",
    "other_years",
    "question_kind",
    "vocabulary",
]

SEMANTIC_WEIGHT = 0.7  # of relevance; the rest is word coverage (TAT-QA text spans, dev: see bench/RESULTS.md)
_KIND_WEIGHT = 0.1  # lift of a unit that holds what the question asks for (an amount, a date...)
_NEW_WEIGHT = 0.2  # lift of a unit by the share of its words the question does not have: an answer adds something
_NAMES_WEIGHT = 0.3  # fall of every unit of a document that lacks the names the question uses
_NAMED_SHARE = 0.5  # a model is not shown documents with this share or less of the question's names
_ROW_NOVELTY = 0.6  # chosen on TAT-QA dev rows and the multidoc dev split (bench/answer_units.py)
# fall of a sentence that names only years the question does not ask about (TAT-QA dev half 0.567 ->
# 0.583, one question; multidoc dev and FinanceBench dev unchanged at 0.05 to 0.2: bench/answers.py)
_YEAR_WEIGHT = 0.1
_RANK_WEIGHT = 0.04  # lift of the units of the best passage, falling with the passage's rank
_MIN_UNIT_CHARS = 12
# A long document opens by saying what it is about (a title page, a report's summary line): the
# question's words found there locate the document, and the rest of the question (what it asks)
# ranks the document's units (:func:`asked_part`). Chosen on the multidoc dev split with the bank FAQ
# and TAT-QA dev halves unchanged (their passages are short): bench/calibrate.py.
_OPENING_CHARS = 400
_LONG_DOCUMENT = 3000
# fall of the confidence by the share of the question's words the answering document lacks; chosen
# with answer.min_relevance on the dev halves of three sets (bench/calibrate.py --uncovered)
_UNCOVERED_WEIGHT = 0.8

_NUMBER = re.compile(
    r"(?<![\w.])[$€£¥]?\s?\(?-?\d[\d,]*(?:\.\d+)?\)?\s?(?:%|percent|million|billion|thousand|[kmb]n?\b)?"
)
_AMOUNT = re.compile(r"[$€£¥]?\(?\d[\d,]*(?:\.\d+)?\)?\s?(?:%|percent\b|million\b|billion\b|thousand\b)?")
_DATE = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b(?:19|20)\d\d\b|"
    r"\b\d{4}-\d\d-\d\d\b",
    re.IGNORECASE,
)
_CLOCK = re.compile(
    r"\b\d{1,2}:\d\d(?::\d\d)?\s*(?:[ap]\.?m\.?)?|\b\d{3,4}\s*(?:UTC|GMT|Z|[ECMPA][SD]T|local)\b|\b\d{1,2}\s*[ap]\.?m\.?(?!\w)",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:[A-Z][a-z]+|&|of|and|de|van|von))*\s+[A-Z][a-z]+\b|\b[A-Z]{2,}\b")

# What a question asks for, read from how it starts ("How old was the pilot who…" asks for an amount,
# though a "who" follows; "What was the visibility when…" is no date question).
_LEAD = re.compile(r"^\W*(?:(?:and|but|so|also|then|please|tell me|i want to know|do you know)\W+)*", re.IGNORECASE)
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        (
            "amount",
            r"^how\s+(much|many|long|often|far|large|big|high|low|old|tall|heavy|wide|deep|fast|soon)\b|"
            r"^(what|which)\s+(is|was|were|are)\s+(the\s+)?([\w'’&.-]+\s+){0,3}(amount|total|number|count|price|cost|fee|"
            r"rate|ratio|percentage|share|margin|revenue|sales|income|expenses?|expenditure|value|balance|limit|"
            r"salary|budget|duration|size|age|length|weight|dose|dosage)\b|^(what|which)\s+([\w'’&.-]+\s+){0,2}"
            r"(amount|total|number|percentage|ratio)\b",
        ),
        (
            "date",
            r"^when\b|^(what|which)\s+(is\s+|was\s+|were\s+|are\s+)?(the\s+)?(\w+\s+){0,2}(date|day|year|"
            r"month|time|deadline)\b|^(on|by)\s+what\s+date\b",
        ),
        (
            "name",
            r"^who\b|^whom\b|^whose\b|^(what|which)\s+(is\s+|was\s+)?(the\s+)?(name|company|person|firm|"
            r"vendor|supplier|organi[sz]ation|sponsor|airline|manufacturer|hospital|agency|authority)\b",
        ),
        ("yesno", r"^(is|are|was|were|does|do|did|has|have|had|can|could|should|will|would|may|must)\b"),
        ("procedure", r"^how\s+(do|can|should|to|does|did|would)\b|^what\s+(steps|should)\b"),
        ("list", r"^(what|which)\s+are\b|^list\b|^(what|which)\s+\w+\s+are\b|^name\s+(the|all)\b"),
    )
)


def question_kind(question: str) -> str:
    """What ``question`` asks for, from how it starts: amount, date, name, yesno, procedure, list, or text."""
    head = _LEAD.sub("", question.strip())
    for kind, pattern in _KINDS:
        if pattern.search(head):
            return kind
    return "text"


def holds(kind: str, text: str, question: str = "") -> bool | None:
    """Whether a unit holds what a question of ``kind`` asks for — an amount, a date, a name the
    question does not already give; None when that can't be told."""
    pattern = {"amount": _AMOUNT, "date": _DATE, "name": _NAME}.get(kind)
    if pattern is None:
        return None
    if kind == "amount":  # "Date & Time: 12/23/2007, 1200 CST" states when, not how many
        text = _CLOCK.sub(" ", _DATE.sub(" ", text))
    asked = question.lower()
    return any(m.group(0).strip().lower() not in asked for m in pattern.finditer(text))


_FOCUS = re.compile(
    r"\b(?:how\s+many|how\s+much|number\s+of|amount\s+of|total\s+of)\s+"
    r"(?:(?:total|different|new|additional|more|other|separate|individual|full|the)\s+)*(\w{3,})",
    re.IGNORECASE,
)


def _counted(question: str) -> str | None:
    """What an amount question counts ("How many patients…" -> "patie"), as a crude stem."""
    match = _FOCUS.search(question)
    return match.group(1).lower()[:5] if match else None


def _counts(text: str, stem: str) -> bool:
    """Whether ``text`` states a number of ``stem`` ("100 patients", "a total of 15 participants")."""
    return re.search(rf"\d[\d,.]*\s+(?:\w+\s+){{0,2}}{re.escape(stem)}", text, re.IGNORECASE) is not None


_ENTITY_WEIGHT = 0.35  # a name the question repeats locates the document; the other words find the answer
_ALPHA_WORD = re.compile(r"[A-Za-z]{2,}")


_PART = re.compile(r"[^\W_]+", re.UNICODE)


def vocabulary(text: str) -> set[str]:
    """The lower-cased words of ``text`` as a question's terms are cut (:func:`query_terms`): a
    hyphenated word also counts as its parts and as its beginnings, so "AT-401" in a report uses the
    "401" of "the Air Tractor AT-401", and "PA-28-140" the "pa", "28", "140" and "pa-28" of "the
    Piper PA-28" (a PA-28-140 is a PA-28; a PA-31T is not)."""
    out: set[str] = set()
    for w in words(text):
        out.add(w)
        if "-" in w or "'" in w or "’" in w:
            out.update(_PART.findall(w))
            pieces = w.split("-")
            out.update("-".join(pieces[:n]) for n in range(2, len(pieces)))
    return out


def _coverage(terms: set[str], text: str, names: frozenset[str] = frozenset()) -> float:
    """The share of the question's words in ``text``; words of the names it uses weigh less."""
    if not terms:
        return 0.0
    present = set(words(text))
    stems = {w[:5] for w in present}  # a crude stem: "weeks" matches "week", "offered" "offer"
    total = found = 0.0
    for t in terms:
        weight = _ENTITY_WEIGHT if t in names else 1.0
        total += weight
        if t in present or t[:5] in stems:
            found += weight
    return found / total


def _question_parts(question: str) -> list[str]:
    """A question's lines, each cut into sentences as documents are ("Vance W. Amory Airport" is one)."""
    return [line[a:b] for line in question.splitlines() for a, b in sentence_spans(line)]


def question_names(question: str) -> frozenset[str]:
    """Words of the names a question uses (capitalised past the start of a sentence or line, or with
    digits: "Beech A23", "Stovepipe Wells", "Vance W. Amory"), lower-cased: they say which document,
    not what to answer."""
    names: set[str] = set()
    for part in _question_parts(question):
        tokens = re.findall(r"[\w'’-]+", part)
        for k, token in enumerate(tokens):
            lowered = token.lower()
            if lowered in STOPWORDS or (token.isupper() and len(token) > 4 and token.isalpha()):
                continue  # "THIRD time I ask": shouting, not a name (acronyms are short: NTSB, CVS)
            if (k > 0 and token[:1].isupper()) or any(c.isdigit() for c in token):
                names.update(vocabulary(lowered))  # "PA-28-140" also as "pa", "28", "140"
    return frozenset(names)


def _novelty(text: str, asked: set[str]) -> float:
    """The share of the unit's words (of three letters or more) that the question does not use."""
    content = [w for w in words(text) if len(w) > 2]
    return sum(1 for w in content if w not in asked) / len(content) if content else 0.0


def _quality(text: str, row: bool) -> float:
    """A lift below zero for units that are no statement: reference lists, stray numbers."""
    if row:
        return 0.0
    if is_reference(text):
        return -0.15
    if _is_heading(text):
        return -0.2
    return -0.1 if len(_ALPHA_WORD.findall(text)) < 3 else 0.0


def _is_heading(text: str) -> bool:
    """Title lines and nothing else ("Notes to Condensed Consolidated Financial Statements / Note 1 -
    Nature of Operations"): short lines, none ending a sentence, most words capitalised."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or any(len(line.split()) > 12 or line.endswith((".", "?", "!", ";", ":")) for line in lines):
        return False
    if any(re.search(r"\w:\s+\S", line) for line in lines):
        return False  # "Operator: SOILSERV INC" is a form field, a value
    long_words = [w for w in _ALPHA_WORD.findall(text) if len(w) > 3]
    return bool(long_words) and sum(w[0].isupper() for w in long_words) / len(long_words) >= 0.7


@dataclass(frozen=True)
class Unit:
    """One sentence or table row of a retrieved passage, scored for the question."""

    hit: int  # index into Evidence.hits
    start: int  # offsets into the passage's text
    end: int
    text: str
    row: bool  # a table row ("a | b | c")
    semantic: float
    coverage: float
    score: float
    instruction: bool = False
    strength: float | None = None  # the score for the whole question, when ranked by what it asks

    @property
    def support(self) -> float:
        """How well the unit answers the whole question (its score, unless ranked otherwise)."""
        return self.score if self.strength is None else self.strength

    @property
    def relevance(self) -> float:
        """Cosine and word coverage blended, before what the question asks for is weighed."""
        return SEMANTIC_WEIGHT * self.semantic + (1 - SEMANTIC_WEIGHT) * self.coverage


@dataclass(frozen=True)
class Evidence:
    question: str
    hits: tuple[Hit, ...]
    units: tuple[Unit, ...]  # evidence, best first
    flagged: tuple[Unit, ...] = ()  # units that address the reader or an AI: never evidence
    labels: tuple[str, ...] = ()  # each hit's document label
    kind: str = "text"
    header: Mapping[int, str] = field(default_factory=dict)  # a table hit's header row, by hit index
    named: Mapping[str, float] = field(default_factory=dict)  # by document: the share of the question's names in it
    covered: Mapping[str, float] = field(default_factory=dict)  # by document: the share of the question's words in it

    @property
    def confidence(self) -> float:
        """What abstention is decided on: the best unit's confidence (:func:`confidence`) — of the units
        of the answering document, the one that best supports the whole question — less
        ``_UNCOVERED_WEIGHT`` times the share of the question's words its document never uses. A
        sentence can be close to the question while its document is about something else ("Who
        sponsors the semaglutide obesity trial?" against a document that never says semaglutide)."""
        if not self.units:
            return 0.0
        doc = self.hits[self.units[0].hit].doc_id
        best = max(u.support for u in self.units if self.hits[u.hit].doc_id == doc)
        covered = self.covered.get(doc, 1.0)
        return max(0.0, confidence(best) - _UNCOVERED_WEIGHT * (1.0 - covered))

    def label(self, hit: int) -> str:
        return self.labels[hit] if hit < len(self.labels) and self.labels[hit] else self.hits[hit].title

    def named_hits(self) -> list[Hit]:
        """The hits without the passages of documents that lack most of the names the question uses,
        when another document has them all: "the Beech A23 that nosed down in Death Valley" is about
        the report that says Death Valley, and a model shown a neighbouring report quotes its figures."""
        if not self.named or max(self.named.values()) < 1.0:
            return list(self.hits)  # no document has them all (a comparison, or names spelt otherwise)
        return [h for h in self.hits if self.named.get(h.doc_id, 0.0) > _NAMED_SHARE]


def _stored(store: Store | None, embedder: Embedder, hits: Sequence[Hit]) -> dict[str, SentenceVectors]:
    if store is None:
        return {}
    return store.ledger.sentence_vectors(embedder.name, embedder.dim, [h.chunk_hash for h in hits if h.chunk_hash])


def _computed(embedder: Embedder, hits: Sequence[Hit]) -> list[SentenceVectors]:
    """Sentence vectors for passages that have none kept: pooled from one run over each passage
    (as at ingest) where the embedder can, else each unit embedded with its passage's title."""
    spans = [unit_spans(h.text) for h in hits]
    with_spans = getattr(embedder, "embed_with_spans", None)
    if with_spans is not None:
        texts = [f"{h.title}\n{h.text}" if h.title else h.text for h in hits]
        offsets = [len(t) - len(h.text) for t, h in zip(texts, hits, strict=True)]
        shifted = [[(a + o, b + o) for a, b in s] for s, o in zip(spans, offsets, strict=True)]
        _, parts = with_spans(texts, shifted)
        return [SentenceVectors.of(s, p) for s, p in zip(spans, parts, strict=True)]
    flat = [
        f"{h.title}: {h.text[a:b]}" if h.title else h.text[a:b] for h, s in zip(hits, spans, strict=True) for a, b in s
    ]
    vectors = embedder.embed_passages(flat) if flat else np.zeros((0, embedder.dim), dtype=np.float32)
    out, i = [], 0
    for s in spans:
        out.append(SentenceVectors.of(s, vectors[i : i + len(s)]))
        i += len(s)
    return out


def sentence_vectors(store: Store | None, embedder: Embedder, hits: Sequence[Hit]) -> list[SentenceVectors]:
    """Each hit's sentence vectors: those kept at ingest, the others computed now (and kept)."""
    kept = _stored(store, embedder, hits)
    missing = [h for h in hits if h.chunk_hash not in kept]
    if missing:
        fresh = dict(zip((id(h) for h in missing), _computed(embedder, missing), strict=True))
        if store is not None:
            keep = {h.chunk_hash: fresh[id(h)] for h in missing if h.chunk_hash}
            if keep:
                store.ledger.put_sentence_vectors(embedder.name, keep)
        return [kept.get(h.chunk_hash) or fresh[id(h)] for h in hits]
    return [kept[h.chunk_hash] for h in hits]


# Words that shape a question rather than name its subject ("What did the NTSB find…", "Which findings
# did it list…"): a document need not use them.
_QUESTION_FORM = frozenset(
    "many much get gets got getting give given tell know need needs take make happen happens happened "
    "one ones something anything way ways find finds say says said state states list lists mention mentions "
    "describe describes include includes near anyone anybody someone somebody whether".split()
)
_HOW = re.compile(r"\bhow\s+(\w+)", re.IGNORECASE)  # "how old", "how long", "how often" shape the question

# US states by postal abbreviation: addresses name them so ("Seward, AK"), questions in full ("near
# Seward, Alaska"). A document with the abbreviation in capitals uses the state's name.
_STATES = dict(
    pair.split(":")
    for pair in (
        "AL:alabama AK:alaska AZ:arizona AR:arkansas CA:california CO:colorado CT:connecticut DE:delaware "
        "FL:florida GA:georgia HI:hawaii ID:idaho IL:illinois IN:indiana IA:iowa KS:kansas KY:kentucky "
        "LA:louisiana ME:maine MD:maryland MA:massachusetts MI:michigan MN:minnesota MS:mississippi "
        "MO:missouri MT:montana NE:nebraska NV:nevada NH:new_hampshire NJ:new_jersey NM:new_mexico NY:new_york "
        "NC:north_carolina ND:north_dakota OH:ohio OK:oklahoma OR:oregon PA:pennsylvania RI:rhode_island "
        "SC:south_carolina SD:south_dakota TN:tennessee TX:texas UT:utah VT:vermont VA:virginia WA:washington "
        "WV:west_virginia WI:wisconsin WY:wyoming"
    ).split()
)
_STATE = re.compile(rf"(?<![\w-])(?:{'|'.join(_STATES)})(?![\w-])")


def states_named(text: str) -> set[str]:
    """The US states ``text`` names by postal abbreviation ("Seward, AK", "Alton, NH"), as the words
    of their names ("alaska"; "new", "hampshire")."""
    return {w for m in set(_STATE.findall(text)) for w in _STATES[m].split("_")}


def asked_terms(question: str) -> set[str]:
    """The words a document should use to answer ``question``: those of its sentences that ask
    (end with "?") when it has such sentences and others too ("This is the THIRD time I ask! How
    many days do I have to return an item?": the complaint is no part of what is asked), else all
    of its words; words that only shape a question aside. Sentences are cut as in documents, so
    "Vance W. Amory Airport" or "the U.S. trial" does not end one."""
    parts = _question_parts(question)
    asking = [p for p in parts if p.endswith("?")]
    text = " ".join(asking) if asking and len(asking) < len(parts) else question
    form = {m.lower() for m in _HOW.findall(text)}
    return {t for t in query_terms(text) if t not in _QUESTION_FORM and t not in form}


def _in_documents(
    names: frozenset[str], terms: set[str], hits: Sequence[Hit], store: Store | None
) -> tuple[dict[str, float], dict[str, float], dict[str, set[str]]]:
    """For each document of ``hits``, the share of the question's names it contains ("the Cessna 152
    accident at Madill, Oklahoma" is about a document that says Madill, whatever else matches), and
    the share of the question's words it contains anywhere (crude stems): a document that never
    says "semaglutide" cannot answer a question about the semaglutide trial. Also the words of each
    long document's title and opening (:data:`_OPENING_CHARS`), which say what it is about."""
    named: dict[str, float] = {}
    covered: dict[str, float] = {}
    openings: dict[str, set[str]] = {}
    wanted = {n for n in names if len(n) > 1}
    for hit in hits:
        if hit.doc_id in named:
            continue
        body = " ".join(h.text for h in hits if h.doc_id == hit.doc_id)
        if store is not None and hit.doc_id:
            with contextlib.suppress(NotFoundError):  # removed meanwhile: its passages will do
                body = store.document_text(hit.doc_id)
        text = f"{hit.title} {hit.path} {body}"
        if len(body) >= _LONG_DOCUMENT:
            openings[hit.doc_id] = vocabulary(f"{hit.title} {body[:_OPENING_CHARS]}")
        present = vocabulary(text) | states_named(text)
        named[hit.doc_id] = sum(1 for n in wanted if n in present) / len(wanted) if wanted else 1.0
        stems = {w[:5] for w in present}
        found = sum(1 for t in terms if t in present or t[:5] in stems)
        covered[hit.doc_id] = found / len(terms) if terms else 1.0
    return named, covered, openings


def asked_part(question: str, opening: set[str]) -> str:
    """``question`` without the words of its document's ``opening`` (years and stop words aside),
    or "" when nothing it asks is left: "How many people were killed when the Cessna 172 crashed
    near Boquete, Panama?" asks "How many people were killed when the crashed near , ?" of the
    report that opens with the Cessna 172 near Boquete."""
    about = {w for w in opening if w not in STOPWORDS and not HEADER_YEAR.fullmatch(w)}
    tokens = re.findall(r"[\w'’-]+|[^\w\s]", question)
    kept = [t for t in tokens if t.lower() in STOPWORDS or not vocabulary(t.lower()) & about]
    rest = " ".join(kept)
    return rest if len(kept) < len(tokens) and set(query_terms(rest)) - _QUESTION_FORM else ""


# a year as a statement names one: not an amount ("$2019", "2020 Notes" aside: "2,019", "2019%") and
# not the year a figure is compared with ("up 12% over 2018", "compared with 2018", "(2018: 1,313)")
_YEAR = re.compile(r"(?<![\d$€£¥.,])(?:19|20)\d\d(?![\d%]|,\d|\.\d)")
_COMPARED = re.compile(
    r"(?:\b(?:compared\s+(?:with|to)|over|from|versus|vs\.?|than(?:\s+in)?|relative\s+to|against)\s+(?:the\s+)?"
    r"(?:(?:fiscal|financial)\s+(?:year\s+)?|fy\s*)?|\()(?:19|20)\d\d\b:?",
    re.IGNORECASE,
)


def asked_years(question: str) -> set[str]:
    """The years ``question`` names, every year between when it names two or more ("from 2017 to
    2019" asks about 2018 too)."""
    named = {int(y) for y in _YEAR.findall(question)}
    return {str(y) for y in range(min(named), max(named) + 1)} if named else set()


def other_years(text: str, years: set[str]) -> bool:
    """Whether ``text`` names years, none of them one of the question's ``years`` (a year it
    compares with aside): "Fiscal 2018 includes $8.1 million of legal expense" does not answer for
    2019, however alike the two read; "Revenue grew by 12% over 2018" may."""
    named = set(_YEAR.findall(_COMPARED.sub(" ", text)))
    return bool(named) and not named & years


_CONFIDENCE_SCALE = 1.25  # a unit's score with every lift is at most about 1.4; the best answers reach ~1.2


def confidence(score: float) -> float:
    """A unit's score as a confidence between 0 and 1."""
    return min(1.0, max(0.0, score / _CONFIDENCE_SCALE))


def _row_label(text: str) -> str:
    return text.split(CELL_SEPARATOR, 1)[0]


def gather(
    question: str,
    hits: Sequence[Hit],
    embedder: Embedder,
    *,
    store: Store | None = None,
    labels: Sequence[str] = (),
    query_vector: np.ndarray | None = None,
) -> Evidence:
    """Score every sentence and table row of ``hits`` for ``question`` (see the module docstring)."""
    hits = tuple(hits)
    kind = question_kind(question)
    if not hits:
        return Evidence(question, hits, (), kind=kind, labels=tuple(labels))
    q = query_vector if query_vector is not None else embedder.embed_queries([question])[0]
    floor = float(getattr(embedder, "similarity_floor", 0.0))
    terms = set(query_terms(question))
    names = question_names(question)
    asked = set(words(question))
    counted = _counted(question) if kind == "amount" else None
    years = asked_years(question)
    named, covered, openings = _in_documents(names, asked_terms(question), hits, store)
    ask = asked_part(question, openings.get(hits[0].doc_id, set()))
    ask_vector = embedder.embed_queries([ask])[0] if ask else None
    units: list[Unit] = []
    flagged: list[Unit] = []
    headers: dict[int, str] = {}
    flags = hit_flags(hits)
    for i, (hit, vectors) in enumerate(zip(hits, sentence_vectors(store, embedder, hits), strict=True)):
        table = is_table_text(hit.text)
        if table and vectors.spans:  # the first row of a table passage is its header
            first = vectors.spans[0]
            headers[i] = hit.text[first[0] : first[1]]
        sims = (vectors.vectors @ q - floor) / (1.0 - floor) if len(vectors.spans) else np.zeros(0)
        asks = (vectors.vectors @ ask_vector - floor) / (1.0 - floor) if ask_vector is not None else None
        lift = _RANK_WEIGHT * (1.0 - i / len(hits)) - _NAMES_WEIGHT * (1.0 - named[hit.doc_id])
        short_passage = len(hit.text.strip()) < _MIN_UNIT_CHARS * 3
        for j, (start, end) in enumerate(vectors.spans):
            text = hit.text[start:end]
            if table and j == 0:
                continue  # the header is context, not an answer
            if len(text) < _MIN_UNIT_CHARS and not short_passage:
                continue
            semantic = float(np.clip(sims[j], 0.0, 1.0))
            coverage = _coverage(terms, _row_label(text) if table else text, names)
            score = SEMANTIC_WEIGHT * semantic + (1 - SEMANTIC_WEIGHT) * coverage + lift + _quality(text, table)
            # a table row names what the question asks about (its label), and adds its cells
            score += _NEW_WEIGHT * (_ROW_NOVELTY if table else _novelty(text, asked))
            held = holds(kind, text, question)
            if held is True:
                score += _KIND_WEIGHT
                if counted is not None and _counts(text, counted):
                    score += _KIND_WEIGHT  # the number of the very thing the question counts
            elif held is False:
                score -= _KIND_WEIGHT
            if years and not table and other_years(text, years):
                score -= _YEAR_WEIGHT
            strength = None
            if asks is not None:  # ranked by what the question asks (asked_part)
                strength = score
                score += SEMANTIC_WEIGHT * (float(np.clip(asks[j], 0.0, 1.0)) - semantic)
            unit = Unit(i, start, end, text, table, semantic, coverage, score, strength=strength)
            if any(f.start < end and start < f.end for f in flags[i]):
                flagged.append(Unit(**{**unit.__dict__, "instruction": True}))
            else:
                units.append(unit)
    units.sort(key=lambda u: (-u.score, u.hit, u.start))
    return Evidence(question, hits, tuple(units), tuple(flagged), tuple(labels), kind, headers, named, covered)
