"""The README's headline figures, regenerated from the benchmarks' JSON results.

    python bench/figures.py            # rewrite README.md and bench/RESULTS.md, record sources, plot the scale curve
    python bench/figures.py --check    # exit 1 when README.md or bench/RESULTS.md differs from what the JSON says
    make figures                       # the same as the first line

Every headline figure is one entry of ``REGISTRY`` below: the README row's name, the JSON file it is
read from (a glob), the values it reads (key paths into that JSON), how they are written, its goals
(``<=`` or ``>=`` a target, with the unit) and the command that produces the JSON. The command
rewrites two regions and nothing else:

- README.md between ``<!-- figures:start -->`` and ``<!-- figures:end -->``: one row per figure, with
  its measured value, each goal met or **missed**, the date of the run and the command;
- bench/RESULTS.md between ``<!-- headline:start -->`` and ``<!-- headline:end -->`` (the section
  "Headline figures"): the same, one row per goal, plus the JSON file each figure came from.

Where the JSON comes from. Each figure's ``source`` glob is looked up in two folders: bench/out/
(git-ignored: where a fresh run writes, e.g. ``python bench/latency.py --chunks 100000 --json-out
bench/out/latency-100k-2026-12-08.json``) and bench/out/recorded/ (committed). Of the files that
match, the newest by date wins, provided it has every key the figure reads; a newer file without
them is skipped with a warning naming the missing key, so a benchmark whose output changed shape
never breaks the table silently. A run that writes the table copies each JSON it used from
bench/out/ into bench/out/recorded/, so the README can always be regenerated from the repository
(commit them with the README). The files in bench/out/recorded/ whose ``transcribed_from`` key is
set were written once by hand from bench/RESULTS.md, for figures whose benchmark did not write
JSON when this generator was introduced; a real run of the command replaces them.

The date of a JSON file: its ``date`` key (``YYYY-MM-DD`` first, anything after is ignored), else a
``YYYY-MM-DD`` in its file name. A file with neither is an error naming it.

Key paths: ``a.b.c`` walks objects; ``rows[chunks=1000000,store^=PostgreSQL]`` picks the one item of
a list whose fields equal (``=``; numbers compared as numbers) or start with (``^=``) the given
values; ``rows[0]`` picks by position. Keys may contain ``@`` (``recall@10``).

Expected files and keys (what a benchmark should write for its figure to be picked up; the
recorded files are examples of each):

- ``retrieval-scifact*.json`` (bench/retrieval.py's ``--json``): ``bm25.ndcg@10``, ``dense.ndcg@10``,
  ``hybrid.ndcg@10``, ``date``. A fusion run (``fusion*.json``) is wired by pointing the SciFact
  entry at it with the same keys.
- ``ingest*.json``: ``runs[corpus=clef-handbook]`` and ``runs[corpus=18f-handbook]``, each with
  ``chunks_per_s`` and ``model_share_in_pipeline``; ``load_range``.
- ``latency-100k*.json`` (bench/latency.py ``--json-out``): ``hybrid.end_to_end_ms.p50`` / ``.p95``.
- ``server-load/last-run.json`` (bench/server_load.py writes it) or ``server-load*.json``:
  ``paced`` and ``back_to_back`` with ``requests_per_s``, ``errors``, ``requests``, ``search_p95_ms``,
  ``ask_p95_ms``; ``server_rss_mb.peak``; ``chunks``.
- ``answers-financebench-test*.json``, ``answers-multidoc-test*.json``: ``correct``, ``wrong``,
  ``refused``, ``other_org_cited``, ``fact_in_answer``, ``false_abstention`` (multidoc also
  ``abstain_unanswerable``); ``answers-multidoc-local*.json``: ``docket`` and ``llamaindex`` with
  ``fact`` (right answers of ``questions``) and ``other_org_cited``; ``answers-heldout*.json``:
  ``tatqa.accuracy``, ``tatqa.arithmetic``, ``bankfaq.accuracy``.
- ``ask-latency*.json`` (bench/ask_latency.py ``--json-out``): ``docket.p50_ms``, ``ratio_p50``,
  ``chunks``.
- ``compare*.json``: ``scifact.docket|llamaindex|langchain`` with ``ndcg@10``, ``p50_ms``,
  ``rss_mb``; ``resync*.json``: ``docket.update_s``, ``llamaindex.update_s``, ``langchain.update_s``,
  ``speedup.llamaindex``, ``speedup.langchain``.
- ``postgres-scifact*.json`` (bench/postgres.py ``--json-out``): ``embedded.hybrid``,
  ``postgres.hybrid`` (nDCG@10).
- ``scale*.json`` (bench/scale.py's ``--json``, plus ``date``): ``rows``, each row with ``store``,
  ``chunks``, ``vectors``, ``words``, ``vector_ms``/``hybrid_ms`` (``p50``, ``p95``), ``recall@10``;
  ``keyword_ms`` and ``hybrid_recall@10`` are drawn on the scale curve when a row has them.
- ``builtins-extract*.json``: ``field_accuracy``, ``invoices``; ``ocr*.json``:
  ``tesseract_300.cer_mean``, ``.cer_median``, ``.pages_per_s``, ``tesseract_150.pages_per_s``;
  ``injection-blind-test*.json``: ``scripted.changed``, ``scripted.attacks``,
  ``scripted_no_defence.changed``, ``none.changed``, ``none.attacks``.

The scale curve (p95 latency and recall@10 against chunks, per store and search mode, from the
newest ``scale*.json``) is drawn to bench/plots/scale-curve.svg with matplotlib (the ``bench``
extra) when it is installed.
"""

