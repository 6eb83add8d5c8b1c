"""Tables read from spreadsheet files: each table of each sheet as a header and rows.

:func:`raw_tables` reads each table of each sheet with the spreadsheet parser's readers and layout
rules, so tables match the indexed text. It is registered as the ``spreadsheet`` reader in
:data:`~docket.index.table_values.SHEET_READERS`, which the table stores load files with; naming
and typing the columns is :mod:`docket.index.table_values` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docket.index.table_values import SHEET_READERS, RawTable, cell_text, identifier, typed_column, unique

__all__ = ["RawTable", "identifier", "raw_tables", "typed_column", "unique"]


def raw_tables(data: bytes, filetype: str) -> list[RawTable]:
    """Each table of each sheet: header cells and (row number, cells) data rows.

    Uses the spreadsheet parser's readers and its layout rules (title rows above a header, several
    tables in one sheet separated by an empty row), so tables match the indexed text.
    """
    from docket.ingest.parsers.spreadsheet import _csv_rows, _header_index, _opens_table, _xls_sheets, _xlsx_sheets

    if filetype in ("csv", "tsv"):
        sheets: list[tuple[str | None, Sequence[tuple[int, Sequence[Any]]]]] = [(None, _csv_rows(data, f".{filetype}"))]
    elif filetype == "xls" and not data.startswith(b"PK\x03\x04"):
        sheets = list(_xls_sheets(data))
    else:
        sheets = list(_xlsx_sheets(data))
    out: list[RawTable] = []
    for sheet, rows in sheets:
        raw = [(n, list(cells)) for n, cells in rows if not all(_blank(c) for c in cells)]
        groups: list[list[tuple[int, list[Any]]]] = [[]]
        for i, (n, cells) in enumerate(raw):
            if i and n != raw[i - 1][0] + 1 and _opens_table(raw[i : i + 12]):
                groups.append([])
            groups[-1].append((n, cells))
        part = 0
        for group in groups:
            if not group:
                continue
            at = _header_index(group[:1000])
            header_row, header = group[at]
            body = group[at + 1 :]
            if not body:
                continue
            width = max(len(cells) for _, cells in group[at:])
            used = [i for i in range(width) if any(i < len(c) and not _blank(c[i]) for _, c in group[at:])]
            part += 1
            out.append(
                RawTable(
                    sheet,
                    part,
                    header_row,
                    [_header_text(header[i]) if i < len(header) else "" for i in used],
                    [(n, [cells[i] if i < len(cells) else None for i in used]) for n, cells in body],
                )
            )
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _header_text(value: Any) -> str:
    return cell_text(value)


@SHEET_READERS.register("spreadsheet")
def _read(data: bytes, filetype: str) -> list[RawTable]:
    return raw_tables(data, filetype)  # looked up on each call, so a test can replace raw_tables
