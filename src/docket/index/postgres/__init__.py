"""The PostgreSQL + pgvector store (``store.url`` / ``DOCKET_DATABASE_URL``).

``store`` holds :class:`PostgresStore`; ``schema`` the numbered migrations and the checks made when
a database is opened. Copying a knowledge base into PostgreSQL is :mod:`docket.ops.copy`.
"""

from __future__ import annotations

from docket.index.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