from __future__ import annotations

import argparse
import decimal
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README_START, README_END = "<!-- figures:start -->", "<!-- figures:end -->"
RESULTS_START, RESULTS_END = "<!-- headline:start -->", "<!-- headline:end -->"
DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
SYMBOL = {"<=": "≤", ">=": "≥"}


class FiguresError(Exception):
    """A source, key or marker the figures need is missing or malformed; the message says which."""


@dataclass(frozen=True)
class Goal:
    """``value`` (a name of :attr:`Figure.values`) must be ``op`` (``<=`` or ``>=``) ``target``."""

    value: str
    op: str
    target: float
    unit: str = ""
    what: str = ""  # how the goal names the value ("search p95, back to back")

    def met(self, measured: float) -> bool:
        if self.op == "<=":
            return measured <= self.target
        if self.op == ">=":
            return measured >= self.target
        raise FiguresError(f"goal on {self.value!r}: comparison {self.op!r} is neither '<=' nor '>='")

    def describe(self) -> str:
        target = f"{self.target:g}{' ' if self.unit and self.unit != '%' and self.unit != '×' else ''}{self.unit}"
        return f"{self.what or self.value} {SYMBOL[self.op]} {target}"


@dataclass(frozen=True)
class Figure:
    name: str
    source: str  # glob(s) separated by "|", looked up in bench/out/ and bench/out/recorded/
    values: dict[str, str]  # name -> key path in the JSON
    text: str  # str.format over the values
    command: str
    goals: tuple[Goal, ...] = ()
    scale: dict[str, float] = field(default_factory=dict)  # value name -> factor applied before formatting


