"""Help desks as sources, and the notes Docket writes back to them: Zendesk and Freshdesk.

A help-desk source indexes tickets — the subject, the customer's message, the replies and internal
notes so far — one document per ticket (key ``tickets/<id>``, version its updated time), and
incrementally: each sync asks only for the tickets updated since the last one (Zendesk's cursor
based incremental export, Freshdesk's ``updated_since``), so a listing is never *complete* and no
ticket is removed from the index because a sync did not mention it.

:meth:`HelpDesk.add_note` writes text back to a ticket as an **internal note** (Zendesk: a comment
with ``public: false``; Freshdesk: a note with ``private: true``) — never a reply the customer sees.
It is what an approved draft of the review queue turns into (:func:`write_note`, docs/helpdesk.md).

A ticket's document has the source's access list, unless the source maps the ticket's group to its
own (``group_access``: ``{"GROUP_ID": ["group:billing"]}``). A draft is written to a ticket only
when everyone who may read the ticket in Docket may read every document the draft was built from
(:func:`check_note_audience`): a restricted document never reaches a wider audience as a note.

A 429 answer is retried after the ``Retry-After`` seconds the help desk asks for, while the waits
stay within ``max_wait_s``; past that, and on 401, 403 and 404, the error names the status and what
to check.

Credentials come from an environment variable (``token_env``) or a file (``token_file``), read at
each call and never stored, logged or printed; requests go through the outbound-address guard
(:func:`~docket.ingest.sources.addresses.guarded_transport`), loopback and private hosts only with
``allow_private``; errors name the status, never what the other side answered.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docket.accounts.principal import check_access_list
from docket.errors import SourceError, UserError
from docket.ingest.sources import CONNECTORS
from docket.ingest.sources.base import Fetched, Listing, TicketDesk

if TYPE_CHECKING:
    from docket.ledger import Store

__all__ = [
    "FreshdeskConnector",
    "HelpDesk",
    "ZendeskConnector",
    "check_note_audience",
    "parse_note_target",
    "write_note",
]

NOTE_SCHEME = "helpdesk:"  # a review item's target: helpdesk:SOURCE/TICKET_ID
MAX_RETRIES = 5  # 429 answers retried in a row, however short the waits they ask for


class _NotFound(SourceError):
    """A 404: for a ticket's conversation, that ticket was deleted since it was listed."""


