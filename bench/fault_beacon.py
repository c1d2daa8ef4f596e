"""A scenario for bench/faults.py: one stranger and the beacon (``POST
/v1/beacon``, unauthenticated), on an engine with the default limits.

1. Who answers: an unknown site and a disallowed origin must get the same
   answer (no site ids to enumerate); one visitor's beacons past its event
   bucket (20/s, bursts of 40) get 429 naming ``events``.
2. A flood: one address posts beacons of 40 page views, each for a fresh
   visitor id, as fast as 4 connections can, for a window; counted: beacons
   accepted (204) and refused (429 naming ``address``), the events stored
   (every accepted beacon whole, every refused one not at all: the visitors'
   stored ``pageviews_total``), stored events per second against the socket
   path's ~800/s per address (docs/reliability.md, section 5).
3. Bytes: ``track`` floods, a fresh visitor per beacon: the issue's event
   (30 properties of 2,000 characters, one per beacon) and then the largest
   accepted (properties just under ``props_bytes``, 15 events per beacon); the
   growth of Redis's ``used_memory`` per accepted event, and of the site's
   recording stream; one visitor posting 40 such events: what the recording
   kept of their properties (``visitor_props_bytes`` per hour; the rest is
   counted in ``ondo_recording_props_dropped_total``).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import redis

from bench.fault_clients import ORIGIN, SITE, Checks, Engine, Plan, log
from engine.wire.protocol import BEACON_PATH, LIMITS

CLIENTS = 4  # connections posting at once, all from 127.0.0.1
EVENTS = LIMITS.event_burst  # events per beacon, the most one may carry
PAUSE = LIMITS.connect_burst / LIMITS.connects_per_second  # seconds: the address bucket refills
SOCKET_RATE = 800  # events/s one address gets stored through sockets (docs/reliability.md, 5)
_ids = itertools.count(1)


def pageview(n: int) -> dict[str, object]:
    return {"t": "event", "id": f"bp{next(_ids)}", "kind": "pageview", "at": 0,
            "data": {"url": f"{ORIGIN}/p{n}"}}


def track(props: dict[str, str]) -> dict[str, object]:
    return {"t": "event", "id": f"bt{next(_ids)}", "kind": "track", "at": 0,
            "data": {"name": "flood", "props": props}}


def tracks(event_props: dict[str, str], count: int) -> list[dict[str, object]]:
    return [track(event_props) for _ in range(count)]


def props(count: int, size: int) -> dict[str, str]:
    return {f"p{n:02d}": "x" * size for n in range(count)}


# The event: 30 properties of 2,000 characters (~60 KiB of JSON).
HUGE = props(30, 2_000)
# The largest properties accepted: their JSON just under props_bytes.
LARGEST = props(2, (LIMITS.props_bytes - 40) // 2)
LARGEST_PER_BEACON = 15  # 15 x ~4 KiB: as many as fit in one 64 KiB body


@dataclass
class Posted:
    """What one address's beacons got."""

    statuses: Counter[int] = field(default_factory=Counter)
    fields: Counter[str] = field(default_factory=Counter)  # of the refusals
    retry_after: Counter[str] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)  # visitor ids of accepted beacons
    refused: list[str] = field(default_factory=list)
    events: int = 0  # events in accepted beacons
    first_refused: float | None = None  # seconds into the flood
    events_after: int = 0  # events accepted from the first refusal on
    seconds: float = 0.0

    def add(self, visitor: str, events: int, reply: httpx.Response, at: float) -> None:
        self.statuses[reply.status_code] += 1
        if reply.status_code == 204:
            self.accepted.append(visitor)
            self.events += events
            self.events_after += events if self.first_refused is not None else 0
            return
        if self.first_refused is None:
            self.first_refused = at
        self.refused.append(visitor)
        try:
            self.fields[str(reply.json().get("field"))] += 1
        except ValueError:
            self.fields["(no JSON)"] += 1
        self.retry_after[reply.headers.get("retry-after", "none")] += 1