REGISTRY: tuple[Figure, ...] = (
    Figure(
        name="SciFact nDCG@10 (BM25 / semantic / **hybrid**)",
        source="retrieval-scifact*.json",
        values={"bm25": "bm25.ndcg@10", "dense": "dense.ndcg@10", "hybrid": "hybrid.ndcg@10"},
        text="{bm25:.3f} / {dense:.3f} / **{hybrid:.3f}**",
        goals=(Goal("hybrid", ">=", 0.74, what="hybrid"),),
        command="python bench/retrieval.py --beir ../shared/data/beir-scifact --split test --json",
    ),
    Figure(
        name="Ingestion, parsing to index, on two real handbooks",
        source="ingest*.json",
        values={
            "clef": "runs[corpus=clef-handbook].chunks_per_s",
            "f18": "runs[corpus=18f-handbook].chunks_per_s",
            "share_clef": "runs[corpus=clef-handbook].model_share_in_pipeline",
            "share_f18": "runs[corpus=18f-handbook].model_share_in_pipeline",
            "load": "load_range",
        },
        text="{clef:.1f} / {f18:.1f} chunks/s (Clef / 18F), {share_clef:.0%} / {share_f18:.0%} of it in the "
        "embedding model; busy machine (load average {load})",
        goals=(
            Goal("f18", ">=", 30, "chunks/s", what="18F rate"),
            Goal("share_clef", ">=", 0.90, what="model share (within 10% of the model alone)"),
        ),
        command="python bench/ingest.py --folder ../shared/data/clef-handbook --rounds 1 --json",
    ),
    Figure(
        name="Hybrid search at 100,000 passages, query embedding included",
        source="latency-100k*.json",
        values={"p50": "hybrid.end_to_end_ms.p50", "p95": "hybrid.end_to_end_ms.p95"},
        text="{p50:.1f} ms median, {p95:.0f} ms p95",
        goals=(Goal("p50", "<=", 15, "ms", what="p50"), Goal("p95", "<=", 35, "ms", what="p95")),
        command="python bench/latency.py --chunks 100000 --json-out bench/out/latency-100k.json",
    ),
    Figure(
        name="`docket serve --workers auto`, 50 clients, 3 searches to 1 ask",
        source="server-load-*.json|server-load/last-run.json",
        values={
            "chunks": "chunks",
            "paced_rps": "paced.requests_per_s",
            "paced_search": "paced.search_p95_ms",
            "paced_ask": "paced.ask_p95_ms",
            "paced_errors": "paced.errors",
            "b2b_rps": "back_to_back.requests_per_s",
            "b2b_search": "back_to_back.search_p95_ms",
            "b2b_ask": "back_to_back.ask_p95_ms",
            "b2b_errors": "back_to_back.errors",
            "b2b_requests": "back_to_back.requests",
            "peak": "server_rss_mb.peak",
        },
        text="{chunks:,} chunks. 50 requests/s offered: {paced_rps:.1f} served, search p95 {paced_search:.0f} ms, "
        "ask p95 {paced_ask:.0f} ms, {paced_errors} errors; back to back {b2b_rps:.0f} requests/s, search p95 "
        "{b2b_search:,.0f} ms, ask p95 {b2b_ask:,.0f} ms, {b2b_errors} errors in {b2b_requests:,}; "
        "{peak:.0f} MB at the peak",
        goals=(
            Goal("paced_rps", ">=", 50, "requests/s", what="requests/s"),
            Goal("paced_search", "<=", 500, "ms", what="search p95 at 50 requests/s"),
            Goal("b2b_search", "<=", 500, "ms", what="search p95 back to back"),
            Goal("b2b_ask", "<=", 1500, "ms", what="ask p95 back to back"),
            Goal("b2b_errors", "<=", 0, what="errors"),
            Goal("peak", "<=", 1024, "MB", what="server memory"),
        ),
        command="make bench-server",
    ),
    Figure(
        name="Answers on 30 real filings of 15 companies (FinanceBench test, no model)",
        source="answers-financebench-test*.json",
        values={
            "correct": "correct",
            "wrong": "wrong",
            "refused": "refused",
            "other": "other_org_cited",
            "fact": "fact_in_answer",
            "false_abstention": "false_abstention",
        },
        text="{correct} right, {wrong} wrong, {refused} refused; another company's filing cited in {other:.2f} "
        "of answers",
        goals=(
            Goal("fact", ">=", 0.60, what="fact in answer"),
            Goal("false_abstention", "<=", 0.10, what="false abstention"),
            Goal("other", "<=", 0.02, what="other organisation cited"),
        ),
        command="python bench/answers.py --set financebench --split test --json",
    ),
    Figure(
        name="Answers on 40 accident reports and trial protocols (multidoc test, no model)",
        source="answers-multidoc-test*.json",
        values={
            "correct": "correct",
            "wrong": "wrong",
            "refused": "refused",
            "other": "other_org_cited",
            "fact": "fact_in_answer",
            "false_abstention": "false_abstention",
            "abstain": "abstain_unanswerable",
        },
        text="{correct} right, {wrong} wrong, {refused} refused; {abstain:.2f} of unanswerable questions refused; "
        "another organisation's document cited in {other:.2f} of answers",
        goals=(
            Goal("fact", ">=", 0.60, what="fact in answer"),
            Goal("false_abstention", "<=", 0.10, what="false abstention"),
            Goal("abstain", ">=", 0.90, what="unanswerable refused"),
            Goal("other", "<=", 0.02, what="other organisation cited"),
        ),
        command="python bench/answers.py --set multidoc --split test --json",
    ),
    Figure(
        name="Same, packaged local model, first 8 + 8 questions, against LlamaIndex with the same model",
        source="answers-multidoc-local*.json",
        values={
            "fact": "docket.fact",
            "n": "docket.questions",
            "peer_fact": "llamaindex.fact",
            "other": "docket.other_org_cited",
            "peer_other": "llamaindex.other_org_cited",
            "share": "docket.fact_in_answer",
        },
        text="fact in the answer {fact} of {n} (LlamaIndex {peer_fact} of {n}); other reports cited {other:.2f} "
        "(LlamaIndex {peer_other:.2f})",
        goals=(
            Goal("share", ">=", 0.70, what="fact in answer"),
            Goal("other", "<=", 0.02, what="other organisation cited"),
        ),
        command="python bench/answers.py --set multidoc --split test --model local --limit 8 --peer --json",
    ),
    Figure(
        name="TAT-QA / bank FAQ held-out halves, no model (accuracy)",
        source="answers-heldout*.json",
        values={"tatqa": "tatqa.accuracy", "arith": "tatqa.arithmetic", "bank": "bankfaq.accuracy"},
        text="{tatqa:.2f} (arithmetic computed in code: {arith:.2f}) / {bank:.2f}",
        goals=(Goal("tatqa", ">=", 0.60, what="TAT-QA accuracy"),),
        command="python bench/answers.py --sets bankfaq tatqa --split test --limit 60 --removed 20 --json",
    ),
    Figure(
        name="`docket ask`, no model",
        source="ask-latency*.json",
        values={"p50": "docket.p50_ms", "ratio": "ratio_p50", "chunks": "chunks", "load": "machine.load"},
        text="p50 {p50:.1f} ms at {chunks:,} chunks, load average {load:.1f} ({ratio:.1f}× faster than embedding "
        "sentences per question)",
        goals=(Goal("p50", "<=", 60, "ms", what="p50"),),
        command="python bench/ask_latency.py --json-out bench/out/ask-latency.json",
    ),
    Figure(
        name="Against LlamaIndex / LangChain, same model, SciFact",
        source="compare*.json",
        values={
            "ndcg": "scifact.docket.ndcg@10",
            "li_ndcg": "scifact.llamaindex.ndcg@10",
            "lc_ndcg": "scifact.langchain.ndcg@10",
            "p50": "scifact.docket.p50_ms",
            "li_p50": "scifact.llamaindex.p50_ms",
            "lc_p50": "scifact.langchain.p50_ms",
            "rss": "scifact.docket.rss_mb",
            "li_rss": "scifact.llamaindex.rss_mb",
            "lc_rss": "scifact.langchain.rss_mb",
            "lead": "scifact.ndcg_lead",
            "p50_ratio": "scifact.p50_ratio",
            "rss_ratio": "scifact.rss_ratio_langchain",
        },
        text="nDCG@10 {ndcg:.3f} vs {li_ndcg:.3f} / {lc_ndcg:.3f}; query p50 {p50:.1f} ms vs {li_p50:.0f} / "
        "{lc_p50:.0f} ms; query memory {rss:.0f} vs {li_rss:.0f} / {lc_rss:.0f} MB",
        goals=(
            Goal("lead", ">=", 0.02, what="nDCG@10 lead over the best peer"),
            Goal("p50_ratio", "<=", 0.333, what="p50 / each peer's"),
            Goal("rss_ratio", "<=", 0.333, what="memory / LangChain's"),
        ),
        command="make bench-compare",
    ),
    Figure(
        name="Re-sync after changing 1 % of 500 files, against LlamaIndex / LangChain",
        source="resync*.json",
        values={
            "docket": "docket.update_s",
            "li": "llamaindex.update_s",
            "lc": "langchain.update_s",
            "model": "docket.model_s",
            "x_li": "speedup.llamaindex",
            "x_lc": "speedup.langchain",
        },
        text="{docket:.2f} s vs {li:.1f} / {lc:.1f} s ({model:.2f} s of it embedding the changed chunks): "
        "{x_li:.1f}× / {x_lc:.1f}× faster",
        goals=(
            Goal("x_li", ">=", 20, "×", what="speed-up over LlamaIndex"),
            Goal("x_lc", ">=", 20, "×", what="speed-up over LangChain"),
        ),
        command="make bench-compare",
    ),
    Figure(
        name="PostgreSQL + pgvector store, SciFact hybrid nDCG@10",
        source="postgres-scifact*.json",
        values={"pg": "postgres.hybrid", "embedded": "embedded.hybrid"},
        text="{pg:.3f} (embedded {embedded:.3f})",
        command="python bench/postgres.py --beir ../shared/data/beir-scifact --split test --json",
    ),
    Figure(
        name="One million chunks, vector search, PostgreSQL + pgvector",
        source="scale*.json",
        values={
            "p95": "rows[chunks=1000000,store^=PostgreSQL,vectors=mixture].vector_ms.p95",
            "recall": "rows[chunks=1000000,store^=PostgreSQL,vectors=mixture].recall@10",
            "words": "rows[chunks=1000000,store^=PostgreSQL,vectors=mixture].words",
        },
        text="p95 {p95:.1f} ms, recall@10 {recall:.3f} against exact search; synthetic data: embedding-like "
        "vectors (mixtures of real MiniLM embeddings), ~{words}-word passages",
        goals=(
            Goal("p95", "<=", 90, "ms", what="p95"),
            Goal("recall", ">=", 0.95, what="recall@10"),
        ),
        command="python bench/scale.py --sizes 1000000 --stores postgres --json",
    ),
    Figure(
        name="One million chunks, hybrid search (PostgreSQL / embedded)",
        source="scale*.json",
        values={
            "pg": "rows[chunks=1000000,store^=PostgreSQL,vectors=mixture].hybrid_ms.p95",
            "emb": "rows[chunks=1000000,store^=embedded,vectors=mixture].hybrid_ms.p95",
            "pgkw": "rows[chunks=1000000,store^=PostgreSQL,vectors=mixture].keyword_recall@10_vs_exhaustive",
            "embvec": "rows[chunks=1000000,store^=embedded,vectors=mixture].recall@10",
            "rss": "rows[chunks=1000000,store^=embedded,vectors=mixture].rss_mb",
            "anon": "rows[chunks=1000000,store^=embedded,vectors=mixture].RssAnon_mb",
            "words": "rows[chunks=1000000,store^=PostgreSQL,vectors=mixture].words",
        },
        text="p95 {pg:.0f} / {emb:.0f} ms; PostgreSQL keyword recall@10 {pgkw:.3f} against exact BM25, embedded "
        "vector recall@10 {embvec:.3f} (approximate int8 index); embedded query process {rss:.0f} MB RSS, of it "
        "{anon:.0f} MB its own and the rest the memory-mapped index file; same synthetic data (~{words}-word passages)",
        goals=(
            Goal("pg", "<=", 90, "ms", what="p95, PostgreSQL"),
            Goal("emb", "<=", 90, "ms", what="p95, embedded"),
            Goal("pgkw", ">=", 0.95, what="keyword recall@10, PostgreSQL"),
            Goal("embvec", ">=", 0.95, what="vector recall@10, embedded"),
            Goal("rss", "<=", 600, "MB", what="embedded RSS"),
        ),
        command="python bench/scale.py --sizes 1000000 --stores embedded-ann,postgres --max-queries 150 --rounds 2 "
        "--ef-search 1000 --json",
    ),
    Figure(
        name="Invoice extraction, packaged local model (field accuracy)",
        source="builtins-extract*.json",
        values={"accuracy": "field_accuracy", "invoices": "invoices"},
        text="{accuracy:.3f} on {invoices} invoice2data samples",
        command="python bench/builtins.py --model local --only extract --json",
    ),
    Figure(
        name="OCR of rendered scans (Tesseract, 24 pages)",
        source="ocr*.json",
        values={
            "mean": "tesseract_300.cer_mean",
            "median": "tesseract_300.cer_median",
            "pps": "tesseract_300.pages_per_s",
            "pps150": "tesseract_150.pages_per_s",
        },
        scale={"mean": 100, "median": 100},
        text="at 300 dpi: character error rate {mean:.1f} % mean, {median:.1f} % median; "
        "{pps:.2f} pages/s on 2 cores ({pps150:.2f} at 150 dpi)",
        goals=(
            Goal("mean", "<=", 3, "%", what="CER mean"),
            Goal("pps", ">=", 1, "pages/s", what="pages/s at 300 dpi"),
        ),
        command="python bench/ocr.py --engines tesseract --dpi 150,300 --pages 24 --workers 2 --json",
    ),
    Figure(
        name="Prompt injection, 134 attacks written blind, test split, a model that obeys any it sees",
        source="injection-blind-test*.json",
        values={
            "changed": "scripted.changed",
            "attacks": "scripted.attacks",
            "open": "scripted_no_defence.changed",
            "none": "none.changed",
            "none_attacks": "none.attacks",
        },
        text="{changed} of {attacks} changed behaviour ({open} of {attacks} without the checks); answers without "
        "a model {none} of {none_attacks}",
        command="python bench/injection.py --split test --model none --model scripted",
    ),
)


