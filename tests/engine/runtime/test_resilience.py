"""Redis stops mid-session: the engine stays up, stops acknowledging, reports
itself degraded, and recovers by itself when Redis returns."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.runtime.config import Config
from engine.runtime.embedded import EmbeddedRedis
from tests.conftest import run_engine, site_config
from tests.engine.client import Visitor


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    yield server
    server.stop()


def test_redis_stopped_and_restarted_mid_session(own_redis: EmbeddedRedis) -> None:
    config = Config(sites={"demo-shop": site_config()})
    with run_engine(config, own_redis.url) as engine:
        v = Visitor(engine, "survivor-001")
        assert v.page("https://shop.example.com/")["t"] == "ack"
        own_redis.stop()
        reply = v.page("https://shop.example.com/a", event_id="kept-1")
        assert (reply["t"], reply["code"]) == ("error", "unavailable")
        assert httpx.get(f"{engine.url}/healthz").json()["status"] == "degraded"
        own_redis.start()
        deadline = time.monotonic() + 2.0
        while True:  # the widget resends the event it kept
            reply = v.page("https://shop.example.com/a", event_id="kept-1")
            if reply["t"] == "ack" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert reply["t"] == "ack"
        assert httpx.get(f"{engine.url}/healthz").json()["status"] == "ok"
        for n in range(3):
            v.page(f"https://shop.example.com/b{n}")
        # Two page views before the outage survived (AOF), so this is the fifth.
        assert [a["rule"] for a in v.actions] == ["first-visit-signup-nudge"]
