"""docket eval run / generate: measure a knowledge base on a test set, gate changes, draft a set."""

from __future__ import annotations

import html
import json
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
    progress_bar,
    prompt_printer,
    settings_from,
)
from docket.errors import UserError

eval_app = typer.Typer(
    help="Measure retrieval and answers on a test set (and gate changes on it); draft a test set.",
    no_args_is_help=True,
)

ModelOption = Annotated[
    str | None, typer.Option("--model", help="Answer with this model, e.g. openai:gpt-4o-mini (default: model.name).")
]
ShowPrompt = Annotated[bool, typer.Option("--show-prompt", help="Print exactly what is sent to models (stderr).")]

# What each metric means, for the terminal table and the HTML report.
ABOUT = {
    "retrieval.hit@1": "a source is the first result",
    "retrieval.hit@5": "a source is among the first 5 results",
    "retrieval.hit@10": "a source is among the first 10 results",
    "retrieval.recall@5": "share of the sources among the first 5",
    "retrieval.recall@10": "share of the sources among the first 10",
    "retrieval.mrr": "1 / rank of the first source, averaged",
    "retrieval.ndcg@10": "ranking quality of the first 10 (graded)",
    "answers.exact_match": "answer equals the reference (normalised)",
    "answers.token_f1": "word overlap with the reference",
    "answers.contains": "reference appears in the answer",
    "answers.similarity": "embedding cosine of answer and reference",
    "answers.judge": "judge model's correctness score",
    "grounding.supported": "answer sentences supported by their citations",
    "grounding.citations_per_answer": "sources cited per answer",
    "abstention.correct_abstention": "unanswerable questions answered 'not in the documents'",
    "abstention.wrong_abstention": "answerable questions where it abstained (lower is better)",
    "outcomes.correct": "answerable questions answered right",
    "outcomes.wrong": "answerable questions answered wrong (costs more than a refusal)",
    "outcomes.refused": "answerable questions refused",
    "citations.off_source": "answers citing a document none of the question's sources is",
    "latency_ms.p50": "median time per question (ms)",
    "latency_ms.p95": "95th percentile time per question (ms)",
    "cost.per_answer": "USD per answer",
    "cost.prompt_tokens": "prompt tokens per answer",
    "cost.completion_tokens": "completion tokens per answer",
}


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def print_calibration(points: list[dict[str, Any]], current: Any) -> None:
    """Answer rate against accuracy at each abstention threshold (extractive answers)."""
    if not points:
        return
    table = Table(title="Abstention: answer rate against accuracy (extractive answers)", title_justify="left")
    for name in (
        "threshold",
        "answer rate",
        "accuracy of answers",
        "correct / wrong / refused",
        "refuses unanswerable",
    ):
        table.add_column(name, justify="right")
    for p in points:
        mark = current is not None and abs(p["threshold"] - float(current)) < 0.025
        table.add_row(
            f"{p['threshold']:.2f}{' ←' if mark else ''}",
            _fmt(p["answer_rate"]),
            _fmt(p["accuracy_of_answered"]),
            f"{p['correct']} / {p['wrong']} / {p['refused']}",
            _fmt(p["refuses_unanswerable"]),
            style="bold" if mark else "",
        )
    console.print(table)


def print_eval(report: Any, failures: list[str] | None) -> None:
    """The report as tables in the terminal."""
    c = report.counts
    model = report.settings.get("model") or "extractive (no model)"
    console.print(
        f"[bold]{escape(report.name)}[/]: {c['questions']} questions ({c['answerable']} answerable, "
        f"{c['unanswerable']} unanswerable, {c['generated']} generated) · {escape(report.label)} · "
        f"answers: {escape(model)} · k={report.settings.get('k')}",
        highlight=False,
    )
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("what it measures", style="dim")
    for part, values in report.metrics.items():
        for metric, value in values.items():
            name = f"{part}.{metric}"
            table.add_row(escape(name), _fmt(value), ABOUT.get(name, ""))
        table.add_section()
    console.print(table)
    print_calibration(report.calibration, report.settings.get("min_relevance"))
    if report.missing_sources:
        console.print(
            f"[yellow]Sources not in the knowledge base ({len(report.missing_sources)})[/]; "
            "retrieval was scored on the others:"
        )
        for label in report.missing_sources[:20]:
            console.print(f"  - {escape(label)}", highlight=False)
        if len(report.missing_sources) > 20:
            console.print(f"  … and {len(report.missing_sources) - 20} more (see --json)")
    if report.not_measured:
        console.print("[yellow]Not measured:[/]")
        for line in report.not_measured:
            console.print(f"  - {escape(line)}", highlight=False)
    wrong = [r for r in report.items if r.correct is False or r.retrieved_relevant is False]
    if wrong:
        console.print(f"Questions that failed ({len(wrong)}), first 10:")
        for r in wrong[:10]:
            why = []
            if r.retrieved_relevant is False:
                why.append(f"no source in the top {report.settings.get('k')}")
            if r.correct is False:
                why.append("abstained" if r.answer is not None and r.answer.abstained else "wrong answer")
            console.print(f"  ✗ {escape(r.item.id)}: {escape(r.item.question[:90])} [dim]({', '.join(why)})[/]")
    if failures is not None:
        if failures:
            console.print("[bold red]Gate failed:[/]")
            for line in failures:
                console.print(f"  - {escape(line)}", highlight=False)
        else:
            console.print("[bold green]Gate passed.[/]")