# ---------------------------------------------------------------------------------------------- sources


def lookup(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data`` (syntax in the module docstring); KeyError names the step."""
    current = data
    for step in re.findall(r"[^.\[\]]+(?:\[[^\]]*\])?|\[[^\]]*\]", path):
        name, _, selector = step.partition("[")
        if name:
            if not isinstance(current, dict) or name not in current:
                raise KeyError(f"{path}: no key {name!r}")
            current = current[name]
        if selector:
            current = select(current, selector.rstrip("]"), path)
    return current


def select(items: Any, selector: str, path: str) -> Any:
    if not isinstance(items, list):
        raise KeyError(f"{path}: [{selector}] needs a list")
    if selector.isdigit():
        if int(selector) >= len(items):
            raise KeyError(f"{path}: no item {selector}")
        return items[int(selector)]
    tests = [re.fullmatch(r"([^=^]+)(\^?=)(.*)", part.strip()) for part in selector.split(",")]
    if not all(tests):
        raise FiguresError(f"{path}: cannot read the selector [{selector}] (write field=value or field^=prefix)")

    def matches(item: Any) -> bool:
        for test in tests:
            assert test is not None
            key, op, want = test.groups()
            if not isinstance(item, dict) or key not in item:
                return False
            have = item[key]
            if op == "^=":
                if not str(have).startswith(want):
                    return False
            elif isinstance(have, int | float) and not isinstance(have, bool):
                try:
                    if float(have) != float(want):
                        return False
                except ValueError:
                    return False
            elif str(have) != want:
                return False
        return True

    found = [item for item in items if matches(item)]
    if len(found) != 1:
        raise KeyError(f"{path}: [{selector}] matches {len(found)} items, not one")
    return found[0]


def date_of(path: Path, data: Any) -> str:
    """The run's date as written (``2026-12-08 10:00 UTC`` sorts after ``2026-12-08``); the day is
    its first ten characters."""
    stated = str(data.get("date") or "") if isinstance(data, dict) else ""
    match = DATE.match(stated)
    if match:
        return stated
    match = DATE.search(path.name)
    if match:
        return match.group(1)
    raise FiguresError(f"{path}: no date (add a 'date' key, YYYY-MM-DD, or a date in the file name)")


@dataclass(frozen=True)
class Source:
    path: Path
    stamp: str  # the date as the JSON gives it, for ordering
    data: Any

    @property
    def date(self) -> str:
        return self.stamp[:10]


def candidates(pattern: str, out: Path) -> list[Source]:
    """Files matching ``pattern`` in ``out`` and ``out/recorded``, newest first; of two with the
    same date (a run and its recorded copy), the recorded one."""
    found: list[Source] = []
    paths = {p for glob in pattern.split("|") for folder in (out, out / "recorded") for p in folder.glob(glob.strip())}
    for path in sorted(paths):
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise FiguresError(f"{path}: not valid JSON ({exc}); rerun its benchmark or delete it") from exc
            found.append(Source(path, date_of(path, data), data))
    found.sort(key=lambda s: (s.stamp, s.path.parent == out / "recorded", s.path.name), reverse=True)
    return found


def as_decimal(value: Any, factor: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int) and factor == 1:
        return value
    return decimal.Decimal(repr(value)) * decimal.Decimal(repr(factor))


@dataclass(frozen=True)
class Reading:
    figure: Figure
    source: Source
    values: dict[str, Any]

    def formatted(self) -> str:
        """The figure's text, numbers rounded half up as RESULTS.md writes them (0.6825 -> 0.683;
        a binary float's own rounding would give 0.682)."""
        shown = {k: as_decimal(v, self.figure.scale.get(k, 1)) for k, v in self.values.items()}
        try:
            with decimal.localcontext() as context:
                context.rounding = decimal.ROUND_HALF_UP
                return self.figure.text.format(**shown)
        except (KeyError, ValueError, TypeError) as exc:
            raise FiguresError(f"{self.figure.name}: cannot write {self.figure.text!r} from {shown} ({exc})") from exc

    def verdicts(self) -> list[tuple[Goal, float, bool]]:
        out = []
        for goal in self.figure.goals:
            value = float(self.values[goal.value]) * self.figure.scale.get(goal.value, 1)
            out.append((goal, value, goal.met(value)))
        return out


def read(figure: Figure, out: Path, warnings: list[str]) -> Reading:
    found = candidates(figure.source, out)
    if not found:
        raise FiguresError(
            f"{figure.name}: no JSON matches {figure.source!r} in {out} or {out / 'recorded'}; "
            f"run `{figure.command}` (see bench/figures.py for the keys it must write)"
        )
    for source in found:
        try:
            values = {name: lookup(source.data, path) for name, path in figure.values.items()}
        except KeyError as exc:
            warnings.append(f"skipped {source.path} for {figure.name!r}: {exc.args[0]}")
            continue
        return Reading(figure, source, values)
    raise FiguresError(f"{figure.name}: none of {[str(s.path) for s in found]} has the keys it reads ({warnings[-1]})")


def write_result(path: Path, result: dict[str, Any], argv: list[str] | None = None) -> None:
    """Write a benchmark's JSON result for this generator (a script's ``--json-out PATH``): the
    result plus, unless it has them, its ``date`` (UTC), the ``command`` that produced it and the
    ``machine`` (cores, CPU, load average)."""
    import os
    import platform
    import shlex
    import time

    args = sys.argv if argv is None else argv
    script = Path(args[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo().splitlines() if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    extra = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": shlex.join(["python", str(shown), *args[1:]]),
        "machine": {"nproc": os.cpu_count(), "cpu": cpu, "load_average": [round(x, 2) for x in os.getloadavg()]},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**extra, **result}, indent=2) + "\n", encoding="utf-8")


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------- tables


