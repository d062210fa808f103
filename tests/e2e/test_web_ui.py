"""The web UI in a real browser (Debian's Chromium driven by Playwright) against a real
server with the bundled Piper voice: streaming playback, a document project, an error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.test_operations import Server, _start, _stop

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BOOK = ("# Arrival\n\nThe train was late.\n\n# Departure\n\nWe left at noon.\n\n"
        "# Home\n\nAll is quiet.\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _start(tmp_path_factory.mktemp("web"), VOXSERVE_ENGINES="piper",
                     VOXSERVE_DEFAULT_MODEL="piper")
    yield running
    _stop(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium "
                    "(apt-get install chromium; ./scripts/test does it as root)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing (dev extra)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(20_000)
    yield opened
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def _wait_until(page: Page, selector: str | Locator, attribute: str,
                check: Callable[[str], bool], timeout_s: float = 20) -> str:
    """Poll an attribute from Python: the page's CSP forbids Playwright's eval-based waits."""
    deadline = time.monotonic() + timeout_s
    target = page.locator(selector) if isinstance(selector, str) else selector
    value = ""
    while time.monotonic() < deadline:
        value = target.first.get_attribute(attribute) or ""
        if check(value):
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"{selector}[{attribute}] is still {value!r} after {timeout_s} s")


def _wait_text(locator: Locator, text: str, timeout_s: float = 20) -> None:
    """Poll until ``locator`` exists and its text contains ``text``."""
    deadline = time.monotonic() + timeout_s
    seen = ""
    while time.monotonic() < deadline:
        if locator.count():
            seen = locator.inner_text()
            if text in seen:
                return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {seen!r} after {timeout_s} s")


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


def test_static_files_have_types_and_cache_headers(server: Server) -> None:
    index = httpx.get(f"{server.url}/")
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in index.headers["content-security-policy"]
    script = httpx.get(f"{server.url}/static/app.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert httpx.get(f"{server.url}/static/app.css").headers["content-type"].startswith("text/css")
    again = httpx.get(f"{server.url}/static/app.js",
                      headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    for bad in ("../app.py", "index.html", "nothing.js", ".hidden.js"):
        response = httpx.get(f"{server.url}/static/{bad}")
        assert response.status_code == 404, bad


def test_playground_streams_and_plays_audio(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_selector("#voice option", state="attached")
    page.fill("#text", "Hello from the browser. This is the second sentence.")
    page.get_by_role("button", name="Speak").click()
    player = page.locator("#player")
    # The Web Audio graph has played samples (by the audio clock), not just received them.
    _wait_until(page, "#player", "data-played-seconds", lambda v: float(v or 0) > 0.2)
    _wait_until(page, "#player", "data-state", lambda v: v == "done", timeout_s=30)
    assert float(player.get_attribute("data-received-seconds") or 0) > 1.0
    assert float(player.get_attribute("data-played-seconds") or 0) > 1.0
    assert page.locator("#m-ttfa").inner_text().endswith(" s")
    assert "real time" in page.locator("#m-rtf").inner_text()
    _screenshot(page, "playground")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    path = download.value.path()
    assert download.value.suggested_filename == "speech.wav"
    assert path.read_bytes()[:4] == b"RIFF" and path.stat().st_size > 44_000


def test_type_and_hear_speaks_each_sentence_as_it_is_typed(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_selector("#voice option", state="attached")
    page.fill("#text", "")
    page.check("#type-and-hear")
    _wait_text(page.locator("#speak-status"), "Type and hear")
    page.locator("#text").press_sequentially("Hello from the keyboard. And then", delay=20)
    _wait_text(page.locator("#speak-status"), "Spoke: Hello from the keyboard.")
    _wait_until(page, "#player", "data-heard-seconds", lambda v: float(v or 0) > 0.5)
    page.locator("#text").press_sequentially(" more.", delay=20)
    _wait_text(page.locator("#speak-status"), "Spoke: And then more.")
    page.uncheck("#type-and-hear")
    _wait_text(page.locator("#speak-status"), "Type and hear is off.")


def test_empty_text_shows_the_api_message(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_selector("#voice option", state="attached")
    page.fill("#text", "")
    page.get_by_role("button", name="Speak").click()
    status = page.locator("#speak-status")
    _wait_until(page, "#player", "data-state", lambda v: v == "error")
    message = httpx.post(f"{server.url}/v1/audio/speech", json={"input": ""}).json()
    assert status.inner_text() == message["error"]["message"]
    assert "error" in (status.get_attribute("class") or "")
    _screenshot(page, "playground-error")


def _convert(page: Page, server: Server, path: Path, text: str) -> Locator:
    """Upload ``text`` as the file ``path`` on the projects page; the new project's item."""
    path.write_text(text)
    page.goto(f"{server.url}/#projects")
    page.wait_for_selector("#project-voice option", state="attached")
    page.set_input_files("#file", str(path))
    page.get_by_role("button", name="Convert").click()
    # this project's item (others may be listed: projects of earlier tests)
    return page.locator("li.project").filter(
        has=page.locator(".project-name", has_text=path.stem)).first


