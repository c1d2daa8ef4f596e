"""The embedded Redis's memory (engine/runtime/embedded.py): it runs with a
maxmemory (a quarter of the machine unless the config says otherwise) and
``volatile-lru``, so that a full Redis forgets the least recently used
visitors instead of refusing every event, and never forgets rule versions;
``ondo serve`` passes the config's ``redis_maxmemory_mb`` through."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from engine.profile.localtime import local_time
from engine.runtime.embedded import EmbeddedRedis, default_maxmemory, machine_memory
from engine.store.base import Applied, StoredEvent
from engine.store.redis import RedisStore
from tests.engine.served import Served
from tests.engine.store.stores import SEOUL, T0, pageview

MIB = 1 << 20


@pytest.fixture
def small_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path, persist=False, maxmemory=16 * MIB).start()
    yield server
    server.stop()


def test_by_default_the_embedded_redis_takes_a_quarter_of_the_machine(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path, persist=False).start()
    try:
        config = redis.Redis(port=server.port).config_get("maxmemory*")
    finally:
        server.stop()
    assert 0 < int(config["maxmemory"]) == default_maxmemory() == machine_memory() // 4
    assert config["maxmemory-policy"] == "volatile-lru"


def test_a_full_redis_forgets_old_visitors_and_keeps_every_rule_version(
        small_redis: EmbeddedRedis) -> None:
    async def fill() -> tuple[list[Applied], str | None, str | None]:
        store = RedisStore(small_redis.url)
        try:
            await store.versions.save("s", "v1", "rules: []", "first", 0, T0)
            await store.versions.activate("s", "v1")
            applied = []
            # 12,000 visitors of ~3 KiB each: twice what 16 MiB hold.
            for n in range(12_000):
                path = f"/p/{n}/" + "x" * 2_000
                event = StoredEvent.at(f"e{n}", "pageview", "d", T0 + n, local_time(T0, SEOUL),
                                       pageview(path))
                applied.append((await store.apply("s", f"visitor-{n:05d}", event)).status)
            return applied, await store.versions.active("s"), \
                await store.versions.source("s", "v1")
        finally:
            await store.close()

    applied, active, source = asyncio.run(fill())
    client = redis.Redis(port=small_redis.port)
    assert applied == [Applied.NEW] * 12_000  # never refused for want of memory
    assert int(client.info("stats")["evicted_keys"]) > 0
    assert int(client.info("memory")["used_memory"]) <= 18 * MIB
    assert (active, source) == ("v1", "rules: []")  # no time to live: never evicted
    assert client.exists("ondo:{s:visitor-11999}:p")  # the latest visitors are kept


def test_ondo_serve_gives_its_redis_the_configured_maxmemory(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[3] / "engine" / "sites" / "demo.toml"
    config = tmp_path / "shop.toml"
    config.write_text(demo.read_text(encoding="utf-8").replace(
        "[server]\n", "[server]\nredis_maxmemory_mb = 48\n").replace(
        'rules = "../../', f'rules = "{demo.parent}/../../'), encoding="utf-8")
    served = Served(tmp_path, "--config", str(config)).wait_ready()
    try:
        found = redis.Redis.from_url(served.redis_url).config_get("maxmemory*")
    finally:
        served.stop()
    assert (found["maxmemory"], found["maxmemory-policy"]) == (str(48 * MIB), "volatile-lru")
    assert "maxmemory 48 MiB, volatile-lru" in served.output()
