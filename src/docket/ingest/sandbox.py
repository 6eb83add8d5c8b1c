"""Parse files in worker processes, with a time limit and a memory limit.

A hostile or broken file can make a parser hang, eat all memory or crash the interpreter. With
``ingest.sandbox`` on (the default), :class:`Sandbox` hands each file to a worker process and waits
at most ``ingest.parse_timeout`` seconds; the worker's address space is capped at its own size plus
``ingest.parse_memory_mb`` (``RLIMIT_AS``). Whatever happens, only that file fails, with one line
that says why:

- too slow: the worker is killed and replaced, ``took longer than 60 s to parse; ...`` (a page read
  by OCR adds ``ingest.ocr_page_timeout`` to the limit: the worker asks for it before each page,
  and the message says how much more it was given)
- too much memory: ``needed more than 2048 MB of memory to parse; ...`` (the worker is replaced)
- the worker died (a segfault in a C library): ``the parser crashed on this file (SIGSEGV); ...``

Workers are plain ``python`` processes talking over two pipes (no ``multiprocessing`` start
method, so no re-import of the caller's main module). They are reused from file to file (the bytes
are sent once, the parsed blocks come back once) and start lazily on the first file that needs
parsing, so the cost per file is small (measured in docs/security.md). :func:`parse_with` is the
one entry point the syncs call: in a worker when given a sandbox, in this process otherwise
(``ingest.sandbox = false``, and what the parser unit tests use); the
:class:`~docket.ingest.limits.ParseLimits` apply either way.

Plain text files (``.txt``, ``.text``, ``.log``) up to :data:`INLINE_TEXT_BYTES` are parsed in the
calling process even with a sandbox: their parser only decodes and splits the bytes (no C library,
time linear in the size, memory a small multiple of it), while starting a worker for them costs
about 0.1 s, most of a re-sync where a few text files changed (bench/RESULTS.md, "Re-sync").
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing.connection
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, cast

from docket.errors import ParseError, ParseWorkerError, UnsupportedFileError
from docket.ingest.limits import ParseLimits, applied_limits, deadline_extended_by
from docket.ingest.parsers import parse_bytes, parser_for
from docket.types import ParsedDocument

if TYPE_CHECKING:
    from docket.config import IngestSettings

__all__ = ["ParseFn", "Sandbox", "limits_from_settings", "parse_with", "sandbox_from_settings"]

# parse(data, path) -> ParsedDocument, raising ParseError; a worker's target must be a module-level
# function, since the worker imports it by name.
ParseFn = Callable[[bytes, str], ParsedDocument]

_WORKER_CODE = "from docket.ingest.sandbox import _main; _main()"
# Plain text up to this size is parsed in the calling process (see the module docstring).
INLINE_TEXT_BYTES = 1024 * 1024
_INLINE_EXTENSIONS = (".txt", ".text", ".log")
_STARTUP_SECONDS = 120.0  # a worker that cannot even start in this time is reported as a crash
_ERRORS: dict[str, type[ParseError]] = {"ParseError": ParseError, "UnsupportedFileError": UnsupportedFileError}


def limits_from_settings(ingest: IngestSettings) -> ParseLimits:
    return ParseLimits(
        max_pages=ingest.max_pages,
        max_unzipped_mb=ingest.max_unzipped_mb,
        max_attachment_depth=ingest.max_attachment_depth,
        max_attachments=ingest.max_attachments,
        ocr=ingest.ocr,
        ocr_engine=ingest.ocr_engine,
        ocr_languages=ingest.ocr_languages,
        ocr_dpi=ingest.ocr_dpi,
        ocr_page_seconds=ingest.ocr_page_timeout,
    )


def sandbox_from_settings(ingest: IngestSettings) -> Sandbox | None:
    """The sandbox the ``ingest`` settings ask for; None means parse in this process."""
    if not ingest.sandbox:
        return None
    return Sandbox(timeout=ingest.parse_timeout, memory_mb=ingest.parse_memory_mb, limits=limits_from_settings(ingest))


def parse_with(sandbox: Sandbox | None, data: bytes, path: str, limits: ParseLimits | None = None) -> ParsedDocument:
    """Parse one file in ``sandbox``'s workers, or in this process when it is None."""
    if sandbox is not None:
        return sandbox.parse(data, path)
    with applied_limits(limits or ParseLimits()):
        return parse_bytes(data, path)


