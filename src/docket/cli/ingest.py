"""docket ingest / sync / quickstart."""

from __future__ import annotations

import shutil
import time
from importlib.resources import as_file, files
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from docket.cli.common import (
    AccessOption,
    ConfigOption,
    HomeOption,
    JsonOption,
    RehashOption,
    RetryFailedOption,
    TagOption,
    WorkspaceOption,
    check_access,
    console,
    emit_json,
    err_console,
    handle_errors,
    open_kb,
    progress_bar,
    settings_from,
)
from docket.types import DEFAULT_WORKSPACE

DEMO_QUESTION = "How many weeks of paid parental leave does Clef offer?"


def print_report(report: Any) -> None:
    line = (
        f"[green]{report.added} added[/], {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.deleted} deleted"
    )
    if report.renamed:
        line += f", {report.renamed} renamed"
    if report.pages_ocr:
        line += f"; {report.pages_ocr} scanned page{'s' if report.pages_ocr != 1 else ''} read by OCR"
    if report.pages_unreadable:
        unreadable = report.pages_unreadable
        line += f"; [yellow]{unreadable} page{'s' if unreadable != 1 else ''} unreadable[/] (see the warnings)"
    line += f"; {report.chunks_embedded} chunks embedded"
    if report.chunks_reused:
        line += f" ({report.chunks_reused} reused)"
    line += f" in {report.seconds:.1f}s"
    console.print(line)
    for failure in report.failed:
        console.print(f"  [red]failed[/] {escape(failure['path'])}: {escape(failure['error'])}", highlight=False)
    for failure in report.failed_before:
        console.print(
            f"  [red]failed before[/] {escape(failure['path'])}: {escape(failure['error'])} "
            "(unchanged, not parsed again; --retry-failed parses it again)",
            highlight=False,
        )
    for warning in report.warnings:
        console.print(f"  [yellow]warning[/] {escape(warning['path'])}: {escape(warning['warning'])}", highlight=False)


def print_profile(report: Any) -> None:
    """Seconds per ingest stage and their share of the total (``--profile``)."""
    total = report.seconds or 1.0
    chunks = report.chunks_embedded
    rate = f", {chunks / report.seconds:.1f} chunks/s" if chunks and report.seconds else ""
    console.print(f"stage seconds ({report.seconds:.1f}s in all{rate}):")
    for stage, seconds in report.stages.items():
        console.print(f"  {stage:<15} {seconds:8.2f}s {seconds / total:6.1%}", highlight=False)


def _exit_status(report: Any) -> None:
    failures = len(report.failed) + len(report.failed_before)
    if failures and report.processed == failures:
        raise typer.Exit(1)


@handle_errors
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Folders or files to index.", show_default=False)],
    watch: Annotated[bool, typer.Option("--watch", help="Keep watching and re-sync on changes.")] = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    tag: TagOption = None,
    access: AccessOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    retry_failed: RetryFailedOption = False,
    rehash: RehashOption = False,
    profile: Annotated[
        bool, typer.Option("--profile", help="Also print the seconds spent in each stage (parse, embed, write...).")
    ] = False,
) -> None:
    """Parse, chunk, embed and index files; later runs only process what changed."""
    check_access(access)
    with open_kb(home, config) as kb:
        with progress_bar(not as_json) as progress:
            report = kb.ingest(
                paths,
                workspace=workspace,
                tags=tag or (),
                access=access or (),
                progress=progress,
                retry_failed=retry_failed,
                rehash=rehash,
            )
        if as_json:
            emit_json(report.to_dict())
        else:
            print_report(report)
            if profile:
                print_profile(report)
        if watch:
            _watch(kb, [str(Path(p).expanduser().resolve()) for p in paths], as_json)
        _exit_status(report)


def _watch(kb: Any, roots: list[str], as_json: bool) -> None:
    from watchfiles import watch as watch_changes

    err_console.print(f"Watching {len(roots)} path(s) for changes. Press Ctrl-C to stop.")
    sources = kb.ledger.sources()
    caught_up = False
    # yield_on_timeout: the first quiet period triggers one catch-up sync for changes made between
    # the initial ingest and the watcher starting.
    for changes in watch_changes(*roots, debounce=800, yield_on_timeout=True, rust_timeout=2000, raise_interrupt=False):
        if not changes and caught_up:
            continue
        caught_up = True
        changed = {path for _, path in changes}
        names = [n for n, cfg in sources.items() if cfg.path and any(p.startswith(cfg.path) for p in changed)]
        report = kb.sync(names or None)
        if not (report.added or report.updated or report.deleted or report.renamed or report.failed):
            continue
        if as_json:
            emit_json(report.to_dict())
        else:
            print_report(report)


@handle_errors
def sync(
    source: Annotated[list[str] | None, typer.Argument(help="Sources to sync (default: all).")] = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    retry_failed: RetryFailedOption = False,
    rehash: RehashOption = False,
) -> None:
    """Re-sync registered sources: changed files are re-indexed, deleted ones removed."""
    with open_kb(home, config) as kb:
        with progress_bar(not as_json) as progress:
            report = kb.sync(source or None, progress=progress, retry_failed=retry_failed, rehash=rehash)
        if as_json:
            emit_json(report.to_dict())
        else:
            print_report(report)
        _exit_status(report)


@handle_errors
def demo_home() -> Path:
    """The demo's own knowledge base: the default home's name with ``-demo`` (DOCKET_HOME and
    XDG_DATA_HOME are respected), never the knowledge base itself."""
    home = settings_from(None, None).home
    return home.with_name(f"{home.name}-demo")


def quickstart(
    question: Annotated[str, typer.Option(help="The question to ask the demo corpus.")] = DEMO_QUESTION,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Index the bundled demo handbook (CC0) and answer a question from it, offline.

    Without --home it uses a knowledge base of its own beside the default one ("docket-demo"
    next to "docket"), so the demo never mixes into your documents."""
    from docket.cli.search import print_answer

    with open_kb(home or demo_home()) as kb:
        demo = files("docket.demo").joinpath("clef-handbook")
        with as_file(demo) as demo_path:
            target = kb.settings.home / "demo" / "clef-handbook"
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(demo_path, target)
        if not as_json:
            console.print(f"Knowledge base: [bold]{escape(str(kb.settings.home))}[/]")
            console.print("Indexing the demo corpus: the Clef handbook (CC0 1.0) ...")
        started = time.perf_counter()
        with progress_bar(not as_json) as progress:
            report = kb.ingest([str(target)], progress=progress)
        answer = kb.ask(question)
        if as_json:
            emit_json({"ingest": report.to_dict(), **answer.to_dict()})
            return
        print_report(report)
        console.print(f"\n[bold]Q:[/] {escape(question)}")
        print_answer(answer)
        console.print(
            f'\n[dim]Done in {time.perf_counter() - started:.1f}s. Try: docket search "sabbatical" '
            f"--home {kb.settings.home}[/]"
        )
