"""Question sets over real multi-document folders: financebench and multidoc (see bench/answers.py).

- ``financebench``: the 30 filings of ../shared/data/financebench-dev/pdfs in one knowledge base; all
  62 questions, gold answer from the dataset, machine-checkable keys and the split from
  bench/sets/financebench-keys.jsonl, gold document = the question's ``doc_name``, organisation =
  its ``company``.
- ``multidoc``: the 20 NTSB accident reports and 20 clinical-trial protocol PDFs of
  ../shared/data/docugami-kg-rag-raw-pdfs in one knowledge base; the questions, keys, gold documents,
  organisations (accident number / NCT number) and split in bench/sets/multidoc.jsonl, written from
  the documents themselves; the unanswerable ones must be abstained on.

Gold profiles of every document (bench/sets/profiles-gold.jsonl) say which organisation each file
belongs to (``entity``), so a citation of another organisation's document can be counted.

Outcomes of an answerable question: **refused** (``Answer.abstained``), **correct** (every key
matches the answer text and a document of the question's organisation is cited — a right figure
quoted from another company's filing is not a trustworthy answer) or **wrong** (anything else).
On an unanswerable question, abstaining is right and any answer is wrong.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from answer_keys import facts_match, other_org_cited, profile_fields, same_org

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data"
SETS_DIR = HERE / "sets"
FINANCEBENCH = DATA / "financebench-dev"
DOCUGAMI = DATA / "docugami-kg-rag-raw-pdfs"
FILE_SETS = ("financebench", "multidoc")
KEY_KINDS = {"number", "date", "polarity", "phrases"}
TYPES = {"figure", "date", "name", "yesno", "list", "text"}
PARSE_TIMEOUT = 1800.0


@dataclass
class FileQuestion:
    id: str
    text: str
    answerable: bool
    answer: Any
    keys: list[dict[str, Any]]
    gold_docs: set[str]
    org: str
    type: str
    split: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FileSet:
    name: str
    folders: list[Path]
    questions: list[FileQuestion]
    profiles: dict[str, dict[str, Any]]  # file name -> gold profile

    @property
    def entity_of(self) -> dict[str, str]:
        return {f: p["entity"] for f, p in self.profiles.items()}

    def files(self) -> list[Path]:
        return sorted(p for folder in self.folders for p in folder.iterdir() if p.is_file())


class SetError(ValueError):
    """A question set file is malformed; the message names the file, line and field."""


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SetError(f"{path}:{n}: not valid JSON ({exc.msg}); fix the line") from exc
    return rows


def _check(path: Path, q: FileQuestion, files: set[str]) -> None:
    where = f"{path}: question {q.id}"
    if q.split not in ("dev", "test"):
        raise SetError(f"{where}: split must be dev or test, not {q.split!r} (run bench/sets/splits.py)")
    if q.type not in TYPES:
        raise SetError(f"{where}: type {q.type!r} is not one of {sorted(TYPES)}")
    if q.answerable and not q.keys:
        raise SetError(f"{where}: an answerable question needs keys")
    for key in q.keys:
        if key.get("kind") not in KEY_KINDS:
            raise SetError(f"{where}: key kind {key.get('kind')!r} is not one of {sorted(KEY_KINDS)}")
    missing = sorted(q.gold_docs - files)
    if missing:
        raise SetError(f"{where}: gold_docs {missing} are not files of the set's folders")


def load_profiles(set_name: str) -> dict[str, dict[str, Any]]:
    return {p["file"]: p for p in _jsonl(SETS_DIR / "profiles-gold.jsonl") if p["set"] == set_name}


def load_financebench() -> FileSet:
    keys_path = SETS_DIR / "financebench-keys.jsonl"
    keys = {k["id"]: k for k in _jsonl(keys_path)}
    questions = []
    for row in _jsonl(FINANCEBENCH / "data" / "financebench_dev_questions.jsonl"):
        qid = row["financebench_id"]
        if qid not in keys:
            raise SetError(f"{keys_path}: no keys for {qid}; add a line for it")
        k = keys[qid]
        questions.append(
            FileQuestion(
                id=qid,
                text=row["question"],
                answerable=True,
                answer=row["answer"],
                keys=k["keys"],
                gold_docs={f"{row['doc_name']}.pdf"},
                org=row["company"],
                type=k["type"],
                split=k.get("split", ""),
                extra={"evidence_pages": sorted({e["evidence_page_num"] for e in row["evidence"]})},
            )
        )
    fs = FileSet("financebench", [FINANCEBENCH / "pdfs"], questions, load_profiles("financebench"))
    _validate(fs, keys_path)
    return fs


def load_multidoc() -> FileSet:
    path = SETS_DIR / "multidoc.jsonl"
    questions = [
        FileQuestion(
            id=r["id"],
            text=r["question"],
            answerable=r["answerable"],
            answer=r["answer"],
            keys=r["keys"],
            gold_docs=set(r["gold_docs"]),
            org=r["org"],
            type=r["type"],
            split=r.get("split", ""),
        )
        for r in _jsonl(path)
    ]
    folders = [
        DOCUGAMI / sub / "data" / "v1" / "docs"
        for sub in ("ntsb-aviation-incident-accident-reports", "nih-clinical-trial-protocols")
    ]
    fs = FileSet("multidoc", folders, questions, load_profiles("multidoc"))
    _validate(fs, path)
    return fs


def _validate(fs: FileSet, path: Path) -> None:
    files = {p.name for p in fs.files()}
    for q in fs.questions:
        _check(path, q, files)
    unprofiled = sorted(files - set(fs.profiles))
    if unprofiled:
        raise SetError(f"{SETS_DIR / 'profiles-gold.jsonl'}: no gold profile for {unprofiled} ({fs.name})")


FILE_LOADERS: dict[str, Callable[[], FileSet]] = {"financebench": load_financebench, "multidoc": load_multidoc}


def select(questions: Sequence[FileQuestion], split: str, limit: int | None) -> list[FileQuestion]:
    """The questions of ``split`` (dev, test or all) in file order; with ``limit``, the first N of
    each of answerable and unanswerable (so a small run still measures abstention)."""
    chosen = [q for q in questions if split == "all" or q.split == split]
    if limit is None:
        return chosen
    ans = [q for q in chosen if q.answerable][:limit]
    una = [q for q in chosen if not q.answerable][:limit]
    return ans + una


# ---------------------------------------------------------------------- the cached knowledge base
def code_fingerprint() -> str:
    """Changes when the ingest or index code changes (the index format may have changed with it)."""
    digest = hashlib.sha256()
    src = ROOT / "src" / "docket"
    code = [*(src / "ingest").rglob("*.py"), *(src / "index").rglob("*.py"), src / "types.py", src / "sentences.py"]
    for path in sorted(code):
        digest.update(path.relative_to(src).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def open_file_kb(fs: FileSet, home: Path, keep: bool = False) -> tuple[Any, dict[str, Any]]:
    """The set's knowledge base at ``home``: rebuilt from scratch when the settings or Docket's
    ingest/index code changed since it was built (unless ``keep``), then brought up to date with
    ``KnowledgeBase.ingest`` (incremental: unchanged files are skipped)."""
    from docket import KnowledgeBase, load_settings

    # a filing of 300+ pages may take minutes to parse on a busy 2-core machine: the benchmark
    # measures answers, so parsing gets PARSE_TIMEOUT instead of the 60 s default
    settings = load_settings(home=home, environ={}, overrides={"ingest": {"parse_timeout": PARSE_TIMEOUT}})
    key = hashlib.sha256(
        json.dumps(
            [
                fs.name,
                [str(f) for f in fs.folders],
                settings.embedder.name,
                settings.chunking.max_tokens,
                PARSE_TIMEOUT,
                code_fingerprint(),
            ]
        ).encode()
    ).hexdigest()
    manifest = home / "bench-manifest.json"
    fresh = not (manifest.is_file() and (keep or json.loads(manifest.read_text())["key"] == key))
    if fresh:
        shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    if fresh:  # written first, so an interrupted ingest is resumed (incrementally) by the next run
        manifest.write_text(json.dumps({"key": key}))
    kb = KnowledgeBase(settings)
    t0 = time.perf_counter()
    report = kb.ingest([str(f) for f in fs.folders])
    info = {"rebuilt": fresh, "ingest_s": round(time.perf_counter() - t0, 1), "report": _report(report)}
    failures = kb.ledger.failures()
    info["failed_files"] = [{"path": f["path"], "error": f["error"][:200]} for f in failures]
    manifest.write_text(json.dumps({"key": key, **info}))
    return kb, info


def _report(report: Any) -> dict[str, Any]:
    to_dict = getattr(report, "to_dict", None)
    if callable(to_dict):
        out: dict[str, Any] = to_dict()
        return out
    out = {k: v for k, v in vars(report).items() if isinstance(v, int | float | str)}
    out["failed"] = len(getattr(report, "failed", []))
    return out


def profile_accuracy(kb: Any, fs: FileSet) -> dict[str, Any]:
    """Docket's own document profiles (``Document.metadata["profile"]``) against the gold ones, per
    field; ``{"available": False}`` while Docket stores no profiles."""
    docs = {Path(d.path).name: d for d in kb.store.documents()}
    extracted = {name: d.metadata.get("profile") for name, d in docs.items() if d.metadata.get("profile")}
    if not extracted:
        return {"available": False, "documents": len(docs)}
    fields: dict[str, list[bool]] = {}
    for name, gold in fs.profiles.items():
        got = extracted.get(name) or {}
        for f, ok in profile_fields(got, gold).items():
            if ok is not None:
                fields.setdefault(f, []).append(ok)
    return {
        "available": True,
        "documents": len(docs),
        "with_profile": len(extracted),
        **{f: round(sum(v) / len(v), 3) for f, v in fields.items()},
        **{f"n_{f}": len(v) for f, v in fields.items()},
    }


# ---------------------------------------------------------------------- asking and scoring
def score(q: FileQuestion, text: str, abstained: bool, cited: Sequence[str], entity_of: dict[str, str]) -> dict:
    """The outcome of one answer, the same for Docket and the peers."""
    names = sorted({Path(c).name for c in cited})
    answered = not abstained
    own = [n for n in names if same_org(entity_of.get(n, ""), q.org)]
    rec: dict[str, Any] = {
        "answered": answered,
        "cited_docs": names,
        "cited_gold": answered and bool(set(names) & q.gold_docs),
        "cited_other_org": answered and other_org_cited(names, q.org, entity_of),
    }
    if q.answerable:
        fact = answered and facts_match(q.keys, text)
        rec["fact"] = fact
        rec["outcome"] = "refused" if abstained else "correct" if fact and own else "wrong"
    else:
        rec["fact"] = None
        rec["outcome"] = "correct" if abstained else "wrong"
    return rec


def question_record(q: FileQuestion) -> dict[str, Any]:
    return {
        "id": q.id,
        "split": q.split,
        "type": q.type,
        "answerable": q.answerable,
        "org": q.org,
        "question": q.text,
        "gold": q.answer,
        "keys": q.keys,
        "gold_docs": sorted(q.gold_docs),
    }


def ask_docket(kb: Any, fs: FileSet, path: str, model: Any, questions: Sequence[FileQuestion], out: Path) -> dict:
    """Every question through ``KnowledgeBase.ask`` (with ``model`` when given); records to ``out``."""
    from docket.errors import DocketError
    from docket.types import Answer

    records = []
    out.parent.mkdir(parents=True, exist_ok=True)
    entity_of = fs.entity_of
    with out.open("w", encoding="utf-8") as fh:
        for i, q in enumerate(questions):
            before = len(model.calls) if model else 0
            t0 = time.perf_counter()
            try:
                answer = kb.ask(q.text, model=model) if model else kb.ask(q.text)
            except DocketError as exc:  # one failed question (a model error) is recorded, not the end of the run
                answer = Answer(q.text, f"(failed: {exc})", True, notes=(f"failed: {exc}",))
            seconds = time.perf_counter() - t0
            cited = [c.path for c in answer.citations]
            rec = {
                **question_record(q),
                "answer": answer.text,
                "abstained": answer.abstained,
                "method": answer.method,
                "notes": list(answer.notes),
                "citations": [c.to_dict() for c in answer.citations],
                "sources": [Path(h.path).name for h in answer.sources],
                "seconds": seconds,
                "calls": model.calls[before:] if model else [],
                **score(q, answer.text, answer.abstained, cited, entity_of),
            }
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            records.append(rec)
            print(
                f"  {fs.name} {path} {i + 1}/{len(questions)} {seconds:.1f}s {rec['outcome']}"
                f"{' (unanswerable)' if not q.answerable else ''}",
                file=sys.stderr,
                flush=True,
            )
    return summarise(records, out)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def summarise(records: Sequence[dict[str, Any]], out: Path | None = None) -> dict[str, Any]:
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    answered = [r for r in records if r["answered"]]
    answered_ans = [r for r in ans if r["answered"]]
    count = {o: sum(r["outcome"] == o for r in ans) for o in ("correct", "wrong", "refused")}
    secs = sorted(r["seconds"] for r in records if r.get("seconds") is not None)
    result: dict[str, Any] = {
        "answerable": len(ans),
        "unanswerable": len(una),
        **count,
        "correct_rate": _rate(count["correct"], len(ans)),
        "wrong_rate": _rate(count["wrong"], len(ans)),
        "refused_rate": _rate(count["refused"], len(ans)),
        "right_doc_of_answered": _rate(sum(r["cited_gold"] for r in answered_ans), len(answered_ans)),
        "right_doc_of_answerable": _rate(sum(r["cited_gold"] for r in ans), len(ans)),
        "other_org_cited": _rate(sum(r["cited_other_org"] for r in answered), len(answered)),
        "fact_in_answer": _rate(sum(bool(r["fact"]) for r in ans), len(ans)),
        "false_abstention": _rate(count["refused"], len(ans)),
        "abstain_unanswerable": _rate(sum(not r["answered"] for r in una), len(una)),
        "s_per_answer_p50": round(statistics.median(secs), 3) if secs else None,
        "s_per_answer_mean": round(statistics.fmean(secs), 3) if secs else None,
        "by_type": {
            t: {"n": len(part), "correct": _rate(sum(r["outcome"] == "correct" for r in part), len(part))}
            for t in sorted({r["type"] for r in ans})
            for part in [[r for r in ans if r["type"] == t]]
        },
    }
    if out is not None:
        result["records"] = str(out)
    return result


def by_split(summary: dict[str, Any]) -> dict[str, Any]:
    """``summary`` plus one summary per split, read back from its records (for ``--split all``)."""
    records = [json.loads(line) for line in Path(summary["records"]).read_text(encoding="utf-8").splitlines()]
    for name in ("dev", "test"):
        part = [r for r in records if r["split"] == name]
        if part:
            summary[name] = summarise(part)
    return summary
