"""Build two extra BEIR-format retrieval sets from ../shared/data, for robustness checks only.

    python bench/make_sets.py            # writes bench/out/sets/{bankfaq,tatqa,handbooks}

- bankfaq: query = a bank FAQ question, corpus = the distinct answers, relevant = its answer(s).
  Paraphrase-like: the semantic retriever is much stronger than BM25 here.
- tatqa: query = a TAT-QA dev question, corpus = the 278 report contexts (paragraphs + table),
  relevant = its context. Number- and term-heavy: BM25 is much stronger here.
- handbooks: query = a question from bench/sets/handbook-questions.jsonl, written the way an employee
  or user would ask it rather than in the page's own words; corpus = every Markdown page of the
  clef-handbook, 18f-handbook and github-site-policy sets (CC0 / public domain), one document per
  page (front matter dropped); relevant = the page that answers it. Vocabulary mismatch: the
  case where keyword search buries the right page.

None of them is used to choose settings; they show whether a choice made on SciFact's train split
holds where the balance between the retrievers is very different. Both sets stay out of the
product (their licences do not allow shipping them).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "out" / "sets"


def write(name: str, docs: dict[str, str], queries: dict[str, str], qrels: dict[str, set[str]]) -> Path:
    folder = OUT / name
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for i, text in docs.items():
            f.write(json.dumps({"_id": i, "title": "", "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as f:
        for i, text in queries.items():
            f.write(json.dumps({"_id": i, "text": text}) + "\n")
    with (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q, ds in qrels.items():
            for d in sorted(ds):
                f.write(f"{q}\t{d}\t1\n")
    return folder


def bankfaq() -> Path:
    answers: dict[str, str] = {}
    questions: dict[str, str] = {}
    qrels: dict[str, set[str]] = {}
    with (DATA / "bank-faqs-hdfc" / "BankFAQs.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            a, q = " ".join(row["Answer"].split()), " ".join(row["Question"].split())
            if a and q:
                aid = answers.setdefault(a, f"a{len(answers)}")
                qid = questions.setdefault(q, f"q{len(questions)}")
                qrels.setdefault(qid, set()).add(aid)
    return write("bankfaq", {v: k for k, v in answers.items()}, {v: k for k, v in questions.items()}, qrels)


QUESTIONS = Path(__file__).resolve().parent / "sets" / "handbook-questions.jsonl"
HANDBOOKS = ("clef-handbook", "18f-handbook/pages", "github-site-policy/Policies")


def handbooks() -> Path:
    docs: dict[str, str] = {}
    for root in HANDBOOKS:
        for path in sorted((DATA / root).rglob("*.md")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if text.startswith("---"):  # Jekyll / Docusaurus front matter
                end = text.find("\n---", 3)
                text = text[end + 4 :] if end > 0 else text
            if text.strip():
                docs[str(path.relative_to(DATA))] = text
    queries: dict[str, str] = {}
    qrels: dict[str, set[str]] = {}
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            missing = [d for d in row["gold_docs"] if d not in docs]
            if missing:
                raise SystemExit(f"{QUESTIONS}: {row['id']} names gold_docs not in the corpus: {missing}")
            queries[row["id"]] = row["question"]
            qrels[row["id"]] = set(row["gold_docs"])
    return write("handbooks", docs, queries, qrels)


def tatqa() -> Path:
    contexts = json.loads((DATA / "tat-qa" / "tatqa_dataset_dev.json").read_text(encoding="utf-8"))
    docs: dict[str, str] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, set[str]] = {}
    for i, c in enumerate(contexts):
        paragraphs = " ".join(p["text"] for p in sorted(c["paragraphs"], key=lambda p: p["order"]))
        table = "\n".join(" | ".join(cell for cell in row if cell) for row in c["table"]["table"])
        docs[f"c{i}"] = paragraphs + "\n" + table
        for q in c["questions"]:
            qid = f"q{len(queries)}"
            queries[qid] = q["question"]
            qrels[qid] = {f"c{i}"}
    return write("tatqa", docs, queries, qrels)


if __name__ == "__main__":
    for path in (bankfaq(), tatqa(), handbooks()):
        print(path)
