"""The widget in a real browser: the seed recipe journey shows its widget
(visible, in place, in Korean), reports clicks and closes, survives hostile
page CSS and a strict CSP, renders marketer text as text."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ADMIN_TOKEN, ARTIFACTS, ShopPages, shadow_texts
from tests.conftest import SEED_RULES, Engine

pytestmark = pytest.mark.browser


def widget_text(page: Page, rule: str) -> Any:
    # Closed shadow roots are invisible to selectors: read what the user sees.
    return page.locator(f"ondo-widget[data-ondo-rule='{rule}']")


def browse(page: Page, shop: Engine, paths: list[str]) -> None:
    for path in paths:
        page.goto(shop.url + path)
        page.wait_for_timeout(400)


FIVE_PAGES = ["/demo/index.html", "/demo/category.html?c=bags", "/demo/product.html?id=1003",
              "/demo/product.html?id=1004", "/demo/cart.html"]


def test_first_visit_signup_nudge_shows_on_the_fifth_page(page: Page, shop: Engine) -> None:
    browse(page, shop, FIVE_PAGES[:4])
    expect(widget_text(page, "first-visit-signup-nudge")).to_have_count(0)
    browse(page, shop, FIVE_PAGES[4:])
    host = widget_text(page, "first-visit-signup-nudge")
    expect(host).to_be_visible(timeout=5000)
    box = host.bounding_box()
    assert box is not None and box["x"] > 640 and box["y"] > 400  # bottom right
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "push_note-desktop.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_same_journey_on_a_phone(browser: Browser, shop: Engine) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like "
                                  "Mac OS X) Mobile/15E148")
    page = context.new_page()
    browse(page, shop, FIVE_PAGES)
    host = widget_text(page, "first-visit-signup-nudge")
    expect(host).to_be_visible(timeout=5000)
    box = host.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "push_note-mobile.png"))
    context.close()


def test_close_is_reported_and_the_rule_stays_quiet_after_reloads(page: Page,
                                                                   shop: Engine) -> None:
    browse(page, shop, FIVE_PAGES)
    host = widget_text(page, "first-visit-signup-nudge")
    expect(host).to_be_visible(timeout=5000)
    page.keyboard.press("Escape")
    expect(host).to_have_count(0)
    page.wait_for_timeout(300)
    browse(page, shop, ["/demo/index.html", "/demo/product.html?id=1001"])
    page.wait_for_timeout(500)
    expect(widget_text(page, "first-visit-signup-nudge")).to_have_count(0)
    metrics = httpx.get(f"{shop.url}/metrics").text
    assert 'ondo_events_total{kind="report"}' in metrics


def _upload(shop: Engine, text: str) -> None:
    reply = httpx.put(f"{shop.url}/v1/sites/demo-shop/rules",
                      content=(SEED_RULES.read_text(encoding="utf-8") + text).encode(),
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert reply.status_code == 200, reply.text


def test_marketer_text_is_rendered_as_text_on_a_hostile_page(
        page: Page, shop: Engine, shop_pages: ShopPages) -> None:
    _upload(shop, """
  - id: xss
    do: { widget: popcorn_button, text: "<img src=x onerror=alert(1)>" }
""")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    shop_pages.pages["/hostile.html"] = f"""<!doctype html><html><head><meta charset="utf-8">
<link rel="icon" href="data:,">
<style>* {{ font-size: 40px !important; }} button {{ display: none !important; }}</style>
<script async src="{shop.url}/widget.js" data-site="demo-shop"></script></head>
<body><h1>hostile page</h1></body></html>""".encode()
    page.goto(f"{shop_pages.origin}/hostile.html")
    host = widget_text(page, "xss")
    expect(host).to_be_visible(timeout=5000)
    box = host.bounding_box()
    assert box is not None and 20 < box["height"] < 80  # 40px fonts and hidden buttons stay out
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "popcorn-hostile.png"))
    assert dialogs == []
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_popcorn_buttons_icon_is_shown_as_text(page: Page, shop: Engine,
                                                 shop_pages: ShopPages) -> None:
    _upload(shop, """
  - id: gift
    do: { widget: popcorn_button, icon: "🎁", text: "선물 받아가세요", link: /gift }
""")
    shop_pages.pages["/plain.html"] = f"""<!doctype html><html><head><meta charset="utf-8">
<link rel="icon" href="data:,">
<script async src="{shop.url}/widget.js" data-site="demo-shop"></script></head>
<body><h1>shop</h1></body></html>""".encode()
    page.goto(f"{shop_pages.origin}/plain.html")
    expect(widget_text(page, "gift")).to_be_visible(timeout=5000)
    texts = shadow_texts(page)
    assert "🎁" in texts and "선물 받아가세요" in texts
    page.wait_for_timeout(600)  # the pop-in animation
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "popcorn-icon.png"))
