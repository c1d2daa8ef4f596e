"""Ruleset versions in Redis: immutable versions per site, an "active"
pointer, and a pub/sub announcement that every engine node follows.

Keys (per site, one hash tag)::

    ondo:{rules:SITE}:v:VERSION    hash: source, note, created_at, rules
    ondo:{rules:SITE}:versions     list of versions, newest first
    ondo:{rules:SITE}:active       the active version

Channel ``ondo:rules``: messages ``SITE VERSION``; nodes load the version's
source by id, compile it, and swap it in atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

CHANNEL = "ondo:rules"
PUSH_CHANNEL = "ondo:push"
log = logging.getLogger("ondo.versions")


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
                   now: float) -> None:
        created = await self.client.hsetnx(_k(site, f"v:{version}"), "source", source)
        if created:
            await self.client.hset(_k(site, f"v:{version}"), mapping={
                "note": note, "created_at": repr(now), "rules": rules})
            await self.client.lpush(_k(site, "versions"), version)

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
                 stop: asyncio.Event) -> None:
    """Subscribe to the announcement channels and call ``on_message(channel,
    data)``; re-subscribe by itself after Redis comes back."""
    while not stop.is_set():
        client = redis.Redis.from_url(url, socket_connect_timeout=1.0)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL, PUSH_CHANNEL)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=0.5)
                    if message is not None:
                        channel = message["channel"].decode()
                        data = message["data"]
                        await on_message(channel, data.decode() if isinstance(data, bytes)
                                         else str(data))
        except (RedisError, OSError) as exc:
            log.warning("pub/sub lost (%s); retrying", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
        finally:
            await client.aclose()
