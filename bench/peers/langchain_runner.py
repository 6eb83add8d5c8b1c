"""LangChain peer: the shared MiniLM as an ``Embeddings`` in ``Chroma`` (langchain-chroma, persistent
client, cosine HNSW, its default approximate index) plus ``BM25Retriever`` (langchain-community,
rank-bm25 with LangChain's default whitespace tokenisation), fused by ``EnsembleRetriever``
(weighted reciprocal rank, c = 60, equal weights), 100 candidates per retriever. Documents are
Docket's chunks with the document id in metadata. LangChain's BM25 retriever cannot be saved, so it
is pickled. Speaks the protocol of protocol.py; runs in bench/.venvs/langchain."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any

from minilm import CountingModel, MiniLM, VectorCache
from protocol import doc_ranking, emit, load_chunks, load_queries, parser, run_queries, timed_import

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def _framework() -> dict[str, Any]:
    from langchain_chroma import Chroma
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_core.embeddings import Embeddings

    class SharedMiniLM(Embeddings):  # type: ignore[misc]
        def __init__(self, embed: Any) -> None:
            self._embed = embed

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in self._embed(texts)]

        def embed_query(self, text: str) -> list[float]:
            return [float(x) for x in self._embed([text])[0]]

    return {"Chroma": Chroma, "Ensemble": EnsembleRetriever, "BM25": BM25Retriever, "Embedding": SharedMiniLM}


def build(lc: dict[str, Any], chunks: list[dict[str, str]], embed: Any, index: Path | None, k: int) -> Any:
    texts = [c["text"] for c in chunks]
    metas = [{"doc": c["doc"], "chunk": f"n{i}"} for i, c in enumerate(chunks)]
    store = lc["Chroma"](
        collection_name="bench",
        embedding_function=lc["Embedding"](embed),
        persist_directory=str(index / "chroma") if index is not None else None,
        collection_metadata={"hnsw:space": "cosine"},
    )
    for start in range(0, len(texts), 1000):
        store.add_texts(
            texts[start : start + 1000],
            metadatas=metas[start : start + 1000],
            ids=[m["chunk"] for m in metas[start : start + 1000]],
        )
    bm25 = lc["BM25"].from_texts(texts, metadatas=metas, k=k)
    if index is not None:
        (index / "bm25.pickle").write_bytes(pickle.dumps(bm25))
    return ensemble(lc, store, bm25, k)


def ensemble(lc: dict[str, Any], store: Any, bm25: Any, k: int) -> Any:
    dense = store.as_retriever(search_kwargs={"k": k})
    return lc["Ensemble"](retrievers=[bm25, dense], weights=[0.5, 0.5], id_key="chunk")


def load(lc: dict[str, Any], index: Path, embed: Any, k: int) -> Any:
    store = lc["Chroma"](
        collection_name="bench", embedding_function=lc["Embedding"](embed), persist_directory=str(index / "chroma")
    )
    bm25 = pickle.loads((index / "bm25.pickle").read_bytes())
    bm25.k = k
    return ensemble(lc, store, bm25, k)


def ranked(retriever: Any, text: str) -> list[str]:
    return doc_ranking(d.metadata["doc"] for d in retriever.invoke(text))


def sync(lc: dict[str, Any], folder: Path, index: Path) -> dict[str, Any]:
    """LangChain's indexing API: ``DirectoryLoader`` (``TextLoader``: Markdown and text read as text;
    its Markdown loader needs ``unstructured``) re-reads the folder, ``RecursiveCharacterTextSplitter``
    (1,000 characters, about 256 tokens, 128 overlap) splits it, and ``index(docs, record_manager,
    vector_store, cleanup="incremental", source_id_key="source")`` with a ``SQLRecordManager``
    (SQLite) over a persistent ``Chroma`` embeds only chunks whose hash it has not recorded and
    deletes the stale chunks of changed files."""
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_community.indexes._sql_record_manager import SQLRecordManager
    from langchain_core.indexing import index as lc_index
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    model = CountingModel()
    t0 = time.perf_counter()
    store = lc["Chroma"](
        collection_name="sync",
        embedding_function=lc["Embedding"](model.embed),
        persist_directory=str(index / "chroma"),
        collection_metadata={"hnsw:space": "cosine"},
    )
    records = SQLRecordManager("chroma/sync", db_url=f"sqlite:///{index / 'records.sqlite'}")
    records.create_schema()
    loader = DirectoryLoader(str(folder), glob="**/*", loader_cls=TextLoader, loader_kwargs={"encoding": "utf-8"})
    docs = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=128).split_documents(loader.load())
    result = lc_index(docs, records, store, cleanup="incremental", source_id_key="source")
    seconds = time.perf_counter() - t0
    return {
        "seconds": round(seconds, 3),
        "embedded": model.texts,
        "embed_s": round(model.seconds, 3),
        "chunks": len(docs),
        "files": len({d.metadata["source"] for d in docs}),
        "result": result,
    }


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    lc, import_s = timed_import(_framework)
    if args.command == "build":
        chunks = load_chunks(args.chunks)
        cache = VectorCache(args.cache)
        t0 = time.perf_counter()
        build(lc, chunks, cache.embed, args.index, args.k)
        emit("langchain", import_s, chunks=len(chunks), build_s=round(time.perf_counter() - t0, 2), misses=cache.misses)
    elif args.command == "ingest":
        chunks = load_chunks(args.chunks, args.docs)
        model = MiniLM()
        t0 = time.perf_counter()
        build(lc, chunks, model.embed, None, args.k)
        seconds = time.perf_counter() - t0
        emit(
            "langchain",
            import_s,
            chunks=len(chunks),
            seconds=round(seconds, 2),
            chunks_per_s=round(len(chunks) / seconds, 2),
        )
    elif args.command == "query":
        retriever = load(lc, args.index, VectorCache(args.cache).embed, args.k)
        emit("langchain", import_s, **run_queries(load_queries(args.queries), lambda q: ranked(retriever, q)))
    elif args.command == "sync":
        args.index.mkdir(parents=True, exist_ok=True)
        emit("langchain", import_s, **sync(lc, args.folder, args.index))
    elif args.command == "coldstart":
        retriever = load(lc, args.index, MiniLM().embed, 10)
        emit("langchain", import_s, top=ranked(retriever, args.query)[:3])


if __name__ == "__main__":
    main()
