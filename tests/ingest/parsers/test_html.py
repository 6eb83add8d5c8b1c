"""HTML: main content, heading paths, tables, <pre>, and encodings (BOM, meta charset, cp1252)."""

from __future__ import annotations

from docket.ingest.parsers import parse_bytes
from tests.ingest.parsers.helpers import example


def test_html_headings_lists_and_tables() -> None:
    doc = parse_bytes(example("fake-html.html"), "fake-html.html")
    assert doc.title == "My First Heading"
    prose, table = doc.blocks
    assert prose.heading_path == ("My First Heading", "My Second Heading")
    assert prose.text.startswith("My first paragraph. lorem ipsum")
    assert "- With sub-bullets!" in prose.text
    assert table.kind == "table"
    assert table.heading_path == ("My First Heading", "My Second Heading", "A Third Heading")
    assert table.header == "Column 1 | Column 2"
    assert table.text.splitlines() == ["Row 1, Cell 1 | Row 1, Cell 2", "Row 2, Cell 1 | Row 2, Cell 2"]


def test_html_page_header_and_footer_are_dropped() -> None:
    doc = parse_bytes(example("fake-html-with-footer-and-header.html"), "page.html")
    assert doc.text == "My first paragraph."
    assert doc.blocks[0].heading_path == ("My First Heading",)


def test_html_scripts_styles_and_navigation_are_dropped() -> None:
    doc = parse_bytes(example("example-with-scripts.html"), "isw.html")
    assert doc.title.startswith("Russian Offensive Campaign Assessment, December 13")
    assert "Belarusian" in doc.text
    for noise in ("function(", "window.", "{display", "var "):
        assert noise not in doc.text


def test_html_utf16_with_bom_reads_like_the_utf8_copy() -> None:
    utf16 = parse_bytes(example("example-steelJIS-datasheet-utf-16.html"), "steel16.html")
    utf8 = parse_bytes(example("example-steelJIS-datasheet.html"), "steel8.html")
    assert utf16.text == utf8.text
    assert utf16.title == "SNB22-3 - SteelJIS - Datasheet, Chemical composition, Standards and Properties"
    chemistry = next(b for b in utf16.blocks if b.kind == "table")
    assert chemistry.header == "C | Si | Mn | P | S | Cr | Mo"
    assert chemistry.text.startswith("0.39 - 0.46 | 0.2 - 0.35")


def test_html_without_charset_in_cp1252_is_decoded() -> None:
    doc = parse_bytes(example("fake-html-cp1252.html"), "cp1252.html")
    assert 'Die schöne Frau hat einen Kaffee mit Kuchen gegessen. Sie sagte: "Das war köstlich!"' in doc.text
    assert "L'été était très chaud cette année." in doc.text
    assert "El niño comió paella con ñoquis." in doc.text


def test_html_meta_charset_is_respected() -> None:
    markup = '<html><head><meta charset="iso-8859-7"><title>t</title></head><body><p>Καλημέρα</p></body></html>'
    doc = parse_bytes(markup.encode("iso-8859-7"), "greek.html")
    assert doc.text == "Καλημέρα"


def test_html_pre_keeps_its_line_breaks_and_indentation() -> None:
    doc = parse_bytes(example("fake-html-pre.htm"), "patriot.htm")
    assert "    UNITING AND STRENGTHENING AMERICA BY PROVIDING APPROPRIATE TOOLS \n REQUIRED TO INTERCEPT" in doc.text
    assert "<DOC>" in doc.text


def test_html_prefers_main_content() -> None:
    markup = b"""<html><body>
    <div class="menu"><a href="/">Home</a> <a href="/about">About us</a></div>
    <main><h1>Refund policy</h1><p>Refunds are paid within 14 days.</p></main>
    <div class="promo">Subscribe to our newsletter</div>
    </body></html>"""
    doc = parse_bytes(markup, "policy.html")
    assert doc.text == "Refunds are paid within 14 days."
    assert doc.blocks[0].heading_path == ("Refund policy",)
    assert doc.title == "Refund policy"


def test_html_layout_tables_are_read_as_text() -> None:
    doc = parse_bytes(example("example-10k-1p.html"), "10k.html")
    assert "Galaxy Gaming, Inc." in doc.text
    listing = next(b for b in doc.blocks if b.kind == "table" and b.header.startswith("Title of each class"))
    assert listing.header == "Title of each class | Trading symbol | Name of exchange on which registered"
    assert listing.text == "Common stock | GLXZ | OTCQB marketplace"


def test_html_made_only_of_a_heading_keeps_the_heading() -> None:
    doc = parse_bytes(example("fake-html-lang-de.html"), "de.html")
    assert doc.text == "Jahresabschluss zum Geschäftsjahr vom 01.01.2020 bis zum 31.12.2020"
