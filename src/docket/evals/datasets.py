"""Test sets: questions with optional reference answers and sources, read from YAML, JSON, JSON Lines,
CSV or a BEIR folder, and written back.

A row has ``question`` and optionally ``id``, ``answer``, ``sources``, ``unanswerable`` and
``generated``. A source is a file (``policies/leave.md``) or a file and a location inside it
(``{path: handbook.pdf, location: "p. 3"}``, or as text ``handbook.pdf#p. 3``; several in one text
are separated by ``;``). A malformed row is refused with the file, line and field.

A BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) is both a corpus to
index and a set: every query with a positive judgement becomes an item whose sources are the judged
documents, each written as one file ``<id>.md`` (:func:`write_beir_corpus`), so judgements map to
paths. Graded judgements keep their grade as the source's ``relevance``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from docket.errors import PathNotFoundError, UserError

__all__ = [
    "FIELDS",
    "EvalItem",
    "SourceRef",
    "TestSet",
    "beir_file_name",
    "load_test_set",
    "save_test_set",
    "write_beir_corpus",
]

FIELDS = ("id", "question", "answer", "sources", "unanswerable", "generated")
SOURCE_FIELDS = ("path", "location", "relevance")
_TEXT_FIELDS = ("id", "question", "answer")
TOP_LEVEL = ("name", "corpus", "questions")
FORMATS = ".yml, .yaml, .json, .jsonl, .csv, or a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)"


@dataclass(frozen=True)
class SourceRef:
    """Where an answer lies: a file, optionally a location inside it (a page, a section...).

    A hit matches when its path is this path (or ends with it, or this path ends with the hit's
    ``source/path``) and, when a location is given, its location label contains the location as
    whole words (``p. 3`` matches ``p. 3 · Leave``, not ``p. 13``). ``relevance`` is the grade of
    a BEIR judgement (1 for sources named in a test set); nDCG weighs by it.
    """

    path: str
    location: str | None = None
    relevance: int = 1

    def label(self) -> str:
        return f"{self.path}#{self.location}" if self.location else self.path

    @classmethod
    def parse(cls, text: str) -> SourceRef:
        """``path`` or ``path#location``."""
        path, _, location = text.partition("#")
        return cls(path.strip(), location.strip() or None)

    def to_data(self) -> str | dict[str, Any]:
        if self.location is None and self.relevance == 1 and not re.search(r"[#;]", self.path):
            return self.path
        out: dict[str, Any] = {"path": self.path}
        if self.location is not None:
            out["location"] = self.location
        if self.relevance != 1:
            out["relevance"] = self.relevance
        return out


@dataclass(frozen=True)
class EvalItem:
    """One question of a test set. ``generated`` marks questions drafted by ``docket eval generate``
    rather than written by a person."""

    id: str
    question: str
    answer: str | None = None
    sources: tuple[SourceRef, ...] = ()
    unanswerable: bool = False
    generated: bool = False

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "question": self.question}
        if self.answer is not None:
            out["answer"] = self.answer
        if self.sources:
            out["sources"] = [s.to_data() for s in self.sources]
        if self.unanswerable:
            out["unanswerable"] = True
        if self.generated:
            out["generated"] = True
        return out


@dataclass(frozen=True)
class TestSet:
    """Questions to evaluate with. ``corpus`` is set for a BEIR folder: its ``corpus.jsonl``, to be
    indexed before the questions are asked."""

    __test__ = False  # not a pytest test class

    name: str
    items: tuple[EvalItem, ...]
    corpus: Path | None = None

    def limit(self, n: int | None) -> TestSet:
        """The first ``n`` questions (all when None)."""
        return self if n is None else replace(self, items=self.items[: max(n, 0)])


# ---------------------------------------------------------------------------------------- loading
@dataclass
class _Row:
    """One row as read, with the line of the row and of each of its fields (1-based)."""

    data: Mapping[str, Any]
    line: int
    lines: dict[str, int] = field(default_factory=dict)


