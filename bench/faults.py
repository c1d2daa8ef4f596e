"""Faults: ``python -m bench.faults [--quick] [--record] [--only NAMES]``.

What the engine promises when things go wrong, each checked and measured on a
real ``python -m engine serve`` (the demo site, its embedded redis-server with
AOF), pinned to CPU 0 with its Redis; the clients run here, on CPU 1. Scenarios
1, 2, 4 and 6 stand for visitors at many addresses, although they all connect
from 127.0.0.1: their engine gets the demo site in a config of its own that
raises the per-address connect limit (``[limits]``); 3 and 5 keep the defaults.

1. Redis killed (``kill -9``) under load: visitors send page views as the widget
   does (bench/fault_clients.py); how long acks stop, how many events are
   answered ``unavailable``, what /healthz says meanwhile; afterwards every
   visitor's stored ``pageviews_total`` must equal its distinct acked event ids.
2. The engine SIGKILLed under load and restarted on the same data directory:
   its redis-server must go with it; seconds until the new engine serves; the
   same exactly-once check (so every event acked before the kill was kept).
3. Oversized bodies (48 MiB, chunked or declared) to the beacon and the server
   events API: 413, the engine's peak RSS growth, and how much of the body the
   client could write before the engine closed the connection; JSON nested
   30,000 deep: 400.
4. Bad frames on one connection (each answer recorded), frames over 64 KiB
   (close 1009) and invalid UTF-8 (close 1007), while a neighbour's acks go on.
5. A flood from one client that reconnects at once after each close 1008 and
   each handshake refused with 429 (the per-address connect limit): acks,
   ``rate_limited`` and close codes per connection, refusals, stored events
   per second, and a neighbour's ack latency (5 events/s) with and without it.
6. Churn: connections opened (hello, one acked page view) and closed (half
   cleanly, half dropped) in waves; RSS, open fds and ``ondo_connections``.

7. Orders too big for a 64-bit sum (3,100,000,000 won, ten of 1,000,000,000)
   and amounts past their domain: the statistics exact and still counting.
8. The day's statistics key broken under traffic: the counters' task says so
   (/healthz degraded), restarts with backoff, and writes what it kept.
9. A push carrying a value no frame can hold: close 1011, logged.
10. One address flooding the beacon, and track events with huge properties:
   429s, events stored per second, Redis bytes per event.
11. A 20,000-rule file checked (and uploaded) beside live traffic: the
   neighbour's ack latency and the loop's lag.
12. Forecasts dropped mid-run, and past their time and memory budgets: the
   worker gone, the slot free.
13. Forged and out-of-domain requests: each answer and its field, no traceback.

Scenarios 1-2 are here, 3, 4 and 6 in bench/fault_inputs.py, 5 in
bench/fault_flood.py, 7-9 in bench/fault_tasks.py, 10 in bench/fault_beacon.py,
11 in bench/fault_admin.py, 12 in bench/fault_forecast.py, 13 in
bench/fault_forged.py; the engine process and the widget-like clients in
bench/fault_clients.py. Prints a Markdown report
(``--record`` appends it to bench/RESULTS.md); ``--quick`` runs every scenario
short (a few minutes in all); docs/reliability.md reads the figures. Exits 1
when a promise is broken: an acked event lost or counted twice, an HTTP 500 or
a traceback in the engine's log, a wrong answer or close code, a leftover
process, a neighbour starved, fds or connections not returned.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime
import json
import os
import re
import signal
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.fault_admin import heavy_admin
from bench.fault_beacon import beacon_abuse
from bench.fault_clients import (
    MIB,
    QUICK,
    ROOT,
    Checks,
    Engine,
    Plan,
    Timeline,
    Widget,
    drain,
    log,
    median,
    percentile,
    wait_gone,
)
from bench.fault_flood import flood
from bench.fault_forecast import forecast_bounds
from bench.fault_forged import forged
from bench.fault_inputs import bad_frames, churn, oversized
from bench.fault_tasks import broken_flush, huge_orders, unwritable_frame
from bench.load import raise_fd_limit
from bench.matcher import RESULTS, machine
from engine.wire.protocol import LIMITS

DEMO_CONFIG = ROOT / "engine" / "sites" / "demo.toml"
MANY_LIMITS = {"connects_per_second": 1_000_000, "connect_burst": 1_000_000}
ENGINE = {  # the report's line on each scenario's engine, by its clients' addresses
    True: "- engine: the demo site in a config of its own with `[limits]` "
    + ", ".join(f"`{k} = {v}`" for k, v in MANY_LIMITS.items())
    + " (its visitors, all on 127.0.0.1, stand for visitors at as many addresses)",
    False: "- engine: the demo site (engine/sites/demo.toml), default limits (new sockets "
    f"per address: {LIMITS.connects_per_second:g}/s, bursts of {LIMITS.connect_burst})"}


def many_addresses(path: Path) -> Path:
    """Write the demo site's config (its rules path made absolute) with the
    per-address connect limit raised out of reach."""
    site = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))["sites"][0]
    site["rules"] = str((DEMO_CONFIG.parent / site["rules"]).resolve())
    path.write_text("\n".join(["[[sites]]", *(f"{k} = {json.dumps(v)}" for k, v in site.items()),
                               "", "[limits]", *(f"{k} = {v}" for k, v in MANY_LIMITS.items()),
                               ""]), encoding="utf-8")
    return path


@contextlib.contextmanager
def engine_in(tmp: Path, name: str, checks: Checks, addresses: bool) -> Iterator[Engine]:
    """A fresh engine for one scenario (``addresses``: with the per-address
    connect limit raised); stopped with SIGTERM and checked after."""
    (tmp / name).mkdir()
    engine = Engine(tmp / name / "data",
                    config=many_addresses(tmp / name / "engine.toml") if addresses else None)
    try:
        engine.start()
        yield engine
    finally:
        code, redis_gone = engine.stop()
        checks.expect(code == 0, f"{name}: the engine exited {code} after SIGTERM")
        checks.expect(redis_gone, f"{name}: its redis-server outlived the engine's SIGTERM")
        # A scenario that breaks a task on purpose expects its one logged traceback.
        tracebacks = [t for t in engine.tracebacks() if EXPECTED.get(name, "\0") not in t]
        checks.expect(not tracebacks, f"{name}: {len(tracebacks)} traceback(s) in the engine's "
                      f"log: {', '.join(sorted(set(tracebacks)))[:300]}")


async def sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


async def poll_health(engine: Engine, seen: list[tuple[float, int, str]]) -> None:
    while True:
        code, status = await asyncio.to_thread(engine.health)
        seen.append((time.monotonic(), code, status))
        await asyncio.sleep(0.05)


def first_after(times: list[float], moment: float) -> float | None:
    i = bisect.bisect_right(times, moment)
    return times[i] if i < len(times) else None


def waits(widgets: list[Widget], begin: float, end: float) -> str:
    """How long the events first sent in [begin, end) waited for their ack (first
    send -> ack, resends included): "p50 / max s (n over 1 s)"."""
    values = [w for widget in widgets for sent, w in widget.latency if begin <= sent < end]
    return (f"{percentile(values, 50):.3f} / {max(values, default=float('nan')):.2f} "
            f"({sum(v > 1 for v in values)})")


def exactly_once(engine: Engine, widgets: list[Widget]) -> tuple[int, int, int, int]:
    """Compare each visitor's stored page views with the ids it got acknowledged:
    (acknowledged, stored, visitors with fewer stored (lost), with more (counted twice))."""
    stored = engine.stored_pageviews([w.visitor for w in widgets])
    acked = sum(len(w.acked) for w in widgets)
    lost = sum(stored[w.visitor] < len(w.acked) for w in widgets)
    twice = sum(stored[w.visitor] > len(w.acked) for w in widgets)
    return acked, sum(stored.values()), lost, twice


def check_visitors(widgets: list[Widget], engine: Engine, drained: float, name: str,
                   checks: Checks) -> list[str]:
    """The exactly-once check after a run, and the widgets' error answers."""
    left = sum(len(w.outbox) for w in widgets)
    refused = sum((w.refused for w in widgets), Counter[int]())
    acked, stored, lost, twice = exactly_once(engine, widgets)
    generated = sum(w.generated for w in widgets)
    errors = sum((w.errors for w in widgets), Counter[str]())
    checks.expect(left == 0, f"{name}: {left} events never acknowledged after the run")
    checks.expect(lost == 0, f"{name}: {lost} visitors lost acknowledged page views")
    checks.expect(twice == 0, f"{name}: {twice} visitors had page views counted twice")
    checks.expect(set(errors) <= {"unavailable", "rate_limited", "not_ready"},
                  f"{name}: error answers to valid events: {dict(errors)}")
    checks.expect(not any(w.stopped_by for w in widgets), f"{name}: a widget was told to stop")
    checks.expect(not refused, f"{name}: handshakes refused (HTTP status: count) {dict(refused)}")
    return [f"- after the run (drained in {drained:.1f} s): {generated:,} page views sent, "
            f"{acked:,} acknowledged, {stored:,} stored; visitors with an acked page view "
            f"lost: **{lost}**, with one counted twice: **{twice}**",
            f"- error answers: {dict(errors) or 'none'}; reconnects: "
            f"{sum(w.connects for w in widgets) - len(widgets):,}; handshakes refused: "
            f"{dict(refused) or 'none'}"]


