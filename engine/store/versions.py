"""Ruleset versions in Redis: immutable versions per site, an "active"
pointer, and a pub/sub announcement that every engine node follows.

Keys (per site, one hash tag)::

    ondo:{rules:SITE}:v:VERSION    hash: source, note, created_at, rules
    ondo:{rules:SITE}:versions     list of versions, newest first
    ondo:{rules:SITE}:active       the active version

Channel ``ondo:rules``: messages ``SITE VERSION``; nodes load the version's
source by id, compile it, and swap it in atomically. A node that was away
when a version was announced (Redis down, the subscription lost) reads the
active pointer again after every resubscribe and every ``RESYNC`` seconds.

A version id is the hash of the uploaded text: a changed file, even in its
comments, is a new version with its own note; the same text again is the same
version (the upload answers ``new: false``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

CHANNEL = "ondo:rules"
PUSH_CHANNEL = "ondo:push"
RESYNC = 30.0  # seconds between two reads of the active pointers
log = logging.getLogger("ondo.versions")


def source_version(source: str) -> str:
    """The version id of a rule file's text."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Version:
    version: str
    note: str
    created_at: float
    rules: int
    active: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "note": self.note, "created_at": self.created_at,
                "rules": self.rules, "active": self.active}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _k(site: str, suffix: str) -> str:
    return f"ondo:{{rules:{site}}}:{suffix}"


class Versions:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    async def save(self, site: str, version: str, source: str, note: str, rules: int,
                   now: float) -> bool:
        """Store a version; False if it was stored before (its note is kept)."""
        created = await self.client.hsetnx(_k(site, f"v:{version}"), "source", source)
        if created:
            await self.client.hset(_k(site, f"v:{version}"), mapping={
                "note": note, "created_at": repr(now), "rules": rules})
            await self.client.lpush(_k(site, "versions"), version)
        return bool(created)

    async def activate(self, site: str, version: str) -> bool:
        if not await self.client.exists(_k(site, f"v:{version}")):
            return False
        await self.client.set(_k(site, "active"), version)
        await self.client.publish(CHANNEL, f"{site} {version}")
        return True

    async def active(self, site: str) -> str | None:
        value = await self.client.get(_k(site, "active"))
        return value.decode() if isinstance(value, bytes) else value

    async def source(self, site: str, version: str) -> str | None:
        value = await self.client.hget(_k(site, f"v:{version}"), "source")
        return value.decode() if isinstance(value, bytes) else value

    async def list(self, site: str) -> list[Version]:
        active = await self.active(site)
        out = []
        for raw in await self.client.lrange(_k(site, "versions"), 0, 99):
            version = _text(raw)
            meta = {_text(k): _text(v) for k, v in
                    (await self.client.hgetall(_k(site, f"v:{version}"))).items()}
            out.append(Version(version, meta.get("note", ""), float(meta.get("created_at", 0)),
                               int(meta.get("rules", 0)), version == active))
        return out


async def follow(url: str, on_message: Callable[[str, str], Awaitable[None]],
                 on_subscribed: Callable[[], Awaitable[None]], stop: asyncio.Event,
                 resync: float = RESYNC) -> None:
    """Subscribe to the announcement channels and call ``on_message(channel,
    data)``; call ``on_subscribed()`` after every (re)subscribe and every
    ``resync`` seconds, to catch up with what was announced while away.
    Re-subscribes by itself after Redis comes back."""
    while not stop.is_set():
        client = redis.Redis.from_url(url, socket_connect_timeout=1.0)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL, PUSH_CHANNEL)
                synced = -resync
                while not stop.is_set():
                    if time.monotonic() - synced >= resync:
                        synced = time.monotonic()
                        await _safely(on_subscribed())
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=0.5)
                    if message is not None:
                        channel = message["channel"].decode()
                        data = message["data"]
                        await _safely(on_message(channel, data.decode() if isinstance(
                            data, bytes) else str(data)))
        except (RedisError, OSError) as exc:
            log.warning("pub/sub lost (%s); retrying", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
        finally:
            await client.aclose()


async def _safely(call: Awaitable[None]) -> None:
    """Run one handler; whatever it raises is logged, and the follower goes on."""
    try:
        await call
    except (RedisError, OSError) as exc:
        log.warning("pub/sub handler: Redis unavailable (%s); will catch up", exc)
    except Exception:
        log.exception("pub/sub handler failed")