def load_test_set(path: str | Path, *, split: str | None = None) -> TestSet:
    """Read a test set file or a BEIR folder (``split``: its qrels file; default ``test``)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise PathNotFoundError(f"{path}: no such test set. Give a {FORMATS}")
    if path.is_dir():
        return _load_beir(path, split)
    suffix = path.suffix.lower()
    if suffix not in (".yml", ".yaml", ".json", ".jsonl", ".csv"):
        raise UserError(f"{path}: unknown test set format '{suffix or path.name}'; use {FORMATS}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    name, corpus = path.stem, None
    if suffix == ".jsonl":
        rows = list(_jsonl_rows(path, text))
    elif suffix == ".csv":
        rows = list(_csv_rows(path, text))
    else:
        rows, meta = _yaml_rows(path, text)
        name = str(meta.get("name") or name)
        if meta.get("corpus"):
            corpus = Path(str(meta["corpus"])).expanduser()
            if not corpus.is_absolute():
                corpus = path.parent / corpus
    items = _items(path, rows)
    if not items:
        raise UserError(f"{path}: the test set has no questions")
    return TestSet(name=name, items=tuple(items), corpus=corpus)


def _bad(path: Path, line: int | None, message: str) -> UserError:
    return UserError(f"{path}, line {line}: {message}" if line else f"{path}: {message}")


def _yaml_rows(path: Path, text: str) -> tuple[list[_Row], dict[str, Any]]:
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise _bad(path, mark.line + 1 if mark else None, f"not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    meta: dict[str, Any] = {}
    items_node = node
    if isinstance(data, dict):
        unknown = [k for k in data if k not in (*TOP_LEVEL, "items")]
        if unknown:
            raise _bad(path, 1, f"unknown key '{unknown[0]}' at the top; keys: {', '.join(TOP_LEVEL)}")
        key = "questions" if "questions" in data else "items"
        if key not in data:
            raise _bad(path, 1, "no 'questions' list: write the rows under 'questions:' (or as a top-level list)")
        meta = {k: v for k, v in data.items() if k in ("name", "corpus")}
        items_node = next(v for k, v in node.value if k.value == key)
        data = data[key]
    if data is None:
        return [], meta
    if not isinstance(data, list):
        raise _bad(path, 1, "expected a list of questions (each with a 'question' field)")
    rows = []
    for item_node, item in zip(items_node.value, data, strict=True):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            raise _bad(path, line, "a row must be a mapping with a 'question' field")
        lines = {str(k.value): k.start_mark.line + 1 for k, _ in item_node.value}
        item = dict(item)
        for key_node, value_node in item_node.value:
            name = str(key_node.value)
            value = item.get(name)
            # text as written: YAML would read `id: off` as false and `answer: 1.50` as 1.5
            if name in _TEXT_FIELDS and isinstance(value_node, yaml.ScalarNode) and not isinstance(value, str | None):
                item[name] = value_node.value
        rows.append(_Row(item, line, lines))
    return rows, meta


def _jsonl_rows(path: Path, text: str) -> Iterator[_Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad(path, number, f"not valid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(data, dict):
            raise _bad(path, number, "a row must be a JSON object with a 'question' field")
        yield _Row(data, number)


def _csv_rows(path: Path, text: str) -> Iterator[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        unknown = [h for h in header if h and h not in FIELDS]
        if "question" not in header or unknown:
            found = f"unknown column '{unknown[0]}'" if unknown else "the header has no 'question' column"
            raise _bad(path, 1, f"{found}; columns: {', '.join(FIELDS)}")
        line = reader.line_num
        for values in reader:
            start, line = line + 1, reader.line_num
            if len(values) > len(header):
                raise _bad(path, start, f"{len(values)} values but {len(header)} columns in the header")
            row = {k: v for k, v in zip(header, values, strict=False) if k and v.strip()}
            if row:
                yield _Row(row, start)
    except csv.Error as exc:
        raise _bad(path, reader.line_num, f"not valid CSV: {exc}") from None


def _items(path: Path, rows: Sequence[_Row]) -> list[EvalItem]:
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        item = _item(path, row, number)
        if item.id in seen:
            raise _bad(path, row.lines.get("id", row.line), f"field 'id': '{item.id}' is used twice")
        seen[item.id] = row.line
        items.append(item)
    return items


def _item(path: Path, row: _Row, number: int) -> EvalItem:
    def fail(name: str, message: str) -> UserError:
        return _bad(path, row.lines.get(name, row.line), f"field '{name}': {message}")

    data = row.data
    for key in data:
        if key not in FIELDS:
            raise fail(str(key), f"unknown field; fields: {', '.join(FIELDS)}")
    question = data.get("question")
    if question is None:
        raise _bad(path, row.line, "field 'question' is missing")
    if not isinstance(question, str) or not question.strip():
        raise fail("question", "must be non-empty text")
    answer = data.get("answer")
    if answer is not None:
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
            raise fail("answer", "must be text")
        answer = str(answer).strip() or None
    identifier = data.get("id", f"q{number}")
    if isinstance(identifier, bool) or not isinstance(identifier, (str, int)) or not str(identifier).strip():
        raise fail("id", "must be text or a number")
    unanswerable = _flag(data.get("unanswerable"), lambda m: fail("unanswerable", m))
    generated = _flag(data.get("generated"), lambda m: fail("generated", m))
    sources = _sources(data.get("sources"), lambda m: fail("sources", m))
    if unanswerable and sources:
        raise fail("sources", "an unanswerable question cannot have sources")
    return EvalItem(
        id=str(identifier).strip(),
        question=question.strip(),
        answer=answer,
        sources=sources,
        unanswerable=unanswerable,
        generated=generated,
    )


def _flag(value: Any, fail: Callable[[str], UserError]) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise fail(f"'{value}' is not true or false")


def _sources(value: Any, fail: Callable[[str], UserError]) -> tuple[SourceRef, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(";") if part.strip()]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise fail("must be a file, a list of files, or {path, location} mappings")
    out: list[SourceRef] = []
    for entry in value:
        if isinstance(entry, str):
            ref = SourceRef.parse(entry)
        elif isinstance(entry, dict):
            unknown = [k for k in entry if k not in SOURCE_FIELDS]
            if unknown:
                raise fail(f"unknown key '{unknown[0]}' in a source; keys: {', '.join(SOURCE_FIELDS)}")
            path, location, relevance = entry.get("path"), entry.get("location"), entry.get("relevance", 1)
            if not isinstance(path, str):
                raise fail("a source needs a 'path' (text)")
            if location is not None and not isinstance(location, (str, int)):
                raise fail("a source's 'location' must be text, e.g. 'p. 3' or a section heading")
            if isinstance(relevance, bool) or not isinstance(relevance, int) or relevance < 1:
                raise fail("a source's 'relevance' must be a whole number of at least 1")
            ref = SourceRef(path.strip(), str(location).strip() if location is not None else None, relevance)
        else:
            raise fail(f"'{entry}' is not a file or a {{path, location}} mapping")
        if not ref.path:
            raise fail("a source has an empty path")
        out.append(ref)
    return tuple(out)


# ---------------------------------------------------------------------------------------- BEIR
def beir_file_name(doc_id: str) -> str:
    """The file a BEIR document is written to (and so the path its judgements name)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", doc_id).lstrip(".") or "_"
    return f"{safe}.md"


