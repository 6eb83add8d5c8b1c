"""LlamaIndex peer: ``VectorStoreIndex`` (default in-memory ``SimpleVectorStore``, persisted with
its ``StorageContext``) with the shared MiniLM as a ``BaseEmbedding`` (batches of 32, like Docket),
plus ``BM25Retriever`` (llama-index-retrievers-bm25: bm25s, English stemmer), fused by
``QueryFusionRetriever`` in ``reciprocal_rerank`` mode with ``num_queries=1`` (no LLM query
rewriting), 100 candidates per retriever. Nodes are Docket's chunks, one ``TextNode`` each, with the
document id in metadata. Speaks the protocol of protocol.py; runs in bench/.venvs/llamaindex."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from minilm import CountingModel, MiniLM, VectorCache
from protocol import doc_ranking, emit, load_chunks, load_queries, parser, run_queries, timed_import


def _framework() -> dict[str, Any]:
    from llama_index.core import Settings, StorageContext, VectorStoreIndex, load_index_from_storage
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.llms.mock import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    Settings.llm = MockLLM()

    class SharedMiniLM(BaseEmbedding):  # type: ignore[misc]
        def __init__(self, embed: Any) -> None:
            super().__init__(model_name="minilm-l6-v2-int8", embed_batch_size=32)
            self._embed = embed

        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in self._embed([query])[0]]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return [float(x) for x in self._embed([text])[0]]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in self._embed(texts)]

    return {
        "Settings": Settings,
        "StorageContext": StorageContext,
        "VectorStoreIndex": VectorStoreIndex,
        "load": load_index_from_storage,
        "Fusion": QueryFusionRetriever,
        "TextNode": TextNode,
        "BM25": BM25Retriever,
        "Embedding": SharedMiniLM,
    }


def build(li: dict[str, Any], chunks: list[dict[str, str]], embed: Any, index: Path | None, k: int) -> Any:
    nodes = [
        li["TextNode"](
            text=c["text"],
            id_=f"n{i}",
            metadata={"doc": c["doc"]},
            excluded_embed_metadata_keys=["doc"],  # embed the chunk text only, as every system does
            excluded_llm_metadata_keys=["doc"],
        )
        for i, c in enumerate(chunks)
    ]
    model = li["Embedding"](embed)
    vector = li["VectorStoreIndex"](nodes, embed_model=model, show_progress=False)
    bm25 = li["BM25"].from_defaults(nodes=nodes, similarity_top_k=k, language="english")
    if index is not None:
        vector.storage_context.persist(persist_dir=str(index / "vector"))
        bm25.persist(str(index / "bm25"))
    return fusion(li, vector, bm25, k)


def fusion(li: dict[str, Any], vector: Any, bm25: Any, k: int) -> Any:
    return li["Fusion"](
        [vector.as_retriever(similarity_top_k=k), bm25],
        similarity_top_k=k,
        num_queries=1,
        mode="reciprocal_rerank",
        use_async=False,
    )


def load(li: dict[str, Any], index: Path, embed: Any, k: int) -> Any:
    storage = li["StorageContext"].from_defaults(persist_dir=str(index / "vector"))
    vector = li["load"](storage, embed_model=li["Embedding"](embed))
    bm25 = li["BM25"].from_persist_dir(str(index / "bm25"))
    bm25.similarity_top_k = k
    return fusion(li, vector, bm25, k)


def ranked(retriever: Any, text: str) -> list[str]:
    return doc_ranking(n.node.metadata["doc"] for n in retriever.retrieve(text))


def sync(li: dict[str, Any], folder: Path, index: Path) -> dict[str, Any]:
    """LlamaIndex's incremental ingestion: ``SimpleDirectoryReader(filename_as_id=True)`` re-reads the
    folder, an ``IngestionPipeline`` (``SentenceSplitter`` of 256 tokens / 32 overlap, then the shared
    model) with a ``SimpleDocumentStore`` docstore, a ``SimpleVectorStore`` and
    ``DocstoreStrategy.UPSERTS`` re-embeds only documents whose hash changed; docstore, cache and
    vector store are persisted in ``index`` between calls (``pipeline.persist`` / ``load``)."""
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.core.vector_stores import SimpleVectorStore

    model = CountingModel()
    t0 = time.perf_counter()
    vector_path = index / "vector_store.json"
    vector_store = (
        SimpleVectorStore.from_persist_path(str(vector_path)) if vector_path.is_file() else SimpleVectorStore()
    )
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=32), li["Embedding"](model.embed)],
        docstore=SimpleDocumentStore(),
        vector_store=vector_store,
        docstore_strategy=DocstoreStrategy.UPSERTS,
    )
    if (index / "pipeline").is_dir():
        pipeline.load(str(index / "pipeline"))
    documents = SimpleDirectoryReader(str(folder), filename_as_id=True, recursive=True).load_data()
    pipeline.run(documents=documents)
    pipeline.persist(str(index / "pipeline"))
    vector_store.persist(str(vector_path))
    seconds = time.perf_counter() - t0
    return {
        "seconds": round(seconds, 3),
        "embedded": model.texts,
        "embed_s": round(model.seconds, 3),
        "chunks": len(vector_store.data.embedding_dict),
        "files": len({d.metadata.get("file_path") for d in documents}),
    }


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    li, import_s = timed_import(_framework)
    if args.command == "build":
        chunks = load_chunks(args.chunks)
        cache = VectorCache(args.cache)
        t0 = time.perf_counter()
        build(li, chunks, cache.embed, args.index, args.k)
        emit(
            "llamaindex", import_s, chunks=len(chunks), build_s=round(time.perf_counter() - t0, 2), misses=cache.misses
        )
    elif args.command == "ingest":
        chunks = load_chunks(args.chunks, args.docs)
        model = MiniLM()
        t0 = time.perf_counter()
        build(li, chunks, model.embed, None, args.k)
        seconds = time.perf_counter() - t0
        emit(
            "llamaindex",
            import_s,
            chunks=len(chunks),
            seconds=round(seconds, 2),
            chunks_per_s=round(len(chunks) / seconds, 2),
        )
    elif args.command == "query":
        retriever = load(li, args.index, VectorCache(args.cache).embed, args.k)
        emit("llamaindex", import_s, **run_queries(load_queries(args.queries), lambda q: ranked(retriever, q)))
    elif args.command == "sync":
        args.index.mkdir(parents=True, exist_ok=True)
        emit("llamaindex", import_s, **sync(li, args.folder, args.index))
    elif args.command == "coldstart":
        retriever = load(li, args.index, MiniLM().embed, 10)
        emit("llamaindex", import_s, top=ranked(retriever, args.query)[:3])


if __name__ == "__main__":
    main()