# ---------------------------------------------------------------------------------------- worker
def _address_space() -> int:
    """This process's virtual memory size in bytes (0 where /proc is not available)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cap_memory(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the time limit still applies
        return
    cap = _address_space() + memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _out_of_memory(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(20):  # follow the cause chain a little way: parsers wrap what they catch
        if seen is None:
            return False
        if isinstance(seen, MemoryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _resolve(target: str) -> ParseFn:
    module, _, name = target.partition(":")
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return cast(ParseFn, found)


def _main() -> None:
    """A worker process: ``python -P -c 'from docket.ingest.sandbox import _main; _main()' READ_FD WRITE_FD``.

    It receives its setup (module search path, memory cap, limits, parse function), says "ready",
    then answers each (path, bytes) with ("ok", parsed), ("error", class, message) or ("memory",).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    conn_in = multiprocessing.connection.Connection(int(sys.argv[1]), writable=False)
    conn_out = multiprocessing.connection.Connection(int(sys.argv[2]), readable=False)
    search_path, memory_mb, limits, target_name = conn_in.recv()
    sys.path[:] = search_path
    target = _resolve(target_name)
    _cap_memory(memory_mb)
    conn_out.send(("ready",))
    with applied_limits(limits), deadline_extended_by(lambda seconds: conn_out.send(("more_time", seconds))):
        while True:
            try:
                path = conn_in.recv()
                data = conn_in.recv_bytes()
            except (EOFError, OSError):
                return
            reply: tuple[Any, ...]
            try:
                reply = ("ok", target(data, path))
            except MemoryError:
                reply = ("memory",)
            except ParseError as exc:
                reply = ("memory",) if _out_of_memory(exc) else ("error", type(exc).__name__, str(exc))
            except Exception as exc:  # a target that does not translate its errors
                reply = ("error", "ParseError", f"could not parse: {type(exc).__name__}: {exc}"[:300])
            del data
            try:
                conn_out.send(reply)
            except MemoryError:
                conn_out.send(("memory",))
            except Exception as exc:  # an unpicklable result
                conn_out.send(("error", "ParseError", f"could not return the parsed text: {type(exc).__name__}"))
            if reply[0] == "memory":
                return  # start afresh rather than carry a fragmented heap


class _Worker:
    """One worker process and the pipes to it."""

    def __init__(self, memory_mb: int, limits: ParseLimits, target: str) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-c", _WORKER_CODE, str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,  # libraries' chatter about broken files; the reply says what failed
                close_fds=True,
            )
        except OSError as exc:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise ParseWorkerError(f"the parse worker could not start ({exc}); set ingest.sandbox = false") from exc
        os.close(to_child_r)
        os.close(from_child_w)
        self.send = multiprocessing.connection.Connection(to_child_w, readable=False)
        self.recv = multiprocessing.connection.Connection(from_child_r, writable=False)
        try:
            self.send.send((list(sys.path), memory_mb, limits, target))
            if not self.recv.poll(_STARTUP_SECONDS):
                raise EOFError
            self.recv.recv()
        except (EOFError, OSError) as exc:
            death = self._death()
            self.kill()
            raise ParseWorkerError(f"the parse worker did not start ({death}); set ingest.sandbox = false") from exc

    def alive(self) -> bool:
        return self.process.poll() is None

    def __del__(self) -> None:  # a sandbox dropped without close(): stop its worker quietly
        if getattr(self, "process", None) is not None and self.alive():
            self.kill()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.wait(5)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for conn in (getattr(self, "send", None), getattr(self, "recv", None)):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def close(self) -> None:
        self._close_pipes()  # the worker reads EOF and returns
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()

    def _death(self) -> str:
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            return "not answering"
        if code < 0:
            try:
                return signal.Signals(-code).name
            except ValueError:
                return f"signal {-code}"
        return f"exit status {code}"

    def run(self, data: bytes, path: str, timeout: float) -> tuple[Any, ...]:
        """The worker's reply, ("timeout", seconds granted beyond ``timeout``), or ("crash", how it died)."""
        try:
            self.send.send(path)
            self.send.send_bytes(data)
            deadline, granted = time.monotonic() + timeout, 0.0
            while True:
                if not self.recv.poll(max(deadline - time.monotonic(), 0.0)):
                    self.kill()
                    return ("timeout", granted)
                reply = tuple(self.recv.recv())
                if reply[0] != "more_time":
                    return reply
                deadline, granted = deadline + float(reply[1]), granted + float(reply[1])  # slow pages (OCR)
        except (EOFError, OSError):
            death = self._death()
            self.kill()
            return ("crash", death)


