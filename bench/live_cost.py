"""What the live counters cost in Redis: ``python -m bench.live_cost``.

Fills one site's live counters (engine/store/lua/live.lua, through RedisStore)
as a busy shop would: 10,000 products, each viewed by 3 visitors (30,000
visitors on the site in the last 5 minutes), added to carts 5 times and ordered
twice over the day; then reports Redis's memory for them (``MEMORY USAGE`` of
every key of the site's live slot), the time of one call (a page view's write;
a write and a read), and what is left once the visitors have gone quiet for the
window, on a redis-server of its own."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import statistics
import tempfile
import time
from pathlib import Path

import redis

from bench.matcher import machine
from engine.profile.layout import LIVE_WINDOW, live_key
from engine.runtime.embedded import EmbeddedRedis
from engine.store.base import LiveUpdate
from engine.store.redis import RedisStore

SITE = "bench"
T0 = 1_795_000_000.0


def live_bytes(client: redis.Redis) -> tuple[int, int]:
    """(bytes, keys) of the site's live counters."""
    total = keys = 0
    for key in client.scan_iter(match=f"ondo:{{{SITE}:live}}:*", count=1000):
        total += int(client.memory_usage(key) or 0)
        keys += 1
    return total, keys


async def fill(store: RedisStore, products: int) -> list[float]:
    """The shop's day; the microseconds of each page-view call."""
    times = []
    for p in range(products):
        product = f"P{p:06d}"
        for v in range(3):
            started = time.perf_counter()
            await store.live(SITE, LiveUpdate(T0 + p * 0.01, f"visitor-{p:06d}-{v}", page=True,
                                              product=product))
            times.append((time.perf_counter() - started) * 1e6)
        for hour in range(5):
            await store.live(SITE, LiveUpdate(T0 - hour * 3600, f"visitor-{p:06d}-0",
                                              added=(product,)))
        other = f"P{(p + 1) % products:06d}"
        await store.live(SITE, LiveUpdate(T0 - 7200, bought=(product, other)))
    return times


async def reads(store: RedisStore, products: int, n: int = 2000) -> list[float]:
    times = []
    for i in range(n):
        product = f"P{i % products:06d}"
        started = time.perf_counter()
        await store.live(SITE, LiveUpdate(T0 + 100, f"reader-{i}", page=True, product=product,
                                          read=True, read_product=product))
        times.append((time.perf_counter() - started) * 1e6)
    return times


async def drain(store: RedisStore) -> int:
    """Calls after the window until every quiet visitor has left the sets
    (each call removes up to 50)."""
    calls = 0
    later = T0 + 200 + 2 * LIVE_WINDOW
    while await store.client.zcard(live_key(SITE, "v")):
        await store.live(SITE, LiveUpdate(later))
        calls += 1
    return calls


async def measure(url: str, client: redis.Redis, products: int
                  ) -> tuple[list[float], tuple[int, int], list[float], int]:
    store = RedisStore(url)
    try:
        writes = await fill(store, products)
        filled = live_bytes(client)
        return writes, filled, await reads(store, products), await drain(store)
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live_cost")
    parser.add_argument("--products", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(f"- machine: {machine()}; {datetime.date.today().isoformat()}")
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persist=False).start()
        try:
            client = redis.Redis.from_url(server.url)
            writes, (filled, keys), read_times, calls = asyncio.run(
                measure(server.url, client, args.products))
            left, left_keys = live_bytes(client)
            client.close()
        finally:
            server.stop()
    print(f"- {args.products:,} products, 3 visitors on each one's page, 5 cart additions and "
          "2 orders each over the day")
    print("| what | figure |")
    print("|---|---:|")
    print(f"| memory of the live counters | {filled:,} bytes in {keys:,} keys "
          f"({filled / args.products:,.0f} bytes per product) |")
    print(f"| a page view's call (write), median µs | {statistics.median(writes):.0f} |")
    print(f"| a page view's call with a read, median µs | {statistics.median(read_times):.0f} |")
    print(f"| after the visitors went quiet ({calls} calls later) | {left:,} bytes in "
          f"{left_keys:,} keys (the 24-hour order and cart counts) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
