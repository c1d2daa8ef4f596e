"""The Redis implementation of the store: profiles, counters, rule versions and
the messages between nodes.

Each event is one EVALSHA of engine/store/lua/event.lua, sent on the pipelined
connection of engine/store/resp.py: the calls of concurrent events share round
trips (auto-pipelining, as ioredis does) and cost the client one C pack and
one C parse each. redis-py serves the rest (profiles for merges and explain,
versions, pub/sub).

On a Redis Cluster (a ``redis+cluster://`` URL) the event path's calls go
through engine/store/cluster.py, which routes each to the master owning its
slot, and redis-py's cluster client serves the rest; the messages between
nodes use sharded pub/sub (SPUBLISH/SSUBSCRIBE, see ``RedisBroker``).

Keys (docs/storage.md): a visitor's under ``ondo:{SITE:VISITOR}:`` (engine/profile/
layout.py), a site's counters ``ondo:{SITE}:stats:YYYYMMDD``, its rule versions
under ``ondo:{rules:SITE}:`` (``v:VERSION`` hash: source, note, created_at, rules;
``versions`` list, newest first; ``active``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import msgpack
import redis.asyncio as redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.profile.layout import (
    CAPS,
    DAYS,
    EVENT_IDS,
    LIVE_WINDOW,
    PROFILE,
    day_buckets,
    live_key,
    live_shard,
    visitor_key,
    window_sums,
)
from engine.store.base import (
    CHANNELS,
    COUNTER_LIMIT,
    RESYNC,
    RULES_CHANNEL,
    STATS_TTL,
    Applied,
    LiveUpdate,
    Memory,
    OnMessage,
    OnSubscribed,
    Result,
    StoredEvent,
    StoreUnavailable,
    Version,
    handled,
)
from engine.store.cluster import ClusterPipe, ClusterURL, is_cluster_url
from engine.store.redis_catalog import RedisCatalog
from engine.store.redis_recording import RedisRecordings
from engine.store.redis_sessions import RedisSessions
from engine.store.resp import NoScriptError, Pipe, ReplyError

LUA = Path(__file__).with_name("lua")
_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
log = logging.getLogger("ondo.store")
# The figures of live.lua's reply, in its order.
LIVE_FIGURES = ("site_visitors_now", "product_viewers_now", "product_purchases_24h",
                "product_cart_adds_24h")
_APPLIED = {status.value.encode(): status for status in Applied}  # the script's status reply
# Error replies that mean "not now" rather than "wrong call".
_NOT_NOW = ("LOADING", "MASTERDOWN", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK",
            "OOM", "READONLY", "NOSCRIPT")


class StoreModeError(Exception):
    """The URL's kind of Redis (one server, or a cluster) is not the kind found."""


async def check_mode(url: str) -> None:
    """Refuse a ``redis+cluster://`` URL naming a Redis that is not a cluster
    node, and a plain URL naming a cluster node (whose keys would half be
    answered by MOVED). Raises StoreModeError; an unreachable Redis passes,
    as the engine starts degraded and waits for it."""
    cluster = ClusterURL.parse(url) if is_cluster_url(url) else None
    targets = [cluster.node_url(seed) for seed in cluster.seeds] if cluster else [url]
    for target in targets:
        pipe = Pipe(target, connect_timeout=1.0, timeout=2.0)
        try:
            info = _text(await pipe.call("INFO", "cluster"))
        except (ConnectionError, ReplyError):
            continue
        finally:
            await pipe.close()
        enabled = "cluster_enabled:1" in info
        where = f"{pipe.host}:{pipe.port}"
        if cluster and not enabled:
            raise StoreModeError(
                f"{where} is a single Redis, not a Redis Cluster node (cluster_enabled:0): "
                f"give it as redis://{where}")
        if not cluster and enabled:
            raise StoreModeError(
                f"{where} is a Redis Cluster node: give the cluster as "
                f"redis+cluster://{where}[,host:port…] so that each key reaches the master "
                "owning it")
        return


class Script:
    """A Lua file loaded once (SCRIPT LOAD) and called by its SHA."""

    def __init__(self, name: str) -> None:
        self.source = (LUA / name).read_text(encoding="utf-8")
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()


