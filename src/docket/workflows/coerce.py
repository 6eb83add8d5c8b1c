"""Deterministic repairs of a model's JSON before it is judged against the schema.

Small models get the meaning right and the form wrong: ``""`` for "not stated", ``"1,250.00"`` for
a number, ``"August 3, 2014"`` for a ``YYYY-MM-DD`` date, ``"€"`` for a currency code, ``"High"``
for the label ``high``. :func:`coerce` rewrites exactly these cases, guided by the schema, and
nothing else; a value it cannot read is left as it was for the validator to report. The extract
step applies it only to a reply that fails the schema, so a valid reply is never touched.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

__all__ = ["coerce"]

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%d-%b-%Y",
    "%d-%B-%Y",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)
CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "₹": "INR", "Rs": "INR", "Rs.": "INR", "¥": "JPY"}
EMPTY = {"", "null", "none", "n/a", "na", "-", "unknown", "not stated", "not specified"}


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()


def _number(text: str) -> float | int | None:
    cleaned = re.sub(r"[^\d,.\-]", "", text)
    if not re.search(r"\d", cleaned):
        return None
    if "," in cleaned and "." in cleaned:  # the later separator is the decimal one
        if cleaned.rfind(",") > cleaned.rfind("."):
            cleaned = cleaned.replace(".", "").replace(",", ".")
        else:
            cleaned = cleaned.replace(",", "")
    elif "," in cleaned:  # 1,250 is a thousand; 12,50 is a decimal
        head, _, tail = cleaned.rpartition(",")
        cleaned = cleaned.replace(",", "") if len(tail) == 3 else f"{head.replace(',', '')}.{tail}"
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in cleaned else value


def _date(text: str) -> str | None:
    candidate = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text.strip()).replace("Sept", "Sep")
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(candidate, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _string(value: str, schema: dict[str, Any], types: set[str]) -> Any:
    if "null" in types and value.strip().lower() in EMPTY:
        return None
    enum = schema.get("enum")
    if enum:
        for option in enum:
            if isinstance(option, str) and option.lower() == value.strip().lower():
                return option
        return value
    if types & {"number", "integer"} and "string" not in types:
        number = _number(value)
        if number is not None:
            return int(number) if "integer" in types and "number" not in types else number
        return value
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        if pattern == ISO_DATE:
            return _date(value) or value
        if pattern == "^[A-Z]{3}$":
            symbol = value.strip()
            if symbol in CURRENCY_SYMBOLS:
                return CURRENCY_SYMBOLS[symbol]
            if re.fullmatch(r"[A-Za-z]{3}", symbol):
                return symbol.upper()
    return value


def coerce(value: Any, schema: Any) -> Any:
    """``value`` with the repairs above applied wherever ``schema`` says what it should be."""
    if not isinstance(schema, dict):
        return value
    types = _types(schema) | ({"object"} if "properties" in schema else set())
    if isinstance(value, dict) and "object" in types:
        properties = schema.get("properties") or {}
        return {key: coerce(item, properties.get(key)) for key, item in value.items()}
    if isinstance(value, list) and "array" in types:
        return [coerce(item, schema.get("items")) for item in value]
    if isinstance(value, str) and types == {"array"} and _types(schema.get("items") or {}) <= {"string"}:
        parts = [p.strip() for p in re.split(r"[;\n]|,\s", value)]  # "price, migration" -> two items
        return [p for p in parts if p]
    if isinstance(value, str):
        return _string(value, schema, types)
    return value
