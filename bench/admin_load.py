"""Page views of one site while another checks a 20,000-rule file:
``python -m bench.admin_load [--runs 3] [--seconds 20] [--rules 20000]``.

One engine as a user runs it (``python -m engine serve --config FILE``, its
embedded Redis), pinned to CPU 0 with everything it starts (its Redis, its job
workers); the clients here, on CPU 1. Two sites: demo-shop with the seed
recipes, whose visitors (``--visitors`` × ``--rate`` page views/s, behaving as
the widget does: bench/fault_clients.py) time each page view from its send to
its ack; and big-shop, whose admin checks a generated file of ``--rules`` rules
(bench/workload.py; 20,000 rules are 3.6 MiB) again and again, as the console
does while a marketer types (``POST .../rules/validate``), one check at a time.

Each run is ``--seconds`` quiet, then ``--seconds`` with the checks (the check
in flight at its end is waited for before the next run); the table gives each
window's p50, p99 and max ack latency, and the medians over the runs. Then the
latency of checking a 100-rule file on the quiet engine (what the console's
as-you-type check waits): p50 and p90 of 20, after one to warm up.

Prints Markdown for bench/RESULTS.md. Before heavy admin work moved to job
workers (engine/runtime/jobs.py), each check of 20,000 rules held the engine's
event loop for its whole length: run this module from a checkout of that code
to see it.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime
import hashlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.fault_clients import (
    ORIGIN,
    ROOT,
    Engine,
    Timeline,
    Widget,
    drain,
    http,
    log,
    median,
    percentile,
)
from bench.matcher import machine
from bench.workload import rule_file
from engine.runtime.metrics import BUCKETS

SEED = ROOT / "rules" / "library" / "seed-recipes.yaml"
ADMIN = "big-shop"  # the site whose rule files are checked
TOKEN = "bench-admin-token"


def config(path: Path) -> Path:
    """demo-shop (the visitors' site) and big-shop (the admin's); no connect
    limit per address: every simulated visitor connects from this machine."""
    sha = hashlib.sha256(TOKEN.encode()).hexdigest()
    path.write_text(f"""[[sites]]
id = "demo-shop"
origins = ["{ORIGIN}"]
secret = "demo-shop-secret-0123456789"
rules = "{SEED}"

[[sites]]
id = "{ADMIN}"
origins = ["{ORIGIN}"]
secret = "big-shop-secret-0123456789"
admin_token_sha256 = "{sha}"

