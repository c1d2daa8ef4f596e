"""``POST /v1/beacon`` (engine/http/beacon.py): a page's last events, stored
once, checked as the socket checks them, and bounded as the socket is: one
address shares its bucket between beacons and new sockets, one visitor's
beacons bring events at a socket's rate, all of a beacon or nothing; and an
unknown site looks exactly like a foreign origin."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from engine.runtime.config import Config
from engine.wire.protocol import LIMITS
from tests.conftest import ORIGIN, Engine, on_store, run_engine, site_config
from tests.engine.client import Visitor


def beacon(engine: Engine, body: object, origin: str = ORIGIN) -> httpx.Response:
    return httpx.post(f"{engine.url}/v1/beacon", content=json.dumps(body),
                      headers={"Origin": origin, "Content-Type": "text/plain"})


def event(event_id: str, url: str) -> dict[str, object]:
    return {"t": "event", "id": event_id, "kind": "pageview", "data": {"url": url}}


def pages(visitor: str, first: int, count: int) -> dict[str, Any]:
    return {"site": "demo-shop", "visitor": visitor, "events": [
        event(f"{visitor}-{n}", f"https://shop.example.com/p{n}")
        for n in range(first, first + count)]}


def stored_pageviews(redis_url: str, visitor: str) -> int:
    profile = on_store(redis_url, lambda store: store.profile("demo-shop", visitor))
    return int(profile.get("pageviews_total", 0))


def test_the_beacon_stores_the_last_events_once(engine: Engine) -> None:
    events = [event(f"b{n}", f"https://shop.example.com/p{n}") for n in range(4)]
    body = {"site": "demo-shop", "visitor": "beacon-0001", "events": events}
    assert beacon(engine, body).status_code == 204
    assert beacon(engine, body).status_code == 204  # sent again: duplicates dropped
    v = Visitor(engine, "beacon-0001")
    v.page("https://shop.example.com/p5")  # the fifth page view, not the ninth
    assert [a["rule"] for a in v.actions] == ["first-visit-signup-nudge"]


def test_the_beacon_refuses_bad_input_naming_the_field(engine: Engine) -> None:
    good = {"site": "demo-shop", "visitor": "beacon-0002", "events": []}
    reply = beacon(engine, {**good, "events": [{"t": "event", "id": "x", "kind": "pageview",
                                                "data": {"url": 5}}]})
    assert (reply.status_code, reply.json()["field"]) == (422, "events[0].data.url")
    assert httpx.post(f"{engine.url}/v1/beacon", content=b"{", headers={
        "Origin": ORIGIN}).status_code == 400


def test_an_unknown_site_is_answered_as_a_foreign_origin(engine: Engine) -> None:
    good = {"site": "demo-shop", "visitor": "beacon-0003", "events": []}
    foreign = beacon(engine, good, origin="https://evil.example")
    unknown = beacon(engine, {**good, "site": "no-such-shop"})
    assert (foreign.status_code, foreign.json()) == (403, {
        "error": "origin not allowed for this site", "field": "origin"})
    assert (unknown.status_code, unknown.content) == (foreign.status_code, foreign.content)


def test_a_tracked_events_properties_over_their_budget_are_refused(engine: Engine) -> None:
    props = {f"p{n}": "x" * 2_000 for n in range(30)}  # 60 KiB: fits the body, not the budget
    reply = beacon(engine, {"site": "demo-shop", "visitor": "beacon-0004", "events": [
        {"t": "event", "id": "t1", "kind": "track", "data": {"name": "wish", "props": props}}]})
    assert (reply.status_code, reply.json()["field"]) == (422, "events[0].data.props")


def test_one_visitors_beacons_bring_events_at_a_sockets_rate(engine: Engine,
                                                             redis_url: str) -> None:
    burst = LIMITS.event_burst
    assert beacon(engine, pages("beacon-0005", 0, burst - 10)).status_code == 204
    over = beacon(engine, pages("beacon-0005", burst - 10, 20))  # 10 tokens left, not 20
    assert (over.status_code, over.json()["field"], over.headers["retry-after"]) == (
        429, "events", "1")
    assert stored_pageviews(redis_url, "beacon-0005") == burst - 10  # none of the 20
    # Another visitor on the same address has a bucket of its own.
    assert beacon(engine, pages("beacon-0006", 0, burst)).status_code == 204


@pytest.fixture
def strict_engine(redis_url: str) -> Iterator[Engine]:
    """An engine whose addresses may open 3 sockets or post 3 beacons, then
    one every 100 s."""
    limits = dataclasses.replace(LIMITS, connect_burst=3, connects_per_second=0.01)
    with run_engine(Config(sites={"demo-shop": site_config()}, limits=limits),
                    redis_url) as running:
        yield running


def test_an_address_shares_its_bucket_between_beacons_and_sockets(
        strict_engine: Engine, redis_url: str) -> None:
    for n in range(2):
        assert beacon(strict_engine, pages(f"beacon-1{n:03d}", 0, 1)).status_code == 204
    Visitor(strict_engine, "beacon-2000").close()  # the third token
    refused = beacon(strict_engine, pages("beacon-1002", 0, 1))
    assert (refused.status_code, refused.json()["field"], refused.headers["retry-after"]) == (
        429, "address", "1")
    assert stored_pageviews(redis_url, "beacon-1002") == 0
    with pytest.raises(InvalidStatus) as info:
        Visitor(strict_engine, "beacon-2001")
    assert info.value.response.status_code == 429
