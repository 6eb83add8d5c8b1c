"""The website widget: a chat bubble any site can add, answering from a public workspace.

An admin marks a workspace public, lists the sites allowed to embed it (the workspace setting
``allowed_origins``, e.g. ``["https://www.example.com"]``; ``"*"`` allows any site) and copies the
snippet :func:`widget_snippet` makes into their pages. The snippet loads ``GET /widget.js``, a
self-contained script (no other downloads) that adds the bubble and posts questions to
``POST /api/public/{workspace}/ask``.

That route needs no sign-in, so it gives no more than the workspace's public face:

- only a workspace marked ``public``; any other name is the same 404 as a missing one;
- retrieval runs as ``Access(workspaces=(workspace,), principals=())``: a document with an access
  list never appears, whoever asks;
- a browser request whose ``Origin`` is not allowed is refused (403) — a page on the Docket server
  itself is always allowed — and CORS headers name only an allowed origin;
- each visitor (client address and workspace) may ask ``server.widget_requests_per_minute``
  questions a minute; beyond that, 429 with ``Retry-After``. Behind a reverse proxy elsewhere than
  on this machine, set ``FORWARDED_ALLOW_IPS`` (uvicorn's) to its address so the visitor's address
  is the real one.

Answers are recorded with the surface ``widget`` and no user.
"""

from __future__ import annotations

import html
import math
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from docket.errors import BudgetExceededError, DocketError, ForbiddenError, RateLimitedError
from docket.server.answering import Answering
from docket.server.deps import state

__all__ = ["WIDGET_JS", "router", "widget_snippet"]

router = APIRouter(tags=["widget"])


def widget_snippet(server_url: str, workspace: str) -> str:
    """The ``<script>`` tag an admin copies into their site to add the chat bubble for
    ``workspace`` (which must be public), served by the Docket server at ``server_url``
    (its public address, e.g. ``https://docs.example.com``)."""
    server = server_url.rstrip("/")
    attr = html.escape
    return (
        f'<script src="{attr(server)}/widget.js" data-server="{attr(server)}" '
        f'data-workspace="{attr(workspace)}" async></script>'
    )


class PublicAsk(BaseModel):
    question: str = Field(min_length=1, max_length=1000)
    conversation: str | None = Field(None, max_length=64, description="Returned by the previous answer.")


def _cors(origin: str | None) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {"Vary": "Origin"}


