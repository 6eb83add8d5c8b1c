"""Websites: crawl from a start page or a sitemap, within the allowed hosts and path prefixes.

Every request goes through the same checks: the host must be allowed, robots.txt must allow the
URL for ``Docket``, and the host must resolve only to addresses that may be reached — never
link-local (169.254/16, fe80::/10), cloud-metadata, multicast or unspecified addresses, and
private or loopback ones only for a source added with ``allow_private``. Redirects are followed by
hand (at most five hops), each hop checked the same way. Each response is capped at
``max_bytes`` and each request at ``timeout`` seconds; requests to one host are spaced by
``delay`` seconds (or robots.txt's Crawl-delay, if longer).

A page's version is its ETag and Last-Modified; the next sync sends them back
(``If-None-Match`` / ``If-Modified-Since``) and a 304 marks the page unchanged without
downloading it. The links each page holds are kept in the checkpoint, so the crawl goes on through
unchanged pages. A page that now answers 404 or 410 is gone (removed from the index); any other
failure of a page keeps its indexed copy. The listing is incomplete (so nothing is deleted) when
``max_pages`` stopped the crawl or the links of an unchanged page are not known.

Linked PDF, Word, Excel and PowerPoint files are fetched and parsed like pages. Main content is
taken out of each HTML page by Docket's HTML parser (navigation, headers, footers, asides dropped).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from posixpath import splitext
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from protego import Protego

from docket.errors import ConfigError, SourceError
from docket.ingest.sources import CONNECTORS
from docket.ingest.sources.addresses import _blocked, _GuardedBackend, check_address, guarded_transport  # noqa: F401
from docket.ingest.sources.base import Fetched, Listing
from docket.version import __version__

__all__ = ["WebConnector", "canonical_url", "check_address", "guarded_transport"]

USER_AGENT = f"Docket/{__version__}"
ROBOTS_AGENT = "Docket"
MAX_REDIRECTS = 5
MAX_SITEMAPS = 50

# content type -> filetype (the parser's extension)
_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "text/plain": "txt",
    "text/markdown": "md",
}
_DOCUMENT_EXTENSIONS = {".pdf": "pdf", ".docx": "docx", ".xlsx": "xlsx", ".pptx": "pptx"}
# links not worth a request: media, styles, scripts, archives
_SKIP_EXTENSIONS = {
    ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".bmp", ".css", ".js", ".mjs", ".map",
    ".woff", ".woff2", ".ttf", ".eot", ".zip", ".gz", ".tgz", ".rar", ".7z", ".mp3", ".mp4", ".avi",
    ".mov", ".webm", ".wav", ".ogg", ".exe", ".dmg", ".iso", ".apk", ".bin",
}  # fmt: skip
_LOC = re.compile(rb"<loc>\s*(.*?)\s*</loc>", re.S | re.I)


class _Skip(Exception):
    """A URL that is not fetched (outside the allowed set, or not a document): not a failure."""


class _Gone(Exception):
    """The page answered 404 or 410."""


# ------------------------------------------------------------------ URLs
def canonical_url(url: str) -> str:
    """The URL a page is known by: lower-case scheme and host, no default port, no fragment, '/' for
    an empty path."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _version(etag: str | None, last_modified: str | None, data: bytes) -> str:
    if etag or last_modified:
        return json.dumps({"etag": etag, "last_modified": last_modified}, sort_keys=True)
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _conditional(version: str | None) -> dict[str, str]:
    """The If-None-Match / If-Modified-Since headers for a stored version."""
    if not version or not version.startswith("{"):
        return {}
    try:
        stored = json.loads(version)
    except ValueError:
        return {}
    headers = {}
    if stored.get("etag"):
        headers["If-None-Match"] = stored["etag"]
    if stored.get("last_modified"):
        headers["If-Modified-Since"] = stored["last_modified"]
    return headers


def _filetype(content_type: str, url: str) -> str | None:
    mime = content_type.split(";")[0].strip().lower()
    if mime in _TYPES:
        return _TYPES[mime]
    return _DOCUMENT_EXTENSIONS.get(splitext(urlsplit(url).path)[1].lower())


