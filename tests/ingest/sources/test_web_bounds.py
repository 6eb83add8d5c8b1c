"""A web source's timeout bounds each request as a whole, and its allowed hosts mean host *and* port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("protego", reason="the web extra is not installed (pip install 'docket[web]')")

from docket.errors import SourceError
from docket.ingest.sources.web import WebConnector


@contextmanager
def site(pages: dict[str, bytes], drip: bool = False) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/robots.txt" or self.path not in pages:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            if drip:  # a byte now and then, for ever (until the client gives up)
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                try:
                    for _ in range(600):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass
                return
            self.send_header("Content-Length", str(len(pages[self.path])))
            self.end_headers()
            self.wfile.write(pages[self.path])

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.timeout(120)
def test_a_server_that_drips_bytes_is_given_up_on_after_the_timeout() -> None:
    with site({"/": b""}, drip=True) as port:
        connector = WebConnector(f"http://127.0.0.1:{port}/", allow_private=True, timeout=1.0, delay=0)
        with pytest.raises(SourceError, match="no whole answer within 1 s"):
            connector.fetch({}, {})


def test_a_link_to_another_port_of_an_allowed_host_is_not_followed() -> None:
    with site({"/other": b"<html><body><p>Internal admin page.</p></body></html>"}) as other:
        page = f'<html><body><p>Welcome.</p><a href="http://127.0.0.1:{other}/other">x</a></body></html>'.encode()
        with site({"/": page}) as port:
            connector = WebConnector(f"http://127.0.0.1:{port}/", allow_private=True, delay=0)
            keys = [item.key for item in connector.fetch({}, {}).items]
            assert keys == [f"http://127.0.0.1:{port}/"]
            listed = WebConnector(
                f"http://127.0.0.1:{port}/", allow_domains=[f"127.0.0.1:{other}"], allow_private=True, delay=0
            )
            keys = [item.key for item in listed.fetch({}, {}).items]
            assert f"http://127.0.0.1:{other}/other" in keys  # listed with its port: followed
