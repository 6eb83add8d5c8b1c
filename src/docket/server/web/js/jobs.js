// Ingestion jobs as the documents page shows them: progress, each file's state, what the job did
// and what failed, and what the server did with each uploaded file (kept both, replaced, skipped).

import { duration, h, when } from "./dom.js";

function jobProgress(job) {
  const p = job.progress || {};
  if (job.state === "queued") return h("progress", { "aria-label": `Job ${job.id} is waiting` });
  if (job.state !== "running") return null;
  const total = Number(p.total) || 0;
  const bar = total
    ? h("progress", { max: String(total), value: String(p.done || 0), "aria-label": `Job ${job.id} progress` })
    : h("progress", { "aria-label": `Job ${job.id} progress` });
  return h(
    "div",
    { class: "progress" },
    bar,
    h(
      "small",
      { class: "muted" },
      [total ? `${p.done || 0} of ${total} files` : "Reading files", p.file ? ` · ${p.file}` : "", p.eta_seconds ? ` · about ${duration(p.eta_seconds)} left` : ""].join(""),
    ),
  );
}

const FILE_OUTCOME = {
  added: () => "added",
  renamed: (f) => `a file of that name exists: kept both, this one stored as ${f.stored_as}`,
  replaced: () => "replaced the file of the same name",
  skipped: (f) => `skipped: ${f.reason || "not indexed"}`,
};

/** What the server did with each uploaded file (kept both, replaced, skipped) and its warnings. */
export function uploadOutcome(data) {
  const files = (Array.isArray(data.files) ? data.files : []).filter((f) => f && typeof f === "object");
  const warnings = Array.isArray(data.warnings) ? data.warnings : [];
  if (!files.length && !warnings.length) return null;
  return [
    files.length
      ? h(
          "ul",
          { class: "plain file-outcomes" },
          files.map((f) =>
            h(
              "li",
              { dataset: { status: f.status || "" } },
              h("span", { class: "path" }, f.name),
              ": ",
              (FILE_OUTCOME[f.status] || (() => f.status))(f),
            ),
          ),
        )
      : null,
    warnings.length ? h("ul", { class: "warning" }, warnings.map((w) => h("li", {}, w))) : null,
  ];
}

const FILE_STATE = { queued: "waiting", done: "indexed", unchanged: "unchanged", failed: "failed", skipped: "skipped" };

/** Each file of a job with its state, when the server reports them (progress.files). */
function jobFiles(job) {
  const files = (job.progress && Array.isArray(job.progress.files) && job.progress.files) || [];
  if (!files.length) return null;
  return h(
    "ul",
    { class: "plain job-files" },
    files.map((f) =>
      h(
        "li",
        { dataset: { state: f.state || "" } },
        h("span", { class: "path" }, f.name),
        " ",
        h("span", { class: `badge ${f.state === "failed" ? "failed" : f.state === "done" ? "done" : ""}` }, FILE_STATE[f.state] || f.state),
        f.error ? h("small", { class: "muted" }, ` ${f.error}`) : null,
      ),
    ),
  );
}

function jobReport(job) {
  const r = job.report;
  if (!r) return null;
  const counts = ["added", "updated", "unchanged", "deleted"]
    .filter((k) => r[k])
    .map((k) => `${r[k]} ${k}`);
  if (r.pages_ocr) counts.push(`${r.pages_ocr} scanned ${r.pages_ocr === 1 ? "page" : "pages"} read by OCR`);
  if (r.pages_unreadable) counts.push(`${r.pages_unreadable} ${r.pages_unreadable === 1 ? "page" : "pages"} unreadable`);
  const failed = r.failed || [];
  const before = r.failed_before || [];
  return [
    h("p", { class: "muted" }, counts.length ? counts.join(" · ") : "Nothing changed."),
    failed.length
      ? h(
          "ul",
          { class: "failures" },
          failed.map((f) => h("li", {}, h("span", { class: "path" }, f.path), ": ", f.error)),
        )
      : null,
    // files that failed before and have not changed: not parsed again (Retry parses them again)
    before.length
      ? h(
          "ul",
          { class: "failures failed-before" },
          before.map((f) =>
            h("li", {}, h("span", { class: "path" }, f.path), ": ", f.error, h("small", { class: "muted" }, " (failed before, unchanged: not parsed again)")),
          ),
        )
      : null,
  ];
}

const STATE_LABEL = { queued: "Waiting", running: "Indexing", done: "Done", failed: "Failed" };

export function jobItem(job, retry) {
  const listed = (v) => (Array.isArray(v) ? v : []); // a restricted job's report has counts, not lists
  const failedFiles = job.report ? [...listed(job.report.failed), ...listed(job.report.failed_before)] : [];
  const state = job.state === "done" && failedFiles.length ? "done with errors" : STATE_LABEL[job.state] || job.state;
  return h(
    "li",
    { class: `job state-${job.state}`, dataset: { state: job.state, job: String(job.id) } },
    h(
      "div",
      { class: "job-head" },
      h("strong", {}, `Job ${job.id}`),
      h("span", { class: `badge ${job.state}` }, state),
      h("small", { class: "muted" }, when(job.finished || job.started || job.created)),
    ),
    jobProgress(job),
    jobFiles(job),
    jobReport(job),
    job.error ? h("p", { class: "error" }, job.error) : null,
    job.state === "failed" || failedFiles.length
      ? h("button", { type: "button", class: "secondary small", onclick: () => retry(job) }, "Retry")
      : null,
  );
}