def goal_cell(reading: Reading) -> str:
    parts = []
    for goal, value, met in reading.verdicts():
        shown = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        parts.append(f"{goal.describe()}: met" if met else f"{goal.describe()}: **missed** ({shown})")
    return "; ".join(parts) or "no goal set"


def command_cell(reading: Reading) -> str:
    stated = reading.source.data.get("command") if isinstance(reading.source.data, dict) else None
    return f"`{stated or reading.figure.command}`"


def readme_table(readings: list[Reading]) -> str:
    lines = [
        "<!-- written by `make figures` (bench/figures.py) from the JSON in bench/out/recorded/: do not edit -->",
        "| figure | measured | goal | date | reproduce |",
        "|---|---|---|---|---|",
    ]
    for r in readings:
        lines.append(f"| {r.figure.name} | {r.formatted()} | {goal_cell(r)} | {r.source.date} | {command_cell(r)} |")
    return "\n".join(lines) + "\n"


def results_table(readings: list[Reading], root: Path) -> str:
    lines = [
        "<!-- written by `make figures` (bench/figures.py): edit the registry there, not this table -->",
        "One row per goal of each figure the README shows; *transcribed* marks a JSON record written by",
        "hand from the dated section of this file, until its benchmark is run again with the command.",
        "",
        "| figure | goal | measured | met | date | command | JSON |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in readings:
        try:
            shown = r.source.path.relative_to(root)
        except ValueError:
            shown = Path(r.source.path.name)
        note = " (transcribed)" if isinstance(r.source.data, dict) and r.source.data.get("transcribed_from") else ""
        tail = f"{r.source.date} | {command_cell(r)} | `{shown}`{note} |"
        verdicts = r.verdicts()
        if not verdicts:
            lines.append(f"| {r.figure.name} | no goal set | {r.formatted()} | – | {tail}")
        for goal, value, met in verdicts:
            unit = "" if goal.unit in ("", "%", "×") else f" {goal.unit}"
            measured = f"{value:.4g}{goal.unit if goal.unit in ('%', '×') else unit}"
            lines.append(f"| {r.figure.name} | {goal.describe()} | {measured} | {'yes' if met else '**no**'} | {tail}")
    plot = "![p95 latency and recall@10 against chunks](plots/scale-curve.svg)"
    lines += ["", f"The scale curve, from the newest scale JSON (`make figures` draws it): {plot}"]
    return "\n".join(lines) + "\n"


def replace_between(text: str, start: str, end: str, body: str, where: Path) -> str:
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise FiguresError(f"{where}: needs exactly one {start} line followed by one {end} line")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}{end}{tail}"


