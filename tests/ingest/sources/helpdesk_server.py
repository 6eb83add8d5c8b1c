"""Loopback Zendesk and Freshdesk servers implementing the subset of their APIs Docket uses, and a
desk with its own small JSON API for the ``json-http`` connector.

Requests and responses follow the vendors' API references (fields Docket does not read are left
out of the responses):

- Zendesk, Incremental Ticket Export, Cursor Based:
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/#incremental-ticket-export-cursor-based
  (``GET /api/v2/incremental/tickets/cursor.json?start_time=…`` or ``?cursor=…`` →
  ``{"tickets": [...], "after_cursor", "before_cursor", "end_of_stream"}``)
- Zendesk, List Comments: https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments
  (``GET /api/v2/tickets/{ticket_id}/comments`` → ``{"comments": [{"id", "author_id", "body",
  "plain_body", "public", "type", "created_at"}], "next_page", "previous_page", "count"}``)
- Zendesk, Update Ticket with a private comment:
  https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket and
  https://developer.zendesk.com/documentation/ticketing/managing-tickets/adding-a-private-comment-to-a-ticket/
  (``PUT /api/v2/tickets/{ticket_id}`` with ``{"ticket": {"comment": {"body", "public": false}}}`` →
  ``{"ticket": {...}, "audit": {"id", "events": [...]}}``); API-token authentication is basic
  authentication as ``{email}/token:{token}``
  (https://developer.zendesk.com/api-reference/introduction/security-and-auth/#api-token)
- Freshdesk, List All Tickets: https://developers.freshdesk.com/api/#list_all_tickets
  (``GET /api/v2/tickets?updated_since=2015-01-19T02:00:00Z&order_by=updated_at&order_type=asc&page=…``)
- Freshdesk, View a Ticket: https://developers.freshdesk.com/api/#view_a_ticket (``description_text``)
- Freshdesk, List All Conversations of a Ticket: https://developers.freshdesk.com/api/#list_all_ticket_notes
  (``GET /api/v2/tickets/[id]/conversations`` → ``[{"id", "body", "body_text", "incoming", "private",
  "user_id", "ticket_id", "created_at", "updated_at"}]``)
- Freshdesk, Add Note: https://developers.freshdesk.com/api/#add_note_to_a_ticket
  (``POST /api/v2/tickets/[id]/notes`` with ``{"body", "private"}`` → 201 with the note); the API key
  is the basic-authentication user name, with any password (https://developers.freshdesk.com/api/#authentication)
- ``json-http``: not a vendor's API but one described in a source's settings, the way
  a team would describe its own desk: ``GET /api/tickets?updated_since=…&page=…`` →
  ``{"data": [...], "links": {"next": URL | null}}``, ``GET /api/tickets/{id}/messages`` →
  ``{"messages": [{"id", "body", "internal"}]}``, ``POST /api/tickets/{id}/notes`` with
  ``{"note": {"body", "internal": true}}`` → 201 ``{"note": {"id", ...}}``; a bearer token
- Rate limits: all answer 429 with the seconds to wait in ``Retry-After``
  (https://developer.zendesk.com/api-reference/introduction/rate-limits/,
  https://developers.freshdesk.com/api/#ratelimit); tickets carry the ``group_id`` of the group
  they are assigned to (both desks' ticket objects)
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.scripted_model import send_json

TOKEN = "desk-token-9f3a"  # the API token the fake desks accept


@dataclass
class Desk:
    url: str
    kind: str
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path with query)
    notes: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # what was written back
    # Retry-After values of the 429 answers to give before serving the next requests (None: no header)
    throttle: list[str | None] = field(default_factory=list)
    gone: set[int] = field(default_factory=set)  # still listed, but deleted: their own endpoints answer 404

    def add_ticket(self, ticket_id: int, subject: str, text: str, updated_at: str, group_id: int | None = None) -> None:
        created = "2026-01-05T09:00:00Z"
        if self.kind == "zendesk":
            self.tickets[ticket_id] = {
                "id": ticket_id, "subject": subject, "description": text, "status": "open",
                "created_at": created, "updated_at": updated_at, "requester_id": 20978392, "group_id": group_id,
            }  # fmt: skip
            self.comments[ticket_id] = [
                {"id": ticket_id * 10, "type": "Comment", "author_id": 20978392, "body": text, "plain_body": text,
                 "public": True, "created_at": created},
            ]  # fmt: skip
        elif self.kind == "json-http":  # the small JSON API described above
            self.tickets[ticket_id] = {
                "id": ticket_id, "subject": subject, "description": text, "state": "open", "team_id": group_id,
                "updated_at": updated_at,
            }  # fmt: skip
            self.comments[ticket_id] = [{"id": ticket_id * 10, "body": "Thanks, we are on it.", "internal": False}]
        else:
            self.tickets[ticket_id] = {
                "id": ticket_id, "subject": subject, "description_text": text, "description": f"<div>{text}</div>",
                "status": 2, "priority": 1, "requester_id": 5, "created_at": created, "updated_at": updated_at,
                "tags": [], "group_id": group_id,
            }  # fmt: skip
            self.comments[ticket_id] = []


def _authorized(handler: BaseHTTPRequestHandler, kind: str) -> bool:
    header = handler.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    if kind == "zendesk":
        return user == "agent@example.com/token" and password == TOKEN
    return user == TOKEN


def _bearer(handler: BaseHTTPRequestHandler) -> bool:
    return handler.headers.get("Authorization", "") == f"Bearer {TOKEN}"


@contextmanager
def helpdesk_server(kind: str) -> Iterator[Desk]:
    desk = Desk(url="", kind=kind)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self, method: str) -> None:
            desk.requests.append((method, self.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null") if method in ("PUT", "POST") else None
            if not (_bearer(self) if kind == "json-http" else _authorized(self, kind)):
                send_json(self, 401, {"error": "Couldn't authenticate you"})
                return
            if desk.throttle:  # both desks: 429 Too Many Requests with the seconds to wait in Retry-After
                wait = desk.throttle.pop(0)
                send_json(self, 429, {"error": "APIRateLimitExceeded"}, {"Retry-After": wait} if wait else {})
                return
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            serve = {"zendesk": zendesk, "freshdesk": freshdesk, "json-http": generic}[kind]
            found = serve(method, parts.path.rstrip("/"), query, body)
            if found is None:
                send_json(self, 404, {"error": "RecordNotFound"})
            else:
                send_json(self, *found)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_POST(self) -> None:
            self._handle("POST")

    def zendesk(method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any] | None:
        if method == "GET" and path == "/api/v2/incremental/tickets/cursor.json":
            # the fake's cursor is the updated_at of the last ticket sent (Zendesk's is opaque)
            since = query.get("cursor", "")
            fresh = sorted((t for t in desk.tickets.values() if t["updated_at"] > since), key=lambda t: t["updated_at"])
            cursor = fresh[-1]["updated_at"] if fresh else since
            return 200, {"tickets": fresh, "after_cursor": cursor or None, "before_cursor": None, "end_of_stream": True}
        head, _, tail = path.removeprefix("/api/v2/tickets/").partition("/")
        if not head.isdigit() or int(head) not in desk.tickets or int(head) in desk.gone:
            return None
        ticket_id = int(head)
        if method == "GET" and tail == "comments":
            comments = desk.comments[ticket_id]
            return 200, {"comments": comments, "next_page": None, "previous_page": None, "count": len(comments)}
        if method == "PUT" and not tail:
            comment = body["ticket"]["comment"]
            desk.notes.append((ticket_id, comment))
            n = len(desk.notes)
            event = {"id": 6000 + n, "type": "Comment", "body": comment["body"], "public": comment.get("public", True)}
            return 200, {"ticket": desk.tickets[ticket_id], "audit": {"id": 5000 + n, "ticket_id": ticket_id,
                                                                     "events": [event]}}  # fmt: skip
        return None

    def freshdesk(method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any] | None:
        if method == "GET" and path == "/api/v2/tickets":
            since = query.get("updated_since", "")
            return 200, sorted((t for t in desk.tickets.values() if t["updated_at"] >= since),
                               key=lambda t: t["updated_at"])  # fmt: skip
        head, _, tail = path.removeprefix("/api/v2/tickets/").partition("/")
        if not head.isdigit() or int(head) not in desk.tickets or int(head) in desk.gone:
            return None
        ticket_id = int(head)
        if method == "GET" and not tail:
            return 200, desk.tickets[ticket_id]
        if method == "GET" and tail == "conversations":
            return 200, desk.comments[ticket_id]
        if method == "POST" and tail == "notes":
            desk.notes.append((ticket_id, body))
            return 201, {"id": 700 + len(desk.notes), "body": body["body"], "body_text": body["body"],
                         "incoming": False, "private": body.get("private", False), "user_id": 1,
                         "ticket_id": ticket_id, "created_at": "2026-01-06T10:00:00Z",
                         "updated_at": "2026-01-06T10:00:00Z"}  # fmt: skip
        return None

    def generic(method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any] | None:
        if method == "GET" and path == "/api/tickets":  # two tickets a page, the next page's URL in links.next
            since, page = query.get("updated_since", ""), int(query.get("page", "1"))
            fresh = sorted(
                (t for t in desk.tickets.values() if t["updated_at"] >= since), key=lambda t: t["updated_at"]
            )
            more = len(fresh) > 2 * page
            following = f"{desk.url}/api/tickets?updated_since={since}&page={page + 1}" if more else None
            return 200, {"data": fresh[2 * (page - 1) : 2 * page], "links": {"next": following}}
        head, _, tail = path.removeprefix("/api/tickets/").partition("/")
        if not head.isdigit() or int(head) not in desk.tickets or int(head) in desk.gone:
            return None
        ticket_id = int(head)
        if method == "GET" and tail == "messages":
            return 200, {"messages": desk.comments[ticket_id]}
        if method == "POST" and tail == "notes":
            desk.notes.append((ticket_id, body["note"]))
            return 201, {"note": {"id": 900 + len(desk.notes), **body["note"]}}
        return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    desk.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield desk
    finally:
        server.shutdown()
        server.server_close()
