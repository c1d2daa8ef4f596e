"""The seed recipes end to end in a real browser, and a reconnect mid-journey."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from engine.runtime.clock import ManualClock
from engine.runtime.config import Config
from engine.runtime.embedded import free_port
from tests.browser.conftest import ADMIN_TOKEN, ARTIFACTS, ShopPages
from tests.conftest import Engine, run_engine, site_config

pytestmark = pytest.mark.browser
DAY = 86_400
NAVER_AD = "/demo/index.html?n_media=27758&n_query=%EA%B0%80%EB%B0%A9&n_rank=1"


def screenshots(page: Page, widget: str) -> None:
    """The widget as it is now, at desktop and phone sizes (test-artifacts/)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{widget}-desktop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"{widget}-mobile.png"))
    page.set_viewport_size({"width": 1280, "height": 800})


def host(page: Page, rule: str) -> Any:
    return page.locator(f"ondo-widget[data-ondo-rule='{rule}']")


def go(page: Page, shop: Engine, path: str) -> None:
    page.goto(shop.url + path)
    page.wait_for_timeout(350)


def explain(shop: Engine, visitor: str) -> dict[str, Any]:
    reply = httpx.post(f"{shop.url}/v1/sites/demo-shop/rules/explain", json={"visitor": visitor},
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    return {r["rule"]: r for r in reply.json()["rules"]}


def actual(report: dict[str, Any], rule: str, text: str) -> Any:
    return next(p["actual"] for p in report[rule]["predicates"] if p["text"] == text)


def test_ad_returner_gets_the_bookmark_prompt_and_a_close_stops_it(page: Page,
                                                                     shop: Engine) -> None:
    go(page, shop, NAVER_AD)
    expect(host(page, "bookmark-ad-returners")).to_have_count(0)
    shop.clock.advance(2 * 3600)  # a second visit
    go(page, shop, NAVER_AD)
    prompt = host(page, "bookmark-ad-returners")
    expect(prompt).to_be_visible(timeout=5000)
    screenshots(page, "bookmark_prompt")
    box = prompt.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280
    page.keyboard.press("Escape")  # closes, and stop_after: [close] holds from now on
    expect(prompt).to_have_count(0)
    page.wait_for_timeout(300)
    shop.clock.advance(8 * DAY)  # past the {max: 1, per: 7d} window
    go(page, shop, NAVER_AD)
    page.wait_for_timeout(500)
    expect(host(page, "bookmark-ad-returners")).to_have_count(0)


def _regular(page: Page, shop: Engine, visits: int) -> None:
    for _ in range(visits):
        go(page, shop, "/demo/index.html")
        shop.clock.advance(DAY)


def _buy(page: Page, shop: Engine, product: str, times: int) -> None:
    go(page, shop, f"/demo/product.html?id={product}")
    for _ in range(times):
        page.click("#add")
    go(page, shop, "/demo/checkout.html")
    page.click("#pay")
    expect(page.locator("#status")).to_contain_text("주문 완료", timeout=5000)


def test_a_loyal_regular_gets_the_coupon_button_and_its_link_asks_for_a_login(
        page: Page, shop: Engine) -> None:
    _regular(page, shop, 10)
    _buy(page, shop, "1004", 4)  # 356,000원: the purchase is pushed to the open page
    button = host(page, "loyal-coupon")
    expect(button).to_be_visible(timeout=5000)
    screenshots(page, "popcorn_button")
    button.click(position={"x": 40, "y": 20})
    page.wait_for_url("**/member/login.html?returnUrl=*", timeout=5000)
    assert "returnUrl=%2Fcoupon%2Fdownload%3Fcode%3DLOYAL15" in page.url


def test_a_regular_with_a_3man_cart_gets_the_upsell_banner(page: Page, shop: Engine) -> None:
    _regular(page, shop, 10)
    for _ in range(3):
        _buy(page, shop, "1005", 1)
    go(page, shop, "/demo/product.html?id=1003")
    page.click("#add")  # 28,000원 in the cart: a cart event
    banner = host(page, "upsell-free-shipping")
    expect(banner).to_be_visible(timeout=5000)
    box = banner.bounding_box()
    assert box is not None and box["x"] < 200  # bottom-left, clear of chat buttons
    screenshots(page, "round_floating")


def test_the_widget_recovers_from_an_engine_restart_without_a_reload(
        page: Page, redis_url: str, shop_pages: ShopPages) -> None:
    port = free_port()
    config = Config(sites={"demo-shop": site_config(
        origins=(f"http://127.0.0.1:{port}", shop_pages.origin),
        admin_token_sha256=hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest())})
    clock = ManualClock(time.time())
    engine_url = f"http://127.0.0.1:{port}"
    shop_pages.pages["/spa.html"] = f"""<!doctype html><html><head><meta charset="utf-8">
<link rel="icon" href="data:,">
<script async src="{engine_url}/widget.js" data-site="demo-shop"></script></head>
<body><h1>SPA</h1></body></html>""".encode()
    with run_engine(config, redis_url, port, clock) as shop:
        page.goto(f"{shop_pages.origin}/spa.html")
        page.wait_for_timeout(800)
        visitor = page.evaluate("localStorage.getItem('ondo_vid')")
        assert actual(explain(shop, visitor), "first-visit-signup-nudge",
                      "session_pageviews >= 5") == 1
    # The engine is down: two SPA navigations are queued by the widget.
    for n in range(2):
        page.evaluate(f"history.pushState({{}}, '', '/spa.html?step={n}')")
        page.wait_for_timeout(200)
    with run_engine(config, redis_url, port, clock) as shop:
        deadline = time.monotonic() + 15
        while True:
            seen = actual(explain(shop, visitor), "first-visit-signup-nudge",
                          "session_pageviews >= 5")
            if seen == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert seen == 3  # each queued page view arrived, exactly once
        for n in range(2, 4):
            page.evaluate(f"history.pushState({{}}, '', '/spa.html?step={n}')")
            page.wait_for_timeout(300)
        expect(host(page, "first-visit-signup-nudge")).to_be_visible(timeout=5000)
        assert actual(explain(shop, visitor), "first-visit-signup-nudge",
                      "session_pageviews >= 5") == 5
