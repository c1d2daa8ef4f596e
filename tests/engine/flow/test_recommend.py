"""Recommendations through the pipeline, on both stores: a rule that
recommends shows products bought with the page's product (or the cart's) from
the shop's feed, never one in the cart or out of stock, and is not sent when it
has none to show."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.flow.derive import Visitor
from engine.flow.server_events import parse_event
from engine.matcher import matcher_class
from engine.store.base import Product, Store, source_version
from tests.engine.flow.test_pipeline import SHOP, Shop
from tests.engine.store.stores import Run

RULES = """site: demo-shop
rules:
  - id: with-this-bag
    if: page_type == "product"
    do:
      widget: push_note
      title: 함께 많이 산 상품
      recommend: { kind: bought_together, of: product, count: 2 }
  - id: complete-the-cart
    on: cart
    if: cart_count >= 1
    do:
      widget: popcorn_button
      text: 이것도 함께
      recommend: { kind: bought_together, of: cart }
"""
FEED = [Product("BAG", "가죽 토트백", 129_000, "/product/BAG"),
        Product("WALLET", "반지갑", 39_000, "/product/WALLET", "https://cdn.example.com/w.jpg"),
        Product("STRAP", "가방 스트랩", 19_000, "/product/STRAP"),
        Product("CHARM", "키링", 9_000, "/product/CHARM", in_stock=False),
        Product("SCARF", "실크 스카프", 59_000, "/product/SCARF")]


@pytest.fixture
def shop(store: Store, run: Run) -> Iterator[Shop]:
    shop = Shop(store, run)
    shop.site.load(source_version(RULES), RULES, matcher_class())
    run(store.catalog.replace("demo-shop", FEED, shop.now))
    for n, items in enumerate([["BAG", "WALLET"], ["BAG", "WALLET", "CHARM"], ["BAG", "CHARM"],
                               ["BAG", "STRAP"], ["SCARF", "STRAP"]]):
        run(shop.pipeline.apply_server_event(shop.site, parse_event(
            {"type": "purchase", "order_id": f"o-{n}", "visitor_id": f"buyer-{n:05d}",
             "amount": 1000, "items": [{"product_id": p, "qty": 1, "price": 1000}
                                       for p in items]}, 0), shop.now))
    yield shop


def view(shop: Shop, v: Visitor, product: str) -> list[dict[str, object]]:
    return shop.event(v, "pageview", {"url": f"{SHOP}/product/{product}",
                                      "page_type": "product", "product_id": product})


def test_a_product_page_shows_what_is_bought_with_it(shop: Shop) -> None:
    v = Visitor(shop.site, "shopper-0001")
    (action,) = view(shop, v, "BAG")[1:]
    cards = action["content"]["products"]
    # CHARM was bought with the bag as often as WALLET, but is out of stock.
    assert [(c["id"], c["name"], c["price_text"], c["link"]) for c in cards] == [
        ("WALLET", "반지갑", "39,000원", "/product/WALLET"),
        ("STRAP", "가방 스트랩", "19,000원", "/product/STRAP")]


def test_what_is_in_the_cart_is_never_offered(shop: Shop) -> None:
    v = Visitor(shop.site, "shopper-0002")
    view(shop, v, "BAG")
    frames = shop.event(v, "cart", {"items": [{"product_id": "BAG", "qty": 1, "price": 129_000},
                                              {"product_id": "WALLET", "qty": 1,
                                               "price": 39_000}]})
    (action,) = frames[1:]
    assert action["rule"] == "complete-the-cart"
    # SCARF was bought with STRAP only: not a partner of the cart's products.
    assert [c["id"] for c in action["content"]["products"]] == ["STRAP"]


def test_an_action_with_nothing_to_show_is_not_sent_and_says_why(shop: Shop) -> None:
    v = Visitor(shop.site, "shopper-0003")
    assert len(view(shop, v, "UNKNOWN")) == 1  # no order names it
    assert shop.stats()["with-this-bag|no_recommendations"] == 1
