"""``/v1/admin/lexicons``: list, read, write and delete pronunciation lexicons (scope admin).

A lexicon is named ``global`` (every voice) or after a voice id; its body is a TSV
(``text/tab-separated-values``) or a W3C PLS document (``application/pls+xml``). It is
checked before it is stored, and applies to the next request (no restart).
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request, Response

from voxserve.api.dependencies import SpeechServiceDep
from voxserve.errors import InvalidLexicon

router = APIRouter(tags=["lexicons"])

_MEDIA_TYPES = {"tsv": "text/tab-separated-values; charset=utf-8",
                "pls": "application/pls+xml; charset=utf-8"}


@router.get("/v1/admin/lexicons")
async def list_lexicons(service: SpeechServiceDep) -> dict[str, object]:
    names = await asyncio.to_thread(service.lexicons.names)
    return {"object": "list", "data": names}


@router.get("/v1/admin/lexicons/{name}", response_class=Response,
            responses={200: {"content": {"text/tab-separated-values": {},
                                         "application/pls+xml": {}}}})
async def get_lexicon(name: str, service: SpeechServiceDep) -> Response:
    fmt, content = await asyncio.to_thread(service.lexicons.read, name)
    return Response(content, media_type=_MEDIA_TYPES[fmt])


@router.put("/v1/admin/lexicons/{name}")
async def put_lexicon(
    name: str, request: Request, service: SpeechServiceDep,
    format: Literal["tsv", "pls"] | None = None,
) -> dict[str, object]:
    """Store lexicon ``name``; the format comes from ``?format=`` or the content type."""
    content_type = request.headers.get("content-type", "")
    fmt = format or ("pls" if "xml" in content_type else "tsv")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidLexicon("a lexicon must be UTF-8 text", param="body") from None
    lexicon = await asyncio.to_thread(service.lexicons.write, name, fmt, text)
    return {"name": name, "format": fmt, "entries": len(lexicon.by_grapheme),
            "version": lexicon.version}


@router.delete("/v1/admin/lexicons/{name}", status_code=204, response_class=Response)
async def delete_lexicon(name: str, service: SpeechServiceDep) -> Response:
    await asyncio.to_thread(service.lexicons.delete, name)
    return Response(status_code=204)
