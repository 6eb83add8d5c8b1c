"""The website connector against a real site served on 127.0.0.1 (tests/ingest/sources/site.py)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

import pytest

from docket.config import load_settings
from docket.errors import ConfigError, SourceError
from docket.ingest.sources.sync import add_remote_source
from docket.ingest.sources.web import WebConnector, _blocked, _GuardedBackend, canonical_url, check_address
from docket.kb import KnowledgeBase
from docket.models.embedders import FakeEmbedder
from tests.ingest.sources.site import Site, serve


@pytest.fixture
def kb(tmp_path: Path):
    with KnowledgeBase(load_settings(home=tmp_path / "kb"), embedder=FakeEmbedder()) as kb:
        yield kb


def _add(kb: KnowledgeBase, url: str, **settings: object) -> None:
    add_remote_source(kb.store, "site", "web", {"url": url, "allow_private": True, "delay": 0, **settings})


def _paths(kb: KnowledgeBase, site: Site) -> set[str]:
    return {d.path.removeprefix(site.base) for d in kb.store.documents("site")}


def test_first_sync_indexes_pages_sitemap_and_pdf_but_not_robots_disallowed(kb: KnowledgeBase) -> None:
    with serve() as site:
        _add(kb, site.base + "/")
        report = kb.sync(["site"])
        assert report.failed == []
        assert report.added == 5
        assert _paths(kb, site) == {"/", "/about.html", "/news.html", "/orphan.html", "/handbook.pdf"}
        assert site.statuses("/private/salaries.html") == []  # robots.txt disallows /private/
        assert not any(p.startswith("http://example.invalid") for _, p, _ in site.requests)
        titles = {d.path.removeprefix(site.base): d.title for d in kb.store.documents("site")}
        assert titles["/about.html"] == "About Clef" and titles["/handbook.pdf"] == "handbook"
        hits = kb.search("parental leave sixteen weeks", k=3)
        assert hits[0].path == site.base + "/handbook.pdf"


def test_second_sync_sees_changed_added_and_removed_pages_and_uses_304s(kb: KnowledgeBase) -> None:
    with serve() as site:
        _add(kb, site.base + "/")
        kb.sync(["site"])
        site.requests.clear()
        site.html("/about.html", "About Clef", "Clef was founded in 2011 and now makes pianos too.", ("/new.html",))
        site.html("/new.html", "Canteen", "The canteen opens at noon.")
        del site.pages["/news.html"]
        report = kb.sync(["site"])
        assert (report.added, report.updated, report.deleted, report.unchanged) == (1, 1, 1, 3)
        assert report.failed == []
        assert site.statuses("/") == [304] and site.statuses("/handbook.pdf") == [304]
        assert site.statuses("/orphan.html") == [304]
        assert _paths(kb, site) == {"/", "/about.html", "/new.html", "/orphan.html", "/handbook.pdf"}
        again = kb.sync(["site"])
        assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 5)


def test_sitemap_as_start_url_and_allow_prefix(kb: KnowledgeBase) -> None:
    with serve() as site:
        site.html("/docs/a.html", "Doc A", "Alpha document.", ("/docs/b.html", "/blog/c.html"))
        site.html("/docs/b.html", "Doc B", "Beta document.")
        site.html("/blog/c.html", "Blog C", "Gamma post.")
        urls = "".join(f"<url><loc>{site.base}{p}</loc></url>" for p in ("/docs/a.html", "/blog/c.html"))
        site.pages["/sitemap.xml"] = ("application/xml", f"<urlset>{urls}</urlset>".encode())
        _add(kb, site.base + "/sitemap.xml", allow_prefixes=["/docs/"])
        report = kb.sync(["site"])
        assert report.failed == []
        assert _paths(kb, site) == {"/docs/a.html", "/docs/b.html"}
        assert site.statuses("/blog/c.html") == []


def test_server_down_is_a_source_error_and_nothing_is_deleted(kb: KnowledgeBase) -> None:
    with serve() as site:
        _add(kb, site.base + "/")
        kb.sync(["site"])
        base = site.base
    report = kb.sync(["site"])  # the server has stopped
    assert report.deleted == 0 and report.added == 0
    assert report.failed[0]["path"] == "site" and "cannot connect" in report.failed[0]["error"]
    assert len(list(kb.store.documents("site"))) == 5
    config = kb.ledger.sources()["site"]
    assert config.last_error and "cannot connect" in config.last_error and config.checkpoint["links"][base + "/"]


def test_404_start_page_is_a_source_error(kb: KnowledgeBase) -> None:
    with serve() as site:
        _add(kb, site.base + "/missing.html")
        report = kb.sync(["site"])
    assert report.failed == [{"path": "site", "error": f"start page {site.base}/missing.html answered 404 Not Found; "
                              "check the address"}]  # fmt: skip


def test_tls_error_is_a_source_error(kb: KnowledgeBase) -> None:
    with serve() as site:
        _add(kb, f"https://127.0.0.1:{site.port}/")  # the server speaks plain HTTP
        report = kb.sync(["site"])
    assert report.failed[0]["path"] == "site" and "TLS error" in report.failed[0]["error"]


def test_malformed_html_is_still_indexed(kb: KnowledgeBase) -> None:
    with serve() as site:
        site.pages["/news.html"] = (
            "text/html",
            b"<html><title>Broken</title><body><p>Unclosed <b>tags <div>The office",
        )
        _add(kb, site.base + "/")
        report = kb.sync(["site"])
        assert report.failed == [] and "/news.html" in _paths(kb, site)


def test_a_failed_page_keeps_its_indexed_copy(kb: KnowledgeBase) -> None:
    with serve() as site:
        _add(kb, site.base + "/", max_bytes=3000)
        assert kb.sync(["site"]).failed == []
        site.html("/about.html", "About Clef", "x" * 5000)  # now over the limit
        report = kb.sync(["site"])
        assert report.deleted == 0
        assert "/about.html" in _paths(kb, site)
        assert any("limit" in f["error"] for f in report.failed if f["path"].endswith("/about.html"))


def test_redirect_to_a_host_outside_the_allowed_set_is_not_followed(kb: KnowledgeBase) -> None:
    with serve() as site, serve() as other:
        other.html("/", "Elsewhere", "Another site entirely.")
        site.redirects["/news.html"] = f"http://localhost:{other.port}/"
        _add(kb, site.base + "/")
        report = kb.sync(["site"])
        assert report.failed == []
        assert other.requests == []
        assert "/news.html" not in _paths(kb, site)


def test_redirect_inside_the_site_indexes_the_target(kb: KnowledgeBase) -> None:
    with serve() as site:
        site.redirects["/news.html"] = "/news/2026.html"
        site.html("/news/2026.html", "News 2026", "The office moves to Lisbon.")
        _add(kb, site.base + "/")
        kb.sync(["site"])
        assert "/news/2026.html" in _paths(kb, site) and "/news.html" not in _paths(kb, site)


def test_loopback_is_refused_without_allow_private(kb: KnowledgeBase) -> None:
    with serve() as site:
        add_remote_source(kb.store, "site", "web", {"url": site.base + "/", "delay": 0})
        report = kb.sync(["site"])
    assert report.failed[0]["path"] == "site"
    assert "loopback address: refused; add the source with --allow-private" in report.failed[0]["error"]
    assert site.requests == []


def test_max_pages_stops_the_crawl_without_deleting_the_rest(kb: KnowledgeBase) -> None:
    with serve() as site:
        _add(kb, site.base + "/")
        kb.sync(["site"])
        settings = {"url": site.base + "/", "allow_private": True, "delay": 0, "max_pages": 2}
        kb.ledger.add_source("site", replace(kb.ledger.sources()["site"], settings=settings))
        report = kb.sync(["site"])
        assert report.deleted == 0 and len(list(kb.store.documents("site"))) == 5


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "cloud-metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "reserved"),
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("::ffff:169.254.169.254", "cloud-metadata"),
        ("93.184.216.34", None),
    ],
)
def test_address_rules(address: str, reason: str | None) -> None:
    assert _blocked(ipaddress.ip_address(address), allow_private=False) == reason


def test_allow_private_still_refuses_metadata_and_link_local() -> None:
    assert _blocked(ipaddress.ip_address("10.0.0.1"), allow_private=True) is None
    assert _blocked(ipaddress.ip_address("169.254.169.254"), allow_private=True) == "cloud-metadata"
    with pytest.raises(SourceError, match="link-local"):
        check_address("169.254.1.1", 80, allow_private=True)


def test_connections_go_only_to_checked_addresses() -> None:
    """The check sits in the connection itself, so a second DNS answer cannot slip past it."""
    with serve() as site:
        with pytest.raises(SourceError, match="loopback"):
            _GuardedBackend(allow_private=False).connect_tcp("localhost", site.port)
        stream = _GuardedBackend(allow_private=True).connect_tcp("localhost", site.port, timeout=5)
        stream.close()


def test_canonical_url_drops_fragment_default_port_and_case() -> None:
    assert canonical_url("HTTP://Example.COM:80#top") == "http://example.com/"
    assert canonical_url("https://example.com:443/a/b?x=1#f") == "https://example.com/a/b?x=1"
    assert canonical_url("http://example.com:8080/a") == "http://example.com:8080/a"


def test_bad_settings_are_refused_when_added(kb: KnowledgeBase) -> None:
    with pytest.raises(ConfigError, match="http:// or https://"):
        WebConnector("ftp://example.com/")
    with pytest.raises(ConfigError, match="has no option"):
        add_remote_source(kb.store, "x", "web", {"url": "https://example.com/", "depth": 3})