def _beir_split(folder: Path, split: str | None) -> Path:
    qrels = folder / "qrels"
    available = sorted(p.stem for p in qrels.glob("*.tsv")) if qrels.is_dir() else []
    for name in [split] if split else ["test", "dev", *available]:
        if (qrels / f"{name}.tsv").is_file():
            return qrels / f"{name}.tsv"
    if split:
        raise UserError(f"{folder}: no qrels/{split}.tsv; splits: {', '.join(available) or 'none'}")
    raise UserError(f"{folder}: not a BEIR folder (no qrels/*.tsv); use {FORMATS}")


def _load_beir(folder: Path, split: str | None) -> TestSet:
    for needed in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / needed).is_file():
            raise UserError(f"{folder}: not a BEIR folder (no {needed}); give a {FORMATS}")
    qrels_file = _beir_split(folder, split)
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip() or parts[0] == "query-id":
                continue
            if len(parts) < 3:
                raise _bad(qrels_file, number, "expected query-id, corpus-id and score separated by tabs")
            try:
                score = int(float(parts[2]))
            except ValueError:
                raise _bad(qrels_file, number, f"field 'score': '{parts[2]}' is not a number") from None
            if score > 0:
                qrels.setdefault(parts[0], {})[parts[1]] = score
    queries: dict[str, str] = {}
    queries_file = folder / "queries.jsonl"
    for row in _jsonl_rows(queries_file, queries_file.read_text(encoding="utf-8")):
        if "_id" not in row.data or not isinstance(row.data.get("text"), str):
            raise _bad(queries_file, row.line, "a query needs '_id' and 'text'")
        queries[str(row.data["_id"])] = row.data["text"]
    items = [
        EvalItem(
            id=qid,
            question=queries[qid],
            sources=tuple(SourceRef(beir_file_name(doc), relevance=grade) for doc, grade in docs.items()),
        )
        for qid, docs in qrels.items()
        if qid in queries and queries[qid].strip()
    ]
    if not items:
        raise UserError(f"{folder}: no query in queries.jsonl has a judgement in {qrels_file.name}")
    return TestSet(name=folder.name, items=tuple(items), corpus=folder / "corpus.jsonl")


