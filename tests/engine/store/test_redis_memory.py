"""How full the storage is (``Store.memory``, for /healthz): Redis's used
memory, its maxmemory and policy; on a Redis Cluster, its fullest master's,
as that one refuses or evicts first; the memory store has no limit."""

from __future__ import annotations

import pytest
import redis

from engine.runtime.embedded import default_maxmemory
from engine.runtime.local_cluster import LocalCluster
from engine.store.memory import MemoryStore
from engine.store.redis import RedisStore
from tests.engine.store.stores import Run

MIB = 1 << 20


def test_redis_says_how_full_it_is_against_its_maxmemory(redis_url: str, run: Run) -> None:
    store = RedisStore(redis_url)
    try:
        before = run(store.memory())
        redis.Redis.from_url(redis_url).set("ondo:{s}:big", b"x" * (4 * MIB))
        after = run(store.memory())
    finally:
        run(store.close())
    assert (before.maxmemory, before.policy) == (default_maxmemory(), "volatile-lru")
    assert after.used - before.used >= 4 * MIB
    assert after.share == pytest.approx(after.used / default_maxmemory())


def test_a_cluster_answers_for_its_fullest_master(cluster_url: str, redis_cluster: LocalCluster,
                                                  run: Run) -> None:
    full = redis_cluster.master_of("ondo:{s}:big")
    redis.Redis(port=full).set("ondo:{s}:big", b"x" * (8 * MIB))
    used = {port: int(redis_cluster.fields(port, "INFO", "memory")["used_memory"])
            for port in redis_cluster.masters_now()}
    store = RedisStore(cluster_url)
    try:
        memory = run(store.memory())
    finally:
        run(store.close())
    assert max(used, key=lambda port: used[port]) == full
    assert memory.used >= 8 * MIB > max(n for port, n in used.items() if port != full)
    assert (memory.maxmemory, memory.share) == (0, None)  # the test cluster has no limit


def test_the_memory_store_has_no_limit_to_come_near(run: Run) -> None:
    assert run(MemoryStore().memory()) is None
