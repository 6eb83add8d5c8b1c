// Administration: workspaces and their members, users, groups, API keys, usage, the audit log,
// and the questions Docket could not answer.

import { api, listOf, withQuery } from "./api.js";
import { announce, confirmAction, dataView, errorBox, field, fill, h, table, when } from "./dom.js";
import { isServerAdmin, session, user, workspaces } from "./session.js";

const USER_ROLES = ["member", "editor", "admin", "owner"];
const WORKSPACE_ROLES = ["member", "editor", "admin"];

/** A form whose submit runs `action`; errors show inside it, success resets it. */
function actionForm(attrs, children, action) {
  const error = h("div");
  const form = h(
    "form",
    {
      ...attrs,
      onsubmit: async (event) => {
        event.preventDefault();
        fill(error);
        const button = form.querySelector("button[type=submit]");
        if (button) button.disabled = true;
        try {
          await action(form);
        } catch (err) {
          fill(error, errorBox(err.message));
        } finally {
          if (button) button.disabled = false;
        }
      },
    },
    children,
    error,
  );
  return form;
}

function select(id, options, value) {
  return h("select", { id, name: id }, options.map((o) => h("option", { value: o, selected: o === value }, o)));
}

function section(title, id, ...content) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

// ------------------------------------------------------------------ workspaces

function workspaceDetail(info, reload, reloadSession) {
  const name = info.name;
  const slug = name.replace(/[^A-Za-z0-9]+/g, "-");
  const members = info.members || [];
  const email = h("input", { type: "email", id: `member-email-${slug}`, required: true, autocomplete: "off" });
  const role = select(`member-role-${slug}`, WORKSPACE_ROLES, "member");
  const settings = info.settings || {};
  const model = h("input", { type: "text", id: `ws-model-${slug}`, value: settings.model || "", placeholder: "server default" });
  const origins = h("input", {
    type: "text",
    id: `ws-origins-${slug}`,
    value: (settings.allowed_origins || []).join(", "),
    placeholder: "https://www.example.com",
  });
  const prompt = h("textarea", { id: `ws-prompt-${slug}`, rows: "3", maxlength: "4000" });
  prompt.value = settings.prompt || "";
  const budget = h("input", {
    type: "number",
    id: `ws-budget-${slug}`,
    min: "0",
    step: "0.01",
    value: settings.daily_budget ?? "",
    placeholder: "no limit",
  });
  const publicBox = h("input", { type: "checkbox", id: `ws-public-${slug}`, checked: Boolean(info.public) });

  return h(
    "article",
    { class: "workspace card", dataset: { workspace: name } },
    h("h3", {}, name, info.public ? h("span", { class: "badge" }, "public") : null),
    h(
      "div",
      { class: "inline-field" },
      publicBox,
      h("label", { for: publicBox.id }, "Public: anyone may ask it through the website widget"),
    ),
    info.widget_snippet
      ? h(
          "details",
          {},
          h("summary", {}, "Website widget snippet"),
          h("pre", { class: "snippet" }, info.widget_snippet),
        )
      : null,
    h("h4", {}, "Members"),
    table(
      null,
      [
        ["Email", (m) => m.email],
        ["Role", (m) => m.role],
        [
          "Actions",
          (m) =>
            h(
              "button",
              {
                type: "button",
                class: "danger small",
                onclick: async () => {
                  if (!(await confirmAction(`Remove ${m.email} from ${name}?`))) return;
                  try {
                    await api("DELETE", `/api/workspaces/${encodeURIComponent(name)}/members/${encodeURIComponent(m.email)}`);
                    announce(`${m.email} removed from ${name}.`);
                    await reload();
                    await reloadSession();
                  } catch (err) {
                    announce(err.message, "error");
                  }
                },
              },
              "Remove",
              h("span", { class: "sr-only" }, ` ${m.email}`),
            ),
        ],
      ],
      members,
      "No members yet (server owners and admins see every workspace).",
    ),
    actionForm(
      { class: "row-form", "aria-label": `Add a member to ${name}` },
      [field("Email", email), field("Role", role), h("button", { type: "submit", class: "secondary" }, "Add member")],
      async () => {
        await api("POST", `/api/workspaces/${encodeURIComponent(name)}/members`, { email: email.value.trim(), role: role.value });
        announce(`${email.value.trim()} is now ${role.value} of ${name}.`);
        await reload();
        await reloadSession();
      },
    ),
    h(
      "details",
      {},
      h("summary", {}, "Settings"),
      actionForm(
        { class: "stack", "aria-label": `Settings of ${name}` },
        [
          field("Model for answers", model, "A model spec such as openai:gpt-4o-mini; empty uses the server's setting."),
          field("Instructions for the answers", prompt, "Added after Docket's own rules, e.g. “answer as the Acme support team”."),
          field("Daily budget (USD)", budget, "Model calls a day; beyond it questions are refused. Empty: no limit."),
          field("Allowed website origins (widget)", origins, "Comma-separated; the widget answers only on these sites."),
          h("button", { type: "submit", class: "secondary" }, "Save settings"),
        ],
        async () => {
          // the settings are replaced as a whole: keep any this form does not show
          const next = { ...settings };
          const set = (key, value) => {
            if (value === "" || value === null || (Array.isArray(value) && !value.length)) delete next[key];
            else next[key] = value;
          };
          set("model", model.value.trim());
          set("prompt", prompt.value.trim());
          set("daily_budget", budget.value === "" ? "" : Number(budget.value));
          set("allowed_origins", origins.value.split(",").map((o) => o.trim()).filter(Boolean));
          await api("PATCH", `/api/workspaces/${encodeURIComponent(name)}`, { settings: next });
          Object.keys(settings).forEach((k) => delete settings[k]);
          Object.assign(settings, next);
          announce(`Settings of ${name} saved.`);
        },
      ),
    ),
    isServerAdmin()
      ? h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: async () => {
              if (!(await confirmAction(`Delete the workspace ${name}? Its members lose access.`))) return;
              try {
                await api("DELETE", `/api/workspaces/${encodeURIComponent(name)}`);
                announce(`Workspace ${name} deleted.`);
                await reloadSession();
                await reload();
              } catch (err) {
                announce(err.message, "error");
              }
            },
          },
          `Delete workspace ${name}`,
        )
      : null,
  );
  // the public flag saves as soon as it changes
}

