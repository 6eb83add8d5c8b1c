"""Answer quality and speed: the extractive path (no model) against generated answers.

    python bench/answers.py --json                       # extractive + the packaged local model
    python bench/answers.py --limit 10 --removed 5      # a smaller run
    python bench/answers.py --model                      # extractive only (no model at all)

Two sets from ../shared/data (benchmarks only; neither may ship: TAT-QA is CC BY 4.0, the bank FAQ
states no licence; everything derived lands in the git-ignored bench/out):

- ``bankfaq``: documents are the distinct answers of the HDFC bank FAQ, questions are its questions
  (the same documents and ids as make_sets.py's retrieval check set: answers only, so a question
  never matches its own text).
- ``tatqa``: documents are the 278 TAT-QA dev contexts (paragraphs, then the table one row a line,
  as in make_sets.py), questions are their questions with gold answers (span, multi-span, count,
  arithmetic; with a scale).

For each set a fixed random sample (``--seed``) of ``--removed`` questions is drawn first; their
gold documents, and any document nearly identical to one of them (content-word Jaccard ≥ 0.6),
are left out of the knowledge base: on those questions the right outcome is an abstention. Then
``--limit`` answerable questions (all gold documents present) are drawn. Every path answers every
question through ``KnowledgeBase.ask`` with the default settings (hybrid search, top 6 passages).

Metrics, per set and path:

- accuracy (answerable questions; an abstention is wrong):
  - bankfaq: at least half of the gold answer's content words (stop words removed, crude 5-letter
    stems as in extractive scoring) appear in the answer;
  - tatqa: the gold answer appears in the answer. Numbers are compared as numbers: commas, ``$``,
    ``%``, parentheses, signs and scale words (thousand, million, billion) are normalised, the gold
    value is tried as written and times its scale (``percent``: also as a fraction); a number in
    the answer matches when the gold value rounded to the answer's decimals equals it and it is
    within 5 % of the gold value (sign ignored: "decreased by 12.6" answers -12.6). Text spans must
    appear after lower-casing and removing punctuation; every span of a multi-span answer must.
  ``[n]`` markers are removed first. This is containment, so an answer that quotes a whole table row
  gets credit for the right cell (the extractive path does that: see ``answer_chars``).
- single-cell exact (TAT-QA span answers read from one table cell): the value the answer states
  is that cell and nothing else: the answer's first line, after its label ("Billed receivables:
  239,275 [1]" states 239,275; a quoted sentence or row states itself), compared without currency
  signs, thousands separators, a trailing unit in parentheses or citation markers.
- gold cited: the answer does not abstain and cites a gold document (lenient accuracy).
- citation precision: share of citations with ``supported`` true (all questions, micro-average).
  Extractive citations quote the sentence itself, so they are supported by construction.
- abstention on removed questions, and wrong abstentions on answerable ones (``Answer.abstained``).
- tokens: mean prompt and completion tokens per model call (retries counted); prefill and
  generation speed from llama.cpp's own counters (prompt tokens it evaluated / prompt time; tokens
  generated / generation time) when the model is local, else completion tokens / model seconds.
- seconds per answer: wall time of each ``ask`` (retrieval, scoring, model), mean and p50, over
  all questions (early abstentions without a model call included).

Per-question records (question, gold, answer, citations, the model's raw completions, the answer
log id in the set's knowledge base) go to ``HOME/SET/answers-PATH.jsonl``. The packaged model is
assembled once into ``HOME/models`` (``HOME`` defaults to bench/out/answers).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_sets import FILE_SETS
from docket import KnowledgeBase, load_settings
from docket.index.keywords import query_terms
from docket.models.embedders import EMBEDDERS
from docket.sentences import words
from docket.types import Answer
from retrieval import build_index

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "out" / "answers"
SETS = ("bankfaq", "tatqa")


@dataclass
class Question:
    id: str
    text: str
    gold_docs: set[str]
    answer: Any  # bankfaq: str; tatqa: list of spans, or a number
    kind: str = ""  # tatqa answer_type
    scale: str = ""
    single_cell: bool = False  # tatqa: a span answer read from one table cell


@dataclass
class QASet:
    name: str
    docs: dict[str, str]
    questions: list[Question] = field(default_factory=list)


# ---------------------------------------------------------------------- loading (ids as make_sets.py)
def load_bankfaq() -> QASet:
    answers: dict[str, str] = {}
    questions: dict[str, Question] = {}
    with (DATA / "bank-faqs-hdfc" / "BankFAQs.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            a, q = " ".join(row["Answer"].split()), " ".join(row["Question"].split())
            if a and q:
                aid = answers.setdefault(a, f"a{len(answers)}")
                if q not in questions:
                    questions[q] = Question(f"q{len(questions)}", q, set(), [])
                questions[q].gold_docs.add(aid)
                questions[q].answer.append(a)
    docs = {v: k for k, v in answers.items()}
    out = list(questions.values())
    for q in out:
        q.answer = " ".join(q.answer)  # duplicates in the CSV: all of its answers count
    return QASet("bankfaq", docs, out)


def load_tatqa() -> QASet:
    contexts = json.loads((DATA / "tat-qa" / "tatqa_dataset_dev.json").read_text(encoding="utf-8"))
    qa = QASet("tatqa", {})
    for i, c in enumerate(contexts):
        paragraphs = " ".join(p["text"] for p in sorted(c["paragraphs"], key=lambda p: p["order"]))
        table = "\n".join(" | ".join(cell for cell in row if cell) for row in c["table"]["table"])
        qa.docs[f"c{i}"] = paragraphs + "\n" + table
        cells = {_cell(cell) for row in c["table"]["table"] for cell in row if cell.strip()}
        for q in c["questions"]:
            one = isinstance(q["answer"], list) and len(q["answer"]) == 1
            single = q["answer_type"] == "span" and q.get("answer_from") == "table" and one
            qa.questions.append(
                Question(
                    f"q{len(qa.questions)}",
                    q["question"],
                    {f"c{i}"},
                    q["answer"],
                    q["answer_type"],
                    q["scale"],
                    single_cell=single and _cell(str(q["answer"][0])) in cells,
                )
            )
    return qa


def _cell(text: str) -> str:
    """A table cell or an answer, normalised for the single-cell exact match: citation markers, case,
    currency signs, thousands separators, % and surrounding punctuation and spaces removed; a
    figure in parentheses is negative."""
    text = _MARK.sub(" ", text).lower().replace(",", "").replace("$", "").replace("%", "")
    text = " ".join(text.split()).strip(" .;:")
    return re.sub(r"^\(([\d.]+)\)$", r"-\1", text)  # "(1.9)" is how accounts write -1.9


def stated_value(text: str) -> str:
    """The value an answer states: its first line after a leading label ("Label: value"), without a
    trailing unit in parentheses ("(in thousands)")."""
    first = _MARK.sub(" ", text.strip().split("\n", 1)[0]).strip()
    label = re.match(r"^[^:]{1,120}:\s+(?=\S)", first)
    value = first[label.end() :] if label else first
    return re.sub(r"\s*\((?:in\s+)?[a-z ]+\)\s*$", "", value.strip())


LOADERS: dict[str, Callable[[], QASet]] = {"bankfaq": load_bankfaq, "tatqa": load_tatqa}


def _content(text: str) -> set[str]:
    return {w[:5] for w in query_terms(text)}


def split(qa: QASet, answerable: int, removed: int, seed: int) -> tuple[list[Question], list[Question], set[str]]:
    """Draw the removed questions and the documents to leave out, then the answerable questions."""
    order = sorted(qa.questions, key=lambda q: int(q.id[1:]))
    random.Random(seed).shuffle(order)
    gone_q = order[:removed]
    gold = set().union(*(q.gold_docs for q in gone_q)) if gone_q else set()
    vocab = {d: _content(t) for d, t in qa.docs.items()}
    gone = set(gold)
    for d, terms in vocab.items():
        for g in gold:
            union = len(terms | vocab[g])
            if d not in gone and union and len(terms & vocab[g]) / union >= 0.6:
                gone.add(d)
    kept = [q for q in order[removed:] if not q.gold_docs & gone][:answerable]
    return kept, gone_q, gone


# ---------------------------------------------------------------------- scoring
_MARK = re.compile(r"\[\d{1,3}\]")
_NUM = re.compile(
    r"(?<![\w.])(\()?([-−–]\s?)?\$?\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\))?\s?(%|percent\b|per cent\b)?"
    r"\s?(thousand|million|billion|bn|mn|m|k)?\b",
    re.IGNORECASE,
)
_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9}
_GOLD_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "percent": 0.01}
_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()


def numbers(text: str) -> list[tuple[float, int, float]]:
    """(absolute mantissa, decimals, multiplier) of each number written in ``text``."""
    found = []
    for m in _NUM.finditer(text):
        whole, frac, scale = m.group(3), m.group(4) or "", (m.group(7) or "").lower()
        found.append((float(whole.replace(",", "") + frac), max(len(frac) - 1, 0), _SCALE.get(scale, 1.0)))
    for i, word in enumerate(_WORDS):
        if re.search(rf"\b{word}\b", text, re.IGNORECASE):
            found.append((float(i), 0, 1.0))
    return found


def _as_number(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace(",", "").replace("$", "").replace("%", "").strip()
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()").strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return -number if negative else number


def number_in(gold: float, scale: str, found: list[tuple[float, int, float]]) -> bool:
    candidates = {abs(gold), abs(gold) * _GOLD_SCALE.get(scale, 1.0)}
    for mantissa, decimals, mult in found:
        for c in candidates:
            target = c / mult
            if abs(round(target, decimals) - mantissa) < 1e-6 and abs(mantissa - target) <= 0.05 * max(target, 1e-9):
                return True
    return False


def _norm(text: str) -> str:
    return " " + " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split()) + " "


def tatqa_correct(q: Question, answer: str) -> bool:
    text = _MARK.sub(" ", answer)
    spans = q.answer if isinstance(q.answer, list) else [q.answer]
    found = numbers(text)
    for span in spans:
        value = _as_number(span)
        if value is not None:
            if not number_in(value, q.scale, found):
                return False
        elif _norm(str(span)).strip() not in _norm(text):
            return False
    return bool(spans)


def bankfaq_recall(q: Question, answer: str) -> float:
    gold = _content(q.answer)
    if not gold:
        return 0.0
    got = {w[:5] for w in words(_MARK.sub(" ", answer).lower())}
    return len(gold & got) / len(gold)


_ABSTAIN_LIKE = re.compile(
    r"(do(es)? not (contain|mention|provide|include|specify|say)|not (mentioned|provided|specified|stated|available)"
    r"|no (information|mention)|don't know|do not know|cannot (find|determine|answer)|can't (find|determine)"
    r"|couldn't find|unable to)",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------- the model, timed
class Timed:
    """Wraps a chat model: records each completion's raw text, seconds and llama.cpp counters."""

    def __init__(self, chat: Any) -> None:
        self.chat, self.name = chat, chat.name
        self.calls: list[dict[str, Any]] = []

    def _ctx(self) -> Any:
        try:
            import llama_cpp

            return llama_cpp, self.chat._llm._ctx.ctx
        except (AttributeError, ImportError):
            return None, None

    def complete(self, prompt: Any, stream: Callable[[str], None] | None = None) -> Any:
        lib, ctx = self._ctx()
        if ctx is not None:
            lib.llama_perf_context_reset(ctx)
        completion = self.chat.complete(prompt, stream=stream)
        call: dict[str, Any] = {
            "raw": completion.text,
            "seconds": completion.seconds,
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
        }
        if ctx is not None:
            perf = lib.llama_perf_context(ctx)
            call.update(
                prefill_tokens=perf.n_p_eval,
                prefill_s=perf.t_p_eval_ms / 1000,
                gen_tokens=perf.n_eval,
                gen_s=perf.t_eval_ms / 1000,
            )
        self.calls.append(call)
        return completion


