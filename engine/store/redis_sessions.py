"""The console's sessions and sign-in attempts in Redis (engine/store/base.py
``Sessions``)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from engine.store.base import ConsoleSession

if TYPE_CHECKING:
    from engine.store.redis import RedisStore


class RedisSessions:
    """``ondo:console:s:KEY`` (the session as JSON) and ``ondo:console:a:KEY``
    (attempts), each expiring on its own."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.client = store.client

    async def open(self, key: str, session: ConsoleSession, now: float) -> None:
        ttl = max(1, math.ceil(session.expires - now))
        async with self.store.reaching():
            await self.client.set(f"ondo:console:s:{key}", json.dumps(session.as_json()),
                                  ex=ttl)

    async def find(self, key: str, now: float) -> ConsoleSession | None:
        async with self.store.reaching():
            raw = await self.client.get(f"ondo:console:s:{key}")
        if raw is None:
            return None
        data = json.loads(raw)
        session = ConsoleSession(str(data["site"]), str(data["csrf"]), float(data["expires"]),
                                 str(data["token"]))
        return session if session.expires > now else None

    async def end(self, key: str) -> None:
        async with self.store.reaching():
            await self.client.delete(f"ondo:console:s:{key}")

    async def attempt(self, key: str, now: float, window: float) -> int:
        name = f"ondo:console:a:{key}"
        count = await self.store._evalsha(self.store.attempt_script, (name,),
                                          (max(1, math.ceil(window)),))
        return int(count)


