"""The stores under contract, for tests/engine/store and the counters' tests:
the Lua store on a real Redis and its in-memory twin, each on a simulated
clock (``Driver``), run from plain test code (``Run``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import pytest

from engine.profile.localtime import local_time
from engine.store.base import Result, Store, StoredEvent
from engine.store.memory import MemoryStore
from engine.store.redis import RedisStore

STORES = ("redis", "cluster", "memory")
SEOUL = ZoneInfo("Asia/Seoul")
T0 = 1_795_000_000.0  # 2026-11-18 20:06 in Seoul
MIN, HOUR, DAY = 60.0, 3_600.0, 86_400.0
T = TypeVar("T")


class Run(Protocol):
    """Runs one coroutine to its end on the test's event loop."""

    def __call__(self, awaitable: Awaitable[T], /) -> T: ...


@contextlib.contextmanager
def event_loop() -> Iterator[Run]:
    """One event loop for a test: tasks started on it (followers) keep running
    between ``run`` calls, and whatever is left is cancelled at the end."""
    loop = asyncio.new_event_loop()
    try:
        yield loop.run_until_complete  # type: ignore[return-value]
    finally:
        loop.run_until_complete(_cancel_the_rest())
        loop.close()


async def _cancel_the_rest() -> None:
    left = asyncio.all_tasks() - {asyncio.current_task()}
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


def open_store(kind: str, request: pytest.FixtureRequest) -> Store:
    if kind == "redis":
        return RedisStore(request.getfixturevalue("redis_url"))
    if kind == "cluster":
        return RedisStore(request.getfixturevalue("cluster_url"))
    return MemoryStore()


def another_node(store: Store) -> Store:
    """A second engine node on the same storage: a second RedisStore on the
    same Redis (or cluster), the very same MemoryStore (close it as usual: a
    no-op)."""
    if isinstance(store, RedisStore):
        return RedisStore(store.url)
    return store


async def time_passes(store: Store, now: float, seconds: float) -> None:
    """Let a store see ``seconds`` pass, up to ``now``, so its keys expire: the
    memory store's clock moves; Redis keys' TTLs (real time) are shortened."""
    if isinstance(store, MemoryStore):
        store.now = max(store.now, now)
        return
    assert isinstance(store, RedisStore)
    if seconds <= 0:
        return
    passed = int(seconds * 1000)
    keys = [key async for key in store.client.scan_iter("ondo:*")]
    async with store.client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.pttl(key)
        lefts = await pipe.execute()
    async with store.client.pipeline(transaction=False) as pipe:
        for key, left in zip(keys, lefts, strict=True):
            if left > passed:
                pipe.pexpire(key, left - passed)
            elif left > 0:  # -1: kept forever (rule versions)
                pipe.delete(key)
        await pipe.execute()


class Driver:
    """Drives visitors of site "s" through a store on a simulated clock."""

    def __init__(self, store: Store, run: Run, visitor: str = "visitor-1") -> None:
        self.store = store
        self.run = run
        self.visitor = visitor
        self.now = T0
        self.n = 0

    def event(self, kind: str, payload: dict[str, Any] | None = None, *,
              visitor: str | None = None, event_id: str | None = None, digest: str = "d",
              windows: bool = True) -> Result:
        self.n += 1
        event = StoredEvent.at(event_id or f"e{self.n}", kind, digest, self.now,
                               local_time(self.now, SEOUL), payload or {}, windows=windows,
                               session_timeout=30 * MIN)
        return self.run(self.store.apply("s", visitor or self.visitor, event))

    def profile(self, visitor: str | None = None) -> dict[str, Any]:
        return self.run(self.store.profile("s", visitor or self.visitor))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.run(time_passes(self.store, self.now, seconds))


def pageview(path: str = "/", **extra: Any) -> dict[str, Any]:
    """A page view's payload that may start a visit (engine/flow/derive.py)."""
    return {"page_url": "https://s.kr" + path, "page_path": path, "page_type": "home",
            "traffic_source": "direct", "device": "desktop",
            "landing_url": "https://s.kr" + path, "is_ad": False, **extra}