class RedisStore:
    def __init__(self, url: str, *, profile_ttl: float = 400 * 86_400.0,
                 dedupe_ttl: float = 86_400.0, live_cache: float = 1.0) -> None:
        self.url = url
        self.cluster = ClusterURL.parse(url) if is_cluster_url(url) else None
        self.client = self.new_client(socket_timeout=2.0)
        self.pipe: Pipe | ClusterPipe = (
            ClusterPipe(self.cluster, connect_timeout=1.0, timeout=2.0) if self.cluster
            else Pipe(url, connect_timeout=1.0, timeout=2.0))
        self.event_script = Script("event.lua")
        self.count_script = Script("count.lua")
        self.live_script = Script("live.lua")
        self.together_script = Script("together.lua")
        self.recommend_script = Script("recommend.lua")
        self.attempt_script = Script("attempt.lua")
        self.feed_swap_script = Script("feed_swap.lua")
        self.record_script = Script("record.lua")
        self.scripts = (self.event_script, self.count_script, self.live_script,
                        self.together_script, self.recommend_script, self.attempt_script,
                        self.feed_swap_script, self.record_script)
        if isinstance(self.pipe, ClusterPipe):  # it loads them where NOSCRIPT says
            self.pipe.scripts = {script.sha: script.source for script in self.scripts}
        self._loads: dict[str, asyncio.Future[Any]] = {}  # script SHA -> its SCRIPT LOAD
        # A spread site's other shards' figures: (site, shard, product) -> when
        # read, and the read.
        self.live_cache = live_cache
        self._live_reads: dict[tuple[str, int, str], tuple[float, asyncio.Future[dict[str, int]]]] \
            = {}
        self.profile_ttl = int(profile_ttl)
        self.dedupe_ttl = int(dedupe_ttl)
        self.errors = 0
        self.versions = RedisVersions(self)
        self.broker = RedisBroker(self, url)
        self.sessions = RedisSessions(self)
        self.catalog = RedisCatalog(self)
        self.recordings = RedisRecordings(self)

    @contextlib.asynccontextmanager
    async def reaching(self) -> AsyncIterator[None]:
        """Around a redis-py call: an outage becomes StoreUnavailable, counted."""
        try:
            yield
        except (*_DOWN, RedisError, RedisClusterException) as exc:
            self.errors += 1
            raise StoreUnavailable(str(exc)) from exc

    async def _evalsha(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        key = keys[0]  # every key of a call shares its hash tag: one slot
        try:
            try:
                return await self.pipe.call(*command, key=key)
            except NoScriptError:
                # Redis restarted and lost its script cache. The events in
                # flight all meet NOSCRIPT at once: one SCRIPT LOAD serves them
                # all, then each calls again. (A cluster's pipe loads scripts
                # on the node that says NOSCRIPT itself.)
                await self._load(script, key)
                return await self.pipe.call(*command, key=key)
        except _DOWN as exc:
            self.errors += 1
            raise StoreUnavailable(str(exc)) from exc
        except ReplyError as exc:
            if str(exc).startswith(_NOT_NOW):
                self.errors += 1
                raise StoreUnavailable(str(exc)) from exc
            raise

    async def _load(self, script: Script, key: str) -> None:
        loading = self._loads.get(script.sha)
        if loading is None or loading.done():
            loading = self._loads[script.sha] = asyncio.ensure_future(
                self.pipe.call("SCRIPT", "LOAD", script.source, key=key))
        await asyncio.shield(loading)

    async def apply(self, site: str, visitor: str, event: StoredEvent) -> Result:
        reply = await self._evalsha(
            self.event_script,
            tuple(visitor_key(site, visitor, suffix) for suffix in (PROFILE, EVENT_IDS, DAYS,
                                                                     CAPS)),
            (event.id, event.digest, event.kind, repr(event.now), event.session_timeout,
             event.day, event.oldest_day, msgpack.packb(dict(event.payload)),
             self.profile_ttl, self.dedupe_ttl, event.window_starts[0],
             event.window_starts[1], "1" if event.windows else "0"))
        status, blob, sums, caps = reply
        profile = decode_profile(blob, caps=caps)
        if sums:
            profile["windows"] = window_sums(sums)
        return Result(_APPLIED[status], profile)

    async def count(self, site: str, day: str, counts: MutableMapping[str, int],
                    ttl: float = STATS_TTL) -> dict[str, int]:
        """One call of count.lua per 500 fields: a flush of thousands of rule
        counters must not hold the event loop, or Redis, for milliseconds.
        Each call adds all of its fields or none; a chunk with a refused field
        is sent again without it."""
        key = f"ondo:{{{site}}}:stats:{day}"
        refused: dict[str, int] = {}
        while counts:
            chunk = list(itertools.islice(counts.items(), 500))
            args: list[str | int] = [int(ttl), COUNTER_LIMIT]
            for field, n in chunk:
                args += (field, n)
            answer = await self._evalsha(self.count_script, (key,), args)
            names = {_text(name) for name in answer or ()}
            for field, n in chunk:
                if field in names:
                    refused[field] = n
                    del counts[field]
                elif not names:  # written
                    del counts[field]
            await asyncio.sleep(0)  # let events in between
        return refused

    async def stats(self, site: str, day: str) -> dict[str, int]:
        async with self.reaching():
            raw = await self.client.hgetall(f"ondo:{{{site}}}:stats:{day}")
        return {_text(k): int(v) for k, v in raw.items()}

    async def add_visitors(self, site: str, day: str, visitors: Mapping[str, Iterable[str]],
                           ttl: float = STATS_TTL) -> None:
        names_key = _visitors_key(site, day, None)
        async with self.reaching():
            pipe = self.client.pipeline(transaction=False)
            for name, keys in visitors.items():
                members = list(keys)
                if not members:
                    continue
                key = _visitors_key(site, day, name)
                pipe.pfadd(key, *members)
                pipe.expire(key, int(ttl))
                pipe.sadd(names_key, name)
            pipe.expire(names_key, int(ttl))
            await pipe.execute()

    async def visitors(self, site: str, days: Sequence[str], names: Iterable[str]
                       ) -> dict[str, int]:
        # PFCOUNT of several keys counts their union: all in one slot ({SITE}).
        # (redis-py's cluster pipeline refuses ``pfcount()`` for fear of
        # keys in several slots; these share one.)
        names = list(names)
        async with self.reaching():
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                pipe.execute_command("PFCOUNT", *(_visitors_key(site, day, name) for day in days))
            counts = await pipe.execute() if names and days else []
        return {name: int(n) for name, n in zip(names, counts, strict=True)} if counts else \
            dict.fromkeys(names, 0)

    async def visitor_names(self, site: str, day: str) -> set[str]:
        async with self.reaching():
            raw = await self.client.smembers(_visitors_key(site, day, None))
        return {_text(name) for name in raw}

    async def profile(self, site: str, visitor: str) -> dict[str, Any]:
        async with self.reaching():
            blob = await self.client.get(visitor_key(site, visitor, PROFILE))
            days = await self.client.hgetall(visitor_key(site, visitor, DAYS))
            caps = await self.client.hgetall(visitor_key(site, visitor, CAPS))
        return decode_profile(blob, [x for kv in days.items() for x in kv],
                              [x for kv in caps.items() for x in kv])

    async def live(self, site: str, update: LiveUpdate, shards: int = 1) -> dict[str, int]:
        own = live_shard(update.visitor, shards)
        if own is None:
            return await self._live(site, None, update)
        # The visitor's own shard takes what the event changes and answers its
        # figures exactly; the others' figures, when the rules need them, are
        # read at most once per ``live_cache`` seconds per node (a spread site
        # reads on nearly every event); a visitor who signed in leaves theirs.
        calls = []
        for shard in range(shards):
            left = update.left if live_shard(update.left, shards) == shard else ""
            if shard == own:
                calls.append(self._live(site, shard, dataclasses.replace(update, left=left)))
            elif left:
                calls.append(self._live(site, shard, LiveUpdate(
                    update.now, read=update.read, read_product=update.read_product,
                    left=left)))
            elif update.read:
                calls.append(self._live_read(site, shard, update))
        figures: dict[str, int] = {}
        for part in await asyncio.gather(*calls):
            for name, n in part.items():
                figures[name] = figures.get(name, 0) + n
        return figures

    async def _live_read(self, site: str, shard: int, update: LiveUpdate) -> dict[str, int]:
        key = (site, shard, update.read_product)
        now = asyncio.get_running_loop().time()
        cached = self._live_reads.get(key)
        if cached is None or now - cached[0] >= self.live_cache:
            if len(self._live_reads) >= 10_000:  # products come and go
                self._live_reads = {k: v for k, v in self._live_reads.items()
                                    if now - v[0] < self.live_cache}
                if len(self._live_reads) >= 10_000:  # all fresh: start again
                    self._live_reads.clear()
            read = LiveUpdate(update.now, read=True, read_product=update.read_product)
            cached = self._live_reads[key] = (now, asyncio.ensure_future(
                self._live(site, shard, read)))
        try:
            return await asyncio.shield(cached[1])
        except StoreUnavailable:
            self._live_reads.pop(key, None)
            raise

    async def _live(self, site: str, shard: int | None, update: LiveUpdate) -> dict[str, int]:
        reply = await self._evalsha(
            self.live_script, (live_key(site, "v", shard), live_key(site, "at", shard)),
            (repr(update.now), int(LIVE_WINDOW), update.visitor, "1" if update.page else "0",
             update.product, msgpack.packb(list(update.added)),
             msgpack.packb(list(update.bought)), "1" if update.read else "0",
             update.read_product, update.left))
        return dict(zip(LIVE_FIGURES, (int(n) for n in reply), strict=False))

    async def ping(self) -> bool:
        """Whether the event path's connection answers (it reconnects by itself);
        on a cluster, whether every slot has a master and every master answers."""
        if isinstance(self.pipe, ClusterPipe):
            return await self.pipe.healthy()
        try:
            return await self.pipe.call("PING") in (b"PONG", "PONG")
        except (*_DOWN, ReplyError):
            return False

    async def memory(self) -> Memory:
        """``INFO memory``; on a cluster, that of the fullest master (the
        first to refuse or evict). Raises StoreUnavailable."""
        try:
            if isinstance(self.pipe, ClusterPipe):
                replies = await self.pipe.each_master("INFO", "memory")
            else:
                replies = [await self.pipe.call("INFO", "memory")]
        except (*_DOWN, ReplyError) as exc:
            self.errors += 1
            raise StoreUnavailable(str(exc)) from exc
        found = [_memory(_text(reply)) for reply in replies]
        if not found:
            raise StoreUnavailable("no Redis master answered INFO memory")
        return max(found, key=lambda m: (m.share or 0.0, m.used))

    async def prepare(self) -> None:
        """Load every script on every master, so that the first events after a
        start do not all meet NOSCRIPT. Raises StoreUnavailable."""
        try:
            for script in self.scripts:
                if isinstance(self.pipe, ClusterPipe):
                    # A master that is down now loads them when it first says NOSCRIPT.
                    await self.pipe.each_master("SCRIPT", "LOAD", script.source,
                                                return_exceptions=True)
                else:
                    await self.pipe.call("SCRIPT", "LOAD", script.source)
        except (*_DOWN, ReplyError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    def new_client(self, socket_timeout: float | None = None) -> redis.Redis | RedisCluster:
        """A redis-py client of the store's kind (the store's own, and pub/sub's)."""
        if self.cluster is not None:
            # Coverage is ours to judge (ping): a missing slot degrades the
            # engine rather than failing every call.
            return RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in self.cluster.seeds],
                username=self.cluster.username, password=self.cluster.password,
                ssl=self.cluster.tls, require_full_coverage=False, socket_connect_timeout=1.0,
                socket_timeout=socket_timeout,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3))
        return redis.Redis.from_url(self.url, socket_connect_timeout=1.0,
                                    socket_timeout=socket_timeout, health_check_interval=0)

    async def close(self) -> None:
        await self.pipe.close()
        await self.client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _memory(info: str) -> Memory:
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return Memory(int(fields.get("used_memory", 0)), int(fields.get("maxmemory", 0)),
                  fields.get("maxmemory_policy", "noeviction").strip())