export async function renderWorkspaces(main, { reloadSession }) {
  const list = h("div", { class: "workspace-list" });
  const reload = async () => {
    try {
      const data = await api("GET", "/api/workspaces");
      const items = listOf(data, "workspaces").filter((w) => w.role === "admin" || isServerAdmin());
      if (!items.length) {
        fill(list, h("p", { class: "empty" }, "No workspaces yet."));
        return;
      }
      const details = await Promise.all(
        items.map((w) => api("GET", `/api/workspaces/${encodeURIComponent(w.name)}`).catch(() => w)),
      );
      fill(
        list,
        details.map((info) => {
          const el = workspaceDetail(info, reload, reloadSession);
          const box = el.querySelector("input[type=checkbox]");
          box.addEventListener("change", async () => {
            try {
              await api("PATCH", `/api/workspaces/${encodeURIComponent(info.name)}`, { public: box.checked });
              announce(`${info.name} is now ${box.checked ? "public" : "private"}.`);
              await reload();
              await reloadSession();
            } catch (err) {
              box.checked = !box.checked;
              announce(err.message, "error");
            }
          });
          return el;
        }),
      );
    } catch (err) {
      fill(list, errorBox(err.message));
    }
  };

  const name = h("input", { type: "text", id: "new-workspace", required: true, maxlength: "64", autocomplete: "off" });
  const isPublic = h("input", { type: "checkbox", id: "new-workspace-public" });
  fill(
    main,
    h("h1", { tabindex: "-1" }, "Workspaces"),
    h("p", { class: "muted" }, "Each workspace has its own documents and members. Members ask and search; editors add documents; admins manage members."),
    isServerAdmin()
      ? section(
          "New workspace",
          "new-workspace-title",
          actionForm(
            { class: "row-form" },
            [
              field("Name", name, "Letters, digits, spaces, '-', '_' or '.'."),
              h("div", { class: "inline-field" }, isPublic, h("label", { for: isPublic.id }, "Public (website widget)")),
              h("button", { type: "submit", class: "primary" }, "Create workspace"),
            ],
            async (form) => {
              const created = name.value.trim();
              await api("POST", "/api/workspaces", { name: created, public: isPublic.checked });
              form.reset();
              announce(`Workspace ${created} created.`);
              await reloadSession();
              if (!session.workspace) session.workspace = created;
              await reload();
            },
          ),
        )
      : null,
    list,
  );
  await reload();
}

