"""The review queue: drafts a workflow parks for a person to approve, edit or reject.

Kept in ``reviews.db`` in the knowledge base's home (one SQLite file, WAL), so ``docket run``, the
``docket reviews`` commands and the server share it. An item holds the draft (JSON) a ``review``
step parked, and once decided the final value, who decided, when and why. ``edit_size`` is the
share of characters changed between the draft's text and the final text (difflib); ``stats()``
gives per workflow the acceptance rate ((approved + edited) / decided) and the mean edit size of
the edited drafts. When the step named a ``then_webhook``, approving (or editing) POSTs the final
value there and records how that went in ``delivery``.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from docket.errors import NotFoundError, UserError

__all__ = [
    "STATUSES",
    "TEXT_FIELDS",
    "QueueOpener",
    "ReviewDecidedError",
    "ReviewItem",
    "ReviewQueue",
    "ReviewSlot",
    "draft_text",
    "edit_size",
]

STATUSES = ("pending", "approved", "edited", "rejected")
TEXT_FIELDS = ("draft", "text", "reply", "body", "message")  # where a draft object keeps its text

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow TEXT NOT NULL,
    run_id TEXT NOT NULL DEFAULT '',
    item_id TEXT NOT NULL DEFAULT '',
    workspace TEXT,
    title TEXT NOT NULL DEFAULT '',
    draft TEXT NOT NULL,
    final TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    reviewer TEXT,
    comment TEXT,
    webhook TEXT,
    delivery TEXT,
    edit_size REAL,
    created REAL NOT NULL,
    decided REAL
);
CREATE INDEX IF NOT EXISTS reviews_status ON reviews (status, workflow);
"""

_COLUMNS = (
    "id, workflow, run_id, item_id, workspace, title, draft, final, status, reviewer, comment, webhook, "
    "delivery, edit_size, created, decided"
)


class ReviewDecidedError(UserError):
    """The draft was approved or rejected already; a decision is final."""

    status = 409
    code = "already_decided"


@dataclass(frozen=True)
class ReviewItem:
    id: int
    workflow: str
    run_id: str
    item_id: str
    workspace: str | None
    title: str
    draft: Any
    final: Any
    status: str
    reviewer: str | None
    comment: str | None
    webhook: str | None
    delivery: str | None
    edit_size: float | None
    created: float
    decided: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def draft_text(value: Any) -> str:
    """The text a person reads in a draft: a string as is, an object's ``draft``/``text``/... field,
    otherwise the value as sorted JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in TEXT_FIELDS:
            if isinstance(value.get(key), str):
                return str(value[key])
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def edit_size(draft: Any, final: Any) -> float:
    """The share of characters changed from the draft's text to the final text (0 = untouched, 1 = all)."""
    a, b = draft_text(draft), draft_text(final)
    if a == b:
        return 0.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    changed = sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal")
    return round(min(1.0, changed / max(len(a), len(b), 1)), 4)


