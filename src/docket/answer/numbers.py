"""Numbers in answers, held to the sources.

A generated sentence that states a figure must take it from a cited passage, or compute it from
cited figures with the calculation shown. :func:`unsupported_numbers` lists the figures of a
sentence that do neither:

- a figure matches a source figure when their values agree after removing formatting (``$``,
  thousands separators, a trailing ``%``; ``(1,577)`` is ``-1,577``), also when the sentence rounds
  it (``1.58`` for ``1.5773``) or restates it in thousands, millions or billions (``$1.6 billion``
  for ``1,577`` in a table "in millions");
- a figure on the right of ``=`` is accepted when the expression on its left (figures, ``+ - * /``
  and brackets) evaluates to it within rounding and every figure on the left matches a source;
- years (1900-2100) and the small counting numbers 0-3 are not checked.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["Figure", "figures", "unsupported_numbers"]

_FIGURE = re.compile(
    r"(?<![\w.])(?P<neg>-|−)?(?P<cur>[$€£¥])?\s?(?P<open>\()?(?P<num>\d[\d,]*(?:\.\d+)?|\.\d+)(?P<close>\))?"
    r"\s?(?P<pct>%|percent\b)?(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mn|[kmb])\b)?",
    re.IGNORECASE,
)
_SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


@dataclass(frozen=True)
class Figure:
    """A number as written: its value (sign and scale word applied), its decimals, where it is."""

    value: float
    decimals: int
    percent: bool
    start: int
    end: int
    raw: str
    scale: float = 1.0  # the scale word's factor ("1.6 billion": 1e9); value = written number * scale


def figures(text: str) -> list[Figure]:
    """The numbers of ``text`` (citation markers like ``[2]`` excluded)."""
    out = []
    for m in _FIGURE.finditer(text):
        if text[max(0, m.start() - 1) : m.start()] == "[" and text[m.end() : m.end() + 1] == "]":
            continue
        digits = m.group("num").replace(",", "")
        try:
            value = float(digits)
        except ValueError:
            continue
        if m.group("open") and m.group("close"):
            value = -value
        if m.group("neg"):
            value = -value
        word = (m.group("scale") or "").lower()
        if len(word) == 1 and not m.group("cur"):
            # "3M", "A4": a letter straight after a bare number is part of a name, not a scale
            if text[m.end("num") : m.end("num") + 1].isalpha():
                continue
            word = ""
        after = m.end("close") if m.group("close") and m.group("open") else m.end("num")
        if text[after : after + 1].isalpha() and not word and not m.group("pct"):
            continue  # "IO-360A", "5th": part of a word
        scale = _SCALES.get(word, 1.0)
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        end = m.end() if (word or m.group("pct")) else after
        out.append(
            Figure(value * scale, decimals, bool(m.group("pct")), m.start(), end, text[m.start() : end].strip(), scale)
        )
    return out


def _exempt(figure: Figure) -> bool:
    whole = figure.decimals == 0 and not figure.percent
    return whole and (0 <= figure.value <= 3 or 1900 <= figure.value <= 2100)


def _rounded(value: float, decimals: int) -> Decimal:
    """``value`` rounded half up, as people round ("14.5" -> 15)."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _agrees(claimed: Figure, source: Figure) -> bool:
    if claimed.percent != source.percent:
        return False  # "14 weeks" is not "14.5%"
    written = abs(claimed.value) / claimed.scale  # the number as the sentence writes it
    for factor in (1.0, 1e3, 1e6, 1e9, 1e-3, 1e-6, 1e-9):  # restated in thousands/millions/billions
        value = abs(source.value) * factor / claimed.scale
        if value == 0:
            continue
        if abs(value - written) <= 1e-9 * max(1.0, written):
            return True
        # rounded as the sentence writes it ("1.58" for 1.5773; "1.6 billion" for 1,577 million)
        close = abs(value - written) / value < 0.05
        if close and _rounded(value, claimed.decimals) == _rounded(written, claimed.decimals):
            return True
    return False


def _matches(claimed: Figure, known: Iterable[Figure]) -> bool:
    return any(_agrees(claimed, v) for v in known)


def _evaluate(expression: str) -> float | None:
    text = re.sub(r"(?<=\d),(?=\d{3})", "", expression).replace("×", "*").replace("÷", "/").replace("x", "*")
    text = re.sub(r"[$€£¥%]", "", text)
    if not re.fullmatch(r"[\d.\s+\-*/()]+", text):
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](walk(node.left), walk(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError("not arithmetic")

    try:
        return walk(tree)
    except (ValueError, ZeroDivisionError):
        return None


def _calculations(sentence: str) -> list[tuple[tuple[int, int], list[Figure], Figure]]:
    """``left = right`` calculations: the span of the whole, the figures on the left, the result."""
    found = []
    for m in re.finditer(
        r"([\d$€£¥(][\d\s.,$€£¥%()+\-*/×÷x]*[\d)%])\s*(?:=|≈)\s*([-−$€£¥(]?\s?\d[\d,]*(?:\.\d+)?\)?%?)", sentence
    ):
        left, right = m.group(1), m.group(2)
        value = _evaluate(left)
        result = figures(right)
        if value is None or not result:
            continue
        claimed = result[0]
        tolerance = 0.5 * 10 ** (-claimed.decimals) + 1e-9
        if abs(abs(value) - abs(claimed.value)) <= max(tolerance, abs(claimed.value) * 0.005):
            found.append(((m.start(), m.end()), figures(left), claimed))
    return found


def unsupported_numbers(sentence: str, sources: Iterable[str]) -> list[str]:
    """The figures of ``sentence`` that no source states and no shown calculation produces."""
    known = [f for text in sources for f in figures(text)]
    shown = _calculations(sentence)
    covered: list[tuple[int, int]] = []
    missing: list[str] = []
    for span, operands, _ in shown:
        if all(_exempt(f) or _matches(f, known) for f in operands):
            covered.append(span)
        else:
            missing.extend(f.raw for f in operands if not (_exempt(f) or _matches(f, known)))
            covered.append(span)
    for figure in figures(sentence):
        if any(a <= figure.start < b for a, b in covered) or _exempt(figure):
            continue
        if not _matches(figure, known):
            missing.append(figure.raw)
    return list(dict.fromkeys(missing))
