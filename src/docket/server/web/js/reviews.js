// Review: the drafts workflows parked for a person (a support reply, a follow-up email). Open one
// to read it with its citations and fields, edit the text, then approve or reject it; the table
// below says how often each workflow's drafts are accepted and how much they are edited.

import { api, listOf, withQuery } from "./api.js";
import { announce, errorBox, field, fill, h, table, when } from "./dom.js";

const TEXT_FIELDS = ["draft", "text", "reply", "body", "message"];

/** Where a draft keeps the text a person edits: "" for a plain string, a key, or null (none). */
function textKey(draft) {
  if (typeof draft === "string") return "";
  if (draft && typeof draft === "object" && !Array.isArray(draft)) {
    return TEXT_FIELDS.find((key) => typeof draft[key] === "string") ?? null;
  }
  return null;
}

function percent(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`;
}

function place(location) {
  if (!location) return "";
  if (typeof location !== "object") return String(location);
  if (location.label) return location.label;
  return Object.entries(location)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

function citationList(citations) {
  if (!Array.isArray(citations) || !citations.length) return h("p", { class: "muted" }, "No citations.");
  return h(
    "ol",
    { class: "review-citations" },
    citations.map((c) =>
      h(
        "li",
        {},
        h("span", { class: "path" }, c.path || "?"),
        place(c.location) ? h("span", { class: "muted" }, ` · ${place(c.location)}`) : null,
        c.quote || c.text ? h("blockquote", {}, c.quote || c.text) : null,
      ),
    ),
  );
}

function pendingList(items, openId) {
  if (!items.length) return h("p", { class: "empty" }, "No drafts are waiting for review.");
  return h(
    "ul",
    { class: "plain review-list" },
    items.map((item) =>
      h(
        "li",
        { dataset: { review: String(item.id) } },
        h(
          "a",
          { href: `#/reviews/${item.id}`, "aria-current": item.id === openId ? "true" : null },
          h("span", { class: "review-title" }, item.title || `Draft ${item.id}`),
          h(
            "span",
            { class: "muted review-meta" },
            `${item.workflow}${item.workspace ? ` · ${item.workspace}` : ""} · ${when(item.created)}`,
          ),
        ),
      ),
    ),
  );
}

function statsTable(rows) {
  return table(
    "Drafts per workflow",
    [
      ["Workflow", (r) => r.workflow],
      ["Pending", (r) => String(r.pending)],
      ["Approved", (r) => String(r.approved)],
      ["Edited", (r) => String(r.edited)],
      ["Rejected", (r) => String(r.rejected)],
      ["Acceptance rate", (r) => percent(r.acceptance_rate)],
      ["Mean edit size", (r) => percent(r.mean_edit_size)],
    ],
    rows,
    "No drafts reviewed yet.",
  );
}

function decisionView(item) {
  const key = textKey(item.final ?? item.draft);
  const value = item.final ?? item.draft;
  return [
    h(
      "p",
      { class: "notice", role: "status" },
      `${item.status[0].toUpperCase()}${item.status.slice(1)} by ${item.reviewer || "someone"} on ${when(item.decided)}`,
      item.comment ? ` — ${item.comment}` : "",
      item.status === "edited" ? ` (edit size ${percent(item.edit_size)})` : "",
      item.delivery ? `. Webhook: ${item.delivery}` : "",
    ),
    key === null ? h("pre", {}, JSON.stringify(value, null, 2)) : h("div", { class: "review-text" }, key ? value[key] : value),
  ];
}