def render_html(report: Any, failures: list[str] | None = None) -> str:
    """A self-contained HTML page with the report's tables (no scripts, no external files)."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(part)}.{e(metric)}</td><td class=n>{e(_fmt(value))}</td>"
        f"<td>{e(ABOUT.get(f'{part}.{metric}', ''))}</td></tr>"
        for part, values in report.metrics.items()
        for metric, value in values.items()
    )
    settings = "".join(f"<tr><td>{e(str(k))}</td><td>{e(str(v))}</td></tr>" for k, v in report.settings.items())
    counts = "".join(f"<tr><td>{e(k)}</td><td class=n>{v}</td></tr>" for k, v in report.counts.items())
    lists = ""
    for title, entries in (
        ("Gate failures", failures or []),
        ("Sources not in the knowledge base", report.missing_sources),
        ("Not measured", report.not_measured),
    ):
        if entries:
            lists += f"<h2>{e(title)}</h2><ul>" + "".join(f"<li>{e(x)}</li>" for x in entries) + "</ul>"
    item_rows = []
    for r in report.items:
        answer = r.answer.text if r.answer is not None else ""
        ok = {True: "✓", False: "✗", None: ""}
        top = r.hits[0].path if r.hits else ""
        item_rows.append(
            f"<tr><td>{e(r.item.id)}</td><td>{e(r.item.question)}</td><td>{e(r.item.answer or '')}</td>"
            f"<td>{e(answer)}</td><td>{e(top)}</td><td class=n>{r.rank or ''}</td>"
            f"<td class=n>{ok[r.retrieved_relevant]}</td><td class=n>{ok[r.correct]}</td></tr>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Docket eval: {e(report.name)}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}}
th{{background:#f3f3f3;text-align:left}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}
</style></head><body>
<h1>Docket eval: {e(report.name)} <small>({e(report.label)})</small></h1>
<h2>Metrics</h2><table><tr><th>metric</th><th>value</th><th>what it measures</th></tr>{rows}</table>
{lists}
<h2>Counts</h2><table>{counts}</table>
<h2>Settings</h2><table>{settings}</table>
<h2>Questions</h2><table><tr><th>id</th><th>question</th><th>reference</th><th>answer</th><th>first result</th>
<th>rank of source</th><th>source retrieved</th><th>correct</th></tr>{"".join(item_rows)}</table>
</body></html>
"""


