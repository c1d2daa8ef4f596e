"""A shop's server events read into typed events: ids the widget could have made,
numbers inside their stated domains, every refusal naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from engine.flow.server_events import EventError, parse_event
from engine.wire.protocol import LIMITS

ORDER = {"type": "purchase", "order_id": "A-1", "visitor_id": "buyer-000001", "amount": 1000}
JAN_2000, JAN_2100 = 946_684_800, 4_102_444_800


def refused(raw: dict[str, Any]) -> str:
    with pytest.raises(EventError) as info:
        parse_event(raw, 0)
    return info.value.field


@pytest.mark.parametrize("visitor", [
    "m:member-0001",  # a member's profile key: would write into that member's profile
    "m:1", "short", "x" * 65, "visitor 0001", "visitor/0001", 12345678, ""])
@pytest.mark.parametrize("kind", [
    {"type": "purchase", "order_id": "A-1", "amount": 1000},
    {"type": "coupon", "id": "c1", "code": "X", "action": "used"},
    {"type": "cart_reset", "id": "r1"},
    {"type": "tags", "id": "t1", "add": ["vip"]}], ids=lambda k: k["type"])
def test_a_visitor_id_the_widget_could_not_have_made_is_refused(
        kind: dict[str, Any], visitor: object) -> None:
    assert refused({**kind, "visitor_id": visitor}) == "events[0].visitor_id"


def test_a_member_is_reached_by_member_id() -> None:
    member = {key: value for key, value in ORDER.items() if key != "visitor_id"}
    assert parse_event({**member, "member_id": "member-0001"}, 0).profile == "m:member-0001"
    assert parse_event(ORDER, 0).profile == "buyer-000001"


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": 2**63}, "events[0].amount"),
    ({"amount": 1e19}, "events[0].amount"),
    ({"amount": LIMITS.max_amount + 1}, "events[0].amount"),
    ({"items": [{"product_id": "P1", "price": 2**63}]}, "events[0].items[0].price"),
    ({"items": [{"product_id": "P1", "price": 1e30}]}, "events[0].items[0].price"),
    ({"items": [{"product_id": "P1", "qty": LIMITS.max_quantity + 1}]},
     "events[0].items[0].qty"),
    ({"items": [{"product_id": "P1", "qty": float("inf")}]}, "events[0].items[0].qty"),
    ({"ordered_at": JAN_2000 - 1}, "events[0].ordered_at"),
    ({"ordered_at": JAN_2100}, "events[0].ordered_at"),
    ({"ordered_at": 1e30}, "events[0].ordered_at"),
    ({"ordered_at": float("nan")}, "events[0].ordered_at"),
    ({"ordered_at": True}, "events[0].ordered_at"),
])
def test_a_number_past_its_domain_is_refused(change: dict[str, Any], field: str) -> None:
    assert refused({**ORDER, **change}) == field


@pytest.mark.parametrize(("raw", "field"), [
    ({"type": "member", "id": "m1", "member_id": "m-1", "signed_up": True,
      "signed_up_at": 10**12}, "events[0].signed_up_at"),
    ({"type": "coupon", "id": "c1", "member_id": "m-1", "code": "X", "action": "issued",
      "expires_at": 2**63}, "events[0].expires_at"),
    ({"type": "coupon", "id": "c1", "member_id": "m-1", "code": "X", "action": "issued",
      "expires_at": 86_400}, "events[0].expires_at"),
])
def test_times_are_unix_seconds_of_this_century(raw: dict[str, Any], field: str) -> None:
    assert refused(raw) == field


def test_the_ends_of_each_domain_are_accepted() -> None:
    event = parse_event({**ORDER, "amount": LIMITS.max_amount, "ordered_at": JAN_2100 - 1,
                         "items": [{"product_id": "P1", "qty": LIMITS.max_quantity,
                                    "price": LIMITS.max_amount}]}, 0)
    assert (event.payload["amount"], event.payload["ordered_at"]) == (
        100_000_000_000, JAN_2100 - 1)
    assert event.payload["items"] == [{"product_id": "P1", "qty": 100_000,
                                       "price": 100_000_000_000}]
    assert parse_event({**ORDER, "ordered_at": JAN_2000}, 0).payload["ordered_at"] == JAN_2000


def test_the_refusal_says_the_bound() -> None:
    with pytest.raises(EventError, match="amount must be at most 100,000,000,000"):
        parse_event({**ORDER, "amount": 1e19}, 0)
