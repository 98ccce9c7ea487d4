"""The web page in a real headless Chromium (Debian's), driven by Playwright for Python.

It asks about data/, sees the answer stream in, opens a citation with its evidence marked,
uploads files by the picker and by drag and drop, finds answers from them, and shows a
document's ``<script>`` as text. It saves the screenshot of docs/images/serve.png.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.integration.conftest import rag_env
from tests.support.rag_server import rag_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = REPO_ROOT / "docs" / "images" / "serve.png"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 120_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def base(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("browser")
    index = work / "index"
    shutil.copytree(sample_index, index)
    env = rag_env(index, XDG_DATA_HOME=str(work / "data"))
    with rag_server(env, work / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=BROWSER_ARGS, timeout=60_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


def ask(page: Any, question: str) -> Any:
    """Type a question, press Enter, wait for the answer's source list; the new turn."""
    before = page.locator(".turn").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    turn = page.locator(".turn").nth(before)
    turn.locator(".sources .cite").first.wait_for(timeout=WAIT_MS)
    return turn


def test_ask_cite_upload_and_reload(base: str, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    streamed: list[str] = []
    page.on(
        "response",
        lambda response: (
            streamed.append(response.headers.get("content-type", ""))
            if response.url.endswith("/api/ask")
            else None
        ),
    )
    page.goto(base)
    page.wait_for_function(
        "() => document.getElementById('status').textContent.includes('chunks')",
        timeout=WAIT_MS,
    )

    turn = ask(page, "How do I import a GGUF model into Ollama?")
    assert "ollama create" in turn.locator(".answer").inner_text()
    assert any(kind.startswith("text/event-stream") for kind in streamed)
    assert "Quoted from your documents" in turn.locator(".meta").inner_text()

    turn.locator(".sources .cite").first.click()
    passage = page.locator("#passage")
    passage.wait_for(state="visible")
    assert "ollama-notes.md" in page.locator("#passage-title").inner_text()
    marks = page.locator("#passage-text mark")
    assert marks.count() >= 1 and "ollama create" in marks.first.inner_text()
    page.screenshot(path=str(SCREENSHOT))
    page.keyboard.press("Escape")
    passage.wait_for(state="hidden")

    hostile = tmp_path / "heron.md"
    hostile.write_text(
        '# Herons\n\n<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
        " The heron gate code is HQ-9931.\n",
        encoding="utf-8",
    )
    page.set_input_files("#files", str(hostile))
    page.wait_for_function(
        "() => document.getElementById('upload-status').textContent.startsWith('Added.')",
        timeout=WAIT_MS,
    )
    assert page.locator("#progress").evaluate("bar => bar.value") == 100

    turn = ask(page, "What is the heron gate code?")
    answer = turn.locator(".answer").inner_text()
    assert "HQ-9931" in answer and "<script>" in answer
    turn.locator(".sources .cite").first.click()
    page.wait_for_function(
        "() => document.getElementById('passage-title').textContent.includes('heron.md')"
    )
    assert "<script>window.pwned = 1</script>" in page.locator("#passage-text").inner_text()
    page.keyboard.press("Escape")
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("#conversation script, #conversation img, #passage img").count() == 0

    page.evaluate(
        """() => {
            const data = new DataTransfer();
            data.items.add(new File(["The ibis pond is drained on Tuesdays."], "ibis.txt"));
            document.getElementById('drop').dispatchEvent(
                new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
        }"""
    )
    page.wait_for_function(
        "() => document.getElementById('upload-status').textContent.startsWith('Added.')"
        " && document.getElementById('upload-status').textContent.includes('1 added')",
        timeout=WAIT_MS,
    )
    turn = ask(page, "When is the ibis pond drained?")
    assert "Tuesdays" in turn.locator(".answer").inner_text()

    page.reload()
    page.locator(".turn").nth(2).wait_for()
    assert page.locator(".turn").count() == 3  # the conversation survives a reload
    assert "HQ-9931" in page.locator(".turn").nth(1).inner_text()
    assert errors == []


def test_the_page_is_keyboard_usable_and_fits_a_phone(base: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(base)
    assert page.evaluate("() => document.activeElement.id") == "question"
    page.keyboard.type("What does RAG_MIN_SCORE do?")
    page.keyboard.press("Enter")
    page.locator(".turn .sources .cite").first.wait_for(timeout=WAIT_MS)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.locator(".turn .sources .cite").first.focus()
    page.keyboard.press("Enter")
    page.locator("#passage").wait_for(state="visible")
    assert page.evaluate("() => document.activeElement.id") == "close-passage"
    page.keyboard.press("Enter")
    page.locator("#passage").wait_for(state="hidden")


def test_the_page_asks_once_for_the_token_of_a_server_that_needs_one(
    sample_index: Path, browser: Any, tmp_path: Path
) -> None:
    env = rag_env(sample_index, RAG_SERVE_TOKEN="page-token-77", XDG_DATA_HOME=str(tmp_path))
    with rag_server(env, tmp_path / "server.log", token="page-token-77") as url:
        page = browser.new_page()
        page.goto(url)
        page.locator("#token-dialog").wait_for(state="visible", timeout=WAIT_MS)
        page.fill("#token", "page-token-77")
        page.press("#token", "Enter")
        page.wait_for_function(
            "() => document.getElementById('status').textContent.includes('chunks')",
            timeout=WAIT_MS,
        )
        page.reload()
        page.wait_for_function(
            "() => document.getElementById('status').textContent.includes('chunks')",
            timeout=WAIT_MS,
        )
        assert not page.locator("#token-dialog").is_visible()  # asked once, then remembered
