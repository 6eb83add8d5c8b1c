"""A spreadsheet table's cells as SQL: :class:`RawTable` (header and rows as read), one cell as
display text (:func:`cell_text`), SQL names from headers and file names (:func:`identifier`,
:func:`unique`) and a column's type and converted values (:func:`typed_column`; see
:mod:`docket.index.tables` for the rules).

Reading the tables of a file is ingest's part (:mod:`docket.ingest.sheet_tables`, with the
spreadsheet parser's readers and layout rules); it registers its reader in :data:`SHEET_READERS`,
which the table stores load files with.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from docket.registry import Registry

__all__ = ["SHEET_READERS", "RawTable", "cell_text", "identifier", "typed_column", "unique"]

_WS = re.compile(r"\s+")


@dataclass
class RawTable:
    sheet: str | None
    part: int
    header_row: int
    header: list[str]
    rows: list[tuple[int, list[Any]]]


# readers of a file's tables by name, each ``(data, filetype) -> list[RawTable]``: ``spreadsheet``
# (CSV/TSV/XLSX/XLS), registered by docket.ingest.sheet_tables
SHEET_READERS: Registry[list[RawTable]] = Registry("table reader", "docket.table_readers")


def cell_text(value: Any) -> str:
    """One cell as display text: whitespace collapsed, numbers and dates rendered sensibly."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return _WS.sub(" ", str(value)).strip()


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = format(value, ".12g")
    if "e" in text and 1e-5 <= abs(value) < 1e15:
        text = format(value, ".12f").rstrip("0").rstrip(".")
    return text


# ---------------------------------------------------------------------- names

_RESERVED = frozenset(
    """abort action add all alter and as asc between by case cast check collate column commit constraint create
    cross current default delete desc distinct drop else end escape except exists filter from full glob group
    having if in index inner insert intersect into is join key left like limit natural not null of offset on
    or order outer over primary references right rowid select set table then to transaction union unique update
    using values when where window with""".split()
)


def identifier(text: str, fallback: str) -> str:
    """``text`` as a lower-case SQL identifier: ``Order Date`` → ``order_date``, ``categoryID`` → ``category_id``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    name = re.sub(r"[\W_]+", "_", name, flags=re.UNICODE).strip("_").lower()
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"n{name}"
    if name in _RESERVED or name.startswith("sqlite"):
        name = f"{name}_"
    return name


def unique(name: str, taken: Collection[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


# ---------------------------------------------------------------------- values and types

_NULLS = frozenset({"", "null", "nan", "n/a", "#n/a"})
_NUMBER = re.compile(
    r"(?P<open>\()?\s*(?P<sign>[-+−])?\s*[$€£¥₹]?\s*(?P<body>\d(?:[\d,.'\u00a0\u202f ]*\d)?)\s*[$€£¥₹]?\s*"
    r"(?P<pct>%)?\s*(?P<close>\))?"
)
_SPACED = re.compile(r"['\u00a0\u202f ]")
_SPACED_GROUPS = re.compile(r"\d{1,3}(?:['\u00a0\u202f ]\d{3})+(?:[.,]\d+)?")
_SCIENTIFIC = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_GROUPED = {".": re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?"), ",": re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?")}
_PLAIN = {".": re.compile(r"\d+(?:\.\d+)?"), ",": re.compile(r"\d+(?:,\d+)?")}
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?")
_YMD = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_AB_YEAR = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _NULLS)


def _number_parts(text: str) -> tuple[bool, str, bool] | None:
    """(negative, digits with separators, percent) when ``text`` looks like one number."""
    m = _NUMBER.fullmatch(text.strip())
    if m is None or bool(m["open"]) != bool(m["close"]):
        return None
    body = m["body"]
    if _SPACED.search(body):
        if not _SPACED_GROUPS.fullmatch(body):
            return None
        body = _SPACED.sub("", body)
    return bool(m["open"]) or m["sign"] in ("-", "−"), body, bool(m["pct"])


def _decimal_mark(bodies: Iterable[str]) -> str:
    """``.`` or ``,``: which one the column's numbers use as decimal mark (``.`` when unclear)."""
    votes: Counter[str] = Counter()
    for body in bodies:
        if "," in body and "." in body:
            votes[body[max(body.rfind(","), body.rfind("."))]] += 1
        elif "," in body and not _GROUPED["."].fullmatch(body):
            votes[","] += 1
        elif "." in body and not _GROUPED[","].fullmatch(body):
            votes["."] += 1
    return "," if votes[","] > votes["."] else "."