[limits]
connects_per_second = 1000000
connect_burst = 1000000
""", encoding="utf-8")
    return path


def validate(url: str, body: bytes) -> tuple[int, float]:
    """One check of a rule file: (HTTP status, seconds)."""
    started = time.monotonic()
    status, _ = http("POST", f"{url}/v1/sites/{ADMIN}/rules/validate", body,
                     {"Authorization": f"Bearer {TOKEN}"}, timeout=600)
    return status, time.monotonic() - started


def loop_lag(engine: Engine) -> list[int]:
    """The engine's own count of how late its loop woke, by bucket
    (``ondo_pause_seconds{cause="loop"}``, engine/runtime/stalls.py)."""
    _, body = http("GET", f"{engine.url}/metrics", timeout=60)  # a blocked loop answers late
    return [int(float(line.rsplit(" ", 1)[1])) for line in body.decode().splitlines()
            if line.startswith('ondo_pause_seconds_bucket{cause="loop"')]


def latest(before: list[int], after: list[int]) -> str:
    """How late the loop woke at its latest between two readings, as the bound
    of its bucket: "≤ 25 ms", or "> 1 s" (the buckets are cumulative)."""
    if not before or len(before) != len(after):
        return "?"  # /metrics did not answer
    grown = [b - a for a, b in zip(before, after, strict=True)]
    if not grown[-1]:
        return "—"
    first_whole = next(i for i, n in enumerate(grown) if n == grown[-1])
    if first_whole >= len(BUCKETS):
        return "> 1 s"
    bound = BUCKETS[first_whole]
    return f"≤ {bound * 1e3:g} ms" if bound < 1 else f"≤ {bound:g} s"


@dataclass
class Window:
    waits: list[float] = field(default_factory=list)  # seconds from send to ack
    checks: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds)
    lag: str = "—"  # the engine's loop, at its latest

    def row(self, label: str) -> str:
        w = self.waits
        done = [s for status, s in self.checks if status == 200]
        checked = f"{len(done)} of {len(self.checks)}, {median(done):.1f} s each" \
            if self.checks else "—"
        return (f"| {label} | {len(w):,} | {percentile(w, 50) * 1e3:.1f} | "
                f"{percentile(w, 99) * 1e3:.1f} | {max(w, default=float('nan')) * 1e3:.1f} | "
                f"{self.lag} | {checked} |")


async def checking(url: str, body: bytes, stop: asyncio.Event, window: Window) -> None:
    # In a process of its own: the upload and the answer (megabytes) must not
    # take this process's interpreter from the visitors being timed.
    loop = asyncio.get_running_loop()
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        while not stop.is_set():
            window.checks.append(await loop.run_in_executor(pool, validate, url, body))


async def one_run(engine: Engine, args: argparse.Namespace, body: bytes,
                  run: int) -> tuple[Window, Window]:
    timeline = Timeline()
    widgets = [Widget(engine, f"run{run}-visitor-{n:03d}", args.rate, timeline)
               for n in range(args.visitors)]
    stop_sending = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop_sending)) for w in widgets]
    await asyncio.sleep(2.0)  # connected and sending
    quiet, busy = Window(), Window()
    lags = [await asyncio.to_thread(loop_lag, engine)]
    begin = time.monotonic()
    await asyncio.sleep(args.seconds)
    middle = time.monotonic()
    lags.append(await asyncio.to_thread(loop_lag, engine))
    stop_checking = asyncio.Event()
    checks = asyncio.create_task(checking(engine.url, body, stop_checking, busy))
    await asyncio.sleep(args.seconds)
    end = time.monotonic()
    lags.append(await asyncio.to_thread(loop_lag, engine))
    quiet.lag, busy.lag = latest(lags[0], lags[1]), latest(lags[1], lags[2])
    stop_checking.set()
    stop_sending.set()
    await drain(widgets, tasks, 60.0)
    await checks  # the check in flight ends before the next run
    for widget in widgets:
        for sent, wait in widget.latency:
            if begin <= sent < middle:
                quiet.waits.append(wait)
            elif middle <= sent < end:
                busy.waits.append(wait)
    errors = sum(sum(w.errors.values()) for w in widgets)
    if errors:
        log(f"run {run}: {errors} error answers to the visitors")
    return quiet, busy


def small_checks(engine: Engine, count: int = 20) -> list[float]:
    body = rule_file(100).replace("site: bench", f"site: {ADMIN}", 1).encode()
    validate(engine.url, body)
    return [validate(engine.url, body)[1] for _ in range(count)]


async def main_async(args: argparse.Namespace) -> str:
    body = rule_file(args.rules).replace("site: bench", f"site: {ADMIN}", 1).encode()
    with tempfile.TemporaryDirectory(prefix="ondo-admin-load-") as tmp:
        engine = Engine(Path(tmp) / "data", cpu=0, config=config(Path(tmp) / "engine.toml"))
        engine.start()
        try:
            small = small_checks(engine)
            log(f"100-rule checks: p50 {percentile(small, 50) * 1e3:.0f} ms")
            runs = []
            for run in range(args.runs):
                runs.append(await one_run(engine, args, body, run))
                log(f"run {run + 1}/{args.runs}: quiet p99 "
                    f"{percentile(runs[-1][0].waits, 99) * 1e3:.1f} ms, checking p99 "
                    f"{percentile(runs[-1][1].waits, 99) * 1e3:.1f} ms")
        finally:
            engine.stop()
            tracebacks = engine.tracebacks()
    lines = [f"### Another site's page views while {args.rules:,} rules are checked "
             f"({datetime.date.today().isoformat()})", "",
             f"- `python -m bench.admin_load --runs {args.runs} --seconds {args.seconds:g} "
             f"--rules {args.rules}`; {machine()}",
             "- the engine, its Redis and its job workers pinned to CPU 0, the clients to "
             f"CPU 1; {args.visitors} visitors of demo-shop × {args.rate:g} page views/s; "
             f"big-shop's admin checks a {len(body) / (1 << 20):.1f} MiB file of "
             f"{args.rules:,} rules, one check after another", "",
             "| window | acks | p50 ms | p99 ms | max ms | the engine's loop late | "
             "checks done |", "|---|---:|---:|---:|---:|---|---|"]
    for n, (quiet, busy) in enumerate(runs, 1):
        lines += [quiet.row(f"run {n}, quiet"), busy.row(f"run {n}, checking")]
    for name, index in (("quiet", 0), ("checking", 1)):
        windows = [run[index] for run in runs]
        lines.append(f"| **median of runs, {name}** | "
                     f"{median([len(w.waits) for w in windows]):,.0f} | "
                     f"{median([percentile(w.waits, 50) for w in windows]) * 1e3:.1f} | "
                     f"{median([percentile(w.waits, 99) for w in windows]) * 1e3:.1f} | "
                     f"{median([max(w.waits) for w in windows]) * 1e3:.1f} | | |")
    lines += ["", f"- checking a 100-rule file on the quiet engine (the console's check as "
              f"the marketer types): p50 {percentile(small, 50) * 1e3:.0f} ms, p90 "
              f"{percentile(small, 90) * 1e3:.0f} ms (20 checks)",
              f"- tracebacks in the engine's log: {len(tracebacks)}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.admin_load")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="each window")
    parser.add_argument("--rules", type=int, default=20_000)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--rate", type=float, default=5.0, help="page views/s per visitor")
    args = parser.parse_args(argv)
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {1})  # the engine has CPU 0
    report = asyncio.run(main_async(args))
    sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
