"""docket check (the reality check) and docket gaps (knowledge gaps from real use)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from docket.cli.common import (
    ConfigOption,
    HomeOption,
    JsonOption,
    console,
    emit_json,
    err_console,
    handle_errors,
    parse_time,
    prompt_printer,
    settings_from,
)
from docket.errors import UserError


def _usd(value: Any) -> str:
    return "no price" if value is None else f"${value:.4f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


@handle_errors
def check(
    test_set: Annotated[Path, typer.Argument(help="A test set (.yml, .json, .jsonl, .csv) or a BEIR folder.")],
    model: Annotated[
        str | None, typer.Option("--model", help="The model to check, e.g. openai:gpt-4o-mini (default: model.name).")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for report.html.")] = Path("docket-check"),
    variants: Annotated[
        str | None,
        typer.Option(
            "--variants",
            help="Comma-separated: hybrid, keyword, semantic, rerank, chunks:N, top-k:N "
            "(default: keyword,semantic,rerank,top-k:3,chunks:auto).",
            show_default=False,
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="Results ranked per question for retrieval metrics.")] = 10,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    show_prompt: Annotated[bool, typer.Option("--show-prompt", help="Print every prompt sent (stderr).")] = False,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The reality check: the model alone, Docket, and variants on one test set; an HTML report
    with charts, failures by cause and a verdict with next steps."""
    from docket.cli.common import progress_bar
    from docket.evals.check import parse_variants, run_check
    from docket.evals.datasets import load_test_set
    from docket.evals.report import write_report
    from docket.evals.runner import corpus_settings, index_corpus
    from docket.kb import KnowledgeBase

    chosen = parse_variants(variants)
    data = load_test_set(test_set).limit(limit)
    settings = settings_from(home, config)
    if data.corpus is not None:
        settings = corpus_settings(settings, data)
    live = not as_json
    output.mkdir(parents=True, exist_ok=True)
    with KnowledgeBase(settings) as kb:
        if data.corpus is not None:
            with progress_bar(live, "Indexing") as bar:
                index_corpus(kb, data, progress=bar)
        elif not kb.store.stats().get("documents"):
            raise UserError("the knowledge base has no documents: run `docket ingest PATH` first (or give --home)")
        with progress_bar(live, "Checking") as bar:

            def progress(variant: str, done: int, total: int, text: str) -> None:
                if bar is not None:
                    bar(done, total, f"{variant}: {text}")

            result = run_check(
                kb,
                data,
                model=model,
                variants=chosen,
                k=k,
                workdir=output,
                progress=progress,
                on_prompt=prompt_printer(show_prompt),
            )
    path = write_report(result, output)
    if as_json:
        emit_json(result.summary(path))
        return
    table = Table("variant", "status", "accuracy", "recall@10", "grounded", "cost", "p50 ms")
    table.columns[0].no_wrap = table.columns[1].no_wrap = True
    for r in result.results:
        f = r.figures
        latency = (f.get("latency_ms") or {}).get("p50")
        cost = f.get("cost")
        table.add_row(
            escape(r.variant.name),
            escape(r.status),
            _pct(f.get("accuracy")),
            _pct((f.get("retrieval") or {}).get("recall@10")),
            _pct(f.get("grounding")),
            "n/a" if r.status != "ran" else ("none" if not f.get("tokens") else _usd(cost)),
            "n/a" if latency is None else f"{latency:.0f}",
        )
    console.print(table)
    for r in result.results:
        if r.note:
            console.print(f"[dim]{escape(r.variant.name)}: {escape(r.note)}[/]", highlight=False)
    base = result.result("docket")
    if base is not None and base.report is not None:
        from docket.cli.evals import print_calibration

        print_calibration(base.report.calibration, base.report.settings.get("min_relevance"))
    console.print(f"[bold]Verdict:[/] {escape(result.verdict.text)}", highlight=False)
    for step in result.verdict.next_steps:
        console.print(f"  → {escape(step)}", highlight=False)
    console.print(f"Report written to {escape(str(path))}", highlight=False)


@handle_errors
def gaps(
    since: Annotated[str | None, typer.Option("--since", help="Only questions asked on or after this date.")] = None,
    min_confidence: Annotated[
        float,
        typer.Option("--min-confidence", min=0.0, max=1.0, help="Answers less confident than this count as gaps."),
    ] = 0.52,  # docket.evals.gaps.DEFAULT_MIN_CONFIDENCE (not imported: keeps the CLI quick to start)
    threshold: Annotated[
        float,
        typer.Option("--threshold", min=0.01, max=1.0, help="How similar questions must be to share a topic (cosine)."),
    ] = 0.35,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Topics people asked about that the documents did not answer well (abstained, low confidence,
    rated not helpful), grouped, with counts and examples: the documents to write next."""
    import importlib.util

    from docket.evals.gaps import find_gaps
    from docket.kb import KnowledgeBase

    settings = settings_from(home, config)
    accounts = None
    notes = []
    if settings.store.url or (settings.home / "accounts.db").is_file():
        if importlib.util.find_spec("argon2") is None:
            if not settings.store.url:
                notes.append("accounts.db found, but without the server extra its feedback is not read")
        else:
            from docket.accounts import Accounts

            accounts = Accounts.open(settings)
    try:
        with KnowledgeBase(settings) as kb:
            report = find_gaps(
                kb,
                accounts=accounts,
                since=parse_time(since, "--since"),
                min_confidence=min_confidence,
                threshold=threshold,
            )
    finally:
        if accounts is not None:
            accounts.close()
    report["notes"] = notes + report["notes"]
    if as_json:
        emit_json(report)
        return
    for note in report["notes"]:
        err_console.print(f"[yellow]Note:[/] {escape(note)}", highlight=False)
    if not report["gaps"]:
        console.print(f"No gaps: none of the {report['considered']} logged answers abstained, was unsure or disliked.")
        return
    console.print(
        f"{report['questions']} of {report['considered']} logged questions were answered badly, in "
        f"{len(report['gaps'])} topics. Write documents on these, biggest first:"
    )
    table = Table("#", "topic", "asked", "why", "examples", show_lines=True)
    for n, gap in enumerate(report["gaps"], start=1):
        why = ", ".join(f"{count} {reason}" for reason, count in gap["reasons"].items())
        examples = "\n".join(f"• {q}" for q in gap["examples"][:3])
        table.add_row(str(n), escape(gap["label"]), str(gap["count"]), escape(why), escape(examples))
    console.print(table)
