// The side panel that shows a cited passage, with the quoted sentence highlighted.

import { api } from "./api.js";
import { errorBox, fill, h } from "./dom.js";

const $ = (id) => document.getElementById(id);
let returnFocus = null;

function onKey(event) {
  if (event.key === "Escape") {
    event.preventDefault();
    closePanel();
  }
}

// A click or tap anywhere outside the panel closes it (seen first, in the capture phase, so a
// click on another citation closes this passage and then opens that one). The focus stays where
// the user put it.
function onOutside(event) {
  const panel = $("panel");
  if (!panel || panel.hidden || panel.contains(event.target)) return;
  closePanel({ restoreFocus: false });
}

/** Close the panel; the focus goes back to what opened it unless `restoreFocus` is false. */
export function closePanel({ restoreFocus = true } = {}) {
  const panel = $("panel");
  if (!panel || panel.hidden) return;
  panel.hidden = true;
  $("panel-backdrop").hidden = true;
  document.body.classList.remove("panel-open");
  document.removeEventListener("keydown", onKey);
  document.removeEventListener("click", onOutside, true);
  if (restoreFocus && returnFocus && document.contains(returnFocus)) returnFocus.focus();
  returnFocus = null;
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** [start, end) of `quote` in `text`: exact, else ignoring case and runs of white space; or null. */
export function findQuote(text, quote) {
  if (!quote) return null;
  const exact = text.indexOf(quote);
  if (exact >= 0) return [exact, exact + quote.length];
  const words = quote.trim().split(/\s+/).filter(Boolean).map(escapeRegExp);
  if (!words.length) return null;
  const match = new RegExp(words.join("\\s+"), "i").exec(text);
  return match ? [match.index, match.index + match[0].length] : null;
}

function passageText(text, quote) {
  const span = findQuote(text, quote);
  if (!span) return [h("p", { class: "passage-text" }, text), false];
  const [start, end] = span;
  return [
    h(
      "p",
      { class: "passage-text" },
      text.slice(0, start),
      h("mark", { class: "quote" }, text.slice(start, end)),
      text.slice(end),
    ),
    true,
  ];
}

/**
 * Open the panel on passage `chunkId`. `quote` is highlighted when given; `citation` adds its
 * number and support check; focus returns to `trigger` when the panel closes.
 */
export async function openPassage({ chunkId, quote = "", citation = null, trigger = null, fallback = null }) {
  const panel = $("panel");
  const body = $("panel-body");
  returnFocus = trigger || document.activeElement;
  panel.hidden = false;
  $("panel-backdrop").hidden = false;
  document.body.classList.add("panel-open");
  $("panel-title").textContent = citation ? `Source [${citation.n}]` : "Source";
  fill(body, h("p", { class: "muted", role: "status" }, "Loading the passage…"));
  $("panel-close").onclick = () => closePanel();
  document.removeEventListener("keydown", onKey);
  document.addEventListener("keydown", onKey);
  document.removeEventListener("click", onOutside, true);
  document.addEventListener("click", onOutside, true);
  $("panel-title").focus();

  let passage = null;
  let error = null;
  if (chunkId !== null && chunkId !== undefined) {
    try {
      passage = await api("GET", `/api/passages/${encodeURIComponent(chunkId)}`);
    } catch (err) {
      error = err.message;
    }
  } else {
    error = "This citation does not name a passage.";
  }
  if (!passage && fallback) {
    passage = fallback; // what the answer itself carried (path, location, text)
  }
  if (!passage) {
    fill(body, errorBox(error));
    return;
  }

  const location = (passage.location && passage.location.label) || (citation && citation.location && citation.location.label) || "";
  const [text, found] = passageText(passage.text || "", quote);
  const download = passage.document_url || (passage.doc_id ? `/api/documents/${encodeURIComponent(passage.doc_id)}/download` : null);
  fill(
    body,
    h("p", { class: "passage-title" }, passage.title || passage.path),
    h(
      "dl",
      { class: "meta" },
      h("dt", {}, "File"),
      h("dd", { class: "path" }, passage.path),
      location ? [h("dt", {}, "Location"), h("dd", { class: "location" }, location)] : null,
    ),
    citation && citation.supported === false
      ? h(
          "p",
          { class: "warning" },
          "Docket could not match this sentence of the answer closely to the passage: check it before relying on it.",
        )
      : null,
    quote && !found ? h("blockquote", { class: "quote-alone" }, h("mark", { class: "quote" }, quote)) : null,
    text,
    download ? h("p", {}, h("a", { href: download, class: "button secondary", download: "" }, "Download the document")) : null,
    error ? h("p", { class: "muted" }, `Showing what the answer carried: ${error}`) : null,
  );
  const mark = body.querySelector("mark.quote");
  if (mark) mark.scrollIntoView({ block: "center" });
}
