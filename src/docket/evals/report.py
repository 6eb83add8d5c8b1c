"""The reality check's report: one self-contained HTML file (no scripts, no external files).

Sections: the verdict with every rule and whether it fired, the variants table, charts (accuracy,
retrieval, grounding, cost, latency per variant), the failures grouped by cause, and the exact
prompt the model alone was sent. Charts are drawn with matplotlib (``pip install
'docket[reports]'``) as inline SVG; without it they are HTML bars, and the report says so.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.util
import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from docket.evals.check import CAUSE_RULES, CheckResult, VariantResult, model_alone_prompt
from docket.evals.verdict import CAUSES, rule_table

__all__ = ["charts_available", "render_report", "write_report"]

e = html.escape

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#1d2329}
h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
.muted{color:#57606a}.verdict{background:#f6f8fa;border-left:4px solid #0969da;padding:.8em 1em}
table{border-collapse:collapse;margin:.5em 0 1.2em;width:100%}
td,th{border:1px solid #d0d7de;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f6f8fa}td.variant{min-width:16em}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.fired{color:#1a7f37;font-weight:600}.idle{color:#8c959f}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:1em}
figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:.5em}figure svg{width:100%;height:auto}
figcaption{font-weight:600}.bars td{border:none;padding:.15em .4em}
.bar{background:#0969da;height:.9em;display:inline-block;vertical-align:middle;border-radius:2px}
.wide{overflow-x:auto}.wide table{font-size:13px}
pre{background:#f6f8fa;padding:.8em;white-space:pre-wrap}details{margin:.4em 0}
"""


