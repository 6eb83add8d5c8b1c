// Small DOM helpers: build elements without innerHTML (so no text is ever parsed as HTML),
// format dates and sizes, and announce messages to screen readers.

/**
 * h("button", {class: "primary", onclick: fn}, "Save") → <button class="primary">Save</button>.
 * Attributes starting with "on" become listeners; true/false toggle boolean attributes;
 * null and undefined are skipped, as are null/false children.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else if (name === "value" || name === "checked" || name === "selected") {
      el[name] = value;
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the content of an element. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
/** A unique id for label/for and aria links. */
export function newId(prefix = "id") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: {label, input}, with the label tied to the input. */
export function field(label, input, hint) {
  const id = input.id || newId("f");
  input.id = id;
  let hintEl = null;
  if (hint) {
    hintEl = h("small", { class: "hint", id: `${id}-hint` }, hint);
    input.setAttribute("aria-describedby", hintEl.id);
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

const live = () => document.getElementById("announcer");

/** Say something to screen-reader users (and show it briefly on screen). */
export function announce(message, kind = "info") {
  const region = live();
  if (!region) return;
  region.className = `toast ${kind}`;
  region.textContent = "";
  // a separate tick, so the same message twice is read twice
  window.setTimeout(() => {
    region.textContent = message;
  }, 30);
  window.clearTimeout(announce.timer);
  announce.timer = window.setTimeout(() => {
    region.textContent = "";
    region.className = "toast";
  }, 6000);
}

/** A visible error inside a form or view (role=alert), or nothing when message is empty. */
export function errorBox(message) {
  return message ? h("p", { class: "error", role: "alert" }, message) : null;
}

/** Seconds since the epoch (or an ISO string) → a local date and time. */
export function when(value) {
  if (value === null || value === undefined || value === "") return "";
  let date;
  if (typeof value === "number") date = new Date(value > 1e12 ? value : value * 1000);
  else date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A simple table: columns are [heading, (row) => cell content]. */
export function table(caption, columns, rows, emptyText = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "empty" }, emptyText);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map(([heading]) => h("th", { scope: "col" }, heading)))),
      h(
        "tbody",
        {},
        rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row))))),
      ),
    ),
  );
}

/** Any JSON value as readable markup: objects as definition lists, lists of objects as tables. */
export function dataView(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted" }, "none");
    if (value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap((v) => Object.keys(v)))];
      return table(null, keys.map((k) => [k, (row) => dataView(row[k])]), value);
    }
    return value.map((v) => (typeof v === "object" ? dataView(v) : String(v))).join(", ");
  }
  if (typeof value === "object") {
    return h(
      "dl",
      { class: "data" },
      Object.entries(value).map(([k, v]) => [h("dt", {}, k), h("dd", {}, dataView(v))]),
    );
  }
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(4);
  return String(value);
}

/** Ask before destroying something; resolves true when confirmed. */
export function confirmAction(message) {
  return Promise.resolve(window.confirm(message));
}
