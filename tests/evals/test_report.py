"""The reality check's HTML report: one self-contained file with every section, SVG charts (HTML bars
without matplotlib), and the test set's text escaped."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from docket.config import load_settings
from docket.evals.check import CheckResult, Failure, parse_variants, run_check
from docket.evals.datasets import EvalItem
from docket.evals.report import render_report, write_report
from docket.evals.verdict import RULES
from docket.kb import KnowledgeBase
from docket.models.chat import FakeChatModel
from tests.evals.test_check import SET, _docs


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CheckResult]:
    root = tmp_path_factory.mktemp("report")
    kb = KnowledgeBase(load_settings(home=root / "kb", overrides={"embedder": {"name": "fake"}}, environ={}))
    kb.ingest([str(_docs(root))])
    yield run_check(kb, SET, model=FakeChatModel(), variants=parse_variants("keyword,rerank"))
    kb.close()


def test_the_report_has_every_section_and_inline_svg_charts(checked: CheckResult) -> None:
    pytest.importorskip("matplotlib", reason="the reports extra is not installed (pip install 'docket[reports]')")
    page = render_report(checked, svg=True)
    for section in ("verdict", "variants", "charts", "failures", "prompt", "notes"):
        assert f'<section id="{section}">' in page, section
    assert page.count("<svg") == 5  # accuracy, retrieval, grounding, cost or tokens, latency
    ids = Counter(re.findall(r'\bid="([^"]+)"', page))
    assert not [i for i, n in ids.items() if n > 1], "ids repeat across the inline charts"
    for ref in re.findall(r"url\(#([^)]+)\)", page):
        assert ids[ref] == 1, ref
    # self-contained: no script, nothing fetched
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"(src|href)=[\"']?(https?:)?//|url\((https?:)?//|@import", page)
    # the verdict with every rule stated, the ones that fired marked
    for rule in RULES:
        assert f"<code>{rule.id}</code>" in page
    assert page.count("<td class=fired>fired</td>") == len(checked.verdict.rules_fired)
    # the variants, the failures by cause, the model alone's prompt
    for name in ("model-alone", "docket", "keyword", "rerank"):
        assert f"<strong>{name}</strong>" in page
    assert "Docket has no reranker yet" in page
    assert "the source isn&#x27;t in the knowledge base" in page and "Travel.md" in page
    assert "You are given no documents" in page


def test_without_matplotlib_the_charts_are_html_bars(checked: CheckResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("docket.evals.report.charts_available", lambda: False)
    page = render_report(checked)
    assert "<svg" not in page and 'class="bar"' in page
    assert "matplotlib is not installed" in page and "docket[reports]" in page
    assert '<section id="charts">' in page


def test_the_test_sets_text_is_escaped(checked: CheckResult) -> None:
    evil = EvalItem("x<y>", "<script>alert(1)</script>?", "<b>bold</b>")
    result = replace(checked, failures=[Failure(evil, "model", "<i>why</i>", answer="<img src=x onerror=1>")])
    page = render_report(result, svg=False)
    assert "<script>alert" not in page and "<img src=x" not in page and "<i>why</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;?" in page


def test_the_report_is_written_to_the_output_folder(checked: CheckResult, tmp_path: Path) -> None:
    path = write_report(checked, tmp_path / "new" / "out")
    assert path == tmp_path / "new" / "out" / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!doctype html>")
