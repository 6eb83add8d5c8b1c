"""Calibrating abstention: answer rate against accuracy, on the dev halves of several sets.

    python bench/calibrate.py                  # multidoc dev, bank FAQ dev half, TAT-QA dev half
    python bench/calibrate.py --json
    python bench/calibrate.py --uncovered 0 0.3 0.5 0.8   # also choose the confidence's coverage weight

An extractive answer abstains when its evidence scores below ``answer.min_relevance``. Here every
question is answered with that threshold at 0, so each answer's confidence and whether it is
right are known; then every threshold from 0.30 to 0.90 is tried as if it had been set:

- answerable questions: correct (answered and right), wrong (answered and wrong), refused;
- unanswerable questions (multidoc's own; for the bank FAQ and TAT-QA, questions whose documents
  were left out of the knowledge base): abstained or answered.

The threshold chosen is the lowest at which, averaged over the sets (each weighing the same), at
least 3 of 4 unanswerable questions are refused (``REFUSE_UNANSWERABLE``): below it Docket would
guess on questions its documents do not answer. Each point also shows a utility (+1 for a right
answer or an abstention on an unanswerable question, -2 for a wrong answer or an answer to an
unanswerable question, 0 for a refusal of an answerable one): by that measure refusing almost
everything wins while extractive answers are right less than two times in three, which is why the
rule above, not the utility, sets the default.

The confidence is lowered by a share of the question's words the answering document lacks
(``docket.answer.evidence._UNCOVERED_WEIGHT``). ``--uncovered W ...`` runs the whole calibration
for each weight and reports, per weight, the threshold the rule picks and the right answers summed
over the sets at it: the weight with the most (fewest refusals on a tie) is the one to ship.
Only dev data is read: multidoc's dev split, the bank FAQ questions and TAT-QA contexts of even
number (their odd halves and multidoc's test split are what
bench/answers.py reports).
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

import answers as A  # noqa: E402
from answer_keys import facts_match  # noqa: E402
from answer_sets import load_multidoc, open_file_kb  # noqa: E402
from docket import KnowledgeBase, load_settings  # noqa: E402

OUT = ROOT / "bench" / "out" / "calibrate"
THRESHOLDS = [round(0.20 + 0.02 * i, 2) for i in range(36)]
WRONG_COST = 2.0
REFUSE_UNANSWERABLE = 0.75


def _open(home: Path) -> KnowledgeBase:
    settings = load_settings(home=home, environ={}, overrides={"answer": {"min_relevance": 0.0}})
    return KnowledgeBase(settings)


def multidoc(keep: bool = False) -> list[dict[str, Any]]:
    fs = load_multidoc()
    kb, _ = open_file_kb(fs, A.OUT / "kb" / "multidoc", keep=keep)
    kb.close()
    rows = []
    with _open(A.OUT / "kb" / "multidoc") as kb:
        for q in fs.questions:
            if q.split != "dev":
                continue
            answer = kb.ask(q.text)
            right = q.answerable and facts_match(q.keys, answer.text)
            rows.append({"id": q.id, "answerable": q.answerable, "confidence": answer.confidence, "right": right})
    return rows


def retrieval_set(name: str, answerable: int, removed: int) -> list[dict[str, Any]]:
    qa = A.LOADERS[name]()
    if name == "bankfaq":
        qa.questions = [q for q in qa.questions if int(q.id[1:]) % 2 == 0]
    else:  # TAT-QA: the questions of even-numbered contexts
        qa.questions = [q for q in qa.questions if int(next(iter(q.gold_docs))[1:]) % 2 == 0]
    kept, gone_q, gone = A.split(qa, answerable, removed, seed=1)
    A.open_kb(qa, gone, OUT / name).close()
    rows = []
    with _open(OUT / name) as kb:
        for q in [*kept, *gone_q]:
            answer = kb.ask(q.text)
            is_answerable = q in kept
            right = A.bankfaq_recall(q, answer.text) >= 0.5 if name == "bankfaq" else A.tatqa_correct(q, answer.text)
            rows.append(
                {"id": q.id, "answerable": is_answerable, "confidence": answer.confidence, "right": bool(right)}
            )
    return rows


def sweep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    for t in THRESHOLDS:
        correct = sum(1 for r in ans if r["confidence"] >= t and r["right"])
        wrong = sum(1 for r in ans if r["confidence"] >= t and not r["right"])
        refused = len(ans) - correct - wrong
        abstained = sum(1 for r in una if r["confidence"] < t)
        utility = correct - WRONG_COST * wrong + abstained - WRONG_COST * (len(una) - abstained)
        out.append(
            {
                "threshold": t,
                "answer_rate": round((correct + wrong) / len(ans), 3) if ans else None,
                "accuracy_of_answered": round(correct / (correct + wrong), 3) if correct + wrong else None,
                "correct": correct,
                "wrong": wrong,
                "refused": refused,
                "false_abstention": round(refused / len(ans), 3) if ans else None,
                "abstain_unanswerable": round(abstained / len(una), 3) if una else None,
                "utility": round(utility / len(rows), 4),
            }
        )
    return out


def calibrate(args: argparse.Namespace) -> dict[str, Any]:
    sets = {
        "multidoc": multidoc(args.keep_index),
        "bankfaq": retrieval_set("bankfaq", args.answerable, args.removed),
        "tatqa": retrieval_set("tatqa", args.answerable, args.removed),
    }
    curves = {name: sweep(rows) for name, rows in sets.items()}
    refused = [
        sum(curves[name][i]["abstain_unanswerable"] or 0.0 for name in curves) / len(curves)
        for i in range(len(THRESHOLDS))
    ]
    best = next((i for i in range(len(THRESHOLDS)) if refused[i] >= REFUSE_UNANSWERABLE), len(THRESHOLDS) - 1)
    return {"chosen": THRESHOLDS[best], "at_chosen": {name: curve[best] for name, curve in curves.items()}}


def compare_weights(args: argparse.Namespace) -> None:
    """The calibration for each coverage weight of the confidence; the weight with most right answers."""
    from docket.answer import evidence

    shipped = evidence._UNCOVERED_WEIGHT
    results = {}
    try:
        for weight in args.uncovered:
            evidence._UNCOVERED_WEIGHT = weight
            results[weight] = calibrate(args)
    finally:
        evidence._UNCOVERED_WEIGHT = shipped
    (OUT / "uncovered.json").write_text(json.dumps({str(w): r for w, r in results.items()}, indent=1))
    print("| coverage weight | threshold chosen | correct / wrong / refused (sum of sets) | per set |")
    print("|---|---|---|---|")
    for weight, r in results.items():
        points = r["at_chosen"]
        total = [sum(p[k] for p in points.values()) for k in ("correct", "wrong", "refused")]
        per_set = "; ".join(
            f"{n} {p['correct']}/{p['wrong']}/{p['refused']} ({p['abstain_unanswerable']})" for n, p in points.items()
        )
        print(f"| {weight} | {r['chosen']} | {total[0]} / {total[1]} / {total[2]} | {per_set} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answerable", type=int, default=60, help="bank FAQ / TAT-QA answerable questions")
    parser.add_argument("--removed", type=int, default=20, help="bank FAQ / TAT-QA questions left without documents")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--keep-index",
        action="store_true",
        help="reuse multidoc's cached knowledge base as bench/answers.py --keep-index does",
    )
    parser.add_argument(
        "--uncovered",
        type=float,
        nargs="+",
        metavar="W",
        help="coverage weights of the confidence to compare (default: the shipped one only)",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.uncovered:
        compare_weights(args)
        return
    sets = {
        "multidoc": multidoc(args.keep_index),
        "bankfaq": retrieval_set("bankfaq", args.answerable, args.removed),
        "tatqa": retrieval_set("tatqa", args.answerable, args.removed),
    }
    curves = {name: sweep(rows) for name, rows in sets.items()}
    pooled = [
        round(sum(curves[name][i]["utility"] for name in curves) / len(curves), 4) for i in range(len(THRESHOLDS))
    ]
    refused = [
        sum(curves[name][i]["abstain_unanswerable"] or 0.0 for name in curves) / len(curves)
        for i in range(len(THRESHOLDS))
    ]
    best = next((i for i in range(len(THRESHOLDS)) if refused[i] >= REFUSE_UNANSWERABLE), len(THRESHOLDS) - 1)
    result = {
        "chosen": THRESHOLDS[best],
        "pooled_utility": dict(zip(THRESHOLDS, pooled, strict=True)),
        "pooled_abstain_unanswerable": dict(zip(THRESHOLDS, [round(r, 3) for r in refused], strict=True)),
        "sets": curves,
    }
    (OUT / "calibration.json").write_text(json.dumps({**result, "rows": sets}, indent=1))
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(
        f"chosen answer.min_relevance = {THRESHOLDS[best]}: the lowest refusing {REFUSE_UNANSWERABLE:.0%} of "
        f"unanswerable questions on average ({refused[best]:.2f}); mean utility there {pooled[best]}\n"
    )
    print("| set | threshold | answer rate | accuracy of answered | correct / wrong / refused | refuses unanswerable |")
    print("|---|---|---|---|---|---|")
    for name, curve in curves.items():
        for point in curve:
            if abs(point["threshold"] - THRESHOLDS[best]) < 0.2 and round(point["threshold"] * 50) % 5 == 0:
                print(
                    f"| {name} | {point['threshold']:.2f} | {point['answer_rate']} | {point['accuracy_of_answered']} | "
                    f"{point['correct']} / {point['wrong']} / {point['refused']} | {point['abstain_unanswerable']} |"
                )


if __name__ == "__main__":
    main()
