"""The interactive API docs, offline: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc).

FastAPI's own pages load Swagger UI and ReDoc from a CDN and start them with an inline
script, so they are blank without Internet access and under a Content-Security-Policy
that forbids inline scripts. These pages load the same libraries from the
``fastapi-offline`` wheel (``/docs/assets/…``) and start them from ``/docs/assets/docs.js``
(the pages and that script are in ``voxserve/api/docs``), and
are served under the web UI's policy (scripts, styles and requests to this origin only).
Who may see them (with ``/openapi.json`` and ``/metrics``) is
``VOXSERVE_OPERATIONS_ACCESS`` (see ``voxserve.api.middleware.authentication``).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from voxserve.api.routes.web import CSP, answer_asset, load_asset

router = APIRouter(tags=["docs"], include_in_schema=False)

#: The library files the pages use, as the ``fastapi-offline`` wheel ships them.
VENDOR_PACKAGE = "fastapi_offline"
VENDOR_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"})


#: This package's own files for the pages.
OWN_FILES = frozenset({"docs.js"})

#: ReDoc's styles (styled-components) go into ``<style>`` elements it creates empty and
#: fills through the CSSOM, which the policy does not restrict; its one static stylesheet
#: (perfect-scrollbar's) is inserted as text. Those two exact contents are allowed by
#: hash, and its search index runs in a worker it starts from a blob; scripts and
#: everything else stay as strict as on the web UI.
_EMPTY_STYLE = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
_SCROLLBAR_STYLE = "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"
REDOC_CSP = CSP.replace(
    "style-src 'self'", f"style-src 'self' {_EMPTY_STYLE} {_SCROLLBAR_STYLE}"
) + "; worker-src 'self' blob:"


def _page(request: Request, name: str, csp: str = CSP) -> Response:
    asset = load_asset(name, "voxserve.api", "docs")
    if asset is None:  # a broken install; say so rather than a blank page
        raise HTTPException(404, "the API docs are not installed")
    return answer_asset(request, asset, page=True, csp=csp)


@router.api_route("/docs", methods=["GET", "HEAD"])
async def swagger_ui(request: Request) -> Response:
    """Swagger UI: every operation, with "Try it out"."""
    return _page(request, "docs.html")


@router.api_route("/redoc", methods=["GET", "HEAD"])
async def redoc(request: Request) -> Response:
    """ReDoc: the same OpenAPI document as a reference page."""
    return _page(request, "redoc.html", REDOC_CSP)


@router.api_route("/docs/assets/{name}", methods=["GET", "HEAD"])
async def vendor_file(name: str, request: Request) -> Response:
    """Swagger UI's and ReDoc's own files, and the script that starts Swagger UI."""
    if name in VENDOR_FILES:
        asset = load_asset(name, VENDOR_PACKAGE, "static")
    else:
        asset = load_asset(name, "voxserve.api", "docs") if name in OWN_FILES else None
    if asset is None:
        raise HTTPException(404, f"no docs file '{name}'")
    return answer_asset(request, asset, page=False)
