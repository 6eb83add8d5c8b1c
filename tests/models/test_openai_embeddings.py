"""The ``openai`` embedder: against a real llama.cpp server on 127.0.0.1 (``llama_embedding_server``,
tests/models/conftest.py), end to end through a knowledge base and ``reindex``, and its retries, batching
and error messages against scripted servers (``httpx.MockTransport`` and a closed loopback port)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from docket.config import EmbedderSettings, load_settings
from docket.errors import ConfigError, ModelError, UnknownBackendError
from docket.index.reindex import reindex
from docket.kb import KnowledgeBase
from docket.models.embedders import EMBEDDERS, FakeEmbedder, OpenAIEmbedder, embedder_from_settings
from tests.models.conftest import free_port

BASE = "http://embeddings.test/v1"
KEY = "sk-secret-value"

FILES = {
    "leave.txt": "Parental leave: new parents get twelve weeks of paid leave, taken within the first year.",
    "office.txt": "The office opens at nine and closes at six. It is closed on public holidays.",
    "expenses.txt": "Expenses are reimbursed within thirty days when the receipt is attached to the claim.",
}


def _check_unit_vectors(v: np.ndarray, n: int, dim: int) -> None:
    assert v.shape == (n, dim) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _environ(server: str) -> dict[str, str]:
    return {"DOCKET_EMBEDDER__NAME": "openai", "DOCKET_EMBEDDER__MODEL": "local", "DOCKET_EMBEDDER__BASE_URL": server}


# -- a real llama.cpp server


def test_real_server_vectors_are_unit_length_and_their_size_is_discovered(llama_embedding_server: str) -> None:
    embedder = OpenAIEmbedder("local", base_url=llama_embedding_server)
    vectors = embedder.embed_passages(list(FILES.values()))
    query = embedder.embed_queries(["How long is parental leave?"])
    embedder.close()
    assert embedder.name == "openai:local" and embedder.dim == 576  # SmolLM2-135M's hidden size
    _check_unit_vectors(vectors, 3, 576)
    _check_unit_vectors(query, 1, 576)


def test_real_server_batches_give_the_vectors_of_one_by_one(llama_embedding_server: str) -> None:
    texts = [f"passage number {i} about leave and holidays " * (i % 5 + 1) for i in range(10)]
    batched = OpenAIEmbedder("local", base_url=llama_embedding_server, batch_size=4)
    single = OpenAIEmbedder("local", base_url=llama_embedding_server, dim=batched.dim, batch_size=1)
    together, one_by_one = batched.embed_passages(texts), single.embed_passages(texts)
    batched.close()
    single.close()
    _check_unit_vectors(together, 10, 576)
    # llama.cpp decodes a batch of sequences together, which moves the last digits a little
    assert np.allclose(together, one_by_one, atol=1e-2)
    assert np.all(np.sum(together * one_by_one, axis=1) > 0.999)


def test_real_server_embeds_an_empty_text(llama_embedding_server: str) -> None:
    embedder = OpenAIEmbedder("local", base_url=llama_embedding_server, dim=576, max_retries=0)
    vectors = embedder.embed_passages(["", "text"])
    embedder.close()
    assert vectors.shape == (2, 576) and np.all(np.isfinite(vectors))


def test_a_knowledge_base_ingests_and_searches_with_server_embeddings(
    llama_embedding_server: str, tmp_path: Path
) -> None:
    settings = load_settings(home=tmp_path / "kb", environ=_environ(llama_embedding_server))
    with KnowledgeBase(settings) as kb:
        report = kb.ingest([str(_folder(tmp_path))])
        assert report.failed == [] and report.added == 3
        assert kb.store.embedder_info() == ("openai:local", 576)
        hits = kb.search("twelve weeks of paid parental leave", mode="semantic", k=3)
        assert len(hits) == 3 and {Path(h.path).name for h in hits} == set(FILES)
        assert kb.search("parental leave")[0].path.endswith("leave.txt")  # hybrid: keywords agree


def test_reindex_moves_a_knowledge_base_onto_server_embeddings(llama_embedding_server: str, tmp_path: Path) -> None:
    home = tmp_path / "kb"
    environ = {k: v for k, v in _environ(llama_embedding_server).items() if k != "DOCKET_EMBEDDER__NAME"}
    settings = load_settings(home=home, environ=environ)
    assert settings.embedder.name == "minilm"
    with KnowledgeBase(settings, embedder=FakeEmbedder()) as kb:
        kb.ingest([str(_folder(tmp_path))])
    result = reindex(settings, "openai")
    assert result["chunks"] >= 3 and result["embedder"] == "openai:local"
    assert tomllib.loads((home / "docket.toml").read_text())["embedder"]["name"] == "openai"
    with KnowledgeBase(load_settings(home=home, environ=environ)) as kb:  # docket.toml now names openai
        assert kb.store.embedder_info() == ("openai:local", 576)
        assert len(kb.search("office hours", mode="semantic", k=2)) == 2


# -- scripted servers

Reply = Callable[[list[str], int], httpx.Response]


def _vector(text: str) -> list[float]:
    return [float(len(text)), float(text.count("a")) + 1.0, 2.0]


def _ok(texts: list[str], _call: int) -> httpx.Response:
    data = [{"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(texts)]
    return httpx.Response(200, json={"object": "list", "data": data[::-1], "model": "m"})  # out of order


def _embedder(reply: Reply, requests: list[dict], **options: Any) -> OpenAIEmbedder:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append({**body, "url": str(request.url), "auth": request.headers.get("Authorization")})
        return reply(body["input"], len(requests))

    options = {"base_url": BASE, "api_key": KEY, **options}
    return OpenAIEmbedder("m", transport=httpx.MockTransport(handle), **options)


def test_batches_split_into_requests_and_come_back_in_input_order() -> None:
    requests: list[dict] = []
    texts = [f"text {'a' * i}" for i in range(10)]
    embedder = _embedder(_ok, requests, dim=3, batch_size=4)
    vectors = embedder.embed_passages(texts)
    assert [len(r["input"]) for r in requests] == [4, 4, 2]
    assert all(r["url"] == f"{BASE}/embeddings" and r["model"] == "m" for r in requests)
    assert requests[0]["auth"] == f"Bearer {KEY}"
    expected = np.array([_vector(t) for t in texts], dtype=np.float32)
    assert np.allclose(vectors, expected / np.linalg.norm(expected, axis=1, keepdims=True))
    _check_unit_vectors(vectors, 10, 3)


def test_the_size_is_asked_from_the_server_once_when_not_configured() -> None:
    requests: list[dict] = []
    embedder = _embedder(_ok, requests)
    assert embedder.dim == 3 and len(requests) == 1
    assert embedder.embed_passages([]).shape == (0, 3) and len(requests) == 1  # nothing to send, nothing sent


def test_an_empty_text_is_sent_as_a_space() -> None:
    requests: list[dict] = []
    _embedder(_ok, requests, dim=3).embed_passages(["", "x"])
    assert requests[0]["input"] == [" ", "x"]


def test_429_is_retried_after_the_servers_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    import docket.models.openai_compat as module

    waits: list[float] = []
    monkeypatch.setattr(module.time, "sleep", waits.append)

    def reply(texts: list[str], call: int) -> httpx.Response:
        if call == 1:
            return httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "2"})
        return _ok(texts, call)

    requests: list[dict] = []
    vectors = _embedder(reply, requests, dim=3, backoff=5.0).embed_passages(["a", "b"])
    assert len(requests) == 2 and vectors.shape == (2, 3)
    assert waits == [2.0]  # the server's Retry-After, not the 5 s backoff


def test_server_errors_are_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    import docket.models.openai_compat as module

    waits: list[float] = []
    monkeypatch.setattr(module.time, "sleep", waits.append)

    def reply(texts: list[str], call: int) -> httpx.Response:
        return httpx.Response(503) if call < 3 else _ok(texts, call)

    requests: list[dict] = []
    _embedder(reply, requests, dim=3, backoff=0.5).embed_passages(["a"])
    assert len(requests) == 3 and waits == [0.5, 1.0]


def test_a_timed_out_request_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    import docket.models.openai_compat as module

    waits: list[float] = []
    monkeypatch.setattr(module.time, "sleep", waits.append)

    def reply(texts: list[str], call: int) -> httpx.Response:
        if call == 1:
            raise httpx.ReadTimeout("timed out")
        return _ok(texts, call)

    requests: list[dict] = []
    _embedder(reply, requests, dim=3, backoff=0.25).embed_passages(["a"])
    assert len(requests) == 2 and waits == [0.25]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "HTTP 401: the API key was refused; check embedder.api_key (default: OPENAI_API_KEY)"),
        (404, "HTTP 404: model 'm' or the endpoint was not found"),
        (500, "HTTP 500: the server failed (boom)"),
    ],
)
def test_http_errors_name_the_server_and_what_to_check(status: int, expected: str) -> None:
    def reply(_texts: list[str], _call: int) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "boom" if status == 500 else "no"}})

    embedder = _embedder(reply, [], dim=3, max_retries=0)
    with pytest.raises(ModelError) as err:
        embedder.embed_passages(["a"])
    message = str(err.value)
    assert message.startswith(f"embedder openai:m at {BASE}: ") and expected in message
    assert KEY not in message and "\n" not in message


def test_an_unreachable_server_is_named_without_the_key() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelError) as err:
        OpenAIEmbedder("m", base_url=url, api_key=KEY, max_retries=1, backoff=0.01)  # the size probe fails
    message = str(err.value)
    assert f"cannot reach {url}" in message and "embedder.base_url" in message and KEY not in message


def test_a_timeout_says_how_long_it_waited() -> None:
    def reply(_texts: list[str], _call: int) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(ModelError, match=rf"no answer from {re.escape(BASE)} within 0\.5s"):
        _embedder(reply, [], dim=3, timeout=0.5, max_retries=0).embed_passages(["a"])


def test_one_vector_per_token_asks_for_pooling() -> None:
    def reply(texts: list[str], _call: int) -> httpx.Response:
        data = [{"index": i, "embedding": [[0.1, 0.2], [0.3, 0.4]]} for i in range(len(texts))]
        return httpx.Response(200, json={"data": data})

    with pytest.raises(ModelError, match=r"one vector per token .* pooling"):
        _embedder(reply, [], dim=2).embed_passages(["a"])


@pytest.mark.parametrize(
    "payload", [{"data": [{"index": 0}]}, {"object": "list"}, {"data": [{"index": 0, "embedding": [1.0]}] * 2}]
)
def test_malformed_responses_are_model_errors(payload: dict) -> None:
    def reply(_texts: list[str], _call: int) -> httpx.Response:
        return httpx.Response(200, json=payload)

    with pytest.raises(ModelError, match=f"embedder openai:m: the server at {re.escape(BASE)}"):
        _embedder(reply, [], dim=1).embed_passages(["a"])


def test_a_configured_size_the_server_does_not_give_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"returned 3-dimensional vectors, but embedder\.dim is 384"):
        _embedder(_ok, [], dim=384).embed_passages(["a"])


# -- settings


def test_settings_reach_the_embedder() -> None:
    cfg = EmbedderSettings(name="openai", model="m", base_url=BASE, dim=3, batch_size=7, timeout=5, max_retries=1)
    embedder = embedder_from_settings(cfg)
    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.name, embedder.dim, embedder.batch_size) == ("openai:m", 3, 7)
    assert (embedder._http.base_url, embedder._http.timeout, embedder._http.max_retries) == (BASE, 5, 1)


def test_the_openai_embedder_needs_a_model() -> None:
    with pytest.raises(ConfigError, match=r"set embedder\.model \(DOCKET_EMBEDDER__MODEL\)"):
        embedder_from_settings(EmbedderSettings(name="openai", dim=3))


def test_defaults_keep_minilm_and_unknown_names_list_openai() -> None:
    assert EmbedderSettings().name == "minilm"
    assert isinstance(embedder_from_settings(EmbedderSettings(name="fake")), FakeEmbedder)
    with pytest.raises(UnknownBackendError, match="Valid embedders: e5-small, fake, minilm, openai"):
        embedder_from_settings(EmbedderSettings(name="bert"))
    with pytest.raises(ConfigError, match="has no option"):
        EMBEDDERS.create("openai", model="m", dims=3)


def test_the_model_server_and_key_are_shared_only_with_the_same_server(tmp_path: Path) -> None:
    shared = load_settings(home=tmp_path, environ={"DOCKET_OPENAI_BASE_URL": BASE, "OPENAI_API_KEY": KEY})
    assert shared.embedder.base_url == BASE and shared.embedder.api_key is not None
    assert shared.embedder.api_key.get_secret_value() == KEY
    assert KEY not in json.dumps(shared.redacted())
    other = load_settings(
        home=tmp_path,
        environ={"OPENAI_API_KEY": KEY, "DOCKET_EMBEDDER__BASE_URL": "http://127.0.0.1:11434/v1"},
    )
    assert other.embedder.base_url == "http://127.0.0.1:11434/v1" and other.embedder.api_key is None
    own = load_settings(home=tmp_path, environ={"OPENAI_API_KEY": KEY, "DOCKET_EMBEDDER__API_KEY": "sk-embed"})
    assert own.embedder.api_key is not None and own.embedder.api_key.get_secret_value() == "sk-embed"
    assert load_settings(home=tmp_path, environ={}).embedder.base_url == "https://api.openai.com/v1"
