"""The MCP server: Docket's tools and document resources for AI assistants and agent frameworks,
built with the official ``mcp`` SDK (``pip install 'docket[mcp]'``).

:func:`build_server` registers the tools of :class:`~docket.server.mcp.tools.DocketTools` —
``search``, ``ask``, ``get_document``, ``get_passage``, ``list_workspaces``, ``list_sources``,
``list_workflows``, ``run_workflow``, one typed ``workflow_<name>`` tool per workflow that takes
JSON items (its ``input`` is the workflow's own inputs schema) and ``draft_reply`` — and the
resources ``docket://documents/{id}``. Every call asks ``caller_of(context)`` who is calling: the
local owner or an API key's principal over stdio (:mod:`docket.cli.mcp`), the request's API key
over streamable HTTP (:mod:`docket.server.mcp.http`). The work runs in a worker thread, so an
answer never blocks the server's event loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Annotated, Any

from anyio import to_thread
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.tools import Tool
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import Resource, ToolAnnotations
from pydantic import BaseModel, Field

from docket.accounts.principal import Principal
from docket.server.deps import ServerState
from docket.server.mcp.tools import DocketTools

__all__ = ["CallerOf", "build_server"]

CallerOf = Callable[[Any], Principal]  # the MCP request context -> who is calling
READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
RUNS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False)
INSTRUCTIONS = (
    "Docket answers questions from this organisation's own documents, with citations. Use `ask` for a "
    "cited answer, `search` for passages, `get_document` / `get_passage` to read what a citation points "
    "to. Only documents the caller may read are ever returned."
)

Workspace = Annotated[
    str | None, Field(description="Only this workspace (list_workspaces names them); default: all of yours")
]
Where = Annotated[
    dict[str, str] | None,
    Field(description='Only documents whose profile matches, e.g. {"org": "Acme", "year": "2023", "type": "10-Q"}'),
]


class Citation(BaseModel):
    n: int = Field(description="The [n] in the answer's text")
    document: str = Field(description="The document's label or title")
    path: str
    page: int | None = None
    location: str = Field("", description="Where in the document: page, sheet, rows, headings")
    quote: str = Field(description="The exact text the answer relies on")
    chunk_id: int | None = Field(None, description="The passage (get_passage)")
    supported: bool | None = None


class AskResult(BaseModel):
    question: str
    answer: str
    abstained: bool = Field(description="True when the documents do not answer it")
    confidence: float | None = None
    method: str | None = None
    citations: list[Citation]
    log_id: int | None = Field(None, description="The answer's entry in the answer log")


class Passage(BaseModel):
    chunk_id: int
    doc_id: str
    path: str
    title: str
    location: str
    page: int | None = None
    score: float
    text: str
    resource: str = Field(description="The document as an MCP resource")


class SearchResult(BaseModel):
    query: str
    hits: list[Passage]


class DocumentText(BaseModel):
    id: str
    path: str
    title: str
    workspace: str
    filetype: str
    modified: float | None = None
    tags: list[str]
    text: str
    offset: int
    next_offset: int | None = Field(None, description="Ask again with this offset for the rest of the text")
    length: int


class DocketMCP(FastMCP[Any]):
    """FastMCP whose resource list is the documents the caller may read (not a fixed list)."""

    def __init__(self, docket: DocketTools, caller_of: CallerOf, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.docket, self.caller_of = docket, caller_of

    async def list_resources(self) -> list[Resource]:
        caller = self.caller_of(self.get_context())
        docs = await to_thread.run_sync(lambda: self.docket.documents(caller))
        return [
            Resource(
                uri=f"docket://documents/{d['id']}",
                name=d["path"],
                title=d["title"] or d["path"],
                description=f"workspace {d['workspace']}",
                mimeType="text/plain",
            )
            for d in docs
        ]


def build_server(st: ServerState, caller_of: CallerOf, *, streamable_http_path: str = "/mcp") -> FastMCP[Any]:
    """The MCP server over ``st``'s knowledge base; ``caller_of`` says who each request is."""
    tools = DocketTools(st)

    async def call(ctx: Any, work: Callable[[Principal], Any]) -> Any:
        caller = caller_of(ctx)
        return await to_thread.run_sync(lambda: work(caller))

    async def search(
        query: Annotated[str, Field(description="What to look for", min_length=1, max_length=2000)],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=100, description="How many passages")] = 10,
        workspace: Workspace = None,
        where: Where = None,
        path: Annotated[str | None, Field(description="Only files whose path matches this glob")] = None,
        filetypes: Annotated[list[str] | None, Field(description="Only these file types, e.g. pdf")] = None,
        tags: Annotated[list[str] | None, Field(description="Only documents with these tags")] = None,
    ) -> SearchResult:
        """Hybrid (keyword + semantic) search over the documents you may read; the best passages first."""
        found = await call(
            ctx,
            lambda c: tools.search(
                c, query, k=k, workspace=workspace, where=where, path=path, filetypes=filetypes, tags=tags
            ),
        )
        return SearchResult.model_validate(found)

    async def ask(
        question: Annotated[str, Field(description="A question in plain words", min_length=1, max_length=4000)],
        ctx: Context,
        workspace: Workspace = None,
        where: Where = None,
    ) -> AskResult:
        """A cited answer from the documents you may read: each [n] in the text is a citation with the
        document, page and the exact quote. abstained is true when the documents do not say."""
        return AskResult.model_validate(
            await call(ctx, lambda c: tools.ask(c, question, workspace=workspace, where=where))
        )

    async def get_document(
        id: Annotated[str, Field(description="A document id (search hits and resources carry it)")],
        ctx: Context,
        offset: Annotated[int, Field(ge=0, description="Start of the text to return")] = 0,
    ) -> DocumentText:
        """One document you may read: its details and extracted text (long texts in parts: next_offset)."""
        return DocumentText.model_validate(await call(ctx, lambda c: tools.document(c, id, offset=offset)))

    async def get_passage(
        chunk_id: Annotated[int, Field(description="A passage id (a citation's chunk_id)")],
        ctx: Context,
    ) -> Passage:
        """One passage you may read, with its document and location: what a citation points to."""
        return Passage.model_validate(await call(ctx, lambda c: tools.passage(c, chunk_id)))

    async def list_workspaces(ctx: Context) -> dict[str, Any]:
        """The workspaces you may use, with your role in each."""
        return {"workspaces": await call(ctx, tools.workspaces)}

    async def list_sources(ctx: Context) -> dict[str, Any]:
        """The sources (folders, websites, mailboxes, databases) whose documents you may read."""
        return {"sources": await call(ctx, tools.sources)}

    async def list_workflows(ctx: Context) -> dict[str, Any]:
        """The workflows run_workflow can run, each with its inputs schema and parameters."""
        return {"workflows": await call(ctx, lambda _c: tools.workflows())}

    async def run_workflow(
        workflow: Annotated[str, Field(description="Its name (list_workflows)")],
        input: Annotated[
            dict[str, Any] | list[dict[str, Any]],
            Field(description="One input item matching the workflow's inputs schema, or a list of them"),
        ],
        ctx: Context,
        params: Annotated[dict[str, Any] | None, Field(description="The workflow's parameters")] = None,
        workspace: Workspace = None,
    ) -> dict[str, Any]:
        """Run a workflow now and return its results; its retrieval sees only what you may read."""
        return await call(ctx, lambda c: tools.run_workflow(c, workflow, input, params=params, workspace=workspace))

    async def draft_reply(
        text: Annotated[str, Field(description="The ticket or email from the customer", min_length=1)],
        ctx: Context,
        subject: Annotated[str | None, Field(description="Its subject")] = None,
        sender: Annotated[str | None, Field(description="Who wrote it")] = None,
        workspace: Workspace = None,
        review: Annotated[bool, Field(description="Park the draft in the review queue for a person")] = True,
        ticket_id: Annotated[str | None, Field(description="The ticket's number in the help desk")] = None,
        helpdesk: Annotated[
            str | None, Field(description="The help-desk source (list_sources) the approved draft goes to as a note")
        ] = None,
    ) -> dict[str, Any]:
        """A draft reply to a support ticket, grounded in the documents with checked citations, and
        whether to escalate it to a person (and why). The draft waits in the review queue; with
        helpdesk and ticket_id, once a person approves it, it is written to the ticket as an
        internal note (never a public reply)."""
        return await call(
            ctx,
            lambda c: tools.draft_reply(
                c, text, subject=subject, sender=sender, workspace=workspace, review=review,
                ticket_id=ticket_id, helpdesk=helpdesk,
            ),
        )  # fmt: skip

    registered = [
        Tool.from_function(fn, annotations=READ_ONLY)
        for fn in (search, ask, get_document, get_passage, list_workspaces, list_sources, list_workflows)
    ]
    registered += [Tool.from_function(fn, annotations=RUNS) for fn in (run_workflow, draft_reply)]
    registered += [_workflow_tool(tools, call, w) for w in tools.workflows()]
    with warnings.catch_warnings():
        # the SDK's settings model names a forward reference pydantic-settings warns about (harmless)
        warnings.filterwarnings("ignore", message="Field 'lifespan' has an incomplete definition")
        server = DocketMCP(
            tools,
            caller_of,
            name="docket",
            instructions=INSTRUCTIONS,
            tools=registered,
            streamable_http_path=streamable_http_path,
            stateless_http=True,  # any request to any server process: no session to find again
            json_response=True,
            # The SDK would accept only Host: 127.0.0.1/localhost, refusing docket serve behind its
            # public name. Its guard is against DNS rebinding, which cannot reach /mcp here: every
            # request needs an API key in a header that a rebound page does not have.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @server.resource("docket://documents/{doc_id}", mime_type="text/plain", description="A document's text")
    async def document_resource(doc_id: str, ctx: Context) -> str:
        found = await call(ctx, lambda c: tools.document(c, doc_id))
        return str(found["text"])

    return server


def _workflow_tool(tools: DocketTools, call: Callable[..., Any], workflow: dict[str, Any]) -> Tool:
    """A tool that runs one workflow, whose ``input`` is typed by the workflow's inputs schema."""
    name = workflow["name"]

    async def run(
        input: dict[str, Any] | list[dict[str, Any]],
        ctx: Context,
        params: dict[str, Any] | None = None,
        workspace: str | None = None,
    ) -> dict[str, Any]:
        return await call(ctx, lambda c: tools.run_workflow(c, name, input, params=params, workspace=workspace))

    description = f"Run the '{name}' workflow now and return its results: {workflow['description']}"
    tool = Tool.from_function(run, name="workflow_" + name.replace("-", "_"), description=description)
    schema = workflow["inputs"] or {"type": "object"}
    props = tool.parameters.setdefault("properties", {})
    items = {"anyOf": [schema, {"type": "array", "items": schema}]} if workflow["batch"] else schema
    props["input"] = {**items, "description": "One input item" + (" (or a list of them)" if workflow["batch"] else "")}
    props["params"] = {
        "type": ["object", "null"],
        "description": "Parameters (defaults: "
        + ", ".join(f"{k}={_short(v)}" for k, v in workflow["params"].items())
        + ")",
        "default": None,
    }
    props["workspace"] = {"type": ["string", "null"], "description": "The workspace to run in", "default": None}
    tool.annotations = RUNS
    return tool


def _short(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:39] + "…'"