# ---------------------------------------------------------------------- running
def open_kb(qa: QASet, gone: set[str], home: Path) -> KnowledgeBase:
    """The set's knowledge base without the removed documents; rebuilt only when the corpus changed."""
    corpus = [{"_id": d, "title": "", "text": t} for d, t in qa.docs.items() if d not in gone]
    settings = load_settings(home=home, environ={})
    key = hashlib.sha256(
        json.dumps([qa.name, sorted(gone), len(corpus), settings.embedder.name, settings.chunking.max_tokens]).encode()
    ).hexdigest()
    manifest = home / "manifest.json"
    if not (manifest.is_file() and json.loads(manifest.read_text())["key"] == key):
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        info = build_index(corpus, home, EMBEDDERS.create(settings.embedder.name), settings)
        manifest.write_text(json.dumps({"key": key, "documents": len(corpus), **info}))
    return KnowledgeBase(settings)


def _load() -> float | None:
    """The 1-minute load average: other processes on a small machine slow the model down a lot."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def ask_all(
    kb: KnowledgeBase, qa: QASet, path: str, model: Timed | None, answerable: list[Question], removed: list[Question]
) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    out = kb.settings.home / f"answers-{path.replace(':', '_')}.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for i, (q, is_removed) in enumerate([(q, False) for q in answerable] + [(q, True) for q in removed]):
            before = len(model.calls) if model else 0
            t0 = time.perf_counter()
            answer: Answer = kb.ask(q.text, model=model) if model else kb.ask(q.text)
            seconds = time.perf_counter() - t0
            calls = model.calls[before:] if model else []
            cited = {c.path for c in answer.citations}
            rec: dict[str, Any] = {
                "id": q.id,
                "removed": is_removed,
                "question": q.text,
                "gold": q.answer,
                "kind": q.kind,
                "scale": q.scale,
                "gold_docs": sorted(q.gold_docs),
                "answer": answer.text,
                "abstained": answer.abstained,
                "method": answer.method,
                "notes": list(answer.notes),
                "citations": [c.to_dict() for c in answer.citations],
                "cited_gold": bool(cited & q.gold_docs) and not answer.abstained,
                "seconds": seconds,
                "load1": _load(),
                "calls": calls,
                "log_id": kb.ledger.answer_logs(limit=1)[0]["id"],
                "abstain_like": not answer.abstained and bool(_ABSTAIN_LIKE.search(answer.text)),
                "fallback": any("extractive answer instead" in n for n in answer.notes),
            }
            if qa.name == "tatqa":
                rec["correct"] = not answer.abstained and tatqa_correct(q, answer.text)
                rec["single_cell"] = q.single_cell
                rec["exact"] = (
                    not answer.abstained and _cell(stated_value(answer.text)) == _cell(str(q.answer[0]))
                    if q.single_cell
                    else None
                )
            else:
                rec["recall"] = round(bankfaq_recall(q, answer.text), 3)
                rec["correct"] = not answer.abstained and rec["recall"] >= 0.5
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            records.append(rec)
            print(
                f"  {qa.name} {path} {i + 1}/{len(answerable) + len(removed)} {seconds:.1f}s "
                f"{'removed' if is_removed else 'ok' if rec['correct'] else 'wrong'}"
                f"{' abstained' if answer.abstained else ''}",
                file=sys.stderr,
                flush=True,
            )
    return summarise(records, qa.name, out)


def summarise(records: list[dict[str, Any]], set_name: str, out: Path) -> dict[str, Any]:
    ans = [r for r in records if not r["removed"]]
    rem = [r for r in records if r["removed"]]
    cits = [c for r in records for c in r["citations"]]
    generated = [c for r in records if r["method"] == "generated" for c in r["citations"]]
    calls = [c for r in records for c in r["calls"]]
    secs = sorted(r["seconds"] for r in records)
    result: dict[str, Any] = {
        "answerable": len(ans),
        "removed": len(rem),
        "accuracy": _mean([float(r["correct"]) for r in ans]),
        "gold_cited": _mean([float(r["cited_gold"]) for r in ans]),
        "citations": len(cits),
        "citation_precision": _mean([float(c.get("supported", False)) for c in cits]),
        # without the extractive fallbacks (whose citations are supported by construction)
        "citation_precision_generated": _mean([float(c.get("supported", False)) for c in generated]),
        "abstain_removed": _mean([float(r["abstained"]) for r in rem]),
        "abstain_answerable": _mean([float(r["abstained"]) for r in ans]),
        "abstain_like_not_flagged": sum(r["abstain_like"] for r in records),
        "abstain_like_not_flagged_removed": sum(r["abstain_like"] for r in rem),
        "fallbacks": sum(r["fallback"] for r in records),
        "answer_chars": _mean([len(r["answer"]) for r in ans if not r["abstained"]]),
        "s_per_answer_mean": _mean(secs),
        "s_per_answer_p50": round(statistics.median(secs), 3) if secs else None,
        "model_calls": len(calls),
        "load1_mean": _mean([r["load1"] for r in records if r["load1"] is not None]),
        "records": str(out),
    }
    if set_name == "tatqa":
        for label, kinds in (("arithmetic", {"arithmetic"}), ("span_count", {"span", "multi-span", "count"})):
            part = [r for r in ans if r["kind"] in kinds]
            result[f"accuracy_{label}"] = _mean([float(r["correct"]) for r in part])
            result[f"n_{label}"] = len(part)
        # TAT-QA's single-cell table questions (answer_from table, one span that is a cell): the
        # whole answer must be that cell after normalisation (_cell), not merely contain it
        cells = [r for r in ans if r.get("single_cell")]
        result["single_cell_exact"] = _mean([float(r["exact"]) for r in cells])
        result["n_single_cell"] = len(cells)
    if calls:
        result["prompt_tokens_mean"] = _mean([c["prompt_tokens"] for c in calls])
        result["completion_tokens_mean"] = _mean([c["completion_tokens"] for c in calls])
        result["model_s_mean"] = _mean([c["seconds"] for c in calls])
        if all("gen_s" in c for c in calls):
            result["prefill_tok_per_s"] = round(
                sum(c["prefill_tokens"] for c in calls) / max(sum(c["prefill_s"] for c in calls), 1e-9), 1
            )
            result["gen_tok_per_s"] = round(
                sum(c["gen_tokens"] for c in calls) / max(sum(c["gen_s"] for c in calls), 1e-9), 1
            )
            result["prefill_tokens_mean"] = _mean([c["prefill_tokens"] for c in calls])
        else:
            result["gen_tok_per_s"] = round(
                sum(c["completion_tokens"] for c in calls) / max(sum(c["seconds"] for c in calls), 1e-9), 1
            )
        result["completion_tok_per_model_s"] = round(
            sum(c["completion_tokens"] for c in calls) / max(sum(c["seconds"] for c in calls), 1e-9), 1
        )
    return result


def half(qa: QASet, part: str) -> QASet:
    """``qa`` with the questions of one half: bank FAQ questions of even number and TAT-QA questions
    of even-numbered contexts are ``dev`` (bench/calibrate.py chooses settings on them), the odd
    ones ``test``; ``all`` keeps every question. The documents stay: the other half's are distractors."""
    if part == "all":
        return qa

    def number(q: Question) -> int:
        return int(q.id[1:]) if qa.name == "bankfaq" else int(next(iter(q.gold_docs))[1:])

    wanted = 0 if part == "dev" else 1
    qa.questions = [q for q in qa.questions if number(q) % 2 == wanted]
    return qa


