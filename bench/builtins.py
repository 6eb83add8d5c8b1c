"""Every built-in workflow, end to end on the shared data, with one model: what it gets right and how long it takes.

    python bench/builtins.py --model local [--only extract,support-reply] [--json]
    python bench/builtins.py --model openai:MODEL      # with DOCKET_OPENAI_BASE_URL / OPENAI_API_KEY

Per workflow: items run, items failed (with the first error), seconds per item and, where the
data has answers, a quality figure:

- ``extract`` on ../shared/data/invoice2data-samples: field accuracy against the expected JSON
  (vendor, number, date, currency, total; the rules of bench/extract.py).
- ``support-reply`` over ../shared/data/bank-faqs-hdfc as the knowledge base: for questions taken
  from the FAQ, the share of drafts not escalated whose citations include the FAQ's own row; for
  questions the FAQ does not cover, the share escalated.
- ``ticket-triage`` on the same questions plus a few written tickets in other languages: the share
  whose ``language`` is right, and the label counts.
- ``report`` on ../shared/data/sample-superstore: whether the narrative passed the check that it
  only quotes computed figures.
- ``call-to-crm`` and ``sales-followup`` (no public gold data): items that produced schema-valid
  output.

A benchmark, not a test: it needs a model, and the packaged local one takes minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docket.config import load_settings
from docket.kb import KnowledgeBase
from docket.workflows import resolve_workflow, run_workflow
from extract import FIELDS, SAMPLES, same

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BANK_FAQ = DATA / "bank-faqs-hdfc" / "BankFAQs.csv"
SUPERSTORE = DATA / "sample-superstore" / "Sample - Superstore.csv"
OUT_OF_SCOPE = [
    "Can you recommend a good pizza place near your Mumbai branch?",
    "My neighbour's dog keeps barking at night, what should I do?",
    "What is the weather forecast for Delhi this weekend?",
    "Please write me a poem about the sea.",
]
OTHER_LANGUAGES = [
    ("¿Cómo puedo bloquear mi tarjeta de crédito si la pierdo?", "es"),
    ("Comment puis-je changer l'adresse de mon compte ?", "fr"),
    ("Wie kann ich mein Passwort für das Online-Banking zurücksetzen?", "de"),
]
CALLS = {
    "acme.txt": "Sam: Thanks for joining, Dana. Dana Lee here, ops lead at Acme Robotics, dana@acme.io, "
    "555-0100. We need to cut onboarding time for new technicians. Budget is about 12,000 dollars and we "
    "want to decide by end of Q3. My worry is the migration effort and the per-seat price. "
    "Sam: I'll send a proposal on Friday.",
    "brightside.txt": "Call with Omar from Brightside Dental. He wants appointment reminders by SMS. "
    "No budget yet. Timeline: next quarter. No concerns raised. Next: a demo next Tuesday.",
}
REPORT_SPEC = """title: Sales by category
date_column: Order Date
period: year
metrics:
  - {name: revenue, column: Sales, agg: sum}
  - {name: orders, column: Order ID, agg: count_distinct}
