"""docket documents (what is indexed, and how well each file was read) and docket summarize."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
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
    parse_where,
    progress_printer,
    prompt_printer,
)
from docket.cli.search import print_answer
from docket.ingest.profiles import profile_of

documents_app = typer.Typer(
    help="The indexed documents: list them with their profiles (with --quality, how well each was read), "
    "show one, or correct a profile.",
    invoke_without_command=True,
)
WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        help="Only documents whose profile matches, e.g. org=Acme, type=10-Q, year=2023, quarter=2, "
        "period=2023-01-01..2023-06-30, title=handbook. Repeat to combine.",
    ),
]
QualityOption = Annotated[
    bool,
    typer.Option(
        "--quality",
        help="Show how each file was read (parser and readers, pages, characters per page, pages without text or "
        "read by OCR) and each source's totals.",
    ),
]


def _ranges(numbers: Sequence[int]) -> str:
    """``[2, 3, 4, 9]`` -> ``2-4, 9``."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


def _readers(quality: Mapping[str, Any]) -> str:
    readers = quality.get("readers")
    if readers is None:  # a format read by one library: the parser says which
        return str(quality.get("parser", ""))
    if not readers:
        return "no text"
    if len(readers) == 1:
        return next(iter(readers))
    return ", ".join(f"{name} {pages}" for name, pages in sorted(readers.items(), key=lambda kv: -kv[1]))


def _notes(quality: Mapping[str, Any]) -> str:
    """Pages without text, pages read again, pages read by OCR, warnings: what deserves a look, in a few words."""
    notes = []
    without = quality.get("pages_without_text") or []
    if without:
        notes.append(f"[yellow]no text: p. {_ranges(without)}[/]")
    ocr = quality.get("ocr_pages") or []
    again = [p for p in quality.get("rechecked_pages") or [] if p not in without and p not in ocr]
    if again:
        notes.append(f"read again: p. {_ranges(again)}")
    if ocr:
        confidence = quality.get("ocr_confidence")
        shown = f", confidence {confidence:.0%}" if isinstance(confidence, (int, float)) else ""
        notes.append(f"OCR: p. {_ranges(ocr)}{shown}")
    warnings = len(quality.get("warnings") or [])
    if warnings:
        notes.append(f"[yellow]{warnings} warning{'s' if warnings != 1 else ''}[/]")
    return "; ".join(notes)


def _summary_line(summary: Mapping[str, Any]) -> str:
    """``12 files (pdf 8, image 4) · 40 pages, 3 read by OCR (confidence 91%), 1 without text (image 1)``."""
    files, parsers = summary["files"], summary["parsers"]
    kinds = ", ".join(f"{name} {n}" for name, n in sorted(parsers.items(), key=lambda kv: (-kv[1], kv[0])))
    parts = [f"{files} file{'s' if files != 1 else ''}" + (f" ({kinds})" if kinds else "")]
    if summary["pages"]:
        pages = f"{summary['pages']} page{'s' if summary['pages'] != 1 else ''}"
        if summary["pages_ocr"]:
            confidence = summary.get("ocr_confidence")
            shown = f" (confidence {confidence:.0%})" if isinstance(confidence, (int, float)) else ""
            pages += f", {summary['pages_ocr']} read by OCR{shown}"
        without = summary["pages_without_text"]
        if without:
            reasons = ", ".join(f"{reason} {n}" for reason, n in without.items())
            pages += f", [yellow]{sum(without.values())} without text[/] ({reasons})"
        parts.append(pages)
    if summary["files_with_warnings"]:
        warned = summary["files_with_warnings"]
        parts.append(f"[yellow]{warned} file{'s' if warned != 1 else ''} with warnings[/]")
    if summary["not_recorded"]:
        parts.append(f"[dim]{summary['not_recorded']} not recorded[/]")
    return " · ".join(parts)


def _doc_json(doc: Any, quality: bool) -> dict[str, Any]:
    from docket.ingest.profiles import profile_of
    from docket.ingest.quality import summary_of

    out: dict[str, Any] = {
        "id": doc.id,
        "source": doc.source,
        "path": doc.path,
        "title": doc.title,
        "filetype": doc.filetype,
        "size": doc.size,
        "modified": doc.mtime,
        "workspace": doc.workspace,
        "tags": list(doc.tags),
        "profile": profile_of(doc.metadata).to_dict(),
    }
    if quality:
        out["quality"] = summary_of(doc.metadata)
    return out


