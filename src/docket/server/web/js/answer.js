// One answer on screen: its text with [n] citations as buttons, its sources, and feedback.
// Shared by the chat view and anything else that shows an answer.

import { api } from "./api.js";
import { announce, fill, h, newId } from "./dom.js";
import { icon } from "./icons.js";
import { renderMarkdown } from "./markdown.js";
import { openPassage } from "./panel.js";

/**
 * The source passage a citation points at. Citations carry `n`; an answer's `sources` are the
 * passages it was drawn from. Prefer an explicit chunk id, then the source of the same file whose
 * character range holds the quote (or whose text contains it), then sources[n - 1].
 */
export function sourceFor(citation, sources) {
  if (!citation) return null;
  if (citation.chunk_id !== undefined && citation.chunk_id !== null) {
    return sources.find((s) => s.chunk_id === citation.chunk_id) || { chunk_id: citation.chunk_id, path: citation.path };
  }
  const loc = citation.location || {};
  const samePath = sources.filter((s) => s.path === citation.path);
  if (typeof loc.char_start === "number") {
    const inside = samePath.find((s) => {
      const sl = s.location || {};
      return typeof sl.char_start === "number" && sl.char_start <= loc.char_start && loc.char_start < (sl.char_end ?? Infinity);
    });
    if (inside) return inside;
  }
  if (citation.quote) {
    const holding = samePath.find((s) => typeof s.text === "string" && s.text.includes(citation.quote));
    if (holding) return holding;
  }
  const byNumber = sources[citation.n - 1];
  if (byNumber && (!samePath.length || byNumber.path === citation.path)) return byNumber;
  return samePath[0] || byNumber || null;
}

function citeButton(citation, source, label) {
  const where = (citation.location && citation.location.label) || "";
  return h(
    "button",
    {
      type: "button",
      class: `cite${citation.supported === false ? " unsupported" : ""}`,
      "aria-label": `Source ${citation.n}: ${citation.path}${where ? `, ${where}` : ""}`,
      title: `${citation.path}${where ? ` · ${where}` : ""}`,
      dataset: { n: String(citation.n) },
      onclick: (event) =>
        openPassage({
          chunkId: source ? source.chunk_id : null,
          quote: citation.quote,
          citation,
          trigger: event.currentTarget,
          fallback: source && source.text ? source : null,
        }),
    },
    label,
  );
}

const CITE = /\[(\d+)\]/g;

/** Text nodes of `root` that may hold [n] markers: not inside code, a link or a button. */
function markerNodes(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) =>
      node.parentElement && node.parentElement.closest("code, pre, a, button")
        ? NodeFilter.FILTER_REJECT
        : NodeFilter.FILTER_ACCEPT,
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  return nodes;
}

/**
 * The answer's text: its Markdown rendered and sanitised (./markdown.js), each [n] it cites a
 * button opening that passage. The numbers are the server's: they are shown, never renumbered.
 */
export function answerText(answer) {
  const citations = answer.citations || [];
  const sources = answer.sources || [];
  const seen = {};
  const body = h("div", { class: "answer-text" });
  const text = answer.answer ?? answer.text ?? "";
  body.append(renderMarkdown(text));
  for (const node of markerNodes(body)) {
    const value = node.nodeValue;
    CITE.lastIndex = 0;
    if (!CITE.test(value)) continue;
    CITE.lastIndex = 0;
    const parts = [];
    let last = 0;
    let match;
    while ((match = CITE.exec(value)) !== null) {
      parts.push(value.slice(last, match.index));
      const n = Number(match[1]);
      const mine = citations.filter((c) => c.n === n);
      if (mine.length) {
        // the k-th [n] in the text is the k-th citation numbered n (each quotes its own sentence)
        const k = seen[n] || 0;
        seen[n] = k + 1;
        const citation = mine[Math.min(k, mine.length - 1)];
        parts.push(citeButton(citation, sourceFor(citation, sources), String(n)));
      } else {
        parts.push(match[0]);
      }
      last = CITE.lastIndex;
    }
    parts.push(value.slice(last));
    node.replaceWith(...parts.filter((p) => p !== ""));
  }
  for (const tableEl of body.querySelectorAll("table")) {
    const wrap = h("div", { class: "table-wrap" });
    tableEl.replaceWith(wrap);
    wrap.append(tableEl);
  }
  return body;
}

