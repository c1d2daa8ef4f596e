"""The forecast benchmark: ``python -m bench.forecast [--quick] [--record]``.

Records real traffic first: a redis-server and the engine (pinned as in
bench/load.py: the engine on CPU 0, Redis and the load generators on CPU 1)
with the rule library plus N generated rules, driven closed-loop by V
visitors walking shopping journeys; the engine records every evaluation, as
it does by default (engine/forecast/recorder.py). The recording is then
copied under other visitor keys (each copy a separate visitor with the same
journey) until it holds --events entries. Then, each a median of --runs:

- storage: the recording's bytes in Redis (MEMORY USAGE) per entry, and per
  million events;
- replay on one core, in this process: the entries decoded, then the live
  rule file replayed over them (engine/forecast/worker.py ``replay_entries``,
  the worker's own code), as entries per second, decoding apart;
- end to end: ``POST /v1/sites/bench/rules/forecast`` over the whole
  recording, as the console and the CLI ask it: seconds and entries/s;
- live traffic during forecasts: open loop at --rate, p99 with and without
  forecasts running back to back on the engine, in the same rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import hashlib
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis

import rules
from bench.load import ORIGIN, _pin_process, drive, server
from bench.matcher import RESULTS, machine
from bench.workload import site_file, sites_toml
from engine.forecast.recording import LAYOUT, Entry, Evaluated, Merged, decode, encode
from engine.forecast.replay import Settings
from engine.forecast.worker import replay_entries
from engine.matcher import matcher_class
from engine.runtime.embedded import EmbeddedRedis, free_port
from engine.store.redis import RedisStore
from engine.store.redis_recording import stream_key

TOKEN = "bench-admin-token"
SITE = "bench"


def read_recording(url: str) -> tuple[list[bytes], dict[str, list[str]]]:
    async def read() -> tuple[list[bytes], dict[str, list[str]]]:
        store = RedisStore(url)
        try:
            layouts = await store.recordings.layouts(SITE)
            blobs, after = [], ""
            while page := await store.recordings.page(SITE, 0, 4e9, after, 10_000):
                blobs += [blob for _, blob in page]
                after = page[-1][0]
            return blobs, layouts
        finally:
            await store.close()
    return asyncio.run(read())


def copies(entries: list[Entry], target: int) -> Iterator[Entry]:
    """Copies of the recording under other visitor keys, up to ``target``
    entries with the recording itself. Event ids stay: an action's id (its
    nonce) is made of the event id and the rule, and reports name it."""
    made = len(entries)
    n = 1
    while made < target:
        for entry in entries[:target - made]:
            changes: dict[str, Any] = {"key": f"{entry.key}#{n}"}
            if isinstance(entry, Merged):
                changes["anonymous"] = f"{entry.anonymous}#{n}"
            yield dataclasses.replace(entry, **changes)
        made += min(len(entries), target - made)
        n += 1


def append(url: str, blobs: list[tuple[float, bytes]]) -> None:
    async def write() -> None:
        store = RedisStore(url)
        try:
            for start in range(0, len(blobs), 20_000):
                await store.recordings.append(SITE, blobs[start:start + 20_000],
                                              (LAYOUT.id, LAYOUT.as_json()), 0.0, 100_000_000)
        finally:
            await store.close()
    asyncio.run(write())


def forecast_api(base: str, source: str) -> tuple[float, dict[str, Any]]:
    import json

    request = urllib.request.Request(
        f"{base}/v1/sites/{SITE}/rules/forecast?since=7d", data=source.encode(),
        headers={"Authorization": f"Bearer {TOKEN}"}, method="POST")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as reply:
        answer = json.loads(reply.read())
    return time.perf_counter() - started, answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.forecast",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of about a minute")
    parser.add_argument("--rules", type=int, default=100, help="generated rules beside the "
                        "library's recipes")
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of recorded load")
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="entries the recording is copied up to")
    parser.add_argument("--rate", type=float, default=2000.0,
                        help="open-loop events/s for the live latency part")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.events, args.runs = 5.0, 200_000, 2
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        embedded = EmbeddedRedis(data / "redis", persist=False).start()
        if embedded.process is not None:
            _pin_process(embedded.process.pid, 1)
        try:
            rules_path = data / "rules.yaml"
            source = site_file(args.rules)
            rules_path.write_text(source, encoding="utf-8")
            token = hashlib.sha256(TOKEN.encode()).hexdigest()
            (data / "sites.toml").write_text(sites_toml(rules_path, ORIGIN).replace(
                'live_shards', f'admin_token_sha256 = "{token}"\nlive_shards'), encoding="utf-8")
            port = free_port()
            command = [sys.executable, "-m", "engine", "serve", "--config",
                       str(data / "sites.toml"), "--redis", embedded.url, "--port", str(port)]
            with server(command, port) as base:
                print(f"recording {args.duration:g} s of load", file=sys.stderr)
                load = drive(port, SITE, args.visitors, args.duration, 0.0, 2, 1)
                out["live_events_per_s"] = load["throughput"]
                time.sleep(0.5)  # the recorder's last flush
                blobs, layouts = read_recording(embedded.url)
                recorded = [decode(blob, layouts) for blob in blobs]
                out["recorded"] = len(recorded)
                client = redis.Redis.from_url(embedded.url)
                key = stream_key(SITE)
                used = client.memory_usage(key, samples=0) or 0
                out["bytes_per_entry"] = used / max(1, client.xlen(key))
                out["blob_bytes"] = statistics.mean(len(b) for b in blobs)
                # What recording adds to the event path: encoding one evaluation
                # (the recorder's own call; the write is one call per flush).
                evaluations = [e for e in recorded if isinstance(e, Evaluated)][:20_000]
                encode_s = []
                for _ in range(5):
                    started = time.perf_counter()
                    for entry in evaluations:
                        encode(entry)
                    encode_s.append((time.perf_counter() - started) / len(evaluations))
                out["encode_us"] = statistics.median(encode_s) * 1e6
                print(f"copying the recording up to {args.events:,} entries", file=sys.stderr)
                extra = [(e.now, encode(e)) for e in copies(recorded, args.events)]
                append(embedded.url, extra)
                blobs += [blob for _, blob in extra]
                del extra
                settings = Settings(ZoneInfo("Asia/Seoul"), 86_400.0,
                                    frozenset(rule.id for rule in rules.load(source).rules))
                # The invariant on what was recorded (copies draw other holdouts).
                out["changed"] = replay_entries(source, "bench.yaml", matcher_class(), settings,
                                                recorded)["changed_events"]
                del recorded
                decode_s, total_s, api_s = [], [], []
                result: dict[str, Any] = {}
                for run in range(args.runs):
                    print(f"replay: run {run + 1}/{args.runs}", file=sys.stderr)
                    started = time.perf_counter()
                    for blob in blobs:
                        decode(blob, layouts)
                    decode_s.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    result = replay_entries(source, "bench.yaml", matcher_class(), settings,
                                            (decode(blob, layouts) for blob in blobs))
                    total_s.append(time.perf_counter() - started)
                    seconds, answer = forecast_api(base, source)
                    api_s.append(seconds)
                    if answer["events"] != result["events"]:
                        raise SystemExit(f"the API replayed {answer['events']} events, "
                                         f"this process {result['events']}")
                out.update(entries=len(blobs), events=result["events"],
                           decode_s=statistics.median(decode_s),
                           replay_s=statistics.median(total_s) - statistics.median(decode_s),
                           api_s=statistics.median(api_s))
                del blobs
                out["p99"] = live_latency(port, base, source, args)
        finally:
            embedded.stop()
    print(render(out, args))
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as results:
            results.write("\n" + render(out, args) + "\n")
    return 0


def live_latency(port: int, base: str, source: str, args: argparse.Namespace
                 ) -> dict[str, list[float]]:
    """p99 (ms) of open-loop live traffic with and without forecasts running."""
    p99: dict[str, list[float]] = {"alone": [], "forecasting": []}
    for run in range(args.runs):
        for kind in ("alone", "forecasting"):
            print(f"live p99 {kind}: run {run + 1}/{args.runs}", file=sys.stderr)
            stop = threading.Event()
            worker = threading.Thread(target=_forecasts, args=(base, source, stop),
                                      daemon=True)
            if kind == "forecasting":
                worker.start()
                time.sleep(1.0)  # the first forecast is under way
            load = drive(port, SITE, args.visitors, 10.0 if not args.quick else 5.0,
                         args.rate, 2, 100 + run)
            stop.set()
            with contextlib.suppress(RuntimeError):
                worker.join(timeout=600)
            p99[kind].append(load["latency"].percentile(99) / 1000)
    return p99


def _forecasts(base: str, source: str, stop: threading.Event) -> None:
    while not stop.is_set():
        forecast_api(base, source)


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    replay_rate = r["entries"] / r["replay_s"]
    per_event = r["events"] / r["entries"]
    alone, busy = (statistics.median(r["p99"][k]) for k in ("alone", "forecasting"))
    return "\n".join([
        f"### Forecast: {datetime.date.today().isoformat()}, {machine()}",
        "",
        f"`python -m bench.forecast {' '.join(sys.argv[1:])}`".replace(" `", "`"),
        f"(rule library + {args.rules} generated rules; {r['recorded']:,} entries recorded "
        f"from {args.visitors:,} visitors at {r['live_events_per_s']:,.0f} events/s, copied "
        f"up to {r['entries']:,} entries ({per_event:.0%} of them evaluations); medians of "
        f"{args.runs} runs)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| storage per entry in Redis (MEMORY USAGE / XLEN) | {r['bytes_per_entry']:.0f} B "
        f"(entry {r['blob_bytes']:.0f} B) |",
        f"| storage per million events | {r['bytes_per_entry'] * 1e6 / 2**20:.0f} MiB |",
        f"| recording on the event path: encoding one evaluation | {r['encode_us']:.1f} µs |",
        f"| decode, one core | {r['entries'] / r['decode_s']:,.0f} entries/s |",
        f"| replay after decoding (match + delivery policy), one core | "
        f"{replay_rate:,.0f} entries/s |",
        f"| decode + replay, one core | "
        f"{r['entries'] / (r['decode_s'] + r['replay_s']):,.0f} entries/s |",
        f"| end to end through the API ({r['entries']:,} entries) | {r['api_s']:.1f} s = "
        f"{r['entries'] / r['api_s']:,.0f} entries/s |",
        f"| live p99 at {args.rate:,.0f} events/s, alone | {alone:.2f} ms "
        f"({', '.join(f'{x:.2f}' for x in r['p99']['alone'])}) |",
        f"| live p99 at {args.rate:,.0f} events/s, forecasts back to back | {busy:.2f} ms "
        f"({', '.join(f'{x:.2f}' for x in r['p99']['forecasting'])}) = {busy / alone:.2f}x |",
        f"| identical draft: events whose actions change | {r['changed']} |",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
