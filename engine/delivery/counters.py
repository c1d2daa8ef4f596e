"""Per-rule daily counters: how often each rule matched and what became of it
(``sent``, or the delivery reason it was not: ``lost_to``, ``capped``, …), and
what the widget reported (``shown``, ``clicked``, ``closed``).

Fields are ``"rule|what"`` in one hash per site and day. They are added up
in memory and written to the store once a second: a matched event must not
cost one Redis command per rule. ``matched`` is not counted per event but
derived when writing, as the sum of the rule's delivery outcomes. Totals
since start-up feed /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterator, Mapping

from engine.delivery.policy import Decision, Reason
from engine.store.base import Store, StoreUnavailable

log = logging.getLogger("ondo.counters")

# The stored field of each delivery outcome ("sent", not "shown": the widget
# reports "shown" once it is actually on the screen).
FIELD_OF = {reason: "sent" if reason is Reason.SHOWN else reason.value for reason in Reason}
OUTCOMES = frozenset(FIELD_OF.values())


class Counters:
    def __init__(self, store: Store, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        # (site, day) -> new counts: "rule|what" for reports, (rule, reason) for decisions
        self._pending: dict[tuple[str, str], Counter[str | tuple[str, Reason]]] = {}
        self._unwritten: dict[tuple[str, str], Counter[str]] = {}  # counted, not stored yet
        self.totals: Counter[tuple[str, str]] = Counter()  # (site, "rule|what") since start

    def _day(self, site: str, day: str) -> Counter[str | tuple[str, Reason]]:
        pending = self._pending.get((site, day))
        if pending is None:
            pending = self._pending[(site, day)] = Counter()
        return pending

    def add(self, site: str, day: str, counts: Mapping[str, int]) -> None:
        self._day(site, day).update(counts)

    def decided(self, site: str, day: str, decision: Decision) -> None:
        """Count the outcome of every rule one event matched."""
        # Counted in C, as (rule, reason) pairs: one event can match hundreds of rules.
        self._day(site, day).update(zip(decision.matched, decision.reasons, strict=True))

    def _take(self) -> Iterator[tuple[tuple[str, str], Counter[str]]]:
        """Move new counts to the totals and the unwritten, with ``matched``."""
        pending, self._pending = self._pending, {}
        for (site, day), counts in pending.items():
            fields: Counter[str] = Counter()
            for key, n in counts.items():
                if isinstance(key, tuple):
                    rule, reason = key
                    fields[f"{rule}|{FIELD_OF[reason]}"] += n
                    fields[f"{rule}|matched"] += n
                else:
                    fields[key] += n
            for name, n in fields.items():
                self.totals[(site, name)] += n
            self._unwritten.setdefault((site, day), Counter()).update(fields)
        return iter(list(self._unwritten.items()))

    async def flush(self) -> None:
        for key, counts in self._take():
            try:
                await self.store.count(key[0], key[1], counts)
            except StoreUnavailable:
                # Kept for the next flush: counters are never dropped for an outage.
                log.warning("counters kept for later: storage unavailable")
                return
            del self._unwritten[key]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            await self.flush()