def test_project_upload_converts_and_plays_with_subtitles(
    page: Page, server: Server, tmp_path: Path
) -> None:
    item = _convert(page, server, tmp_path / "short-book.md", BOOK)
    rows = item.locator("tbody tr")
    _wait_until(page, item, "data-state", lambda v: v == "completed", timeout_s=40)
    assert rows.count() == 3
    for n in range(3):
        assert rows.nth(n).get_attribute("data-percent") == "100"
    assert "1. Arrival" in rows.nth(0).inner_text()
    # The player appears with chapter 1's audio and its subtitles listed as cues.
    audio = item.locator("audio.chapter-player")
    audio.wait_for()
    _wait_until(page, item.locator("audio.chapter-player"), "data-duration",
                lambda v: float(v or 0) > 0.5)
    cues = item.locator("ol.cues li")
    # chapters may become ready in any order; the player settles on chapter 1
    # the chapter's spoken title is its first cue, then its sentences
    _wait_text(cues.nth(1), "The train was late")
    assert "Arrival" in cues.first.inner_text()
    links = item.locator(".downloads a")
    assert links.count() == 1 + 3 + 3  # book, 3 chapters, vtt, srt, manifest
    assert httpx.get(server.url + (links.first.get_attribute("href") or "")).status_code == 200
    # Playing highlights the current cue.
    cues.first.get_by_role("button").click()
    page.wait_for_selector("ol.cues li.current", timeout=10_000)
    _screenshot(page, "projects")
    # Delete (confirmed) removes it from the list.
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Delete").click()
    page.wait_for_selector("li.project", state="detached")



def test_the_word_being_spoken_is_marked_and_advances(
    page: Page, server: Server, tmp_path: Path
) -> None:
    """The cue list shows each word of the chapter (word-level subtitles); while the chapter
    plays, the word being spoken is marked, and the mark moves on through the sentence."""
    # the file's one heading is the project's title, shown as its name
    item = _convert(page, server, tmp_path / "karaoke.md",
                    "# karaoke\n\nThe quick brown fox jumps over the lazy dog. It runs away.\n")
    _wait_until(page, item, "data-state", lambda v: v == "completed", timeout_s=40)
    _wait_until(page, item.locator("audio.chapter-player"), "data-duration",
                lambda v: float(v or 0) > 0.5)
    cues = item.locator("ol.cues li")
    _wait_text(cues.nth(1), "The quick brown fox jumps over the lazy dog.")
    words = item.locator("ol.cues .word")
    # the spoken title, then every word of both sentences, each its own span
    assert words.count() == 1 + 9 + 3
    assert [words.nth(n).inner_text().strip() for n in (1, 9, 12)] == ["The", "dog.", "away."]
    listing = item.locator("ol.cues")
    cues.nth(1).get_by_role("button").click()  # play from the first sentence
    first = int(_wait_until(page, listing, "data-word", lambda v: v != ""))
    assert first >= 1
    _wait_until(page, listing, "data-word", lambda v: v != "" and int(v) > first)
    _wait_until(page, item.locator("ol.cues .word.current-word"), "aria-current",
                lambda v: v == "time")
    _screenshot(page, "projects-words")
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Delete").click()
    page.wait_for_selector("li.project", state="detached")


def test_a_converted_chapter_plays_while_the_rest_converts(
    page: Page, server: Server, tmp_path: Path
) -> None:
    """Chapter 1 (one sentence) is offered in the player, with its subtitles, while
    chapter 2 (80 sentences) is still converting; then the project is canceled."""
    long_chapter = " ".join(f"This is sentence number {n} of the long part." for n in range(80))
    item = _convert(page, server, tmp_path / "early.md",
                    f"# Opening\n\nThe first chapter is short.\n\n# Body\n\n{long_chapter}\n")
    select = item.locator("select.chapter-select")
    select.locator("option").first.wait_for(state="attached", timeout=30_000)
    assert item.get_attribute("data-state") == "running"
    assert select.locator("option").count() == 1  # only the converted chapter
    assert item.locator("tbody tr").nth(0).get_attribute("data-ready") == "1"
    assert item.locator("tbody tr").nth(1).get_attribute("data-ready") == ""
    _wait_until(page, item.locator("audio.chapter-player"), "data-duration",
                lambda v: float(v or 0) > 0.5)
    _wait_text(item.locator("ol.cues li").nth(1), "The first chapter is short")
    links = item.locator(".downloads a")
    assert links.count() == 1  # chapter 1; the book and its files once completed
    assert httpx.get(server.url + (links.first.get_attribute("href") or "")).status_code == 200
    _screenshot(page, "projects-early-chapter")
    item.get_by_role("button", name="Cancel").click()
    _wait_until(page, item, "data-state", lambda v: v == "canceled")
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Delete").click()
    page.wait_for_selector("li.project", state="detached")


