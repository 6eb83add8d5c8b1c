"""A real PostgreSQL with pgvector for the tests: one ``pgserver`` per session, a fresh database per test.

``pg_url`` gives each test the URL of its own empty database (dropped afterwards); tests that use it
skip, saying why, only where the ``pgserver`` wheel can't be imported.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_counter = itertools.count()


class PgServer:
    """One PostgreSQL server (Unix socket only) and the databases made on it."""

    def __init__(self, server: Any, root: Path) -> None:
        self.server, self.root = server, root
        self.socket = server.get_uri().rpartition("host=")[2]

    def url(self, database: str, user: str = "postgres", password: str = "") -> str:
        return f"postgresql://{user}:{password}@/{database}?host={self.socket}"

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def create_database(self) -> str:
        name = f"docket_test_{next(_counter)}"
        self.sql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR inside pgserver
        try:
            import pgserver
            import psycopg  # noqa: F401
        except ImportError as exc:
            pytest.skip(f"PostgreSQL tests need the pgserver and psycopg wheels (pip install -e '.[test]'): {exc}")
        root = Path(tempfile.mkdtemp(prefix="docket-pg-"))  # short: the socket path has a length limit
        server = pgserver.get_server(root / "data", cleanup_mode="delete")
    try:
        yield PgServer(server, root)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """The name of an empty database of this test's own."""
    name = pg_server.create_database()
    try:
        yield name
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def pg_url(pg_server: PgServer, pg_database: str) -> str:
    """The URL of an empty database of this test's own."""
    return pg_server.url(pg_database)
