"""The storage interface the engine's core talks to. The core never imports
redis: engine/store/redis.py implements this with one Lua call per event.

Errors: ``StoreUnavailable`` when the storage cannot be reached; the gateway
then stops acknowledging (the widget keeps its events) until it returns.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
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


@dataclass(slots=True)
class Result:
    status: Applied
    profile: dict[str, Any]  # the stored profile after the event (docs/storage.md)


class Store(Protocol):
    async def apply(self, site: str, visitor: str, event: StoredEvent) -> Result: ...

    async def count(self, site: str, day: str, counts: Mapping[str, int]) -> None:
        """Add to the site's daily per-rule counters ("rule|what" -> n)."""

    async def profile(self, site: str, visitor: str) -> dict[str, Any]:
        """The stored profile (docs/storage.md), empty if none."""

    async def publish(self, channel: str, message: str) -> None:
        """Announce to every engine node (rule versions, pushes)."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
