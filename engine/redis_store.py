"""The Redis implementation of the store.

Each event is one EVALSHA of engine/lua/event.lua. The calls of concurrent
events are batched: calls made in the same event-loop tick go to Redis as one
pipeline (auto-pipelining, as ioredis does), so the Python client's per-call
cost is paid once per batch while each event keeps one logical round trip.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgpack
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.store import Applied, Result, StoredEvent, StoreUnavailable
from rules.catalogue import WINDOW_DAYS, WINDOWED_METRICS

LUA = Path(__file__).with_name("lua")
_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


def _key(site: str, visitor: str, suffix: str) -> str:
    return f"ondo:{{{site}:{visitor}}}:{suffix}"


class Script:
    """A Lua file loaded once (SCRIPT LOAD) and called by its SHA."""

    def __init__(self, name: str) -> None:
        self.source = (LUA / name).read_text(encoding="utf-8")
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()


class AutoPipeline:
    """Sends the commands of concurrent events to Redis as pipelines.

    Commands issued in one event-loop tick form a batch. At most ``in_flight``
    batches are outstanding; while they are, new commands wait and join the
    next batch, so under load batches grow instead of connections multiplying.
    Commands keep their order: one batch is one pipeline on one connection.
    """

    def __init__(self, client: redis.Redis, in_flight: int = 4) -> None:
        self.client = client
        self.in_flight = in_flight
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def call(self, *command: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((command, future))
        if not self._scheduled and self._running < self.in_flight:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending or self._running >= self.in_flight:
            return
        batch, self._pending = self._pending, []
        self._running += 1
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._running -= 1
        if self._pending and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def _send(self, batch: Sequence[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            for command, _ in batch:
                pipe.execute_command(*command)
            results = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the whole batch failed: every caller hears why
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


class RedisStore:
    def __init__(self, url: str, *, session_timeout: float = 1800.0,
                 profile_ttl: float = 400 * 86_400.0, dedupe_ttl: float = 86_400.0) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0,
                                           health_check_interval=0)
        self.pipeline = AutoPipeline(self.client)
        self.event_script = Script("event.lua")
        self._loading = asyncio.Lock()
        self.session_timeout = session_timeout
        self.profile_ttl = int(profile_ttl)
        self.dedupe_ttl = int(dedupe_ttl)
        self.errors = 0

    async def _evalsha(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            try:
                return await self.pipeline.call(*command)
            except NoScriptError:
                # First call, or Redis restarted and lost its script cache. One
                # SCRIPT LOAD for all the events that hit this at once.
                async with self._loading:
                    if await self.client.script_exists(script.sha) != [True]:
                        await self.client.script_load(script.source)
                return await self.pipeline.call(*command)
        except _DOWN as exc:
            self.errors += 1
            raise StoreUnavailable(str(exc)) from exc
        except RedisError as exc:
            if "LOADING" in str(exc) or "MASTERDOWN" in str(exc):
                self.errors += 1
                raise StoreUnavailable(str(exc)) from exc
            raise

    async def apply(self, site: str, visitor: str, event: StoredEvent) -> Result:
        reply = await self._evalsha(
            self.event_script,
            (_key(site, visitor, "p"), _key(site, visitor, "e"), _key(site, visitor, "d"),
             _key(site, visitor, "c")),
            (event.id, event.digest, event.kind, repr(event.now), self.session_timeout,
             event.day, event.oldest_day, msgpack.packb(dict(event.payload)),
             self.profile_ttl, self.dedupe_ttl, event.window_starts[0],
             event.window_starts[1], "1" if event.windows else "0"))
        status, blob, sums, caps = reply
        status = status.decode() if isinstance(status, bytes) else status
        profile = decode_profile(blob, caps=caps)
        if sums:
            profile["windows"] = window_sums(sums)
        return Result(Applied(status), profile)

    async def count(self, site: str, day: str, counts: Mapping[str, int]) -> None:
        key = f"ondo:{{{site}}}:stats:{day}"
        calls = [self.pipeline.call("HINCRBY", key, field, n) for field, n in counts.items()]
        calls.append(self.pipeline.call("EXPIRE", key, 100 * 86_400))
        try:
            await asyncio.gather(*calls)
        except _DOWN as exc:
            self.errors += 1
            raise StoreUnavailable(str(exc)) from exc

    async def stats(self, site: str, day: str) -> dict[str, int]:
        raw = await self.client.hgetall(f"ondo:{{{site}}}:stats:{day}")
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}

    async def profile(self, site: str, visitor: str) -> dict[str, Any]:
        try:
            blob = await self.client.get(_key(site, visitor, "p"))
            days = await self.client.hgetall(_key(site, visitor, "d"))
            caps = await self.client.hgetall(_key(site, visitor, "c"))
        except _DOWN as exc:
            raise StoreUnavailable(str(exc)) from exc
        return decode_profile(blob, [x for kv in days.items() for x in kv],
                              [x for kv in caps.items() for x in kv])

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self.client.publish(channel, message)
        except _DOWN as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (*_DOWN, RedisError):
            return False

    async def close(self) -> None:
        await self.client.aclose()


def decode_profile(blob: bytes | str | None, days: Sequence[Any] = (),
                   caps: Sequence[Any] = ()) -> dict[str, Any]:
    """The stored profile as a Python dict (docs/storage.md), with its day
    buckets and caps, which live in hashes beside it. Lua's cmsgpack writes an
    empty table as an empty array, so empty maps may come back as lists."""
    data: Any = msgpack.unpackb(blob, raw=False, strict_map_key=False) if blob else {}
    profile: dict[str, Any] = data if isinstance(data, dict) else {}
    buckets: dict[str, dict[str, int]] = {}
    for i in range(0, len(days), 2):
        field = days[i].decode() if isinstance(days[i], bytes) else days[i]
        day, _, name = field.partition(":")
        buckets.setdefault(day, {"v": 0, "pv": 0, "pc": 0, "pt": 0})[name] = int(days[i + 1])
    profile["days"] = buckets
    profile["caps"] = {
        (caps[i].decode() if isinstance(caps[i], bytes) else caps[i]):
            msgpack.unpackb(caps[i + 1], raw=False, strict_map_key=False)
        for i in range(0, len(caps), 2)}
    return profile


def window_sums(sums: Sequence[Any]) -> dict[str, int]:
    """The Lua reply's 12 sums as windowed attribute values (visits_7d, ...)."""
    out = {}
    for w, window in enumerate(WINDOW_DAYS):
        for m, metric in enumerate(WINDOWED_METRICS):
            out[f"{metric}_{window}d"] = int(sums[w * 4 + m])
    return out


def flat_days(days: dict[str, dict[str, int]]) -> dict[str, int]:
    """Day buckets as the day hash's fields ("YYYYMMDD:pv" -> n), for a merge."""
    return {f"{day}:{name}": n for day, bucket in days.items() for name, n in bucket.items()
            if n}
