"""The data Docket passes around: plain frozen dataclasses, no behaviour beyond formatting."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Access",
    "Answer",
    "Block",
    "Chunk",
    "Citation",
    "Document",
    "Filters",
    "Hit",
    "Location",
    "ParseAttempt",
    "ParsedDocument",
    "Profile",
    "SentenceVectors",
    "SyncReport",
    "TableResult",
    "Usage",
    "check_workspace_name",
]

# A workspace's name is also a folder name (uploads/WORKSPACE/) and part of URLs: a slug.
WORKSPACE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_-])?")
DEFAULT_WORKSPACE = "default"


def check_workspace_name(name: str) -> str:
    """``name`` when it is a valid workspace name, else a UserError saying what one looks like.

    Letters, digits, '-', '_' and '.', at most 64, starting with a letter or digit and not ending
    with '.': so never '.', '..', a hidden name or anything with a '/'. Checked wherever a
    workspace is named (the API, the command line, a source's config, ingestion)."""
    from docket.errors import UserError

    if not isinstance(name, str) or not WORKSPACE_NAME.fullmatch(name):
        raise UserError(
            f"'{name}' is not a valid workspace name: use letters, digits, '-', '_' and '.' (at most 64), "
            "starting with a letter or digit, e.g. Support or sales-eu"
        )
    return name


@dataclass(frozen=True)
class Location:
    """Where a passage sits in its file: enough to cite it precisely.

    Pages, slides and rows are 1-based as a person counts them. ``char_start``/``char_end``
    are offsets into the document's extracted text (``Document`` text as stored).
    """

    page: int | None = None
    page_end: int | None = None
    slide: int | None = None
    sheet: str | None = None
    row_start: int | None = None
    row_end: int | None = None
    heading_path: tuple[str, ...] = ()
    attachment: str | None = None
    char_start: int | None = None
    char_end: int | None = None
    region: tuple[float, float, float, float] | None = None  # box on ``page``: fractions, x0 y0 x1 y1 (OCR)

    def label(self) -> str:
        """A short human label such as ``p. 3 · Benefits › Leave``."""
        parts: list[str] = []
        if self.attachment:
            parts.append(f"attachment {self.attachment}")
        if self.page is not None:
            if self.page_end is not None and self.page_end != self.page:
                parts.append(f"pp. {self.page}-{self.page_end}")
            else:
                parts.append(f"p. {self.page}")
        if self.slide is not None:
            parts.append(f"slide {self.slide}")
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet}")
        if self.row_start is not None:
            if self.row_end is not None and self.row_end != self.row_start:
                parts.append(f"rows {self.row_start}-{self.row_end}")
            else:
                parts.append(f"row {self.row_start}")
        if self.heading_path:
            parts.append(" › ".join(self.heading_path))
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Only the fields that are set, plus the label; JSON-ready."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None or value == ():
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        out["label"] = self.label()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("heading_path", "region"):  # lists in JSON
            if known.get(key) is not None:
                known[key] = tuple(known[key])
        return cls(**known)


@dataclass(frozen=True)
class Block:
    """One structural piece of a parsed file, as a parser returns it.

    A ``text`` block is prose under ``heading_path``. A ``table`` block holds one row per line of
    ``text``; ``header`` is the header row, repeated in every chunk cut from the table, and
    ``row_start`` is the number of the first row as the user would count it in the file.
    """

    text: str
    kind: Literal["text", "table"] = "text"
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    slide: int | None = None
    sheet: str | None = None
    attachment: str | None = None
    header: str | None = None
    row_start: int | None = None
    regions: tuple[tuple[str, tuple[float, float, float, float]], ...] = ()  # OCR'd lines, boxes (fractions)


@dataclass(frozen=True)
class ParsedDocument:
    """What a parser makes of one file."""

    blocks: tuple[Block, ...]
    title: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The document's extracted text; chunk character offsets point into it."""
        return BLOCK_SEPARATOR.join(_block_text(b) for b in self.blocks)


BLOCK_SEPARATOR = "\n\n"


def _block_text(block: Block) -> str:
    if block.kind == "table" and block.header:
        return f"{block.header}\n{block.text}"
    return block.text


