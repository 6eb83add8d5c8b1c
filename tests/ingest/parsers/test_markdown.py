"""Markdown: front matter, heading paths, tables, code and encodings."""

from __future__ import annotations

import pytest

from docket.ingest.parsers import parse_bytes
from tests.conftest import REPO
from tests.ingest.parsers.helpers import SHARED, block_with


def shared(relative: str) -> bytes:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"shared test data not found: {path}")
    return path.read_bytes()


def test_markdown_front_matter_becomes_metadata_and_title() -> None:
    path = "18f-handbook/pages/travel-and-leave/paid-parental-leave.md"
    doc = parse_bytes(shared(path), path)
    assert doc.title == "Paid parental leave (PPL)"
    assert doc.metadata["keywords"].startswith("parental, parent, parental leave")
    assert "keywords:" not in doc.text and "---" not in doc.text


def test_markdown_headings_build_the_heading_path() -> None:
    path = "18f-handbook/pages/travel-and-leave/paid-parental-leave.md"
    doc = parse_bytes(shared(path), path)
    assert block_with(doc, "You do not need to take all 12 weeks at once").heading_path == (
        "Using PPL",
        "Intermittent PPL",
    )
    deep = block_with(doc, "You can request Leave Without Pay (LWOP)")
    assert deep.heading_path == ("Using PPL", "Combining paid parental leave with other leave", "Unpaid leave")
    assert block_with(doc, "TTS has paid parental leave (PPL)").heading_path == ()


def test_markdown_lists_keep_their_bullets() -> None:
    path = "18f-handbook/pages/travel-and-leave/paid-parental-leave.md"
    doc = parse_bytes(shared(path), path)
    block = block_with(doc, "You are entitled to 12 weeks of paid time off")
    assert block.heading_path == ("About PPL",)
    assert "\n* You must use the PPL within a year" in block.text


def test_markdown_pipe_table_becomes_a_table_block() -> None:
    doc = parse_bytes(shared("unstructured-example-docs/example-docs/simple-table.md"), "simple-table.md")
    (table,) = doc.blocks
    assert table.kind == "table"
    assert table.header == "Item | Price | # In stock"
    assert table.text.splitlines() == ["Juicy Apples | 1.99 | 739", "Bananas | 1.89 | 6"]
    assert table.row_start == 2


def test_markdown_code_fences_are_kept_under_their_heading() -> None:
    doc = parse_bytes(shared("unstructured-example-docs/example-docs/codeblock.md"), "codeblock.md")
    html = block_with(doc, "<h1>Hello, World!</h1>")
    assert html.heading_path == ("HTML Example",)
    assert html.text.startswith("```html\n<!DOCTYPE html>")
    assert block_with(doc, "<to>Tove</to>").heading_path == ("XML Example",)


def test_markdown_in_latin1_is_decoded() -> None:
    doc = parse_bytes(shared("unstructured-example-docs/example-docs/umlauts-non-utf8.md"), "umlauts.md")
    assert doc.blocks[0].heading_path == ("können",)
    assert "äöüß" in doc.text


def test_markdown_title_falls_back_to_first_h1_then_stem() -> None:
    doc = parse_bytes(b"Intro text.\n\n# Release notes\n\nFixed the thing.\n", "notes.md")
    assert doc.title == "Release notes"
    assert parse_bytes(b"## Only a subheading\n\nBody.\n", "stem-name.md").title == "stem-name"


def test_markdown_broken_front_matter_is_a_warning_not_a_failure() -> None:
    data = b"---\ntitle: [unclosed\n---\n# Heading\n\nBody text survives.\n"
    doc = parse_bytes(data, "broken.md")
    assert "Body text survives." in doc.text
    assert "title:" not in doc.text
    assert doc.warnings and "front matter" in doc.warnings[0]


def test_markdown_made_only_of_front_matter_keeps_its_fields() -> None:
    path = "18f-handbook/pages/general-information-and-resources/tech-policies/open-source.md"
    doc = parse_bytes(shared(path), path)
    assert doc.title == "Open source policy"
    assert "redirect_to: https://github.com/18F/open-source-policy" in doc.text


def test_markdown_front_matter_dates_are_json_ready() -> None:
    doc = parse_bytes(b"---\ntitle: Plan\ndate: 2024-03-01\ntags: [a, b]\n---\nText.\n", "plan.md")
    assert {k: v for k, v in doc.metadata.items() if k != "quality"} == {
        "title": "Plan",
        "date": "2024-03-01",
        "tags": ["a", "b"],
    }


DATA = REPO / "tests" / "data" / "markdown"


def test_jekyll_tags_of_a_real_handbook_page_are_removed_and_links_kept() -> None:
    """18F's handbook: `[FMLA]({% page "travel-and-leave/fmla" %})` reads as a link to the page,
    `{% slack_channel "parents" %}` as the channel's name; no tag is left in the text."""
    doc = parse_bytes((DATA / "18f-paid-parental-leave.md").read_bytes(), "paid-parental-leave.md")
    text = "\n".join(b.text for b in doc.blocks)
    assert "{%" not in text and "%}" not in text
    assert "[Family and Medical Leave Act (FMLA)](travel-and-leave/fmla)" in text
    assert "* parents" in text


def test_jekyll_comments_go_with_their_contents() -> None:
    doc = parse_bytes((DATA / "18f-engagements.md").read_bytes(), "engagements.md")
    text = "\n".join(b.text for b in doc.blocks)
    assert "{%" not in text and "TODO link" not in text
    assert "- Identify and qualify new engagements in business and partnership development" in text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% alert %}\nBook early.\n{% endalert %}", "Book early."),
        ('See {{< ref "docs/setup.md" >}} first.', "See docs/setup.md first."),
        ('Read [the guide]({{< relref "/guide" >}}).', "Read [the guide](/guide)."),
        ("Hello {{ site.title }}{%- include nav.html -%}!", "Hello !"),
        ("Write `{{ name }}` in a template.", "Write `{{ name }}` in a template."),
        ("```liquid\n{% if user %}{{ user.name }}{% endif %}\n```", "{% if user %}{{ user.name }}{% endif %}"),
    ],
)
def test_template_tags_of_site_generators(source: str, expected: str) -> None:
    text = "\n".join(b.text for b in parse_bytes(f"# Page\n\n{source}\n".encode(), "page.md").blocks)
    assert expected in text


def test_a_file_of_headings_only_is_not_empty() -> None:
    doc = parse_bytes(b"# Overtime policy\n", "overtime.md")
    assert [b.text for b in doc.blocks] == ["Overtime policy"]


def test_a_page_documenting_the_tags_shows_them_as_the_site_does() -> None:
    source = (
        '# Shortcodes\n\nUse {% raw %}{% slack_channel "x" %}{% endraw %}.\n\n'
        '```\n{% raw %}{% image "a.png" %}{% endraw %}\n```\n'
    )
    text = "\n".join(b.text for b in parse_bytes(source.encode(), "shortcodes.md").blocks)
    assert 'Use {% slack_channel "x" %}.' in text and '{% image "a.png" %}' in text and "raw" not in text
