"""The in-process store: the twin of engine/store/redis.py for fast tests of
the pipeline and the counters, held to the same contract tests
(tests/engine/store). Integration tests still run on Redis.

Each event goes through engine/store/event.py, the Python twin of
lua/event.lua. Keys expire as Redis would expire them, on the store's clock
``now``: the latest ``now`` of the events it applied (tests drive a simulated
clock; a test may also move ``now`` itself). ``down = True`` simulates an
outage: every call raises ``StoreUnavailable`` and counts in ``errors``.

One MemoryStore may be shared by several engines in one process, on one
event loop or several (each served from its own thread, as in the tests): a
lock keeps each call whole, and the broker delivers to every follower of the
store on the follower's own loop, as nodes on one Redis hear each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.store.base import (
    CHANNELS,
    COUNTER_LIMIT,
    RESYNC,
    RULES_CHANNEL,
    STATS_TTL,
    TOGETHER_KEPT,
    TOGETHER_ORDER_ITEMS,
    Applied,
    ConsoleSession,
    Feed,
    LiveUpdate,
    OnMessage,
    OnSubscribed,
    Product,
    Result,
    StoredEvent,
    StoreUnavailable,
    Version,
    handled,
    ranked,
    together_weight,
)
from engine.store.event import VisitorState, apply_event, stored_profile
from engine.store.live import LiveState, apply_live
from engine.store.memory_recording import MemoryRecordings

log = logging.getLogger("ondo.store")
RETRY = 0.1  # seconds before a follower notices an outage, or its end


@dataclass(slots=True)
class _Keys:
    """One visitor's keys and when they expire on the store's clock: the
    profile, day buckets and caps together (every new event sets all three
    TTLs), the event ids apart (the dedupe window)."""

    state: VisitorState = field(default_factory=VisitorState)
    until: float = math.inf
    ids_until: float = math.inf


class MemoryStore:
    def __init__(self, *, profile_ttl: float = 400 * 86_400.0,
                 dedupe_ttl: float = 86_400.0) -> None:
        # Whole seconds, as RedisStore sends them to EXPIRE.
        self.profile_ttl = int(profile_ttl)
        self.dedupe_ttl = int(dedupe_ttl)
        self.errors = 0
        self.down = False
        self.now = 0.0
        self.lock = threading.Lock()  # one call at a time, whichever thread makes it
        self._visitors: dict[tuple[str, str], _Keys] = {}
        self._stats: dict[tuple[str, str], dict[str, int]] = {}
        self._distinct: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._live: dict[str, LiveState] = {}
        self.versions = MemoryVersions(self)
        self.broker = MemoryBroker(self)
        self.sessions = MemorySessions(self)
        self.catalog = MemoryCatalog(self)
        self.recordings = MemoryRecordings(self)

    @contextlib.contextmanager
    def reaching(self) -> Iterator[None]:
        """Around every call: an outage raises StoreUnavailable, counted; the
        call holds the lock (it never awaits inside)."""
        with self.lock:
            if self.down:
                self.errors += 1
                raise StoreUnavailable("the memory store is down")
            yield

    async def apply(self, site: str, visitor: str, event: StoredEvent) -> Result:
        with self.reaching():
            self.now = max(self.now, event.now)
            keys = self._keys(site, visitor) or _Keys()
            result = apply_event(keys.state, event, self.dedupe_ttl)
            if result.status is Applied.NEW:
                # SET ... EX, EXPIRE: every new event restarts both clocks.
                keys.until = self.now + self.profile_ttl
                keys.ids_until = self.now + self.dedupe_ttl
                self._visitors[(site, visitor)] = keys
            return result

    def _keys(self, site: str, visitor: str) -> _Keys | None:
        """The visitor's keys left at ``now``: expired ones are gone."""
        keys = self._visitors.get((site, visitor))
        if keys is None:
            return None
        if self.now >= keys.until:
            ids = keys.state.ids
            keys.state, keys.until = VisitorState(ids=ids), math.inf
        if self.now >= keys.ids_until:
            keys.state.ids, keys.ids_until = {}, math.inf
        state = keys.state
        if state.profile is None and not (state.ids or state.days or state.caps):
            del self._visitors[(site, visitor)]
            return None
        return keys

    async def profile(self, site: str, visitor: str) -> dict[str, Any]:
        with self.reaching():
            keys = self._keys(site, visitor)
            return stored_profile(keys.state if keys else VisitorState())

    async def count(self, site: str, day: str, counts: MutableMapping[str, int],
                    ttl: float = STATS_TTL) -> dict[str, int]:
        if not counts:
            return {}  # RedisStore sends nothing at all
        with self.reaching():
            # Counters are kept for the store's life: its clock is events' time,
            # and no test outlives a retention on one day's key.
            stats = self._stats.setdefault((site, day), {})
            refused = {name: int(n) for name, n in counts.items()
                       if abs(stats.get(name, 0) + int(n)) >= COUNTER_LIMIT}
            for name, n in counts.items():
                if name not in refused:
                    stats[name] = stats.get(name, 0) + int(n)
            counts.clear()
            return refused

    async def stats(self, site: str, day: str) -> dict[str, int]:
        with self.reaching():
            return dict(self._stats.get((site, day), {}))

    async def add_visitors(self, site: str, day: str, visitors: Mapping[str, Iterable[str]],
                           ttl: float = STATS_TTL) -> None:
        with self.reaching():
            named = self._distinct.setdefault((site, day), {})
            for name, keys in visitors.items():
                members = set(keys)
                if members:
                    named.setdefault(name, set()).update(members)

    async def visitors(self, site: str, days: Sequence[str], names: Iterable[str]
                       ) -> dict[str, int]:
        """Exact where Redis estimates (HyperLogLog, about 0.8% standard error)."""
        with self.reaching():
            return {name: len(set().union(*(self._distinct.get((site, day), {}).get(name, set())
                                            for day in days)))
                    for name in names}

    async def visitor_names(self, site: str, day: str) -> set[str]:
        with self.reaching():
            return set(self._distinct.get((site, day), {}))

    async def live(self, site: str, update: LiveUpdate, shards: int = 1) -> dict[str, int]:
        # One process's memory has no hot slot: the shards would only be summed again.
        with self.reaching():
            return apply_live(self._live.setdefault(site, LiveState()), update)

    async def ping(self) -> bool:
        return not self.down

    async def memory(self) -> None:
        with self.reaching():
            return None  # no maxmemory to come near

    async def prepare(self) -> None:
        if self.down:
            raise StoreUnavailable("the in-memory store is down (simulated)")

    async def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class _Saved:
    source: str
    note: str
    created_at: float
    rules: int