@dataclass(frozen=True)
class Chunk:
    """A passage cut from a document, sized for the embedder, with its location.

    ``context`` (title and heading path, or a table's header) is indexed with the passage so that
    a chunk deep in a section still matches questions about the section.
    """

    text: str
    location: Location
    context: str = ""
    ordinal: int = 0

    @property
    def indexed_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.indexed_text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """One indexed file (or other item) of a source.

    ``workspace`` and ``access`` carry permissions: a document is visible to callers with access to
    its workspace, and when ``access`` is non-empty only to those holding one of its principals
    (``user:NAME`` / ``group:NAME``).
    """

    id: str
    source: str
    path: str
    title: str
    filetype: str
    content_hash: str
    size: int
    mtime: float
    workspace: str = DEFAULT_WORKSPACE
    access: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _human_date(iso: str) -> str:
    """``2023-07-01`` as ``1 Jul 2023``; anything else as given."""
    try:
        year, month, day = (int(part) for part in iso.split("-"))
        return f"{day} {_MONTHS[month - 1]} {year}"
    except (ValueError, IndexError):
        return iso


def _days_between(start: str | None, end: str | None) -> int | None:
    from datetime import date

    try:
        return (date.fromisoformat(end or "") - date.fromisoformat(start or "")).days
    except ValueError:
        return None


@dataclass(frozen=True)
class Profile:
    """What a document is: read from its own text and metadata at ingest (see
    :mod:`docket.ingest.profiles`), correctable by an admin.

    ``organizations`` are the parties the document is about (the registrant of a filing, the
    sponsor of a trial, the vendor of an invoice), the main one first. ``period_start`` and
    ``period_end`` (ISO dates) bound the period the document reports on; ``date`` is when it was
    issued. ``fiscal_year``/``fiscal_quarter`` are the document's own fiscal labels (a 10-Q for the
    quarter ended 31 December 2022 may be Q2 of fiscal 2023). ``edited`` names the fields an admin
    set by hand; a re-ingest keeps them.
    """

    title: str = ""
    organizations: tuple[str, ...] = ()
    doc_type: str | None = None
    date: str | None = None
    period_start: str | None = None
    period_end: str | None = None
    fiscal_year: int | None = None
    fiscal_quarter: int | None = None
    edited: tuple[str, ...] = ()

    def period_label(self) -> str:
        """``quarter ended 1 Jul 2023 (Q2 FY2023)``, ``year ended 31 Dec 2018``, ``on 8 Dec 2007``
        (an accident report's day), or ``""``."""
        fiscal = ""
        if self.fiscal_year is not None:
            fiscal = f"Q{self.fiscal_quarter} FY{self.fiscal_year}" if self.fiscal_quarter else f"FY{self.fiscal_year}"
        if self.period_end and self.period_start == self.period_end:
            return f"on {_human_date(self.period_end)}"  # what a report is about happened on one day
        if self.period_end:
            span = "period"
            days = _days_between(self.period_start, self.period_end)
            if self.fiscal_quarter or (days is not None and days < 120):
                span = "quarter"
            elif days is not None and days > 330:
                span = "year"
            label = f"{span} ended {_human_date(self.period_end)}"
            return f"{label} ({fiscal})" if fiscal else label
        if fiscal:
            return fiscal
        return f"dated {_human_date(self.date)}" if self.date else ""

    def label(self) -> str:
        """A short name for citations: ``Apple Inc. 10-Q, quarter ended 1 Jul 2023 (Q3 FY2023)``.
        Empty when the profile knows nothing beyond the title."""
        when = self.period_label()
        if not self.organizations:
            return f"{self.title}, {when}" if when and self.title else ""
        head = f"{self.organizations[0]} {self.doc_type or self.title}".strip()
        return f"{head}, {when}" if when else head

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["organizations"] = list(self.organizations)
        out["edited"] = list(self.edited)
        out["label"] = self.label()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Profile:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("organizations", "edited"):
            if key in known:
                known[key] = tuple(known[key] or ())
        return cls(**known)


