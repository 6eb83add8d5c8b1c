// Documents: upload files (drag and drop or pick; keep both or replace a file of the same name),
// follow their indexing live (./jobs.js), page through and search the library, see what failed
// and why, how well each file was read (parse quality, page by page on demand), download, re-sync
// or delete a document.

import { api, listOf, withQuery } from "./api.js";
import { announce, bytes, confirmAction, errorBox, field, fill, h, table, when } from "./dom.js";
import { icon } from "./icons.js";
import { jobItem, uploadOutcome } from "./jobs.js";
import { can, session } from "./session.js";

const ACTIVE = new Set(["queued", "running"]);
// a page of the list: fewer on a phone, where each document is a card
const perPage = () => (window.matchMedia("(max-width: 40rem)").matches ? 20 : 50);
const FILE_TYPES = ["pdf", "docx", "doc", "pptx", "xlsx", "csv", "md", "txt", "html", "eml", "json"];
const POLL_MS = 1000;

function pageRanges(numbers) {
  const spans = [];
  for (const n of numbers) {
    const last = spans[spans.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else spans.push([n, n]);
  }
  return spans.map(([a, b]) => (a === b ? String(a) : `${a}–${b}`)).join(", ");
}

function percent(x) {
  return `${Math.round(x * 100)}%`;
}

function readersText(q) {
  if (!q.readers) return q.parser;
  const entries = Object.entries(q.readers).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return "no text";
  if (entries.length === 1) return entries[0][0];
  return entries.map(([name, pages]) => `${name} ${pages}`).join(", ");
}

// One document's pages, fetched when its "Pages" disclosure is first opened.
function pagesTable(quality) {
  const pages = quality.page_details || [];
  return table(
    null,
    [
      ["Page", (p) => String(p.page)],
      ["Read with", (p) => p.reader || "—"],
      ["Characters", (p) => p.chars.toLocaleString()],
      ["Words", (p) => p.words.toLocaleString()],
      ["Note", (p) => p.reason || (p.ocr_confidence != null ? `OCR, confidence ${percent(p.ocr_confidence)}` : "") || (p.fallback ? `read again: ${p.fallback}` : "")],
    ],
    pages,
    "No pages.",
  );
}

// Title, what the document is (its profile: organisation, type, period) and its path.
function documentCell(d) {
  const label = d.profile && d.profile.label;
  return h(
    "span",
    {},
    h("span", { class: "doc-title" }, d.title || d.path),
    label ? h("br") : null,
    label ? h("small", { class: "profile", title: "What the document is about, read from its text" }, label) : null,
    h("br"),
    h("small", { class: "path" }, d.path),
  );
}

function qualityCell(doc) {
  const q = doc.quality;
  if (!q) return h("span", { class: "muted", title: "Indexed before parse quality was recorded" }, "not recorded");
  const without = q.pages_without_text || [];
  const ocr = q.ocr_pages || [];
  const again = (q.rechecked_pages || []).filter((p) => !without.includes(p) && !ocr.includes(p));
  const warnings = q.warnings || [];
  const counts = q.pages !== undefined && q.pages !== null
    ? `${q.pages} ${q.pages === 1 ? "page" : "pages"} · ${Math.round(q.chars_per_page || 0).toLocaleString()} chars/page`
    : `${(q.chars || 0).toLocaleString()} chars`;
  const box = h("div", { class: "pages-box" });
  let loaded = false;
  return h(
    "div",
    { class: "quality", dataset: { path: doc.path } },
    h("span", {}, counts),
    h("br"),
    h("small", { class: "muted" }, q.readers && !Object.keys(q.readers).length ? "no text to search" : `read with ${readersText(q)}`),
    without.length
      ? h("span", { class: "badge warn", title: "These pages have no text that can be searched" }, `no text: p. ${pageRanges(without)}`)
      : null,
    again.length ? h("span", { class: "badge", title: "Read again by the second reader" }, `read again: p. ${pageRanges(again)}`) : null,
    ocr.length
      ? h(
          "span",
          { class: "badge", title: "Scanned pages: their text was read by OCR" },
          `OCR: p. ${pageRanges(ocr)}${q.ocr_confidence != null ? ` · ${percent(q.ocr_confidence)}` : ""}`,
        )
      : null,
    warnings.length
      ? h(
          "details",
          { class: "quality-warnings" },
          h("summary", {}, `${warnings.length} ${warnings.length === 1 ? "warning" : "warnings"}`),
          h("ul", {}, warnings.map((w) => h("li", {}, w))),
        )
      : null,
    q.pages
      ? h(
          "details",
          {
            class: "quality-pages",
            ontoggle: async (event) => {
              if (!event.target.open || loaded) return;
              loaded = true;
              fill(box, h("p", { class: "muted" }, "Loading pages…"));
              try {
                const data = await api("GET", `/api/documents/${encodeURIComponent(doc.id)}/quality`);
                fill(box, data.quality ? pagesTable(data.quality) : h("p", { class: "muted" }, "Not recorded."));
              } catch (err) {
                loaded = false;
                fill(box, errorBox(err.message));
              }
            },
          },
          h("summary", {}, "Pages", h("span", { class: "sr-only" }, ` of ${doc.path}`)),
          box,
        )
      : null,
  );
}

const plural = (n, word) => `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;

// One source's totals (GET /api/quality/sources): "/path: 40 files · 312 pages, 12 read by OCR
// (confidence 91%) · 2 pages without text". Source names are server paths: admins get them, others a label.
function sourceQualityItem(src) {
  const parsers = Object.entries(src.parsers || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const parts = [plural(src.files, "file")];
  if (src.pages) {
    let pages = plural(src.pages, "page");
    if (src.pages_ocr) pages += `, ${src.pages_ocr.toLocaleString()} read by OCR${src.ocr_confidence != null ? ` (confidence ${percent(src.ocr_confidence)})` : ""}`;
    parts.push(pages);
  }
  const without = Object.entries(src.pages_without_text || {});
  const withoutCount = without.reduce((sum, [, n]) => sum + n, 0);
  const reasons = without.map(([reason, n]) => `${reason}: ${n}`).join(", ");
  return h(
    "li",
    { dataset: { source: src.name || src.label } },
    h("span", { class: "path", title: src.name || null }, src.name || src.label),
    ": ",
    parts.join(" · "),
    withoutCount ? [" · ", h("span", { class: "warn-text", title: `Why: ${reasons}` }, `${plural(withoutCount, "page")} without text`)] : null,
    src.files_with_warnings ? ` · ${plural(src.files_with_warnings, "file")} with warnings` : null,
    src.not_recorded ? h("span", { class: "muted" }, ` · ${src.not_recorded.toLocaleString()} not recorded`) : null,
  );
}

export async function render(main) {
  const workspace = session.workspace;
  const editor = workspace && can("editor");
  const jobsBox = h("div", { class: "jobs-box" });
  const docsBox = h("div", { "aria-live": "off" });
  const docsTitle = h("h2", { id: "docs-title" }, "Indexed documents");
  const failuresBox = h("div");
  const qualityBox = h("div", { class: "source-quality" });
  const status = h("p", { class: "muted", role: "status" });
  let timer = null;
  let stopped = false;
  let lastActive = new Set();

  // the list is paged, searched and filtered by the server (GET /api/documents): at most PER_PAGE rows
  const query = { q: "", type: "", status: "", org: "", source: "", page: 1 };
  const PER_PAGE = perPage();
  const searchInput = h("input", { id: "docs-q", type: "search", name: "q", placeholder: "Name or title" });
  const typeSelect = h(
    "select",
    { id: "docs-type", name: "type" },
    h("option", { value: "" }, "All types"),
    FILE_TYPES.map((t) => h("option", { value: t }, t)),
  );
  const statusSelect = h(
    "select",
    { id: "docs-status", name: "status" },
    h("option", { value: "" }, "All"),
    h("option", { value: "indexed" }, "Indexed"),
    h("option", { value: "failed" }, "Could not be read"),
  );
  const orgInput = h("input", { id: "docs-org", type: "text", name: "org", placeholder: "Organisation" });
  // the sources come with the list (for admins: their names are server paths); shown when there are several
  const sourceSelect = h("select", { id: "docs-source", name: "source" }, h("option", { value: "" }, "All sources"));
  const sourceField = h("div", { class: "field", hidden: true }, h("label", { for: "docs-source" }, "Source"), sourceSelect);
  const showSources = (sources) => {
    if (sourceSelect.options.length > 1 || sources.length < 2) return;
    sourceSelect.append(...sources.map((src) => h("option", { value: src.name, title: src.name }, src.label || src.name)));
    sourceField.hidden = false;
  };
  const pager = h("nav", { class: "pager", "aria-label": "Pages of documents" });
  const filters = h(
    "form",
    {
      class: "doc-filters",
      role: "search",
      "aria-label": "Find documents",
      onsubmit: (event) => {
        event.preventDefault();
        applyFilters();
      },
    },
    h("div", { class: "field grow" }, h("label", { for: "docs-q" }, "Search documents"), searchInput),
    h("div", { class: "field" }, h("label", { for: "docs-type" }, "Type"), typeSelect),
    h("div", { class: "field" }, h("label", { for: "docs-status" }, "Status"), statusSelect),
    h("div", { class: "field" }, h("label", { for: "docs-org" }, "Organisation"), orgInput),
    sourceField,
    h("button", { type: "submit", class: "secondary" }, "Find"),
  );
  let typing = null;
  const applyFilters = () => {
    window.clearTimeout(typing);
    query.q = searchInput.value.trim();
    query.type = typeSelect.value;
    query.status = statusSelect.value;
    query.org = orgInput.value.trim();
    query.source = sourceSelect.value;
    query.page = 1;
    loadDocuments();
  };
  searchInput.addEventListener("input", () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(applyFilters, 300);
  });
  typeSelect.addEventListener("change", applyFilters);
  statusSelect.addEventListener("change", applyFilters);
  sourceSelect.addEventListener("change", applyFilters);

  const pagerButtons = (total) => {
    const pages = Math.max(1, Math.ceil(total / PER_PAGE));
    const first = total ? (query.page - 1) * PER_PAGE + 1 : 0;
    const last = Math.min(total, query.page * PER_PAGE);
    const go = (page) => {
      query.page = page;
      loadDocuments().then(() => docsTitle.scrollIntoView({ block: "start" }));
    };
    return [
      h(
        "button",
        { type: "button", class: "secondary small", disabled: query.page <= 1, onclick: () => go(query.page - 1) },
        "Previous",
        h("span", { class: "sr-only" }, " page"),
      ),
      h("span", { class: "muted page-status" }, total ? `${first}–${last} of ${total} · page ${query.page} of ${pages}` : ""),
      h(
        "button",
        { type: "button", class: "secondary small", disabled: query.page >= pages, onclick: () => go(query.page + 1) },
        "Next",
        h("span", { class: "sr-only" }, " page"),
      ),
    ];
  };

  let loads = 0; // filters changed quickly: only the latest request's answer is drawn
  const loadDocuments = async () => {
    const mine = ++loads;
    try {
      const data = await api(
        "GET",
        withQuery("/api/documents", {
          workspace,
          q: query.q || undefined,
          type: query.type || undefined,
          status: query.status || undefined,
          org: query.org || undefined,
          source: query.source || undefined,
          page: query.page,
          per_page: PER_PAGE,
        }),
      );
      if (mine !== loads) return;
      const docs = listOf(data, "documents");
      const failures = listOf(data, "failures");
      showSources(listOf(data, "sources"));
      const total = typeof data.total === "number" ? data.total : docs.length;
      if (!docs.length && total && query.page > 1) {
        query.page = Math.max(1, Math.ceil(total / PER_PAGE)); // past the end (a delete): the last page
        return loadDocuments();
      }
      const filtered = Boolean(query.q || query.type || query.status || query.org || query.source);
      fill(pager, total > PER_PAGE ? pagerButtons(total) : null);
      fill(
        docsBox,
        query.status === "failed"
          ? null
          : docTable(
              `${total} ${total === 1 ? "document" : "documents"}${filtered ? " match" : ""}`,
              docs,
              filtered ? "No documents match." : "No documents in this workspace yet.",
            ),
      );
      fill(
        failuresBox,
        failures.length
          ? [
              h("h2", {}, "Files that could not be read"),
              h(
                "ul",
                { class: "failures" },
                failures.map((f) => h("li", {}, h("span", { class: "path" }, f.path), ": ", f.error)),
              ),
            ]
          : query.status === "failed"
            ? h("p", { class: "empty" }, "No file failed.")
            : null,
      );
    } catch (err) {
      if (mine === loads) fill(docsBox, errorBox(err.message));
    }
  };

  // how well each source's files were read, over the documents the caller may read
  const loadQuality = async () => {
    try {
      const sources = listOf(await api("GET", withQuery("/api/quality/sources", { workspace })), "sources");
      fill(
        qualityBox,
        sources.length
          ? [h("h3", { id: "quality-title" }, "Parse quality by source"), h("ul", { "aria-labelledby": "quality-title" }, sources.map(sourceQualityItem))]
          : null,
      );
    } catch (err) {
      fill(qualityBox, errorBox(err.message));
    }
  };

  const docTable = (caption, docs, emptyText) => {
    if (!docs.length) return h("p", { class: "empty" }, emptyText);
    const columns = [
      ["Document", (d) => documentCell(d), "doc-cell"],
      ["Type", (d) => d.filetype],
      ["Size", (d) => bytes(d.size)],
      ["Parse quality", (d) => qualityCell(d)],
      ["Modified", (d) => when(d.modified)],
      ["Actions", (d) => docActions(d), "doc-cell"],
    ];
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "doc-table" },
        h("caption", {}, caption),
        h("thead", {}, h("tr", {}, columns.map(([heading]) => h("th", { scope: "col" }, heading)))),
        h(
          "tbody",
          {},
          docs.map((d) =>
            h(
              "tr",
              {},
              columns.map(([heading, cell, cls]) => h("td", { "data-label": heading, class: cls || null }, cell(d))),
            ),
          ),
        ),
      ),
    );
  };

  const retry = async (job) => {
    try {
      await api("POST", `/api/jobs/${job.id}/retry`);
      lastActive.add(job.id);
      announce(`Job ${job.id} queued again.`);
      pollJobs();
    } catch (err) {
      announce(err.message, "error");
    }
  };

  const pollJobs = async () => {
    window.clearTimeout(timer);
    if (stopped) return;
    let jobs = [];
    try {
      jobs = listOf(await api("GET", withQuery("/api/jobs", { workspace, limit: 10 })), "jobs").slice(0, 10);
    } catch (err) {
      fill(jobsBox, errorBox(err.message));
      return;
    }
    if (stopped) return;
    fill(jobsBox, jobs.length ? h("ul", { class: "jobs" }, jobs.map((j) => jobItem(j, retry))) : h("p", { class: "empty" }, "No uploads yet."));
    const active = new Set(jobs.filter((j) => ACTIVE.has(j.state)).map((j) => j.id));
    const finished = [...lastActive].filter((id) => !active.has(id));
    if (finished.length) {
      for (const id of finished) {
        const job = jobs.find((j) => j.id === id);
        if (job) announce(job.state === "failed" ? `Job ${id} failed: ${job.error || ""}` : `Job ${id} is done.`, job.state === "failed" ? "error" : "info");
      }
      loadDocuments();
      loadQuality();
    }
    lastActive = active;
    if (active.size) timer = window.setTimeout(pollJobs, POLL_MS);
  };

  const docActions = (doc) =>
    h(
      "div",
      { class: "actions" },
      h("a", { class: "button secondary small", href: `/api/documents/${encodeURIComponent(doc.id)}/download`, download: "" }, "Download", h("span", { class: "sr-only" }, ` ${doc.path}`)),
      editor
        ? h(
            "button",
            {
              type: "button",
              class: "secondary small",
              onclick: async () => {
                try {
                  const data = await api("POST", `/api/documents/${encodeURIComponent(doc.id)}/resync`);
                  if (data && data.job) lastActive.add(data.job.id);
                  announce(`Re-syncing ${doc.path}.`);
                  pollJobs();
                } catch (err) {
                  announce(err.message, "error");
                }
              },
            },
            "Re-sync",
            h("span", { class: "sr-only" }, ` ${doc.path}`),
          )
        : null,
      editor && doc.uploaded !== false
        ? h(
            "button",
            {
              type: "button",
              class: "danger small",
              onclick: async () => {
                if (!(await confirmAction(`Delete ${doc.path}? Its file and its passages are removed.`))) return;
                try {
                  await api("DELETE", `/api/documents/${encodeURIComponent(doc.id)}`);
                  announce(`Deleted ${doc.path}.`);
                  loadDocuments();
                  loadQuality();
                } catch (err) {
                  announce(err.message, "error");
                }
              },
            },
            "Delete",
            h("span", { class: "sr-only" }, ` ${doc.path}`),
          )
        : null,
    );

  const upload = async (files) => {
    if (!files.length) return;
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    if (access.value.trim()) form.append("access", access.value.trim());
    const same = zone.querySelector("input[name='if_exists']:checked");
    form.append("if_exists", same ? same.value : "rename");
    status.textContent = `Uploading ${files.length} ${files.length === 1 ? "file" : "files"}…`;
    try {
      const data = await api("POST", `/api/workspaces/${encodeURIComponent(workspace)}/documents`, form);
      status.textContent = data.job
        ? `Uploaded; indexing in the background (job ${data.job.id}).`
        : "Nothing to index.";
      fill(uploadResults, uploadOutcome(data));
      if (data.job) lastActive.add(data.job.id);
      fileInput.value = "";
      pollJobs();
    } catch (err) {
      status.textContent = "";
      announce(`Upload failed: ${err.message}`, "error");
      fill(uploadError, errorBox(`Upload failed: ${err.message}`));
    }
  };

  const fileInput = h("input", { id: "upload-files", type: "file", name: "files", multiple: true });
  const access = h("input", { id: "upload-access", type: "text", name: "access", placeholder: "user:ann@example.com, group:hr" });
  const uploadError = h("div");
  const uploadResults = h("div", { class: "upload-results" });
  const sameName = h(
    "fieldset",
    { class: "same-name" },
    h("legend", {}, "If a document of the same name exists"),
    h(
      "label",
      {},
      h("input", { type: "radio", name: "if_exists", value: "rename", checked: true }),
      " Keep both (the new one is renamed)",
    ),
    h("label", {}, h("input", { type: "radio", name: "if_exists", value: "replace" }), " Replace it"),
  );
  const zone = h(
    "form",
    {
      class: "dropzone",
      "aria-labelledby": "upload-title",
      onsubmit: (event) => {
        event.preventDefault();
        fill(uploadError);
        if (!fileInput.files.length) {
          fill(uploadError, errorBox("Choose one or more files first."));
          fileInput.focus();
          return;
        }
        upload([...fileInput.files]);
      },
    },
    h("h2", { id: "upload-title" }, icon("upload", 20), " Add documents"),
    h("p", { class: "muted" }, "Drop files here, or choose them. PDF, Word, PowerPoint, Excel, HTML, Markdown, text, e-mail and more."),
    field("Files", fileInput),
    h(
      "details",
      { class: "advanced" },
      h("summary", {}, "Restrict who can read them"),
      field("Only for", access, "Leave empty for everyone in the workspace. Otherwise user:EMAIL or group:NAME, separated by commas."),
    ),
    sameName,
    uploadError,
    h("button", { type: "submit", class: "primary" }, "Upload"),
    status,
    uploadResults,
  );
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      if (name === "dragleave" && zone.contains(event.relatedTarget)) return;
      zone.classList.remove("dragging");
    });
  }
  zone.addEventListener("drop", (event) => {
    const files = [...((event.dataTransfer && event.dataTransfer.files) || [])];
    if (files.length) upload(files);
  });

  fill(
    main,
    h("h1", { tabindex: "-1" }, "Documents"),
    workspace
      ? h("p", { class: "muted" }, `In the workspace “${workspace}”.`)
      : h("p", { class: "notice" }, "Pick or create a workspace to add documents."),
    editor ? zone : null,
    workspace
      ? h("section", { "aria-labelledby": "jobs-title" }, h("h2", { id: "jobs-title" }, "Indexing"), jobsBox)
      : null,
    h("section", { "aria-labelledby": "docs-title" }, docsTitle, filters, docsBox, pager, qualityBox),
    failuresBox,
  );
  await Promise.all([loadDocuments(), loadQuality(), workspace ? pollJobs() : null]);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
