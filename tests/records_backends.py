"""The server's record database on both backends: a ``records`` fixture that runs a test once on a
SQLite file and once on a real PostgreSQL (``pgserver``; see tests/postgres.py).

tests/conftest.py imports it, so any test can take ``records`` and build what it needs on it:
``Accounts(records)``, ``ReviewQueue(records)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docket.records import Records


@pytest.fixture(params=["sqlite", "postgres"])
def records(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Records]:
    if request.param == "sqlite":
        db = Records.sqlite(tmp_path / "records.db")
    else:
        db = Records.postgres(request.getfixturevalue("pg_url"))
    try:
        yield db
    finally:
        db.close()
