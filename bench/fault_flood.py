"""Scenario 5 of bench/faults.py (``python -m bench.faults --only flood``): a flood
from one client, on an engine with the default limits.

The client writes page views without a pause on one connection: the engine
acknowledges the connection's burst, answers ``rate_limited`` past it and closes
with 1008 after 10 of those. The client reconnects at once, every time, and
retries at once a handshake refused with HTTP 429 (the per-address limit on new
sockets; it ignores ``Retry-After``). Measured: the sockets it got and the
handshakes refused in each flood, the events stored for it per second (its acks,
against its stored ``pageviews_total``), and the ack latency of a neighbour (5
page views/s on one connection opened before the flood, from the same address)
with and without the flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from bench.fault_clients import (
    HELLO,
    Checks,
    Engine,
    Plan,
    Timeline,
    Widget,
    drain,
    median,
    open_socket,
    pageview,
    percentile,
)
from engine.wire.protocol import LIMITS

FLOODER = "flooder-0001"


@dataclass
class FloodRun:
    """One connection the flooding client got."""

    started: float
    sent: int = 0
    acks: int = 0
    limited: int = 0
    other: int = 0
    code: int | None = None
    seconds: float = 0.0


async def flood_once(engine: Engine, first_id: int) -> FloodRun:
    """Open a socket and flood it until the engine closes it (``InvalidStatus``
    when the handshake is refused)."""
    run = FloodRun(time.monotonic())
    ws = await open_socket(engine, FLOODER)
    await ws.send(HELLO)

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                frame = json.loads(message)
                kind, code = frame.get("t"), frame.get("code")
                run.acks += kind == "ack"
                run.limited += code == "rate_limited"
                run.other += kind == "error" and code != "rate_limited"

    reader = asyncio.create_task(read())
    with contextlib.suppress(ConnectionClosed):
        while not reader.done():
            await ws.send(pageview(f"flood-{first_id + run.sent}", run.sent))
            run.sent += 1
            if run.sent % 16 == 0:
                await asyncio.sleep(0)
    await reader
    run.code, run.seconds = ws.close_code, time.monotonic() - run.started
    return run


@dataclass
class Flooder:
    runs: list[FloodRun] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)  # when a handshake was refused
    statuses: Counter[int] = field(default_factory=Counter)  # of the refusals
    failed: Counter[str] = field(default_factory=Counter)  # other handshake failures
    sent: int = 0
    retry_after: str | None = None  # of the first refusal
    refusal: dict[str, object] = field(default_factory=dict)  # its body

    async def flood(self, engine: Engine, seconds: float) -> None:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            try:
                run = await flood_once(engine, self.sent)
            except InvalidStatus as exc:
                self.refused.append(time.monotonic())
                self.statuses[exc.response.status_code] += 1
                if not self.refusal:
                    self.retry_after = exc.response.headers.get("Retry-After")
                    with contextlib.suppress(ValueError):
                        self.refusal = dict(json.loads(exc.response.body))
                continue
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.failed[type(exc).__name__] += 1
                continue
            self.runs.append(run)
            self.sent += run.sent


async def flood(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    timeline = Timeline()
    neighbour = Widget(engine, "flood-neighbour", 5.0, timeline)
    stop = asyncio.Event()
    task = asyncio.create_task(neighbour.run(stop))
    await asyncio.sleep(1.0)
    flooder = Flooder()
    windows: list[tuple[str, float, float]] = []
    for _ in range(plan.flood_rounds):
        quiet = time.monotonic()
        await asyncio.sleep(plan.flood_window)
        flooding = time.monotonic()
        windows.append(("quiet", quiet, flooding))
        await flooder.flood(engine, plan.flood_window)
        windows.append(("flood", flooding, time.monotonic()))
    stop.set()
    await drain([neighbour], [task], 30.0)
    stored = engine.stored_pageviews([FLOODER])[FLOODER]
    runs = flooder.runs
    lat: dict[str, list[float]] = {"quiet": [], "flood": []}
    for sent, seconds in neighbour.latency:
        for name, begin, end in windows:
            if begin <= sent < end:
                lat[name].append(seconds)
    rounds = []
    for n, (_, begin, end) in enumerate(w for w in windows if w[0] == "flood"):
        got = [r for r in runs if begin <= r.started < end]
        refused = [t for t in flooder.refused if begin <= t < end]
        first = refused[0] if refused else end
        acks = sum(r.acks for r in got)
        after = sum(r.acks for r in got if r.started >= first)
        limit = LIMITS.connect_burst + LIMITS.connects_per_second * (end - begin)
        checks.expect(len(got) <= limit + 1, f"flood: {len(got)} sockets accepted from one "
                      f"address in {end - begin:.1f} s (the limit lets {limit:.0f} in)")
        rounds.append(f"| {n + 1} | {len(got):,} | {len(refused):,} "
                      f"({len(refused) / max(end - first, 1e-9):,.0f}/s) | "
                      f"{'–' if not refused else f'{first - begin:.2f}'} | {acks:,} | "
                      f"{acks / (end - begin):,.0f} | "
                      f"{'–' if not refused else f'{after / max(end - first, 1e-9):,.0f}'} |")
    codes = Counter(r.code for r in runs)
    acks = sum(r.acks for r in runs)
    checks.expect(set(codes) == {1008}, f"flood: close codes {dict(codes)}, not only 1008")
    checks.expect(not any(r.other for r in runs), "flood: other errors than rate_limited")
    checks.expect(set(flooder.statuses) <= {429} and not flooder.failed, "flood: handshakes "
                  f"refused {dict(flooder.statuses)}, failed {dict(flooder.failed)}")
    checks.expect(not flooder.refusal or (flooder.refusal.get("field") == "address"
                                          and flooder.retry_after == "1"),
                  f"flood: a 429 with Retry-After {flooder.retry_after}, {flooder.refusal}")
    checks.expect(stored >= acks, f"flood: {acks:,} events acked, {stored:,} stored")
    ok = neighbour.generated == len(neighbour.acked) and not neighbour.errors
    checks.expect(ok and not neighbour.refused, f"flood: the neighbour got "
                  f"{len(neighbour.acked)} acks for {neighbour.generated} events, errors "
                  f"{dict(neighbour.errors)}, refused {dict(neighbour.refused)}")
    span = sum(end - begin for name, begin, end in windows if name == "flood")

    def row(name: str) -> str:
        values = lat[name]
        return (f"| {name} | {len(values)} | {percentile(values, 50) * 1e3:.2f} | "
                f"{percentile(values, 99) * 1e3:.2f} | {max(values, default=0) * 1e3:.2f} |")

    refusal = (f"; e.g. `Retry-After: {flooder.retry_after}`, "
               f"`{json.dumps(flooder.refusal, ensure_ascii=False)}`" if flooder.refusal else "")
    return [f"- one client floods (no pause between frames), is closed, reconnects at once and "
            "floods again, and retries at once a handshake refused with 429 (ignoring "
            f"`Retry-After`), {plan.flood_rounds}× {plan.flood_window:g} s, alternating with "
            f"{plan.flood_window:g} s quiet windows; a neighbour (one connection, opened before, "
            "from the same address) sends 5 page views/s throughout", "",
            f"- flood: {len(runs):,} sockets accepted, close codes {dict(codes)}; "
            f"{len(flooder.refused):,} handshakes refused ({dict(flooder.statuses)}{refusal}), "
            f"other handshake failures: {dict(flooder.failed) or 'none'}; per accepted socket "
            f"(median): {median([r.sent for r in runs]):,.0f} frames sent before the close "
            f"arrived, {median([r.acks for r in runs]):,.0f} acked, "
            f"{median([r.limited for r in runs]):,.0f} `rate_limited`, closed after "
            f"{median([r.seconds for r in runs]) * 1e3:,.0f} ms; in all {flooder.sent:,} frames "
            f"sent, {acks:,} acked, {stored:,} stored (the flooder's `pageviews_total`): "
            f"**{stored / span:,.0f} stored events/s** over {span:.0f} s of flood", "",
            "| flood | sockets accepted | handshakes refused (per s from the first on) | "
            "first 429, s into the flood | events acked | acked events/s | acked events/s "
            "from the first 429 on |",
            "|---:|---:|---:|---:|---:|---:|---:|", *rounds, "",
            "| neighbour's windows | acks | p50 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|",
            row("quiet"), row("flood"), "",
            f"- the neighbour: {len(neighbour.acked)}/{neighbour.generated} acked, errors "
            f"{dict(neighbour.errors) or 'none'}"]
