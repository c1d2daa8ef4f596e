"""The event path's routing on a Redis Cluster (engine/store/cluster.py): the
URL a shop writes, and calls reaching the master that owns their key even when
the engine's slot map is out of date."""

from __future__ import annotations

import asyncio

import pytest

from engine.profile.layout import PROFILE, visitor_key
from engine.profile.localtime import local_time
from engine.runtime.local_cluster import LocalCluster
from engine.store.base import Applied, StoredEvent
from engine.store.cluster import ClusterPipe, ClusterURL, ClusterURLError, is_cluster_url
from engine.store.redis import RedisStore
from tests.engine.store.stores import SEOUL, T0, pageview


def test_a_cluster_url_lists_its_seeds_and_credentials() -> None:
    url = ClusterURL.parse("rediss+cluster://ondo:p%40ss@10.0.0.1:7000,10.0.0.2:7001")
    assert url.seeds == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert (url.username, url.password, url.tls) == ("ondo", "p@ss", True)
    assert url.node_url(("10.0.0.2", 7001)) == "rediss://ondo:p%40ss@10.0.0.2:7001"


def test_a_cluster_url_may_carry_the_password_alone() -> None:
    url = ClusterURL.parse("redis+cluster://:secret@127.0.0.1:7000")
    assert (url.username, url.password, url.tls) == (None, "secret", False)
    assert url.node_url(url.seeds[0]) == "redis://:secret@127.0.0.1:7000"


@pytest.mark.parametrize(("url", "says"), [
    ("redis://127.0.0.1:6379", "not a Redis Cluster URL"),
    ("redis+cluster://", "no host:port"),
    ("redis+cluster://127.0.0.1", "is not host:port"),
    ("redis+cluster://127.0.0.1:7000,:7001", "is not host:port"),
])
def test_a_bad_cluster_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ClusterURLError, match=says):
        ClusterURL.parse(url)


def test_only_cluster_schemes_are_cluster_urls() -> None:
    assert is_cluster_url("redis+cluster://a:1")
    assert not is_cluster_url("redis://a:1")


def test_a_call_on_a_stale_slot_map_follows_moved_to_the_owner(
        redis_cluster: LocalCluster, cluster_url: str) -> None:
    key = "ondo:{shop:visitor-1}:p"
    owner = redis_cluster.master_of(key)
    other = next(port for port in redis_cluster.masters_now() if port != owner)

    async def main() -> tuple[bytes, int]:
        pipe = ClusterPipe(ClusterURL.parse(cluster_url))
        try:
            await pipe.call("SET", key, "v", key=key)
            pipe._slots = [("127.0.0.1", other)] * len(pipe._slots)  # every slot: wrong
            reply = await pipe.call("GET", key, key=key)
            return reply, pipe.redirects
        finally:
            await pipe.close()

    reply, redirects = asyncio.run(main())
    assert (reply, redirects) == (b"v", 1)


def test_every_master_answers_and_every_slot_is_covered(
        redis_cluster: LocalCluster, cluster_url: str) -> None:
    async def main() -> tuple[bool, list[object], int]:
        pipe = ClusterPipe(ClusterURL.parse(cluster_url))
        try:
            return await pipe.healthy(), await pipe.each_master("PING"), len(pipe.masters())
        finally:
            await pipe.close()

    healthy, pongs, masters = asyncio.run(main())
    assert healthy and masters == 3 and pongs == [b"PONG"] * 3


def test_a_master_that_lost_its_scripts_loads_them_again_by_itself(
        redis_cluster: LocalCluster, cluster_url: str) -> None:
    owner = redis_cluster.master_of(visitor_key("s", "forgetful", PROFILE))

    async def main() -> list[Applied]:
        store = RedisStore(cluster_url)
        try:
            statuses = []
            for n in range(2):
                if n:  # a restarted master, a promoted replica: an empty script cache
                    redis_cluster.cli(owner, "SCRIPT", "FLUSH")
                event = StoredEvent.at(f"f{n}", "pageview", "d", T0 + n,
                                       local_time(T0 + n, SEOUL), pageview())
                statuses.append((await store.apply("s", "forgetful", event)).status)
            return statuses
        finally:
            await store.close()

    assert asyncio.run(main()) == [Applied.NEW, Applied.NEW]
