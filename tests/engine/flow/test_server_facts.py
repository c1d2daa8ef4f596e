"""Facts from the shop's server, through the pipeline on both stores: tags a
rule can read, a sign-up's age, and an order counted on the day it was placed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.flow.derive import Visitor
from engine.flow.server_events import parse_event
from engine.matcher import matcher_class
from engine.store.base import Store, source_version
from tests.engine.flow.test_pipeline import DAY, Shop
from tests.engine.store.stores import Run

RULES = """site: demo-shop
rules:
  - id: vip-welcome
    if: tags contains "vip"
    do: { widget: popcorn_button, text: VIP 전용관 }
  - id: new-member-week
    if: days_since_signup <= 7
    do: { widget: push_note, title: "가입 {{ days_since_signup | default('0') }}일째 혜택" }
"""


@pytest.fixture
def shop(store: Store, run: Run) -> Iterator[Shop]:
    shop = Shop(store, run)
    shop.site.load(source_version(RULES), RULES, matcher_class())
    yield shop


def server(shop: Shop, event: dict[str, Any]) -> None:
    shop.run(shop.pipeline.apply_server_event(shop.site, parse_event(event, 0), shop.now))


def test_a_tag_from_the_server_is_read_by_the_next_page(shop: Shop) -> None:
    v = Visitor(shop.site, "tagged-0001")
    assert len(shop.page(v)) == 1
    server(shop, {"type": "tags", "id": "t1", "visitor_id": "tagged-0001", "add": ["vip"]})
    assert shop.stats()["vip-welcome|matched"] == 1  # the tag re-evaluates the page
    assert [f["rule"] for f in shop.page(v)[1:]] == ["vip-welcome"]
    server(shop, {"type": "tags", "id": "t2", "visitor_id": "tagged-0001", "remove": ["vip"]})
    assert len(shop.page(v)) == 1


def test_days_since_signup_counts_from_the_sign_up(shop: Shop) -> None:
    server(shop, {"type": "member", "id": "m1", "member_id": "kim", "signed_up": True,
                  "signed_up_at": int(shop.now) - 3 * 86_400})
    v = Visitor(shop.site, "member-0001", key="m:kim")
    action = shop.page(v)[1]
    assert (action["rule"], action["content"]["title"]) == ("new-member-week", "가입 3일째 혜택")


def test_an_order_placed_yesterday_counts_yesterday(shop: Shop) -> None:
    v = Visitor(shop.site, "buyer-00003")
    shop.page(v)
    server(shop, {"type": "purchase", "order_id": "late-1", "visitor_id": "buyer-00003",
                  "amount": 40_000, "ordered_at": int(shop.now) - 86_400})
    days = shop.run(shop.store.profile("demo-shop", "buyer-00003"))["days"]
    assert [day for day, bucket in days.items() if bucket["pt"]] == [str(int(DAY) - 1)]
    future = int(shop.now) + 86_400  # a clock ahead: counted now, not tomorrow
    server(shop, {"type": "purchase", "order_id": "early-1", "visitor_id": "buyer-00003",
                  "amount": 1_000, "ordered_at": future})
    days = shop.run(shop.store.profile("demo-shop", "buyer-00003"))["days"]
    assert days[DAY]["pt"] == 1_000
