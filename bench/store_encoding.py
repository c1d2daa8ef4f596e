"""Profile encoding, for a realistic regular's profile (90 day buckets, 20
capped rules, a cart): ``python -m bench.store_encoding [--record]``.

- one msgpack blob holding everything (bench/lua/event_blob.lua, the first design);
- a Redis hash, nested maps msgpack-encoded per field (bench/lua/event_hash.lua);
- a small msgpack blob + day buckets and caps in hashes beside it
  (engine/store/lua/event.lua, what the engine uses).

Reports Redis's own cost per call (INFO commandstats, µs) and the client-side
decode cost of the reply, medians of several runs.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import redis

from bench.matcher import RESULTS, machine
from engine.profile.layout import window_sums
from engine.runtime.embedded import EmbeddedRedis
from engine.store.redis import Script, decode_profile

DAY = 86_400


def regular_profile(now: float) -> dict[str, Any]:
    days = {}
    for n in range(90):
        key = time.strftime("%Y%m%d", time.gmtime(now - n * DAY))
        days[key] = {"v": 1, "pv": 4, "pc": n % 7 == 0, "pt": 30_000 * (n % 7 == 0)}
    return {
        "first_seen": now - 400 * DAY, "last_seen": now - 3600, "visit_count": 120,
        "visit_started": now - 3600, "session_pageviews": 3, "pageviews_total": 900,
        "purchase_count": 14, "purchase_total": 840_000, "is_member": True,
        "member_grade": "vip", "member_name": "김단골", "coupons": {"LOYAL15": now + DAY},
        "days": days, "traffic_source": "naver_ads", "device": "mobile",
        "page_path": "/product/1", "page_url": "https://s.kr/product/1",
        "cart": [{"product_id": f"P{i}", "qty": 1, "price": 10_000} for i in range(5)],
        "caps": {f"rule-{i}": {"n": 3, "s": 119, "sn": 1, "d": "20261118", "dn": 1,
                               "t": [now - DAY * k for k in range(3)]} for i in range(20)},
    }


def seed_hash(client: redis.Redis, key: str, profile: dict[str, Any]) -> None:
    flat: dict[str, Any] = {k: (msgpack.packb(v) if isinstance(v, dict | list) else
                               (int(v) if isinstance(v, bool) else v))
                            for k, v in profile.items()}
    client.hset(key, mapping=flat)  # type: ignore[arg-type]


def run(client: redis.Redis, script: Script, keys: list[str], argv_of: Any, n: int,
        decode: Any) -> tuple[float, float]:
    client.config_resetstat()
    sha = client.script_load(script.source)
    decode_s = 0.0
    for i in range(n):
        reply = client.evalsha(sha, len(keys), *keys, *argv_of(i))
        start = time.perf_counter()
        decode(reply)
        decode_s += time.perf_counter() - start
    stats = client.info("commandstats")["cmdstat_evalsha"]
    return float(stats["usec_per_call"]), decode_s / n * 1e6


def _script(path: Path) -> Script:
    script = Script("event.lua")
    script.source = path.read_text(encoding="utf-8")
    script.sha = hashlib.sha1(script.source.encode()).hexdigest()
    return script


def _pairs(reply: Any) -> dict[Any, Any]:
    return {reply[j]: reply[j + 1] for j in range(0, len(reply), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_encoding")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=3000)
    args = parser.parse_args(argv)
    now = time.time()
    profile = regular_profile(now)
    here = Path(__file__).with_name("lua")
    blob_script, hash_script = _script(here / "event_blob.lua"), _script(here / "event_hash.lua")
    split_script = Script("event.lua")
    day = time.strftime("%Y%m%d", time.gmtime(now))
    page = msgpack.packb({"page_path": "/p", "page_url": "https://s.kr/p"})
    keys = ["ondo:{s:v}:p", "ondo:{s:v}:e", "ondo:{s:v}:d", "ondo:{s:v}:c"]
    layouts: list[tuple[str, Script, list[str], Any, Any, Any]] = [
        ("one msgpack blob", blob_script, keys[:2], lambda c: c.set(keys[0], msgpack.packb(
            profile)), lambda i: (f"e{i}", "d", "pageview", repr(now + i), 1800, day,
                                  "20260801", page, 400 * DAY, DAY),
         lambda reply: decode_profile(reply[1])),
        ("hash", hash_script, ["ondo:{s:v}:h", keys[1]],
         lambda c: seed_hash(c, "ondo:{s:v}:h", profile),
         lambda i: (f"e{i}", "d", repr(now + i), 1800, day, "/p", 400 * DAY),
         lambda reply: _pairs(reply[1])),
        ("small blob + day/caps hashes (engine), windowed attributes read", split_script, keys,
         lambda c: seed_split(c, keys, profile),
         lambda i: (f"e{i}", "d", "pageview", repr(now + i), 1800, day, "20260801", page,
                    400 * DAY, DAY, "20261112", "20261020", "1"),
         lambda reply: {**decode_profile(reply[1], caps=reply[3]),
                        "windows": window_sums(reply[2])}),
        ("small blob + day/caps hashes (engine), no windowed rule", split_script, keys,
         lambda c: seed_split(c, keys, profile),
         lambda i: (f"e{i}", "d", "pageview", repr(now + i), 1800, day, "20260801", page,
                    400 * DAY, DAY, "20261112", "20261020", "0"),
         lambda reply: decode_profile(reply[1], caps=reply[3])),
    ]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in layouts}
    with tempfile.TemporaryDirectory() as data:
        server = EmbeddedRedis(Path(data), persist=False).start()
        try:
            client = redis.Redis.from_url(server.url)
            for _ in range(args.runs):
                for name, script, script_keys, seed, argv_of, decode in layouts:
                    client.flushall()
                    seed(client)
                    results[name].append(run(client, script, script_keys, argv_of, args.events,
                                             decode))
            client.close()
        finally:
            server.stop()
    size = len(msgpack.packb(profile))
    lines = [f"### Profile encoding — {datetime.date.today().isoformat()}", "",
             f"- command: `python -m bench.store_encoding --runs {args.runs} --events "
             f"{args.events}`", f"- machine: {machine()}",
             f"- a regular's profile: 90 day buckets, 20 capped rules, a 5-item cart "
             f"({size:,} bytes as one msgpack map); one page view per call; medians of "
             f"{args.runs} runs", "",
             "| layout | Redis µs per event (EVALSHA) | client decode µs |",
             "|---|---:|---:|"]
    for name, rows in results.items():
        lines.append(f"| {name} | {statistics.median(r[0] for r in rows):.1f} | "
                     f"{statistics.median(r[1] for r in rows):.1f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.record:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + table)
    return 0


def seed_split(client: redis.Redis, keys: list[str], profile: dict[str, Any]) -> None:
    small = {k: v for k, v in profile.items() if k not in ("days", "caps")}
    client.set(keys[0], msgpack.packb(small))
    client.hset(keys[2], mapping={f"{d}:{n}": int(v) for d, b in profile["days"].items()
                                  for n, v in b.items() if v})
    client.hset(keys[3], mapping={r: msgpack.packb(c) for r, c in profile["caps"].items()})


if __name__ == "__main__":
    sys.exit(main())
