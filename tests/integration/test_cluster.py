"""What a Redis Cluster does to a running engine, each on a cluster of its own:
a master killed under load (its replica is promoted; the engine answers
``unavailable`` meanwhile and recovers by itself, losing nothing it
acknowledged beyond Redis's own replication window), the shard of the
channels between nodes failing over, a slot migrated under load (retries, no
errors), and slots left without a master (degraded)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from engine.profile.layout import PROFILE, visitor_key
from engine.profile.localtime import local_time
from engine.runtime.config import Config
from engine.runtime.local_cluster import LocalCluster
from engine.store.base import PUSH_CHANNEL, StoredEvent, StoreUnavailable
from engine.store.cluster import ClusterPipe
from engine.store.redis import RedisStore
from tests.conftest import Engine, run_engine, site_config
from tests.engine.client import Visitor
from tests.engine.store.stores import SEOUL, T0, pageview

TOKEN = "cluster-admin-token"
SHOP = "https://shop.example.com"
RULES = """site: demo-shop
rules:
  - id: counting
    if: pageviews_total >= 100000
    do: { widget: push_note, title: "세는 중" }
"""


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(tmp_path / "cluster").start()
    yield cluster
    cluster.stop()


@pytest.fixture
def shop(own_cluster: LocalCluster, tmp_path: Path) -> Iterator[Engine]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    config = Config(sites={"demo-shop": site_config(
        rules, admin_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())})
    with run_engine(config, own_cluster.url) as engine:
        yield engine


def pageviews(shop: Engine, visitor: str) -> int:
    reply = httpx.post(f"{shop.url}/v1/sites/demo-shop/rules/explain",
                       json={"visitor": visitor}, timeout=10,
                       headers={"Authorization": f"Bearer {TOKEN}"}).json()
    (predicate,) = reply["rules"][0]["predicates"]
    return int(predicate["actual"])


def health(shop: Engine) -> str:
    return str(httpx.get(f"{shop.url}/healthz", timeout=10).json()["status"])


class Walker(threading.Thread):
    """A visitor viewing page after page, as fast as acks come, resending an
    event the engine could not store (the widget keeps it) until it is acked."""

    def __init__(self, shop: Engine, visitor: str) -> None:
        super().__init__(daemon=True)
        self.v = Visitor(shop, visitor)
        self.acked: list[float] = []  # when each event was acknowledged
        self.refused: list[float] = []  # when the engine said "unavailable"
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            reply = self.v.page(f"{SHOP}/p{n}", event_id=f"walk-{n}")
            if reply["t"] == "ack":
                self.acked.append(time.monotonic())
                n += 1
            else:
                assert reply.get("code") == "unavailable", reply
                self.refused.append(time.monotonic())
                time.sleep(0.05)


def test_a_killed_master_is_replaced_and_nothing_acknowledged_is_lost(
        own_cluster: LocalCluster, shop: Engine) -> None:
    walker = Walker(shop, "walker-0001")
    master = own_cluster.master_of(visitor_key("demo-shop", "walker-0001", PROFILE))
    walker.start()
    time.sleep(1.0)
    killed_at = time.monotonic()
    own_cluster.kill(master)
    seen = set()
    while time.monotonic() - killed_at < 30:
        seen.add(health(shop))
        if walker.refused and walker.acked[-1] > walker.refused[-1] + 0.5:
            break
        time.sleep(0.1)
    walker.stop.set()
    walker.join(timeout=10)
    assert walker.refused, "the engine answered every event while the master was down"
    resumed = min(at for at in walker.acked if at > walker.refused[-1])
    outage = resumed - killed_at
    assert outage < 20
    assert "degraded" in seen
    assert own_cluster.master_of(visitor_key("demo-shop", "walker-0001", PROFILE)) != master
    # What Redis acknowledged in the last moment before the kill may not have
    # reached the replica (asynchronous replication): that much may be lost.
    unreplicated = sum(1 for at in walker.acked if killed_at - 0.05 <= at <= killed_at)
    stored = pageviews(shop, "walker-0001")
    print(f"\nfailover: no service for {outage:.2f} s ({len(walker.refused)} refusals); "
          f"{stored} of {len(walker.acked)} acknowledged events stored")
    assert len(walker.acked) - unreplicated <= stored <= len(walker.acked)
    deadline = time.monotonic() + 10
    while health(shop) != "ok" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert health(shop) == "ok"


def test_a_slot_migrated_under_load_costs_retries_not_errors(
        own_cluster: LocalCluster) -> None:
    visitor = "moving-0001"
    key = visitor_key("s", visitor, PROFILE)
    source = own_cluster.master_of(key)
    target = next(port for port in own_cluster.masters_now() if port != source)

    async def load(store: RedisStore, done: asyncio.Event) -> int:
        n = 0
        while not done.is_set() or n < 50:
            event = StoredEvent.at(f"m{n}", "pageview", "d", T0 + n, local_time(T0 + n, SEOUL),
                                   pageview(f"/m{n}"))
            await store.apply("s", visitor, event)
            n += 1
        return n

    async def main() -> tuple[int, int, int]:
        store = RedisStore(own_cluster.url)
        done = asyncio.Event()
        try:
            task = asyncio.create_task(load(store, done))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(migrate, own_cluster, key, source, target)
            await asyncio.sleep(0.3)
            done.set()
            sent = await task
            profile = await store.profile("s", visitor)
            assert isinstance(store.pipe, ClusterPipe)
            return sent, int(profile["pageviews_total"]), store.pipe.redirects
        finally:
            await store.close()

    sent, stored, redirects = asyncio.run(main())
    assert own_cluster.master_of(key) == target
    assert redirects > 0  # the calls met the move, and followed it
    assert stored == sent


def migrate(cluster: LocalCluster, key: str, source: int, target: int) -> None:
    """Move ``key``'s slot from one master to another, the way ``redis-cli
    --cluster reshard`` does: IMPORTING/MIGRATING, MIGRATE the keys, then
    tell every master the slot's new owner."""
    with redis.Redis(port=source) as src, redis.Redis(port=target) as dst:
        slot = int(src.execute_command("CLUSTER", "KEYSLOT", key))
        source_id = src.execute_command("CLUSTER", "MYID").decode()
        target_id = dst.execute_command("CLUSTER", "MYID").decode()
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        time.sleep(0.2)  # calls land on both sides of the move meanwhile
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
        for port in cluster.masters_now():
            cluster.cli(port, "CLUSTER", "SETSLOT", slot, "NODE", target_id)


