// A few line icons drawn inline (no icon font, nothing downloaded). Decorative: aria-hidden.

const PATHS = {
  up: "M7 10v11H3V10h4zm2 11h8.2a2 2 0 0 0 2-1.6l1.3-7A2 2 0 0 0 18.5 10H14l.8-4.2A1.8 1.8 0 0 0 11.6 4L9 10v11z",
  down: "M17 14V3h4v11h-4zm-2-11H6.8a2 2 0 0 0-2 1.6l-1.3 7A2 2 0 0 0 5.5 14H10l-.8 4.2a1.8 1.8 0 0 0 3.2 1.8L15 14V3z",
  upload: "M12 16V4m0 0l-5 5m5-5l5 5M4 20h16",
  send: "M4 12l16-8-6 16-2.5-6.5L4 12z",
  file: "M6 2h8l4 4v16H6V2zm8 0v4h4",
};

export function icon(name, size = 18) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `icon icon-${name}`);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", PATHS[name] || "");
  svg.append(path);
  return svg;
}