/** The citations under the answer, by number: document, page or section, and the quoted words. */
function citationList(answer) {
  const citations = answer.citations || [];
  const sources = answer.sources || [];
  const byNumber = new Map();
  for (const c of citations) if (!byNumber.has(c.n)) byNumber.set(c.n, c);
  if (!byNumber.size) return null;
  return h(
    "ol",
    { class: "citations", "aria-label": "Citations" },
    [...byNumber.values()].map((c) => {
      const source = sourceFor(c, sources);
      const label = (source && source.title) || c.title || c.path;
      const where = c.location && c.location.label;
      return h(
        "li",
        { dataset: { n: String(c.n) } },
        h("span", { class: "cite-n", "aria-hidden": "true" }, `[${c.n}]`),
        " ",
        h(
          "button",
          {
            type: "button",
            class: "link cite-doc",
            onclick: (event) =>
              openPassage({
                chunkId: source ? source.chunk_id : null,
                quote: c.quote,
                citation: c,
                trigger: event.currentTarget,
                fallback: source && source.text ? source : null,
              }),
          },
          label,
        ),
        where ? h("span", { class: "muted cite-where" }, ` · ${where}`) : null,
        c.quote ? h("q", { class: "cite-quote" }, c.quote) : null,
      );
    }),
  );
}

function sourcesList(answer) {
  const sources = answer.sources || [];
  if (!sources.length) return null;
  return h(
    "details",
    { class: "sources" },
    h("summary", {}, `Sources (${sources.length})`),
    h(
      "ol",
      {},
      sources.map((s) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "link",
              onclick: (event) => openPassage({ chunkId: s.chunk_id, trigger: event.currentTarget, fallback: s.text ? s : null }),
            },
            s.title || s.path,
          ),
          " ",
          h("span", { class: "muted" }, [s.path, s.location && s.location.label].filter(Boolean).join(" · ")),
        ),
      ),
    ),
  );
}

/** Thumbs up / down, then an optional comment, for the answer logged as `logId`. */
export function feedbackControls(logId) {
  if (logId === null || logId === undefined) return null;
  const status = h("span", { class: "muted feedback-status", role: "status" });
  let rating = 0;
  const comment = h("textarea", { rows: "2", maxlength: "4000" });
  const commentId = newId("comment");
  comment.id = commentId;
  const send = async (value, text = "") => {
    await api("POST", "/api/feedback", { log_id: logId, rating: value, comment: text });
  };
  const form = h(
    "form",
    {
      class: "comment-form",
      hidden: true,
      onsubmit: async (event) => {
        event.preventDefault();
        if (!comment.value.trim()) return;
        try {
          await send(rating, comment.value.trim());
          form.hidden = true;
          status.textContent = "Thank you: your comment was sent.";
        } catch (err) {
          status.textContent = `The comment was not sent: ${err.message}`;
        }
      },
    },
    h("label", { for: commentId }, "What was good or wrong? (optional)"),
    comment,
    h("button", { type: "submit", class: "secondary" }, "Send comment"),
  );
  const thumb = (value, label, name) =>
    h(
      "button",
      {
        type: "button",
        class: "thumb",
        "aria-pressed": "false",
        "aria-label": label,
        title: label,
        dataset: { rating: String(value) },
        onclick: async (event) => {
          const button = event.currentTarget;
          try {
            await send(value);
            rating = value;
            for (const b of button.parentElement.querySelectorAll(".thumb")) {
              b.setAttribute("aria-pressed", String(b === button));
            }
            status.textContent = value > 0 ? "Thanks! Marked as helpful." : "Thanks. Marked as not helpful.";
            form.hidden = false;
          } catch (err) {
            announce(`Feedback not sent: ${err.message}`, "error");
          }
        },
      },
      icon(name),
    );
  return h(
    "div",
    { class: "feedback" },
    h(
      "div",
      { class: "thumbs", role: "group", "aria-label": "Was this answer helpful?" },
      h("span", { class: "muted", "aria-hidden": "true" }, "Helpful?"),
      thumb(1, "Helpful", "up"),
      thumb(-1, "Not helpful", "down"),
      status,
    ),
    form,
  );
}

/** Fill `container` with a finished answer. */
export function showAnswer(container, answer) {
  container.classList.toggle("abstained", Boolean(answer.abstained));
  const notes = answer.notes || [];
  fill(
    container,
    answer.abstained
      ? h("p", { class: "abstain-label" }, "No answer found in the documents")
      : null,
    answerText(answer),
    citationList(answer),
    notes.length ? h("ul", { class: "notes" }, notes.map((n) => h("li", {}, n))) : null,
    answer.model ? h("p", { class: "muted model" }, `Written by ${answer.model}`) : null,
    answer.table ? tableResult(answer.table) : null,
    sourcesList(answer),
    feedbackControls(answer.log_id),
  );
}

function tableResult(result) {
  if (!result.columns || !result.columns.length) return null;
  return h(
    "details",
    { class: "sources" },
    h("summary", {}, "The figures, as computed"),
    h("pre", { class: "sql" }, result.sql || ""),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, result.columns.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, result.rows.map((r) => h("tr", {}, r.map((v) => h("td", {}, v === null ? "" : String(v)))))),
      ),
    ),
  );
}
