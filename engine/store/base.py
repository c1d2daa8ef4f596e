"""The storage interface the engine talks to: visitor profiles (one call per
event), per-rule counters, rule versions and the messages between engine nodes.
engine/store/redis.py implements it with one Lua call per event;
engine/store/memory.py is its in-process twin, held to the same contract tests.

Errors: ``StoreUnavailable`` when the storage cannot be reached; the gateway
then stops acknowledging (the widget keeps its events) until it returns.

A rule version's id is the hash of the uploaded text: a changed file, even in
its comments, is a new version with its own note; the same text again is the
same version.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, Protocol

from engine.profile.localtime import LocalTime


class StoreUnavailable(Exception):
    """The storage could not be reached; nothing was stored."""


class Applied(enum.StrEnum):
    NEW = "new"  # stored now
    DUPLICATE = "dup"  # this id was stored before with the same content: no effect
    CONFLICT = "conflict"  # this id was stored before with other content: rejected


@dataclass(slots=True)  # not frozen: built per event, and frozen __init__ costs 3x
class StoredEvent:
    """One event as the store applies it (derived fields already computed)."""

    id: str
    kind: str
    digest: str  # content hash, for duplicate detection
    now: float
    day: str  # YYYYMMDD in the site's time zone
    oldest_day: str  # the first day of the longest window (older buckets are dropped)
    payload: Mapping[str, Any]
    window_starts: tuple[str, ...] = ("", "")  # first days of the 7- and 30-day windows
    windows: bool = True  # sum the day buckets (only when some rule reads them)
    session_timeout: float = 1800.0  # the site's: this much silence ends a visit

    @classmethod
    def at(cls, event_id: str, kind: str, digest: str, now: float, local: LocalTime,
           payload: Mapping[str, Any], *, windows: bool = True,
           session_timeout: float = 1800.0) -> StoredEvent:
        """An event at ``now``, with the day keys of the site's calendar."""
        return cls(event_id, kind, digest, now, local.day, local.oldest_day, payload,
                   local.window_starts[:2], windows, session_timeout)


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """What one event changes in the site's live counters, and whether to read
    them (for rules that read product_viewers_now and the like)."""

    now: float
    visitor: str = ""  # the profile key; "" for an event of the shop's server
    page: bool = False  # a page view: the visitor's current page shows ``product``
    product: str = ""  # the page view's product, "" if none
    added: tuple[str, ...] = ()  # product ids added to the visitor's cart
    bought: tuple[str, ...] = ()  # product ids of an order
    read: bool = False
    read_product: str = ""  # the product whose figures to read ("" the site's alone)
    left: str = ""  # a profile key this visitor no longer has (signed in): it leaves the sets


@dataclass(slots=True)
class Result:
    status: Applied
    profile: dict[str, Any]  # the stored profile after the event (docs/storage.md)


@dataclass(frozen=True, slots=True)
class Version:
    """One uploaded rule file, immutable; the id is the hash of its text."""

    version: str
    note: str
    created_at: float
    rules: int
    active: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "note": self.note, "created_at": self.created_at,
                "rules": self.rules, "active": self.active}


# The channels between engine nodes: rule versions going live ("SITE VERSION")
# and actions pushed to a visitor's sockets on whichever node holds them.
# One hash tag: on a cluster both sharded channels live on one shard, so a
# node hears the two in the order they were sent, on one connection.
RULES_CHANNEL = "ondo:{bus}:rules"
PUSH_CHANNEL = "ondo:{bus}:push"
CHANNELS = (RULES_CHANNEL, PUSH_CHANNEL)

log = logging.getLogger("ondo.store")
STATS_TTL = 400 * 86_400.0  # a site's daily statistics are kept this long by default
# A counter's sum stays below this: a margin under 2^63 (Redis's integers) wide
# enough for count.lua to compare it in Lua's doubles.
COUNTER_LIMIT = 9_000_000_000_000_000_000
RESYNC = 30.0  # seconds between two reads of the active versions by a follower

OnMessage = Callable[[str, str], Awaitable[None]]
OnSubscribed = Callable[[], Awaitable[None]]


def source_version(source: str) -> str:
    """The version id of a rule file's text."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


class Versions(Protocol):
    """Rule files per site: immutable versions and the active pointer."""

    async def save(self, site: str, version: str, source: str, note: str, rules: int,
                   now: float) -> bool:
        """Store a version; False if it was stored before (its note is kept)."""

    async def activate(self, site: str, version: str) -> bool:
        """Make a stored version the active one and announce it; False if unknown."""

    async def active(self, site: str) -> str | None: ...

    async def source(self, site: str, version: str) -> str | None: ...

    async def list(self, site: str) -> list[Version]:
        """The newest 100 versions, newest first."""


@dataclass(frozen=True, slots=True)
class Product:
    """One product of a shop's feed (engine/flow/feed.py reads feeds)."""

    id: str
    name: str
    price: int  # won
    url: str
    image: str = ""
    category: str = ""
    in_stock: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "price": self.price, "url": self.url,
                "image": self.image, "category": self.category, "in_stock": self.in_stock}


