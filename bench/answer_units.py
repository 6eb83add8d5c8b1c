"""How well the evidence picks the sentence or row that answers: a study on the DEV splits only.

    python bench/answer_units.py --set multidoc            # uses bench/out/answers/kb/multidoc (run answers.py first)
    python bench/answer_units.py --set multidoc --dump units.jsonl

For every answerable dev question of a file set, the question is scoped and searched as
``KnowledgeBase.ask`` does, its evidence gathered (:func:`docket.answer.evidence.gather`), and each
unit marked by whether it satisfies the question's answer keys (bench/answer_keys.py). Reported:
how often the best-scored unit answers (top-1), how often one of the best three does, how often
the units an extractive answer shows do (``shown``: the best unit and the supporting units of its
document that :func:`docket.answer.extractive._choose` adds, with their mean length in characters),
and the ceiling (some retrieved unit answers at all). ``--max-sentences`` sets how many units an
answer may show (``answer.max_sentences``). ``--dump`` writes every unit's features for offline
study of the weights. Test splits are never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from answer_keys import facts_match  # noqa: E402
from answer_sets import load_financebench, load_multidoc  # noqa: E402
from docket import Access, Filters, KnowledgeBase, load_settings  # noqa: E402
from docket.answer.evidence import gather  # noqa: E402
from docket.answer.extractive import _choose  # noqa: E402

OUT = ROOT / "bench" / "out" / "answers"


def study(name: str, dump: Path | None, max_sentences: int = 3) -> dict[str, Any]:
    fs = {"financebench": load_financebench, "multidoc": load_multidoc}[name]()
    home = OUT / "kb" / name
    if not (home / "bench-manifest.json").is_file():
        raise SystemExit(f"no knowledge base at {home}: run python bench/answers.py --set {name} first")
    kb = KnowledgeBase(load_settings(home=home, environ={}))
    questions = [q for q in fs.questions if q.split == "dev" and q.answerable]
    top1 = top3 = ceiling = shown = 0
    shown_chars: list[int] = []
    rows = []
    for q in questions:
        scope = kb.scope(q.text)
        filters = kb._resolved(Filters(), Access.owner(), scope)
        hits = kb.search(q.text, k=kb.settings.answer.top_k, filters=filters)
        entries = kb.catalog().by_id()
        labels = [entries[h.doc_id].label if h.doc_id in entries else h.title for h in hits]
        evidence = gather(q.text, hits, kb.embedder, store=kb.store, labels=labels)
        good = [facts_match(q.keys, u.text) for u in evidence.units]
        top1 += bool(good[:1] and good[0])
        top3 += any(good[:3])
        ceiling += any(good)
        if evidence.units:
            chosen = _choose(evidence, max_sentences)
            shown += facts_match(q.keys, " ".join(u.text for u in chosen))
            shown_chars.append(sum(len(u.text) for u in chosen))
        for rank, (unit, ok) in enumerate(zip(evidence.units, good, strict=True)):
            rows.append(
                {
                    "q": q.id,
                    "question": q.text,
                    "kind": evidence.kind,
                    "rank": rank,
                    "hit": unit.hit,
                    "good": ok,
                    "semantic": round(unit.semantic, 4),
                    "coverage": round(unit.coverage, 4),
                    "score": round(unit.score, 4),
                    "row": unit.row,
                    "text": unit.text[:300],
                    "gold_doc": evidence.hits[unit.hit].path.split("/")[-1] in q.gold_docs,
                }
            )
    kb.close()
    if dump is not None:
        dump.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    n = len(questions)
    return {
        "set": name,
        "questions": n,
        "top1": round(top1 / n, 3),
        "top3": round(top3 / n, 3),
        "shown": round(shown / n, 3),
        "shown_chars_mean": round(sum(shown_chars) / len(shown_chars)) if shown_chars else None,
        "ceiling": round(ceiling / n, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="multidoc")
    parser.add_argument("--dump", type=Path)
    parser.add_argument("--max-sentences", type=int, default=3, help="units an answer may show (default 3)")
    args = parser.parse_args()
    print(json.dumps(study(args.set, args.dump, args.max_sentences), indent=2))


if __name__ == "__main__":
    main()
