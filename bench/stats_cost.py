"""What counting distinct visitors costs in Redis: ``python -m bench.stats_cost``.

The statistics count exposed and converted visitors per rule, group and day.
This compares the two ways Redis can: a HyperLogLog (PFADD, an estimate) and a
set of the visitors' profile keys (SADD, exact), by the memory one counter
takes (MEMORY USAGE) and the time to add to it, for several numbers of visitors,
on a redis-server of its own."""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path

import redis

from bench.matcher import machine
from engine.runtime.embedded import EmbeddedRedis

SIZES = (100, 1_000, 10_000, 100_000)


def measure(client: redis.Redis, kind: str, n: int) -> tuple[int, float, int]:
    """(bytes, microseconds per visitor added, the count read back)."""
    key = f"ondo:{{bench}}:{kind}:{n}"
    members = [f"visitor-{i:012d}" for i in range(n)]
    started = time.perf_counter()
    for start in range(0, n, 500):  # as a counters flush sends them, in batches
        chunk = members[start:start + 500]
        if kind == "hll":
            client.pfadd(key, *chunk)
        else:
            client.sadd(key, *chunk)
    seconds = time.perf_counter() - started
    size = int(client.memory_usage(key) or 0)
    count = int(client.pfcount(key) if kind == "hll" else client.scard(key))
    return size, seconds / n * 1e6, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stats_cost")
    parser.parse_args(argv)
    print(f"- machine: {machine()}; {datetime.date.today().isoformat()}")
    print("| visitors | HyperLogLog bytes | its estimate | set bytes | µs/visitor HLL | "
          "µs/visitor set |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persist=False).start()
        try:
            client = redis.Redis.from_url(server.url)
            for n in SIZES:
                hll, hll_us, estimate = measure(client, "hll", n)
                exact, set_us, _ = measure(client, "set", n)
                print(f"| {n:,} | {hll:,} | {estimate:,} | {exact:,} | {hll_us:.2f} | "
                      f"{set_us:.2f} |")
            client.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
