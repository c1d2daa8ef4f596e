"""Rule versions across nodes: a node that missed an announcement (its
subscription was down when the version went live) catches up by itself."""

from __future__ import annotations

import asyncio
import time

import redis

from engine.store.base import source_version
from engine.store.redis import RedisStore
from tests.conftest import SEED_RULES, Engine
from tests.engine.client import Visitor

NEW_RULES = SEED_RULES.read_text(encoding="utf-8").replace("회원가입 혜택", "놓친 공지")


def activate_without_announcing(redis_url: str, source: str) -> str:
    """What another node's upload leaves in Redis, minus the announcement."""
    version = source_version(source)

    async def run() -> None:
        store = RedisStore(redis_url)
        await store.versions.save("demo-shop", version, source, "missed", 5, time.time())
        await store.client.set("ondo:{rules:demo-shop}:active", version)
        await store.close()

    asyncio.run(run())
    return version


def test_a_missed_announcement_is_caught_up_after_resubscribing(engine: Engine,
                                                                redis_url: str) -> None:
    activate_without_announcing(redis_url, NEW_RULES)
    with redis.Redis.from_url(redis_url) as client:
        client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    deadline = time.monotonic() + 5
    n = 0
    while True:
        v = Visitor(engine, f"catch-up-{n:04}")
        for page in range(5):
            v.page(f"https://shop.example.com/p{page}")
        v.close()
        if v.actions and v.actions[0]["content"]["title"] == "놓친 공지":
            break
        assert time.monotonic() < deadline, "the node still serves the old version"
        n += 1
        time.sleep(0.2)
