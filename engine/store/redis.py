"""The Redis implementation of the store.

Each event is one EVALSHA of engine/store/lua/event.lua, sent on the pipelined
connection of engine/store/resp.py: the calls of concurrent events share round
trips (auto-pipelining, as ioredis does) and cost the client one C pack and
one C parse each. redis-py serves the rest (profiles for merges and explain,
pub/sub, health).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgpack
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.store.base import Applied, Result, StoredEvent, StoreUnavailable
from engine.store.resp import NoScriptError, Pipe, ReplyError
from rules.catalogue import WINDOW_DAYS, WINDOWED_METRICS

LUA = Path(__file__).with_name("lua")
_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
_APPLIED = {status.value.encode(): status for status in Applied}  # the script's status reply
STATS_TTL = 100 * 86_400  # daily rule counters are kept 100 days


def _key(site: str, visitor: str, suffix: str) -> str:
    return f"ondo:{{{site}:{visitor}}}:{suffix}"


class Script:
    """A Lua file loaded once (SCRIPT LOAD) and called by its SHA."""

    def __init__(self, name: str) -> None:
        self.source = (LUA / name).read_text(encoding="utf-8")
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()


class RedisStore:
    def __init__(self, url: str, *, profile_ttl: float = 400 * 86_400.0,
                 dedupe_ttl: float = 86_400.0) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0,
                                           health_check_interval=0)
        self.pipe = Pipe(url, connect_timeout=1.0, timeout=2.0)
        self.event_script = Script("event.lua")
        self.count_script = Script("count.lua")
        self._loading = asyncio.Lock()
        self.profile_ttl = int(profile_ttl)
        self.dedupe_ttl = int(dedupe_ttl)
        self.errors = 0

    async def _evalsha(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            try:
                return await self.pipe.call(*command)
            except NoScriptError:
                # First call, or Redis restarted and lost its script cache. One
                # SCRIPT LOAD for all the events that hit this at once.
                async with self._loading:
                    if await self.pipe.call("SCRIPT", "EXISTS", script.sha) != [1]:
                        await self.pipe.call("SCRIPT", "LOAD", script.source)
                return await self.pipe.call(*command)
        except _DOWN as exc:
            self.errors += 1
            raise StoreUnavailable(str(exc)) from exc
        except ReplyError as exc:
            if str(exc).startswith(("LOADING", "MASTERDOWN", "BUSY")):
                self.errors += 1
                raise StoreUnavailable(str(exc)) from exc
            raise

    async def apply(self, site: str, visitor: str, event: StoredEvent) -> Result:
        reply = await self._evalsha(
            self.event_script,
            (_key(site, visitor, "p"), _key(site, visitor, "e"), _key(site, visitor, "d"),
             _key(site, visitor, "c")),
            (event.id, event.digest, event.kind, repr(event.now), event.session_timeout,
             event.day, event.oldest_day, msgpack.packb(dict(event.payload)),
             self.profile_ttl, self.dedupe_ttl, event.window_starts[0],
             event.window_starts[1], "1" if event.windows else "0"))
        status, blob, sums, caps = reply
        profile = decode_profile(blob, caps=caps)
        if sums:
            profile["windows"] = window_sums(sums)
        return Result(_APPLIED[status], profile)

    async def count(self, site: str, day: str, counts: Mapping[str, int]) -> None:
        """One call of count.lua per 500 fields: a flush of thousands of rule
        counters must not hold the event loop, or Redis, for milliseconds."""
        key = f"ondo:{{{site}}}:stats:{day}"
        fields = list(counts.items())
        for start in range(0, len(fields), 500):
            args: list[str | int] = [STATS_TTL]
            for field, n in fields[start:start + 500]:
                args += (field, n)
            await self._evalsha(self.count_script, (key,), args)
            await asyncio.sleep(0)  # let events in between

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
        """Whether the event path's connection answers (it reconnects by itself)."""
        try:
            return await self.pipe.call("PING") in (b"PONG", "PONG")
        except (*_DOWN, ReplyError):
            return False

    async def close(self) -> None:
        await self.pipe.close()
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

    def __iter__(self) -> Iterator[str]:
        return iter(self._caps)

    def __len__(self) -> int:
        return len(self._caps)


def window_sums(sums: Sequence[Any]) -> dict[str, int]:
    """The Lua reply's 12 sums as windowed attribute values (visits_7d, ...)."""
    out = {}
    for w, window in enumerate(WINDOW_DAYS):
        for m, metric in enumerate(WINDOWED_METRICS):
            out[f"{metric}_{window}d"] = int(sums[w * 4 + m])
    return out