async def post(client: httpx.AsyncClient, visitor: str, events: list[dict[str, object]],
               site: str = SITE, origin: str = ORIGIN) -> httpx.Response:
    body = json.dumps({"site": site, "visitor": visitor, "events": events})
    return await client.post(BEACON_PATH, content=body,
                             headers={"Origin": origin, "Content-Type": "text/plain"})


async def flood(client: httpx.AsyncClient, seconds: float, prefix: str,
                make: Callable[[], list[dict[str, object]]]) -> Posted:
    """Beacons of ``make()`` events, each for a fresh visitor, from ``CLIENTS``
    connections at once, for ``seconds``."""
    posted = Posted()
    start = time.monotonic()
    numbers = itertools.count()

    async def one_client() -> None:
        while time.monotonic() - start < seconds:
            visitor = f"{prefix}-{next(numbers):07d}"
            events = make()
            reply = await post(client, visitor, events)
            posted.add(visitor, len(events), reply, time.monotonic() - start)

    await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    posted.seconds = time.monotonic() - start
    return posted


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def stream_bytes(client: redis.Redis) -> int:
    return int(client.memory_usage(f"ondo:{{{SITE}}}:rec", samples=0) or 0)


async def settled(client: redis.Redis) -> tuple[int, int]:
    """Redis's used memory and the recording's, once the recorder has flushed
    (every 0.25 s) what the last beacons recorded."""
    await asyncio.sleep(1.5)
    return used_memory(client), stream_bytes(client)


def spread(posted: Posted) -> str:
    return ", ".join(f"{status}: {n:,}" for status, n in sorted(posted.statuses.items()))


