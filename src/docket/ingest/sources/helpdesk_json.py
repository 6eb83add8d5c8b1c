"""Any help desk or CRM with a JSON API, described in settings (``docket sources add json-http --settings desk.yml``).

The settings say where the tickets are listed, which fields of a ticket hold its id, updated time,
title, text and group, where its conversation is (optional), and how a note is written (optional:
without ``note`` the source is read-only)::

    url: https://desk.example.com
    token_env: DOCKET_SECRET_DESK           # or token_file
    auth: bearer                            # bearer (default) | basic (user + token) | header:X-Api-Key
    tickets:
      path: /api/tickets
      params: {updated_since: "{since}", per_page: 100}
      items: data                           # dotted path to the list in the answer ("" : the answer)
      next: links.next                      # dotted path to the next page's URL on the same desk
      id: id
      updated: updated_at
      title: subject
      text: [description]                   # fields joined as the customer's message
      group: team_id                        # for group_access
      since: "1970-01-01T00:00:00Z"         # {since} before the first sync
    conversation:                           # optional
      path: /api/tickets/{id}/messages
      items: messages
      text: body
      internal: internal                    # a boolean field: an internal note, not a reply
    note:                                   # optional
      method: POST
      path: /api/tickets/{id}/notes
      body: {note: {body: "{text}", internal: true}}
      id: note.id

``{since}`` is the largest ``updated`` value seen so far (what the listing asks for next time),
``{id}`` the ticket's id and ``{text}`` the approved draft; they are replaced inside strings only,
so a body stays the JSON it is written as. Requests, errors, the 429 waits, ``group_access`` and
the access rule for notes are those of :mod:`docket.ingest.sources.helpdesk`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from docket.errors import SourceError, UserError
from docket.ingest.sources import CONNECTORS
from docket.ingest.sources.helpdesk import HelpDesk

__all__ = ["JsonDesk"]

_SECTIONS: dict[str, dict[str, bool]] = {  # section -> option -> required
    "tickets": {
        "path": True, "params": False, "items": False, "next": False, "id": True, "updated": True,
        "title": False, "text": False, "group": False, "since": False, "status": False,
    },
    "conversation": {"path": True, "params": False, "items": False, "text": True, "internal": False, "author": False},
    "note": {"method": False, "path": True, "body": True, "id": False},
}  # fmt: skip


def _section(name: str, value: Any, required: bool) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise UserError(f"json-http: {name} must be a mapping of options ({', '.join(_SECTIONS[name])})")
    options = _SECTIONS[name]
    unknown = sorted(set(value) - set(options))
    if unknown:
        raise UserError(f"json-http: {name}.{unknown[0]} is not an option; use {', '.join(options)}")
    for option, needed in options.items():
        if needed and not value.get(option):
            raise UserError(f"json-http: {name}.{option} is required")
    if not str(value["path"]).startswith("/"):
        raise UserError(f"json-http: {name}.path must start with / (it is joined to url)")
    return dict(value)


def _dig(data: Any, dotted: str | None) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; the data itself for an empty path; None when missing."""
    for part in (dotted or "").split(".") if dotted else ():
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _fill(value: Any, **names: str) -> Any:
    """``{name}`` replaced by its value in every string of ``value`` (a JSON value)."""
    if isinstance(value, str):
        for name, text in names.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, Mapping):
        return {k: _fill(v, **names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, **names) for v in value]
    return value


