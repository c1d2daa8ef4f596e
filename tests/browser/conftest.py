"""A real headless Chromium (Debian's, driven by Playwright) against a real
engine serving the demo storefront and the built widget."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from engine.http.app import WIDGET
from engine.runtime.clock import ManualClock
from engine.runtime.config import Config
from engine.runtime.embedded import free_port
from tests.conftest import Engine, run_engine, site_config

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ADMIN_TOKEN = "browser-admin-token"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API owns the thread's event loop while it
    # runs; it must be gone before other tests call asyncio.run().
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium fonts-nanum "
                    "(./scripts/test installs it as root)")
    if not WIDGET.exists():
        pytest.fail("engine/static/widget.js is not built: cd widgets && npm ci && npm run build")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


class ShopPages:
    """A shop's own pages on another origin (a real HTTP server on loopback),
    with the one script tag pointing at the engine."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.pages: dict[str, bytes] = {}
        self.delays: dict[str, float] = {}  # path -> seconds before it is answered
        pages, delays = self.pages, self.delays

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(delays.get(self.path, 0.0))
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/javascript; charset=utf-8"
                                 if self.path.endswith(".js") else "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def shop_pages() -> Iterator[ShopPages]:
    pages = ShopPages()
    yield pages
    pages.close()


@pytest.fixture
def shop(redis_url: str, shop_pages: ShopPages) -> Iterator[Engine]:
    port = free_port()
    config = Config(sites={"demo-shop": site_config(
        origins=(f"http://127.0.0.1:{port}", shop_pages.origin),
        admin_token_sha256=hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest())}, demo=True)
    # The browser runs on real time; the clock only starts at "now".
    with run_engine(config, redis_url, port, ManualClock(time.time())) as engine:
        yield engine


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ko-KR")
    tab = context.new_page()
    tab.errors = []  # type: ignore[attr-defined]
    tab.on("console", lambda m: m.type == "error" and tab.errors.append(m.text))  # type: ignore[attr-defined]
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))  # type: ignore[attr-defined]
    yield tab
    context.close()


def shadow_texts(page: Page) -> list[str]:
    """Every text in the page, closed shadow roots included (the DevTools
    protocol sees through them, as a user's eyes do)."""
    session = page.context.new_cdp_session(page)
    root = session.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    texts, todo = [], [root]
    while todo:
        node = todo.pop()
        if node.get("nodeType") == 3:
            texts.append(node["nodeValue"])
        todo += node.get("children", []) + node.get("shadowRoots", [])
    return texts
