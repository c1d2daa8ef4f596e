"""The Lua store against a real Redis: visits, sessions, day buckets, caps."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from engine.profile.localtime import day_key, local_time
from engine.store.base import Applied, Result, StoredEvent
from engine.store.redis import RedisStore

SEOUL = ZoneInfo("Asia/Seoul")
T0 = 1_795_000_000.0
MIN, DAY = 60.0, 86_400.0


class Driver:
    """Drives one visitor through the store on a simulated clock."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.store = RedisStore(url)
        self.now = T0
        self.n = 0

    def event(self, kind: str, payload: dict[str, Any] | None = None, *,
              event_id: str | None = None, digest: str = "d") -> Result:
        self.n += 1
        event = StoredEvent.at(event_id or f"e{self.n}", kind, digest, self.now,
                               local_time(self.now, SEOUL), payload or {},
                               session_timeout=30 * MIN)
        return self.loop.run_until_complete(self.store.apply("s", "visitor-1", event))

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())
        self.loop.close()


@pytest.fixture
def driver(redis_url: str) -> Iterator[Driver]:
    d = Driver(redis_url)
    yield d
    d.close()


def pageview(path: str = "/", **extra: Any) -> dict[str, Any]:
    return {"page_url": "https://s.kr" + path, "page_path": path, "page_type": "home",
            "traffic_source": "direct", "device": "desktop", "landing_url": "https://s.kr" + path,
            "is_ad": False, **extra}


def test_visits_roll_after_thirty_minutes_of_silence(driver: Driver) -> None:
    p = driver.event("pageview", pageview()).profile
    assert (p["visit_count"], p["session_pageviews"]) == (1, 1)
    driver.now += 29 * MIN
    p = driver.event("pageview", pageview()).profile
    assert (p["visit_count"], p["session_pageviews"]) == (1, 2)
    driver.now += 31 * MIN
    p = driver.event("pageview", pageview()).profile
    assert (p["visit_count"], p["session_pageviews"], p["pageviews_total"]) == (2, 1, 3)
    assert p["prev_visit_last_seen"] == T0 + 29 * MIN


def test_session_facts_are_set_when_a_visit_starts(driver: Driver) -> None:
    driver.event("pageview", pageview(traffic_source="naver_ads", is_ad=True))
    driver.now += 5 * MIN
    p = driver.event("pageview", pageview(traffic_source="organic")).profile
    assert (p["traffic_source"], p["ad_visit_count"]) == ("naver_ads", 1)


def test_day_buckets_count_visits_views_and_purchases_and_expire(driver: Driver) -> None:
    driver.event("pageview", pageview())
    driver.event("purchase", {"amount": 30_000})
    p = driver.event("pageview", pageview()).profile
    assert (p["windows"]["visits_7d"], p["windows"]["pageviews_7d"],
            p["windows"]["purchase_total_30d"]) == (1, 2, 30_000)
    assert (p["purchase_count"], p["purchase_total"]) == (1, 30_000)
    today = day_key(T0, SEOUL)
    stored = driver.loop.run_until_complete(driver.store.profile("s", "visitor-1"))
    assert stored["days"][today] == {"v": 1, "pv": 2, "pc": 1, "pt": 30_000}
    driver.now += 8 * DAY
    p = driver.event("pageview", pageview()).profile
    assert (p["windows"]["visits_7d"], p["windows"]["visits_30d"]) == (1, 2)
    driver.now += 91 * DAY
    driver.event("pageview", pageview())
    stored = driver.loop.run_until_complete(driver.store.profile("s", "visitor-1"))
    assert today not in stored["days"]


def test_the_same_id_is_applied_once(driver: Driver) -> None:
    assert driver.event("purchase", {"amount": 10}, event_id="o1").status is Applied.NEW
    again = driver.event("purchase", {"amount": 10}, event_id="o1")
    assert again.status is Applied.DUPLICATE
    assert again.profile["purchase_total"] == 10
    other = driver.event("purchase", {"amount": 99}, event_id="o1", digest="other")
    assert other.status is Applied.CONFLICT


def test_cart_is_replaced_whole(driver: Driver) -> None:
    driver.event("cart", {"items": [{"product_id": "A", "qty": 1, "price": 1000}]})
    p = driver.event("cart", {"items": [{"product_id": "B", "qty": 2, "price": 500}]}).profile
    assert p["cart"] == [{"product_id": "B", "qty": 2, "price": 500}]


def test_reports_update_caps_and_fatigue(driver: Driver) -> None:
    driver.event("pageview", pageview())
    driver.event("report", {"rule": "r", "what": "shown", "stop": False})
    p = driver.event("report", {"rule": "r", "what": "shown", "stop": False}).profile
    cap = p["caps"]["r"]
    assert (cap["n"], cap["s"], cap["sn"], cap["dn"]) == (2, 1, 2, 2)
    assert p["fatigue"]["sn"] == 2
    p = driver.event("report", {"rule": "r", "what": "clicked", "stop": True}).profile
    assert p["caps"]["r"]["stop"] is True


def test_caps_of_many_rules_come_back_whole(driver: Driver) -> None:
    driver.event("pageview", pageview())
    for n in range(30):
        result = driver.event("report", {"rule": f"rule-{n}", "what": "shown", "stop": False})
    caps = result.profile["caps"]
    assert len(caps) == 30 and sorted(caps) == sorted(f"rule-{n}" for n in range(30))
    assert caps.get("rule-7")["n"] == 1 and caps.get("never-shown") is None
    assert {rule: cap["n"] for rule, cap in dict(caps).items()} == {
        f"rule-{n}": 1 for n in range(30)}


def test_keys_share_the_visitors_hash_tag(driver: Driver, redis_url: str) -> None:
    driver.event("pageview", pageview())
    keys = sorted(k.decode() for k in redis.Redis.from_url(redis_url).keys("ondo:*"))
    assert keys == ["ondo:{s:visitor-1}:d", "ondo:{s:visitor-1}:e", "ondo:{s:visitor-1}:p"]
