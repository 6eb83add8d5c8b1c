// The Docket web app: signs in (or sets up the first account), then shows one view at a time,
// chosen by the address's #fragment (#/chat, #/search, #/documents, #/admin/...).

import { api, ApiError, onUnauthorized } from "./api.js";
import { announce, errorBox, field, fill, h } from "./dom.js";
import { closePanel } from "./panel.js";
import {
  adminSomewhere,
  adopt,
  isServerAdmin,
  pickWorkspace,
  refresh,
  session,
  signedOut,
  user,
  workspaces,
} from "./session.js";
import * as chat from "./chat.js";
import * as search from "./search.js";
import * as documents from "./documents.js";
import * as admin from "./admin.js";
import * as gaps from "./gaps.js";
import * as reviews from "./reviews.js";
import * as sources from "./sources.js";

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ views and navigation

const VIEWS = [
  { path: "chat", label: "Chat", render: chat.render, show: () => true },
  { path: "search", label: "Search", render: search.render, show: () => true },
  { path: "documents", label: "Documents", render: documents.render, show: () => true },
  { path: "unanswered", label: "Unanswered", render: admin.renderUnanswered, show: adminSomewhere },
  { path: "gaps", label: "Knowledge gaps", render: gaps.render, show: adminSomewhere },
  { path: "reviews", label: "Review", render: reviews.render, show: () => true },
  { path: "admin/workspaces", label: "Workspaces", render: admin.renderWorkspaces, show: adminSomewhere, group: "admin" },
  { path: "admin/users", label: "Users", render: admin.renderUsers, show: isServerAdmin, group: "admin" },
  { path: "admin/groups", label: "Groups", render: admin.renderGroups, show: isServerAdmin, group: "admin" },
  { path: "admin/usage", label: "Usage", render: admin.renderUsage, show: adminSomewhere, group: "admin" },
  { path: "admin/sources", label: "Sources", render: sources.render, show: isServerAdmin, group: "admin" },
  { path: "admin/audit", label: "Audit log", render: admin.renderAudit, show: isServerAdmin, group: "admin" },
  { path: "keys", label: "API keys", render: admin.renderKeys, show: () => true },
];

let cleanup = null;

function currentRoute() {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const match = VIEWS.filter((v) => v.show()).find((v) => hash === v.path || hash.startsWith(`${v.path}/`));
  if (!match) return { view: VIEWS[0], rest: "" };
  return { view: match, rest: decodeURIComponent(hash.slice(match.path.length + 1)) };
}

/** The main menu: one entry per view, the admin pages behind one "Admin" entry. */
function renderNav(active) {
  const entries = [];
  for (const v of VIEWS.filter((x) => x.show())) {
    if (!v.group) entries.push({ href: `#/${v.path}`, label: v.label, current: v === active });
    else if (!entries.some((e) => e.group === v.group)) {
      entries.push({ href: `#/${v.path}`, label: "Admin", group: v.group, current: active.group === v.group });
    }
  }
  fill(
    $("nav-links"),
    entries.map((e) => h("li", {}, h("a", { href: e.href, "aria-current": e.current ? "page" : null }, e.label))),
  );
}

/** Tabs between the pages of a group (the admin pages). */
function subNav(active) {
  const pages = VIEWS.filter((v) => v.show() && v.group === active.group);
  return h(
    "nav",
    { class: "subnav", "aria-label": "Administration" },
    h(
      "ul",
      {},
      pages.map((v) =>
        h("li", {}, h("a", { href: `#/${v.path}`, "aria-current": v === active ? "page" : null }, v.label)),
      ),
    ),
  );
}

function renderWorkspacePicker() {
  const select = $("workspace");
  const list = workspaces();
  fill(
    select,
    list.length
      ? list.map((w) =>
          h("option", { value: w.name, selected: w.name === session.workspace }, w.public ? `${w.name} (public)` : w.name),
        )
      : h("option", { value: "" }, "No workspace yet"),
  );
  select.disabled = !list.length;
}

/** Draw the current view into <main>; `focus` moves keyboard focus to its heading. */
export async function route({ focus = true } = {}) {
  if (!session.me) return;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a view's cleanup must never stop navigation
    }
    cleanup = null;
  }
  const { view, rest } = currentRoute();
  renderNav(view);
  document.title = `${view.label} · Docket`;
  closeMenu();
  const main = $("main");
  const target = h("div", { class: "view-body" });
  fill(main, view.group ? subNav(view) : null, target);
  main.setAttribute("aria-busy", "true");
  try {
    const result = await view.render(target, { rest, route, reloadSession });
    if (typeof result === "function") cleanup = result;
  } catch (err) {
    fill(target, h("h1", { tabindex: "-1" }, view.label), errorBox(err.message || String(err)));
  } finally {
    main.removeAttribute("aria-busy");
  }
  if (focus) {
    const heading = main.querySelector("h1");
    (heading || main).focus({ preventScroll: false });
  }
}