@dataclass(frozen=True, slots=True)
class Feed:
    """What a site's product feed is now."""

    version: str  # the hash of its products
    products: int
    updated_at: float


# Bought together: each order adds, for every pair of its products, a weight
# that doubles every HALF_LIFE (so older orders count half as much a half-life
# later, without ever rewriting them); each product keeps its KEPT best partners.
TOGETHER_HALF_LIFE = 30 * 86_400.0
TOGETHER_EPOCH = 1_767_225_600.0  # 2026-01-01 UTC: weights are 1.0 there
TOGETHER_KEPT = 50
TOGETHER_ORDER_ITEMS = 20  # the first distinct products of an order that count
TOGETHER_TTL = 400 * 86_400  # a product no order named for this long is forgotten


def together_weight(at: float) -> float:
    return float(2 ** ((at - TOGETHER_EPOCH) / TOGETHER_HALF_LIFE))


def ranked(weights: Mapping[str, float], leave_out: Iterable[str]) -> list[str]:
    """Partners best first (ties by id, so every store answers alike)."""
    out = set(leave_out)
    return [p for p, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
            if p not in out][:TOGETHER_KEPT]


class Catalog(Protocol):
    """A site's product feed, replaced whole, and what its products are bought with."""

    async def replace(self, site: str, products: Sequence[Product], now: float) -> Feed:
        """Make ``products`` the site's feed at once: a reader sees the old
        feed or the new one, never a mix."""

    async def feed(self, site: str) -> Feed | None: ...

    async def products(self, site: str, ids: Sequence[str]) -> dict[str, Product]:
        """The feed's products of ``ids`` (those it has)."""

    async def add_order(self, site: str, products: Sequence[str], at: float) -> None:
        """Count an order's products as bought together (``at``: the order's time)."""

    async def bought_with(self, site: str, products: Sequence[str]) -> list[str]:
        """Products most bought with ``products`` (their weights added up), best
        first, at most TOGETHER_KEPT; ``products`` themselves left out."""

    async def recommend(self, site: str, seeds: Sequence[str], leave_out: Collection[str],
                        count: int) -> list[Product]:
        """In one call: the first ``count`` of ``bought_with(seeds)`` that the
        feed has in stock and ``leave_out`` (the cart) does not hold."""


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A marketer signed in to the console of one site."""

    site: str
    csrf: str  # sent back in X-CSRF-Token by every write
    expires: float  # epoch seconds
    token: str  # a fingerprint of the admin token it was opened with: a new token ends it

    def as_json(self) -> dict[str, Any]:
        return {"site": self.site, "csrf": self.csrf, "expires": self.expires,
                "token": self.token}


class Sessions(Protocol):
    """The console's sessions, by the hash of their cookie (the store never
    holds a cookie that would let its reader sign in), and the sign-in
    attempts per client address, shared by every engine node."""

    async def open(self, key: str, session: ConsoleSession, now: float) -> None:
        """Keep ``session`` until it expires."""

    async def find(self, key: str, now: float) -> ConsoleSession | None:
        """The session, None if unknown, ended or expired."""

    async def end(self, key: str) -> None: ...

    async def attempt(self, key: str, now: float, window: float) -> int:
        """One more sign-in attempt from ``key``: how many in the window so far
        (the window starts at the first attempt)."""


@dataclass(frozen=True, slots=True)
class Recording:
    """What a site's recording for forecasts holds now."""

    entries: int
    first: float | None  # the time of the oldest entry kept, None if none
    last: float | None
    bytes: int = 0  # what its entries weigh against the site's byte budget

    def as_json(self) -> dict[str, Any]:
        return {"entries": self.entries, "first": self.first, "last": self.last,
                "bytes": self.bytes}


# What one recorded entry weighs against a site's byte budget besides its
# blob: the stream's own bookkeeping (its id, its offset, the nodes' headers
# and allocation). With it, the weight is within 12% of the stream's MEMORY
# USAGE on Redis 7.0 for blobs of 300 to 4,000 bytes (93 to 610 bytes each
# beside the blob: a blob near 4 KiB fills a stream node of its own).
ENTRY_OVERHEAD = 100
# A recording over its byte budget is trimmed down to this share of it, so
# that trimming happens once per tenth of the budget written, not every flush.
TRIMMED_TO = 0.9