// ------------------------------------------------------------------ users

export async function renderUsers(main) {
  const list = h("div");
  const reload = async () => {
    try {
      const users = listOf(await api("GET", "/api/users"), "users");
      fill(
        list,
        table(
          `${users.length} users`,
          [
            ["Email", (u) => u.email],
            ["Name", (u) => u.name || ""],
            ["Role", (u) => roleControl(u)],
            ["Workspaces", (u) => Object.entries(u.workspaces || {}).map(([w, r]) => `${w} (${r})`).join(", ")],
            ["Status", (u) => disableControl(u)],
          ],
          users,
        ),
      );
    } catch (err) {
      fill(list, errorBox(err.message));
    }
  };
  const patch = async (u, change, message) => {
    try {
      await api("PATCH", `/api/users/${u.id}`, change);
      announce(message);
    } catch (err) {
      announce(err.message, "error");
    }
    await reload();
  };
  const roleControl = (u) => {
    if (u.id === (user() || {}).id) return u.role;
    const s = select(`role-${u.id}`, USER_ROLES, u.role);
    s.setAttribute("aria-label", `Role of ${u.email}`);
    s.addEventListener("change", () => patch(u, { role: s.value }, `${u.email} is now ${s.value}.`));
    return s;
  };
  const disableControl = (u) => {
    if (u.id === (user() || {}).id) return "you";
    return h(
      "button",
      {
        type: "button",
        class: u.disabled ? "secondary small" : "danger small",
        onclick: () => patch(u, { disabled: !u.disabled }, `${u.email} ${u.disabled ? "enabled" : "disabled"}.`),
      },
      u.disabled ? "Enable" : "Disable",
      h("span", { class: "sr-only" }, ` ${u.email}`),
    );
  };

  const email = h("input", { type: "email", id: "new-user-email", required: true, autocomplete: "off" });
  const name = h("input", { type: "text", id: "new-user-name", autocomplete: "off" });
  const password = h("input", { type: "password", id: "new-user-password", required: true, minlength: "8", autocomplete: "new-password" });
  const role = select("new-user-role", USER_ROLES.filter((r) => r !== "owner"), "member");
  fill(
    main,
    h("h1", { tabindex: "-1" }, "Users"),
    section(
      "New user",
      "new-user-title",
      actionForm(
        { class: "row-form" },
        [
          field("Email", email),
          field("Name", name),
          field("Password", password, "At least 8 characters; tell it to them in person."),
          field("Role", role),
          h("button", { type: "submit", class: "primary" }, "Create user"),
        ],
        async (form) => {
          await api("POST", "/api/users", { email: email.value.trim(), name: name.value.trim(), password: password.value, role: role.value });
          announce(`User ${email.value.trim()} created.`);
          form.reset();
          await reload();
        },
      ),
    ),
    list,
  );
  await reload();
}

// ------------------------------------------------------------------ groups

