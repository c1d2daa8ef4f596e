"""What each event evaluates: a widget signal its own trigger (`on:
exit_intent`), a cart emptied by the shop's server the `cart` rules, and the
welcome names the signals the site's rules listen for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.flow.derive import Visitor
from engine.flow.identity import sign_member
from engine.flow.server_events import parse_event
from engine.matcher import matcher_class
from engine.store.base import LiveUpdate, Store, source_version
from engine.wire.protocol import LIMITS
from engine.wire.session import Session
from tests.conftest import SECRET
from tests.engine.flow.test_pipeline import SHOP, Shop
from tests.engine.store.stores import Run

RULES = """site: demo-shop
rules:
  - id: leaving-with-a-cart
    on: exit_intent
    if: cart_count >= 1
    do: { widget: push_note, title: 잠깐만요!, body: 장바구니 10% 쿠폰 }
  - id: scrolled-far
    on: scroll
    if: page_type == "product"
    do: { widget: popcorn_button, text: 리뷰 보기 }
  - id: cart-emptied
    on: cart
    if: cart_count == 0
    do: { widget: popcorn_button, text: 다시 담기 }
"""


@pytest.fixture
def shop(store: Store, run: Run) -> Iterator[Shop]:
    shop = Shop(store, run)
    shop.site.load(source_version(RULES), RULES, matcher_class())
    yield shop


def test_a_signal_evaluates_the_rules_on_it_and_no_others(shop: Shop) -> None:
    v = Visitor(shop.site, "leaver-0001")
    shop.page(v)
    shop.event(v, "cart", {"items": [{"product_id": "P1", "qty": 1, "price": 30_000}]})
    ack, action = shop.event(v, "signal", {"name": "exit_intent"})
    assert (ack["t"], action["rule"], action["content"]["title"]) == \
        ("ack", "leaving-with-a-cart", "잠깐만요!")
    assert len(shop.event(v, "signal", {"name": "idle"})) == 1  # no rule is on idle
    assert "scrolled-far|matched" not in shop.stats()  # not a product page


def test_a_cart_emptied_by_the_shops_server_evaluates_the_cart_rules(shop: Shop) -> None:
    v = Visitor(shop.site, "buyer-00002")
    shop.page(v)
    shop.event(v, "cart", {"items": [{"product_id": "P1", "qty": 1, "price": 30_000}]})
    assert "cart-emptied|matched" not in shop.stats()
    shop.run(shop.pipeline.apply_server_event(shop.site, parse_event(
        {"type": "cart_reset", "id": "reset-1", "visitor_id": "buyer-00002"}, 0), shop.now))
    assert shop.stats()["cart-emptied|matched"] == 1


def test_the_welcome_names_the_signals_the_rules_listen_for(shop: Shop) -> None:
    rules = shop.site.rules
    assert rules is not None and rules.signals == ("exit_intent", "scroll")
    session = Session("leaver-0001", LIMITS, signals=lambda: rules.signals)
    step = session.receive('{"t": "hello", "page": {"url": "https://shop.example.com/"}}', 0.0)
    assert step.frames[0]["signals"] == ["exit_intent", "scroll"]


TRACKED = """site: demo-shop
rules:
  - id: wishlist-coupon
    on: track
    if: event_name == "wishlist" and event_prop("category") == "bags"
    do: { widget: push_note, title: 찜한 가방 10% 쿠폰 }
"""


def test_a_track_event_is_read_by_its_name_and_props(shop: Shop) -> None:
    shop.site.load(source_version(TRACKED), TRACKED, matcher_class())
    v = Visitor(shop.site, "tracker-0001")
    shop.page(v)
    bags = shop.event(v, "track", {"name": "wishlist", "props": {"category": "bags",
                                                                  "price": 30_000}})
    assert [f["rule"] for f in bags[1:]] == ["wishlist-coupon"]
    shoes = shop.event(v, "track", {"name": "wishlist", "props": {"category": "shoes"}})
    assert len(shoes) == 1
    assert len(shop.page(v)) == 1  # a page view has no event name


LIVE = """site: demo-shop
rules:
  - id: popular-now
    if: page_type == "product" and product_viewers_now >= 3
    do: { widget: popcorn_button, text: "{{ product_viewers_now | default(3) }}명이 보고 있어요" }
  - id: selling-fast
    on: cart
    if: product_cart_adds_24h >= 2 and site_visitors_now >= 1
    do: { widget: push_note, title: "오늘 {{ product_purchases_24h | default(0) }}개 팔렸어요" }
