"""Live counters in real browsers, across two engine nodes on one Redis: three
visitors on a product page (on either node) make a fourth one see that three
people are looking at it; once they have gone quiet for the window, nobody is
told so any more."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from engine.runtime.clock import ManualClock
from engine.runtime.config import Config
from engine.runtime.embedded import free_port
from tests.browser.conftest import ADMIN_TOKEN, ARTIFACTS
from tests.conftest import Engine, run_engine, site_config

pytestmark = pytest.mark.browser

RULES = """site: demo-shop
rules:
  - id: popular-now
    if: page_type == "product" and product_viewers_now >= 3
    do:
      widget: popcorn_button
      text: "{{ product_viewers_now | default(3) }}명이 보고 있어요"
"""
PRODUCT = "/demo/product.html?id=1003"


@pytest.fixture
def nodes(redis_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    ports = free_port(), free_port()
    config = Config(sites={"demo-shop": site_config(
        rules, origins=tuple(f"http://127.0.0.1:{port}" for port in ports),
        admin_token_sha256=hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest())}, demo=True)
    clock = ManualClock(time.time())  # the browsers run on real time
    with run_engine(config, redis_url, ports[0], clock) as first, \
            run_engine(config, redis_url, ports[1], clock) as second:
        yield first, second


def actions(page: Page) -> list[dict[str, Any]]:
    """The action frames the page's widget receives, as it receives them."""
    seen: list[dict[str, Any]] = []

    def on_socket(ws: Any) -> None:
        def frame(payload: str | bytes) -> None:
            data = json.loads(payload)
            if data.get("t") == "action":
                seen.append(data)
        ws.on("framereceived", frame)

    page.on("websocket", on_socket)
    return seen


def visitor(browser: Browser) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ko-KR")
    return context, context.new_page()


def test_three_on_a_product_page_are_told_to_a_fourth(browser: Browser,
                                                      nodes: tuple[Engine, Engine]) -> None:
    first, second = nodes
    contexts = []
    for node in (first, second, first):
        context, page = visitor(browser)
        contexts.append(context)
        page.goto(node.url + PRODUCT)
        page.wait_for_timeout(500)
    context, page = visitor(browser)
    received = actions(page)
    page.goto(second.url + PRODUCT)
    button = page.locator("ondo-widget[data-ondo-rule='popular-now']")
    expect(button).to_be_visible(timeout=5000)
    assert [a["content"]["text"] for a in received] == ["3명이 보고 있어요"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-viewers.png"))
    for other in contexts:
        other.close()
    context.close()

    # Five minutes later (the engines' clock), the three have gone quiet.
    first.clock.advance(301)
    context, page = visitor(browser)
    received = actions(page)
    page.goto(first.url + PRODUCT)
    page.wait_for_timeout(1500)
    expect(page.locator("ondo-widget[data-ondo-rule='popular-now']")).to_have_count(0)
    assert received == []
    context.close()
