"""Spreadsheets: XLSX/XLSM (openpyxl, cached formula values), XLS (xlrd) and CSV/TSV (csv module).

Each sheet becomes one or more ``table`` blocks: the header row is the first well-filled row (rows
above it, such as a sheet title, become a short text block), empty rows and columns are dropped,
and a block never spans a dropped row so that ``row_start`` stays the row number a user sees.
Numbers are rendered as a person would type them (``3`` not ``3.0``, no float noise) and dates in
ISO form. :func:`table_blocks` is shared with the other parsers that meet tables.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import Any

from docket.errors import ParseError
from docket.index.table_values import cell_text
from docket.ingest.parsers import PARSERS
from docket.ingest.parsers.text import decode_text
from docket.types import Block, ParsedDocument

__all__ = ["SpreadsheetParser", "cell_text", "table_blocks"]

MAX_ROWS_PER_BLOCK = 1000
CELL_SEP = " | "
_NUMBERISH = re.compile(r"[-+(]?[$€£¥]?\d[\d.,' ]*%?\)?")


def table_blocks(
    rows: Iterable[tuple[int, Sequence[Any]]],
    *,
    sheet: str | None = None,
    heading_path: tuple[str, ...] = (),
    page: int | None = None,
    slide: int | None = None,
    detect_layout: bool = False,
    max_rows: int = MAX_ROWS_PER_BLOCK,
) -> list[Block]:
    """Blocks for one table given ``(row_number, cells)`` pairs, in order.

    The first non-empty row is the header. Empty rows and columns are dropped; data rows are cut
    into blocks of at most ``max_rows``, and a new block starts after every dropped row so that
    each block's rows run on consecutively from ``row_start``.

    With ``detect_layout`` (sheets, where one grid often holds several tables), rows filled less
    than halfway above a header are a title and become a text block, and a run of rows after an
    empty row starts a new table when it opens with an all-text row above rows holding numbers.
    """
    raw = [(n, list(cells)) for n, cells in rows]
    raw = [(n, cells) for n, cells in raw if any(cell_text(c) for c in cells)]
    if not raw:
        return []
    tables: list[list[tuple[int, list[Any]]]] = [[]]
    for i, (n, cells) in enumerate(raw):
        gap = i > 0 and n != raw[i - 1][0] + 1
        if gap and detect_layout and _opens_table(raw[i : i + 12]):
            tables.append([])
        tables[-1].append((n, cells))
    where = {"sheet": sheet, "heading_path": heading_path, "page": page, "slide": slide}
    blocks: list[Block] = []
    for table in tables:
        blocks.extend(_one_table(table, where, detect_layout, max_rows))
    return blocks


def _opens_table(rows: list[tuple[int, list[Any]]]) -> bool:
    """Whether a run of rows after a gap starts with its own header (text above numbers)."""
    header_at = _header_index(rows)
    header = [c for c in rows[header_at][1] if cell_text(c)]
    below = [c for _, cells in rows[header_at + 1 :] for c in cells if cell_text(c)]
    return len(header) > 1 and not any(_numeric(c) for c in header) and any(_numeric(c) for c in below)


def _numeric(value: Any) -> bool:
    if isinstance(value, (int, float, dt.date, dt.time)) and not isinstance(value, bool):
        return True
    return bool(_NUMBERISH.fullmatch(cell_text(value)))


def _header_index(table: list[tuple[int, list[Any]]]) -> int:
    """The first row filled at least halfway (within the first ten rows), else the first row."""
    width = max(sum(1 for c in cells if cell_text(c)) for _, cells in table)
    need = max(1, math.ceil(width / 2)) if width > 1 else 1
    for i, (_, cells) in enumerate(table[:10]):
        if sum(1 for c in cells if cell_text(c)) >= need:
            return i
    return 0


def _one_table(
    raw: list[tuple[int, list[Any]]], where: dict[str, Any], detect_layout: bool, max_rows: int
) -> list[Block]:
    table = [(n, [cell_text(c) for c in cells]) for n, cells in raw]
    width = max(len(cells) for _, cells in table)
    used = [i for i in range(width) if any(i < len(cells) and cells[i] for _, cells in table)]
    table = [(n, [cells[i] if i < len(cells) else "" for i in used]) for n, cells in table]

    blocks: list[Block] = []
    header_at = _header_index(raw) if detect_layout else 0
    if header_at:
        lines = [" ".join(c for c in cells if c) for _, cells in table[:header_at]]
        blocks.append(Block(text="\n".join(lines), **where))
    header_number, header_cells = table[header_at]
    data = table[header_at + 1 :]
    header = CELL_SEP.join(header_cells)
    if not data:
        blocks.append(Block(text=header, **where))
        return blocks

    run: list[str] = []
    run_start = data[0][0]
    previous = header_number
    for number, cells in data:
        if run and (number != previous + 1 or len(run) >= max_rows):
            blocks.append(Block(text="\n".join(run), kind="table", header=header, row_start=run_start, **where))
            run = []
        if not run:
            run_start = number
        run.append(CELL_SEP.join(cells))
        previous = number
    blocks.append(Block(text="\n".join(run), kind="table", header=header, row_start=run_start, **where))
    return blocks


def _xlsx_sheets(data: bytes) -> list[tuple[str | None, list[tuple[int, Sequence[Any]]]]]:
    import openpyxl

    with warnings.catch_warnings():
        # openpyxl warns about workbook features it drops (data validation, conditional formats...)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:
            raise ParseError(f"not a readable Excel workbook: {_reason(exc)}") from exc
        try:
            sheets = []
            for ws in book.worksheets:
                if not hasattr(ws, "iter_rows"):
                    continue  # chartsheet
                ws.reset_dimensions()  # some writers record a wrong used range; read every row
                rows = [(i, row) for i, row in enumerate(ws.iter_rows(values_only=True), start=1)]
                sheets.append((ws.title, rows))
            return sheets
        finally:
            book.close()


def _xls_sheets(data: bytes) -> list[tuple[str | None, list[tuple[int, Sequence[Any]]]]]:
    import xlrd

    try:
        # xlrd writes its complaints about odd files to stdout unless given a log file
        book = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=io.StringIO())
    except xlrd.XLRDError as exc:
        raise ParseError(f"not a readable .xls workbook: {_reason(exc)}") from exc
    try:
        sheets: list[tuple[str | None, list[tuple[int, Sequence[Any]]]]] = []
        for index in range(book.nsheets):
            ws = book.sheet_by_index(index)
            rows: list[tuple[int, Sequence[Any]]] = []
            for r in range(ws.nrows):
                rows.append((r + 1, [_xls_value(cell, book.datemode) for cell in ws.row(r)]))
            sheets.append((str(ws.name), rows))
        return sheets
    finally:
        book.release_resources()


def _xls_value(cell: Any, datemode: int) -> Any:
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, datemode)
        except (xlrd.xldate.XLDateError, ValueError, OverflowError):
            return cell.value
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(cell.value, "#ERR")
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    return cell.value


def _csv_rows(data: bytes, ext: str) -> list[tuple[int, Sequence[Any]]]:
    text = decode_text(data)
    if "\x00" in text:
        raise ParseError("binary content: the file contains NUL bytes and is not a CSV/TSV file")
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rfind("\n")]
    default = "\t" if ext == ".tsv" else ","
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if default == "\t" else csv.excel
    if ext == ".tsv" and "\t" in sample:
        dialect = csv.excel_tab
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        return [(i, row) for i, row in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise ParseError(f"malformed CSV at record {reader.line_num}: {exc}") from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


@PARSERS.register("spreadsheet")
class SpreadsheetParser:
    name: str = "spreadsheet"
    extensions: tuple[str, ...] = (".xlsx", ".xlsm", ".xls", ".csv", ".tsv")

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        ext = PurePath(path).suffix.lower()
        if ext in (".csv", ".tsv"):
            sheets: list[tuple[str | None, list[tuple[int, Sequence[Any]]]]] = [(None, _csv_rows(data, ext))]
        elif ext == ".xls" and not data.startswith(b"PK\x03\x04"):
            sheets = _xls_sheets(data)
        else:
            sheets = _xlsx_sheets(data)

        blocks: list[Block] = []
        warnings_out: list[str] = []
        for name, rows in sheets:
            found = table_blocks(rows, sheet=name, detect_layout=True)
            if not found and name is not None:
                warnings_out.append(f"sheet '{name}' is empty")
            blocks.extend(found)
        if not blocks:
            raise ParseError("no data: every sheet is empty")
        metadata: dict[str, Any] = {}
        if ext not in (".csv", ".tsv"):
            metadata["sheets"] = [name for name, _ in sheets]
        return ParsedDocument(
            blocks=tuple(blocks),
            title=PurePath(path).stem,
            metadata=metadata,
            warnings=tuple(warnings_out),
        )