"""


def test_live_viewers_reach_a_rule_and_its_text(shop: Shop) -> None:
    shop.site.load(source_version(LIVE), LIVE, matcher_class())
    page = "/product/bags/P1?x=1"
    viewers = [Visitor(shop.site, f"viewer-{n:04}") for n in range(4)]
    for viewer in viewers[:3]:
        assert len(shop.event(viewer, "pageview", {"url": f"{SHOP}{page}",
                                                   "product_id": "P1"})) == 1
    fourth = shop.event(viewers[3], "pageview", {"url": f"{SHOP}{page}", "product_id": "P1"})
    # Three others are on the page: the fourth is told so (not counting themselves).
    assert [(f["rule"], f["content"]["text"]) for f in fourth[1:]] == \
        [("popular-now", "3명이 보고 있어요")]


def test_cart_additions_and_orders_are_counted_for_the_product(shop: Shop) -> None:
    shop.site.load(source_version(LIVE), LIVE, matcher_class())
    item = {"product_id": "P9", "qty": 1, "price": 10_000}
    first, second = Visitor(shop.site, "adder-0001"), Visitor(shop.site, "adder-0002")
    for v in (first, second):
        shop.event(v, "pageview", {"url": f"{SHOP}/product/P9", "product_id": "P9"})
    assert len(shop.event(first, "cart", {"items": [item]})) == 1  # one addition so far
    shop.run(shop.pipeline.apply_server_event(shop.site, parse_event(
        {"type": "purchase", "order_id": "o-9", "visitor_id": "adder-0003", "amount": 10_000,
         "items": [item]}, 0), shop.now))
    frames = shop.event(second, "cart", {"items": [item]})
    assert [(f["rule"], f["content"]["title"]) for f in frames[1:]] == \
        [("selling-fast", "오늘 1개 팔렸어요")]
    again = shop.event(second, "cart", {"items": [item]})  # the same cart: no new addition
    assert shop.run(shop.store.profile("demo-shop", "adder-0002"))["cart_added"] == []
    assert len(again) >= 1


def test_the_librarys_popular_product_recipe_fires_on_a_live_engine(shop: Shop) -> None:
    recipe = (Path(__file__).resolve().parents[3] / "rules" / "library" / "product.yaml"
              ).read_text(encoding="utf-8")
    shop.site.load(source_version(recipe), recipe, matcher_class())
    page = {"url": f"{SHOP}/product/bags/1003", "page_type": "product", "product_id": "1003"}
    for n in range(5):
        assert len(shop.event(Visitor(shop.site, f"crowd-{n:04}"), "pageview", page)) == 1
    frames = shop.event(Visitor(shop.site, "sixth-0001"), "pageview", page)
    assert [(f["rule"], f["content"]["text"]) for f in frames[1:]] == \
        [("popular-product-now", "지금 5명이 이 상품을 보고 있어요")]


def test_browsers_cart_additions_count_only_while_a_rule_reads_them(shop: Shop) -> None:
    item = {"product_id": "P7", "qty": 1, "price": 10_000}
    shop.event(Visitor(shop.site, "quiet-0001"), "cart", {"items": [item]})  # RULES: no live rule
    shop.site.load(source_version(LIVE), LIVE, matcher_class())
    shop.event(Visitor(shop.site, "quiet-0002"), "cart", {"items": [item]})
    late = int(shop.now) - 2 * 86_400  # an order placed two days ago: not in the last 24 h
    shop.run(shop.pipeline.apply_server_event(shop.site, parse_event(
        {"type": "purchase", "order_id": "late-7", "visitor_id": "quiet-0003", "amount": 1,
         "items": [item], "ordered_at": late}, 0), shop.now))
    figures = shop.run(shop.store.live("demo-shop", LiveUpdate(shop.now, read=True,
                                                               read_product="P7")))
    assert (figures["product_cart_adds_24h"], figures["product_purchases_24h"]) == (1, 0)


def test_signing_in_on_a_product_page_keeps_the_count(shop: Shop) -> None:
    shop.site.load(source_version(LIVE), LIVE, matcher_class())
    page = {"url": f"{SHOP}/product/P1", "page_type": "product", "product_id": "P1"}
    member = Visitor(shop.site, "signer-0001")
    shop.event(member, "pageview", page)
    shop.event(member, "identify", {"member_id": "park",
                                    "signature": sign_member(SECRET, "park")})
    shop.event(member, "pageview", page)  # the next page, as the member
    shop.event(Visitor(shop.site, "other-0001"), "pageview", page)
    figures = shop.run(shop.store.live("demo-shop", LiveUpdate(shop.now, read=True,
                                                               read_product="P1")))
    assert (figures["site_visitors_now"], figures["product_viewers_now"]) == (2, 2)