/** Reload who-am-I (after creating a workspace or changing a membership) and redraw the chrome. */
export async function reloadSession() {
  await refresh();
  renderWorkspacePicker();
  renderNav(currentRoute().view);
}

// ------------------------------------------------------------------ signed in

function showShell() {
  $("loading").hidden = true;
  $("auth").hidden = true;
  fill($("auth-body")); // no password lingers in the page
  $("shell").hidden = false;
  const u = user();
  $("who").textContent = u ? `${u.name || u.email} · ${u.role}` : "";
  $("who").title = $("who").textContent; // shortened with … where the top bar is tight
  renderWorkspacePicker();
  route();
}

function closeMenu() {
  $("nav").classList.remove("open");
  $("menu-toggle").setAttribute("aria-expanded", "false");
}

function wireShell() {
  // the address's #fragment is the router's: the skip link moves the focus itself
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    const target = $("shell").hidden ? $("auth-body").querySelector("input, button") : $("main");
    if (target) target.focus();
  });
  $("workspace").addEventListener("change", (event) => {
    pickWorkspace(event.target.value);
    closePanel();
    announce(`Workspace ${event.target.value}`);
    if (window.location.hash.startsWith("#/chat/")) {
      window.location.hash = "#/chat"; // a conversation belongs to its workspace: start a new one
    } else {
      route({ focus: false });
    }
  });
  $("menu-toggle").addEventListener("click", () => {
    const open = !$("nav").classList.contains("open");
    $("nav").classList.toggle("open", open);
    $("menu-toggle").setAttribute("aria-expanded", String(open));
  });
  $("sign-out").addEventListener("click", async () => {
    try {
      await api("DELETE", "/api/session");
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) announce(err.message, "error");
    }
    if (cleanup) cleanup();
    cleanup = null;
    signedOut();
    closePanel();
    showSignIn("You are signed out.");
  });
  window.addEventListener("hashchange", () => route());
}

// ------------------------------------------------------------------ signed out

function showAuth(...content) {
  $("loading").hidden = true;
  $("shell").hidden = true;
  $("auth").hidden = false;
  fill($("auth-body"), ...content);
  const first = $("auth-body").querySelector("input");
  if (first) first.focus();
}

function showSignIn(notice = "") {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const error = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    {
      class: "stack",
      "aria-labelledby": "signin-title",
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        fill(error);
        try {
          const me = await api("POST", "/api/session", { email: email.value.trim(), password: password.value });
          adopt(me);
          await refresh().catch(() => null);
          showShell();
        } catch (err) {
          fill(error, errorBox(err.message));
          password.select();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h2", { id: "signin-title" }, "Sign in"),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    field("Email", email),
    field("Password", password),
    error,
    submit,
  );
  showAuth(form);
}

function showSetup(token) {
  const name = h("input", { type: "text", name: "name", autocomplete: "name" });
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: "new-password",
    minlength: "8",
    required: true,
  });
  const again = h("input", { type: "password", name: "password2", autocomplete: "new-password", required: true });
  const error = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, "Create the owner account");
  const form = h(
    "form",
    {
      class: "stack",
      "aria-labelledby": "setup-title",
      onsubmit: async (event) => {
        event.preventDefault();
        fill(error);
        if (password.value !== again.value) {
          fill(error, errorBox("The two passwords differ."));
          again.focus();
          return;
        }
        submit.disabled = true;
        try {
          const me = await api("POST", "/api/setup", {
            token,
            email: email.value.trim(),
            password: password.value,
            name: name.value.trim(),
          });
          adopt(me);
          window.history.replaceState(null, "", `${window.location.pathname}#/admin/workspaces`);
          await refresh().catch(() => null);
          showShell();
          announce("Welcome to Docket. Create a workspace to start.");
        } catch (err) {
          fill(error, errorBox(err.message));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h2", { id: "setup-title" }, "Set up Docket"),
    h("p", {}, "Create the owner account of this server. The owner manages workspaces, users and keys."),
    field("Your name", name),
    field("Email", email),
    field("Password", password, "At least 8 characters."),
    field("Password again", again),
    error,
    submit,
    h("p", { class: "muted" }, "Already set up? ", h("a", { href: "/" }, "Sign in")),
  );
  showAuth(form);
}

// ------------------------------------------------------------------ start

async function start() {
  wireShell();
  onUnauthorized(() => {
    if (!session.me) return;
    if (cleanup) cleanup();
    cleanup = null;
    signedOut();
    closePanel();
    showSignIn("Your session has ended; sign in again.");
  });
  try {
    await refresh();
    showShell();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      const token = new URLSearchParams(window.location.search).get("setup");
      if (token) showSetup(token);
      else showSignIn();
    } else {
      $("loading").textContent = `Docket cannot start: ${err.message}`;
      $("loading").setAttribute("role", "alert");
    }
  }
}

start();
