// Markdown in answers, rendered safely: markdown-it with raw HTML off turns the text into HTML,
// DOMPurify keeps only an allow-list of elements and attributes, and the result comes back as DOM
// nodes (a fragment), never as a string put into innerHTML. Both libraries are vendored, pinned
// builds (../vendor/VERSIONS.txt): the app has no build step and loads nothing from another site.

import "../vendor/markdown-it.min.js"; // a UMD build: defines globalThis.markdownit
import DOMPurify from "../vendor/purify.es.mjs";

const TAGS = [
  "a", "b", "blockquote", "br", "code", "del", "em", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p",
  "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
];
const ATTRIBUTES = ["href", "title", "start"];
// links to web pages, mail and this app only: no javascript:, data: or other schemes
const SAFE_URL = /^(?:https?:|mailto:|#|\/(?!\/))/i;

const md = globalThis.markdownit({ html: false, linkify: true, typographer: false, breaks: true });

// An answer's headings sit under the view's own h1 and the question: # becomes h3, ## h4 and so on.
md.renderer.rules.heading_open = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  token.tag = `h${Math.min(6, Number(token.tag.slice(1)) + 2)}`;
  return self.renderToken(tokens, idx, options);
};
md.renderer.rules.heading_close = (tokens, idx) => `</${tokens[idx - 2].tag}>\n`;

const purifier = DOMPurify(window);
purifier.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    const href = node.getAttribute("href") || "";
    if (!SAFE_URL.test(href)) {
      node.removeAttribute("href");
      return;
    }
    node.setAttribute("rel", "noopener noreferrer nofollow");
    if (!href.startsWith("#")) node.setAttribute("target", "_blank");
  }
});

/** `text` (Markdown) as a sanitised DocumentFragment. */
export function renderMarkdown(text) {
  const html = md.render(String(text || ""));
  return purifier.sanitize(html, {
    ALLOWED_TAGS: TAGS,
    ALLOWED_ATTR: ATTRIBUTES,
    ALLOW_DATA_ATTR: false,
    RETURN_DOM_FRAGMENT: true,
  });
}