def test_api_key_dialog_then_bearer_requests(browser: Browser, tmp_path: Path) -> None:
    """With auth on, a 401 opens the key dialog; the key then goes in every request, and
    projects are followed by polling (EventSource cannot send the header)."""
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data")}
    key = subprocess.run(
        [sys.executable, "-m", "voxserve", "keys", "create", "web", "-s", "speech",
         "-s", "projects"], env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    server = _start(tmp_path, VOXSERVE_AUTH="api_key")
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{server.url}/")
        dialog = page.get_by_role("dialog", name="API key needed")
        dialog.wait_for()
        _screenshot(page, "api-key-dialog")
        page.get_by_label("API key or token").fill(key)
        page.get_by_role("button", name="Use key").click()
        page.wait_for_selector("#voice option", state="attached")
        assert page.get_by_role("button", name="Forget API key").is_visible()
        page.fill("#text", "Authorized speech.")
        page.get_by_role("button", name="Speak").click()
        _wait_until(page, "#player", "data-state", lambda v: v == "done", timeout_s=30)
        book = tmp_path / "book.md"
        book.write_text(BOOK)
        page.goto(f"{server.url}/#projects")  # same tab: the key is in sessionStorage
        page.set_input_files("#file", str(book))
        page.get_by_role("button", name="Convert").click()
        _wait_until(page, "li.project", "data-state", lambda v: v == "completed", timeout_s=40)
        _wait_until(page, "audio.chapter-player", "src", lambda v: v.startswith("blob:"))
    finally:
        context.close()
        _stop(server)


# --- issue 23: offline docs, and the rough edges of the UI ---------------------------------


def test_docs_and_redoc_render_offline_under_the_pages_policy(
    browser: Browser, server: Server
) -> None:
    """Swagger UI and ReDoc come from this server (the fastapi-offline wheel), run under
    the web UI's Content-Security-Policy, and render the operations; nothing is fetched
    from anywhere else."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    outside: list[str] = []
    violations: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    try:
        page = context.new_page()
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{server.url}/docs")
        operations = page.locator(".opblock")
        operations.first.wait_for(timeout=20_000)
        assert operations.count() >= 10
        assert page.locator(".opblock-summary-path", has_text="/v1/audio/speech").count() == 1
        assert "script-src 'self'" in httpx.get(
            f"{server.url}/docs").headers["content-security-policy"]
        _screenshot(page, "docs")
        page.goto(f"{server.url}/redoc")
        page.get_by_text("/v1/audio/speech").first.wait_for(timeout=30_000)
        assert page.locator("[data-section-id^='operation/']").count() >= 10
        _screenshot(page, "redoc")
        assert not errors, errors
    finally:
        context.close()
    assert outside == [], f"requests outside the server: {outside}"
    # ReDoc's footer links its maker's logo from a CDN: the policy blocks it (no request
    # leaves); anything else the policy had to block would be a page that does not work.
    assert [v for v in violations if "cdn.redoc.ly/redoc/logo-mini.svg" not in v] == []


def test_an_error_after_playback_blanks_the_waveform(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_selector("#voice option", state="attached")
    page.fill("#text", "A first sentence to draw.")
    page.get_by_role("button", name="Speak").click()
    _wait_until(page, "#player", "data-state", lambda v: v == "done", timeout_s=30)
    assert int(page.locator("#waveform").get_attribute("data-samples") or 0) > 10_000
    page.fill("#text", "")
    page.get_by_role("button", name="Speak").click()
    _wait_until(page, "#player", "data-state", lambda v: v == "error")
    assert page.locator("#waveform").get_attribute("data-samples") == "0"
    assert page.get_by_role("button", name="Download").is_disabled()
    assert page.get_by_role("button", name="Stop").is_disabled()


def test_pasted_text_with_a_speed_converts_and_the_status_follows(
    page: Page, server: Server
) -> None:
    page.goto(f"{server.url}/#projects")
    page.wait_for_selector("#project-voice option", state="attached")
    name = f"Pasted {time.monotonic_ns()}"
    page.fill("#project-text", "# One\n\nHello there.\n\n# Two\n\nGoodbye now.\n")
    page.fill("#project-name", name)
    page.locator("#project-speed").fill("1.5")
    assert page.locator("#project-speed-value").inner_text() == "1.50×"
    page.get_by_role("button", name="Convert").click()
    status = page.locator("#upload-status")
    _wait_text(status, f"Converting “{name}”")
    assert page.locator("#project-text").input_value() == ""  # not sent twice
    _wait_text(status, f"Converted “{name}”.", timeout_s=60)
    item = page.locator("li.project").filter(has=page.locator(".project-name", has_text=name))
    assert item.locator("tbody tr").count() == 2
    listed = httpx.get(f"{server.url}/v1/projects").json()["data"]
    project = next(p for p in listed if p["name"] == name)
    assert project["speed"] == 1.5 and project["chapters"] == 2
    assert project["progress"]["percent"] == 100.0


def test_a_file_upload_clears_the_form_and_says_when_it_is_done(
    page: Page, server: Server, tmp_path: Path
) -> None:
    path = tmp_path / "tiny-note.txt"
    path.write_text("Eighty bytes or so. " * 4)
    page.goto(f"{server.url}/#projects")
    page.wait_for_selector("#project-voice option", state="attached")
    page.set_input_files("#file", str(path))
    assert page.locator("#dropzone").inner_text().startswith(
        f"Chosen: tiny-note.txt ({path.stat().st_size} bytes)")
    page.get_by_role("button", name="Convert").click()
    _wait_text(page.locator("#upload-status"), "Converted “tiny-note”.", timeout_s=60)
    assert page.locator("#file").input_value() == ""
    assert "Drop a document here" in page.locator("#dropzone").inner_text()


def test_finished_projects_are_folded_and_the_list_pages(
    browser: Browser, server: Server
) -> None:
    """Finished projects from earlier visits come folded (the page does not grow without
    end); unfolding one folds the others; older projects come a page at a time."""
    for n in range(22):  # more than a page
        created = httpx.post(f"{server.url}/v1/projects",
                             json={"text": f"Filler number {n}.", "name": f"filler-{n}"})
        assert created.status_code == 201
    deadline = time.monotonic() + 120
    while any(p["state"] != "completed" for p in httpx.get(
            f"{server.url}/v1/projects", params={"limit": 30}).json()["data"]):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/#projects")
        items = page.locator("li.project")
        items.first.wait_for()
        assert items.count() == 20
        assert all(items.nth(n).get_attribute("data-folded") == "1" for n in range(20))
        assert not page.locator(".project-body:visible").count()
        first, second = items.nth(0), items.nth(1)
        first.get_by_role("button", name="Show chapters").click()
        assert first.locator(".project-body").is_visible()
        assert first.get_by_role("button", name="Hide chapters").get_attribute(
            "aria-expanded") == "true"
        second.get_by_role("button", name="Show chapters").click()
        assert second.locator(".project-body").is_visible()
        assert not first.locator(".project-body").is_visible()  # one open at a time
        page.get_by_role("button", name="Show older projects").click()
        deadline = time.monotonic() + 20
        while items.count() <= 20:
            assert time.monotonic() < deadline
            page.wait_for_timeout(100)
        assert items.count() > 20
    finally:
        context.close()


def test_phone_layout_keeps_chapter_rows_on_the_screen(
    browser: Browser, server: Server, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True)
    try:
        page = context.new_page()
        long_titles = "".join(
            f"# Chapter with a rather long title number {n}\n\nSentence {n}.\n\n"
            for n in range(3))
        item = _convert(page, server, tmp_path / "phone-book.md", long_titles)
        _wait_until(page, item, "data-state", lambda v: v == "completed", timeout_s=60)
        rows = item.locator("tbody tr")
        assert rows.count() == 3
        for n in range(3):
            box = rows.nth(n).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
            bar = rows.nth(n).locator("progress").bounding_box()
            assert bar is not None and bar["width"] > 100  # not squeezed to nothing
        _screenshot(page, "projects-phone")
    finally:
        context.close()


def test_voice_details_and_preview_play(page: Page, server: Server) -> None:
    """Issue 19's catalog: the voice's names and version show, and its preview plays."""
    page.goto(f"{server.url}/")
    page.wait_for_selector("#voice option", state="attached")
    details = page.locator("#voice-details")
    deadline = time.monotonic() + 20
    while "OpenAI names:" not in details.inner_text():
        assert time.monotonic() < deadline, details.inner_text()
        time.sleep(0.05)
    text = details.inner_text()
    assert "alloy" in text and "version bundled" in text and "en_US" in text
    with page.expect_response(lambda r: "/preview" in r.url) as preview:
        page.get_by_role("button", name="Preview voice").click()
    assert preview.value.status == 200
    assert preview.value.headers["content-type"] == "audio/mpeg"
    deadline = time.monotonic() + 20
    status = page.locator("#speak-status")
    while "preview" not in status.inner_text():
        assert time.monotonic() < deadline, status.inner_text()
        time.sleep(0.05)
    assert "Playing a preview of en_US-joe-medium" in status.inner_text()
