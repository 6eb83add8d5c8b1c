"""The ``review`` and ``webhook`` steps: park a draft for a person, and POST JSON to a web hook.

``review`` puts a value (by default the outputs so far) in the review queue
(:mod:`docket.workflows.review`) with a title, and outputs ``{review_id, status: "pending"}``;
with ``then_webhook`` the value a reviewer approves (or edits) is POSTed to that URL.

``webhook`` POSTs a JSON body to ``url`` with httpx: one retry on a 5xx answer or a connection
error, a non-2xx answer fails the item (naming the status, never the body), and the output is
``{status, body}``. Header templates may read environment variables (``{{ env.HELPDESK_TOKEN }}``)
whose names start with ``DOCKET_`` or are listed in the step's ``env``; header values never appear
in logs or errors. Every URL goes through the address guard of
:mod:`docket.ingest.sources.addresses`: link-local and cloud-metadata addresses are refused, and
loopback and private ones unless listed in ``network.allow_private_hosts``.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field
from pydantic.dataclasses import dataclass as pdataclass

from docket.workflows.steps import (
    STEP_CONFIG,
    STEPS,
    Problem,
    StepContext,
    StepFailed,
    _templates,
    evaluate,
    render_template,
    template_error,
)

__all__ = ["ReviewStep", "WebhookStep", "check_url", "post_json"]

METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.goog", "instance-data"}
BODY_LIMIT = 20_000  # characters of a response body kept in a webhook step's output


# ---------------------------------------------------------------------- posting


def _literal_refusal(host: str, allowed: Sequence[str], private_ok: bool = False) -> str | None:
    """Why a host written as an address (or a well-known internal name) is refused, checked
    without looking anything up: None when it may be tried."""
    from docket.ingest.sources.addresses import _blocked, _listed

    if host in METADATA_HOSTS:
        return "a cloud-metadata address"
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        listed = private_ok or _listed(host, 0, ipaddress.ip_address("127.0.0.1"), allowed)
        return None if listed else "a loopback address"
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    reason = _blocked(ip, allow_private=False)
    if reason in ("loopback", "private") and (private_ok or _listed(host, 0, ip, allowed)):
        return None
    return None if reason is None else f"a {reason} address"


def check_url(url: str, resolve: bool = True, allowed: Sequence[str] = (), *, private_ok: bool = False) -> str:
    """``url`` if it is an http(s) URL whose host may be reached: never link-local or cloud
    metadata, loopback and private addresses only when on ``allowed`` (``network.allow_private_hosts``).
    With ``resolve``, every address the host name resolves to is checked too."""
    from docket.errors import SourceError
    from docket.ingest.sources.addresses import check_address

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StepFailed(f"'{_shown(url)}' is not an http:// or https:// URL")
    host = parts.hostname.lower().rstrip(".")
    reason = _literal_refusal(host, allowed, private_ok)
    if reason is not None:
        raise StepFailed(f"'{host}' is {reason}; webhooks may not call it{_HINT}")
    if resolve:
        try:
            check_address(host, parts.port or (443 if parts.scheme == "https" else 80), False, allowed)
        except SourceError as exc:
            raise StepFailed(f"webhook to {_shown(url)}: {exc}{_HINT}") from None
    return url


_HINT = " (list an intranet host in network.allow_private_hosts to allow it)"


def _shown(url: str) -> str:
    """The URL without its query and user info (they may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url[:80]


def post_json(
    url: str,
    body: Any,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    allowed: Sequence[str] = (),
) -> tuple[int, Any]:
    """POST ``body`` as JSON; one retry on a 5xx answer or a connection error. Returns (status,
    body: JSON when the answer is JSON, else text). Raises StepFailed on a non-2xx answer, naming
    the status only — a response body is never put in an error, a log or a review's delivery.

    The host is resolved once and the connection made to the address checked
    (:func:`docket.ingest.sources.addresses.guarded_transport`); no redirect is followed and no
    proxy from the environment is used."""
    import httpx

    from docket.errors import SourceError
    from docket.ingest.sources.addresses import guarded_transport

    check_url(url, resolve=False, allowed=allowed)
    data = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
    sent = {"Content-Type": "application/json", **(headers or {})}
    shown = _shown(url)
    response = None
    for attempt in range(2):
        try:
            with httpx.Client(
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,
                transport=guarded_transport(False, allowed),
            ) as client:
                response = client.post(url, content=data, headers=sent)
        except SourceError as exc:  # the address guard refused the host: no retry
            raise StepFailed(f"webhook to {shown}: {exc}{_HINT}") from None
        except httpx.HTTPError as exc:
            if attempt == 0:
                continue
            raise StepFailed(f"POST {shown} failed: {type(exc).__name__}") from None
        if response.status_code >= 500 and attempt == 0:
            continue
        break
    assert response is not None
    if not 200 <= response.status_code < 300:
        raise StepFailed(f"POST {shown} answered HTTP {response.status_code}")
    text = response.text[:BODY_LIMIT]
    try:
        answer: Any = response.json()
    except ValueError:
        answer = text
    return response.status_code, answer


# ---------------------------------------------------------------------- steps


def _allowed(ctx: StepContext) -> tuple[str, ...]:
    """The loopback or private hosts the run's webhooks may reach: given to the run, else the
    knowledge base's ``network.allow_private_hosts`` (none without either)."""
    if ctx.allow_private_hosts is not None:
        return ctx.allow_private_hosts
    if ctx.kb is None:
        return ()
    return tuple(ctx.kb().settings.network.allow_private_hosts)


def _value(expression: str | None, ctx: StepContext) -> Any:
    if expression is None:
        return dict(ctx.outputs)
    from jinja2 import Undefined

    value = evaluate(expression, ctx.variables())
    if isinstance(value, Undefined):
        raise StepFailed(f"'{expression}' has no value here")
    return value


def _expression(name: str, text: str | None) -> list[Problem]:
    if text is None:
        return []
    error = template_error(text, expression=True)
    return [(name, *error)] if error else []


def _literal_url(name: str, url: str | None) -> list[Problem]:
    if url is None or "{{" in url or "{%" in url or not url.strip():
        return []
    try:
        # validating looks nothing up, and cannot know the allow-list of where the workflow will run:
        # only what is never reached (link-local, metadata) is refused here
        check_url(url.strip(), resolve=False, private_ok=True)
    except StepFailed as exc:
        return [(name, str(exc), 0)]
    return []


def _literal_target(target: str | None) -> list[Problem]:
    """A literal then_webhook: a URL, or a help-desk ticket (``helpdesk:SOURCE/TICKET_ID``)."""
    if target is None or not target.strip().startswith("helpdesk:") or "{{" in target or "{%" in target:
        return _literal_url("then_webhook", target)
    from docket.errors import DocketError
    from docket.ingest.sources.helpdesk import parse_note_target

    try:
        parse_note_target(target.strip())
    except DocketError as exc:
        return [("then_webhook", str(exc), 0)]
    return []


@STEPS.register("review")
@pdataclass(frozen=True, config=STEP_CONFIG)
class ReviewStep:
    """Park a draft for a person: ``value`` (an expression; default the outputs so far) goes to
    the review queue with ``title`` (a template). Output ``{review_id, status: "pending"}``. With
    ``then_webhook`` (a URL template; empty: none) the approved or edited value is POSTed there."""

    title: str = "Draft for review"
    value: str | None = None
    then_webhook: str | None = None
    needs_model = False

    def problems(self, earlier: set[str]) -> list[Problem]:
        return [
            *_templates(title=self.title, then_webhook=self.then_webhook),
            *_expression("value", self.value),
            *_literal_target(self.then_webhook),
        ]

    def run(self, ctx: StepContext) -> Any:
        if ctx.reviews is None:
            raise StepFailed("a review step needs a review queue: run it with a knowledge base (--home)")
        value = _value(self.value, ctx)
        title = " ".join(ctx.render(self.title).split())[:200] or "Draft for review"
        webhook = ctx.render(self.then_webhook).strip() if self.then_webhook else ""
        if webhook.startswith("helpdesk:"):  # an internal note on a help-desk ticket (docs/helpdesk.md)
            from docket.errors import DocketError
            from docket.ingest.sources.helpdesk import parse_note_target

            try:
                parse_note_target(webhook)
            except DocketError as exc:
                raise StepFailed(str(exc)) from None
        elif webhook:
            check_url(webhook, allowed=_allowed(ctx))
        review_id = ctx.reviews.park(
            value, title, workspace=ctx.workspace, webhook=webhook or None, documents=sorted(ctx.documents)
        )
        return {"review_id": review_id, "status": "pending"}


@STEPS.register("webhook")
@pdataclass(frozen=True, config=STEP_CONFIG)
class WebhookStep:
    """POST ``body`` (an expression; default the outputs so far) as JSON to ``url`` (a template).
    ``headers`` are templates that may read ``env.NAME`` for variables named ``DOCKET_*`` or listed
    in ``env``. One retry on 5xx or a connection error; a non-2xx answer fails the item. Output
    ``{status, body}``."""

    url: str
    body: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    env: list[str] = Field(default_factory=list)
    timeout: float = Field(default=10.0, gt=0, le=300)
    needs_model = False

    def problems(self, earlier: set[str]) -> list[Problem]:
        problems = [*_templates(url=self.url), *_expression("body", self.body), *_literal_url("url", self.url)]
        for name, template in self.headers.items():
            problems.extend(_templates(**{f"headers.{name}": template}))
        return problems

    def run(self, ctx: StepContext) -> Any:
        url = ctx.render(self.url).strip()
        body = _value(self.body, ctx)
        missing = [name for name in self.env if name not in os.environ]
        if missing:
            raise StepFailed(f"set the environment variable(s) {', '.join(missing)} that the headers read")
        env = {k: v for k, v in os.environ.items() if k.startswith("DOCKET_") or k in self.env}
        variables = {**ctx.variables(), "env": env}
        headers = {}
        for name, template in self.headers.items():
            try:
                headers[name] = render_template(template, variables).strip()
            except StepFailed:
                # the message could quote the template's values: name the header only
                raise StepFailed(
                    f"header '{name}': the template does not render (an env variable must start with "
                    "DOCKET_ or be listed in the step's env)"
                ) from None
        status, answer = post_json(url, body, headers, self.timeout, allowed=_allowed(ctx))
        return {"status": status, "body": answer}