def _check_origin(request: Request, settings: dict[str, Any], workspace: str) -> str | None:
    """The request's allowed ``Origin`` (None when it sent none); 403 for one not allowed."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser's cross-site request (curl, a server): rate limits still apply
        return None
    if not Answering.origin_allowed(settings, origin, own=f"{request.url.scheme}://{request.url.netloc}"):
        raise ForbiddenError(
            f"the site {origin} may not use the widget of '{workspace}'; "
            "an admin adds it to the workspace's allowed origins"
        )
    return origin


def _for_visitors(exc: DocketError) -> DocketError:
    """What an anonymous visitor is told: budgets and server failures without their details."""
    if isinstance(exc, BudgetExceededError):
        return BudgetExceededError("this help service has answered all it can for today; try again tomorrow")
    if exc.status >= 500:
        failure = DocketError("this help service cannot answer right now; try again later")
        failure.status, failure.code = exc.status, exc.code
        return failure
    return exc


@router.options("/api/public/{workspace}/ask", include_in_schema=False)
def preflight(workspace: str, request: Request) -> Response:
    """The browser's CORS preflight: allowed only for the workspace's allowed origins."""
    origin = _check_origin(request, state(request).answering.public_settings(workspace), workspace)
    headers = _cors(origin) | {
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)


@router.post("/api/public/{workspace}/ask", summary="Ask a public workspace (the website widget)")
def public_ask(workspace: str, body: PublicAsk, request: Request) -> Response:
    st = state(request)
    settings = st.answering.public_settings(workspace)
    try:
        origin = _check_origin(request, settings, workspace)
    except ForbiddenError as exc:
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=_cors(None))
    visitor = f"{request.client.host if request.client else 'unknown'}|{workspace}"
    if not st.visitors.hit(visitor):
        error = RateLimitedError("too many questions in a short time; wait a minute and ask again")
        headers = _cors(origin) | {"Retry-After": str(math.ceil(st.visitors.window))}
        return JSONResponse(error.to_dict(), status_code=error.status, headers=headers)

    try:
        reply = st.answering.widget_chat(workspace, body.question, body.conversation)
    except DocketError as exc:  # with the CORS headers, so the widget can read what went wrong
        told = _for_visitors(exc)
        return JSONResponse(told.to_dict(), status_code=told.status, headers=_cors(origin))
    answer = reply.answer
    result = {
        "conversation": reply.conversation,
        "question": reply.message,
        "query": reply.query,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [c.to_dict() for c in answer.citations],
    }
    return JSONResponse(result, headers=_cors(origin) | {"Cache-Control": "no-store"})


@router.get("/widget.js", include_in_schema=False)
def widget_js() -> Response:
    headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
    return Response(WIDGET_JS, media_type="text/javascript; charset=utf-8", headers=headers)


# The script is plain JavaScript (ES5 syntax; fetch and URL) that loads nothing else. Its elements live in a
# shadow root, so the host page's styles do not reach them; every server string goes through
# textContent, never innerHTML.
WIDGET_JS = r"""/* Docket website widget: answers from a public workspace, with citations. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) {
    var found = document.querySelectorAll("script[data-workspace]");
    script = found[found.length - 1];
  }
  if (!script) { return; }
  var workspace = script.getAttribute("data-workspace");
  if (!workspace) { return; }
  var server = script.getAttribute("data-server") || new URL(script.src, document.baseURI).origin;
  server = server.replace(/\/+$/, "");
  var title = script.getAttribute("data-title") || "Ask our documents";
  var registry = (window.__docketWidgets = window.__docketWidgets || {});
  if (registry[workspace]) { return; }
  registry[workspace] = true;

  var conversation = null;
  var busy = false;
  var uid = "docket-" + Math.random().toString(36).slice(2, 10);

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, key)) { node.setAttribute(key, attrs[key]); }
    }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  var css = [
    ":host { all: initial; }",
    ".wrap { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;",
    "  font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1f2328; }",
    ".bubble { width: 56px; height: 56px; border-radius: 50%; border: none; cursor: pointer;",
    "  background: #1f5fbf; color: #fff; font-size: 26px; font-weight: 600;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".bubble:focus-visible, button:focus-visible, textarea:focus-visible {",
    "  outline: 3px solid #f0b400; outline-offset: 2px; }",
    ".panel { position: absolute; right: 0; bottom: 70px; width: min(380px, calc(100vw - 40px));",
    "  max-height: min(560px, calc(100vh - 110px)); display: flex; flex-direction: column;",
    "  background: #fff; border: 1px solid #d0d7de; border-radius: 12px;",
    "  box-shadow: 0 8px 30px rgba(0,0,0,.2); overflow: hidden; }",
    ".panel[hidden] { display: none; }",
    ".head { display: flex; align-items: center; justify-content: space-between;",
    "  padding: 10px 14px; background: #1f5fbf; color: #fff; }",
    ".head h2 { margin: 0; font-size: 16px; }",
    ".close { background: transparent; color: #fff; border: none; font-size: 22px; cursor: pointer;",
    "  line-height: 1; padding: 2px 6px; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px 14px; }",
    ".msg { margin: 0 0 12px; }",
    ".you { text-align: right; }",
    ".you p { display: inline-block; background: #eef3fb; border-radius: 10px; padding: 6px 10px; margin: 0; }",
    ".bot p { margin: 0 0 6px; white-space: pre-wrap; }",
    ".abstained { color: #59636e; font-style: italic; }",
    ".error { color: #b42318; }",
    ".cite { font-size: 11px; vertical-align: super; color: #1f5fbf; font-weight: 600; }",
    ".sources { margin: 6px 0 0; padding: 0; list-style: none; font-size: 13px; color: #3d444d; }",
    ".sources li { border-left: 3px solid #d0d7de; padding: 2px 0 2px 8px; margin: 0 0 6px; }",
    ".sources .where { font-weight: 600; }",
    ".sources blockquote { margin: 2px 0 0; color: #59636e; }",
    "form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #d0d7de; }",
    "textarea { flex: 1; resize: none; font: inherit; padding: 6px 8px; border: 1px solid #8c959f;",
    "  border-radius: 8px; min-height: 38px; }",
    ".send { background: #1f5fbf; color: #fff; border: none; border-radius: 8px; padding: 0 14px;",
    "  font: inherit; cursor: pointer; }",
    ".send[disabled] { opacity: .6; cursor: default; }",
    ".note { font-size: 12px; color: #59636e; padding: 0 14px 8px; margin: 0; }",
    ".sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }"
  ].join("\n");

  var host = el("div", { "data-docket-widget": workspace });
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  root.appendChild(el("style", {}, css));
  var wrap = el("div", { "class": "wrap" });
  var panelId = uid + "-panel";
  var titleId = uid + "-title";
  var inputId = uid + "-input";
  var bubble = el("button", {
    "class": "bubble", "type": "button", "aria-label": "Open help chat: " + title,
    "aria-expanded": "false", "aria-controls": panelId
  }, "?");
  var panel = el("section", { "class": "panel", "id": panelId, "role": "dialog", "aria-labelledby": titleId });
  panel.hidden = true;
  var head = el("div", { "class": "head" });
  head.appendChild(el("h2", { "id": titleId }, title));
  var closeButton = el("button", { "class": "close", "type": "button", "aria-label": "Close help chat" }, "\u00d7");
  head.appendChild(closeButton);
  var log = el("div", { "class": "log", "role": "log", "aria-live": "polite", "aria-relevant": "additions" });
  var form = el("form", {});
  var label = el("label", { "class": "sr", "for": inputId }, "Your question");
  var input = el("textarea", { "id": inputId, "rows": "1", "maxlength": "1000", "placeholder": "Ask a question" });
  var send = el("button", { "class": "send", "type": "submit" }, "Ask");
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(form);
  panel.appendChild(el("p", { "class": "note" }, "Answers come only from our documents, with their sources."));
  wrap.appendChild(panel);
  wrap.appendChild(bubble);
  root.appendChild(wrap);

  function open() {
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    bubble.setAttribute("aria-label", "Close help chat");
    input.focus();
  }
  function close() {
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    bubble.setAttribute("aria-label", "Open help chat: " + title);
    bubble.focus();
  }
  bubble.addEventListener("click", function () { if (panel.hidden) { open(); } else { close(); } });
  closeButton.addEventListener("click", close);
  wrap.addEventListener("keydown", function (event) {
    if ((event.key === "Escape" || event.key === "Esc") && !panel.hidden) {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      ask();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask();
  });

  function scroll() { log.scrollTop = log.scrollHeight; }

  function say(who, text, cls) {
    var box = el("div", { "class": "msg " + who });
    box.appendChild(el("p", cls ? { "class": cls } : {}, text));
    log.appendChild(box);
    scroll();
    return box;
  }

  // The answer's text, with each [n] shown as a small citation mark.
  function answerText(text) {
    var p = el("p", {});
    var parts = String(text).split(/(\[\d{1,3}\])/);
    for (var i = 0; i < parts.length; i++) {
      if (/^\[\d{1,3}\]$/.test(parts[i])) {
        p.appendChild(el("span", { "class": "cite", "aria-label": "source " + parts[i].slice(1, -1) }, parts[i]));
      } else if (parts[i]) {
        p.appendChild(document.createTextNode(parts[i]));
      }
    }
    return p;
  }

  // One entry per cited source: [n] file · where, then the quoted passages.
  function sources(citations) {
    var list = el("ul", { "class": "sources", "aria-label": "Sources" });
    var byNumber = {};
    var order = [];
    for (var i = 0; i < citations.length; i++) {
      var c = citations[i];
      if (!byNumber[c.n]) { byNumber[c.n] = { c: c, quotes: [] }; order.push(c.n); }
      if (c.quote && byNumber[c.n].quotes.indexOf(c.quote) < 0) { byNumber[c.n].quotes.push(c.quote); }
    }
    order.sort(function (a, b) { return a - b; });
    for (var j = 0; j < order.length; j++) {
      var entry = byNumber[order[j]];
      var where = (entry.c.location && entry.c.location.label) || "";
      var item = el("li", {});
      var heading = "[" + entry.c.n + "] " + entry.c.path + (where ? " \u00b7 " + where : "");
      item.appendChild(el("span", { "class": "where" }, heading));
      for (var k = 0; k < entry.quotes.length; k++) {
        item.appendChild(el("blockquote", {}, "\u201c" + entry.quotes[k] + "\u201d"));
      }
      list.appendChild(item);
    }
    return list;
  }

  function show(data) {
    var box = el("div", { "class": "msg bot" });
    if (data.abstained) {
      box.appendChild(el("p", { "class": "abstained" }, "Sorry, that is not in our documents."));
    } else {
      box.appendChild(answerText(data.answer));
      if (data.citations && data.citations.length) { box.appendChild(sources(data.citations)); }
    }
    log.appendChild(box);
    scroll();
  }

  function ask() {
    var question = input.value.replace(/^\s+|\s+$/g, "");
    if (!question || busy) { return; }
    busy = true;
    send.disabled = true;
    input.value = "";
    say("you", question);
    var waiting = say("bot", "Looking in our documents\u2026", "abstained");
    var payload = { question: question };
    if (conversation) { payload.conversation = conversation; }
    fetch(server + "/api/public/" + encodeURIComponent(workspace) + "/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      credentials: "omit"
    }).then(function (response) {
      return response.json().then(
        function (data) { return { status: response.status, data: data }; },
        function () { return { status: response.status, data: {} }; }
      );
    }).then(function (result) {
      log.removeChild(waiting);
      if (result.status === 200) {
        conversation = result.data.conversation || conversation;
        show(result.data);
      } else if (result.status === 429) {
        say("bot", "You are asking quickly. Please wait a minute and try again.", "error");
      } else {
        var message = result.data && result.data.error && result.data.error.message;
        say("bot", "Sorry, the question could not be answered" + (message ? ": " + message : "."), "error");
      }
    }).catch(function () {
      if (waiting.parentNode) { log.removeChild(waiting); }
      say("bot", "Sorry, the help service could not be reached. Please try again later.", "error");
    }).then(function () {
      busy = false;
      send.disabled = false;
      if (!panel.hidden) { input.focus(); }
    });
  }

  function mount() { document.body.appendChild(host); }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
"""
