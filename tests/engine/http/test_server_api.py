"""``POST /v1/sites/{site}/events`` against a real engine and Redis: what a
signed request cannot do (reach a member's profile by a visitor id, carry a
number past its domain, sign with a timestamp that is not a time), each a 4xx
naming the field, never a 500."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from engine.flow.signing import sign
from tests.conftest import SECRET, Engine, on_store, signed


def post(engine: Engine, events: list[dict[str, Any]],
         headers: dict[str, str] | None = None) -> httpx.Response:
    body = json.dumps({"events": events}).encode()
    return httpx.post(f"{engine.url}/v1/sites/demo-shop/events", content=body, timeout=10,
                      headers=headers or signed(body))


def test_a_visitor_id_cannot_name_a_members_profile(engine: Engine, redis_url: str) -> None:
    assert post(engine, [{"type": "tags", "id": "t0", "member_id": "member-0001",
                          "add": ["newsletter"]}]).status_code == 200
    forged = post(engine, [{"type": "tags", "id": "t1", "visitor_id": "m:member-0001",
                            "add": ["vip"]}])
    assert (forged.status_code, forged.json()["field"]) == (422, "events[0].visitor_id")
    member = on_store(redis_url, lambda store: store.profile("demo-shop", "m:member-0001"))
    assert member["tags"] == ["newsletter"]


@pytest.mark.parametrize(("order", "field"), [
    ({"amount": 2**63}, "events[0].amount"),
    ({"amount": 1e19}, "events[0].amount"),
    ({"amount": 100_000_000_001}, "events[0].amount"),
    ({"items": [{"product_id": "P1", "qty": 1, "price": 1e30}]}, "events[0].items[0].price"),
    ({"items": [{"product_id": "P1", "qty": 2**63, "price": 1}]}, "events[0].items[0].qty"),
    ({"ordered_at": 2**63}, "events[0].ordered_at"),
])
def test_a_number_past_its_domain_is_a_422_not_a_500(engine: Engine, order: dict[str, Any],
                                                     field: str) -> None:
    reply = post(engine, [{"type": "purchase", "order_id": "big-1", "visitor_id": "buyer-00001",
                           "amount": 1000, **order}])
    assert (reply.status_code, reply.json()["field"]) == (422, field)


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "1e9", "+{now}", "{now}.0"])
def test_a_timestamp_must_be_whole_seconds_in_digits(engine: Engine, stamp: str) -> None:
    # Signed with the shop's own secret: only the timestamp is wrong. "nan"
    # compared as fresh, so such a signature could be replayed forever.
    stamp = stamp.format(now=int(time.time()))
    events = [{"type": "cart_reset", "id": "r1", "visitor_id": "visitor-0001"}]
    body = json.dumps({"events": events}).encode()
    reply = post(engine, events, {"X-Ondo-Timestamp": stamp,
                                  "X-Ondo-Signature": sign(SECRET, stamp, body)})
    assert (reply.status_code, reply.json()["field"]) == (401, "X-Ondo-Timestamp")