breakdowns: [Category]
"""


def _faq_sample(n: int, seed: int = 7) -> list[tuple[int, str]]:
    """(CSV row number as the parser numbers it, question) for ``n`` FAQ rows picked at random."""
    with BANK_FAQ.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    picked = random.Random(seed).sample(range(len(rows)), n)
    return [(i + 2, rows[i]["Question"]) for i in sorted(picked)]  # row 1 is the header


def _per_line(summary: Any, n: int) -> list[dict[str, Any] | None]:
    """The result of each JSONL line in order (None for a failed one): results skip failed items."""
    failed = {f["item"] for f in summary.failed}
    results = iter(summary.results if isinstance(summary.results, list) else [])
    return [None if f"line {i}" in failed else next(results, None) for i in range(1, n + 1)]


def _timed(run: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def _summary(name: str, summary: Any, seconds: float, items: int, **quality: Any) -> dict[str, Any]:
    return {
        "workflow": name,
        "items": items,
        "failed": len(summary.failed),
        "first_error": summary.failed[0]["error"][:200] if summary.failed else None,
        "seconds_per_item": round(seconds / max(items, 1), 1),
        **quality,
    }


def bench_extract(kb: KnowledgeBase, model: Any, tmp: Path) -> dict[str, Any]:
    docs = tmp / "invoices"
    docs.mkdir()
    gold: dict[str, dict[str, Any]] = {}
    for expected in sorted(SAMPLES.glob("*.json")):
        for ext in (".pdf", ".txt"):
            source = expected.with_suffix(ext)
            if source.is_file():
                (docs / source.name).write_bytes(source.read_bytes())
                gold[source.name] = json.loads(expected.read_text())[0]
    out = tmp / "invoices.jsonl"
    summary, seconds = _timed(lambda: run_workflow(resolve_workflow("extract"), str(docs), model=model, output=out))
    rows = {r["path"]: r for r in map(json.loads, out.read_text().splitlines())} if out.exists() else {}
    hits = total = 0
    for name, want in gold.items():
        for field, gold_key in FIELDS.items():
            if gold_key in want:
                total += 1
                hits += same(field, rows.get(name, {}).get(field), want[gold_key])
    return _summary("extract", summary, seconds, len(gold), field_accuracy=round(hits / total, 3) if total else None)


def bench_support(kb: KnowledgeBase, model: Any, tmp: Path, n: int) -> list[dict[str, Any]]:
    faq = _faq_sample(n)
    tickets = [{"text": q, "subject": "Question"} for _, q in faq] + [{"text": q} for q in OUT_OF_SCOPE]
    data = tmp / "tickets.jsonl"
    data.write_text("".join(json.dumps(t) + "\n" for t in tickets))
    summary, seconds = _timed(
        lambda: run_workflow(
            resolve_workflow("support-reply"), str(data), model=model, kb=lambda: kb, params={"review": False}
        )
    )
    results = _per_line(summary, len(tickets))
    right = drafted = 0
    for (row, _), result in zip(faq, results[: len(faq)], strict=True):
        if not result or result.get("escalate"):
            continue
        drafted += 1
        locations = " ".join(str(c.get("location", "")) for c in result.get("citations", []))
        right += f"row {row}" in locations
    escalated = sum(1 for r in results[len(faq) :] if r and r.get("escalate"))
    support = _summary(
        "support-reply",
        summary,
        seconds,
        len(tickets),
        drafted_share=round(drafted / len(faq), 3),
        right_row_cited=round(right / len(faq), 3),
        out_of_scope_escalated=round(escalated / len(OUT_OF_SCOPE), 3),
    )
    triage_items = [{"text": q} for _, q in faq] + [{"text": t} for t, _ in OTHER_LANGUAGES]
    languages = ["en"] * len(faq) + [lang for _, lang in OTHER_LANGUAGES]
    data = tmp / "triage.jsonl"
    data.write_text("".join(json.dumps(t) + "\n" for t in triage_items))
    triage, seconds = _timed(lambda: run_workflow(resolve_workflow("ticket-triage"), str(data), model=model))
    labelled = _per_line(triage, len(triage_items))
    language_right = sum(1 for r, lang in zip(labelled, languages, strict=True) if r and r.get("language") == lang)
    return [
        support,
        _summary(
            "ticket-triage",
            triage,
            seconds,
            len(triage_items),
            language_accuracy=round(language_right / len(triage_items), 3),
            categories=dict(Counter(r.get("category") for r in labelled if r)),
        ),
    ]


def bench_sales(kb: KnowledgeBase, model: Any, tmp: Path) -> list[dict[str, Any]]:
    calls = tmp / "calls"
    calls.mkdir()
    for name, text in CALLS.items():
        (calls / name).write_text(text, encoding="utf-8")
    crm, seconds = _timed(lambda: run_workflow(resolve_workflow("call-to-crm"), str(calls), model=model))
    first = _summary("call-to-crm", crm, seconds, len(CALLS), schema_valid=crm.ok)
    prospects = tmp / "prospects.jsonl"
    prospect = {"name": "Priya Shah", "company": "Northwind", "email": "priya@northwind.com"}
    notes = "Priya asked whether we offer a credit card with no annual fee and how to apply online."
    prospects.write_text(json.dumps({"notes": notes, "prospect": prospect}) + "\n")
    followup, seconds = _timed(
        lambda: run_workflow(
            resolve_workflow("sales-followup"), str(prospects), model=model, kb=lambda: kb, params={"sender": "Maria"}
        )
    )
    return [first, _summary("sales-followup", followup, seconds, 1, schema_valid=followup.ok)]


def bench_report(model: Any, tmp: Path) -> dict[str, Any]:
    spec = tmp / "spec.yml"
    spec.write_text(REPORT_SPEC)
    out = tmp / "report"
    summary, seconds = _timed(
        lambda: run_workflow(
            resolve_workflow("report"), str(SUPERSTORE), model=model, output=out, params={"spec": str(spec)}
        )
    )
    notes = " ".join(summary.notes)
    return _summary(
        "report",
        summary,
        seconds,
        1,
        html=(out / "report.html").is_file(),
        pdf=(out / "report.pdf").is_file(),
        narrative_checked="narrative" not in notes.lower(),
        notes=summary.notes[:3],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model spec: local, openai:MODEL, anthropic:MODEL")
    parser.add_argument("--questions", type=int, default=12, help="FAQ questions for support-reply and triage")
    parser.add_argument("--only", default="", help="comma-separated workflows (default: all six)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))

    def wanted(*names: str) -> bool:
        return not only or bool(only & set(names))

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with KnowledgeBase(load_settings(home=tmp / "kb")) as kb:
            model = kb.chat_model(args.model)
            if wanted("support-reply", "ticket-triage", "sales-followup"):
                faq = tmp / "faq"
                faq.mkdir()
                (faq / BANK_FAQ.name).write_bytes(BANK_FAQ.read_bytes())
                kb.ingest([str(faq)])
            if wanted("extract"):
                rows.append(bench_extract(kb, model, tmp))
            if wanted("support-reply", "ticket-triage"):
                rows.extend(bench_support(kb, model, tmp, args.questions))
            if wanted("call-to-crm", "sales-followup"):
                rows.extend(bench_sales(kb, model, tmp))
            if wanted("report"):
                rows.append(bench_report(model, tmp))
    result = {"model": args.model, "date": time.strftime("%Y-%m-%d"), "workflows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for row in rows:
        extra = {k: v for k, v in row.items() if k not in ("workflow", "items", "failed", "first_error")}
        print(f"{row['workflow']:15} items {row['items']:3} failed {row['failed']:3}  {extra}")
        if row["first_error"]:
            print(f"{'':15} first error: {row['first_error']}")


if __name__ == "__main__":
    main()
