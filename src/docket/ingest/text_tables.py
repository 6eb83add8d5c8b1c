"""Tables in extracted text: financial statements and other numeric tables of PDF pages.

A PDF's text layer has no tables, only lines; a statement's row comes out as its label followed
by its figures ("Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420)").
:func:`find_tables` finds runs of such lines and turns them into table blocks that keep what a
figure needs to be quoted right: the row label, the column headers (periods, read from the lines
above: "Three Months Ended" over "July 29, 2023 July 30, 2022"), the unit ("$ and shares in
millions", "(Millions)") and the table's title. Rows become ``label | value | value`` lines under
a ``unit | column | column`` header, as the other parsers write tables, so chunking repeats the
header in every chunk and answers can name the cell they quote.

A run counts as a table when it has at least three rows of figures; captions inside it
("Cash Flows from Investing Activities") stay as lines of their own, and a label wrapped onto a
second line is joined with the figures that follow it. Everything else stays prose.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from docket.sentences import CELL_SEPARATOR

__all__ = ["TextTable", "find_tables", "split_cells"]

_CELL = re.compile(r"^(?:\(?-?(?:\d[\d,]*\d|\d)(?:\.\d+)?\)?%?|\(?-?\.\d+\)?%?|[—–-]+|n/?m|N/?M|n\.m\.)$")
_CURRENCY = {"$", "€", "£", "¥", "US$"}
_YEAR = re.compile(r"^(?:FY)?'?(?:19|20)\d\d[A-Za-z]?$")
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = re.compile(rf"{_MONTH}\s+\d{{1,2}},?\s+(?:19|20)\d\d|\b(?:19|20)\d\d\b|\bQ[1-4]\b|\bFY\s?'?\d\d(?:\d\d)?\b")
_PERIOD_GROUP = re.compile(
    r"(?:Three|Six|Nine|Twelve|3|6|9|12|Thirteen|Twenty-Six|Thirty-Nine|Fifty-Two|Fifty-Three)\s+(?:Months|Weeks)\s+"
    r"Ended|(?:Fiscal\s+)?(?:Years?|Quarters?)\s+Ended|As\s+of",
    re.IGNORECASE,
)
_UNIT = re.compile(
    r"\((?:[^()]*\bin\s+(?:millions|thousands|billions)\b[^()]*)\)|[$€£]?\s*(?:and\s+shares\s+)?in\s+"
    r"(?:millions|thousands|billions)\b[^|\n]{0,60}|\((?:Millions|Thousands|Billions)\)",
    re.IGNORECASE,
)
_TITLE_WORDS = re.compile(
    r"\b(statements?|balance\s+sheets?|income|operations|cash\s+flows?|earnings|results|summary|schedule|"
    r"revenues?|segment|equity|comprehensive)\b",
    re.IGNORECASE,
)
_MIN_ROWS = 3
_MAX_CAPTION_RUN = 2


def split_cells(line: str) -> tuple[str, list[str]]:
    """A line as (label, trailing figures): ``"Revenue $ 9,583 $ 10,329"`` -> ``("Revenue", ["$9,583",
    "$10,329"])``. A line with no trailing figure has no cells."""
    tokens = line.split()
    cells: list[str] = []
    while tokens:
        token = tokens[-1]
        if _CELL.match(token):
            tokens.pop()
            if tokens and tokens[-1] in _CURRENCY:
                token = tokens.pop() + token
            elif token.endswith("%") is False and tokens and tokens[-1] == "%":
                pass
            cells.append(token)
        elif token == "%" and cells:
            tokens.pop()
            cells[-1] += "%"
        elif token in _CURRENCY and cells:
            tokens.pop()
            cells[-1] = token + cells[-1]
        else:
            break
    return " ".join(tokens), list(reversed(cells))


@dataclass(frozen=True)
class TextTable:
    """A table found in text: the lines it spans (``first``..``last``, inclusive), its title, the
    ``header`` row and the ``rows``, both with cells joined by ``" | "``."""

    first: int
    last: int
    title: str
    header: str
    rows: tuple[str, ...]


def _is_header(line: str) -> bool:
    """A line of column headings: periods ("Three Months Ended") or two or more dates and little else."""
    bare = _UNIT.sub("", line)
    dates = _DATE.findall(bare)
    return (len(dates) >= 2 and len(_DATE.sub("", bare).split()) <= 6) or bool(_PERIOD_GROUP.search(line))


def _columns(lines: list[str], count: int) -> tuple[list[str], str]:
    """Column names for ``count`` columns from the lines above a table, and the table's unit: the
    nearest line with ``count`` dates (or more: the last ``count``), prefixed by the period groups
    of the line above it when they divide the columns evenly ("Three Months Ended" ×2)."""
    unit = next((m.group(0).strip() for line in reversed(lines) if (m := _UNIT.search(line))), "")
    names: list[str] = []
    groups: list[str] = []
    for k in range(len(lines) - 1, -1, -1):
        dates = [d.strip() for d in _DATE.findall(_UNIT.sub("", lines[k]))]
        if len(dates) >= count > 0:
            names = dates[-count:]
            for above in reversed(lines[max(0, k - 2) : k + 1]):
                periods = [p.strip() for p in _PERIOD_GROUP.findall(above)]
                if periods and count % len(periods) == 0 and len(periods) < count:
                    groups = periods
                    break
            break
        periods = [p.strip() for p in _PERIOD_GROUP.findall(lines[k])]
        if len(periods) == count:
            names = periods
            break
    if names and groups:
        per = len(names) // len(groups)
        names = [f"{groups[k // per]} {name}" for k, name in enumerate(names)]
    return names, unit


def _title(lines: list[str]) -> str:
    for line in reversed(lines):
        text = line.strip()
        if not text or _UNIT.fullmatch(text) or _is_header(text):
            continue
        if re.search(r"\bcontents\b", text, re.IGNORECASE):
            continue
        if _TITLE_WORDS.search(text) and len(text) <= 120 and not split_cells(text)[1]:
            return text
    return ""


_MONTH_ONLY = re.compile(rf"^{_MONTH}$", re.IGNORECASE)


def _is_row(label: str, cells: list[str]) -> bool:
    """A row of figures: a label with words, then figures ("December 31, 2018" is a date, not a row)."""
    return bool(cells) and re.search(r"[A-Za-z]{2}", label) is not None and not _MONTH_ONLY.match(label.strip())


_BARE_NUMBER = re.compile(r"^\d{4,5}$")  # a year, a zip code: not a figure of a table


def _figures_look_tabular(figures: list[tuple[str, list[str]]]) -> bool:
    """Rows of one figure each are a table only when those figures look like amounts ("1,577",
    "(370)", "$5.2"), not years or postal codes at the ends of lines of a letterhead."""
    single = [cells[0] for _, cells in figures if len(cells) == 1]
    if len(single) * 2 < len(figures):
        return True
    bare = sum(1 for cell in single if _BARE_NUMBER.match(cell))
    return bare * 2 < len(single)


def find_tables(text: str) -> list[TextTable]:
    """The numeric tables in ``text`` (see the module docstring), in order."""
    lines = text.split("\n")
    tables: list[TextTable] = []
    i = 0
    while i < len(lines):
        label, cells = split_cells(lines[i].strip())
        if not _is_row(label, cells) or _is_header(lines[i]):
            i += 1
            continue
        if i + 1 < len(lines) and _is_header(lines[i + 1]) and len(cells) == 1:
            i += 1  # "At December 31" over "(Dollars in millions) 2022 2021": part of the heading, not a row
            continue
        rows: list[tuple[str, list[str]]] = []
        j = i
        captions = 0
        pending = ""
        while j < len(lines):
            line = lines[j].strip()
            if not line:
                j += 1
                continue
            if _is_header(line):  # a second header inside the table (a new column group): a separator
                if pending:
                    rows.append((pending, []))
                    pending = ""
                j += 1
                continue
            label, cells = split_cells(line)
            if cells and (re.search(r"[A-Za-z]{2}", label) or not label):
                if pending and (not label or label[:1].islower()):
                    label = f"{pending} {label}".strip()  # a label wrapped onto the next line
                elif pending:
                    rows.append((pending, []))  # a caption over the rows that follow
                rows.append((label, cells))
                pending = ""
                captions = 0
            elif not cells and len(line) <= 120 and not line.endswith((".", ";")) and captions < _MAX_CAPTION_RUN:
                if pending and line[:1].islower():
                    pending = f"{pending} {line}"
                else:
                    if pending:
                        rows.append((pending, []))
                    pending = line
                captions += 1
            else:
                break
            j += 1
        while rows and not rows[-1][1]:
            rows.pop()  # trailing captions belong to what follows
        figures = [r for r in rows if r[1]]
        if len(figures) >= _MIN_ROWS and _figures_look_tabular(figures):
            count = Counter(len(c) for _, c in figures).most_common(1)[0][0]
            above = lines[max(0, i - 6) : i]
            names, unit = _columns(above, count)
            header_first = i
            if names or unit:  # the lines above become the header; without one they stay text
                for k in range(len(above) - 1, -1, -1):
                    if _is_header(above[k]) or _UNIT.search(above[k]):
                        header_first = i - (len(above) - k)
            title = _title(lines[max(0, i - 8) : header_first])
            previous = tables[-1] if tables else None
            if not names and previous is not None and previous.header.count(CELL_SEPARATOR) == count:
                # a table continued after a caption ("Shareholders' equity:") keeps the columns above
                header = previous.header
                title = previous.title if not title or title.endswith(":") else title
            else:
                header = CELL_SEPARATOR.join([unit, *(names or [f"column {n}" for n in range(1, count + 1)])])
            body = tuple(CELL_SEPARATOR.join([lab, *cells]) if cells else lab for lab, cells in rows)
            last = i
            seen = 0
            for k in range(i, len(lines)):  # the last line the rows came from
                if seen == len(figures):
                    break
                if split_cells(lines[k].strip())[1] and not _is_header(lines[k]):
                    seen += 1
                    last = k
            tables.append(TextTable(header_first, last, title, header, body))
            i = last + 1
        else:
            i = max(j, i + 1)
    return tables