def _visitors_key(site: str, day: str, name: str | None) -> str:
    """A day's distinct-visitor counter (a HyperLogLog), or with no name the set
    of that day's counter names."""
    return f"ondo:{{{site}}}:v:{day}:{name}" if name is not None else \
        f"ondo:{{{site}}}:vn:{day}"


def _rules_key(site: str, suffix: str) -> str:
    return f"ondo:{{rules:{site}}}:{suffix}"


class RedisVersions:
    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.client = store.client

    async def save(self, site: str, version: str, source: str, note: str, rules: int,
                   now: float) -> bool:
        key = _rules_key(site, f"v:{version}")
        async with self.store.reaching():
            created = await self.client.hsetnx(key, "source", source)
            if created:
                await self.client.hset(key, mapping={"note": note, "created_at": repr(now),
                                                     "rules": rules})
                await self.client.lpush(_rules_key(site, "versions"), version)
        return bool(created)

    async def activate(self, site: str, version: str) -> bool:
        async with self.store.reaching():
            if not await self.client.exists(_rules_key(site, f"v:{version}")):
                return False
            await self.client.set(_rules_key(site, "active"), version)
        await self.store.broker.publish(RULES_CHANNEL, f"{site} {version}")
        return True

    async def active(self, site: str) -> str | None:
        async with self.store.reaching():
            value = await self.client.get(_rules_key(site, "active"))
        return None if value is None else _text(value)

    async def source(self, site: str, version: str) -> str | None:
        async with self.store.reaching():
            value = await self.client.hget(_rules_key(site, f"v:{version}"), "source")
        return None if value is None else _text(value)

    async def list(self, site: str) -> list[Version]:
        active = await self.active(site)
        out = []
        async with self.store.reaching():
            for raw in await self.client.lrange(_rules_key(site, "versions"), 0, 99):
                version = _text(raw)
                meta = {_text(k): _text(v) for k, v in
                        (await self.client.hgetall(_rules_key(site, f"v:{version}"))).items()}
                out.append(Version(version, meta.get("note", ""),
                                   float(meta.get("created_at", 0)), int(meta.get("rules", 0)),
                                   version == active))
        return out