@dataclass(frozen=True)
class Filters:
    """Metadata filters applied inside retrieval.

    ``documents`` limits retrieval to these document ids (what question scoping and profile
    filters such as ``--where org=Acme`` resolve to); ``where`` holds such profile conditions as
    ``(field, value)`` pairs until they are resolved (:func:`docket.index.profiles.resolve_where`).
    """

    path_glob: str | None = None
    filetypes: tuple[str, ...] = ()
    modified_after: float | None = None
    modified_before: float | None = None
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    documents: tuple[str, ...] | None = None
    where: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Access:
    """Who is asking. Retrieval only ever returns text this caller may read.

    ``workspaces=None`` means every workspace (the local owner on the command line).
    """

    workspaces: tuple[str, ...] | None = None
    principals: tuple[str, ...] = ()
    all_documents: bool = False  # ignore documents' access lists (the owner and admins)

    @classmethod
    def owner(cls) -> Access:
        return cls(workspaces=None, principals=())

    @property
    def unrestricted(self) -> bool:
        return self.workspaces is None

    def permits(self, workspace: str, access: tuple[str, ...] | list[str]) -> bool:
        """Whether a document of ``workspace`` with the access list ``access`` may be read: the
        rule the stores apply in SQL, for things that are not documents (a job's files)."""
        if self.unrestricted:
            return True
        if workspace not in (self.workspaces or ()):
            return False
        return self.all_documents or not access or bool(set(access) & set(self.principals))


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its document, its fused score and the per-retriever scores."""

    chunk_id: int
    doc_id: str
    source: str
    path: str
    title: str
    text: str
    location: Location
    score: float
    scores: Mapping[str, float] = field(default_factory=dict)
    chunk_hash: str = ""  # the chunk's content hash: its sentence vectors are stored under it

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "score": round(self.score, 6),
            "text": self.text,
            "location": self.location.to_dict(),
            "title": self.title,
            "source": self.source,
            "chunk_id": self.chunk_id,
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
        }


@dataclass(frozen=True)
class Citation:
    """An ``[n]`` in an answer: which file, where, and the exact quoted text. ``n`` numbers the
    answer's sources (``answer.sources[n - 1]`` is the passage); ``chunk_id`` names it in the index."""

    n: int
    path: str
    location: Location
    quote: str
    supported: bool | None = None
    chunk_id: int | None = None
    document: str = ""  # the document's label ("Acme Inc. 10-Q, quarter ended 1 Jul 2023"), else its title

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n": self.n,
            "path": self.path,
            "location": self.location.to_dict(),
            "quote": self.quote,
        }
        if (box := self.location.region) is not None:  # {page, x0, y0, x1, y1}, fractions of the page
            out["region"] = dict(zip(("page", "x0", "y0", "x1", "y1"), (self.location.page, *box), strict=True))
        if self.document:
            out["document"] = self.document
        if self.chunk_id is not None:
            out["chunk_id"] = self.chunk_id
        if self.supported is not None:
            out["supported"] = self.supported
        return out


