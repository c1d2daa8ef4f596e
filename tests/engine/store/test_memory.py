"""The in-memory store beyond the contract: its outage switch, its broker
across threads, Lua's and cmsgpack's quirks in Python, and a random walk of
events through both stores that must give the same answer at every step."""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.profile.layout import flat_days, window_sums
from engine.profile.localtime import local_time
from engine.store import event
from engine.store.base import PUSH_CHANNEL, Applied, Result, StoredEvent, StoreUnavailable
from engine.store.event import lua_value
from engine.store.memory import MemoryStore
from engine.store.redis import RedisStore
from tests.engine.store.stores import DAY, HOUR, MIN, SEOUL, Driver, Run, pageview
from tests.engine.store.test_broker import Listener, until

LUA = (Path(event.__file__).with_name("lua") / "event.lua").read_text(encoding="utf-8")


@pytest.fixture
def memory(run: Run) -> Iterator[MemoryStore]:
    store = MemoryStore()
    yield store
    run(store.close())


def test_the_twins_lists_of_fields_and_kinds_are_the_scripts() -> None:
    server = re.search(r"local from_server = (.*?)\n\n", LUA, re.DOTALL)
    assert server is not None
    assert set(re.findall(r'kind == "(\w+)"', server.group(1))) == event.FROM_SERVER
    lists = [re.findall(r'"(\w+)"', names)
             for names in re.findall(r"ipairs\(\{(.*?)\}\)", LUA, re.DOTALL)]
    assert lists == [list(event.SESSION_FACTS), list(event.PAGE_FACTS),
                     list(event.MERGED_COUNTS), list(event.ANONYMOUS_SESSION)]
    assert f"while #times > {event.TIMES_KEPT} do" in LUA
    assert f"if #kept >= {event.EXPOSURES_KEPT} then" in LUA


def test_lua_values_are_what_a_trip_through_cmsgpack_leaves() -> None:
    assert lua_value({"params": {}, "cart": [], "gone": None}) == {"params": [], "cart": []}
    assert lua_value({"t": 1_795_000_000.0, "u": 0.5, "n": 3}) == {
        "t": 1_795_000_000, "u": 0.5, "n": 3}
    assert type(lua_value(2.0)) is int and type(lua_value(1e20)) is float
    assert lua_value({1: "a", 2: "b"}) == ["a", "b"]
    assert lua_value([1, None, 3]) == {1: 1, 3: 3}  # a hole: no longer an array
    with pytest.raises(TypeError):
        lua_value(b"\xff")


def test_an_outage_raises_and_is_counted_until_the_store_is_back(memory: MemoryStore,
                                                                 run: Run) -> None:
    driver = Driver(memory, run)
    driver.event("pageview", pageview())
    memory.down = True
    for call in (memory.profile("s", "visitor-1"), memory.count("s", "20261118", {"r|sent": 1}),
                 memory.stats("s", "20261118"), memory.versions.active("s"),
                 memory.broker.publish(PUSH_CHANNEL, "{}")):
        with pytest.raises(StoreUnavailable):
            run(call)
    with pytest.raises(StoreUnavailable):
        driver.event("pageview", pageview())
    assert memory.errors == 6 and run(memory.ping()) is False
    memory.down = False
    assert run(memory.ping()) is True
    assert driver.event("pageview", pageview()).profile["pageviews_total"] == 2


def test_a_follower_subscribes_again_after_an_outage(memory: MemoryStore, run: Run) -> None:
    listener = Listener(run, memory)
    run(until(lambda: listener.syncs == 1))
    memory.down = True
    run(until(lambda: memory.broker.followers == 0))  # its subscription is lost
    memory.down = False
    run(until(lambda: listener.syncs == 2))
    run(memory.broker.publish(PUSH_CHANNEL, "after"))
    run(until(lambda: listener.messages == [(PUSH_CHANNEL, "after")]))
    run(listener.close())


def test_engines_on_two_threads_sharing_one_store_hear_each_other(memory: MemoryStore,
                                                                 run: Run) -> None:
    here = Listener(run, memory)
    run(until(lambda: here.syncs == 1))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def there(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=5)

    try:
        listener = Listener(there, memory)
        there(until(lambda: listener.syncs == 1))
        run(memory.broker.publish(PUSH_CHANNEL, "from here"))
        there(until(lambda: listener.messages == [(PUSH_CHANNEL, "from here")]))
        there(memory.broker.publish(PUSH_CHANNEL, "from there"))
        run(until(lambda: (PUSH_CHANNEL, "from there") in here.messages))
        there(listener.close())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
    run(here.close())


# -- the same events through both stores ---------------------------------------