async def beacon_abuse(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    lines: list[str] = []
    store = redis.Redis.from_url(engine.redis_url)
    async with httpx.AsyncClient(base_url=engine.url, timeout=10.0, trust_env=False,
                                 limits=httpx.Limits(max_connections=CLIENTS)) as client:
        # 1. Who answers what
        unknown = await post(client, "stranger-0001", [], site="no-such-site")
        foreign = await post(client, "stranger-0001", [], origin="https://evil.example")
        same = (unknown.status_code, unknown.content) == (foreign.status_code, foreign.content)
        checks.expect(same, f"beacon: an unknown site answers {unknown.status_code} "
                      f"{unknown.text[:80]}, a foreign origin {foreign.status_code} "
                      f"{foreign.text[:80]}: site ids can be told apart")
        first = await post(client, "one-visitor-0001", [pageview(n) for n in range(EVENTS)])
        second = await post(client, "one-visitor-0001", [pageview(EVENTS)])
        field_name = second.json().get("field") if second.status_code == 429 else None
        checks.expect(first.status_code == 204 and second.status_code == 429
                      and field_name == "events" and "retry-after" in second.headers,
                      f"beacon: one visitor's {EVENTS} events then one more answered "
                      f"{first.status_code}, {second.status_code} {second.text[:80]}")
        lines += [f"- an unknown site: `{unknown.status_code} {unknown.text}`; a foreign origin: "
                  f"`{foreign.status_code} {foreign.text}`",
                  f"- one visitor: a beacon of {EVENTS} events `{first.status_code}`, one more "
                  f"event at once `{second.status_code} {second.text}` (`Retry-After: "
                  f"{second.headers.get('retry-after', 'none')}`)"]
        await asyncio.sleep(PAUSE)

        # 2. The flood
        log(f"beacon: a flood of {EVENTS}-event beacons for {plan.flood_window:g} s")
        posted = await flood(client, plan.flood_window, "flood",
                             lambda: [pageview(n) for n in range(EVENTS)])
        stored_by = engine.stored_pageviews(posted.accepted + posted.refused)
        stored = sum(stored_by.values())
        partial = [v for v in posted.accepted if stored_by[v] != EVENTS] + \
            [v for v in posted.refused if stored_by[v]]
        per_second = stored / posted.seconds
        after = "no refusal" if posted.first_refused is None else (
            f"{posted.events_after / (posted.seconds - posted.first_refused):,.0f}/s from the "
            f"first 429 on ({posted.first_refused:.1f} s in)")
        allowed = LIMITS.connect_burst + LIMITS.connects_per_second * posted.seconds
        checks.expect(len(posted.accepted) <= allowed + 1,
                      f"beacon: {len(posted.accepted):,} beacons accepted from one address in "
                      f"{posted.seconds:.1f} s (the limit lets {allowed:.0f} in)")
        checks.expect(not partial, f"beacon: {len(partial)} beacons stored in part "
                      f"(e.g. {partial[:3]})")
        checks.expect(set(posted.fields) <= {"address"} and set(posted.retry_after) <= {"1"},
                      f"beacon: refusals {dict(posted.fields)}, Retry-After "
                      f"{dict(posted.retry_after)}")
        lines += ["", f"- flood: {CLIENTS} connections from one address post beacons of "
                  f"{EVENTS} page views, each for a fresh visitor id, for "
                  f"{posted.seconds:.1f} s: answers {spread(posted)} (refusals naming "
                  f"{dict(posted.fields) or 'nothing'}, `Retry-After` "
                  f"{dict(posted.retry_after) or 'none'}); {stored:,} events stored "
                  f"({len(partial)} beacons stored in part): **{per_second:,.0f} stored "
                  f"events/s**, {after} (sockets from one address: ~{SOCKET_RATE}/s)"]
        await asyncio.sleep(PAUSE)

        # 3. Bytes
        rows = []
        for name, event_props, per_beacon in (
                ("30 properties of 2,000 characters", HUGE, 1),
                (f"properties of {len(json.dumps(LARGEST, separators=(',', ':'))):,} bytes "
                 "(the largest accepted)", LARGEST, LARGEST_PER_BEACON)):
            log(f"beacon: a track flood, {name}")
            before, stream_before = await settled(store)
            posted = await flood(client, max(2.0, plan.flood_window / 3), "bytes",
                                 functools.partial(tracks, event_props, per_beacon))
            used, stream_after = await settled(store)
            grown = (used - before) / max(posted.events, 1)
            rows.append(f"| {name} | {per_beacon} | {spread(posted)} "
                        f"({dict(posted.fields) or '–'}) | {posted.events:,} | "
                        f"{(used - before) / 2**20:,.1f} | "
                        f"{f'{grown / 1024:,.1f}' if posted.events else '–'} | "
                        f"{(stream_after - stream_before) / 2**20:,.1f} |")
            if event_props is HUGE:
                checks.expect(posted.events == 0 and set(posted.fields) <= {
                    "events[0].data.props", "address"},
                              f"beacon: {posted.events} events with {name} accepted")
            else:
                checks.expect(posted.events > 0 and grown < 4 * LIMITS.props_bytes,
                              f"beacon: {posted.events} events of the largest properties "
                              f"accepted, {grown:,.0f} bytes of Redis each")
            await asyncio.sleep(PAUSE)
        dropped_before = engine.metric("ondo_recording_props_dropped_total") or 0.0
        one = [await post(client, "one-visitor-0002", [track(LARGEST) for _ in range(10)])
               for _ in range(EVENTS // 10)]
        await asyncio.sleep(1.5)
        dropped = (engine.metric("ondo_recording_props_dropped_total") or 0.0) - dropped_before
        size = len(json.dumps(LARGEST, separators=(",", ":")))
        kept = LIMITS.visitor_props_bytes // size
        checks.expect([r.status_code for r in one] == [204] * len(one)
                      and dropped >= EVENTS - kept,
                      f"beacon: one visitor's {EVENTS} largest tracked events answered "
                      f"{[r.status_code for r in one]}, {dropped:.0f} left out of the recording")
    store.close()
    return [*lines,
        "", "| track flood, a fresh visitor per beacon | events per beacon | answers | events "
        "accepted | Redis `used_memory` growth, MiB | per accepted event, KiB | recording "
        "stream growth, MiB |", "|---|---:|---|---:|---:|---:|---:|", *rows, "",
        f"- one visitor, {EVENTS} tracked events of {size:,} bytes of properties in "
        f"{len(one)} beacons: {[r.status_code for r in one]}; properties left out of the "
        f"recording (`ondo_recording_props_dropped_total`): {dropped:.0f} (the budget, "
        f"{LIMITS.visitor_props_bytes // 1024} KiB per visitor per hour, holds {kept})"]
