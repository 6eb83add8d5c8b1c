"""docket search / ask."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from docket.cli.common import (
    ConfigOption,
    HomeOption,
    JsonOption,
    ModelOption,
    ShowPromptOption,
    Streamer,
    console,
    emit_json,
    handle_errors,
    open_kb,
    parse_time,
    parse_where,
    progress_printer,
    prompt_printer,
)

PathGlob = Annotated[str | None, typer.Option("--path", help="Only files whose path matches this glob.")]
FileType = Annotated[list[str] | None, typer.Option("--type", help="Only these file types, e.g. pdf (repeatable).")]
Since = Annotated[str | None, typer.Option("--since", help="Only files modified on or after this date.")]
Until = Annotated[str | None, typer.Option("--until", help="Only files modified before this date.")]
TagFilter = Annotated[list[str] | None, typer.Option("--tag", help="Only documents with this tag (repeatable).")]
WhereFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        help="Only documents whose profile matches: org=Acme, type=10-Q, year=2023, quarter=2, "
        "period=2023-01-01..2023-06-30, title=... (repeatable).",
    ),
]


def _filters(
    path: str | None,
    types: list[str] | None,
    since: str | None,
    until: str | None,
    tags: list[str] | None,
    where: list[str] | None = None,
) -> Any:
    from docket.types import Filters

    return Filters(
        path_glob=path,
        filetypes=tuple(types or ()),
        modified_after=parse_time(since, "--since"),
        modified_before=parse_time(until, "--until"),
        tags=tuple(tags or ()),
        where=parse_where(where or ()),
    )


@handle_errors
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int | None, typer.Option("--k", help="Number of results.")] = None,
    mode: Annotated[str | None, typer.Option(help="hybrid (default), keyword or semantic.")] = None,
    path: PathGlob = None,
    filetype: FileType = None,
    since: Since = None,
    until: Until = None,
    tag: TagFilter = None,
    where: WhereFilter = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hybrid keyword + semantic search; shows rank, score, file, location and passage."""
    from docket.kb.suggestions import search_or_suggest

    overrides = {"search": {"mode": mode}} if mode else {}
    with open_kb(home, config, **overrides) as kb:
        found = search_or_suggest(kb, query, k=k, filters=_filters(path, filetype, since, until, tag, where))
    hits = found.hits
    if as_json:  # the full hits, paths never shortened; a miss is said on stderr, the list stays []
        emit_json([h.to_dict() for h in hits])
        if not hits:
            _no_match(found, Console(stderr=True))
        return
    if not hits:
        _no_match(found, console)
        return
    table = Table(show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("file / location", overflow="fold", min_width=20)  # long paths wrap, never cut
    table.add_column("passage", ratio=3)
    for rank, hit in enumerate(hits, start=1):
        text = hit.text if len(hit.text) <= 400 else hit.text[:400] + " …"
        place = f"{escape(hit.path)}\n[dim]{escape(hit.location.label())}[/]"
        table.add_row(str(rank), f"{hit.score:.3f}", place, escape(text))
    console.print(table)


def _no_match(found: Any, out: Console) -> None:
    out.print(f"{found.message}.", highlight=False)
    if found.filtered_out:
        out.print(
            "The filters (--path, --type, --since, --until, --tag, --where) excluded every match: try without them."
        )
    for suggestion in found.suggestions:
        out.print(f"Try: docket search {shlex.quote(suggestion)}", highlight=False, markup=False)


def print_answer(answer: Any, text_shown: bool = False) -> None:
    if answer.abstained:
        console.print(f"[bold yellow]{escape(answer.text)}[/]")
        if answer.sources:
            console.print("Closest sources:")
            for hit in answer.sources[:3]:
                console.print(f"  - {escape(hit.path)} [dim]{escape(hit.location.label())}[/]", highlight=False)
        for note in answer.notes:
            console.print(f"[yellow]Note:[/] {escape(note)}", highlight=False)
        return
    if not text_shown:
        console.print(answer.text, highlight=False, markup=False)
        console.print()
    table = getattr(answer, "table", None)
    if table is not None:  # a figure computed by SQL: show the query; the rows are in the text above
        console.print("[bold]SQL[/] [dim](run on the table; the model wrote the query, not the figures)[/]")
        console.print(table.sql, highlight=False, markup=False)
        console.print()
    seen = set()
    for c in answer.citations:
        if c.n in seen:
            continue
        seen.add(c.n)
        where = escape(c.location.label())
        line = f"[bold]\\[{c.n}][/] {escape(c.path)}" + (f" [dim]({where})[/]" if where else "")
        document = getattr(c, "document", "")
        if document and document != c.path:
            line += f" — {escape(document)}"
        if c.supported is False:
            line += " [yellow](not found in this source)[/]"
        console.print(line, highlight=False)
    for note in answer.notes:
        console.print(f"[yellow]Note:[/] {escape(note)}", highlight=False)
    if answer.model:
        u = answer.usage
        cost = "" if u is None or u.cost is None else f", ${u.cost:.4f}"
        tokens = f"{u.prompt_tokens}+{u.completion_tokens} tokens" if u else ""
        console.print(f"[dim]{escape(answer.model)} · {tokens}{cost}[/]", highlight=False)


@handle_errors
def ask(
    question: Annotated[str, typer.Argument(help="A question about your documents.")],
    model: ModelOption = None,
    show_prompt: ShowPromptOption = False,
    path: PathGlob = None,
    filetype: FileType = None,
    since: Since = None,
    until: Until = None,
    tag: TagFilter = None,
    where: WhereFilter = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    sql: Annotated[
        bool | None,
        typer.Option(
            "--sql/--no-sql",
            help="Answer questions about figures by SQL over spreadsheets: always try (--sql) or never "
            "(--no-sql). Default: when the question asks for a count, total, average...",
            show_default=False,
        ),
    ] = None,
    doc: Annotated[
        list[str] | None,
        typer.Option(
            "--doc",
            help="Answer from every part of this document (repeatable), e.g. to compare contracts; "
            "an indexed path, its end, or a file.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Answer from your documents with numbered citations, or say it is not there."""

    streamer = Streamer()
    live = not as_json and console.is_terminal
    with open_kb(home, config) as kb:
        if doc:
            answer = kb.ask_documents(
                question,
                doc,
                model=model,
                stream=streamer if live else None,
                on_prompt=prompt_printer(show_prompt),
                progress=progress_printer(live),
            )
        else:
            answer = kb.ask(
                question,
                filters=_filters(path, filetype, since, until, tag, where),
                model=model,
                stream=streamer if live else None,
                on_prompt=prompt_printer(show_prompt),
                tables=sql,
            )
    if as_json:
        emit_json(answer.to_dict())
        return
    streamer.end()
    print_answer(answer, text_shown=streamer.text == answer.text)