VISITORS = ("a", "b", "m:1")
STEPS = (0, 0, 0, 0.5, 29 * MIN, 31 * MIN, 7 * HOUR, 23 * HOUR, 25 * HOUR, 8 * DAY, 40 * DAY,
         95 * DAY, 401 * DAY)
STEP_WEIGHTS = (20, 20, 20, 5, 10, 10, 5, 4, 4, 3, 2, 1, 0.3)


def random_payload(rng: random.Random, kind: str) -> dict[str, Any]:
    pick = rng.choice
    if kind == "pageview":
        payload = pageview(pick(("/", "/p/1", "/cart")), product_id=pick((None, "P1", 7)),
                           category=pick((None, "shoes")), params=pick(({}, {"q": "x"}, None)),
                           utm_source=pick((None, "naver")), is_ad=pick((True, False)),
                           traffic_source=pick(("direct", "naver_ads", "", None)))
        if rng.random() < 0.3:  # an inner page: no arrival facts
            payload = {k: v for k, v in payload.items() if k in
                       ("page_url", "page_path", "page_type", "params")}
        return payload
    if kind == "cart":
        return {"items": pick(([], None, [{"product_id": "A", "qty": 2, "price": 1500.5}],
                               [{"product_id": "B", "qty": 1, "price": 900, "x": None}]))}
    if kind == "purchase":
        return {"amount": pick((1000, 0, "2500", None, 12.0))}
    if kind == "member":
        return {"grade": pick((None, "gold", "")), "name": pick((None, "Kim"))}
    if kind == "coupon":
        return {"code": pick(("A", "B")), "action": pick(("issued", "used", "expired")),
                "expires_at": pick((1_800_000_000, 1_790_000_000.5))}
    if kind == "identify":
        return {"member_id": pick(("1", "2", None))}
    if kind == "report":
        return {"rule": pick(("r1", "r2", "r3")), "what": pick(("shown", "shown", "clicked")),
                "action": "x", "stop": pick((True, False)), "window": pick((3_600, 86_400)),
                "group": pick(("t10", "t0", None))}
    if kind == "exposure":
        return {"rules": {rule: pick(("c10", "c50")) for rule in
                          rng.sample(("r1", "r2", "r3", "r4"), rng.randint(1, 3))},
                "window": pick((3_600, 86_400))}
    return {}


def summed_afresh(days: dict[str, dict[str, int]], now: float) -> dict[str, int]:
    """The windowed attributes summed over every day bucket: what the sums the
    script keeps through the day must always equal."""
    at = StoredEvent.at("x", "pageview", "d", now, local_time(now, SEOUL), {})
    return window_sums(event._window_sums(flat_days(days), at))


def comparable(profile: dict[str, Any]) -> dict[str, Any]:
    return {**profile, "caps": dict(profile["caps"])}


def test_the_memory_store_applies_events_as_the_lua_does(redis_url: str, run: Run) -> None:
    lua, twin = Driver(RedisStore(redis_url), run), Driver(MemoryStore(), run)
    rng = random.Random(20261118)
    kinds = ("pageview", "pageview", "pageview", "cart", "purchase", "member", "coupon",
             "cart_reset", "identify", "report", "report", "track", "merge", "exposure")
    ids: dict[str, list[str]] = {visitor: [] for visitor in VISITORS}
    seen: set[Applied] = set()
    try:
        for step in range(400):
            seconds = rng.choices(STEPS, STEP_WEIGHTS)[0]
            lua.advance(seconds)
            twin.advance(seconds)
            kind, visitor = rng.choice(kinds), rng.choice(VISITORS)
            if kind == "merge":
                full = lua.profile(rng.choice(VISITORS))
                payload = {"anon": {k: v for k, v in full.items() if k not in ("days", "caps")},
                           "days": flat_days(full["days"]), "caps": dict(full["caps"])}
            else:
                payload = random_payload(rng, kind)
            recent = ids[visitor][-3:]
            event_id = rng.choice(recent) if recent and rng.random() < 0.15 else f"e{step}"
            ids[visitor].append(event_id)
            digest = rng.choice(("d", "d", "other"))
            windows = rng.random() < 0.7
            results: list[Result] = [
                driver.event(kind, payload, visitor=visitor, event_id=event_id, digest=digest,
                             windows=windows) for driver in (lua, twin)]
            where = f"step {step}: {kind} {payload} on {visitor}"
            assert results[1].status is results[0].status, where
            assert comparable(results[1].profile) == comparable(results[0].profile), where
            assert comparable(twin.profile(visitor)) == comparable(lua.profile(visitor)), where
            if windows:
                assert results[0].profile["windows"] == summed_afresh(
                    lua.profile(visitor)["days"], lua.now), where
            seen.add(results[0].status)
    finally:
        run(lua.store.close())
    assert seen == set(Applied)
