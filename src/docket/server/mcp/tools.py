"""What the MCP server's tools do, as plain methods over the server's services — no MCP here.

Each method takes the :class:`~docket.accounts.principal.Principal` a call authenticated as and
goes through the same permission check as the REST API: retrieval receives
:meth:`Principal.access` (the store applies it inside its queries), a document or passage is
fetched with the caller's access in the query (one "not found" for a missing one and one the
caller may not read), a workflow run carries the caller's access and is shown only when they may
read every document it read (:meth:`WorkflowRunner.results`), and answers are recorded in the
answer log with the surface ``mcp``. :mod:`docket.server.mcp.server` registers these as tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docket.accounts.principal import Principal
from docket.accounts.users import User
from docket.errors import NotFoundError, UserError
from docket.index import document_by_id
from docket.server.deps import ServerState
from docket.server.runs import check_items, load_named, new_run_id, workflow_catalog
from docket.types import Filters, Hit

__all__ = ["SUPPORT_WORKFLOW", "DocketTools", "LocalOwner", "citation_view", "hit_view"]

SUPPORT_WORKFLOW = "support-reply"
TEXT_LIMIT = 200_000  # characters of a document's text one call returns (``offset`` pages on)


@dataclass(frozen=True)
class LocalOwner(Principal):
    """Whoever runs ``docket mcp`` on this machine without an API key: like the command line, the
    local owner reads every workspace and document."""

    user: User | None = None
    workspaces: tuple[str, ...] | None = None
    roles: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    via: str = "local"

    @property
    def name(self) -> str:
        return "local owner"

    @property
    def is_admin(self) -> bool:
        return True


def hit_view(hit: Hit) -> dict[str, Any]:
    """A retrieved passage for a client: ids to fetch it again, where it is, and its text."""
    return {
        "chunk_id": hit.chunk_id,
        "doc_id": hit.doc_id,
        "path": hit.path,
        "title": hit.title,
        "location": hit.location.label(),
        "page": hit.location.page,
        "score": round(hit.score, 6),
        "text": hit.text,
        "resource": f"docket://documents/{hit.doc_id}",
    }


def citation_view(citation: dict[str, Any], sources: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``[n]`` of an answer: number, document label, path, page and location, the quote."""
    location = citation.get("location") or {}
    n = int(citation["n"])
    source = sources[n - 1] if 0 < n <= len(sources) else {}
    return {
        "n": n,
        "document": citation.get("document") or source.get("title") or citation["path"],
        "path": citation["path"],
        "page": location.get("page"),
        "location": _location_label(location),
        "quote": citation["quote"],
        "chunk_id": citation.get("chunk_id"),
        "supported": citation.get("supported"),
    }


def _location_label(location: dict[str, Any]) -> str:
    from docket.types import Location

    known = {k: v for k, v in location.items() if k in Location.__dataclass_fields__}
    if "heading_path" in known:
        known["heading_path"] = tuple(known["heading_path"] or ())
    return Location(**known).label()


