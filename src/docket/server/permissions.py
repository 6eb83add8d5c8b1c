"""Who may see what was built from documents: drafts in the review queue, workflow runs and their
results, files and notes, ingestion jobs and failures.

Such a record carries the ids of the documents it was built from (or, for a job, the access lists
of what it ingested). A caller sees it only when they may read every one of them — the same
permission the store applies inside its queries to search, answers and downloads, asked here
through :meth:`Store.documents` with the caller's :class:`~docket.types.Access`, so there is one
rule for every surface. A record whose documents are not known (made by an older version) is
for the owner and admins only; a document deleted since hides the record from everyone but them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from docket.accounts.principal import Principal
from docket.errors import NotFoundError

__all__ = ["DocumentGate"]


class DocumentGate:
    """One caller's view of the documents, for one request (the visible ids are read once per
    workspace and kept)."""

    def __init__(self, store: Any, caller: Principal) -> None:
        self.store, self.caller = store, caller
        self._visible: dict[str | None, set[str] | None] = {}

    def _ids(self, workspace: str | None) -> set[str] | None:
        """The ids of the documents the caller may read (in ``workspace``); None: not a workspace of theirs."""
        if workspace not in self._visible:
            try:
                access = self.caller.access(workspace)
            except NotFoundError:
                self._visible[workspace] = None
            else:
                self._visible[workspace] = {d.id for d in self.store.documents(access=access)}
        return self._visible[workspace]

    def may_read_all(self, documents: Sequence[str] | None, workspace: str | None = None) -> bool:
        """Whether the caller may read every one of ``documents`` (inside ``workspace`` when given)."""
        if self.caller.is_server_admin:
            return True
        if documents is None:
            return False  # built by a version that did not record its documents
        if not documents:
            return True
        visible = self._ids(workspace)
        return visible is not None and set(documents) <= visible

    def may_read_sources(self, workspace: str, access_lists: Iterable[Sequence[str]]) -> bool:
        """Whether the caller may read what a job ingested into ``workspace`` with these access lists
        (a file's name, its failure and progress count as its content)."""
        return all(self.caller.may_read(acl, workspace) for acl in access_lists)
