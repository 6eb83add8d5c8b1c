"""Repairs of a model's JSON that only breaks the schema in form, never in meaning."""

from __future__ import annotations

import json

import pytest

from docket.workflows.coerce import coerce
from docket.workflows.schemas import BUILTIN_SCHEMAS, schema_problem

pytest.importorskip("jsonschema")

INVOICE = json.loads((BUILTIN_SCHEMAS / "invoice.json").read_text())


def test_a_small_models_invoice_is_repaired_to_fit_the_schema() -> None:
    reply = {
        "vendor": "Amazon Web Services",
        "number": "",
        "date": "August 3, 2014",
        "due_date": "3rd Sept 2014",
        "currency": "$",
        "total": "1,250.00",
        "tax": "n/a",
        "line_items": [{"description": "EC2", "quantity": "2", "unit_price": "12,50", "amount": "25"}],
    }
    assert schema_problem(INVOICE, reply) is not None
    fixed = coerce(reply, INVOICE)
    assert schema_problem(INVOICE, fixed) is None
    assert fixed["number"] is None and fixed["tax"] is None
    assert (fixed["date"], fixed["due_date"], fixed["currency"]) == ("2014-08-03", "2014-09-03", "USD")
    assert fixed["total"] == 1250.0 and fixed["line_items"][0] == {
        "description": "EC2",
        "quantity": 2,
        "unit_price": 12.5,
        "amount": 25,
    }


@pytest.mark.parametrize(
    ("text", "number"), [("1.250,75 €", 1250.75), ("$1,250", 1250), ("-3.5", -3.5), ("INR 12,34,567.00", 1234567.0)]
)
def test_numbers_written_as_text_are_read_with_their_separators(text: str, number: float) -> None:
    assert coerce(text, {"type": ["number", "null"]}) == number


def test_labels_are_matched_ignoring_case_and_lists_split() -> None:
    schema = {
        "type": "object",
        "properties": {
            "priority": {"enum": ["low", "normal", "high"]},
            "objections": {"type": "array", "items": {"type": "string"}},
        },
    }
    assert coerce({"priority": "High", "objections": "price, migration effort"}, schema) == {
        "priority": "high",
        "objections": ["price", "migration effort"],
    }


def test_what_cannot_be_read_is_left_for_the_validator() -> None:
    schema = {"type": "object", "properties": {"date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}}}
    assert coerce({"date": "sometime soon"}, schema) == {"date": "sometime soon"}
    assert coerce({"priority": "urgent!"}, {"properties": {"priority": {"enum": ["low"]}}}) == {"priority": "urgent!"}
    assert coerce("", {"type": "string"}) == ""  # not nullable: stays, and the validator decides