# -- 1. Redis killed under load


async def redis_kill(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    timeline = Timeline()
    widgets = [Widget(engine, f"redis-kill-{i:04d}", plan.rate, timeline)
               for i in range(plan.visitors)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in widgets]
    health: list[tuple[float, int, str]] = []
    poller = asyncio.create_task(poll_health(engine, health))
    start = time.monotonic()
    kills: list[float] = []
    aof: list[float] = []  # MiB the restarted redis-server has to load
    for k in range(plan.kills):
        await sleep_until(start + plan.warmup + k * plan.interval)
        pid = engine.redis_pid
        aof.append(sum(f.stat().st_size for f in (engine.data_dir / "appendonlydir").iterdir())
                   / MIB)
        os.kill(pid, signal.SIGKILL)
        kills.append(time.monotonic())
        log(f"redis-server {pid} killed")
    await sleep_until(start + plan.warmup + plan.kills * plan.interval)
    stop.set()
    drained = await drain(widgets, tasks, 60.0)
    poller.cancel()
    backs = [float(x) for x in re.findall(r"redis-server is back after ([0-9.]+)s",
                                          engine.output())]
    checks.expect(len(backs) == plan.kills, f"redis-kill: {len(backs)} restarts of "
                  f"redis-server logged for {plan.kills} kills")
    rows, gaps = [], []
    unavailable = timeline.unavailable
    for k, kill in enumerate(kills):
        end = kills[k + 1] if k + 1 < len(kills) else float("inf")
        first_bad = first_after(unavailable, kill)
        back = first_after(timeline.acks, first_bad) if first_bad else None
        gap = back - first_bad if back and first_bad else float("nan")
        gaps.append(gap)
        n_bad = bisect.bisect_left(unavailable, end) - bisect.bisect_left(unavailable, kill)
        seen = [(c, s) for t, c, s in health if kill <= t < (back or kill) + 0.5]
        statuses = Counter(f"{c} {s}" for c, s in seen)
        checks.expect(all(c in (200, 503) for c, _ in seen),
                      f"redis-kill: /healthz answered {dict(statuses)}")
        first_503 = next((t for t, c, _ in health if c == 503 and kill <= t < end), None)
        ok_again = next((t for t, c, _ in health if c == 200 and first_503 and t > first_503),
                        None)
        degraded = (ok_again - first_503) * 1e3 if first_503 and ok_again else 0.0
        rows.append(f"| {k + 1} | {gap * 1e3:,.0f} | "
                    f"{((back or kill) - kill) * 1e3:,.0f} | {n_bad:,} | "
                    f"{', '.join(f'{s} ×{n}' for s, n in statuses.items())} | "
                    f"{degraded:,.0f} | "
                    f"{backs[k] if k < len(backs) else float('nan'):.2f} | {aof[k]:.1f} | "
                    f"{waits(widgets, kill - 1, min(end, kill + plan.interval))} |")
    return [f"- {plan.visitors} visitors × {plan.rate:g} page views/s "
            "(widget behaviour: outbox, resend with the same id after 500 ms + backoff, its "
            "counter reset by every ack); the embedded "
            f"redis-server `kill -9`ed {plan.kills}× ({plan.interval:g} s apart); /healthz "
            "polled every 50 ms", "",
            "| kill | no acks: first `unavailable` → first ack, ms | kill → first ack, ms | "
            "`unavailable` answers | /healthz seen (status ×polls) | first 503 → 200, ms | "
            "redis back after, s (engine log) | its AOF, MiB | events sent from 1 s before: "
            "wait for the ack, p50 / max s (how many over 1 s) |",
            "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
            *rows, "", f"- median time without acks: **{median(gaps) * 1e3:,.0f} ms**",
            *check_visitors(widgets, engine, drained, "redis-kill", checks)]


# -- 2. Engine killed under load and restarted


async def engine_kill(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    timeline = Timeline()
    widgets = [Widget(engine, f"engine-kill-{i:04d}", plan.rate, timeline)
               for i in range(plan.visitors)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in widgets]
    start = time.monotonic()
    rows: list[tuple[int, int, float, float, float, float]] = []
    downs: list[float] = []
    serving: list[float] = []
    for k in range(plan.kills):
        await sleep_until(start + plan.warmup + k * plan.interval)
        redis_pid = engine.redis_pid
        acked_before = sum(len(w.acked) for w in widgets)
        killed = time.monotonic()
        engine.kill(signal.SIGKILL)
        gone = await asyncio.to_thread(wait_gone, redis_pid, 10.0)
        checks.expect(gone is not None, f"engine-kill: redis-server {redis_pid} still runs "
                      "10 s after its engine was SIGKILLed")
        restart = time.monotonic()
        await asyncio.to_thread(engine.start)
        ready = time.monotonic()
        log(f"engine killed; redis gone after {gone}; serving again after {ready - killed:.2f} s")
        downs.append(ready - killed)
        serving.append(ready - restart)
        rows.append((k + 1, acked_before, (gone or float("nan")) * 1e3, ready - restart,
                     ready - killed, killed))
    await sleep_until(start + plan.warmup + plan.kills * plan.interval)
    stop.set()
    drained = await drain(widgets, tasks, 90.0)
    table = []
    for n, acked_before, gone_ms, start_s, down_s, killed in rows:
        back = first_after(timeline.acks, killed)
        table.append(f"| {n} | {acked_before:,} | {gone_ms:,.0f} | {start_s:.2f} | {down_s:.2f} | "
                     f"{(back - killed) if back else float('nan'):.2f} | "
                     f"{waits(widgets, killed - 1, killed + plan.interval)} |")
    return [f"- {plan.visitors} visitors × {plan.rate:g} page views/s; the engine SIGKILLed "
            f"{plan.kills}× ({plan.interval:g} s apart) and started again at once (same port and "
            "data directory) once its redis-server was gone; clients reconnect with the "
            "widget's backoff (full jitter, 0.5 s × 2^attempt) and resend their outbox", "",
            "| kill | acked before the kill (total) | redis-server gone, ms after the engine "
            "died | restart → /healthz 200, s | kill → serving, s | kill → first ack, s | "
            "events sent from 1 s before: wait for the ack, p50 / max s (how many over 1 s) |",
            "|---:|---:|---:|---:|---:|---:|---:|", *table, "",
            f"- median: serving again **{median(downs):.2f} s** after the kill "
            f"({median(serving):.2f} s of it the new engine's start-up)",
            *check_visitors(widgets, engine, drained, "engine-kill", checks)]


# -- the run


def leftovers(tmp: Path) -> list[str]:
    """Processes still running with the bench's temporary directory on their command line."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if str(tmp) in cmdline and int(pid) != os.getpid():
                found.append(f"{pid} {cmdline[:80]}")
    return found


# (name, title, the scenario, whether its clients stand for many addresses)
SCENARIOS: list[tuple[str, str, Callable[[Engine, Plan, Checks], object], bool]] = [
    ("redis-kill", "1. Redis killed (`kill -9`) under load", redis_kill, True),
    ("engine-kill", "2. The engine SIGKILLed under load and restarted", engine_kill, True),
    ("oversized", "3. Oversized and deeply nested bodies", oversized, False),
    ("bad-frames", "4. Bad frames", bad_frames, True),
    ("flood", "5. A flood from one client", flood, False),
    ("churn", "6. Connection churn", churn, True),
    ("huge-orders", "7. Orders too big for a 64-bit sum", huge_orders, False),
    ("broken-flush", "8. A supervised task that fails: the statistics key broken", broken_flush,
     False),
    ("unwritable-frame", "9. A frame that cannot be written", unwritable_frame, False),
    ("beacon", "10. One stranger and the beacon", beacon_abuse, False),
    ("admin", "11. Heavy admin work beside live traffic", heavy_admin, False),
    ("forecast", "12. Forecasts bounded and cancellable", forecast_bounds, False),
    ("forged", "13. Forged and out-of-domain requests", forged, False),
]


# What a scenario's own fault logs with a traceback (the supervisor's first
# report of a failing task), by scenario: the check for tracebacks skips it.
EXPECTED = {"broken-flush": "WRONGTYPE"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short scenarios (a few minutes)")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--only", help="comma-separated scenario names (redis-kill, ...)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the engine and its Redis get CPU 0
    fds = raise_fd_limit()
    checks = Checks()
    sections: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ondo-faults-") as name:
        tmp = Path(name)
        for key, title, scenario, addresses in SCENARIOS:
            if args.only and key not in args.only.split(","):
                continue
            log(f"scenario {title}")
            started = time.monotonic()
            with engine_in(tmp, key, checks, addresses) as engine:
                out = scenario(engine, plan, checks)
                lines = asyncio.run(out) if asyncio.iscoroutine(out) else out
            assert isinstance(lines, list)
            sections += ["", f"#### {title}", "", ENGINE[addresses],
                         *([""] if lines and lines[0].startswith("|") else []), *lines]
            log(f"scenario {key} took {time.monotonic() - started:.0f} s")
        left = leftovers(tmp)
        checks.expect(not left, f"processes left running: {left}")
    command = "python -m bench.faults" + (" --quick" if args.quick else "") + (
        f" --only {args.only}" if args.only else "")
    verdict = ("every promise kept" if not checks.failed else
               f"**{len(checks.failed)} promise(s) broken**: " + "; ".join(checks.failed))
    report = "\n".join([
        f"### Faults — {datetime.date.today().isoformat()}", "", f"- command: `{command}`",
        f"- machine: {machine()}; the engine (and its embedded redis-server) pinned to CPU 0, "
        f"the clients to CPU 1; fd limit {fds}", f"- result: {verdict}", *sections]) + "\n"
    print(report)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as out_file:
            out_file.write("\n" + report)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
