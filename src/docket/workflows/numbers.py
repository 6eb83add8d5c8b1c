"""A narrative may only quote computed figures: the numbers a compute step's output holds, and the
numbers in a model's text that are not among them (a ``generate`` step's ``numbers_from``).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["allowed_numbers", "unsupported_numbers"]

_NUMBER = re.compile(r"(?<![\w.])[-+−]?[$€£¥]?\d[\d,]*(?:\.\d+)?%?")


def _number_value(token: str) -> tuple[float, int] | None:
    body = re.sub(r"[^\d.]", "", token.replace(",", ""))
    if not body or body.count(".") > 1:
        return None
    decimals = len(body.split(".")[1]) if "." in body else 0
    return float(body), decimals


def allowed_numbers(computed: Any) -> list[float]:
    """Every number in a compute step's output: the figures and the numbers inside labels (years...)."""
    found: list[float] = []

    def walk(value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            found.append(abs(float(value)))
        elif isinstance(value, str):
            for token in _NUMBER.findall(value):
                parsed = _number_value(token)
                if parsed is not None:
                    found.append(parsed[0])
        elif isinstance(value, dict):
            for key, item in value.items():
                if key != "sql":
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(computed)
    return found


def unsupported_numbers(text: str, allowed: list[float]) -> list[str]:
    """The numbers in ``text`` that are not computed figures (at the precision the text writes them)."""
    bad = []
    for token in _NUMBER.findall(text):
        parsed = _number_value(token)
        if parsed is None:
            continue
        value, decimals = parsed
        if not any(round(a, decimals) == round(value, decimals) for a in allowed):
            bad.append(token)
    return bad