class RedisBroker:
    """Redis pub/sub between nodes; re-subscribes by itself after Redis comes back.

    On a cluster the channels are sharded (SPUBLISH/SSUBSCRIBE): a message
    goes to the shard owning the channel's slot and to the nodes subscribed
    there, where classic PUBLISH would be copied to every node of the cluster
    over its bus, whatever the number of shards."""

    def __init__(self, store: RedisStore, url: str) -> None:
        self.store = store
        self.url = url

    async def publish(self, channel: str, message: str) -> None:
        async with self.store.reaching():
            client = self.store.client
            if isinstance(client, RedisCluster):
                await client.spublish(channel, message)
            else:
                await client.publish(channel, message)

    async def follow(self, on_message: OnMessage, on_subscribed: OnSubscribed,
                     stop: asyncio.Event, resync: float = RESYNC) -> None:
        while not stop.is_set():
            # A client of its own per subscription: after a failover, a fresh
            # one reads the slot map again and finds the promoted master.
            client = self.store.new_client()
            try:
                async with client.pubsub() as pubsub:
                    if isinstance(client, RedisCluster):
                        await client.initialize()  # the slot map, to find the channels' shards
                        await pubsub.ssubscribe(*CHANNELS)
                        receive = pubsub.get_sharded_message
                    else:
                        await pubsub.subscribe(*CHANNELS)
                        receive = pubsub.get_message
                    synced = -resync
                    while not stop.is_set():
                        if time.monotonic() - synced >= resync:
                            synced = time.monotonic()
                            await handled(on_subscribed())
                        message = await receive(timeout=0.5)
                        if message is None:
                            continue
                        kind = _text(message["type"])
                        if kind in ("message", "smessage"):
                            await handled(on_message(_text(message["channel"]),
                                                     _text(message["data"])))
                        elif kind == "sunsubscribe":
                            # The channel's slot moved to another shard.
                            raise ConnectionError("a sharded channel moved; subscribing again")
            except (RedisError, RedisClusterException, OSError) as exc:
                log.warning("pub/sub lost (%s); retrying", exc)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.5)
            finally:
                await client.aclose()


