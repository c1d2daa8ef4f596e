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
from collections.abc import Callable, Iterable, Iterator, Mapping

from engine.delivery.attribution import Credit
from engine.delivery.policy import Decision, Reason
from engine.stats.report import SQUARES_HIGH, SQUARES_SPLIT
from engine.store.base import STATS_TTL, Store, StoreUnavailable

log = logging.getLogger("ondo.counters")

# The stored field of each delivery outcome ("sent", not "shown": the widget
# reports "shown" once it is actually on the screen).
FIELD_OF = {reason: "sent" if reason is Reason.SHOWN else reason.value for reason in Reason}
OUTCOMES = frozenset(FIELD_OF.values())


SITE = "@site"  # the rule name of the site-wide figures; no rule id can be this
_LOW = (1 << SQUARES_SPLIT) - 1


def field(rule: str, what: str, group: str | None = None) -> str:
    """A counter's name: "rule|what", or "rule|what|group" for the figures
    kept per measurement group (engine/delivery/policy.py, ``group``)."""
    return f"{rule}|{what}" if group is None else f"{rule}|{what}|{group}"


class Counters:
    def __init__(self, store: Store, interval: float = 1.0,
                 retention: Mapping[str, float] | None = None,
                 on_refused: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.on_refused = on_refused  # told of each count the store refused
        self.interval = interval
        self.retention = dict(retention or {})  # site -> seconds its days are kept
        # (site, day) -> name -> profile keys: distinct visitors, not yet written
        self._seen: dict[tuple[str, str], dict[str, set[str]]] = {}
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

    def seen(self, site: str, day: str, name: str, visitor: str) -> None:
        """Count ``visitor`` (a profile key) once in a distinct-visitor counter."""
        named = self._seen.get((site, day))
        if named is None:
            named = self._seen[(site, day)] = {}
        keys = named.get(name)
        if keys is None:
            keys = named[name] = set()
        keys.add(visitor)

    def converted(self, site: str, day: str, visitor: str, credited: Iterable[Credit],
                  amount: int, site_group: str) -> None:
        """A purchase (or the site's goal event, amount 0) by ``visitor``:
        conversions, revenue and converted visitors for every credited rule's
        group, and for the site's group."""
        counts = self._day(site, day)
        credited = list(credited)
        for rule, group in [*((c.rule, c.group) for c in credited), (SITE, site_group)]:
            counts[field(rule, "conversions", group)] += 1
            counts[field(rule, "revenue", group)] += amount
            square = amount * amount
            counts[field(rule, "revenue_sq", group)] += square & _LOW
            counts[field(rule, SQUARES_HIGH, group)] += square >> SQUARES_SPLIT
            self.seen(site, day, field(rule, "converted", group), visitor)
        for credit in credited:
            if credit.clicked:
                counts[field(credit.rule, "click_conversions")] += 1

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
                if name.count("|") == 1:  # the operator's view: no statistics by group
                    self.totals[(site, name)] += n
            self._unwritten.setdefault((site, day), Counter()).update(fields)
        return iter(list(self._unwritten.items()))

    async def flush(self) -> None:
        """Write what was counted. A storage outage keeps it for the next flush;
        a count the store refuses (a sum that would leave its 64-bit integers,
        engine/store/lua/count.lua) is dropped, logged and counted, never kept
        to fail every flush after it. An unexpected error on one site's day
        leaves the others written and is raised after them (the supervisor
        logs it and starts the flush again)."""
        failed: Exception | None = None
        for (site, day), counts in self._take():
            try:
                # The store takes out of ``counts`` what it wrote or refused as
                # it goes: after an error, what is left was not written.
                refused = await self.store.count(site, day, counts, self._ttl(site))
                self._refuse(site, day, refused)
            except StoreUnavailable:
                # Kept for the next flush: counters are never dropped for an outage.
                log.warning("counters kept for later: storage unavailable")
                return
            except Exception as exc:
                failed = failed or exc
                continue
            del self._unwritten[(site, day)]
        seen, self._seen = self._seen, {}
        for (site, day), visitors in seen.items():
            try:
                await self.store.add_visitors(site, day, visitors, self._ttl(site))
            except StoreUnavailable:
                for name, keys in visitors.items():  # kept for the next flush
                    self._seen.setdefault((site, day), {}).setdefault(name, set()).update(keys)
        if failed is not None:
            raise failed

    def _refuse(self, site: str, day: str, refused: Mapping[str, int]) -> None:
        for name, n in refused.items():
            if self.on_refused is not None:
                self.on_refused(1)
            log.error("the count %s of %s on %s is refused by the store: adding %d would leave "
                      "its 64-bit integers, or what it holds is not an integer; dropped "
                      "(ondo_counts_refused_total)", name, site, day, n)

    def _ttl(self, site: str) -> float:
        return self.retention.get(site, STATS_TTL)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            await self.flush()
