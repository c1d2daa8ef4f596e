"""The recorder: what the event path fed the matcher and the delivery policy,
kept per site for forecasts (docs/forecast.md).

Entries are encoded when they happen and written to the store a few times a
second in one call per site: a recording must cost the event path neither a
round trip nor a Redis command. An outage keeps them for the next flush, up
to ``BUFFERED`` per site; beyond that the oldest are dropped and counted
(``ondo_recording_dropped_total``): a forecast may miss some traffic, an event
is never slowed.

A ``track`` event's properties are what a stranger can make weigh most
(``Limits.props_bytes`` each): each profile key may have
``Limits.visitor_props_bytes`` of them recorded per hour; past that, its
entries are recorded with no properties (``event_props`` empty), counted in
``ondo_recording_props_dropped_total``. The site's byte budget
(``SiteConfig.forecast_bytes``) bounds the recording whatever the keys.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from engine.delivery.policy import Decision, Reason
from engine.forecast.recording import (
    LAYOUT,
    Entry,
    Evaluated,
    Merged,
    Purchased,
    Reported,
    encode,
    sampled,
)
from engine.runtime.clock import Clock
from engine.runtime.config import SiteConfig
from engine.runtime.metrics import Metrics
from engine.store.base import Store, StoreUnavailable
from engine.wire.protocol import LIMITS, Limits

log = logging.getLogger("ondo.recorder")
BUFFERED = 50_000  # entries per site kept in memory while the store is away
INTERVAL = 0.25  # seconds between two writes
# Profile keys whose properties are counted this hour (~250 bytes each); past
# it the least recently seen is forgotten (and may record a budget again this
# hour): a visitor who keeps sending stays among the most recently seen.
PROPS_KEYS = 20_000


def _raw(value: Any) -> dict[str, Any]:
    # The Redis store hands caps over undecoded (engine/store/redis.py,
    # StoredCaps): recorded as the store's own msgpack, never decoded here.
    raw = getattr(value, "raw", None)
    if raw is not None:
        return raw()  # type: ignore[no-any-return]
    return dict(value) if isinstance(value, Mapping) else {}


class PropsBudget:
    """The bytes of properties each (site, profile key) had recorded this
    hour, in memory bounded by ``keys`` (and emptied every hour)."""

    def __init__(self, per_hour: int, keys: int = PROPS_KEYS) -> None:
        self.per_hour, self.keys = per_hour, keys
        self._hour = -1
        self._used: collections.OrderedDict[tuple[str, str], int] = collections.OrderedDict()

    def allow(self, site: str, key: str, size: int, now: float) -> bool:
        """Whether ``size`` more bytes fit in the key's budget (then counted)."""
        hour = int(now // 3_600)
        if hour != self._hour:
            self._hour = hour
            self._used.clear()
        used = self._used.pop((site, key), 0)
        fits = used + size <= self.per_hour
        self._used[(site, key)] = used + size if fits else used  # now the most recent
        if len(self._used) > self.keys:
            self._used.popitem(last=False)
        return fits


class Recorder:
    def __init__(self, store: Store, metrics: Metrics | None = None,
                 interval: float = INTERVAL, limits: Limits = LIMITS) -> None:
        self.store = store
        self.metrics = metrics or Metrics()  # recorded and dropped entries
        self.interval = interval
        self.props = PropsBudget(limits.visitor_props_bytes)
        self._pending: dict[str, list[tuple[float, bytes]]] = {}
        self._configs: dict[str, SiteConfig] = {}

    def add(self, config: SiteConfig, entry: Entry) -> None:
        if not config.forecast_days or not sampled(entry.key, config.forecast_sample):
            return
        pending = self._pending.get(config.id)
        if pending is None:
            pending = self._pending[config.id] = []
            self._configs[config.id] = config
        pending.append((entry.now, encode(entry)))
        if len(pending) > BUFFERED:
            self.metrics.recording_dropped += len(pending) - BUFFERED
            del pending[:len(pending) - BUFFERED]

    def evaluated(self, config: SiteConfig, now: float, key: str, event_id: str,
                  triggers: tuple[str, ...], held_back: bool, profile: dict[str, Any],
                  stored: Mapping[str, Any], decision: Decision | None) -> None:
        """One matcher evaluation and what the policy made of it."""
        if not config.forecast_days:
            return
        sent: tuple[str, ...] = ()
        no_products: tuple[str, ...] = ()
        if decision is not None:
            sent = tuple(action.rule for action in decision.actions)
            if Reason.NO_RECOMMENDATIONS in decision.reasons:
                no_products = tuple(
                    rule for rule, reason in zip(decision.matched, decision.reasons, strict=True)
                    if reason is Reason.NO_RECOMMENDATIONS)
        props = profile.get("event_props")
        if props and sampled(key, config.forecast_sample) and \
                not self.props.allow(config.id, key, len(orjson.dumps(props)), now):
            profile = {**profile, "event_props": {}}
            self.metrics.recording_props_dropped += 1
        # Encoded at once (``add``): the profile is read now, never kept.
        self.add(config, Evaluated(now, key, event_id, triggers, held_back, profile,
                                   _raw(stored.get("caps")), _raw(stored.get("fatigue")),
                                   sent, no_products))

    def reported(self, config: SiteConfig, now: float, key: str, payload: Mapping[str, Any],
                 visit: int, day: str) -> None:
        """A widget's report, when it moves the delivery state (a show counts
        against caps and fatigue; a click or close may meet stop_after)."""
        if payload["what"] == "shown" or payload.get("stop"):
            self.add(config, Reported(now, key, str(payload["action"]).partition(".")[0],
                                      payload["rule"], payload["what"],
                                      bool(payload.get("stop")), visit, day))

    def purchased(self, config: SiteConfig, at: float, key: str, amount: int) -> None:
        self.add(config, Purchased(at, key, amount))

    def merged(self, config: SiteConfig, now: float, member: str, anonymous: str) -> None:
        self.add(config, Merged(now, member, anonymous))

    def _take(self) -> list[tuple[SiteConfig, list[tuple[float, bytes]]]]:
        taken = [(self._configs[site], entries) for site, entries in self._pending.items()
                 if entries]
        self._pending = {}
        return taken

    async def flush(self, now: float) -> None:
        """Write each site's entries. An outage keeps them for the next flush;
        an unexpected error on one site's recording (a broken key) drops that
        site's entries, counted, and is raised once the other sites are written
        (the supervisor logs it and starts the recorder again)."""
        failed: Exception | None = None
        for config, entries in self._take():
            try:
                await self.store.recordings.append(
                    config.id, entries, (LAYOUT.id, LAYOUT.as_json()),
                    now - config.forecast_days * 86_400.0, config.forecast_entries,
                    config.forecast_bytes)
                self.metrics.recorded += len(entries)
            except StoreUnavailable:
                log.warning("recordings of %s kept for later: storage unavailable", config.id)
                self._requeue(config.id, entries)
            except Exception as exc:
                self.metrics.recording_dropped += len(entries)
                failed = failed or exc
        if failed is not None:
            raise failed

    def _requeue(self, site: str, entries: Sequence[tuple[float, bytes]]) -> None:
        pending = self._pending.setdefault(site, [])
        pending[:0] = entries
        if len(pending) > BUFFERED:
            self.metrics.recording_dropped += len(pending) - BUFFERED
            del pending[:len(pending) - BUFFERED]

    async def run(self, stop: asyncio.Event, clock: Clock) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            await self.flush(clock.now())