@dataclass(frozen=True)
class Usage:
    """Tokens a model call used; ``cost`` is None when no price is configured for the model."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens, "cost": self.cost}


@dataclass(frozen=True)
class TableResult:
    """The SQL behind a table answer and the rows it returned; the figures come from here, not a model."""

    sql: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    tables: tuple[str, ...] = ()
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
            "tables": list(self.tables),
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class Answer:
    """The one answer object every answering path returns (extractive now, generated later)."""

    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    sources: tuple[Hit, ...] = ()
    method: str = "extractive"
    confidence: float = 0.0
    model: str | None = None
    usage: Usage | None = None
    notes: tuple[str, ...] = ()
    log_id: int | None = None  # the answer's entry in the knowledge base's answer log
    table: TableResult | None = None  # set when the answer was computed by SQL over a table
    scope: tuple[str, ...] = ()  # labels of the documents the question named, when it was narrowed to them
    unsupported: tuple[str, ...] = ()  # generated statements the sources do not support (marked in the text)

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.log_id is not None:
            extra["log_id"] = self.log_id
        if self.model is not None:
            extra["model"] = self.model
            extra["usage"] = (self.usage or Usage()).to_dict()
        if self.notes:
            extra["notes"] = list(self.notes)
        if self.table is not None:
            extra["table"] = self.table.to_dict()
        if self.scope:
            extra["scope"] = list(self.scope)
        if self.unsupported:
            extra["unsupported"] = list(self.unsupported)
        return {
            **extra,
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "method": self.method,
            "confidence": round(self.confidence, 4),
            "sources": [h.to_dict() for h in self.sources],
        }


@dataclass(frozen=True)
class ParseAttempt:
    """A file (or a remote item) as it was when Docket failed to parse it, and what tried.

    Recorded with the failure (``Store.record_failure``): while the file still has this size and
    modification time (or, once read, this content hash), and the same Docket version tries with
    the same parse settings and parser plugins (``tried_with``, a digest), it is not parsed again
    (:mod:`docket.ingest.failures`)."""

    size: int
    mtime: float | None
    content_hash: str | None
    docket_version: str
    tried_with: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ParseAttempt | None:
        """The attempt stored with a failure; None for one recorded without it."""
        if not data or data.get("size") is None:
            return None
        mtime, content_hash = data.get("mtime"), data.get("content_hash")
        return cls(
            size=int(data["size"]),
            mtime=None if mtime is None else float(mtime),
            content_hash=None if content_hash is None else str(content_hash),
            docket_version=str(data.get("docket_version") or ""),
            tried_with=str(data.get("tried_with") or ""),
        )


@dataclass
class SyncReport:
    """What one ingest or sync did. Mutable: the pipeline fills it in as it goes.

    ``failed``: files that failed this time (``{"path", "error"}``); ``failed_before``: files that
    failed before and were not parsed again because neither they nor Docket changed since (the
    reason is the one recorded then)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    renamed: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    failed_before: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    pages_ocr: int = 0  # pages (and images) whose text was read by OCR
    pages_unreadable: int = 0  # pages showing something that gave no text (a scan OCR could not read)
    # seconds per ingest stage (docket.ingest.sync.STAGES); together at most ``seconds``
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def processed(self) -> int:
        return self.added + self.updated + self.unchanged + self.renamed + len(self.failed) + len(self.failed_before)

    _COUNTS = ("added", "updated", "unchanged", "deleted", "renamed", "chunks_embedded", "chunks_reused")

    def merge(self, other: SyncReport) -> None:
        for name in (*self._COUNTS, "pages_ocr", "pages_unreadable"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed.extend(other.failed)
        self.failed_before.extend(other.failed_before)
        self.warnings.extend(other.warnings)
        self.seconds += other.seconds
        for stage, seconds in other.stages.items():
            self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in (*self._COUNTS, "pages_ocr", "pages_unreadable")},
            "failed": list(self.failed),
            "failed_before": list(self.failed_before),
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
            "stages": {stage: round(seconds, 3) for stage, seconds in self.stages.items()},
        }


_SCALE = 127.0


@dataclass(frozen=True)
class SentenceVectors:
    """The units of one chunk — its sentences, or a table's rows (:func:`docket.sentences.unit_spans`)
    — as offsets into its text, with their unit-length vectors. Computed at ingest from the model
    run that embeds the chunk and kept by chunk hash, so answers need not embed sentences per
    question; stored 8-bit quantised (a cosine changes by less than 0.01)."""

    spans: tuple[tuple[int, int], ...]
    vectors: np.ndarray  # float32, one row per span

    def pack(self) -> tuple[bytes, bytes]:
        """``(spans, vectors)`` as bytes: int32 offset pairs and int8 vectors."""
        import numpy as np

        spans = np.asarray(self.spans, dtype=np.int32).reshape(-1, 2).tobytes()
        quantised = np.clip(np.round(self.vectors * _SCALE), -127, 127).astype(np.int8)
        return spans, quantised.tobytes()

    @classmethod
    def unpack(cls, spans: bytes, vectors: bytes, dim: int) -> SentenceVectors:
        import numpy as np

        pairs = np.frombuffer(spans, dtype=np.int32).reshape(-1, 2)
        matrix = np.frombuffer(vectors, dtype=np.int8).astype(np.float32).reshape(-1, dim) / _SCALE
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return cls(tuple((int(a), int(b)) for a, b in pairs), (matrix / norms).astype(np.float32))

    @classmethod
    def of(cls, spans: Sequence[tuple[int, int]], vectors: np.ndarray) -> SentenceVectors:
        import numpy as np

        return cls(tuple((int(a), int(b)) for a, b in spans), np.asarray(vectors, dtype=np.float32))