def _to_number(parts: tuple[bool, str, bool], mark: str) -> int | float | None:
    negative, body, percent = parts
    if not (_GROUPED[mark].fullmatch(body) or _PLAIN[mark].fullmatch(body)):
        return None
    whole = body.split(mark)[0]
    if len(whole) > 1 and whole.startswith("0"):
        return None  # a code such as a postal code or an account number, not a quantity
    thousands = "," if mark == "." else "."
    digits = body.replace(thousands, "").replace(mark, ".")
    value: int | float = float(digits) if "." in digits else int(digits)
    if negative:
        value = -value
    if percent:
        value = value / 100
    if isinstance(value, int) and abs(value) >= 2**63:
        return float(value)
    return value


def _date_parts(text: str, month_first: bool | None) -> tuple[int, int, int, int, int, int] | None:
    m = _ISO.fullmatch(text)
    if m:
        y, mo, d, hh, mm, ss = (int(g or 0) for g in m.groups())
        return (y, mo, d, hh, mm, ss)
    m = _YMD.fullmatch(text)
    if m:
        return (int(m[1]), int(m[2]), int(m[3]), 0, 0, 0)
    m = _AB_YEAR.fullmatch(text)
    if m and month_first is not None:
        first, second = int(m[1]), int(m[3])
        month, day = (first, second) if month_first else (second, first)
        return (int(m[4]), month, day, int(m[5] or 0), int(m[6] or 0), int(m[7] or 0))
    return None


def _month_first(texts: Sequence[str]) -> bool | None:
    """How a column writes ``A/B/YYYY`` dates: True month-first, False day-first, None not at all."""
    matches = [m for m in (_AB_YEAR.fullmatch(t) for t in texts) if m]
    if not matches:
        return None
    day_first = any(int(m[1]) > 12 for m in matches)
    month_first = any(int(m[3]) > 12 for m in matches)
    if day_first and month_first:
        return None
    if day_first or month_first:
        return month_first
    return matches[0][2] == "/"  # 3/4/2020 with nothing to tell: month-first for "/", day-first for "." and "-"


def _as_datetime(value: Any, month_first: bool | None) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        return None
    parts = _date_parts(value.strip(), month_first)
    if parts is None:
        return None
    year, month, day, hour, minute, second = parts
    try:
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def typed_column(values: list[Any]) -> tuple[str, str, list[Any]]:
    """(SQL type, note, converted values) for one column's cells (None for empty)."""
    present = [v for v in values if not _is_null(v)]
    if not present:
        return "TEXT", "", [None] * len(values)
    return _numbers(values, present) or _dates(values, present) or _texts(values)


def _numbers(values: list[Any], present: list[Any]) -> tuple[str, str, list[Any]] | None:
    if any(isinstance(v, (dt.date, dt.time, dt.timedelta)) for v in present):
        return None
    parts: dict[str, tuple[bool, str, bool]] = {}
    for v in present:
        if isinstance(v, str):
            text = v.strip()
            if text in parts or _SCIENTIFIC.fullmatch(text):
                continue
            found = _number_parts(text)
            if found is None:
                return None
            parts[text] = found
    mark = _decimal_mark(body for _, body, _ in parts.values())
    converted: list[Any] = []
    for v in values:
        if _is_null(v):
            converted.append(None)
        elif isinstance(v, bool) or (isinstance(v, float) and v.is_integer() and abs(v) < 2**53):
            converted.append(int(v))
        elif isinstance(v, (int, float)):
            converted.append(v)
        elif isinstance(v, str) and v.strip() in parts:
            number = _to_number(parts[v.strip()], mark)
            if number is None:
                return None
            converted.append(number)
        elif isinstance(v, str):
            converted.append(float(v.strip()))
        else:
            return None
    kind = "INTEGER" if all(isinstance(c, int) for c in converted if c is not None) else "REAL"
    percent = any(pct for _, _, pct in parts.values())
    return kind, "percentages as fractions (0.2 = 20%)" if percent else "", converted


def _dates(values: list[Any], present: list[Any]) -> tuple[str, str, list[Any]] | None:
    texts = [v.strip() for v in present if isinstance(v, str)]
    if texts and not (_ISO.fullmatch(texts[0]) or _YMD.fullmatch(texts[0]) or _AB_YEAR.fullmatch(texts[0])):
        return None
    month_first = _month_first(texts)
    stamps: list[dt.datetime | None] = []
    for v in values:
        if _is_null(v):
            stamps.append(None)
            continue
        stamp = _as_datetime(v, month_first)
        if stamp is None:
            return None
        stamps.append(stamp)
    timed = any(s is not None and s.time() != dt.time(0, 0) for s in stamps)
    form = "%Y-%m-%d %H:%M:%S" if timed else "%Y-%m-%d"
    note = "date-times as YYYY-MM-DD HH:MM:SS" if timed else "dates as YYYY-MM-DD"
    return "TEXT", note, [None if s is None else s.strftime(form) for s in stamps]


def _texts(values: list[Any]) -> tuple[str, str, list[Any]]:
    return "TEXT", "", [None if _is_null(v) else cell_text(v) for v in values]
