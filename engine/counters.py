"""Per-rule daily counters (matched, held_out, sent, shown, clicked, closed),
added up in memory and written to the store once a second: a matched event
must not cost one Redis command per rule."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping

from engine.store import Store, StoreUnavailable

log = logging.getLogger("ondo.counters")


class Counters:
    def __init__(self, store: Store, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self._pending: Counter[tuple[str, str, str]] = Counter()

    def add(self, site: str, day: str, counts: Mapping[str, int]) -> None:
        for name, n in counts.items():
            self._pending[(site, day, name)] += n

    async def flush(self) -> None:
        pending, self._pending = self._pending, Counter()
        batches: dict[tuple[str, str], dict[str, int]] = {}
        for (site, day, name), n in pending.items():
            batches.setdefault((site, day), {})[name] = n
        for (site, day), counts in batches.items():
            try:
                await self.store.count(site, day, counts)
            except StoreUnavailable:
                # Keep them for the next flush: counters are never dropped for an outage.
                self.add(site, day, counts)
                log.warning("counters kept for later: storage unavailable")
                return

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            await self.flush()