def with_results_section(text: str, body: str) -> str:
    """RESULTS.md with the headline section's region replaced, or the section added before the
    first dated section when the markers are not there yet."""
    if RESULTS_START in text:
        return replace_between(text, RESULTS_START, RESULTS_END, body, Path("bench/RESULTS.md"))
    at = text.find("\n## ")
    section = f"\n## Headline figures\n\n{RESULTS_START}\n{body}{RESULTS_END}\n"
    return text + section if at < 0 else text[:at] + "\n" + section + text[at:]


# ---------------------------------------------------------------------------------------------- plot


def plot_scale(rows: list[dict[str, Any]], path: Path, date: str) -> bool:
    """p95 latency and recall@10 against chunks, per store and mode (mixture vectors only); False
    when matplotlib is not installed (the ``bench`` extra brings it)."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "docket-scale-curve"  # stable ids: the file changes only with the data
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r.get("vectors", "mixture") == "mixture"]
    first_at: dict[Any, int] = {}  # passage length -> the smallest size that used it
    for r in sorted(rows, key=lambda r: int(r["chunks"])):
        first_at.setdefault(r.get("words", "?"), int(r["chunks"]))
    words = "; ".join(f"~{w} words" + (f" from {n:,} chunks" if i else "") for i, (w, n) in enumerate(first_at.items()))
    fig, (lat, rec) = plt.subplots(1, 2, figsize=(11, 5.2))
    colours = {"PostgreSQL": "tab:blue", "embedded": "tab:orange"}
    styles = {"vector": ("-", "o"), "keyword": ("--", "s"), "hybrid": (":", "^")}
    for store in sorted({str(r["store"]) for r in rows}):
        short = store.split(" (")[0]
        mine = sorted((r for r in rows if r["store"] == store), key=lambda r: int(r["chunks"]))
        for mode, (ls, marker) in styles.items():
            points = [(r["chunks"], r[f"{mode}_ms"]["p95"]) for r in mine if f"{mode}_ms" in r]
            if points:
                x, y = zip(*points, strict=True)
                lat.plot(x, y, ls=ls, marker=marker, color=colours.get(short, "tab:gray"), label=f"{short}, {mode}")
            key = "recall@10" if mode == "vector" else f"{mode}_recall@10"
            points = [(r["chunks"], r[key]) for r in mine if key in r]
            if points:
                x, y = zip(*points, strict=True)
                rec.plot(x, y, ls=ls, marker=marker, color=colours.get(short, "tab:gray"), label=f"{short}, {mode}")
    missing = [mode for mode in styles if not any(f"{mode}_ms" in r for r in rows)]
    if missing:  # say so on the plot rather than leave the reader to wonder
        lat.plot([], [], ls="none", label=f"{', '.join(missing)}: not measured in this run")
    lat.axhline(90, color="tab:red", lw=0.8, alpha=0.6, label="goal at 1M: p95 ≤ 90 ms")
    rec.axhline(0.95, color="tab:red", lw=0.8, alpha=0.6, label="goal: recall@10 ≥ 0.95")
    lat.set_yscale("log")
    lat.set_title("retrieval p95, ms (query vector given)", fontsize=10)
    rec.set_title("recall@10 against exact search (vector search unless named)", fontsize=10)
    rec.set_ylim(min(0.9, *(a for line in rec.get_lines() for a in line.get_ydata())) - 0.01, 1.005)
    for ax in (lat, rec):
        ax.set_xscale("log")
        ax.set_xlabel(f"chunks (synthetic passages: {words})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Scale curve, run of {date} (bench/scale.py; synthetic embedding-like vectors)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------------------------- main


@dataclass
class Outcome:
    readme: str
    results: str
    readings: list[Reading]
    warnings: list[str]


def generate(root: Path, registry: tuple[Figure, ...] | None = None) -> Outcome:
    """What README.md and bench/RESULTS.md under ``root`` should contain, from ``root/bench/out``
    (``registry`` defaults to :data:`REGISTRY`)."""
    out = root / "bench" / "out"
    warnings: list[str] = []
    readings = [read(figure, out, warnings) for figure in (REGISTRY if registry is None else registry)]
    readme_path, results_path = root / "README.md", root / "bench" / "RESULTS.md"
    readme = replace_between(
        readme_path.read_text(encoding="utf-8"), README_START, README_END, readme_table(readings), readme_path
    )
    results = with_results_section(results_path.read_text(encoding="utf-8"), results_table(readings, root))
    return Outcome(readme, results, readings, warnings)


def record(readings: list[Reading], out: Path) -> list[Path]:
    """Copy each JSON the tables used from ``out`` into ``out/recorded`` (to be committed)."""
    copied = []
    for r in readings:
        path = r.source.path
        if path.parent == out / "recorded":
            continue
        if DATE.search(path.name):
            name = path.name
        else:  # out/latency-100k.json -> latency-100k-DATE.json; out/server-load/last-run.json -> server-load-DATE.json
            name = f"{path.parent.name if path.parent != out else path.stem}-{r.source.date}.json"
        target = out / "recorded" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != path.read_bytes():
            shutil.copyfile(path, target)
            copied.append(target)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw bench/plots/scale-curve.svg")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        outcome = generate(root)
    except FiguresError as exc:
        print(f"figures: {exc}", file=sys.stderr)
        return 2
    for warning in outcome.warnings:
        print(f"figures: {warning}", file=sys.stderr)
    targets = {root / "README.md": outcome.readme, root / "bench" / "RESULTS.md": outcome.results}
    if args.check:
        stale = [p for p, text in targets.items() if p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"figures: {path} is out of date with the JSON; run `make figures`", file=sys.stderr)
        return 1 if stale else 0
    for path, text in targets.items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"figures: wrote {path}")
    copied = record(outcome.readings, root / "bench" / "out")
    for path in copied:
        print(f"figures: recorded {path} (commit it with the README)")
    if copied:  # the tables name the recorded copies, which a fresh clone has
        outcome = generate(root)
        for path, text in {root / "README.md": outcome.readme, root / "bench" / "RESULTS.md": outcome.results}.items():
            path.write_text(text, encoding="utf-8")
    scale = next((r for r in outcome.readings if r.figure.source.startswith("scale")), None)
    if scale is not None and not args.no_plot:
        plot = root / "bench" / "plots" / "scale-curve.svg"
        if plot_scale(list(scale.source.data["rows"]), plot, scale.source.date):
            print(f"figures: drew {plot}")
        else:
            print("figures: matplotlib is not installed (pip install -e '.[bench]'); scale curve not drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