def where_pairs(where: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    """A tool's ``where`` ({"org": "Acme", "year": "2023"}) as the profile conditions of :class:`Filters`."""
    pairs = []
    for key, value in (where or {}).items():
        if not str(key).strip() or not str(value).strip():
            raise UserError('where: give FIELD: VALUE pairs such as {"org": "Acme", "year": "2023"}')
        pairs.append((str(key).strip(), str(value).strip()))
    return tuple(pairs)


class DocketTools:
    """The tools of one server (its :class:`ServerState`), each call made as a given caller."""

    def __init__(self, st: ServerState) -> None:
        self.st = st

    # ------------------------------------------------------------------ reading
    def search(
        self,
        caller: Principal,
        query: str,
        *,
        k: int = 10,
        workspace: str | None = None,
        where: dict[str, str] | None = None,
        path: str | None = None,
        filetypes: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        if not query.strip():
            raise UserError("query: give some words to look for")
        if not 1 <= k <= 100:
            raise UserError("k: between 1 and 100")
        filters = Filters(
            path_glob=path, filetypes=tuple(filetypes or ()), tags=tuple(tags or ()), where=where_pairs(where)
        )
        hits = self.st.kb.search(query, k=k, filters=filters, access=caller.access(workspace))
        return {"query": query, "hits": [hit_view(h) for h in hits]}

    def ask(
        self, caller: Principal, question: str, *, workspace: str | None = None, where: dict[str, str] | None = None
    ) -> dict[str, Any]:
        if not question.strip():
            raise UserError("question: ask something")
        if len(question) > 4000:
            raise UserError("question: 4000 characters at most")
        run = self.st.answering.ask(
            caller, question, workspace, filters=Filters(where=where_pairs(where)), surface="mcp"
        )
        answer = run(None)
        sources = [
            {"chunk_id": s.get("chunk_id"), "path": s.get("path"), "title": s.get("title")}
            for s in answer.get("sources") or []
        ]
        return {
            "question": answer["question"],
            "answer": answer["answer"],
            "abstained": bool(answer["abstained"]),
            "confidence": answer.get("confidence"),
            "method": answer.get("method"),
            "citations": [citation_view(c, sources) for c in answer.get("citations") or []],
            "log_id": answer.get("log_id"),
        }

    def document(self, caller: Principal, doc_id: str, *, offset: int = 0) -> dict[str, Any]:
        """A document the caller may read, with its text from ``offset`` (at most :data:`TEXT_LIMIT`
        characters; ``next_offset`` says where the rest starts)."""
        doc = document_by_id(self.st.kb.store, doc_id, caller.access())
        if doc is None:
            raise NotFoundError(f"no document {doc_id}")
        text = self.st.kb.store.document_text(doc.id) or ""
        offset = max(0, offset)
        end = offset + TEXT_LIMIT
        return {
            "id": doc.id,
            "path": doc.path,
            "title": doc.title,
            "workspace": doc.workspace,
            "filetype": doc.filetype,
            "modified": doc.mtime,
            "tags": list(doc.tags),
            "text": text[offset:end],
            "offset": offset,
            "next_offset": end if end < len(text) else None,
            "length": len(text),
        }

    def passage(self, caller: Principal, chunk_id: int) -> dict[str, Any]:
        hits = self.st.kb.store.hits([(chunk_id, 0.0)], caller.access())
        if not hits:
            raise NotFoundError(f"no passage {chunk_id}")
        return hit_view(hits[0])

    def documents(self, caller: Principal, *, workspace: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        docs = self.st.kb.store.documents(access=caller.access(workspace))
        return [{"id": d.id, "path": d.path, "title": d.title, "workspace": d.workspace} for d in list(docs)[:limit]]

    def workspaces(self, caller: Principal) -> list[dict[str, Any]]:
        """The workspaces the caller may use, with their role there."""
        out = []
        for info in self.st.answering.workspaces(caller):
            name = info["name"]
            out.append({"name": name, "public": bool(info.get("public")), "role": caller.role_in(name)})
        return out

    def sources(self, caller: Principal) -> list[dict[str, Any]]:
        """The sources whose documents the caller may read: name, type, workspace (never their
        settings: paths and secrets are for admins, on the REST API)."""
        access = caller.access()
        return [
            {"name": name, "type": cfg.type, "workspace": cfg.workspace}
            for name, cfg in self.st.kb.ledger.sources().items()
            if access.permits(cfg.workspace, cfg.access)
        ]

    # ------------------------------------------------------------------ workflows
    def workflows(self) -> list[dict[str, Any]]:
        """The workflows a client can run with JSON input (those reading a file need the REST API);
        none without the workflows extra (running one then names the pip command)."""
        try:
            catalog = workflow_catalog(self.st.settings.home)
        except ImportError:
            return []
        return [w for w in catalog if "error" not in w and takes_items(w)]

    def run_workflow(
        self,
        caller: Principal,
        workflow: str,
        item: dict[str, Any] | list[dict[str, Any]],
        *,
        params: dict[str, Any] | None = None,
        workspace: str | None = None,
    ) -> dict[str, Any]:
        """Run ``workflow`` on one input item (or a list) now, as ``caller``, and return the run and
        its results — checked against the workflow's inputs schema first (400 naming the field)."""
        flow = load_named(self.st.settings.home, workflow)
        items = item if isinstance(item, list) else [item]
        if not items:
            raise UserError("input: give at least one item")
        check_items(flow, items)
        run_id = new_run_id()
        self.st.runs.submit_for(
            caller, workflow, input={"items": items}, params=dict(params or {}), workspace=workspace,
            run_id=run_id, wait=True,
        )  # fmt: skip
        run = self.st.runs.visible(caller, run_id, finished=True)  # the rule for a run's results and errors
        if run["status"] == "failed":
            raise UserError(f"the workflow '{workflow}' failed: {run['error']}")
        run, records = self.st.runs.results(caller, run_id)
        summary = run.get("summary") or {}
        return {
            "run_id": run["id"],
            "workflow": run["workflow"],
            "workspace": run["workspace"],
            "status": run["status"],
            "ok": summary.get("ok"),
            "failed": summary.get("failed"),
            "notes": summary.get("notes") or [],
            "results": records,
        }

    def draft_reply(
        self,
        caller: Principal,
        text: str,
        *,
        subject: str | None = None,
        sender: str | None = None,
        workspace: str | None = None,
        review: bool = True,
        ticket_id: str | None = None,
        helpdesk: str | None = None,
    ) -> dict[str, Any]:
        """A cited draft reply to a support ticket (the ``support-reply`` workflow): whether to
        escalate and why, and the review-queue entry it waits in (unless ``review`` is false). With
        ``helpdesk`` (a help-desk source the caller may read, of the draft's workspace) and
        ``ticket_id``, the draft, once approved, is written to that ticket as an internal note, when
        its documents may go there (docs/helpdesk.md)."""
        item: dict[str, Any] = {"text": text}
        if subject:
            item["subject"] = subject
        if sender:
            item["from"] = sender
        params: dict[str, Any] = {"review": review}
        if helpdesk or ticket_id:
            if not (helpdesk and ticket_id and review):
                raise UserError("helpdesk and ticket_id go together, and need review: a person approves the note")
            if not str(ticket_id).isdigit():
                raise UserError(f"ticket_id must be the ticket's number in the help desk (got '{ticket_id}')")
            desk = {s["name"]: s for s in self.sources(caller)}.get(helpdesk)
            if desk is None:
                raise NotFoundError(f"no help-desk source named '{helpdesk}'")
            if workspace and desk["workspace"] != workspace:
                raise UserError(
                    f"helpdesk: source '{helpdesk}' belongs to workspace '{desk['workspace']}', not '{workspace}'; "
                    "a draft goes only to a help desk of its own workspace"
                )
            item["ticket_id"], params["helpdesk"] = str(ticket_id), helpdesk
        ran = self.run_workflow(caller, SUPPORT_WORKFLOW, item, params=params, workspace=workspace)
        if not ran["results"]:
            raise UserError(f"the {SUPPORT_WORKFLOW} workflow made no draft: {'; '.join(ran['notes']) or 'no result'}")
        result = dict(ran["results"][0])
        sources: list[dict[str, Any]] = []
        result["citations"] = [citation_view(c, sources) for c in result.get("citations") or []]
        return {"run_id": ran["run_id"], **result}


def takes_items(workflow: dict[str, Any]) -> bool:
    """Whether a workflow (from :func:`workflow_catalog`) reads JSON items, not a file on the server."""
    required = (workflow.get("inputs") or {}).get("required") or ()
    return bool(workflow.get("batch")) or "path" not in required
