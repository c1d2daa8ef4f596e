"""The pipeline on its own, without a server, on both stores (the Lua store on
a real Redis and its in-memory twin): every door's event takes the same road,
and every decision is counted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine.delivery.counters import Counters
from engine.flow.derive import Visitor
from engine.flow.identity import sign_member
from engine.flow.pipeline import Pipeline
from engine.flow.server_events import parse_event
from engine.forecast.recorder import Recorder
from engine.matcher import matcher_class
from engine.runtime.config import Config
from engine.runtime.metrics import Metrics
from engine.runtime.site import LiveSite, load_sites
from engine.store.base import PUSH_CHANNEL, Applied, Store, StoreUnavailable, source_version
from engine.store.memory import MemoryStore
from engine.wire import action_ids
from engine.wire.frames import Event, FrameError, parse_frame
from engine.wire.protocol import LIMITS
from tests.conftest import SECRET, START, site_config
from tests.engine.store.stores import Run

SHOP = "https://shop.example.com"
DAY = "20261118"  # START in Seoul


class Shop:
    """The demo site's pipeline on a store, and a way to send it events."""

    def __init__(self, store: Store, run: Run) -> None:
        config = Config(sites={"demo-shop": site_config()})
        self.site: LiveSite = load_sites(config, matcher_class())["demo-shop"]
        self.store, self.run = store, run
        self.metrics = Metrics()
        self.counters = Counters(store)
        self.pipeline = Pipeline(store, self.metrics, self.counters, Recorder(store))
        self.now = START
        self.n = 0

    def event(self, visitor: Visitor, kind: str, data: dict[str, Any],
              event_id: str | None = None) -> list[dict[str, Any]]:
        self.n += 1
        frame = parse_frame({"t": "event", "id": event_id or f"e{self.n}", "kind": kind,
                             "data": data}, LIMITS)
        assert isinstance(frame, Event)
        return self.run(self.pipeline.handle(visitor, frame, self.now))

    def page(self, visitor: Visitor, path: str = "/", event_id: str | None = None
             ) -> list[dict[str, Any]]:
        return self.event(visitor, "pageview", {"url": SHOP + path}, event_id)

    def stats(self) -> dict[str, int]:
        self.run(self.counters.flush())
        return self.run(self.store.stats("demo-shop", DAY))


@pytest.fixture
def shop(store: Store, run: Run) -> Iterator[Shop]:
    yield Shop(store, run)


def test_a_page_view_is_acked_once_stored_and_a_resend_has_no_effect(shop: Shop) -> None:
    v = Visitor(shop.site, "visitor-0001")
    assert shop.page(v, event_id="pv-1") == [{"t": "ack", "id": "pv-1"}]
    assert shop.page(v, event_id="pv-1") == [{"t": "ack", "id": "pv-1"}]
    assert shop.run(shop.store.profile("demo-shop", "visitor-0001"))["pageviews_total"] == 1
    conflict = shop.page(v, "/other", event_id="pv-1")
    assert conflict[0]["code"] == "id_conflict"


def test_the_fifth_page_shows_the_nudge_signed_for_this_visitor_and_counts_it(
        shop: Shop) -> None:
    v = Visitor(shop.site, "visitor-0002")
    for n in range(4):
        assert len(shop.page(v, f"/p{n}")) == 1  # the ack alone
    ack, action = shop.page(v, "/p4")
    assert (ack["t"], action["rule"]) == ("ack", "first-visit-signup-nudge")
    assert action_ids.verify(shop.site.action_key, "visitor-0002", action["rule"], action["id"])
    assert shop.stats() == {"first-visit-signup-nudge|matched": 1,
                            "first-visit-signup-nudge|sent": 1}


def test_reports_count_once_and_only_for_actions_sent(shop: Shop) -> None:
    v = Visitor(shop.site, "visitor-0003")
    for n in range(5):
        frames = shop.page(v, f"/p{n}")
    action = frames[-1]
    report = {"action": action["id"], "rule": action["rule"], "what": "shown"}
    assert shop.event(v, "report", report)[0]["t"] == "ack"
    assert shop.event(v, "report", report)[0]["t"] == "ack"  # a resend under a new id
    with pytest.raises(FrameError) as info:
        shop.event(v, "report", {**report, "rule": "loyal-coupon"})
    assert info.value.field == "data.action"
    assert shop.stats()["first-visit-signup-nudge|shown"] == 1