def write_beir_corpus(corpus: Path, folder: Path, only: set[str] | None = None) -> int:
    """Write each document of a BEIR ``corpus.jsonl`` as ``folder/<id>.md`` (front matter title,
    then the text), leaving files that are already up to date and removing ones no longer in the
    corpus; returns the number of files written. ``only`` limits it to these document ids.

    Indexed, each file gives the chunks ``bench/retrieval.py`` builds from the same row (the
    title as context, the text as the passage), so both measure the same index.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    written = 0
    for row in _jsonl_rows(corpus, corpus.read_text(encoding="utf-8")):
        if "_id" not in row.data:
            raise _bad(corpus, row.line, "a document needs an '_id'")
        doc_id = str(row.data["_id"])
        if only is not None and doc_id not in only:
            continue
        title = str(row.data.get("title") or "").strip()
        text = str(row.data.get("text") or "").strip()
        if not text and not title:
            continue  # nothing to index (as bench/retrieval.py)
        head = f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\n---\n\n" if title else ""
        content = f"{head}{text or title}\n"
        name = beir_file_name(doc_id)
        wanted.add(name)
        target = folder / name
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")
            written += 1
    for stale in folder.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    return written


# ---------------------------------------------------------------------------------------- saving
def save_test_set(test_set: TestSet, path: str | Path) -> Path:
    """Write ``test_set`` as YAML (``.yml``/``.yaml``), JSON, JSON Lines or CSV, by the suffix."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    rows = [item.to_data() for item in test_set.items]
    if suffix in (".yml", ".yaml", ".json"):
        doc: dict[str, Any] = {"name": test_set.name}
        if test_set.corpus is not None:
            doc["corpus"] = str(test_set.corpus)
        doc["questions"] = rows
        if suffix == ".json":
            text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
        else:
            import yaml

            text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    elif suffix == ".jsonl":
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    elif suffix == ".csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(FIELDS), lineterminator="\n")
        writer.writeheader()
        for item in test_set.items:
            writer.writerow(
                {
                    "id": item.id,
                    "question": item.question,
                    "answer": item.answer or "",
                    "sources": "; ".join(s.label() for s in item.sources),
                    "unanswerable": "true" if item.unanswerable else "",
                    "generated": "true" if item.generated else "",
                }
            )
        text = out.getvalue()
    else:
        raise UserError(f"{path}: unknown test set format '{suffix or path.name}'; use .yml, .json, .jsonl or .csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
