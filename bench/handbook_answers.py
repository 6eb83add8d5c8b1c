"""Extractive answers to paraphrased questions about three real handbooks: how many are answered,
and how many answers cite the page that holds the answer.

    python bench/handbook_answers.py             # builds bench/out/handbook-answers/kb once (about 6 min)
    python bench/handbook_answers.py --json
    python bench/handbook_answers.py --show      # every question with its answer

The knowledge base holds the clef handbook, the 18F handbook's pages and GitHub's site policies
(``../shared/data``; CC0 / public domain), ingested as a user would ingest the three folders: their
342 Markdown pages (the pages ``bench/make_sets.py`` reads for the retrieval set) and the one other
file Docket reads there, the clef folder's PROVENANCE.json. The questions are bench/sets/handbook-questions.jsonl: 48
questions written the way an employee or a user asks them, not in the pages' words ("If a public
holiday lands on a Saturday, do we get another day off instead?"), each with the page that
answers it. They have no gold answers, so this measures what can be checked without one:

- answered: the share not abstained (every question here is answerable);
- right page cited: the share whose answer cites the gold page; of the answered, the same;
- retrieval: the share with the gold page first among the hits of ``KnowledgeBase.search``, and
  within the first ``answer.top_k`` (the passages an answer starts from; it may add passages of
  the best-ranked page and scope by what the question names).

Reported, never tuned on: the settings come from the dev halves of bench/calibrate.py's sets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from docket import KnowledgeBase, load_settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
QUESTIONS = ROOT / "bench" / "sets" / "handbook-questions.jsonl"
FOLDERS = ("clef-handbook", "18f-handbook/pages", "github-site-policy/Policies")
HOME = ROOT / "bench" / "out" / "handbook-answers" / "kb"


def _relative(source: str, path: str) -> str:
    """A passage's page as the questions name it: its folder source and its path in the folder,
    relative to ../shared/data."""
    try:
        return str((Path(source) / path).resolve().relative_to(DATA.resolve()))
    except ValueError:
        return path


def run(home: Path, show: bool) -> dict[str, Any]:
    missing = [f for f in FOLDERS if not (DATA / f).is_dir()]
    if missing:
        raise SystemExit(f"../shared/data lacks {', '.join(missing)}: this benchmark reads the handbooks there")
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    with KnowledgeBase(load_settings(home=home, environ={})) as kb:
        started = time.perf_counter()
        kb.ingest([str(DATA / f) for f in FOLDERS])  # incremental: unchanged pages are skipped
        ingest_s = time.perf_counter() - started
        stats = kb.store.stats()
        records = []
        for row in rows:
            gold = set(row["gold_docs"])
            hits = kb.search(row["question"], k=kb.settings.answer.top_k)
            ranks = [i for i, h in enumerate(hits) if _relative(h.source, h.path) in gold]
            answer = kb.ask(row["question"])
            cited_hits = [answer.sources[c.n - 1] for c in answer.citations if 0 < c.n <= len(answer.sources)]
            cited = sorted({_relative(h.source, h.path) for h in cited_hits})
            record = {
                "id": row["id"],
                "question": row["question"],
                "gold_docs": sorted(gold),
                "answered": not answer.abstained,
                "confidence": round(answer.confidence or 0.0, 3),
                "cited": cited,
                "gold_cited": bool(gold & set(cited)),
                "gold_rank": ranks[0] + 1 if ranks else None,
                "answer": answer.text,
            }
            records.append(record)
            if show:
                mark = "right page" if record["gold_cited"] else "answered" if record["answered"] else "refused"
                print(f"{row['id']} [{mark}, {record['confidence']:.2f}] {row['question']}")
                print(f"    {answer.text[:240]!r}")
    n = len(records)
    answered = [r for r in records if r["answered"]]
    result = {
        "questions": n,
        "answered": round(len(answered) / n, 3),
        "right_page_cited": round(sum(r["gold_cited"] for r in records) / n, 3),
        "right_page_of_answered": round(sum(r["gold_cited"] for r in answered) / len(answered), 3)
        if answered
        else None,
        "retrieval_first": round(sum(r["gold_rank"] == 1 for r in records) / n, 3),
        "retrieval_top_k": round(sum(r["gold_rank"] is not None for r in records) / n, 3),
        "top_k": kb.settings.answer.top_k,
        "confidence_median": round(statistics.median(r["confidence"] for r in records), 3),
        "ingest_s": round(ingest_s, 1),
        "documents": stats["documents"],
        "chunks": stats["chunks"],
        "records": records,
    }
    out = home.parent / "answers.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=HOME, help=f"the knowledge base (default {HOME})")
    parser.add_argument("--show", action="store_true", help="print every question with its answer")
    parser.add_argument("--json", action="store_true", help="print JSON (without the per-question records)")
    args = parser.parse_args()
    result = run(args.home, args.show)
    summary = {k: v for k, v in result.items() if k != "records"}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{summary['documents']} documents, {summary['chunks']} chunks")
    print("| questions | answered | right page cited | right page of the answered | gold page first | in top k |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {summary['questions']} | {summary['answered']} | {summary['right_page_cited']} | "
        f"{summary['right_page_of_answered']} | {summary['retrieval_first']} | "
        f"{summary['retrieval_top_k']} (k = {summary['top_k']}) |"
    )


if __name__ == "__main__":
    main()
