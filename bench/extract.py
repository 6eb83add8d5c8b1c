"""Field-level accuracy of the built-in `extract` workflow (invoice schema) on invoice2data's samples.

    python bench/extract.py --model openai:gpt-4o-mini [--home KB] [--json]

Runs the real workflow over ../shared/data/invoice2data-samples/tests/compare (11 PDFs and one
text file) and compares each extracted field with the expected JSON next to it: vendor (issuer),
number (invoice_number), date, currency and total (amount). Strings match ignoring case, spaces
and punctuation (a vendor also matches when one name contains the other), amounts within 0.01,
dates exactly. A benchmark, not a test: it needs a model, and the slow local one takes minutes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docket.config import load_settings
from docket.kb import KnowledgeBase
from docket.workflows import resolve_workflow, run_workflow

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "invoice2data-samples" / "tests" / "compare"
FIELDS = {"vendor": "issuer", "number": "invoice_number", "date": "date", "currency": "currency", "total": "amount"}


def _key(value: Any) -> str:
    return re.sub(r"[\W_]+", "", str(value).lower())


def same(field: str, got: Any, want: Any) -> bool:
    if got is None:
        return False
    if field == "total":
        try:
            return abs(float(got) - float(want)) < 0.01
        except (TypeError, ValueError):
            return False
    if field == "vendor":
        a, b = _key(got), _key(want)
        return bool(a and b) and (a in b or b in a)
    return _key(got) == _key(want)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model spec, e.g. openai:gpt-4o-mini or local")
    parser.add_argument("--home", default=None, help="knowledge base whose settings to use (default: a temp one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        gold: dict[str, dict[str, Any]] = {}
        for expected in sorted(SAMPLES.glob("*.json")):
            for ext in (".pdf", ".txt"):
                source = expected.with_suffix(ext)
                if source.is_file():
                    (docs / source.name).write_bytes(source.read_bytes())
                    gold[source.name] = json.loads(expected.read_text())[0]
        with KnowledgeBase(load_settings(home=Path(args.home or tmp) / "kb")) as kb:
            out = Path(tmp) / "out.jsonl"
            summary = run_workflow(resolve_workflow("extract"), str(docs), model=kb.chat_model(args.model), output=out)
            rows = {r["path"]: r for r in map(json.loads, out.read_text().splitlines())} if out.exists() else {}
    per_field = {f: [0, 0] for f in FIELDS}
    for name, want in gold.items():
        got = rows.get(name, {})
        for field, gold_key in FIELDS.items():
            if gold_key in want:
                per_field[field][1] += 1
                per_field[field][0] += same(field, got.get(field), want[gold_key])
    hits, total = sum(v[0] for v in per_field.values()), sum(v[1] for v in per_field.values())
    result = {
        "model": args.model,
        "documents": len(gold),
        "failed": summary.failed,
        "fields": {f: round(h / n, 3) if n else None for f, (h, n) in per_field.items()},
        "accuracy": round(hits / total, 3) if total else None,
    }
    print(json.dumps(result, indent=2) if args.json else f"field accuracy {result['accuracy']} {result['fields']}")


if __name__ == "__main__":
    main()
