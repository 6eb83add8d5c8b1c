"""LlamaIndex peer for bench/answers.py --peer: the same folders and questions through LlamaIndex's
query engine, with the same packaged local model (served by llama.cpp's OpenAI-compatible server on
127.0.0.1) and the same embedder (the shared MiniLM of minilm.py).

The pipeline is LlamaIndex's default one: ``SimpleDirectoryReader`` (its PDF reader: pypdf, one
document per page, file name in the metadata), ``VectorStoreIndex.from_documents`` with the
default ``SentenceSplitter`` set to 256 tokens / 32 overlap (the embedder's window; the default 1024
would embed only each chunk's first 256 tokens), and ``index.as_query_engine`` in its default
``compact`` response mode with ``similarity_top_k=6`` (Docket answers from 6 passages too). The
index is persisted under ``--index`` and reused.

    python llamaindex_answers.py --folder DIR [--folder DIR] --index DIR --questions Q.json \
        --out OUT.jsonl --llm-url http://127.0.0.1:PORT/v1

One JSON line per question: id, answer (the response text), sources (file names of the source
nodes, in rank order), seconds. Runs in bench/.venvs/llamaindex; scoring is done by the caller.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llamaindex_runner import _framework  # the shared MiniLM as a LlamaIndex BaseEmbedding
from minilm import MiniLM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, action="append", required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--llm-url", required=True)
    parser.add_argument("--k", type=int, default=6)
    args = parser.parse_args()

    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex, load_index_from_storage
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.llms.openai_like import OpenAILike

    li = _framework()
    embed = li["Embedding"](MiniLM().embed)
    t0 = time.perf_counter()
    if (args.index / "docstore.json").is_file():
        index = load_index_from_storage(StorageContext.from_defaults(persist_dir=str(args.index)), embed_model=embed)
        built = False
    else:
        documents = []
        for folder in args.folder:
            documents += SimpleDirectoryReader(str(folder)).load_data()
        index = VectorStoreIndex.from_documents(
            documents, embed_model=embed, transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=32)]
        )
        index.storage_context.persist(persist_dir=str(args.index))
        built = True
    index_s = time.perf_counter() - t0
    llm = OpenAILike(
        model="local",
        api_base=args.llm_url,
        api_key="not-needed",
        is_chat_model=True,
        context_window=4096,
        max_tokens=256,
        temperature=0.0,
        timeout=900,
    )
    engine = index.as_query_engine(llm=llm, similarity_top_k=args.k)
    questions = json.loads(args.questions.read_text(encoding="utf-8"))
    with args.out.open("w", encoding="utf-8") as fh:
        for i, q in enumerate(questions):
            t1 = time.perf_counter()
            response = engine.query(q["text"])
            seconds = time.perf_counter() - t1
            sources = [n.node.metadata.get("file_name", "") for n in response.source_nodes]
            fh.write(
                json.dumps({"id": q["id"], "answer": str(response), "sources": sources, "seconds": seconds}) + "\n"
            )
            fh.flush()
            print(f"  llamaindex {i + 1}/{len(questions)} {seconds:.1f}s", file=sys.stderr, flush=True)
    print(json.dumps({"system": "llamaindex", "built": built, "index_s": round(index_s, 1), "n": len(questions)}))


if __name__ == "__main__":
    main()