@handle_errors
def run(
    test_set: Annotated[Path, typer.Argument(help="A test set (.yml, .json, .jsonl, .csv) or a BEIR folder.")],
    model: ModelOption = None,
    judge: Annotated[
        str | None, typer.Option("--judge", help="Grade answers against the references with this model.")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="Results ranked per question for retrieval metrics.")] = 10,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    split: Annotated[str | None, typer.Option("--split", help="BEIR qrels split (default: test).")] = None,
    no_answers: Annotated[
        bool, typer.Option("--retrieval-only", help="Measure retrieval only; ask for no answers.")
    ] = False,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="A previous --json output; fail when a metric drops.")
    ] = None,
    fail_below: Annotated[
        list[str] | None,
        typer.Option("--fail-below", help="Fail when METRIC is below VALUE, e.g. retrieval.ndcg@10=0.6 (repeatable)."),
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", min=0.0, help="Largest drop from --baseline that still passes.")
    ] = 0.01,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write report.json (every question) and report.html here.")
    ] = None,
    label: Annotated[str, typer.Option("--label", help="Name of this run in the report.")] = "docket",
    show_prompt: ShowPrompt = False,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ask every question of a test set and measure retrieval, answers, grounding, abstention,
    latency and cost. Exit status 1 when the gate (--baseline / --fail-below) fails."""
    from docket.evals.datasets import load_test_set
    from docket.evals.gate import compare, load_baseline, parse_floors
    from docket.evals.runner import corpus_settings, index_corpus, run_eval
    from docket.kb import KnowledgeBase

    floors = parse_floors(fail_below or [])
    base = load_baseline(baseline) if baseline is not None else None
    data = load_test_set(test_set, split=split).limit(limit)
    settings = settings_from(home, config)
    if data.corpus is not None:
        settings = corpus_settings(settings, data)
    live = not as_json
    with KnowledgeBase(settings) as kb:
        if data.corpus is not None:
            with progress_bar(live, "Indexing") as progress:
                index_corpus(kb, data, progress=progress)
        elif not kb.store.stats().get("documents"):
            raise UserError("the knowledge base has no documents: run `docket ingest PATH` first (or give --home)")
        with progress_bar(live, "Evaluating") as progress:
            report = run_eval(
                kb,
                data,
                model=model,
                k=k,
                judge=judge,
                answer=not no_answers,
                progress=progress,
                label=label,
                on_prompt=prompt_printer(show_prompt),
            )
    gated = base is not None or bool(floors)
    failures = compare(report, base, tolerance, floors) if gated else None
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        full = report.to_dict(items=True)
        if failures is not None:
            full["gate"] = {"passed": not failures, "failures": failures}
        (output / "report.json").write_text(json.dumps(full, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (output / "report.html").write_text(render_html(report, failures), encoding="utf-8")
    if as_json:
        out = report.to_dict()
        if failures is not None:
            out["gate"] = {"passed": not failures, "failures": failures}
        emit_json(out)
        for line in failures or []:
            err_console.print(f"gate failed: {escape(line)}", highlight=False)
    else:
        print_eval(report, failures)
        if output is not None:
            console.print(f"Report written to {escape(str(output / 'report.html'))}", highlight=False)
    if failures:
        raise typer.Exit(1)


@handle_errors
def generate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the set (.yml, .json, .jsonl, .csv).")],
    n: Annotated[int, typer.Option("-n", "--questions", min=1, help="Answerable questions to draft.")] = 50,
    unanswerable: Annotated[
        int, typer.Option("--unanswerable", min=0, help="Off-topic questions to add, marked unanswerable.")
    ] = 5,
    model: Annotated[
        str | None, typer.Option("--model", help="Have this model write the questions (default: by rule).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same set.")] = 0,
    show_prompt: ShowPrompt = False,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Draft a test set from your own documents: questions whose answer lies in a known passage
    (marked generated; review them), plus off-topic questions marked unanswerable."""
    from docket.evals.datasets import save_test_set
    from docket.evals.generate import generate_test_set
    from docket.kb import KnowledgeBase

    if output.suffix.lower() not in (".yml", ".yaml", ".json", ".jsonl", ".csv"):
        raise UserError(f"--output {output}: use a .yml, .json, .jsonl or .csv file name")
    with KnowledgeBase(settings_from(home, config)) as kb:
        if not kb.store.stats().get("documents"):
            raise UserError("the knowledge base has no documents: run `docket ingest PATH` first (or give --home)")
        with progress_bar(not as_json and model is not None, "Drafting") as progress:
            data = generate_test_set(
                kb,
                n,
                model=model,
                seed=seed,
                unanswerable=unanswerable,
                on_prompt=prompt_printer(show_prompt),
                progress=progress,
            )
    save_test_set(data, output)
    answerable = sum(not i.unanswerable for i in data.items)
    documents = len({s.path for i in data.items for s in i.sources})
    if as_json:
        emit_json(
            {
                "path": str(output),
                "questions": len(data.items),
                "answerable": answerable,
                "unanswerable": len(data.items) - answerable,
                "documents": documents,
                "generated": True,
            }
        )
        return
    console.print(
        f"Wrote {len(data.items)} questions to {escape(str(output))}: {answerable} answerable from {documents} "
        f"documents, {len(data.items) - answerable} unanswerable. They are drafts marked generated: read them, "
        "fix or delete the poor ones, then run `docket eval run` on the file.",
        highlight=False,
    )


eval_app.command("run")(run)
eval_app.command("generate")(generate)