def run(
    sets: list[str], specs: list[str], home: Path, answerable: int, removed: int, seed: int, part: str = "all"
) -> dict[str, Any]:
    started = time.perf_counter()
    home.mkdir(parents=True, exist_ok=True)
    models: dict[str, Timed] = {}
    for spec in specs:
        # built from a knowledge base at HOME, so that `local` is assembled once into HOME/models; the
        # knowledge base stays open while the model is used (closing it closes its models)
        base = KnowledgeBase(load_settings(home=home, environ={}))
        t0 = time.perf_counter()
        models[spec] = Timed(base.chat_model(spec))
        print(f"loaded {models[spec].name} in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    result: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "seed": seed, "sets": {}}
    for name in sets:
        qa = half(LOADERS[name](), part)
        ok, gone_q, gone = split(qa, answerable, removed, seed)
        t0 = time.perf_counter()
        with open_kb(qa, gone, home / "sets" / name) as kb:
            entry: dict[str, Any] = {
                "documents": len(qa.docs) - len(gone),
                "documents_removed": len(gone),
                "kb_s": round(time.perf_counter() - t0, 1),
                "paths": {},
            }
            entry["paths"]["extractive"] = ask_all(kb, qa, "extractive", None, ok, gone_q)
            for spec, chat in models.items():
                entry["paths"][spec] = ask_all(kb, qa, spec, chat, ok, gone_q)
        result["sets"][name] = entry
    for chat in models.values():
        close = getattr(chat.chat, "close", None)
        if close:
            close()
    result["models"] = {spec: chat.name for spec, chat in models.items()}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(result: dict[str, Any]) -> str:
    lines = [
        "| set | path | accuracy | gold cited | citation precision | abstain on removed | wrong abstain "
        "| prompt / completion tok | prefill / gen tok/s | s/answer mean / p50 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in result["sets"].items():
        for path, r in entry["paths"].items():
            tokens = (
                f"{_f(r.get('prompt_tokens_mean'), 0)} / {_f(r.get('completion_tokens_mean'), 0)}"
                if r.get("model_calls")
                else "—"
            )
            speed = (
                f"{_f(r.get('prefill_tok_per_s'), 0)} / {_f(r.get('gen_tok_per_s'), 1)}"
                if r.get("model_calls")
                else "—"
            )
            precision = _f(r["citation_precision"])
            if r.get("model_calls"):
                precision += f" ({_f(r['citation_precision_generated'])} generated)"
            lines.append(
                f"| {name} ({r['answerable']} + {r['removed']} removed) | {path} | {_f(r['accuracy'])} | "
                f"{_f(r['gold_cited'])} | {precision} | {_f(r['abstain_removed'])} | "
                f"{_f(r['abstain_answerable'])} | {tokens} | {speed} | "
                f"{_f(r['s_per_answer_mean'])} / {_f(r['s_per_answer_p50'])} |"
            )
    return "\n".join(lines)


def run_files(
    sets: list[str], specs: list[str], home: Path, split_name: str, limit: int | None, keep: bool, peer: bool
) -> dict[str, Any]:
    """The file-backed sets (financebench, multidoc): one cached knowledge base per set, every path
    on the same questions, then (``peer``) LlamaIndex's query engine with the same local model."""
    from answer_sets import FILE_LOADERS, ask_docket, by_split, open_file_kb, profile_accuracy, select

    started = time.perf_counter()
    models: dict[str, Timed] = {}
    for spec in specs:
        base = KnowledgeBase(load_settings(home=home, environ={}))  # open while its model is used
        models[spec] = Timed(base.chat_model(spec))
    result: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "split": split_name, "sets": {}}
    for name in sets:
        fs = FILE_LOADERS[name]()
        questions = select(fs.questions, split_name, limit)
        kb, info = open_file_kb(fs, home / "kb" / name, keep=keep)
        with kb:
            entry: dict[str, Any] = {"documents": len(fs.files()), "kb": info, "paths": {}}
            entry["profiles"] = profile_accuracy(kb, fs)
            out = home / name
            entry["paths"]["extractive"] = by_split(
                ask_docket(kb, fs, "extractive", None, questions, out / f"answers-extractive-{split_name}.jsonl")
            )
            for spec, chat in models.items():
                entry["paths"][spec] = by_split(
                    ask_docket(
                        kb, fs, spec, chat, questions, out / f"answers-{spec.replace(':', '_')}-{split_name}.jsonl"
                    )
                )
        if peer:
            from answer_peer import run_llamaindex

            entry["paths"]["LlamaIndex + local"] = by_split(run_llamaindex(fs, questions, home, split_name))
        result["sets"][name] = entry
    for chat in models.values():
        close = getattr(chat.chat, "close", None)
        if close:
            close()
    result["models"] = {spec: chat.name for spec, chat in models.items()}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def files_table(result: dict[str, Any]) -> str:
    lines = [
        "| set | path | correct / wrong / refused | right doc cited (answered / all) | other org cited "
        "| fact in answer | false abstention | abstain on unanswerable | s/answer p50 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in result["sets"].items():
        for path, r in entry["paths"].items():
            lines.append(
                f"| {name} {result['split']} ({r['answerable']} + {r['unanswerable']}) | {path} | "
                f"{r['correct']} / {r['wrong']} / {r['refused']} | {_f(r['right_doc_of_answered'])} / "
                f"{_f(r['right_doc_of_answerable'])} | {_f(r['other_org_cited'])} | {_f(r['fact_in_answer'])} | "
                f"{_f(r['false_abstention'])} | {_f(r['abstain_unanswerable'])} | {_f(r['s_per_answer_p50'])} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--set",
        dest="set_list",
        metavar="A,B",
        help=f"comma-separated sets: {', '.join(SETS + FILE_SETS)} (default: {','.join(SETS)})",
    )
    parser.add_argument("--sets", nargs="+", choices=SETS, help="the retrieval-built sets (older spelling of --set)")
    parser.add_argument(
        "--model",
        nargs="*",
        default=None,
        metavar="SPEC",
        help="model specs to compare with the extractive path (bankfaq/tatqa default: local; financebench/"
        "multidoc default: none; a bare --model: extractive only)",
    )
    parser.add_argument(
        "--split",
        choices=("dev", "test", "all"),
        default="all",
        help="financebench/multidoc: their splits; bankfaq/tatqa: dev is the even half (calibrate.py's), test the odd",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="answerable questions per set (bankfaq/tatqa default 40; "
        "financebench/multidoc: the first N answerable and N unanswerable of the split; default all)",
    )
    parser.add_argument("--removed", type=int, default=15, help="questions whose documents are removed (default 15)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", type=Path, default=OUT, help=f"where knowledge bases and models go (default {OUT})")
    parser.add_argument(
        "--keep-index",
        action="store_true",
        help="reuse a cached knowledge base even if the "
        "ingest code changed since it was built (files are still synced)",
    )
    parser.add_argument(
        "--peer",
        action="store_true",
        help="also LlamaIndex's query engine with the packaged local model served by llama.cpp (financebench/multidoc)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    chosen = args.set_list.split(",") if args.set_list else (args.sets or list(SETS))
    unknown = [s for s in chosen if s not in SETS + FILE_SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS + FILE_SETS)}")
    result: dict[str, Any] = {}
    lines: list[str] = []
    legacy, files = [s for s in chosen if s in SETS], [s for s in chosen if s in FILE_SETS]
    if legacy:
        specs = ["local"] if args.model is None else args.model
        result["retrieval_sets"] = run(legacy, specs, args.home, args.limit or 40, args.removed, args.seed, args.split)
        lines.append(table(result["retrieval_sets"]))
    if files:
        specs = args.model or []
        result["file_sets"] = run_files(files, specs, args.home, args.split, args.limit, args.keep_index, args.peer)
        lines.append(files_table(result["file_sets"]))
    if args.json:
        print(json.dumps(result if len(result) > 1 else next(iter(result.values())), indent=2))
    else:
        print("\n\n".join(lines))


if __name__ == "__main__":
    main()
