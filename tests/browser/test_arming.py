"""Arming in a real browser: an action waits for its delay, its scroll depth,
the visitor's idleness or their exit intent (the pointer leaving through the
top on a desktop, a fast scroll up on a phone), never right after a link click
nor before the minimum dwell; an action that never fires is never counted as
shown. And a widget signal as a trigger: `on: exit_intent`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ADMIN_TOKEN, ARTIFACTS, ShopPages
from tests.conftest import Engine

pytestmark = pytest.mark.browser

RULES = """site: demo-shop
rules:
  - id: after-delay
    if: page_path == "/delay.html"
    do: { widget: popcorn_button, text: 기다린 보람, delay: 2s }
  - id: never-in-time
    if: page_path == "/never.html"
    do: { widget: popcorn_button, text: 너무 늦음, delay: 60s }
  - id: half-scrolled
    if: page_path == "/scroll.html"
    do: { widget: popcorn_button, text: 절반 읽으셨네요, scroll: 50% }
  - id: when-idle
    if: page_path == "/idle.html"
    do: { widget: popcorn_button, text: "고민되시나요?", idle: 2s }
  - id: on-the-way-out
    if: page_path == "/exit.html"
    do: { widget: push_note, title: "잠깐만요!", exit_intent: true }
  - id: leaving-signal
    on: exit_intent
    if: page_path == "/leave.html"
    do: { widget: push_note, title: 떠나기 전에 쿠폰 받아가세요 }
"""
PATHS = ("/delay.html", "/never.html", "/scroll.html", "/idle.html", "/exit.html", "/leave.html")


@pytest.fixture
def armed(shop: Engine, shop_pages: ShopPages) -> Iterator[tuple[Engine, ShopPages]]:
    reply = httpx.put(f"{shop.url}/v1/sites/demo-shop/rules", content=RULES.encode(),
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    for path in PATHS:
        shop_pages.pages[path] = f"""<!doctype html><html lang="ko"><head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>{path}</title>
<script async src="{shop.url}/widget.js" data-site="demo-shop"></script></head>
<body style="margin:0"><p><a id="here" href="#top">맨 위로</a></p>
<div style="height:4000px">긴 상품 설명</div></body></html>""".encode()
    yield shop, shop_pages


def widget(page: Page, rule: str) -> Any:
    return page.locator(f"ondo-widget[data-ondo-rule='{rule}']")


def arrive(page: Page, pages: ShopPages, path: str) -> float:
    """Open the page and wait for its socket's welcome; when it loaded."""
    page.goto(pages.origin + path)
    page.wait_for_load_state("load")
    return time.monotonic()


def leave_through_the_top(page: Page) -> None:
    page.mouse.move(640, 200)
    page.mouse.move(640, 2, steps=4)
    page.mouse.move(640, -20)


def counted(shop: Engine, rule: str) -> dict[str, Any]:
    time.sleep(1.3)  # the counters are written once a second
    reply = httpx.get(f"{shop.url}/v1/sites/demo-shop/stats", params={"rule": rule},
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    (figures,) = reply.json()["rules"]
    return figures


def test_a_delay_is_waited_for(page: Page, armed: tuple[Engine, ShopPages]) -> None:
    _, pages = armed
    arrive(page, pages, "/delay.html")
    page.wait_for_timeout(1000)
    expect(widget(page, "after-delay")).to_have_count(0)
    expect(widget(page, "after-delay")).to_be_visible(timeout=5000)


def test_an_action_that_never_fires_is_never_counted_as_shown(
        page: Page, armed: tuple[Engine, ShopPages]) -> None:
    shop, pages = armed
    arrive(page, pages, "/never.html")
    page.wait_for_timeout(2000)
    page.goto("about:blank")  # gone before its minute
    figures = counted(shop, "never-in-time")
    assert (figures["sent"], figures["shown"]) == (1, 0)


def test_scroll_depth(page: Page, armed: tuple[Engine, ShopPages]) -> None:
    _, pages = armed
    arrive(page, pages, "/scroll.html")
    page.wait_for_timeout(1500)
    page.mouse.wheel(0, 1000)  # a quarter of the way
    page.wait_for_timeout(800)
    expect(widget(page, "half-scrolled")).to_have_count(0)
    page.mouse.wheel(0, 1500)
    expect(widget(page, "half-scrolled")).to_be_visible(timeout=3000)


def test_idle_means_no_input(page: Page, armed: tuple[Engine, ShopPages]) -> None:
    _, pages = armed
    arrive(page, pages, "/idle.html")
    for n in range(8):  # 3.2 s of a visitor moving the pointer
        page.mouse.move(300 + n * 20, 300)
        page.wait_for_timeout(400)
    expect(widget(page, "when-idle")).to_have_count(0)
    expect(widget(page, "when-idle")).to_be_visible(timeout=5000)


def test_exit_intent_on_a_desktop(page: Page, armed: tuple[Engine, ShopPages]) -> None:
    _, pages = armed
    loaded = arrive(page, pages, "/exit.html")
    page.wait_for_timeout(800)
    leave_through_the_top(page)  # too soon: under the minimum dwell
    page.wait_for_timeout(400)
    expect(widget(page, "on-the-way-out")).to_have_count(0)
    page.wait_for_timeout(max(0, int((loaded + 3.3 - time.monotonic()) * 1000)))
    page.mouse.move(60, 20)
    page.click("#here")  # a link clicked: the pointer heads for the page, not away
    leave_through_the_top(page)
    page.wait_for_timeout(300)
    expect(widget(page, "on-the-way-out")).to_have_count(0)
    page.wait_for_timeout(1000)
    leave_through_the_top(page)
    expect(widget(page, "on-the-way-out")).to_be_visible(timeout=3000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "arming-exit-desktop.png"))


def test_exit_intent_on_a_phone_is_a_fast_scroll_up(browser: Browser,
                                                   armed: tuple[Engine, ShopPages]) -> None:
    _, pages = armed
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, user_agent="Mozilla/5.0 (iPhone; CPU iPhone "
                                  "OS 17_0 like Mac OS X) Mobile/15E148")
    page = context.new_page()
    arrive(page, pages, "/exit.html")
    page.wait_for_timeout(3300)
    for y in range(0, 2001, 250):  # reading down, slowly
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(120)
    expect(widget(page, "on-the-way-out")).to_have_count(0)
    page.evaluate("window.scrollTo(0, 1200)")  # a flick back up, towards the address bar
    page.wait_for_timeout(30)
    page.evaluate("window.scrollTo(0, 0)")
    expect(widget(page, "on-the-way-out")).to_be_visible(timeout=3000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "arming-exit-phone.png"))
    context.close()


def test_an_exit_intent_signal_triggers_its_rule(page: Page,
                                                 armed: tuple[Engine, ShopPages]) -> None:
    _, pages = armed
    arrive(page, pages, "/leave.html")
    page.wait_for_timeout(3300)
    expect(widget(page, "leaving-signal")).to_have_count(0)  # nothing until the signal
    leave_through_the_top(page)
    expect(widget(page, "leaving-signal")).to_be_visible(timeout=3000)
