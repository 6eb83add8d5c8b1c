// Sources (server admins): what the knowledge base indexes — folders, websites, mailboxes,
// databases — with each one's last sync result, error and next scheduled run; add a website, a
// mailbox or a database, sync a source now, remove one.

import { api, listOf } from "./api.js";
import { announce, confirmAction, errorBox, field, fill, h, table, when } from "./dom.js";
import { workspaces } from "./session.js";

const POLL_MS = 1500;

function result(s) {
  if (s.syncing) return h("span", { class: "badge" }, "syncing…");
  if (s.last_error) return h("span", { class: "source-error" }, `Error: ${s.last_error}`);
  const r = s.last_result;
  if (!r) return s.last_sync ? "synced" : h("span", { class: "muted" }, "not synced yet");
  const failed = (r.failed || []).length;
  const before = (r.failed_before || []).length;
  return `${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.deleted} deleted${failed ? `, ${failed} failed` : ""}${before ? `, ${before} failed before (unchanged)` : ""}`;
}

function where(s) {
  if (s.settings && s.settings.url) return h("a", { href: s.settings.url, rel: "noopener noreferrer", target: "_blank" }, s.settings.url);
  return s.path || s.display || (s.settings && (s.settings.host || s.settings.database)) || "";
}

function addWebsiteForm(onAdded) {
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://www.example.com" });
  const name = h("input", { type: "text", name: "name", required: true, maxlength: "100", pattern: "[A-Za-z0-9][A-Za-z0-9._@:-]*" });
  const prefixes = h("input", { type: "text", name: "prefixes", placeholder: "/docs/ /policies/" });
  const schedule = h("input", { type: "text", name: "schedule", placeholder: "0 * * * *" });
  const priv = h("input", { type: "checkbox", name: "allow_private" });
  const workspace = h(
    "select",
    { name: "workspace" },
    ["default", ...workspaces().map((w) => w.name).filter((n) => n !== "default")].map((n) => h("option", { value: n }, n)),
  );
  const error = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, "Add website");
  url.addEventListener("change", () => {
    if (!name.value) {
      try {
        name.value = new URL(url.value).hostname;
      } catch {
        // not a URL yet: the browser says so on submit
      }
    }
  });
  return h(
    "form",
    {
      class: "card stack source-form",
      "aria-labelledby": "add-website-title",
      onsubmit: async (event) => {
        event.preventDefault();
        fill(error);
        submit.disabled = true;
        try {
          await api("POST", "/api/admin/sources", {
            type: "web",
            name: name.value.trim(),
            settings: {
              url: url.value.trim(),
              allow_prefixes: prefixes.value.split(/[\s,]+/).filter(Boolean),
              allow_private: priv.checked,
            },
            schedule: schedule.value.trim() || null,
            workspace: workspace.value,
          });
          announce(`Website ${name.value.trim()} added. Sync it to fetch its pages.`);
          event.target.reset();
          await onAdded();
        } catch (err) {
          fill(error, errorBox(err.message));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h2", { id: "add-website-title" }, "Add a website"),
    field("Start page or sitemap", url, "A page or a sitemap.xml, e.g. the /docs/ page of your intranet."),
    field("Name", name, "Letters, digits and . _ - @ :"),
    field("Only paths starting with", prefixes, "Optional, separated by spaces: /docs/ /policies/"),
    field("Schedule (cron)", schedule, "Optional: 0 * * * * syncs hourly; empty means only when you sync it."),
    field("Workspace", workspace),
    h("div", { class: "field check" }, h("label", {}, priv, " Allow private addresses (an intranet)")),
    error,
    submit,
  );
}

const EXAMPLES = {
  imap: '{"host": "imap.example.com", "user": "support@example.com", "password_env": "SUPPORT_PW", "folders": ["INBOX"]}',
  sql: '{"url": "postgresql://reader@db.example.com/shop", "table": "orders", "updated_column": "updated_at", "password_env": "DB_PW"}',
  zendesk: '{"subdomain": "acme", "email": "bot@acme.com", "token_env": "DOCKET_SECRET_ZENDESK_TOKEN", "group_access": {"42": ["group:billing"]}}',
  freshdesk: '{"domain": "acme", "token_env": "DOCKET_SECRET_FRESHDESK_KEY"}',
  "json-http": '{"url": "https://www.example.com", "token_env": "DOCKET_SECRET_DESK", "tickets": {"path": "/api/tickets", "id": "id", "updated": "updated_at"}}',
};

// A mailbox, a database or a help desk: the connector's settings as JSON, exactly what
// `docket sources add imap|sql|zendesk|freshdesk|json-http` stores. Passwords and tokens are never
// typed here: name an environment variable of the server (password_env, token_env).
function addConnectorForm(onAdded) {
  const kind = h(
    "select",
    { name: "type" },
    h("option", { value: "imap" }, "Mailbox (IMAP)"),
    h("option", { value: "sql" }, "Database (SQL)"),
    h("option", { value: "zendesk" }, "Help desk (Zendesk)"),
    h("option", { value: "freshdesk" }, "Help desk (Freshdesk)"),
    h("option", { value: "json-http" }, "Help desk or CRM (JSON API)"),
  );
  const name = h("input", { type: "text", name: "name", required: true, maxlength: "100", pattern: "[A-Za-z0-9][A-Za-z0-9._@:-]*" });
  const settings = h("textarea", { name: "settings", rows: "4", required: true, spellcheck: "false", placeholder: EXAMPLES.imap });
  const schedule = h("input", { type: "text", name: "schedule", placeholder: "*/15 * * * *" });
  const workspace = h(
    "select",
    { name: "workspace" },
    ["default", ...workspaces().map((w) => w.name).filter((n) => n !== "default")].map((n) => h("option", { value: n }, n)),
  );
  const error = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, "Add source");
  kind.addEventListener("change", () => {
    settings.placeholder = EXAMPLES[kind.value];
  });
  return h(
    "form",
    {
      class: "card stack source-form",
      "aria-labelledby": "add-connector-title",
      onsubmit: async (event) => {
        event.preventDefault();
        fill(error);
        let parsed;
        try {
          parsed = JSON.parse(settings.value);
        } catch (err) {
          fill(error, errorBox(`Settings: not valid JSON (${err.message}). Example: ${EXAMPLES[kind.value]}`));
          settings.focus();
          return;
        }
        submit.disabled = true;
        try {
          await api("POST", "/api/admin/sources", {
            type: kind.value,
            name: name.value.trim(),
            settings: parsed,
            schedule: schedule.value.trim() || null,
            workspace: workspace.value,
          });
          announce(`Source ${name.value.trim()} added. Sync it to fetch its items.`);
          event.target.reset();
          settings.placeholder = EXAMPLES.imap;
          await onAdded();
        } catch (err) {
          fill(error, errorBox(err.message));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h2", { id: "add-connector-title" }, "Add a mailbox or a database"),
    field("Kind", kind),
    field("Source name", name, "Letters, digits and . _ - @ :"),
    field("Settings (JSON)", settings, "The options of docket sources add imap|sql; passwords by password_env, a variable of the server."),
    field("Sync schedule (cron)", schedule, "Optional: */15 * * * * syncs every quarter hour."),
    field("Source workspace", workspace),
    error,
    submit,
  );
}

export async function render(main) {
  const list = h("div", { "aria-live": "polite" });
  let timer = null;
  const reload = async () => {
    window.clearTimeout(timer);
    try {
      const sources = listOf(await api("GET", "/api/admin/sources"), "sources");
      fill(
        list,
        table(
          "Sources",
          [
            ["Name", (s) => s.name],
            ["Type", (s) => s.type || "folder"],
            ["Address", where],
            ["Documents", (s) => String(s.documents)],
            ["Last sync", (s) => when(s.last_run || s.last_sync) || "—"],
            ["Result", result],
            ["Next run", (s) => (s.next_run ? when(s.next_run) : s.schedule ? "—" : "when asked")],
            [
              "Actions",
              (s) =>
                h(
                  "div",
                  { class: "actions" },
                  h(
                    "button",
                    {
                      type: "button",
                      class: "small",
                      disabled: s.syncing,
                      onclick: async () => {
                        try {
                          await api("POST", `/api/admin/sources/${encodeURIComponent(s.name)}/sync`);
                          announce(`Syncing ${s.name}…`);
                        } catch (err) {
                          announce(err.message, "error");
                        }
                        await reload();
                      },
                    },
                    "Sync now",
                    h("span", { class: "sr-only" }, ` ${s.name}`),
                  ),
                  h(
                    "button",
                    {
                      type: "button",
                      class: "danger small",
                      onclick: async () => {
                        if (!(await confirmAction(`Remove ${s.name} and every document indexed from it?`))) return;
                        try {
                          await api("DELETE", `/api/admin/sources/${encodeURIComponent(s.name)}`);
                          announce(`${s.name} removed.`);
                        } catch (err) {
                          announce(err.message, "error");
                        }
                        await reload();
                      },
                    },
                    "Remove",
                    h("span", { class: "sr-only" }, ` ${s.name}`),
                  ),
                ),
            ],
          ],
          sources,
          "No sources yet. Add a website below, or index a folder with `docket ingest`.",
        ),
      );
      if (sources.some((s) => s.syncing)) timer = window.setTimeout(reload, POLL_MS);
    } catch (err) {
      fill(list, errorBox(err.message));
    }
  };
  fill(
    main,
    h("h1", { tabindex: "-1" }, "Sources"),
    h(
      "p",
      { class: "muted" },
      "Folders, websites, mailboxes and databases this knowledge base indexes. A failed fetch removes nothing: ",
      "the documents already indexed stay searchable until a sync sees they are gone.",
    ),
    list,
    addWebsiteForm(reload),
    addConnectorForm(reload),
  );
  await reload();
  return () => window.clearTimeout(timer);
}
