// Knowledge gaps: the questions Docket answered badly (not answered, low confidence, rated not
// helpful), grouped by topic — the documents worth writing next.

import { api, listOf, withQuery } from "./api.js";
import { errorBox, fill, h } from "./dom.js";
import { isServerAdmin, session, workspaces } from "./session.js";

const REASONS = {
  abstained: "not answered",
  "low confidence": "low confidence",
  "negative feedback": "rated not helpful",
};

function reasons(counts) {
  return Object.entries(counts || {})
    .map(([reason, n]) => `${n} ${REASONS[reason] || reason}`)
    .join(", ");
}

function gapCard(gap, rank) {
  const id = `gap-${rank}`;
  return h(
    "article",
    { class: "card gap", "aria-labelledby": id },
    h("h2", { id }, gap.label, " ", h("span", { class: "badge" }, `${gap.count} ${gap.count === 1 ? "question" : "questions"}`)),
    h("p", { class: "muted" }, reasons(gap.reasons)),
    h(
      "ul",
      { class: "plain" },
      gap.examples.map((q) => h("li", {}, q)),
    ),
  );
}

export async function render(main) {
  const workspace = session.workspace;
  fill(
    main,
    h("h1", { tabindex: "-1" }, "Knowledge gaps"),
    h(
      "p",
      { class: "muted" },
      "What people asked",
      workspace ? ` in “${workspace}”` : "",
      " that the documents did not answer well — not answered, low confidence or rated not helpful — grouped by topic. ",
      "Each topic is a document worth writing.",
    ),
  );
  try {
    const params =
      workspace && (isServerAdmin() || workspaces().some((w) => w.name === workspace && w.role === "admin"))
        ? { workspace }
        : {};
    const data = await api("GET", withQuery("/api/gaps", params));
    const gaps = listOf(data, "gaps");
    main.append(
      h("p", {}, `${data.questions || 0} of ${data.considered || 0} questions asked fall in ${gaps.length} topics.`),
      ...(data.notes || []).map((note) => h("p", { class: "notice" }, note)),
      gaps.length
        ? h("div", { class: "stack" }, gaps.map((gap, i) => gapCard(gap, i + 1)))
        : h("p", { class: "empty" }, "No gaps: every question so far found a confident answer."),
    );
  } catch (err) {
    main.append(errorBox(err.message));
  }
}