class MemoryCatalog:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._feeds: dict[str, tuple[Feed, dict[str, Product]]] = {}
        self._together: dict[tuple[str, str], dict[str, float]] = {}

    async def replace(self, site: str, products: Sequence[Product], now: float) -> Feed:
        with self.store.reaching():
            rows = {p.id: p for p in products}
            digest = hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()[:16]
            feed = Feed(digest, len(rows), now)
            self._feeds[site] = (feed, rows)
            return feed

    async def feed(self, site: str) -> Feed | None:
        with self.store.reaching():
            found = self._feeds.get(site)
            return None if found is None else found[0]

    async def products(self, site: str, ids: Sequence[str]) -> dict[str, Product]:
        with self.store.reaching():
            rows = self._feeds.get(site, (None, {}))[1]
            return {i: rows[i] for i in ids if i in rows}

    async def add_order(self, site: str, products: Sequence[str], at: float) -> None:
        distinct = list(dict.fromkeys(products))[:TOGETHER_ORDER_ITEMS]
        if len(distinct) < 2:
            return
        weight = together_weight(at)
        with self.store.reaching():
            for product in distinct:
                partners = self._together.setdefault((site, product), {})
                for other in distinct:
                    if other != product:
                        partners[other] = partners.get(other, 0.0) + weight
                # As ZREMRANGEBYRANK leaves them: the highest ranks (weight,
                # then id) stay, so of equal weights the larger ids.
                kept = sorted(partners.items(), key=lambda kv: (kv[1], kv[0]))[-TOGETHER_KEPT:]
                self._together[(site, product)] = dict(kept)

    async def bought_with(self, site: str, products: Sequence[str]) -> list[str]:
        weights: dict[str, float] = {}
        with self.store.reaching():
            for product in dict.fromkeys(products):
                for partner, weight in self._together.get((site, product), {}).items():
                    weights[partner] = weights.get(partner, 0.0) + weight
        return ranked(weights, products)


    async def recommend(self, site: str, seeds: Sequence[str], leave_out: Collection[str],
                        count: int) -> list[Product]:
        partners = await self.bought_with(site, seeds)
        feed = await self.products(site, partners)
        return [feed[p] for p in partners
                if p in feed and feed[p].in_stock and p not in leave_out][:count]


