"""The ``jobs`` table of ``docket enqueue`` / ``docket worker`` as ``docket db status`` reports it.

The table is the index schema's (migration 2 in :mod:`docket.index.postgres.schema`); the queue
that fills and works through it is :mod:`docket.ingest.queue` and :mod:`docket.ingest.worker`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["queue_status"]


def queue_status(conn: Any, latest: int = 5) -> dict[str, Any]:
    """Jobs by status, expired leases and the latest failures (``docket db status``)."""
    counts = {"queued": 0, "leased": 0, "done": 0, "failed": 0}
    for status, n in conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall():
        counts[str(status)] = int(n)
    expired = conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'leased' AND lease_until < now()").fetchone()[0]
    errors = conn.execute(
        "SELECT source, path, error, attempts FROM jobs WHERE status = 'failed' ORDER BY updated DESC, id DESC "
        "LIMIT %s",
        (latest,),
    ).fetchall()
    return {
        **counts,
        "expired_leases": int(expired),
        "latest_failures": [{"source": s, "path": p, "error": e, "attempts": a} for s, p, e, a in errors],
    }