def _links(data: bytes, base: str) -> tuple[list[str], str]:
    """(absolute links of an HTML page unless it says nofollow, its title)."""
    from bs4 import BeautifulSoup

    from docket.ingest.parsers.html import decode_html

    soup = BeautifulSoup(decode_html(data), "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    robots = soup.find("meta", attrs={"name": re.compile("^robots$", re.I)})
    if robots is not None and "nofollow" in str(robots.get("content", "")).lower():
        return [], title
    base_tag = soup.find("base", href=True)
    if base_tag is not None:
        base = urljoin(base, str(base_tag["href"]))
    out = []
    for tag in soup.find_all(["a", "area"], href=True):
        href = str(tag["href"]).strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
            continue
        if "nofollow" in str(tag.get("rel") or "").lower():
            continue
        out.append(urljoin(base, href))
    return out, title


def _ungzip(data: bytes, limit: int = 50 * 1024 * 1024) -> bytes:
    """A gzip-compressed sitemap's XML (at most ``limit`` bytes); other data as it is."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
            return unzipped.read(limit)
    except (OSError, EOFError):
        return b""


def _sitemap_urls(data: bytes) -> tuple[list[str], bool]:
    """(URLs of a sitemap, whether it is a sitemap index); gzip-compressed sitemaps are read too."""
    data = _ungzip(data)
    head = data[:2048].lower()
    urls = [m.decode("utf-8", "replace").replace("&amp;", "&") for m in _LOC.findall(data)]
    return urls, b"<sitemapindex" in head


def _is_sitemap(data: bytes) -> bool:
    head = _ungzip(data)[:2048].lower()
    return b"<urlset" in head or b"<sitemapindex" in head


# ------------------------------------------------------------------ the crawler
@dataclass
class _Crawl:
    """One sync's state."""

    known: Mapping[str, str]
    old_links: Mapping[str, list[str]]
    listing: Listing
    links: dict[str, list[str]] = field(default_factory=dict)
    queued: set[str] = field(default_factory=set)
    queue: deque[str] = field(default_factory=deque)
    done: set[str] = field(default_factory=set)
    pages: int = 0


class WebConnector:
    type = "web"

    def __init__(
        self,
        url: str,
        allow_prefixes: Sequence[str] = (),
        allow_domains: Sequence[str] = (),
        allow_private: bool = False,
        max_pages: int = 500,
        max_bytes: int = 20 * 1024 * 1024,
        timeout: float = 20.0,
        delay: float = 1.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"web source url '{url}': give an http:// or https:// address")
        if max_pages < 1 or max_bytes < 1 or timeout <= 0 or delay < 0:
            raise ConfigError("web source: max_pages, max_bytes and timeout must be positive, delay not negative")
        self.url = canonical_url(url)
        # host -> the ports it may be reached on (None: the scheme's default ports, 80 and 443): a
        # link to another port of an allowed host (another service on the machine) is not followed
        self.hosts: dict[str, set[int] | None] = {}
        for entry in [url.strip(), *(d.strip() for d in allow_domains if d.strip())]:
            entry_parts = urlsplit(entry if "//" in entry else f"//{entry}")
            host = (entry_parts.hostname or "").lower()
            try:
                port = entry_parts.port
            except ValueError:
                raise ConfigError(f"web source: '{entry}' is not a host or host:port") from None
            if port in (None, 80, 443):
                self.hosts[host] = None
            elif self.hosts.get(host, set()) is not None:
                self.hosts.setdefault(host, set()).add(port)  # type: ignore[union-attr]
        self.prefixes = tuple(p if p.startswith("/") else "/" + p for p in allow_prefixes if p)
        self.allow_private = allow_private
        self.max_pages, self.max_bytes, self.timeout, self.delay = max_pages, max_bytes, timeout, delay
        self._robots: dict[str, Protego | None] = {}
        self._last_request: dict[str, float] = {}

    # -------------------------------------------------------------- Connector
    def fetch(self, known: Mapping[str, str], checkpoint: Mapping[str, Any]) -> Listing:
        client = httpx.Client(
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the address checks must mean what they say
            headers={"User-Agent": USER_AGENT},
            transport=guarded_transport(self.allow_private),
        )
        listing = Listing(items=iter(()))
        crawl = _Crawl(known, dict(checkpoint.get("links") or {}), listing)
        try:
            first = self._start(client, crawl)
        except BaseException:
            client.close()
            raise
        listing.items = self._crawl(client, crawl, first)
        return listing

    def _start(self, client: httpx.Client, crawl: _Crawl) -> Fetched | None:
        """Fetch the start URL (a page or a sitemap); every failure is the source's failure."""
        self._robots_for(client, self.url, strict=True)
        for sitemap in self._robots_sitemaps(self.url):
            self._enqueue(crawl, sitemap, sitemap=True)
        try:
            response = self._get(client, self.url, crawl.known.get(self.url), start=True)
        except _Gone as exc:
            raise SourceError(f"start page {self.url} answered {exc}; check the address") from None
        except _Skip as exc:
            raise SourceError(f"start page {self.url}: {exc}") from None
        final, resp = response
        crawl.done.add(self.url)
        crawl.done.add(final)
        if resp.status_code == 304:
            self._unchanged(crawl, final)
            return None
        if _is_sitemap(resp.content):
            self._read_sitemap(client, crawl, resp.content, depth=0)
            return None
        return self._item(crawl, final, resp)

    def _crawl(self, client: httpx.Client, crawl: _Crawl, first: Fetched | None) -> Iterator[Fetched]:
        listing = crawl.listing
        try:
            if first is not None:
                yield first
            while crawl.queue:
                url = crawl.queue.popleft()
                if url in crawl.done:
                    continue
                if crawl.pages >= self.max_pages:
                    listing.complete = False  # the rest was not looked at: nothing may be deleted for it
                    break
                crawl.done.add(url)
                try:
                    final, resp = self._get(client, url, crawl.known.get(url))
                except _Skip:
                    continue
                except _Gone:
                    continue  # not seen, so a page indexed before is removed
                except SourceError as exc:
                    listing.failed[url] = str(exc)
                    continue
                if final != url:
                    if final in crawl.done and final != url:
                        continue
                    crawl.done.add(final)
                item: Fetched | None = None
                if resp.status_code == 304:
                    self._unchanged(crawl, final)
                elif _is_sitemap(resp.content):
                    self._read_sitemap(client, crawl, resp.content, depth=1)
                    continue
                else:
                    item = self._item(crawl, final, resp)
                if item is not None:
                    yield item
            listing.checkpoint = {"links": crawl.links}
        finally:
            client.close()

    # -------------------------------------------------------------- pages
    def _unchanged(self, crawl: _Crawl, url: str) -> None:
        crawl.pages += 1
        crawl.listing.unchanged.add(url)
        links = crawl.old_links.get(url)
        if links is None:
            if not url.endswith(tuple(_DOCUMENT_EXTENSIONS)):
                crawl.listing.complete = False  # its links are not known: pages behind it may be missed
            return
        crawl.links[url] = list(links)
        for link in links:
            self._enqueue(crawl, link)

    def _item(self, crawl: _Crawl, url: str, resp: httpx.Response) -> Fetched | None:
        filetype = _filetype(resp.headers.get("content-type", ""), url)
        if filetype is None:
            return None  # an image, an archive...: not a document
        crawl.pages += 1
        data = resp.content
        title = ""
        if filetype == "html":
            links, title = _links(data, url)
            crawl.links[url] = []
            for link in links:
                canonical = canonical_url(link)
                if self._allowed(canonical):
                    crawl.links[url].append(canonical)
                    self._enqueue(crawl, canonical)
        else:
            crawl.links[url] = []
            title = splitext(urlsplit(url).path.rsplit("/", 1)[-1])[0]
        modified = resp.headers.get("last-modified")
        mtime = None
        if modified:
            try:
                mtime = parsedate_to_datetime(modified).timestamp()
            except (TypeError, ValueError):
                mtime = None
        return Fetched(
            key=url,
            title=title,
            data=data,
            filetype=filetype,
            version=_version(resp.headers.get("etag"), modified, data),
            url=url,
            mtime=mtime,
            metadata={"content_type": resp.headers.get("content-type", "")},
        )

    def _enqueue(self, crawl: _Crawl, url: str, sitemap: bool = False) -> None:
        canonical = canonical_url(url)
        if canonical in crawl.queued or canonical in crawl.done:
            return
        if not sitemap and not self._allowed(canonical):
            return
        if splitext(urlsplit(canonical).path)[1].lower() in _SKIP_EXTENSIONS:
            return
        crawl.queued.add(canonical)
        crawl.queue.append(canonical)

    def _read_sitemap(self, client: httpx.Client, crawl: _Crawl, data: bytes, depth: int) -> None:
        urls, is_index = _sitemap_urls(data)
        for url in urls[: self.max_pages * 2 if not is_index else MAX_SITEMAPS]:
            canonical = canonical_url(url)
            if is_index:
                if depth < 2 and self._host_allowed(canonical):
                    self._enqueue(crawl, canonical, sitemap=True)
            else:
                self._enqueue(crawl, canonical)

    # -------------------------------------------------------------- rules
    def _host_allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or host not in self.hosts:
            return False
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        ports = self.hosts[host]
        return port in (80, 443) if ports is None else port in ports

    def _allowed(self, url: str) -> bool:
        if not self._host_allowed(url):
            return False
        path = urlsplit(url).path or "/"
        return not self.prefixes or path.startswith(self.prefixes) or url == self.url

    def _robots_for(self, client: httpx.Client, url: str, strict: bool = False) -> Protego | None:
        """The robots.txt rules of ``url``'s site (None: no robots.txt, everything allowed)."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site in self._robots:
            return self._robots[site]
        robots_url = site + "/robots.txt"
        rules: Protego | None = None
        try:
            _final, resp = self._request(client, robots_url, {}, check_rules=False)
            if resp.status_code == 200:
                rules = Protego.parse(resp.content.decode("utf-8", "replace"))
            elif resp.status_code >= 500:  # RFC 9309: the site may not be crawled for now
                rules = Protego.parse("User-agent: *\nDisallow: /")
        except (_Gone, _Skip):
            rules = None
        except SourceError:
            if strict:
                raise
            rules = Protego.parse("User-agent: *\nDisallow: /")
        self._robots[site] = rules
        return rules

    def _robots_sitemaps(self, url: str) -> list[str]:
        parts = urlsplit(url)
        rules = self._robots.get(f"{parts.scheme}://{parts.netloc}")
        return [s for s in (rules.sitemaps if rules is not None else ()) if self._host_allowed(canonical_url(s))]

    def _wait(self, host: str, rules: Protego | None) -> None:
        delay = max(self.delay, float((rules.crawl_delay(ROBOTS_AGENT) if rules is not None else None) or 0))
        last = self._last_request.get(host)
        if last is not None and delay > 0:
            pause = last + delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self._last_request[host] = time.monotonic()

    # -------------------------------------------------------------- HTTP
    def _get(
        self, client: httpx.Client, url: str, version: str | None, start: bool = False
    ) -> tuple[str, httpx.Response]:
        return self._request(client, url, _conditional(version), start=start)

    def _request(
        self,
        client: httpx.Client,
        url: str,
        headers: Mapping[str, str],
        *,
        start: bool = False,
        check_rules: bool = True,
    ) -> tuple[str, httpx.Response]:
        """GET ``url`` following redirects by hand; returns (final canonical URL, response).

        Raises _Skip (outside the allowed set, disallowed by robots.txt), _Gone (404/410) or
        SourceError (unreachable, refused address, TLS, timeout, too large, other HTTP errors).
        """
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            host = (parts.hostname or "").lower()
            if current != url and not (self._host_allowed(current) if start else self._allowed(current)):
                raise _Skip(f"redirects to {current}, outside the allowed sites and paths; not followed")
            rules = self._robots_for(client, current) if check_rules else None
            if rules is not None and not rules.can_fetch(current, ROBOTS_AGENT):
                raise _Skip(f"{current} is disallowed by robots.txt")
            check_address(host, parts.port or (443 if parts.scheme == "https" else 80), self.allow_private)
            self._wait(host, rules)
            resp = self._send(client, current, headers)
            if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
                current = canonical_url(urljoin(current, resp.headers["location"]))
                continue
            if resp.status_code in (404, 410):
                raise _Gone(f"{resp.status_code} {resp.reason_phrase}")
            if resp.status_code == 304 or 200 <= resp.status_code < 300:
                return current, resp
            if resp.status_code in (401, 403):
                raise SourceError(f"{current}: {resp.status_code} {resp.reason_phrase} (the site refused access)")
            raise SourceError(f"{current}: HTTP {resp.status_code} {resp.reason_phrase}")
        raise SourceError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _send(self, client: httpx.Client, url: str, headers: Mapping[str, str]) -> httpx.Response:
        # ``timeout`` bounds the whole request, not each read: a server that sends a byte now and
        # then must not hold the sync (and a server worker) for ever
        deadline = time.monotonic() + self.timeout
        try:
            with client.stream("GET", url, headers=dict(headers)) as resp:
                length = resp.headers.get("content-length")
                if length and length.isdigit() and int(length) > self.max_bytes:
                    raise SourceError(
                        f"{url}: {int(length) / 1e6:.1f} MB, over the {self.max_bytes / 1e6:.1f} MB limit"
                    )
                body = bytearray()
                for piece in resp.iter_bytes():
                    if time.monotonic() > deadline:
                        raise SourceError(f"{url}: no whole answer within {self.timeout:g} s")
                    body += piece
                    if len(body) > self.max_bytes:
                        raise SourceError(f"{url}: over the {self.max_bytes / 1e6:.1f} MB limit")
                return httpx.Response(resp.status_code, headers=resp.headers, content=bytes(body), request=resp.request)
        except httpx.TimeoutException:
            raise SourceError(f"{url}: no answer within {self.timeout:g} s") from None
        except httpx.ConnectError as exc:
            text = str(exc)
            if "SSL" in text or "certificate" in text.lower():
                raise SourceError(f"{url}: TLS error ({text}); check the address or the site's certificate") from None
            raise SourceError(f"{url}: cannot connect ({text or 'connection refused'})") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from None


@CONNECTORS.register("web")
def web_connector(
    url: str,
    allow_prefixes: Sequence[str] = (),
    allow_domains: Sequence[str] = (),
    allow_private: bool = False,
    max_pages: int = 500,
    max_bytes: int = 20 * 1024 * 1024,
    timeout: float = 20.0,
    delay: float = 1.0,
) -> WebConnector:
    """A website crawled from ``url`` (a page or a sitemap.xml)."""
    return WebConnector(url, allow_prefixes, allow_domains, allow_private, max_pages, max_bytes, timeout, delay)