export async function renderGroups(main) {
  const list = h("div");
  const reload = async () => {
    try {
      const groups = listOf(await api("GET", "/api/groups"), "groups");
      fill(
        list,
        groups.length
          ? groups.map((g) => groupCard(g))
          : h("p", { class: "empty" }, "No groups yet. A group can be named in a document's access list (group:NAME)."),
      );
    } catch (err) {
      fill(list, errorBox(err.message));
    }
  };
  const groupCard = (g) => {
    const slug = g.name.replace(/[^A-Za-z0-9]+/g, "-");
    const email = h("input", { type: "email", id: `group-email-${slug}`, required: true, autocomplete: "off" });
    return h(
      "article",
      { class: "card" },
      h("h3", {}, g.name),
      g.members.length
        ? h(
            "ul",
            { class: "plain" },
            g.members.map((m) =>
              h(
                "li",
                {},
                m,
                " ",
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger small",
                    onclick: async () => {
                      try {
                        await api("DELETE", `/api/groups/${encodeURIComponent(g.name)}/members/${encodeURIComponent(m)}`);
                        announce(`${m} removed from ${g.name}.`);
                      } catch (err) {
                        announce(err.message, "error");
                      }
                      await reload();
                    },
                  },
                  "Remove",
                  h("span", { class: "sr-only" }, ` ${m} from ${g.name}`),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No members."),
      actionForm(
        { class: "row-form", "aria-label": `Add a member to the group ${g.name}` },
        [field("Email", email), h("button", { type: "submit", class: "secondary" }, "Add to group")],
        async () => {
          await api("POST", `/api/groups/${encodeURIComponent(g.name)}/members`, { email: email.value.trim() });
          announce(`${email.value.trim()} added to ${g.name}.`);
          await reload();
        },
      ),
    );
  };
  const name = h("input", { type: "text", id: "new-group", required: true, maxlength: "64", autocomplete: "off" });
  fill(
    main,
    h("h1", { tabindex: "-1" }, "Groups"),
    section(
      "New group",
      "new-group-title",
      actionForm(
        { class: "row-form" },
        [field("Name", name), h("button", { type: "submit", class: "primary" }, "Create group")],
        async (form) => {
          await api("POST", "/api/groups", { name: name.value.trim() });
          announce(`Group ${name.value.trim()} created.`);
          form.reset();
          await reload();
        },
      ),
    ),
    list,
  );
  await reload();
}

// ------------------------------------------------------------------ API keys

export async function renderKeys(main) {
  const list = h("div");
  const shown = h("div", { "aria-live": "polite" });
  const reload = async () => {
    try {
      const keys = listOf(await api("GET", "/api/keys"), "keys");
      fill(
        list,
        table(
          "Keys",
          [
            ["Name", (k) => k.name || "—"],
            ["Key", (k) => h("code", {}, `${k.prefix}…`)],
            ["User", (k) => k.user],
            ["Workspaces", (k) => (k.workspaces ? k.workspaces.join(", ") : "all of the user's")],
            ["Created", (k) => when(k.created)],
            ["Last used", (k) => when(k.last_used) || "never"],
            [
              "Actions",
              (k) =>
                k.revoked
                  ? h("span", { class: "muted" }, `revoked ${when(k.revoked)}`)
                  : h(
                      "button",
                      {
                        type: "button",
                        class: "danger small",
                        onclick: async () => {
                          if (!(await confirmAction(`Revoke the key ${k.name || k.prefix}? Programs using it stop working.`))) return;
                          try {
                            await api("DELETE", `/api/keys/${k.id}`);
                            announce("Key revoked.");
                          } catch (err) {
                            announce(err.message, "error");
                          }
                          await reload();
                        },
                      },
                      "Revoke",
                      h("span", { class: "sr-only" }, ` ${k.name || k.prefix}`),
                    ),
            ],
          ],
          keys,
          "No API keys yet.",
        ),
      );
    } catch (err) {
      fill(list, errorBox(err.message));
    }
  };
  const name = h("input", { type: "text", id: "key-name", autocomplete: "off", placeholder: "e.g. intranet bot" });
  const boxes = workspaces().map((w) => {
    const box = h("input", { type: "checkbox", id: `key-ws-${w.name.replace(/[^A-Za-z0-9]+/g, "-")}`, value: w.name });
    return h("div", { class: "inline-field" }, box, h("label", { for: box.id }, w.name));
  });
  fill(
    main,
    h("h1", { tabindex: "-1" }, "API keys"),
    h("p", { class: "muted" }, "Programs use a key as 'Authorization: Bearer dk_…' for the REST API and the OpenAI-compatible endpoint under /v1."),
    section(
      "New key",
      "new-key-title",
      actionForm(
        { class: "stack" },
        [
          field("Name", name),
          boxes.length
            ? h("fieldset", {}, h("legend", {}, "Limit to workspaces (none ticked: all of yours)"), boxes)
            : null,
          h("button", { type: "submit", class: "primary" }, "Create key"),
        ],
        async (form) => {
          const picked = [...form.querySelectorAll("fieldset input:checked")].map((b) => b.value);
          const body = { name: name.value.trim() };
          if (picked.length) body.workspaces = picked;
          const created = await api("POST", "/api/keys", body);
          form.reset();
          const keyText = h("input", { type: "text", id: "new-key-value", readonly: true, value: created.key, class: "key-value" });
          fill(
            shown,
            h(
              "div",
              { class: "notice key-once", role: "alert" },
              h("p", {}, h("strong", {}, "Copy this key now: it is shown only once.")),
              field("New API key", keyText),
              h(
                "button",
                {
                  type: "button",
                  class: "secondary",
                  onclick: async () => {
                    keyText.select();
                    try {
                      await navigator.clipboard.writeText(created.key);
                      announce("Key copied.");
                    } catch {
                      document.execCommand && document.execCommand("copy");
                      announce("Key selected: press Ctrl+C to copy it.");
                    }
                  },
                },
                "Copy",
              ),
            ),
          );
          keyText.focus();
          keyText.select();
          await reload();
        },
      ),
    ),
    shown,
    list,
  );
  await reload();
}

// ------------------------------------------------------------------ usage, audit, unanswered

export async function renderUsage(main) {
  fill(main, h("h1", { tabindex: "-1" }, "Usage"), h("p", { class: "muted" }, "Answers, tokens and model cost per workspace."));
  try {
    const data = await api("GET", "/api/usage");
    const rows = listOf(data, "workspaces");
    main.append(
      Array.isArray(data.workspaces)
        ? table(
            null,
            [
              ["Workspace", (r) => r.workspace],
              ["Answers", (r) => String(r.answers)],
              ["Not answered", (r) => String(r.abstained)],
              ["Prompt tokens", (r) => String(r.prompt_tokens)],
              ["Answer tokens", (r) => String(r.completion_tokens)],
              ["Cost (USD)", (r) => (r.cost ? Number(r.cost).toFixed(4) : "0")],
            ],
            rows,
            "No answers yet.",
          )
        : dataView(data),
    );
  } catch (err) {
    main.append(errorBox(err.message));
  }
}

export async function renderAudit(main) {
  fill(main, h("h1", { tabindex: "-1" }, "Audit log"), h("p", { class: "muted" }, "Sign-ins, administration, documents and permission changes; newest first."));
  try {
    const events = listOf(await api("GET", "/api/audit"), "events");
    main.append(
      table(
        null,
        [
          ["When", (e) => when(e.at)],
          ["Who", (e) => e.actor],
          ["What", (e) => e.action],
          ["On", (e) => e.target || ""],
          [
            "Details",
            (e) => {
              const detail = Object.entries(e.detail || {}).filter(([, v]) => v !== null && v !== undefined);
              return detail.map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
            },
          ],
        ],
        events,
        "Nothing recorded yet.",
      ),
    );
  } catch (err) {
    main.append(errorBox(err.message));
  }
}

export async function renderUnanswered(main) {
  const workspace = session.workspace;
  fill(
    main,
    h("h1", { tabindex: "-1" }, "Unanswered questions"),
    h(
      "p",
      { class: "muted" },
      "Questions Docket could not answer from the documents",
      workspace ? ` of “${workspace}”` : "",
      ". Each is a document worth adding.",
    ),
  );
  try {
    const params = workspace && (isServerAdmin() || workspaces().some((w) => w.name === workspace && w.role === "admin")) ? { workspace } : {};
    const questions = listOf(await api("GET", withQuery("/api/unanswered", params)), "questions");
    main.append(
      table(
        null,
        [
          ["Question", (q) => q.question],
          ["Asked", (q) => when(q.at)],
        ],
        questions,
        "Every question so far found an answer.",
      ),
    );
  } catch (err) {
    main.append(errorBox(err.message));
  }
}