class Sandbox:
    """Parses files in a small pool of reusable worker processes, each file under a time and memory limit.

    Thread-safe: each concurrent call takes its own worker; at most ``workers`` idle ones are kept.
    Use as a context manager, or call :meth:`close`, to stop the workers.
    """

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        memory_mb: int = 2048,
        limits: ParseLimits | None = None,
        workers: int = 1,
        target: ParseFn = parse_bytes,
    ) -> None:
        self.timeout, self.memory_mb, self.limits = timeout, memory_mb, limits or ParseLimits()
        self.workers, self.target = workers, target
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self.started = 0  # workers started so far (a new one after each timeout, crash or memory error)
        self.parsed = 0  # files handed to a worker so far
        self.inline = 0  # plain text files parsed in this process instead

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
            self.started += 1
        return _Worker(self.memory_mb, self.limits, f"{self.target.__module__}:{self.target.__qualname__}")

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < self.workers:
                self._idle.append(worker)
                return
        worker.close()

    def _inline(self, data: bytes, path: str) -> bool:
        """Whether ``path`` is small plain text for the built-in parser, parsed here, not in a worker."""
        if self.target is not parse_bytes or len(data) > INLINE_TEXT_BYTES:
            return False
        if PurePath(path).suffix.lower() not in _INLINE_EXTENSIONS:
            return False
        from docket.ingest.parsers.text import TextParser

        return type(parser_for(path)) is TextParser

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        """Parse one file in a worker (small plain text: here); every failure is a one-line ParseError."""
        if self._inline(data, path):
            with self._lock:
                self.inline += 1
            with applied_limits(self.limits):
                return parse_bytes(data, path)
        with self._lock:
            self.parsed += 1
        worker = self._take()
        reply = worker.run(data, path, self.timeout)
        kind = reply[0]
        if kind in ("ok", "error"):
            self._give_back(worker)
        else:
            worker.kill()
        if kind == "ok":
            parsed: ParsedDocument = reply[1]
            return parsed
        if kind == "error":
            raise _ERRORS.get(reply[1], ParseError)(reply[2])
        if kind == "timeout":
            granted = f" (and {reply[1]:g} s more for its pages read by OCR)" if reply[1] else ""
            raise ParseError(
                f"took longer than {self.timeout:g} s to parse{granted}; the file may be built to hang parsers, "
                "or very large (raise ingest.parse_timeout to allow more time)"
            )
        if kind == "memory":
            raise ParseError(
                f"needed more than {self.memory_mb} MB of memory to parse; the file may be a decompression bomb, "
                "or very large (raise ingest.parse_memory_mb to allow more)"
            )
        raise ParseError(f"the parser crashed on this file ({reply[1]}); it may be corrupt or built to crash parsers")
