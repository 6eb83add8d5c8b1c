"""A small website served on 127.0.0.1 for the web connector's tests: pages, a sitemap, robots.txt,
a linked PDF, ETags (304 on If-None-Match), redirects; pages can be changed, added and removed
between syncs, and every request is recorded."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def page(title: str, body: str, links: tuple[str, ...] = ()) -> bytes:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<nav><ul>{anchors}</ul></nav><main><h1>{title}</h1><p>{body}</p></main>"
        "<footer>Copyright Clef</footer></body></html>"
    ).encode()


@dataclass
class Site:
    """Path -> (content type, body); ``redirects`` path -> location. ``requests`` records
    (method, path, status) of each request served."""

    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def statuses(self, path: str) -> list[int]:
        return [status for _, p, status in self.requests if p == path]

    def html(self, path: str, title: str, body: str, links: tuple[str, ...] = ()) -> None:
        self.pages[path] = ("text/html; charset=utf-8", page(title, body, links))


def default_site(site: Site) -> Site:
    robots = f"User-agent: *\nDisallow: /private/\nSitemap: {site.base}/sitemap.xml\n"
    site.pages["/robots.txt"] = ("text/plain", robots.encode())
    site.html(
        "/",
        "Clef intranet",
        "Welcome to the Clef intranet. Read the policies below.",
        ("/about.html", "/news.html#latest", "/handbook.pdf", "/private/salaries.html", "http://example.invalid/x"),
    )
    site.html("/about.html", "About Clef", "Clef was founded in 2011 and makes guitar tuners.")
    site.html("/news.html", "News", "The office moves to Lisbon in March.")
    site.html("/orphan.html", "Orphan page", "Only the sitemap links the quarterly volunteering day.")
    site.html("/private/salaries.html", "Salaries", "Confidential salary bands.")
    site.pages["/handbook.pdf"] = (
        "application/pdf",
        make_pdf("Employee handbook. Parental leave is sixteen weeks at full pay."),
    )
    urls = "".join(f"<url><loc>{site.base}{p}</loc></url>" for p in ("/", "/orphan.html"))
    site.pages["/sitemap.xml"] = (
        "application/xml",
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode(),
    )
    return site


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            path = self.path.split("#")[0]
            if path in site.redirects:
                self._send(301, "text/plain", b"", {"Location": site.redirects[path]})
                return
            found = site.pages.get(path)
            if found is None:
                self._send(404, "text/html", b"<h1>Not found</h1>")
                return
            content_type, body = found
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, content_type, b"", {"ETag": etag})
                return
            self._send(200, content_type, body, {"ETag": etag})

        def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
            site.requests.append(("GET", self.path, status))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler


@contextmanager
def serve(site: Site | None = None) -> Iterator[Site]:
    """Serve ``site`` (default: :func:`default_site`) on 127.0.0.1 until the block ends."""
    site = site or Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.port = server.server_address[1]
    if not site.pages:
        default_site(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
