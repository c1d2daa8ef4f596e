"""One event's way through the engine, seen from the stored profile: visits
follow the site's own session timeout, and each visit keeps where it came from."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.config import Config
from engine.redis_store import RedisStore
from tests.conftest import run_engine, site_config
from tests.engine.client import Visitor

SHOP = "https://shop.example.com"
GOOGLE_AD = f"{SHOP}/?gclid=Cj0KCQiA"
NAVER_AD = f"{SHOP}/?n_media=27758&n_query=%EA%B0%80%EB%B0%A9"


def stored(redis_url: str, visitor: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        store = RedisStore(redis_url)
        try:
            return await store.profile("demo-shop", visitor)
        finally:
            await store.close()

    return asyncio.run(go())


def test_visits_follow_the_sites_session_timeout_and_keep_their_source(redis_url: str) -> None:
    config = Config(sites={"demo-shop": site_config(session_timeout=10 * 60.0)})
    with run_engine(config, redis_url) as engine:
        v = Visitor(engine, "returner-0001")
        v.page(GOOGLE_AD, referrer="https://www.google.com/")
        engine.clock.advance(9 * 60)
        v.page(NAVER_AD, referrer="https://search.naver.com/")  # same visit: an inner page
        profile = stored(redis_url, "returner-0001")
        assert (profile["visit_count"], profile["traffic_source"]) == (1, "google_ads")
        assert profile["landing_url"] == GOOGLE_AD
        engine.clock.advance(11 * 60)  # past this site's 10 minutes
        v.page(NAVER_AD, referrer="https://search.naver.com/")
        profile = stored(redis_url, "returner-0001")
        assert (profile["visit_count"], profile["traffic_source"]) == (2, "naver_ads")
        assert profile["landing_url"] == NAVER_AD
        assert profile["device"] == "mobile"
        v.close()


def test_a_new_connection_after_the_timeout_starts_a_visit_with_its_source(
        redis_url: str) -> None:
    config = Config(sites={"demo-shop": site_config()})
    with run_engine(config, redis_url) as engine:
        first = Visitor(engine, "returner-0002")
        first.page(f"{SHOP}/")
        first.close()
        engine.clock.advance(31 * 60)
        second = Visitor(engine, "returner-0002")
        second.page(GOOGLE_AD, referrer="https://www.google.com/")
        profile = stored(redis_url, "returner-0002")
        assert (profile["visit_count"], profile["traffic_source"]) == (2, "google_ads")
        second.close()