/** The opened draft: its text to edit, its citations, its other fields as JSON, Approve / Reject. */
function draftView(item, done) {
  const headingId = `review-${item.id}-title`;
  const draft = item.draft;
  const key = textKey(draft);
  const meta = h(
    "dl",
    { class: "meta" },
    h("dt", {}, "Workflow"),
    h("dd", {}, item.workflow),
    item.workspace ? [h("dt", {}, "Workspace"), h("dd", {}, item.workspace)] : null,
    h("dt", {}, "Parked"),
    h("dd", {}, when(item.created)),
    h("dt", {}, "Status"),
    h("dd", {}, h("span", { class: `badge ${item.status}` }, item.status)),
  );
  const heading = h("h2", { id: headingId, tabindex: "-1" }, item.title || `Draft ${item.id}`);
  const article = h("article", { class: "card review-draft", "aria-labelledby": headingId }, heading, meta);
  if (item.status !== "pending") {
    article.append(...decisionView(item));
    return { article, heading };
  }

  const citations = draft && typeof draft === "object" && !Array.isArray(draft) ? draft.citations : null;
  const others = {};
  if (key === null) Object.assign(others, { value: draft });
  else if (key) {
    for (const [k, v] of Object.entries(draft)) if (k !== key && k !== "citations") others[k] = v;
  }
  const text =
    key === null ? null : h("textarea", { name: "reply", rows: "10", class: "review-reply" }, key ? draft[key] : draft);
  const hasOthers = Object.keys(others).length > 0;
  const json = hasOthers
    ? h("textarea", { name: "fields", rows: "8", class: "review-json", spellcheck: "false" }, JSON.stringify(others, null, 2))
    : null;
  const error = h("div");
  const approve = h("button", { type: "submit", class: "primary" }, "Approve");

  const finalValue = () => {
    let fields = {};
    if (json) {
      try {
        fields = JSON.parse(json.value);
      } catch (err) {
        throw Object.assign(new Error(`The other fields are not valid JSON: ${err.message}`), { input: json });
      }
    }
    if (key === null) return fields.value;
    if (key === "") return text.value;
    if (!fields || typeof fields !== "object" || Array.isArray(fields)) {
      throw Object.assign(new Error("The other fields must be a JSON object."), { input: json });
    }
    return { ...fields, ...(citations !== undefined && citations !== null ? { citations } : {}), [key]: text.value };
  };

  const form = h(
    "form",
    {
      class: "stack",
      "aria-label": "Approve the draft",
      onsubmit: async (event) => {
        event.preventDefault();
        fill(error);
        let final;
        try {
          final = finalValue();
        } catch (err) {
          fill(error, errorBox(err.message));
          (err.input || text || approve).focus();
          return;
        }
        approve.disabled = true;
        try {
          const result = await api("POST", `/api/reviews/${item.id}/approve`, { final });
          announce(result.status === "edited" ? "Draft approved with your edits." : "Draft approved.");
          done();
        } catch (err) {
          fill(error, errorBox(err.message));
          approve.disabled = false;
        }
      },
    },
    text ? field("Reply text", text, "Edit the text before approving; your changes are what gets sent.") : null,
    h("h3", {}, "Citations"),
    citationList(citations),
    json ? field("Other fields (JSON)", json) : null,
    error,
    h("div", { class: "actions" }, approve),
  );

  const reason = h("input", { type: "text", name: "reason", maxlength: "2000", autocomplete: "off" });
  const rejectError = h("div");
  const reject = h("button", { type: "submit", class: "danger" }, "Reject");
  const rejectForm = h(
    "form",
    {
      class: "row-form review-reject",
      "aria-label": "Reject the draft",
      onsubmit: async (event) => {
        event.preventDefault();
        fill(rejectError);
        reject.disabled = true;
        try {
          await api("POST", `/api/reviews/${item.id}/reject`, { reason: reason.value.trim() });
          announce("Draft rejected.");
          done();
        } catch (err) {
          fill(rejectError, errorBox(err.message));
          reject.disabled = false;
        }
      },
    },
    field("Reason for rejecting", reason),
    reject,
    rejectError,
  );
  article.append(form, rejectForm);
  return { article, heading };
}

export async function render(main, { rest } = {}) {
  const openId = rest && /^\d+$/.test(rest) ? Number(rest) : null;
  fill(
    main,
    h("h1", { tabindex: "-1" }, "Review"),
    h(
      "p",
      { class: "muted" },
      "Drafts that workflows parked for a person. Open one, edit it if needed, then approve or reject it; ",
      "an approved draft is sent on when its workflow says where.",
    ),
  );
  const [pending, stats, opened] = await Promise.all([
    api("GET", withQuery("/api/reviews", { status: "pending" })),
    api("GET", "/api/reviews/stats"),
    openId === null ? null : api("GET", `/api/reviews/${openId}`).catch((err) => err),
  ]);
  const done = () => {
    if (window.location.hash === "#/reviews") window.dispatchEvent(new HashChangeEvent("hashchange"));
    else window.location.hash = "#/reviews";
  };
  const items = listOf(pending, "reviews");
  let detail = items.length ? h("p", { class: "muted review-hint" }, "Pick a draft to read it.") : null;
  let focusTarget = null;
  if (opened instanceof Error) {
    detail = errorBox(opened.message);
  } else if (opened) {
    const view = draftView(opened, done);
    detail = view.article;
    focusTarget = view.heading;
  }
  main.append(
    h(
      "div",
      { class: "review-layout" },
      h(
        "section",
        { "aria-labelledby": "reviews-pending-title" },
        h("h2", { id: "reviews-pending-title" }, "Waiting for review"),
        pendingList(items, openId),
      ),
      h("section", { class: "review-detail", "aria-label": "The opened draft" }, detail),
    ),
    h(
      "section",
      { "aria-labelledby": "reviews-stats-title" },
      h("h2", { id: "reviews-stats-title" }, "Acceptance by workflow"),
      statsTable(listOf(stats, "workflows")),
    ),
  );
  if (focusTarget) {
    // after the router has focused the page heading: a keyboard user lands on the opened draft
    window.setTimeout(() => focusTarget.focus(), 0);
  }
}
