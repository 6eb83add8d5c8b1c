"""Hybrid search against the better single retriever on small real sets where one side is far stronger.

- TAT-QA (CC BY 4.0): questions about figures in annual reports, each against its report context;
  numbers and line items make BM25 far stronger than the semantic retriever.
- Bank FAQ (HDFC, read in place from the shared data, never copied): customer questions against
  the distinct answers of one product class; the answers rarely repeat the question's words, so the
  semantic retriever is far stronger.

Real SQLite stores and the real default embedder; nDCG@10 by document, as bench/fusion.py counts it.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from docket.index.search import search
from docket.index.sqlite import SqliteStore
from docket.ingest.sync import Indexer
from docket.types import Block, Document, ParsedDocument, SyncReport

TOLERANCE = 0.005  # hybrid may trail the better side by at most this much nDCG@10


def _tatqa(data: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    contexts = json.loads((data / "tat-qa" / "tatqa_dataset_dev.json").read_text(encoding="utf-8"))[:12]
    docs, queries, gold = {}, {}, {}
    for i, c in enumerate(contexts):
        paragraphs = " ".join(p["text"] for p in sorted(c["paragraphs"], key=lambda p: p["order"]))
        table = "\n".join(" | ".join(cell for cell in row if cell) for row in c["table"]["table"])
        docs[f"c{i}"] = paragraphs + "\n" + table
        for q in c["questions"]:
            qid = f"q{len(queries)}"
            queries[qid], gold[qid] = q["question"], f"c{i}"
    return docs, queries, gold


def _bankfaq(data: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    answers: dict[str, str] = {}
    queries, gold = {}, {}
    with (data / "bank-faqs-hdfc" / "BankFAQs.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["Class"] != "cards":
                continue
            a, q = " ".join(row["Answer"].split()), " ".join(row["Question"].split())
            if a and q and q not in queries.values():
                aid = answers.setdefault(a, f"a{len(answers)}")
                qid = f"q{len(queries)}"
                queries[qid], gold[qid] = q, aid
    return {v: k for k, v in answers.items()}, queries, gold


def _ndcg(ranked: list[str], relevant: str) -> float:
    return next((1.0 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d == relevant), 0.0)


@pytest.fixture(scope="module", params=["tatqa", "bankfaq"])
def indexed(request: Any, tmp_path_factory: pytest.TempPathFactory, minilm: Any) -> Any:
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    docs, queries, gold = (_tatqa if request.param == "tatqa" else _bankfaq)(SHARED_DATA)
    store = SqliteStore(tmp_path_factory.mktemp(request.param) / "docket.db")
    store.bind_embedder(minilm.name, minilm.dim)
    indexer = Indexer(store, minilm, SyncReport(), 256, 32)
    for did, text in docs.items():
        doc = Document(
            id=did, source="set", path=did, title="", filetype="txt", content_hash=did, size=len(text), mtime=0.0
        )
        indexer.add(doc, ParsedDocument(blocks=(Block(text),), title=""))
    indexer.flush()
    vectors = dict(zip(queries, minilm.embed_queries(list(queries.values())), strict=True))
    yield request.param, store, minilm, queries, gold, vectors
    store.close()


def _score(indexed: Any, **how: Any) -> float:
    _, store, embedder, queries, gold, vectors = indexed
    scores = []
    for qid, text in queries.items():
        hits = search(store, embedder, text, k=100, candidates=100, query_vector=vectors[qid], **how)
        scores.append(_ndcg(list(dict.fromkeys(h.path for h in hits)), gold[qid]))
    return statistics.fmean(scores)


def test_adaptive_hybrid_ranks_at_least_as_well_as_the_stronger_retriever(indexed: Any) -> None:
    name = indexed[0]
    keyword, semantic = _score(indexed, mode="keyword"), _score(indexed, mode="semantic")
    hybrid = _score(indexed, mode="hybrid", fusion="adaptive", alpha=0.75)
    stronger, weaker = max(keyword, semantic), min(keyword, semantic)
    assert stronger - weaker > 0.05, f"{name}: the fixture should have one clearly stronger side"
    assert hybrid >= stronger - TOLERANCE, f"{name}: hybrid {hybrid:.4f}, keyword {keyword:.4f}, dense {semantic:.4f}"
