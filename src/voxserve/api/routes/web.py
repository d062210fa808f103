"""The browser UI: ``/`` (the page) and ``/static/{name}`` (its scripts and styles).

Plain files shipped inside the package (``voxserve/api/web``), no build step and nothing
fetched from elsewhere, so the page works offline. Every answer carries a strong ``ETag``
and ``Cache-Control: no-cache``: browsers keep the files but revalidate them (a cheap
``304``), so an upgraded server never runs against a stale script. Served without
authentication: the page holds no data; it asks for an API key when the API answers 401.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, HTTPException, Request, Response

router = APIRouter(tags=["web"], include_in_schema=False)

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
#: Only plain names of the known kinds: no directories, no dot files, no traversal.
_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(?:js|css|svg)$")
#: Scripts, styles and media from this origin only (blob: for audio built in the page).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@lru_cache(maxsize=32)
def load_asset(name: str, package: str = "voxserve.api", folder: str = "web") -> Asset | None:
    """A file shipped in ``package``'s ``folder`` (read once), or None."""
    resource = resources.files(package).joinpath(folder, name)
    if not resource.is_file():
        return None
    body = resource.read_bytes()
    suffix = name[name.rfind("."):]
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Asset(body, _CONTENT_TYPES[suffix], f'"{digest}"')


def _load(name: str) -> Asset | None:
    return load_asset(name)


def answer_asset(
    request: Request, asset: Asset, *, page: bool, csp: str = CSP
) -> Response:
    """``asset`` with its ETag (``304`` when the browser has it), as a page (with the
    Content-Security-Policy ``csp``) or as one of a page's files."""
    headers = {
        "ETag": asset.etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if page:
        headers["Content-Security-Policy"] = csp
        headers["Referrer-Policy"] = "no-referrer"
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else asset.body
    response = Response(body, media_type=asset.content_type, headers=headers)
    if request.method == "HEAD":
        response.headers["content-length"] = str(len(asset.body))
    return response


@router.api_route("/", methods=["GET", "HEAD"])
async def index(request: Request) -> Response:
    """The single-page UI (playground and projects)."""
    asset = _load("index.html")
    if asset is None:  # a broken install; say so rather than a blank page
        raise HTTPException(404, "the web UI is not installed")
    return answer_asset(request, asset, page=True)


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
async def static(name: str, request: Request) -> Response:
    """The page's scripts and styles."""
    asset = _load(name) if _NAME.match(name) else None
    if asset is None:
        raise HTTPException(404, f"no static file '{name}'")
    return answer_asset(request, asset, page=False)
