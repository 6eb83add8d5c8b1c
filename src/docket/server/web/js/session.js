// Who is signed in, the workspace they are working in, and what they may do there.

import { api, setCsrf } from "./api.js";

const STORAGE_KEY = "docket.workspace";
const RANK = { member: 1, editor: 2, admin: 3 };

export const session = {
  me: null, // GET /api/me: {user, workspaces: [{name, role, public}], csrf}
  workspace: "", // the picked workspace's name ("" when the user has none)
};

export function user() {
  return session.me ? session.me.user : null;
}

export function workspaces() {
  return (session.me && session.me.workspaces) || [];
}

/** Owner or admin of the whole server. */
export function isServerAdmin() {
  const u = user();
  return Boolean(u && (u.role === "owner" || u.role === "admin"));
}

/** The caller's role in a workspace (member, editor, admin) or null. */
export function roleIn(name = session.workspace) {
  const found = workspaces().find((w) => w.name === name);
  return found ? found.role : null;
}

/** Whether the caller's role in the workspace is at least `role`. */
export function can(role, name = session.workspace) {
  if (isServerAdmin()) return true;
  const have = roleIn(name);
  return Boolean(have && RANK[have] >= RANK[role]);
}

/** Admin of at least one workspace (sees the admin pages for those). */
export function adminSomewhere() {
  return isServerAdmin() || workspaces().some((w) => w.role === "admin");
}

/** Load GET /api/me into the session; rejects with ApiError (401 when signed out). */
export async function refresh() {
  const me = await api("GET", "/api/me");
  adopt(me);
  return me;
}

/** Take a {user, workspaces, csrf} answer (sign-in, setup, /api/me). */
export function adopt(me) {
  session.me = me;
  setCsrf(me.csrf);
  const names = workspaces().map((w) => w.name);
  const saved = window.localStorage.getItem(STORAGE_KEY);
  if (!names.includes(session.workspace)) {
    session.workspace = names.includes(saved) ? saved : names[0] || "";
  }
}

export function pickWorkspace(name) {
  session.workspace = name;
  window.localStorage.setItem(STORAGE_KEY, name);
}

export function signedOut() {
  session.me = null;
  setCsrf(null);
}
