"""What every command shares: the --home/--config options, building Settings once, output and errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from docket.errors import DocketError, UserError

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Knowledge-base directory (default: $DOCKET_HOME or the user data dir).", show_default=False
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="A docket.toml to read instead of the one in the knowledge base.", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
WorkspaceOption = Annotated[str, typer.Option("--workspace", help="Workspace the documents belong to.")]
TagOption = Annotated[list[str] | None, typer.Option("--tag", help="Tag the documents (repeatable).")]
AccessOption = Annotated[
    list[str] | None,
    typer.Option(
        "--access",
        help="Only these may read the documents inside their workspace: user:EMAIL or group:NAME (repeatable).",
    ),
]

RetryFailedOption = Annotated[
    bool,
    typer.Option(
        "--retry-failed",
        help="Parse again the files that failed before, even if they have not changed since.",
    ),
]

RehashOption = Annotated[
    bool,
    typer.Option(
        "--rehash",
        help="Read and hash every file, also those whose size and modification time are unchanged "
        "(after copies that keep the time: cp -p, rsync -t, an unpacked archive).",
    ),
]


def check_access(principals: list[str] | None) -> None:
    """Refuse an ``--access`` value that is not ``user:EMAIL`` or ``group:NAME``."""
    from docket.accounts.principal import check_access_list

    check_access_list(principals)


ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", help="Use this model, e.g. openai:gpt-4o-mini, anthropic:MODEL or local (default: model.name)."
    ),
]
ShowPromptOption = Annotated[
    bool, typer.Option("--show-prompt", help="Print exactly what is sent to the model (stderr).")
]

console = Console(soft_wrap=True, emoji=False)
err_console = Console(stderr=True, soft_wrap=True, emoji=False)

F = TypeVar("F", bound=Callable[..., Any])


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def handle_errors(func: F) -> F:
    """Render Docket's errors once: a one-line message (or the JSON error shape) and exit status."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DocketError as exc:
            if kwargs.get("as_json"):
                emit_json(exc.to_dict())
            else:
                err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2 if isinstance(exc, UserError) else 1) from None
        except KeyboardInterrupt:
            err_console.print("Interrupted. The index is consistent; run the command again to resume.")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def settings_from(home: Path | None, config: Path | None = None, **overrides: Any) -> Any:
    from docket.config import load_settings

    return load_settings(home=home, config_file=config, overrides=overrides or None)


@contextmanager
def open_kb(home: Path | None, config: Path | None = None, **overrides: Any) -> Iterator[Any]:
    from docket.kb import KnowledgeBase

    kb = KnowledgeBase(settings_from(home, config, **overrides))
    try:
        yield kb
    finally:
        kb.close()


def parse_time(value: str | None, option: str) -> float | None:
    """An ISO date or datetime (``2024-05-01``) as a POSIX timestamp."""
    if value is None:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise UserError(f"{option}: '{value}' is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None


def prompt_printer(enabled: bool) -> Callable[[Any], None]:
    """An ``on_prompt`` hook for ``--show-prompt``: prints each prompt to stderr, exactly as sent."""

    def show(prompt: Any) -> None:
        if enabled:
            err_console.rule("prompt sent to the model")
            err_console.print(prompt.render(), markup=False, highlight=False)
            err_console.rule()

    return show


class Streamer:
    """Writes a model's text to the terminal as it arrives and remembers what it wrote."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def __call__(self, piece: str) -> None:
        self.parts.append(piece)
        sys.stdout.write(piece)
        sys.stdout.flush()

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def end(self) -> None:
        if self.parts:
            sys.stdout.write("\n\n")
            sys.stdout.flush()


@contextmanager
def progress_bar(enabled: bool, label: str = "Indexing") -> Iterator[Callable[[int, int, str], None] | None]:
    """A progress bar with ETA on stderr (``update(done, total, text)``); plain lines when stderr
    is not a terminal (a log, CI, a pipe), where a bar would be lost or garbled."""
    if not enabled:
        yield None
        return
    if not err_console.is_terminal:
        yield plain_progress(label)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}", style="dim"),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, text: str) -> None:
            bar.update(task, completed=done, total=total, description=text[-60:])

        yield update


def parse_where(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``["org=Acme", "year=2023"]`` as (field, value) pairs; a clear error for anything else."""
    out = []
    for value in values:
        key, sep, wanted = value.partition("=")
        if not sep or not key.strip() or not wanted.strip():
            raise UserError(
                f"--where takes FIELD=VALUE (org=Acme, type=10-Q, year=2023, period=FROM..TO), not '{value}'"
            )
        out.append((key.strip(), wanted.strip()))
    return tuple(out)


def plain_progress(label: str) -> Callable[[int, int, str], None]:
    """Progress as plain lines on stderr, ``Indexing: 3/40 path``: every item of up to 100, else
    each percent, and the last."""
    shown = {"percent": -1}

    def update(done: int, total: int, text: str) -> None:
        percent = done * 100 // total if total else 100
        if total <= 100 or percent != shown["percent"] or done == total:
            shown["percent"] = percent
            sys.stderr.write(f"{label}: {done}/{total} {text}\n")
            sys.stderr.flush()

    return update


def progress_printer(enabled: bool) -> Callable[[int, int, str], None]:
    def report(done: int, total: int, label: str) -> None:
        if enabled:
            err_console.print(f"[dim]{done}/{total} {label}[/]", highlight=False)

    return report