class JsonDesk(HelpDesk):
    """A help desk described by its settings: tickets listed by updated time, notes by one request."""

    type = "json-http"

    def __init__(
        self,
        *,
        url: str,
        tickets: Mapping[str, Any],
        conversation: Mapping[str, Any] | None,
        note: Mapping[str, Any] | None,
        auth: str,
        user: str | None,
        ticket_url: str | None,
        **options: Any,
    ) -> None:
        super().__init__(url, **options)
        self.tickets = _section("tickets", tickets, True)
        self.conversation_spec = _section("conversation", conversation, False)
        self.note = _section("note", note, False)
        if self.note and "{text}" not in json.dumps(self.note["body"]):
            raise UserError("json-http: note.body must hold {text} where the approved draft goes")
        if self.note and str(self.note.get("method") or "POST").upper() not in ("POST", "PUT", "PATCH"):
            raise UserError("json-http: note.method must be POST, PUT or PATCH")
        if auth not in ("bearer", "basic") and not (auth.startswith("header:") and len(auth) > 7):
            raise UserError(f"json-http: auth must be bearer, basic or header:NAME (got '{auth}')")
        if auth == "basic" and not user:
            raise UserError("json-http: auth basic needs user (the token is the password)")
        self.auth, self.user, self.url_template = auth, user, ticket_url
        self._raw: dict[str, Mapping[str, Any]] = {}  # the tickets of this listing, for their text

    def _auth(self) -> tuple[str, str] | None:
        return (str(self.user), self._token()) if self.auth == "basic" else None

    def _headers(self) -> dict[str, str]:
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {self._token()}"}
        if self.auth.startswith("header:"):
            return {self.auth[7:]: self._token()}
        return {}

    def _pages(self, path: str, params: Mapping[str, Any] | None, items: str | None, follow: str | None) -> list[Any]:
        found: list[Any] = []
        query: Mapping[str, Any] | None = params
        for _ in range(1000):
            answer = self._request("GET", path, params=query)
            batch = _dig(answer, items)
            if not isinstance(batch, list):
                raise SourceError(f"json-http {self.url}{path}: no list at '{items or '(the answer)'}' in the answer")
            found += batch
            following = str(_dig(answer, follow) or "") if follow else ""
            if not following.startswith(self.url + "/"):
                break
            path, query = following.removeprefix(self.url), None
        return found

    def changed_tickets(self, checkpoint: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        spec = self.tickets
        since = str(checkpoint.get("since") or spec.get("since") or "")
        raw = self._pages(
            spec["path"], _fill(spec.get("params") or {}, since=since), spec.get("items"), spec.get("next")
        )
        tickets = []
        for item in raw:
            ticket_id, updated = _dig(item, spec["id"]), _dig(item, spec["updated"])
            if ticket_id is None or updated is None:
                raise SourceError(f"json-http: a ticket has no '{spec['id']}' or '{spec['updated']}' field")
            self._raw[str(ticket_id)] = item
            tickets.append({
                "id": ticket_id, "updated_at": updated, "subject": _dig(item, spec.get("title")),
                "status": _dig(item, spec.get("status")), "group_id": _dig(item, spec.get("group")),
            })  # fmt: skip
        latest = max((t["updated_at"] for t in tickets), default=None, key=lambda v: (isinstance(v, str), v))
        return tickets, {"since": str(latest) if latest is not None else since}

    def conversation(self, ticket_id: str) -> list[dict[str, Any]]:
        item = self._raw.get(ticket_id, {})
        fields = self.tickets.get("text") or []
        fields = [fields] if isinstance(fields, str) else fields
        first = "\n\n".join(str(_dig(item, f)) for f in fields if _dig(item, f))
        messages = [{"who": "customer", "public": True, "at": "", "text": first}] if first else []
        spec = self.conversation_spec
        if spec:
            path = _fill(spec["path"], id=ticket_id)
            for message in self._pages(path, spec.get("params"), spec.get("items"), None):
                messages.append({
                    "who": str(_dig(message, spec.get("author")) or "message"),
                    "public": not _dig(message, spec.get("internal")) if spec.get("internal") else True,
                    "at": "", "text": str(_dig(message, spec["text"]) or ""),
                })  # fmt: skip
        return messages

    def add_note(self, ticket_id: str, text: str) -> str:
        if not self.note:
            raise UserError("json-http: this source takes no notes; describe the request in its note settings")
        if not str(ticket_id).isdigit():
            raise UserError(f"'{ticket_id}' is not a ticket number")
        method = str(self.note.get("method") or "POST").upper()
        answer = self._request(method, _fill(self.note["path"], id=ticket_id), body=_fill(self.note["body"], text=text))
        return str(_dig(answer, self.note.get("id")) or "") if self.note.get("id") else ""

    def ticket_url(self, ticket_id: str) -> str:
        return _fill(self.url_template, id=ticket_id) if self.url_template else f"{self.url}/tickets/{ticket_id}"


@CONNECTORS.register("json-http")
def json_http_connector(
    url: str,
    tickets: Mapping[str, Any],
    conversation: Mapping[str, Any] | None = None,
    note: Mapping[str, Any] | None = None,
    auth: str = "bearer",
    user: str | None = None,
    ticket_url: str | None = None,
    token_env: str | None = None,
    token_file: str | None = None,
    allow_private: bool = False,
    timeout_s: float = 30.0,
    group_access: Mapping[str, Any] | None = None,
    max_wait_s: float = 60.0,
) -> JsonDesk:
    """Any help desk with a JSON API, its endpoints and fields given in the settings."""
    return JsonDesk(
        url=url,
        tickets=tickets,
        conversation=conversation,
        note=note,
        auth=auth,
        user=user,
        ticket_url=ticket_url,
        token_env=token_env,
        token_file=token_file,
        allow_private=allow_private,
        timeout_s=timeout_s,
        group_access=group_access,
        max_wait_s=max_wait_s,
    )