class HelpDesk:
    """What the help desks share (Zendesk, Freshdesk, json-http): credentials, the guarded HTTP
    client with its 429 waits, tickets as documents with their group's access."""

    type = "helpdesk"
    label = "help desk"

    def __init__(
        self,
        url: str,
        token_env: str | None,
        token_file: str | None,
        allow_private: bool,
        timeout_s: float,
        group_access: Mapping[str, Any] | None = None,
        max_wait_s: float = 60.0,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise UserError(f"{self.type}: url must start with https:// (got '{url}')")
        if not token_env and not token_file:
            raise UserError(f"{self.type}: give token_env (an environment variable) or token_file for the API token")
        if not isinstance(group_access or {}, Mapping):
            raise UserError(
                f'{self.type}: group_access maps a group id to access entries, e.g. {{"42": ["group:billing"]}}'
            )
        self.group_access: dict[str, tuple[str, ...]] = {}
        for group, entries in (group_access or {}).items():
            if isinstance(entries, str) or not isinstance(entries, list | tuple):
                raise UserError(f"{self.type}: group_access.{group} must be a list of access entries")
            self.group_access[str(group)] = check_access_list(entries, f"group_access.{group}:")
        if max_wait_s < 0:
            raise UserError(f"{self.type}: max_wait_s must be 0 or more seconds (got {max_wait_s})")
        self.url = url.rstrip("/")
        self.token_env, self.token_file = token_env, token_file
        self.allow_private = allow_private
        self.timeout_s = timeout_s
        self.max_wait_s = max_wait_s

    # ------------------------------------------------------------------ plumbing
    def _token(self) -> str:
        if self.token_env:
            value = os.environ.get(self.token_env)
            if not value:
                raise SourceError(
                    f"{self.type}: the environment variable {self.token_env} holding the token is not set"
                )
            return value.strip()
        assert self.token_file is not None
        try:
            return Path(self.token_file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SourceError(f"{self.type}: cannot read the token file {self.token_file}: {exc.strerror}") from None

    def _auth(self) -> tuple[str, str] | None:
        """Basic authentication (user, password), or None when :meth:`_headers` carries the token."""
        raise NotImplementedError

    def _headers(self) -> dict[str, str]:
        return {}

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        import httpx

        from docket.ingest.sources.addresses import guarded_transport

        waited, retries = 0.0, 0
        try:
            with httpx.Client(
                transport=guarded_transport(self.allow_private),
                timeout=self.timeout_s,
                follow_redirects=False,
                auth=self._auth(),
                headers=self._headers(),
                trust_env=False,
            ) as client:
                while True:
                    response = client.request(method, self.url + path, params=params, json=body)
                    if response.status_code != 429:
                        break
                    wait = _retry_after(response.headers.get("Retry-After"))
                    retries += 1
                    if retries > MAX_RETRIES:
                        raise SourceError(
                            f"{self.type} {self.url}{path}: HTTP 429, still rate limited after {MAX_RETRIES} "
                            f"retries ({waited:g} s of waiting); try again later"
                        )
                    if wait is None or waited + wait > self.max_wait_s:
                        asked = f"retry after {wait:g} s" if wait is not None else "no Retry-After given"
                        raise SourceError(
                            f"{self.type} {self.url}{path}: HTTP 429, rate limited ({asked}; waited {waited:g} s "
                            f"of max_wait_s {self.max_wait_s:g}); try again later or raise max_wait_s"
                        )
                    time.sleep(wait)
                    waited += wait
        except httpx.HTTPError as exc:
            raise SourceError(f"{self.type} {self.url}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            error = _NotFound if response.status_code == 404 else SourceError
            raise error(f"{self.type} {self.url}{path}: HTTP {response.status_code}{_hint(response.status_code)}")
        try:
            return response.json()
        except json.JSONDecodeError:
            raise SourceError(f"{self.type} {self.url}{path}: the answer is not JSON") from None

    # ------------------------------------------------------------------ what each desk provides
    def changed_tickets(self, checkpoint: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The tickets updated since ``checkpoint``, and the checkpoint to store after them."""
        raise NotImplementedError

    def conversation(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's messages, oldest first: ``{"who", "public", "at", "text"}``."""
        raise NotImplementedError

    def add_note(self, ticket_id: str, text: str) -> str:
        """Write ``text`` to the ticket as an internal note; the note's id."""
        raise NotImplementedError

    def ticket_url(self, ticket_id: str) -> str:
        raise NotImplementedError

    def ticket_key(self, ticket_id: str) -> str:
        return f"tickets/{ticket_id}"

    # ------------------------------------------------------------------ the connector
    def fetch(self, known: Mapping[str, str], checkpoint: Mapping[str, Any]) -> Listing:
        tickets, after = self.changed_tickets(checkpoint)
        unchanged = {f"tickets/{t['id']}" for t in tickets if known.get(f"tickets/{t['id']}") == str(t["updated_at"])}

        def items() -> Iterator[Fetched]:
            for ticket in tickets:
                key = f"tickets/{ticket['id']}"
                if key in unchanged:
                    continue
                try:
                    messages = self.conversation(str(ticket["id"]))
                except _NotFound as exc:  # deleted since it was listed: this ticket only, not the source
                    listing.failed[key] = str(exc)
                    continue
                yield self._document(ticket, messages)

        # incremental: only what changed is listed, so the listing is never complete (nothing removed)
        listing = Listing(items=items(), unchanged=unchanged, complete=False, checkpoint=after)
        return listing

    def _document(self, ticket: Mapping[str, Any], messages: list[dict[str, Any]]) -> Fetched:
        subject = str(ticket.get("subject") or f"Ticket {ticket['id']}")
        lines = [f"# {subject}", "", f"Ticket {ticket['id']} · status {ticket.get('status')}", ""]
        for message in messages:
            kind = "Internal note" if not message["public"] else str(message["who"])
            when = f" ({message['at']})" if message["at"] else ""
            lines += [f"## {kind}{when}", "", str(message["text"]).strip(), ""]
        return Fetched(
            key=f"tickets/{ticket['id']}",
            title=subject,
            data="\n".join(lines).encode("utf-8"),
            filetype="md",
            version=str(ticket["updated_at"]),
            url=self.ticket_url(str(ticket["id"])),
            mtime=_timestamp(ticket.get("updated_at")),
            metadata={"ticket_id": str(ticket["id"])},
            access=self.group_access.get(str(ticket.get("group_id"))),
        )


class ZendeskConnector(HelpDesk):
    """Zendesk Support: ``GET /api/v2/incremental/tickets/cursor.json``, ``GET
    /api/v2/tickets/{id}/comments``, and a private comment by ``PUT /api/v2/tickets/{id}``."""

    type = "zendesk"

    def __init__(self, *, email: str, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        if "@" not in email:
            raise UserError(f"zendesk: email must be the agent's email address (got '{email}')")
        self.email = email

    def _auth(self) -> tuple[str, str]:
        return f"{self.email}/token", self._token()  # Zendesk's API-token authentication

    def changed_tickets(self, checkpoint: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        cursor = checkpoint.get("cursor")
        params: dict[str, Any] = {"cursor": cursor} if cursor else {"start_time": int(checkpoint.get("start_time", 0))}
        tickets: list[dict[str, Any]] = []
        for _ in range(1000):  # pages of up to 1000 tickets
            page = self._request("GET", "/api/v2/incremental/tickets/cursor.json", params=params)
            tickets += [t for t in page.get("tickets") or [] if t.get("status") != "deleted"]
            cursor = page.get("after_cursor") or cursor
            if page.get("end_of_stream") or not page.get("after_cursor"):
                break
            params = {"cursor": cursor}
        return tickets, {"cursor": cursor} if cursor else dict(checkpoint)

    def conversation(self, ticket_id: str) -> list[dict[str, Any]]:
        comments: list[dict[str, Any]] = []
        path: str | None = f"/api/v2/tickets/{ticket_id}/comments"
        for _ in range(100):  # pages of up to 100 comments, next_page a URL on the same desk
            page = self._request("GET", path or "")
            comments += page.get("comments") or []
            following = str(page.get("next_page") or "")
            path = following.removeprefix(self.url) if following.startswith(self.url + "/") else None
            if path is None:
                break
        return [
            {
                "who": f"user {c.get('author_id')}",
                "public": bool(c.get("public", True)),
                "at": c.get("created_at"),
                "text": c.get("plain_body") or c.get("body") or "",
            }
            for c in comments
        ]

    def add_note(self, ticket_id: str, text: str) -> str:
        body = {"ticket": {"comment": {"body": text, "public": False}}}
        answer = self._request("PUT", f"/api/v2/tickets/{_ticket(ticket_id)}", body=body)
        audit = answer.get("audit") or {}
        return str(audit.get("id") or "")

    def ticket_url(self, ticket_id: str) -> str:
        return f"{self.url}/agent/tickets/{ticket_id}"


class FreshdeskConnector(HelpDesk):
    """Freshdesk: ``GET /api/v2/tickets?updated_since=...``, ``GET /api/v2/tickets/{id}/conversations``
    and ``POST /api/v2/tickets/{id}/notes`` with ``private: true``."""

    type = "freshdesk"

    def _auth(self) -> tuple[str, str]:
        return self._token(), "X"  # Freshdesk: the API key as the user name, any password

    def changed_tickets(self, checkpoint: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        since = str(checkpoint.get("updated_since") or "1970-01-01T00:00:00Z")
        tickets: list[dict[str, Any]] = []
        for page in range(1, 301):  # Freshdesk serves at most 300 pages of a listing
            params = {
                "updated_since": since,
                "order_by": "updated_at",
                "order_type": "asc",
                "per_page": 100,
                "page": page,
                "include": "description",
            }
            batch = self._request("GET", "/api/v2/tickets", params=params)
            tickets += batch
            if len(batch) < 100:
                break
        latest = max((str(t["updated_at"]) for t in tickets), default=since)
        return tickets, {"updated_since": latest}

    def conversation(self, ticket_id: str) -> list[dict[str, Any]]:
        ticket = self._request("GET", f"/api/v2/tickets/{ticket_id}")
        first = {
            "who": "customer",
            "public": True,
            "at": ticket.get("created_at"),
            "text": ticket.get("description_text") or "",
        }
        rest: list[dict[str, Any]] = []
        for page in range(1, 101):  # pages of up to 100 conversations
            batch = self._request(
                "GET", f"/api/v2/tickets/{ticket_id}/conversations", params={"per_page": 100, "page": page}
            )
            rest += batch
            if len(batch) < 100:
                break
        return [first] + [
            {
                "who": "customer" if c.get("incoming") else "agent",
                "public": not c.get("private"),
                "at": c.get("created_at"),
                "text": c.get("body_text") or "",
            }
            for c in rest
        ]

    def add_note(self, ticket_id: str, text: str) -> str:
        from html import escape

        body = {"body": escape(text).replace("\n", "<br>"), "private": True}
        answer = self._request("POST", f"/api/v2/tickets/{_ticket(ticket_id)}/notes", body=body)
        return str(answer.get("id") or "")

    def ticket_url(self, ticket_id: str) -> str:
        return f"{self.url}/a/tickets/{ticket_id}"


def _ticket(ticket_id: str) -> str:
    if not str(ticket_id).isdigit():
        raise UserError(f"'{ticket_id}' is not a ticket number")
    return str(ticket_id)


def _retry_after(value: str | None) -> float | None:
    """The seconds a 429's ``Retry-After`` asks for (a number; an HTTP date is not used by either desk)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _hint(status: int) -> str:
    if status == 401:
        return " (the token was refused: check token_env / token_file, and the email for Zendesk)"
    if status == 403:
        return " (the token's user may not do this: an agent role is needed)"
    if status == 404:
        return " (not found: check the ticket number and the url / subdomain)"
    return ""


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@CONNECTORS.register("zendesk")
def zendesk_connector(
    email: str,
    subdomain: str | None = None,
    url: str | None = None,
    token_env: str | None = None,
    token_file: str | None = None,
    allow_private: bool = False,
    timeout_s: float = 30.0,
    group_access: Mapping[str, Any] | None = None,
    max_wait_s: float = 60.0,
) -> ZendeskConnector:
    """Zendesk Support at ``https://SUBDOMAIN.zendesk.com`` (or ``url``), as the agent ``email``."""
    if not (subdomain or url):
        raise UserError("zendesk: give subdomain (ACME for acme.zendesk.com) or url")
    return ZendeskConnector(
        email=email,
        url=url or f"https://{subdomain}.zendesk.com",
        token_env=token_env,
        token_file=token_file,
        allow_private=allow_private,
        timeout_s=timeout_s,
        group_access=group_access,
        max_wait_s=max_wait_s,
    )


@CONNECTORS.register("freshdesk")
def freshdesk_connector(
    domain: str | None = None,
    url: str | None = None,
    token_env: str | None = None,
    token_file: str | None = None,
    allow_private: bool = False,
    timeout_s: float = 30.0,
    group_access: Mapping[str, Any] | None = None,
    max_wait_s: float = 60.0,
) -> FreshdeskConnector:
    """Freshdesk at ``https://DOMAIN.freshdesk.com`` (or ``url``), with an agent's API key."""
    if not (domain or url):
        raise UserError("freshdesk: give domain (ACME for acme.freshdesk.com) or url")
    return FreshdeskConnector(
        url=url or f"https://{domain}.freshdesk.com",
        token_env=token_env,
        token_file=token_file,
        allow_private=allow_private,
        timeout_s=timeout_s,
        group_access=group_access,
        max_wait_s=max_wait_s,
    )


# ---------------------------------------------------------------------- write-back


def parse_note_target(target: str) -> tuple[str, str]:
    """``helpdesk:SOURCE/TICKET_ID`` as (source, ticket id); a UserError for anything else."""
    rest = target[len(NOTE_SCHEME) :] if target.startswith(NOTE_SCHEME) else ""
    source, _, ticket = rest.rpartition("/")
    if not source or not ticket.isdigit():
        raise UserError(f"'{target}' is not a help-desk target; write helpdesk:SOURCE/TICKET_ID")
    return source, ticket


def write_note(store: Store, target: str, text: str, *, workspace: str | None, documents: Sequence[str] | None) -> str:
    """Write ``text`` — a draft of ``workspace`` built from ``documents`` (ids) — as an internal note
    to the ticket ``target`` names (``helpdesk:SOURCE/ID``), through the help-desk source ``SOURCE``
    of ``store``, once :func:`check_note_audience` allows it; the note's id in the help desk."""
    from docket.ingest.sources.sync import build_connector

    name, ticket = parse_note_target(target)
    config = store.ledger.sources().get(name)
    if config is None:
        raise UserError(f"no help-desk source named '{name}' (docket sources list)")
    connector = build_connector(config.type, config.settings)
    if not isinstance(connector, TicketDesk):
        raise UserError(f"source '{name}' is a {config.type} source, not a help desk that takes notes")
    check_note_audience(
        store, name, config.workspace, config.access, connector.ticket_key(ticket), workspace, documents
    )
    return connector.add_note(ticket, text)


def check_note_audience(
    store: Store,
    source: str,
    source_workspace: str,
    source_access: Sequence[str],
    ticket_key: str,
    workspace: str | None,
    documents: Sequence[str] | None,
) -> None:
    """Refuse (UserError) a note whose readers could be more than the readers of what it was built from.

    The ticket's readers are those who may read its document in Docket: members of the source's
    workspace holding one of the ticket's access entries (the indexed ticket's, else the source's;
    none: every member). The draft must belong to that workspace, and each of its documents must be
    of that workspace and either open to all its members or open to every entry the ticket has.
    """
    if workspace is not None and workspace != source_workspace:
        raise UserError(
            f"the draft belongs to workspace '{workspace}' and help-desk source '{source}' to '{source_workspace}'; "
            "a note goes only to a help desk of the draft's own workspace"
        )
    if documents is None:
        raise UserError("the draft does not record the documents it was built from; it is not written to a help desk")
    ticket = next(iter(store.documents(source, path=ticket_key)), None)
    audience = set(ticket.access if ticket is not None else source_access)
    found = list(store.documents(ids=list(documents)))
    if len(found) < len(set(documents)):
        raise UserError(
            "a document the draft was built from is no longer indexed, so who may read it is unknown; "
            "the draft is not written to the help desk"
        )
    for doc in found:
        wider = doc.workspace != source_workspace or (doc.access and not (audience and audience <= set(doc.access)))
        if wider:
            shown = ", ".join(doc.access) or "everyone"
            raise UserError(
                f"the draft draws on '{doc.title or doc.path}' (workspace {doc.workspace}, access {shown}), which not "
                f"everyone who reads ticket {ticket_key.rpartition('/')[2]} in source '{source}' may read; "
                "the note is not written (draft the reply without it, or map the ticket's group in group_access)"
            )
