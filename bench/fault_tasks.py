"""Scenarios of bench/faults.py on what must never stop silently: the counts
and the tasks that write them, and a socket's writer.

- "huge-orders": before issue 22, one signed purchase of 3,100,000,000 won (or
  ten of 1,000,000,000 in a day) made the sum of squared revenue leave Redis's
  64-bit integers: the counters' flush died on the error, and from then on no
  page view of any site was counted, silently, with /healthz saying ok. A
  visitor buys exactly that, others browse before and after, amounts past the
  stated domain are posted too; the statistics must hold every figure exactly,
  every supervised task still running and nothing refused.
- "broken-flush": the day's statistics key overwritten with a string under
  traffic: the counters' task must say so and come back after the repair with
  every count it took meanwhile.
- "unwritable-frame": a push from another node carrying a value no frame can
  hold: the visitor's socket must close with 1011 (the widget reconnects), not
  stay open and mute, and the others go on.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import tomllib
from zoneinfo import ZoneInfo

import redis
from websockets.exceptions import ConnectionClosed

from bench.fault_clients import (
    HELLO,
    ROOT,
    SITE,
    Checks,
    Engine,
    Plan,
    http,
    open_socket,
    pageview,
)
from engine.flow.signing import sign
from engine.store.base import PUSH_CHANNEL
from engine.wire.protocol import LIMITS

DEMO = tomllib.loads((ROOT / "engine" / "sites" / "demo.toml").read_text(encoding="utf-8"))
SECRET = DEMO["sites"][0]["secret"]
TOKEN = "demo-admin-token"  # the demo's admin token (its SHA-256 is in demo.toml)
RULE = "first-visit-signup-nudge"  # a seed recipe: the fifth page view of a first visit
HUGE = [3_100_000_000] + [1_000_000_000] * 10


def post_orders(engine: Engine, orders: list[dict[str, object]]) -> tuple[int, dict[str, object]]:
    body = json.dumps({"events": orders}).encode()
    stamp = str(int(time.time()))
    status, answer = http("POST", f"{engine.url}/v1/sites/{SITE}/events", body,
                          {"Content-Type": "application/json", "X-Ondo-Timestamp": stamp,
                           "X-Ondo-Signature": sign(SECRET, stamp, body)}, timeout=10)
    return status, json.loads(answer or b"{}")


def browse(engine: Engine, visitor: str) -> None:
    """Five page views of a first visit through the beacon (the seed nudge matches
    the fifth)."""
    events = [{"t": "event", "id": f"{visitor}-{n}", "kind": "pageview",
               "data": {"url": f"http://127.0.0.1:8000/p{n}"}} for n in range(5)]
    body = json.dumps({"site": SITE, "visitor": visitor, "events": events}).encode()
    http("POST", f"{engine.url}/v1/beacon", body,
         {"Origin": "http://127.0.0.1:8000", "Content-Type": "text/plain"})


def sent(engine: Engine) -> tuple[int, int]:
    """(times the seed nudge was sent, the site's revenue) in the stats API."""
    time.sleep(2.5)  # the counters are written once a second
    _, body = http("GET", f"{engine.url}/v1/sites/{SITE}/stats",
                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    data = json.loads(body or b"{}")
    revenue = sum(p["treated"]["revenue"] + p["control"]["revenue"]
                  for p in data.get("site_wide", {}).get("periods", []))
    return next((r["sent"] for r in data.get("rules", []) if r["rule"] == RULE), 0), revenue


def huge_orders(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    buyer = "huge-buyer-0001"
    browse(engine, buyer)
    orders = [{"type": "purchase", "order_id": f"huge-{n}", "visitor_id": buyer,
               "amount": amount} for n, amount in enumerate(HUGE)]
    status, _ = post_orders(engine, orders)
    checks.expect(status == 200, f"huge-orders: the orders answered {status}")
    rows = [f"| {len(HUGE)} orders: 3,100,000,000 won and ten of 1,000,000,000 | {status} | |"]
    for amount in (2**63, 1e19, LIMITS.max_amount + 1):
        status, answer = post_orders(engine, [{"type": "purchase", "order_id": f"x-{amount}",
                                               "visitor_id": buyer, "amount": amount}])
        checks.expect((status, answer.get("field")) == (422, "events[0].amount"),
                      f"huge-orders: an amount of {amount} answered {status} {answer}")
        rows.append(f"| an amount of {amount:,} | {status} | `{answer.get('field')}` |")
    before, _ = sent(engine)
    later = [f"later-{n:04}-buyer" for n in range(5)]
    for visitor in later:
        browse(engine, visitor)
    after, revenue = sent(engine)
    checks.expect(revenue == sum(HUGE), f"huge-orders: the site's revenue is {revenue:,}, "
                  f"not {sum(HUGE):,}")
    checks.expect(after - before == len(later), f"huge-orders: {len(later)} visitors met "
                  f"{RULE} after the orders; the stats counted {after - before}")
    _, health = http("GET", f"{engine.url}/healthz")
    tasks = json.loads(health or b"{}").get("tasks", {})
    restarts = sum(t.get("restarts", 0) for t in tasks.values())
    refused = engine.metric("ondo_counts_refused_total")
    checks.expect(engine.health() == (200, "ok") and restarts == 0,
                  f"huge-orders: /healthz {engine.health()}, tasks {tasks}")
    checks.expect(refused == 0, f"huge-orders: {refused} counts refused")
    return ["| request | answer | field |", "|---|---:|---|", *rows, "",
            f"- afterwards: the site's revenue in the stats API **{revenue:,} won** "
            f"(posted: {sum(HUGE):,}); {len(later)} visitors who met `{RULE}` after the "
            f"orders: **{after - before}** counted; /healthz `{engine.health()}`, "
            f"{len(tasks)} supervised tasks, {restarts} restarts; "
            f"`ondo_counts_refused_total` {refused:g}" if refused is not None else "- no /metrics"]


def broken_flush(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    """The day's statistics key overwritten with a string (a bad migration, a
    stray command): every flush fails with WRONGTYPE until it is repaired.
    The counters' task must say so (/healthz degraded, restarts counted), keep
    what it counted, and write it once the key is repaired."""
    day = datetime.datetime.now(ZoneInfo(DEMO["sites"][0]["timezone"])).strftime("%Y%m%d")
    key = f"ondo:{{{SITE}}}:stats:{day}"
    client = redis.Redis.from_url(engine.redis_url)
    before, _ = sent(engine)
    client.delete(key)
    client.set(key, "not a hash")
    broke = time.monotonic()
    visitors = [f"broken-{n:04}-flush" for n in range(5)]
    for visitor in visitors:
        browse(engine, visitor)
    degraded = None
    while time.monotonic() - broke < 10:
        if engine.health() == (200, "degraded"):
            degraded = time.monotonic() - broke
            break
        time.sleep(0.05)
    checks.expect(degraded is not None, "broken-flush: /healthz never said degraded")
    time.sleep(3)
    _, body = http("GET", f"{engine.url}/healthz")
    counters = json.loads(body or b"{}").get("tasks", {}).get("counters", {})
    client.delete(key)
    repaired = time.monotonic()
    ok = None
    while time.monotonic() - repaired < 40:
        if engine.health() == (200, "ok"):
            ok = time.monotonic() - repaired
            break
        time.sleep(0.1)
    client.close()
    after, _ = sent(engine)
    checks.expect(ok is not None, "broken-flush: /healthz did not return to ok after the repair")
    checks.expect(after == len(visitors), f"broken-flush: {len(visitors)} visitors met {RULE} "
                  f"while the key was broken; {after} counted after the repair (the day's "
                  f"earlier {before} went with the key)")
    tracebacks = [t for t in engine.tracebacks() if "WRONGTYPE" in t]
    checks.expect(len(tracebacks) == 1, f"broken-flush: {len(tracebacks)} tracebacks of the "
                  "failure in the log, not one")
    return [f"- the day's statistics key `{key}` set to a string; {len(visitors)} visitors "
            f"meet `{RULE}` meanwhile; the key deleted (repaired) 3 s later",
            f"- `/healthz` said `degraded` {degraded:.2f} s after the key broke; the counters' "
            f"task meanwhile: `{json.dumps(counters, ensure_ascii=False)[:160]}`"
            if degraded is not None else "- `/healthz` never said `degraded`",
            f"- back to `ok` {ok:.1f} s after the repair (the task's backoff, then 10 s "
            f"without failing); the {after} counts taken while the key was broken were "
            f"written after it; the failure logged with its traceback "
            f"{len(tracebacks)} time(s)" if ok is not None else "- never back to `ok`"]


async def unwritable_frame(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    """A push (the pub/sub message another node sends when an order it took
    makes an action for a visitor whose socket is here) with 2^100 in its
    content, for one visitor; a neighbour on the same engine goes on."""
    victim, neighbour = await open_socket(engine, "unwritable-0001"), \
        await open_socket(engine, "neighbour-0001")
    for ws in (victim, neighbour):
        await ws.send(HELLO)
        await ws.recv()
    frame = {"t": "action", "id": "n-1", "rule": RULE, "widget": "push_note",
             "content": {"title": "x", "price": 2**100}, "arming": {}}
    client = redis.Redis.from_url(engine.redis_url)
    started = time.monotonic()
    client.publish(PUSH_CHANNEL, json.dumps({"site": SITE, "profile": "unwritable-0001",
                                             "frames": [frame]}))
    client.close()
    code: int | None = None
    try:
        async with asyncio.timeout(5):
            while True:
                await victim.recv()
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else 1006
    except TimeoutError:
        code = None
    took = time.monotonic() - started
    await neighbour.send(pageview("after-unwritable", 1))
    answer = json.loads(await asyncio.wait_for(neighbour.recv(), 5))
    await neighbour.close()
    logged = "could not be encoded" in engine.output()
    checks.expect(code == 1011, f"unwritable-frame: the socket ended with {code}, not 1011")
    checks.expect(logged, "unwritable-frame: the engine did not log the frame it could not write")
    checks.expect(answer.get("t") == "ack", f"unwritable-frame: the neighbour got {answer}")
    return [f"- a push with `2**100` in an action's content for one visitor: its socket closed "
            f"with **{code}** {took * 1000:.0f} ms after the push was published; the engine "
            f"logged it ({'yes' if logged else 'no'}); a neighbour's next page view: "
            f"`{answer.get('t')}`"]
