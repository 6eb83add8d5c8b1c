"""JSON and JSON Lines: flattened key paths, blocks per item or key, records, and syntax errors."""

from __future__ import annotations

import json

import pytest

from docket.errors import ParseError
from docket.ingest.parsers import parse_bytes
from tests.ingest.parsers.helpers import EXAMPLES, SHARED, read

INVOICES = SHARED / "invoice2data-samples" / "tests" / "compare"


def test_json_list_gives_one_block_per_item() -> None:
    doc = parse_bytes(read(EXAMPLES / "arbitrary-records.json"), "records.json")
    assert [b.heading_path for b in doc.blocks] == [("item 1",), ("item 2",), ("item 3",)]
    assert doc.blocks[1].text.splitlines() == ["sku: GRD-1290", "name: Watering Can", "price: 18", "in_stock: false"]
    assert doc.metadata["items"] == 3


def test_json_nested_values_are_flattened_into_key_paths() -> None:
    doc = parse_bytes(read(EXAMPLES / "simple.json"), "elements.json")
    first = doc.blocks[0].text.splitlines()
    assert "metadata.languages[0]: eng" in first
    assert "metadata.filename: simple.docx" in first
    assert "text: These are a few of my favorite things:" in first


def test_json_object_gives_a_block_per_container_key() -> None:
    data = json.dumps(
        {"name": "Docket", "version": 2, "owners": ["ann", "bob"], "limits": {"pages": 500, "mb": None}}
    ).encode()
    doc = parse_bytes(data, "config.json")
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        ((), "name: Docket\nversion: 2"),
        (("owners",), "owners[0]: ann\nowners[1]: bob"),
        (("limits",), "limits.pages: 500\nlimits.mb: null"),
    ]


def test_json_gold_invoice_fields_are_searchable_text() -> None:
    doc = parse_bytes(read(INVOICES / "oyo.json"), "oyo.json")
    lines = doc.blocks[0].text.splitlines()
    assert "invoice_number: IBZY2087" in lines
    assert "amount: 1939" in lines


def test_jsonl_gives_one_block_per_record_numbered_by_line() -> None:
    data = b'{"q": "reset password", "a": "Use the link"}\n\n{"q": "close account", "tags": ["billing"]}\n'
    doc = parse_bytes(data, "faq.jsonl")
    assert [(b.heading_path, b.text) for b in doc.blocks] == [
        (("record 1",), "q: reset password\na: Use the link"),
        (("record 3",), "q: close account\ntags[0]: billing"),
    ]
    assert doc.metadata["records"] == 2


def test_jsonl_bad_line_is_skipped_with_a_warning() -> None:
    doc = parse_bytes(b'{"ok": 1}\n{"broken": \n{"ok": 2}\n', "log.ndjson")
    assert [b.text for b in doc.blocks] == ["ok: 1", "ok: 2"]
    assert doc.warnings == ("line 2 is not valid JSON and was skipped (Expecting value)",)


def test_json_lines_saved_as_json_are_read_as_records() -> None:
    doc = parse_bytes(b'{"id": 1}\n{"id": 2}\n', "events.json")
    assert [b.heading_path for b in doc.blocks] == [("record 1",), ("record 2",)]


def test_invalid_json_reports_line_and_column() -> None:
    data = read(EXAMPLES / "fake-incomplete-json.txt")
    with pytest.raises(ParseError, match=r"^invalid JSON at line \d+ column \d+: "):
        parse_bytes(data, "incomplete.json")
    with pytest.raises(ParseError, match=r"^invalid JSON at line 3 column 11: Expecting value$"):
        parse_bytes(b'{\n  "a": 1,\n  "b": [1,,2]\n}', "bad.json")


def test_jsonl_with_no_valid_line_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"^invalid JSON at line 2 column 1: "):
        parse_bytes(b"\n}{\n", "bad.jsonl")


def test_json_in_utf16_with_bom_is_read() -> None:
    doc = parse_bytes('{"greeting": "grüß dich"}'.encode("utf-16"), "hello.json")
    assert doc.text == "greeting: grüß dich"