def _plain_json(value: Any) -> Any:
    """``value`` as plain JSON data (dates and other objects as strings)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


class ReviewQueue:
    """The review items in one SQLite file. Thread-safe: one connection, one lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    @classmethod
    def for_home(cls, home: str | Path) -> ReviewQueue:
        """The queue of the knowledge base in ``home`` (``HOME/reviews.db``)."""
        return cls(Path(home) / "reviews.db")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ReviewQueue:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def add(
        self,
        workflow: str,
        draft: Any,
        *,
        title: str = "",
        run_id: str = "",
        item_id: str = "",
        workspace: str | None = None,
        webhook: str | None = None,
    ) -> int:
        """Park ``draft`` (any JSON value) for review; returns the new item's id."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO reviews (workflow, run_id, item_id, workspace, title, draft, webhook, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    workflow,
                    run_id,
                    item_id,
                    workspace,
                    title,
                    json.dumps(_plain_json(draft), ensure_ascii=False),
                    webhook or None,
                    time.time(),
                ),
            )
            return int(cur.lastrowid or 0)

    def approve(
        self, review_id: int, reviewer: str, final: Any = None, comment: str = "", *, deliver: bool = True
    ) -> ReviewItem:
        """Approve a pending draft, as is (status ``approved``) or changed (``final`` differs:
        ``edited``). With a webhook on the item, the final value is POSTed there (``deliver``)."""
        item = self._pending(review_id)
        final = item.draft if final is None else _plain_json(final)
        status = "approved" if final == item.draft else "edited"
        size = edit_size(item.draft, final)
        self._decide(review_id, status, reviewer, comment, final, size)
        if deliver and item.webhook:
            self._deliver(review_id, item.webhook, final)
        return self.get(review_id)

    def reject(self, review_id: int, reviewer: str, reason: str = "") -> ReviewItem:
        """Reject a pending draft (nothing is sent); ``reason`` is kept as the comment."""
        self._pending(review_id)
        self._decide(review_id, "rejected", reviewer, reason, None, None)
        return self.get(review_id)

    def _pending(self, review_id: int) -> ReviewItem:
        item = self.get(review_id)
        if item.status != "pending":
            raise ReviewDecidedError(
                f"review {review_id} was {item.status} already by {item.reviewer or 'someone'}; a decision is final"
            )
        return item

    def _decide(self, review_id: int, status: str, reviewer: str, comment: str, final: Any, size: float | None) -> None:
        with self._lock:
            cur = self._db.execute(
                "UPDATE reviews SET status = ?, reviewer = ?, comment = ?, final = ?, edit_size = ?, decided = ? "
                "WHERE id = ? AND status = 'pending'",
                (
                    status,
                    reviewer,
                    comment or None,
                    None if final is None else json.dumps(final, ensure_ascii=False),
                    size,
                    time.time(),
                    review_id,
                ),
            )
        if cur.rowcount != 1:
            raise ReviewDecidedError(f"review {review_id} was decided by someone else meanwhile; reload it")

    def _deliver(self, review_id: int, url: str, final: Any) -> None:
        from docket.workflows.review_steps import post_json
        from docket.workflows.steps import StepFailed

        try:
            status, _ = post_json(url, final)
            delivery = f"sent: HTTP {status}"
        except StepFailed as exc:
            delivery = f"failed: {exc}"
        with self._lock:
            self._db.execute("UPDATE reviews SET delivery = ? WHERE id = ?", (delivery, review_id))

    # ------------------------------------------------------------------ reading

    def get(self, review_id: int) -> ReviewItem:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM reviews WHERE id = ?", (review_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no review {review_id}; `docket reviews list` shows the queue")
        return _item(row)

    def find(
        self,
        status: str | None = None,
        workflow: str | None = None,
        workspaces: Iterable[str] | None = None,
        *,
        unscoped: bool = True,
        limit: int = 200,
    ) -> list[ReviewItem]:
        """Items, newest first. ``workspaces`` (None: all) keeps those of these workspaces;
        ``unscoped`` whether items without a workspace are included."""
        where, params = self._where(status, workflow, workspaces, unscoped)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM reviews{where} ORDER BY id DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [_item(r) for r in rows]

    def stats(
        self, workflow: str | None = None, workspaces: Iterable[str] | None = None, *, unscoped: bool = True
    ) -> list[dict[str, Any]]:
        """Per workflow: counts by status, acceptance rate ((approved + edited) / decided; None
        before any decision) and the mean edit size of the edited drafts (None without any)."""
        where, params = self._where(None, workflow, workspaces, unscoped)
        sql = (
            "SELECT workflow, "
            "SUM(status = 'pending'), SUM(status = 'approved'), SUM(status = 'edited'), SUM(status = 'rejected'), "
            f"AVG(CASE WHEN status = 'edited' THEN edit_size END) FROM reviews{where} "
            "GROUP BY workflow ORDER BY workflow"
        )
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        out = []
        for name, pending, approved, edited, rejected, mean_edit in rows:
            decided = approved + edited + rejected
            out.append(
                {
                    "workflow": name,
                    "pending": pending,
                    "approved": approved,
                    "edited": edited,
                    "rejected": rejected,
                    "decided": decided,
                    "acceptance_rate": round((approved + edited) / decided, 4) if decided else None,
                    "mean_edit_size": round(mean_edit, 4) if mean_edit is not None else None,
                }
            )
        return out

    @staticmethod
    def _where(
        status: str | None, workflow: str | None, workspaces: Iterable[str] | None, unscoped: bool
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            if status not in STATUSES:
                raise UserError(f"unknown review status '{status}'; statuses: {', '.join(STATUSES)}")
            clauses.append("status = ?")
            params.append(status)
        if workflow is not None:
            clauses.append("workflow = ?")
            params.append(workflow)
        if workspaces is not None:
            names = sorted(set(workspaces))
            scoped = f"workspace IN ({', '.join('?' * len(names))})" if names else "0"
            clauses.append(f"({scoped} OR workspace IS NULL)" if unscoped else f"({scoped})")
            params.extend(names)
        elif not unscoped:
            clauses.append("workspace IS NOT NULL")
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _item(row: Sequence[Any]) -> ReviewItem:
    values = list(row)
    values[6] = json.loads(values[6])
    values[7] = json.loads(values[7]) if values[7] is not None else None
    return ReviewItem(*values)


# ---------------------------------------------------------------------- what a run's review steps see


@dataclass
class ReviewSlot:
    """Where one item's ``review`` steps park their drafts: the queue and the run they come from."""

    queue: Callable[[], ReviewQueue]
    workflow: str
    run_id: str = ""
    item_id: str = ""

    def park(self, draft: Any, title: str, workspace: str | None = None, webhook: str | None = None) -> int:
        return self.queue().add(
            self.workflow,
            draft,
            title=title,
            run_id=self.run_id,
            item_id=self.item_id,
            workspace=workspace,
            webhook=webhook,
        )


class QueueOpener:
    """The queue of a run: the one given, else the knowledge base's (opened on first use, closed
    by :meth:`close`); without either, a review step fails saying so."""

    def __init__(self, given: ReviewQueue | None, kb: Callable[[], Any] | None) -> None:
        self._given, self._kb = given, kb
        self._opened: ReviewQueue | None = None

    def __call__(self) -> ReviewQueue:
        if self._given is not None:
            return self._given
        if self._opened is None:
            if self._kb is None:
                from docket.workflows.steps import StepFailed

                raise StepFailed("a review step needs a review queue: run it with a knowledge base (--home)")
            self._opened = ReviewQueue.for_home(self._kb().settings.home)
        return self._opened

    def slot(self, workflow: str, run_id: str, item_id: str) -> ReviewSlot:
        return ReviewSlot(self, workflow, run_id, item_id)

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None