def test_a_forged_identify_triggers_no_track_rule(shop: Shop) -> None:
    rules = ("site: demo-shop\nrules:\n  - id: on-any-track\n    on: track\n"
             "    if: visit_count >= 1\n    do: {widget: popcorn_button, text: t}\n")
    shop.site.load(source_version(rules), rules, matcher_class())
    v = Visitor(shop.site, "visitor-0007")
    shop.page(v)
    assert len(shop.event(v, "identify", {"member_id": "kim", "signature": "0" * 64})) == 1
    assert [f["rule"] for f in shop.event(v, "track", {"name": "wish"})[1:]] == ["on-any-track"]


def test_a_forged_identify_leaves_the_visitor_anonymous(shop: Shop) -> None:
    v = Visitor(shop.site, "visitor-0004")
    assert shop.event(v, "identify", {"member_id": "kim", "signature": "0" * 64})[0]["t"] == \
        "ack"
    assert (v.key, shop.metrics.forged_identities) == ("visitor-0004", 1)
    shop.event(v, "identify", {"member_id": "kim", "signature": sign_member(SECRET, "kim")})
    assert v.key == "m:kim"


def test_an_order_from_the_shops_server_pushes_and_counts_its_action(
        shop: Shop, run: Run) -> None:
    v = Visitor(shop.site, "buyer-00001")
    for _ in range(10):  # ten visits: a regular
        shop.page(v)
        shop.now += 86_400
    shop.now = START  # counted on the first day, for the stats below
    pushed: list[tuple[str, str]] = []

    async def listen(channel: str, data: str) -> None:
        pushed.append((channel, data))

    stop = asyncio.Event()

    async def order() -> Applied:
        follower = asyncio.ensure_future(shop.store.broker.follow(listen, _nothing, stop))
        await asyncio.sleep(0.6)  # subscribed
        status = await shop.pipeline.apply_server_event(shop.site, parse_event(
            {"type": "purchase", "order_id": "A-1", "visitor_id": "buyer-00001",
             "amount": 300_000}, 0), shop.now)
        for _ in range(40):
            if pushed:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await follower
        return status

    assert run(order()) is Applied.NEW
    ((channel, data),) = pushed
    message = json.loads(data)
    assert (channel, message["profile"], message["frames"][0]["rule"]) == (
        PUSH_CHANNEL, "buyer-00001", "loyal-coupon")
    assert shop.stats()["loyal-coupon|sent"] == 1  # a push is counted like any action


async def _nothing() -> None:
    return None


def test_storage_down_is_an_exception_the_doors_answer(run: Run) -> None:
    store = MemoryStore()
    shop = Shop(store, run)
    store.down = True
    with pytest.raises(StoreUnavailable):
        shop.page(Visitor(shop.site, "visitor-0005"))
    assert store.errors == 1  # the profile's call (the seed recipes read no live counter)


def test_an_identify_resent_after_its_merge_failed_still_merges(shop: Shop, run: Run) -> None:
    v = Visitor(shop.site, "visitor-0006")
    shop.page(v)
    store = shop.store
    identify = {"member_id": "lee", "signature": sign_member(SECRET, "lee")}

    # The identify is stored, then the storage goes before the merge is.
    original = store.apply
    calls = 0

    async def failing_second(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise StoreUnavailable("gone")
        return await original(*args, **kwargs)

    store.apply = failing_second  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        shop.event(v, "identify", identify, event_id="id-1")
    store.apply = original  # type: ignore[method-assign]
    assert shop.event(v, "identify", identify, event_id="id-1")[0]["t"] == "ack"  # the resend
    assert v.key == "m:lee"
    assert run(store.profile("demo-shop", "m:lee"))["pageviews_total"] == 1
