"""The web app: one HTML page at ``/`` and its static assets under ``/app/``.

The app is plain HTML, CSS and JavaScript modules shipped inside the package
(``docket/server/web/``): no build step, no Node, nothing fetched from another site, so it works
on a machine without internet access. It talks to the server only through the REST API under
``/api``. Every response carries a strict Content-Security-Policy (scripts, styles and requests
from this server only) and is never framed by another site.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from docket.errors import NotFoundError

__all__ = ["WEB_ROOT", "router"]

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

router = APIRouter(tags=["web app"], include_in_schema=False)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _file(path: Path, cache: str) -> Response:
    media_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    headers = {**SECURITY_HEADERS, "Cache-Control": cache}
    return FileResponse(path, media_type=media_type, headers=headers)


@router.get("/", summary="The web app")
def index() -> Response:
    # always revalidated, so an upgraded server is picked up on the next load
    return _file(WEB_ROOT / "index.html", "no-cache")


SWAGGER_ROOT = WEB_ROOT.parent / "swagger"  # Swagger UI (swagger-ui-dist, Apache-2.0; see its VERSION and LICENSE)
DOCS_HEADERS = {
    **SECURITY_HEADERS,
    # Swagger UI styles some elements inline and shows images given as data: URLs; nothing from another site
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
}


@router.get("/docs", summary="The API reference (Swagger UI, served from the package: works offline)")
def docs() -> Response:
    return FileResponse(SWAGGER_ROOT / "docs.html", media_type=CONTENT_TYPES[".html"], headers=DOCS_HEADERS)


@router.get("/docs/assets/{asset}", summary="Swagger UI's scripts and styles")
def docs_asset(asset: str) -> Response:
    path = SWAGGER_ROOT / asset
    if asset not in {"swagger-ui-bundle.js", "swagger-ui.css", "docs.js", "favicon-32x32.png"} or not path.is_file():
        raise NotFoundError(f"no API reference file '{asset}'")
    headers = {**DOCS_HEADERS, "Cache-Control": "public, max-age=86400"}
    return FileResponse(path, media_type=CONTENT_TYPES[path.suffix.lower()], headers=headers)


@router.get("/app/{asset:path}", summary="The web app's scripts, styles and icons")
def asset(asset: str) -> Response:
    root = WEB_ROOT.resolve()
    path = (root / asset).resolve()
    if not path.is_relative_to(root) or not path.is_file() or path.suffix.lower() not in CONTENT_TYPES:
        raise NotFoundError(f"no web app file '{asset}'")
    return _file(path, "no-cache")