class Recordings(Protocol):
    """Per site, the entries the event path recorded for forecasts
    (engine/forecast/recording.py): encoded, in time order, each with an id
    that orders it ("ms-seq")."""

    async def append(self, site: str, entries: Sequence[tuple[float, bytes]],
                     layout: tuple[str, str], keep_since: float, cap: int,
                     max_bytes: int = 0) -> None:
        """Append (time, entry) pairs; ``layout`` is the (id, names as JSON) of
        their profiles. Entries older than ``keep_since`` and beyond the newest
        ``cap`` go (roughly: whole blocks at a time). With ``max_bytes``, the
        oldest entries go too while the recording weighs more (each entry its
        blob and ``ENTRY_OVERHEAD``), down to ``TRIMMED_TO`` of it (never the
        newest entry). The recording expires ``keep_since`` after its last
        append: it can never hold anything older."""

    async def span(self, site: str) -> Recording: ...

    async def page(self, site: str, since: float, until: float, after: str = "",
                   count: int = 5_000) -> list[tuple[str, bytes]]:
        """Up to ``count`` (id, entry) pairs recorded from ``since`` to ``until``,
        after the id ``after`` (the last of the previous page) when given."""

    async def layouts(self, site: str) -> dict[str, list[str]]:
        """The profile layouts the site's entries were recorded with (id -> names)."""


@dataclass(frozen=True, slots=True)
class Memory:
    """How full the storage is (on a Redis Cluster: its fullest master)."""

    used: int  # bytes
    maxmemory: int  # bytes; 0: no limit
    policy: str  # what Redis does at the limit (maxmemory-policy, docs/storage.md)

    @property
    def share(self) -> float | None:
        """``used`` as a share of ``maxmemory``; None without a limit."""
        return self.used / self.maxmemory if self.maxmemory else None


class Broker(Protocol):
    """Messages between engine nodes."""

    async def publish(self, channel: str, message: str) -> None: ...

    async def follow(self, on_message: OnMessage, on_subscribed: OnSubscribed,
                     stop: asyncio.Event, resync: float = RESYNC) -> None:
        """Deliver every message on ``CHANNELS`` until ``stop``; call
        ``on_subscribed`` after every (re)subscribe and every ``resync`` seconds
        (handlers run through ``handled``), so a node
        catches up with what was announced while it was away."""


async def handled(call: Awaitable[None]) -> None:
    """Run one message handler of a follower; whatever it raises is logged, and
    the follower goes on."""
    try:
        await call
    except StoreUnavailable as exc:
        log.warning("pub/sub handler: storage unavailable (%s); will catch up", exc)
    except Exception:
        log.exception("pub/sub handler failed")


class Store(Protocol):
    """Everything the engine keeps. Every method raises ``StoreUnavailable``
    when the storage cannot be reached, and ``errors`` counts those times."""

    errors: int

    @property
    def versions(self) -> Versions: ...

    @property
    def broker(self) -> Broker: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def recordings(self) -> Recordings: ...

    async def apply(self, site: str, visitor: str, event: StoredEvent) -> Result: ...

    async def profile(self, site: str, visitor: str) -> dict[str, Any]:
        """The stored profile (docs/storage.md), empty if none."""

    async def count(self, site: str, day: str, counts: MutableMapping[str, int],
                    ttl: float = STATS_TTL) -> dict[str, int]:
        """Add to the site's daily per-rule counters ("rule|what" -> n), kept
        ``ttl`` seconds after their last write, taking each counter out of
        ``counts`` once it is written or refused: when this raises, what is
        left in ``counts`` was not written. A counter whose sum would reach
        ``COUNTER_LIMIT``, or whose stored value is not an integer, is left as
        it is, and returned with the number it was not given."""

    async def stats(self, site: str, day: str) -> dict[str, int]:
        """The site's per-rule counters of one day ("rule|what" -> n)."""

    async def add_visitors(self, site: str, day: str, visitors: Mapping[str, Iterable[str]],
                           ttl: float = STATS_TTL) -> None:
        """Add profile keys to the site's daily distinct-visitor counters
        (name -> keys); Redis keeps them as HyperLogLogs."""

    async def visitors(self, site: str, days: Sequence[str], names: Iterable[str]
                       ) -> dict[str, int]:
        """Distinct visitors of each name over ``days`` together (each counted
        once however many days they were there); names never counted are 0."""

    async def visitor_names(self, site: str, day: str) -> set[str]:
        """The names of one day's distinct-visitor counters."""

    async def live(self, site: str, update: LiveUpdate, shards: int = 1) -> dict[str, int]:
        """Apply ``update`` to the site's live counters, spread over ``shards``
        slots (each visitor in one, the figures summed over all; the same
        figures as one slot, docs/storage.md); when it asks, the
        figures as rule attributes (site_visitors_now, and for a product
        product_viewers_now (the update's visitor left out),
        product_purchases_24h, product_cart_adds_24h)."""

    async def ping(self) -> bool:
        """Whether the event path's storage answers now."""

    async def memory(self) -> Memory | None:
        """How full the storage is; None where it has no such limit (the
        memory store)."""

    async def prepare(self) -> None:
        """Get ready for the first events (Redis: load the scripts on every
        master). Raises StoreUnavailable."""

    async def close(self) -> None: ...