def test_slots_without_a_master_mark_the_engine_degraded(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "bare", replicas=0).start()
    try:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES, encoding="utf-8")
        config = Config(sites={"demo-shop": site_config(rules)})
        with run_engine(config, cluster.url) as shop:
            assert health(shop) == "ok"
            lost = cluster.masters_now()[0]
            cluster.kill(lost)  # no replica to take its slots over
            deadline = time.monotonic() + 10
            while health(shop) != "degraded" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert health(shop) == "degraded"
            cluster.spawn(lost)  # back, with its slots (nodes.conf)
            cluster.wait_ok()
            deadline = time.monotonic() + 10
            while health(shop) != "ok" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert health(shop) == "ok"
    finally:
        cluster.stop()



def test_messages_between_nodes_resume_after_their_shard_fails_over(
        own_cluster: LocalCluster) -> None:
    heard: list[str] = []

    async def on_message(channel: str, message: str) -> None:
        heard.append(message)

    async def on_subscribed() -> None:
        pass

    async def main() -> None:
        sender, follower = RedisStore(own_cluster.url), RedisStore(own_cluster.url)
        stop = asyncio.Event()
        task = asyncio.create_task(follower.broker.follow(on_message, on_subscribed, stop))
        try:
            await until_heard(sender, heard, "before")
            await asyncio.to_thread(own_cluster.kill, own_cluster.master_of(PUSH_CHANNEL))
            await until_heard(sender, heard, "after", timeout=30)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=5)
            await sender.close()
            await follower.close()

    asyncio.run(main())
    assert heard[0] == "before" and heard[-1] == "after"


async def until_heard(sender: RedisStore, heard: list[str], message: str,
                      timeout: float = 5.0) -> None:
    """Publish ``message`` again and again until the follower has heard it:
    while the channel's shard fails over, publishing fails or goes unheard."""
    deadline = time.monotonic() + timeout
    while message not in heard:
        assert time.monotonic() < deadline, f"{message!r} never heard"
        with contextlib.suppress(StoreUnavailable):
            await sender.broker.publish(PUSH_CHANNEL, message)
        await asyncio.sleep(0.2)
