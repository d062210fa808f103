"""The web UI's files in-process: every file shipped in ``voxserve/api/web`` is served with
its type, and the ES modules the page loads are exactly the ones there (none forgotten)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from voxserve.api.routes import web

#: media types by suffix; browsers run an ES module only when it comes as JavaScript
TYPES = {"html": "text/html", "js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
#: ``import … from "./x.js"``, ``import "./x.js"`` and ``import("./x.js")``
IMPORT = re.compile(r"""(?:\bfrom\s*|^\s*import\s*|\bimport\s*\(\s*)["']([^"']+)["']""", re.M)


def _web() -> Traversable:
    return resources.files("voxserve.api").joinpath("web")


def _files() -> dict[str, bytes]:
    return {entry.name: entry.read_bytes() for entry in _web().iterdir() if entry.is_file()}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(web.router)
    with TestClient(app) as test_client:
        yield test_client


def test_the_web_folder_is_flat() -> None:
    # pyproject.toml ships "api/web/*": files in a subfolder would be left out of the wheel
    folders = [entry.name for entry in _web().iterdir() if not entry.is_file()]
    assert folders == [], "keep web/ flat or extend [tool.setuptools.package-data]"


def test_every_file_is_served_with_its_type(client: TestClient) -> None:
    files = _files()
    assert {"index.html", "app.js", "app.css"} <= set(files)
    for name, body in files.items():
        response = client.get("/" if name == "index.html" else f"/static/{name}")
        assert response.status_code == 200, name
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type == TYPES[name.rsplit(".", 1)[1]], name
        assert response.content == body, name


def test_the_page_loads_exactly_the_modules_in_the_folder() -> None:
    files = _files()
    modules = {name for name in files if name.endswith(".js")}
    reached: set[str] = set()
    todo = ["app.js"]
    while todo:
        name = todo.pop()
        reached.add(name)
        for target in IMPORT.findall(files[name].decode()):
            # relative and flat: "./x.js" is served as /static/x.js, next to the importer
            assert re.fullmatch(r"\./[A-Za-z0-9_-]+\.js", target), f"{name} imports {target}"
            assert target[2:] in modules, f"{name} imports {target}, which is not in web/"
            if target[2:] not in reached:
                todo.append(target[2:])
    assert reached == modules, f"not imported by any module: {sorted(modules - reached)}"
    page = files["index.html"].decode()
    assert '<script type="module" src="/static/app.js"></script>' in page
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', page))
    assert preloaded == modules - {"app.js"}, "index.html preloads every module app.js imports"