def charts_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _num(value: Any, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _usd(value: Any) -> str:
    if value is None:
        return "no price set"
    return f"${value:.4f}"


# ---------------------------------------------------------------------------------------- charts
def _svg_chart(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], fmt: Callable[[float], str]
) -> str:
    """A horizontal bar chart as inline SVG (text kept as text). Shares (0..1) get a percent axis."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    percent = fmt is _pct
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "docket", "font.size": 9}):
        height = 0.5 + 0.3 * len(labels) * max(1, len(series)) + (0.3 if len(series) > 1 else 0.0)
        fig = Figure(figsize=(6.0, max(1.6, height)))
        ax = fig.subplots()
        bar = 0.8 / len(series)
        colours = ("#0969da", "#bf8700", "#1a7f37")
        top = 1.0 if percent else max((v for _, vs in series for v in vs if v is not None), default=0.0) or 1.0
        for s, (name, values) in enumerate(series):
            ys = [i + (s - (len(series) - 1) / 2) * bar for i in range(len(labels))]
            colour = colours[s % len(colours)]
            ax.barh(ys, [v or 0.0 for v in values], height=bar * 0.9, color=colour, label=name)
            for y, v in zip(ys, values, strict=True):
                ax.text((v or 0.0) + top * 0.01, y, "n/a" if v is None else fmt(v), va="center", fontsize=8)
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.15)
        if percent:
            ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if len(series) > 1:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(series), fontsize=8, frameon=False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.index("<svg") :], flags=re.S)


def _html_chart(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], fmt: Callable[[float], str]
) -> str:
    top = max((v for _, values in series for v in values if v is not None), default=0.0) or 1.0
    rows = []
    for i, label in enumerate(labels):
        for name, values in series:
            v = values[i]
            width = 0.0 if v is None else max(0.5, 100 * v / top)
            shown = "n/a" if v is None else fmt(v)
            who = e(label) + (f" <span class=muted>({e(name)})</span>" if len(series) > 1 else "")
            rows.append(
                f'<tr><td>{who}</td><td style="width:60%"><span class="bar" style="width:{width:.1f}%"></span> '
                f"{e(shown)}</td></tr>"
            )
    return f"<table class=bars>{''.join(rows)}</table>"


def _charts(results: Sequence[VariantResult], svg: bool) -> str:
    ran = [r for r in results if r.status == "ran"]
    if not ran:
        return "<p>No variant ran.</p>"
    labels = [r.variant.name for r in ran]

    def values(get: Callable[[dict[str, Any]], Any]) -> list[float | None]:
        out = []
        for r in ran:
            v = get(r.figures)
            out.append(None if v is None else float(v))
        return out

    priced = any(r.figures.get("cost") for r in ran)
    specs: list[tuple[str, list[tuple[str, list[float | None]]], Callable[[float], str]]] = [
        ("Accuracy (share of scored questions correct)", [("accuracy", values(lambda f: f.get("accuracy")))], _pct),
        (
            "Retrieval: a source in the top 5 / recall of the sources in the top 10",
            [
                ("hit@5", values(lambda f: (f.get("retrieval") or {}).get("hit@5"))),
                ("recall@10", values(lambda f: (f.get("retrieval") or {}).get("recall@10"))),
            ],
            _pct,
        ),
        (
            "Grounding (answer sentences supported by their citations)",
            [("grounding", values(lambda f: f.get("grounding")))],
            _pct,
        ),
        (
            "Cost of the run (USD)" if priced else "Model tokens used (no price configured)",
            [("cost" if priced else "tokens", values(lambda f: f.get("cost") if priced else f.get("tokens")))],
            (lambda v: f"${v:.4f}") if priced else (lambda v: f"{v:,.0f}"),
        ),
        (
            "Latency per question (ms)",
            [
                ("p50", values(lambda f: (f.get("latency_ms") or {}).get("p50"))),
                ("p95", values(lambda f: (f.get("latency_ms") or {}).get("p95"))),
            ],
            lambda v: f"{v:,.0f}",
        ),
    ]
    figures = []
    for n, (title, series, fmt) in enumerate(specs, start=1):
        counted = "tokens" in title or "Cost" in title
        if counted and not any(v for _, values in series for v in values):
            chart = "<p class=muted>Nothing to show: no model was called.</p>"
        elif all(v is None for _, values in series for v in values):
            chart = "<p class=muted>Not measured for any variant.</p>"
        elif svg:
            chart = _svg_chart(labels, series, fmt)
            chart = re.sub(r'\bid="', f'id="c{n}-', chart)
            chart = chart.replace("url(#", f"url(#c{n}-").replace('href="#', f'href="#c{n}-')
        else:
            chart = _html_chart(labels, series, fmt)
        figures.append(f"<figure><figcaption>{e(title)}</figcaption>{chart}</figure>")
    return '<div class="charts">' + "".join(figures) + "</div>"


# ---------------------------------------------------------------------------------------- sections
def _cost(r: VariantResult) -> str:
    if r.status != "ran":
        return "n/a"
    return "none (no model)" if not r.figures.get("tokens") else _usd(r.figures.get("cost"))


def _variants_table(result: CheckResult) -> str:
    rows = []
    for r in result.results:
        f = r.figures
        ret = f.get("retrieval") or {}
        latency = f.get("latency_ms") or {}
        status = e(r.status) + (f"<br><small class=muted>{e(r.note)}</small>" if r.note else "")
        rows.append(
            f"<tr><td class=variant><strong>{e(r.variant.name)}</strong><br><small class=muted>"
            f"{e(r.description)}</small></td><td>{status}</td>"
            f"<td class=n>{_pct(f.get('accuracy'))}</td><td class=n>{_pct(ret.get('hit@5'))}</td>"
            f"<td class=n>{_pct(ret.get('recall@10'))}</td><td class=n>{_num(ret.get('mrr'), 3)}</td>"
            f"<td class=n>{_num(ret.get('ndcg@10'), 3)}</td><td class=n>{_pct(f.get('grounding'))}</td>"
            f"<td class=n>{_pct(f.get('abstained'))}</td>"
            f"<td class=n>{_cost(r)}</td>"
            f"<td class=n>{_num(f.get('tokens'))}</td>"
            f"<td class=n>{_num(latency.get('p50'))}</td><td class=n>{_num(latency.get('p95'))}</td></tr>"
        )
    head = (
        "<tr><th>variant</th><th>status</th><th>accuracy</th><th>hit@5</th><th>recall@10</th>"
        "<th>MRR</th><th>nDCG@10</th><th>grounded</th><th>abstained</th><th>cost</th><th>tokens</th>"
        "<th>p50 ms</th><th>p95 ms</th></tr>"
    )
    return f"<div class=wide><table>{head}{''.join(rows)}</table></div>"


def _verdict(result: CheckResult) -> str:
    v = result.verdict
    steps = "".join(f"<li>{e(s)}</li>" for s in v.next_steps) or "<li>Nothing to change on this evidence.</li>"
    rules = "".join(
        f"<tr><td class={'fired' if fired else 'idle'}>{'fired' if fired else '—'}</td><td><code>{e(rid)}</code></td>"
        f"<td>{e(statement)}</td></tr>"
        for rid, statement, fired in rule_table(result.measurements)
    )
    m = result.measurements
    facts = [
        ("questions", str(m.items)),
        ("model alone accuracy", _pct(m.model_alone)),
        (f"{m.docket_label} accuracy", _pct(m.docket)),
        ("failed questions", str(m.failed)),
        ("questions whose source is indexed", str(m.in_kb)),
        ("of those, source not retrieved in the top k", str(m.missed)),
        (
            "best variant",
            f"{m.best_variant} ({m.best_variant_gain * 100:+.0f} points {m.best_variant_metric})"
            if m.best_variant
            else "none",
        ),
        ("documents indexed", str(m.documents)),
        ("documents unchanged for 90 days", _pct(m.stable_share)),
        ("questions written by people", str(m.validated_items)),
    ]
    fact_rows = "".join(f"<tr><td>{e(k)}</td><td class=n>{e(val)}</td></tr>" for k, val in facts)
    return (
        f'<div class="verdict"><p>{e(v.text)}</p></div>'
        f"<h3>Next steps</h3><ul>{steps}</ul>"
        "<h3>The rules</h3><p class=muted>The verdict comes from these rules over the measurements, never from a "
        "model's opinion.</p>"
        f"<table><tr><th></th><th>rule</th><th>statement</th></tr>{rules}</table>"
        f"<h3>Measurements the rules read</h3><table>{fact_rows}</table>"
    )


def _failures(result: CheckResult) -> str:
    counts = result.causes()
    rules = dict(CAUSE_RULES)
    summary = "".join(
        f"<tr><td>{e(CAUSES[c])}</td><td class=n>{counts[c]}</td><td class=muted>{e(rules[c])}</td></tr>"
        for c in CAUSES
    )
    parts = [
        f"<p>{len(result.failures)} of {len(result.test_set.items)} questions failed with the baseline "
        "(<code>docket</code>). A failure is sorted by the first rule that holds, in this order."
        + (" Without a model, “the model” here is Docket's extractive answer." if result.model is None else "")
        + "</p>",
        f"<table><tr><th>cause</th><th>questions</th><th>rule</th></tr>{summary}</table>",
    ]
    for cause in CAUSES:
        items = [f for f in result.failures if f.cause == cause]
        if not items:
            continue
        rows = "".join(
            f"<tr><td>{e(f.item.id)}</td><td>{e(f.item.question)}</td><td>{e(f.item.answer or '')}</td>"
            f"<td>{e(f.answer)}</td><td>{e(', '.join(s.label() for s in f.item.sources))}</td>"
            f"<td>{e(f.detail)}{' (restricted document)' if f.restricted else ''}</td></tr>"
            for f in items
        )
        parts.append(
            f"<details open><summary><strong>{e(CAUSES[cause])}</strong> ({len(items)})</summary><table>"
            "<tr><th>id</th><th>question</th><th>reference</th><th>answer</th><th>sources</th><th>why</th></tr>"
            f"{rows}</table></details>"
        )
    return "".join(parts)


def _calibration(result: CheckResult) -> str:
    points = result.calibration()
    if not points:
        return (
            "<p class=muted>Measured for extractive answers (no model) on questions with a reference answer or "
            "marked unanswerable.</p>"
        )
    current = result.settings.get("min_relevance")
    rows = "".join(
        f"<tr{' class=current' if current is not None and abs(p['threshold'] - float(current)) < 0.025 else ''}>"
        f"<td>{p['threshold']:.2f}</td><td>{_pct(p['answer_rate'])}</td><td>{_pct(p['accuracy_of_answered'])}</td>"
        f"<td>{p['correct']} / {p['wrong']} / {p['refused']}</td><td>{_pct(p['refuses_unanswerable'])}</td></tr>"
        for p in points
    )
    return (
        "<p>Every question answered without a threshold, then each threshold applied: how many answerable "
        "questions would be answered, how many of those answers are right, and how many unanswerable "
        f"questions would be refused. The current threshold (<code>answer.min_relevance</code> = {e(str(current))}) "
        "is highlighted; a wrong answer usually costs more than a refusal.</p>"
        "<table><tr><th>threshold</th><th>answer rate</th><th>accuracy of answers</th>"
        f"<th>correct / wrong / refused</th><th>refuses unanswerable</th></tr>{rows}</table>"
    )


def render_report(result: CheckResult, *, svg: bool | None = None) -> str:
    """The report as one HTML page. ``svg``: draw charts with matplotlib (default: when installed)."""
    use_svg = charts_available() if svg is None else svg
    model = result.model or "none (extractive answers; the model alone cannot run)"
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    example = model_alone_prompt(result.test_set.items[0].question if result.test_set.items else "…")
    chart_note = (
        ""
        if use_svg
        else "<p class=muted>matplotlib is not installed, so the charts are drawn as HTML bars "
        "(pip install 'docket[reports]' for SVG charts).</p>"
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in result.notes)
    settings = "".join(f"<tr><td>{e(str(k))}</td><td>{e(str(v))}</td></tr>" for k, v in result.settings.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Docket reality check: {e(result.test_set.name)}</title><style>{_STYLE}</style></head><body>
<h1>Reality check: {e(result.test_set.name)}</h1>
<p class=muted>{len(result.test_set.items)} questions · model: {e(model)} · k = {result.k} · {e(when)}</p>
<section id="verdict"><h2>Verdict</h2>{_verdict(result)}</section>
<section id="variants"><h2>Variants</h2>{_variants_table(result)}</section>
<section id="charts"><h2>Charts</h2>{chart_note}{_charts(result.results, use_svg)}</section>
<section id="failures"><h2>Failures by cause</h2>{_failures(result)}</section>
<section id="calibration"><h2>Abstention: answer rate against accuracy</h2>{_calibration(result)}</section>
<section id="prompt"><h2>What the model alone is sent</h2>
<p>The same model, no documents; its answers are scored like the others and have no citations. For the first
question:</p><pre>{e(example.render())}</pre></section>
<section id="notes"><h2>Notes</h2><ul>{notes or "<li>None.</li>"}</ul>
<h3>Baseline settings</h3><table>{settings}</table></section>
</body></html>
"""


def write_report(result: CheckResult, output: Path) -> Path:
    """Write ``output/report.html`` and return its path."""
    output.mkdir(parents=True, exist_ok=True)
    path = output / "report.html"
    path.write_text(render_report(result), encoding="utf-8")
    return path
