"""Spreadsheets as SQL tables: CSV/TSV/XLSX/XLS files loaded into their own SQLite file.

Sync hands every spreadsheet it indexes to :meth:`TableStore.load`, which turns each table of each
sheet into a real table (``tables.db`` next to the knowledge base), so that questions about
counts, totals and averages can be answered by SQL instead of by a language model.

- **Names.** Tables are named after the file (and the sheet, when a workbook has several); columns
  after their headers, as lower-case SQL identifiers (``Order Date`` → ``order_date``,
  ``categoryID`` → ``category_id``). The original headers are kept in a catalogue.
- **Types.** A column whose every value is a whole number is ``INTEGER``, any number ``REAL``
  (thousands separators, currency signs, ``(1,234)`` negatives and decimal commas understood;
  ``12%`` becomes ``0.12``), anything else ``TEXT``. Dates become ISO text (``2017-11-08``), with
  ``11/8/2017`` read month-first or day-first as the whole column shows. Numbers with leading
  zeros (postal codes, account ids) stay text. ``NULL``, ``N/A`` and empty cells are NULL.
  ``rowid`` is the row number in the file.
- **Catalogue.** ``_docket_tables`` records each table's document, sheet, rows, columns (with
  original headers), a few sample rows, the distinct values of short text columns and the words
  that match it to questions; ``_docket_loads`` the content hash each document was loaded from.
- **Consistency.** A document's tables are replaced in one transaction. A file that cannot be
  loaded as a table leaves a note (its text is indexed all the same).
- **Permissions** are not copied: :meth:`TableStore.visible` reads each table's document from the
  knowledge base at question time and applies the caller's :class:`~docket.types.Access`, so a
  change of access applies at once and a table whose document is gone is invisible.
- **Queries** (:meth:`TableStore.query`) run on a read-only connection with an authorizer that
  allows only ``SELECT`` and reads of the tables the caller may see, a time limit and a row cap.
- **PostgreSQL.** With a PostgreSQL store (``store.url``) the catalogue and rows live in that
  database instead (:mod:`docket.index.postgres.tables`), so every machine sees the same tables;
  queries run in the same SQLite dialect on an in-memory copy of the tables they may read.
- **Database sources** (:meth:`TableStore.load_rows`): the rows of a ``sql`` source are one table
  too, recorded under the source (``source:<name>`` in place of a document id) and replaced when
  its rows change. It is visible to a caller who may read the source's documents, and dropped by
  :meth:`TableStore.prune` once the source is gone.

This module is what callers import. The shapes shared by every backend and building a table with
its catalogue entry are in :mod:`docket.index.table_catalogue`; the SQLite store in
:mod:`docket.index.table_store`; the PostgreSQL one in :mod:`docket.index.postgres.tables`,
registered here in :data:`~docket.index.table_store.TABLE_STORES` under ``postgres``.
"""

from __future__ import annotations

from docket.index.table_catalogue import (
    CATALOGUE_FIELDS,
    TABLE_FILETYPES,
    BuiltTable,
    Column,
    QueryError,
    QueryResult,
    TableInfo,
    build_rows_table,
    build_sheet_table,
    pruned,
    source_table_id,
    table_info,
    table_names,
    visible_to,
)
from docket.index.table_store import TABLE_STORES, TableStore
from docket.index.table_values import identifier

__all__ = [
    "CATALOGUE_FIELDS",
    "TABLE_FILETYPES",
    "BuiltTable",
    "Column",
    "QueryError",
    "QueryResult",
    "TableInfo",
    "TableStore",
    "build_rows_table",
    "build_sheet_table",
    "identifier",
    "pruned",
    "source_table_id",
    "table_info",
    "table_names",
    "visible_to",
]


@TABLE_STORES.register("postgres")
def _postgres(url: str, connect_timeout: float = 10.0) -> TableStore:
    """The PostgreSQL table store, which :meth:`TableStore.open` picks when the settings name a
    PostgreSQL store (psycopg is imported only then)."""
    from docket.index.postgres.tables import PostgresTableStore

    return PostgresTableStore(url, connect_timeout)