class MemorySessions:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._sessions: dict[str, ConsoleSession] = {}
        self._attempts: dict[str, tuple[float, int]] = {}  # key -> (window ends, count)

    async def open(self, key: str, session: ConsoleSession, now: float) -> None:
        with self.store.reaching():
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
            self._sessions[key] = session

    async def find(self, key: str, now: float) -> ConsoleSession | None:
        with self.store.reaching():
            session = self._sessions.get(key)
            return session if session is not None and session.expires > now else None

    async def end(self, key: str) -> None:
        with self.store.reaching():
            self._sessions.pop(key, None)

    async def attempt(self, key: str, now: float, window: float) -> int:
        with self.store.reaching():
            ends, count = self._attempts.get(key, (0.0, 0))
            if now >= ends:
                ends, count = now + window, 0
            self._attempts[key] = (ends, count + 1)
            return count + 1


class MemoryVersions:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._saved: dict[tuple[str, str], _Saved] = {}
        self._newest_first: dict[str, list[str]] = {}
        self._active: dict[str, str] = {}

    async def save(self, site: str, version: str, source: str, note: str, rules: int,
                   now: float) -> bool:
        with self.store.reaching():
            if (site, version) in self._saved:
                return False  # the same text again: its first note stays
            self._saved[(site, version)] = _Saved(source, note, float(now), int(rules))
            self._newest_first.setdefault(site, []).insert(0, version)
            return True

    async def activate(self, site: str, version: str) -> bool:
        with self.store.reaching():
            if (site, version) not in self._saved:
                return False
            self._active[site] = version
            self.store.broker.deliver(RULES_CHANNEL, f"{site} {version}")
            return True

    async def active(self, site: str) -> str | None:
        with self.store.reaching():
            return self._active.get(site)

    async def source(self, site: str, version: str) -> str | None:
        with self.store.reaching():
            saved = self._saved.get((site, version))
            return None if saved is None else saved.source

    async def list(self, site: str) -> list[Version]:
        with self.store.reaching():
            active = self._active.get(site)
            out = []
            for version in self._newest_first.get(site, [])[:100]:
                saved = self._saved[(site, version)]
                out.append(Version(version, saved.note, saved.created_at, saved.rules,
                                   version == active))
            return out


class _Inbox:
    """One follower's subscription: messages wait here for its own loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()

    def put(self, item: tuple[str, str] | None) -> None:
        """From any thread; None only wakes the follower."""
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    async def get(self, timeout: float) -> tuple[str, str] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout=max(timeout, 0.0))
        except TimeoutError:
            return None


class MemoryBroker:
    """Publish/subscribe between the followers of one MemoryStore."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._inboxes: list[_Inbox] = []

    @property
    def followers(self) -> int:
        """How many followers are subscribed now (tests wait on it)."""
        with self.store.lock:
            return len(self._inboxes)

    async def publish(self, channel: str, message: str) -> None:
        with self.store.reaching():
            self.deliver(channel, message)

    def deliver(self, channel: str, message: str) -> None:
        """To every follower subscribed now (the caller holds the store's lock)."""
        if channel not in CHANNELS:
            return  # a channel nobody follows
        for inbox in self._inboxes:
            with contextlib.suppress(RuntimeError):  # its loop is closed: it is gone
                inbox.put((channel, message))

    async def follow(self, on_message: OnMessage, on_subscribed: OnSubscribed,
                     stop: asyncio.Event, resync: float = RESYNC) -> None:
        while not stop.is_set():
            if self.store.down:  # nothing to subscribe to: try again later
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=RETRY)
                continue
            await self._subscription(on_message, on_subscribed, stop, resync)

    async def _subscription(self, on_message: OnMessage, on_subscribed: OnSubscribed,
                            stop: asyncio.Event, resync: float) -> None:
        """One subscription: until ``stop``, or until the store goes down."""
        inbox = _Inbox()
        with self.store.lock:
            self._inboxes.append(inbox)
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(lambda _: inbox.put(None))  # return at once
        try:
            synced = -math.inf
            while not stop.is_set() and not self.store.down:
                if time.monotonic() - synced >= resync:
                    synced = time.monotonic()
                    await handled(on_subscribed())
                # Woken by a message, by stop, for the next resync, or to look
                # at ``down`` again (an outage ends a subscription, as in Redis).
                wait = min(RETRY, synced + resync - time.monotonic())
                message = await inbox.get(timeout=wait)
                if message is not None:
                    await handled(on_message(*message))
        finally:
            stopping.cancel()
            with self.store.lock:
                self._inboxes.remove(inbox)
