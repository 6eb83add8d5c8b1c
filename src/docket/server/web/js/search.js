// Search: the passages that match a query, best first, with their score, file and location.

import { api, listOf, withQuery } from "./api.js";
import { errorBox, fill, h } from "./dom.js";
import { openPassage } from "./panel.js";
import { session } from "./session.js";

const RECENT = { q: "", k: "10" };

function result(hit, index) {
  const where = hit.location && hit.location.label;
  return h(
    "li",
    { class: "hit" },
    h(
      "div",
      { class: "hit-head" },
      h("span", { class: "rank", "aria-hidden": "true" }, `${index + 1}.`),
      h("h2", { class: "hit-title" }, hit.title || hit.path),
      h("span", { class: "score", title: "Relevance score" }, `score ${Number(hit.score).toFixed(3)}`),
    ),
    h("p", { class: "hit-meta" }, h("span", { class: "path" }, hit.path), where ? ` · ${where}` : ""),
    h("p", { class: "hit-text" }, hit.text),
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick: (event) => openPassage({ chunkId: hit.chunk_id, trigger: event.currentTarget, fallback: hit }),
      },
      "Open the passage",
      h("span", { class: "sr-only" }, ` ${index + 1}: ${hit.title || hit.path}`),
    ),
  );
}

/** Nothing found: the server's message ("No documents match") and its suggestions, each a query to run. */
function noMatch(q, data, runSuggestion) {
  const suggestions = (Array.isArray(data && data.suggestions) ? data.suggestions : []).filter(
    (s) => typeof s === "string" && s.trim(),
  );
  const message = (data && data.message) || "No documents match";
  return h(
    "div",
    { class: "no-match" },
    h("p", { role: "status" }, h("strong", {}, message), ` for “${q}”.`),
    suggestions.length
      ? [
          h("p", { class: "muted" }, "Try instead:"),
          h(
            "ul",
            { class: "suggestions" },
            suggestions.map((s) =>
              h(
                "li",
                {},
                h(
                  "a",
                  {
                    href: "#/search",
                    onclick: (event) => {
                      event.preventDefault();
                      runSuggestion(s);
                    },
                  },
                  s,
                ),
              ),
            ),
          ),
        ]
      : null,
  );
}

export async function render(main) {
  const input = h("input", { id: "search-q", type: "search", name: "q", required: true, value: RECENT.q });
  const k = h(
    "select",
    { id: "search-k", name: "k" },
    ["5", "10", "20", "50"].map((n) => h("option", { value: n, selected: n === RECENT.k }, n)),
  );
  const results = h("div", { class: "results", "aria-live": "polite" });

  const run = async () => {
    const q = input.value.trim();
    RECENT.q = q;
    RECENT.k = k.value;
    if (!q) return;
    fill(results, h("p", { class: "muted", role: "status" }, "Searching…"));
    try {
      const data = await api("GET", withQuery("/api/search", { q, k: k.value, workspace: session.workspace }));
      const hits = listOf(data, "hits");
      if (!hits.length) {
        fill(results, noMatch(q, data, (suggestion) => {
          input.value = suggestion;
          run();
        }));
        return;
      }
      fill(
        results,
        h("p", { class: "muted", role: "status" }, `${hits.length} passages`),
        h("ol", { class: "hits" }, hits.map(result)),
      );
    } catch (err) {
      fill(results, errorBox(err.message));
    }
  };

  fill(
    main,
    h("h1", { tabindex: "-1" }, "Search"),
    h(
      "form",
      {
        class: "search-form",
        role: "search",
        onsubmit: (event) => {
          event.preventDefault();
          run();
        },
      },
      h("div", { class: "field grow" }, h("label", { for: "search-q" }, "Search the documents"), input),
      h("div", { class: "field" }, h("label", { for: "search-k" }, "Results"), k),
      h("button", { type: "submit", class: "primary" }, "Search"),
    ),
    results,
  );
  if (RECENT.q) run();
}