@documents_app.callback(invoke_without_command=True)
@handle_errors
def documents(
    ctx: typer.Context,
    quality: QualityOption = False,
    where: WhereOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the indexed documents with what each is (organisation, type, period: its profile);
    --quality adds how well each file was read."""
    if ctx.invoked_subcommand is not None:
        return
    from docket.answer.scope import resolve_where
    from docket.ingest.quality import source_summaries

    with open_kb(home, config) as kb:
        docs = sorted(kb.store.documents(), key=lambda d: (d.source, d.path))
        if where:
            wanted = set(resolve_where(parse_where(where), kb.catalog()))
            docs = [d for d in docs if d.id in wanted]
    sources = source_summaries(docs) if quality else {}
    if as_json:
        emit_json({"documents": [_doc_json(d, quality) for d in docs], **({"sources": sources} if quality else {})})
        return
    if not docs:
        console.print("No documents yet. Add some with: docket ingest PATH")
        return
    table = Table(title=f"{len(docs)} document{'s' if len(docs) != 1 else ''}", title_justify="left")
    table.add_column("Path", no_wrap=True, min_width=12)
    if quality:
        table.add_column("Read with")
        table.add_column("Pages", justify="right", no_wrap=True)
        table.add_column("Chars/page", justify="right", no_wrap=True)
        table.add_column("Notes")
    else:
        for name in ("Title", "Profile", "Type", "Size", "Modified"):
            table.add_column(name, justify="right" if name == "Size" else "left", overflow="fold")
    unrecorded = 0
    for doc in docs:
        if not quality:
            modified = datetime.fromtimestamp(doc.mtime).strftime("%Y-%m-%d %H:%M")
            label = profile_of(doc.metadata).label()
            table.add_row(escape(doc.path), escape(doc.title), escape(label), doc.filetype, f"{doc.size:,}", modified)
            continue
        q = doc.metadata.get("quality")
        if not isinstance(q, Mapping):
            unrecorded += 1
            table.add_row(escape(doc.path), "", "", "", "[dim]not recorded[/]")
            continue
        per_page = q.get("chars_per_page")
        table.add_row(
            escape(doc.path),
            escape(_readers(q)),
            str(q["pages"]) if q.get("pages") is not None else "",
            f"{per_page:,.0f}" if per_page is not None else f"{q.get('chars', 0):,} chars",
            _notes(q),
        )
    console.print(table)
    for name, summary in sources.items():
        console.print(f"[bold]{escape(name)}[/]: {_summary_line(summary)}", highlight=False)
    if unrecorded:
        console.print(
            f"[dim]{unrecorded} document(s) were indexed before parse quality was recorded; it is recorded "
            "the next time each file changes and is indexed again.[/]",
            highlight=False,
        )


@documents_app.command("show")
@handle_errors
def show(
    document: Annotated[str, typer.Argument(help="An indexed path (or its end), or an indexed file on disk.")],
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One document: its details, and how well each page was read."""
    with open_kb(home, config) as kb:
        doc = kb.find_document(document)
        chunks = len(kb.store.chunks(doc.id))
    quality = doc.metadata.get("quality")
    if as_json:
        emit_json({**_doc_json(doc, False), "chunks": chunks, "metadata": dict(doc.metadata)})
        return
    console.print(f"[bold]{escape(doc.title)}[/]  {escape(doc.source)}/{escape(doc.path)}", highlight=False)
    console.print(f"{doc.filetype}, {doc.size:,} bytes, {chunks} passage(s), workspace {escape(doc.workspace)}")
    _print_profile(profile_of(doc.metadata))
    if not isinstance(quality, Mapping):
        console.print("[dim]Parse quality was not recorded (indexed before it was kept).[/]")
        return
    pages = quality.get("pages")
    summary = f"Read by {quality.get('parser')} ({escape(_readers(quality))}): {quality.get('chars', 0):,} characters"
    if pages is not None:
        summary += f" on {pages} page(s), {quality.get('chars_per_page') or 0:,.0f} per page"
    console.print(summary, highlight=False)
    details = quality.get("page_details") or []
    if details:
        table = Table(title="Pages", title_justify="left")
        for name in ("Page", "Reader", "Chars", "Words", "Note"):
            table.add_column(name, justify="right" if name in ("Page", "Chars", "Words") else "left")
        for page in details:
            note = page.get("reason") or ""  # why a page has no text; else why it was read again, if it was
            if not note and page.get("fallback"):
                note = f"read again: {page['fallback']}"
            style = "yellow" if not page.get("has_text") else ""
            table.add_row(
                str(page["page"]),
                page.get("reader") or "-",
                f"{page.get('chars', 0):,}",
                f"{page.get('words', 0):,}",
                escape(note),
                style=style,
            )
        console.print(table)
    for warning in quality.get("warnings") or ():
        console.print(f"  [yellow]warning[/] {escape(str(warning))}", highlight=False)


def _print_profile(profile: Any) -> None:
    edited = set(profile.edited)
    rows = [
        ("organizations", ", ".join(profile.organizations)),
        ("doc_type", profile.doc_type or ""),
        ("date", profile.date or ""),
        ("period", f"{profile.period_start or '?'} .. {profile.period_end}" if profile.period_end else ""),
        ("fiscal", profile.period_label() if profile.fiscal_year else ""),
    ]
    shown = [(k, v) for k, v in rows if v]
    if not shown:
        console.print("[dim]Profile: nothing read beyond the title.[/]")
        return
    console.print(f"Profile: [bold]{escape(profile.label() or profile.title)}[/]", highlight=False)
    for key, value in shown:
        mark = (
            " [dim](set by hand)[/]"
            if key in edited or (key == "period" and {"period_start", "period_end"} & edited)
            else ""
        )
        console.print(f"  {key}: {escape(value)}{mark}", highlight=False)


_OrgOption = Annotated[
    list[str] | None,
    typer.Option("--org", help="An organisation the document is about (repeat for several; the main one first)."),
]
_TypeOption = Annotated[
    str | None, typer.Option("--type", help="The kind of document: 10-K, 10-Q, invoice, contract, handbook...")
]
_DateOption = Annotated[str | None, typer.Option("--date", help="When it was issued (YYYY-MM-DD).")]
_StartOption = Annotated[str | None, typer.Option("--period-start", help="First day of the period it reports on.")]
_EndOption = Annotated[str | None, typer.Option("--period-end", help="Last day of the period it reports on.")]
_YearOption = Annotated[int | None, typer.Option("--fiscal-year", help="Its fiscal year, as the document names it.")]
_QuarterOption = Annotated[int | None, typer.Option("--fiscal-quarter", min=1, max=4, help="Its fiscal quarter.")]
_TitleOption = Annotated[str | None, typer.Option("--title", help="Its title.")]
_ResetOption = Annotated[
    list[str] | None,
    typer.Option("--reset", help="Drop a field set by hand: the rules read it again (e.g. --reset organizations)."),
]


@documents_app.command("set-profile")
@handle_errors
def set_profile(
    document: Annotated[str, typer.Argument(help="An indexed path (or its end), or an indexed file on disk.")],
    org: _OrgOption = None,
    doc_type: _TypeOption = None,
    date: _DateOption = None,
    period_start: _StartOption = None,
    period_end: _EndOption = None,
    fiscal_year: _YearOption = None,
    fiscal_quarter: _QuarterOption = None,
    title: _TitleOption = None,
    reset: _ResetOption = None,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Correct what a document is about: its organisation, type, dates or fiscal period. Fields set
    here are kept when the file is indexed again; questions are scoped by them at once."""
    from datetime import date as Date

    from docket.errors import UserError

    for name, value in (("--date", date), ("--period-start", period_start), ("--period-end", period_end)):
        if value is not None:
            try:
                Date.fromisoformat(value)
            except ValueError:
                raise UserError(f"{name} must be a date as YYYY-MM-DD, not '{value}'") from None
    fields: dict[str, Any] = {
        k: v
        for k, v in {
            "organizations": org or None,
            "doc_type": doc_type,
            "date": date,
            "period_start": period_start,
            "period_end": period_end,
            "fiscal_year": fiscal_year,
            "fiscal_quarter": fiscal_quarter,
            "title": title,
        }.items()
        if v is not None
    }
    for name in reset or ():
        fields[name.replace("-", "_")] = None
    if not fields:
        raise UserError(
            "give at least one field to set (--org, --type, --date, --period-end, --fiscal-year...) or --reset"
        )
    with open_kb(home, config) as kb:
        doc = kb.find_document(document)
        profile = kb.set_profile(doc.id, **fields)
    if as_json:
        emit_json({"id": doc.id, "path": doc.path, "profile": profile.to_dict()})
        return
    console.print(f"{escape(doc.path)}:", highlight=False)
    _print_profile(profile)


@handle_errors
def summarize(
    files: Annotated[list[str], typer.Argument(help="Indexed document paths (or their ends), or files on disk.")],
    model: ModelOption = None,
    show_prompt: ShowPromptOption = False,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Summarise whole documents with citations to their sections (map-reduce over every part
    with a model; the most representative sentences without one)."""
    streamer = Streamer()
    live = not as_json and console.is_terminal
    with open_kb(home, config) as kb:
        answer = kb.summarize(
            files,
            model=model,
            stream=streamer if live else None,
            on_prompt=prompt_printer(show_prompt),
            progress=progress_printer(live),
        )
    if as_json:
        emit_json(answer.to_dict())
        return
    streamer.end()
    print_answer(answer, text_shown=streamer.text == answer.text)