def decode_profile(blob: bytes | str | None, days: Sequence[Any] = (),
                   caps: Sequence[Any] = ()) -> dict[str, Any]:
    """The stored profile as a Python dict (docs/storage.md), with its day
    buckets and caps, which live in hashes beside it. Lua's cmsgpack writes an
    empty table as an empty array, so empty maps may come back as lists."""
    data: Any = msgpack.unpackb(blob, raw=False, strict_map_key=False) if blob else {}
    profile: dict[str, Any] = data if isinstance(data, dict) else {}
    profile["days"] = day_buckets(zip(map(_text, days[::2]), days[1::2], strict=True))
    profile["caps"] = StoredCaps(caps)
    return profile


class StoredCaps(Mapping[str, Mapping[str, Any]]):
    """The caps hash (rule id -> msgpack cap) as the store returned it. A cap is
    decoded when the delivery policy first reads it: a regular holds caps of
    every rule ever shown to them, and an event reads those it matched."""

    __slots__ = ("_caps",)

    def __init__(self, flat: Sequence[Any] = ()) -> None:
        # HGETALL's flat reply; field names come back as bytes.
        self._caps: dict[str, Any] = {
            (k.decode() if isinstance(k, bytes) else k): v
            for k, v in zip(flat[::2], flat[1::2], strict=True)}

    def __contains__(self, rule: object) -> bool:
        return rule in self._caps

    def __getitem__(self, rule: str) -> Mapping[str, Any]:
        cap = self._caps[rule]
        if isinstance(cap, bytes):
            cap = self._caps[rule] = msgpack.unpackb(cap, raw=False, strict_map_key=False)
        return cap  # type: ignore[no-any-return]

    def get(self, rule: str, default: Any = None) -> Any:
        return self[rule] if rule in self._caps else default

    def raw(self) -> dict[str, Any]:
        """Each cap as stored (msgpack) or as already decoded: for a recording,
        which must not pay for decoding caps the policy never read."""
        return dict(self._caps)

    def __iter__(self) -> Iterator[str]:
        return iter(self._caps)

    def __len__(self) -> int:
        return len(self._caps)
