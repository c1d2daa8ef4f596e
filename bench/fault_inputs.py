"""Scenarios 3, 4 and 6 of bench/faults.py (``python -m bench.faults``; 5 is in
bench/fault_flood.py): what the engine does with bad input and rude clients.
Each takes a running engine, the plan and the checks, and returns its part of
the Markdown report.

3. Oversized bodies: 48 MiB, chunked or declared, to the beacon and the server
   events API: 413, how much of the body the client could write before the
   engine closed the connection, and the growth of the engine's peak RSS; JSON
   nested 30,000 deep: 400.
4. Bad frames: each answer on one connection; frames over 64 KiB (1009) and
   invalid UTF-8 (1007) on their own; a neighbour's acks meanwhile.
6. Churn: rounds of connections opened, used once and closed (half without a
   close frame); RSS, open fds and ``ondo_connections`` after each round.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import select
import socket
import time
from collections import Counter

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.fault_clients import (
    HELLO,
    MIB,
    ORIGIN,
    SITE,
    Checks,
    Engine,
    Plan,
    Timeline,
    Widget,
    drain,
    http,
    log,
    median,
    open_socket,
    pageview,
    percentile,
)

# -- 3. Oversized bodies


ALL_WRITTEN = "all of it written"


def post_body(port: int, path: str, size: int, chunked: bool) -> tuple[int, int, str]:
    """POST a body of ``size`` bytes in 16 KiB pieces and go on writing it whatever the
    engine answers meanwhile (a client that ignores a 413), reading the answer as it
    comes, until a write fails: (status, bytes of the body written to the socket,
    chunk framing included, how the writing ended)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {ORIGIN}\r\n"
                 f"Content-Type: application/json\r\n{length}\r\n\r\n".encode())
    piece = b"x" * 16384
    framed = memoryview(b"4000\r\n" + piece + b"\r\n" if chunked else piece)
    total = len(framed) * (size // len(piece))
    written, reply, how = 0, b"", ALL_WRITTEN
    try:
        while written < total:
            if select.select([sock], [], [], 0)[0] and b"\r\n\r\n" not in reply:
                reply += sock.recv(65536)
            written += sock.send(framed[written % len(framed):])
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except TimeoutError:
        how = "no write for 10 s (the engine stopped reading)"
    except OSError as exc:
        how = type(exc).__name__  # the engine closed the connection
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in reply:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    sock.close()
    found = re.match(rb"HTTP/1\.1 (\d+)", reply)
    closing = b"connection: close" in reply.split(b"\r\n\r\n")[0].lower().split(b"\r\n")
    return (int(found.group(1)) if found else 0), written, how + (
        ", after `Connection: close`" if closing else "")


def oversized(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    cases = [("`POST /v1/beacon` (limit 64 KiB), chunked", "/v1/beacon", True),
             ("`POST /v1/sites/demo-shop/events` (limit 1 MiB), chunked",
              f"/v1/sites/{SITE}/events", True),
             ("`POST /v1/beacon`, `Content-Length` 48 MiB declared", "/v1/beacon", False)]
    rows = []
    for name, path, chunked in cases:
        growths: list[float] = []
        written: list[float] = []
        answers, ends = Counter[int](), Counter[str]()
        for _ in range(plan.body_runs):
            time.sleep(0.3)
            engine.reset_peak()
            before = engine.status_kib("VmRSS")
            status, sent, how = post_body(engine.port, path, plan.body, chunked)
            time.sleep(0.3)
            growths.append((engine.status_kib("VmHWM") - before) / 1024)
            answers[status] += 1
            ends[how] += 1
            written.append(sent / MIB)
            checks.expect(status == 413, f"oversized: {name} answered {status} ({how})")
            checks.expect(not how.startswith(ALL_WRITTEN), f"oversized: {name}: all of the "
                          f"body was written ({how}): the engine read it to the end")
        checks.expect(max(growths) < 8, f"oversized: {name} grew the engine's peak RSS by "
                      f"{max(growths):.1f} MiB")
        rows.append(f"| {name} | {', '.join(f'{a} ×{n}' for a, n in answers.items())} | "
                    f"{median(written):.1f} (max {max(written):.1f}) | "
                    f"{', '.join(f'{e} ×{n}' for e, n in ends.items())} | "
                    f"{median(growths):.2f} (max {max(growths):.2f}) |")
    deep = b"[" * 30_000 + b"]" * 30_000
    status, body = http("POST", engine.url + "/v1/beacon", deep,
                        {"Origin": ORIGIN, "Content-Type": "application/json"})
    checks.expect(status == 400, f"oversized: JSON nested 30,000 deep answered {status}")
    after = engine.health()
    checks.expect(after[0] == 200, f"oversized: /healthz answered {after} afterwards")
    return [f"- a body of {plan.body // MIB} MiB, written in 16 KiB pieces whatever the "
            "engine answers meanwhile (a client that ignores the 413) until a write fails; "
            "peak RSS growth = VmHWM (reset through /proc/PID/clear_refs) − VmRSS "
            f"before; {plan.body_runs} run(s) each", "",
            "| request | answer (×runs) | body written before the engine closed the "
            "connection, MiB (median; kernel buffers included) | how the writing ended "
            "(×runs) | peak RSS growth, MiB (median) |", "|---|---|---:|---|---:|", *rows, "",
            f"- JSON nested 30,000 deep ({len(deep):,} bytes) to `/v1/beacon`: **{status}** "
            f"`{body.decode(errors='replace')[:100]}`; /healthz afterwards: {after[0]}"]


# -- 4. Bad frames


def _frame(kind: str, data: object, event_id: str) -> str:
    return json.dumps({"t": "event", "id": event_id, "kind": kind, "data": data})


BAD_FRAMES: list[tuple[str, str, str]] = [
    ("invalid JSON", '{"t": "event", "id": ', "error bad_frame"),
    ("a JSON array", '[{"t": "hello"}]', "error bad_frame"),
    ("an unknown frame type", '{"t": "teleport"}', "error unknown_type (t)"),
    ("an unknown event kind", _frame("teleport", {}, "bad-4"), "error unknown_type (kind)"),
    ("a field of the wrong type (`data.url`: 42)", _frame("pageview", {"url": 42}, "bad-5"),
     "error bad_field (data.url)"),
    ("a cart of 101 items", _frame("cart", {"items": [
        {"product_id": f"P{i}", "qty": 1, "price": 1000} for i in range(101)]}, "bad-6"),
     "error cart_too_large (data.items)"),
    ("a report on an action never sent", _frame("report", {
        "action": "0123456789abcdef", "rule": "first-visit-signup-nudge", "what": "shown"},
        "bad-7"), "error bad_field (data.action)"),
    ("then a valid page view", pageview("bad-ok-8", 8), "ack"),
]


def answer(frame: dict[str, object]) -> str:
    if frame.get("t") != "error":
        return str(frame.get("t"))
    return f"error {frame.get('code')}" + (f" ({frame['field']})" if frame.get("field") else "")


async def next_answer(ws: ClientConnection) -> str:
    """The next frame that is not an action (a rule's action may follow an ack)."""
    async with asyncio.timeout(5):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("t") != "action":
                return answer(frame)


async def closed_by(engine: Engine, visitor: str, message: str | bytes) -> str:
    """Send one frame after hello (bytes go as a text frame as they are); the close code."""
    ws = await open_socket(engine, visitor)
    await ws.send(HELLO)
    await next_answer(ws)
    await ws.send(message, text=True)
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(5):
            while True:
                await ws.recv()
    await ws.close()
    return f"close {ws.close_code}"


async def bad_frames(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    timeline = Timeline()
    neighbour = Widget(engine, "bad-frames-neighbour", 5.0, timeline)
    stop = asyncio.Event()
    task = asyncio.create_task(neighbour.run(stop))
    await asyncio.sleep(1.0)
    results: list[tuple[str, str, str]] = []
    ws = await open_socket(engine, "bad-frames-client")
    await ws.send(pageview("early-1", 1))
    results.append(("an event before hello", "error not_ready", await next_answer(ws)))
    await ws.send(HELLO)
    results.append(("hello", "welcome", await next_answer(ws)))
    for name, message, expected in BAD_FRAMES:
        await ws.send(message)
        results.append((name, expected, await next_answer(ws)))
    await ws.close()
    big = _frame("pageview", {"url": "http://127.0.0.1:8000/" + "a" * 70_000}, "big-1")
    results.append((f"a text frame of {len(big):,} bytes (new connection)", "close 1009",
                    await closed_by(engine, "bad-frames-big", big)))
    results.append(("invalid UTF-8 in a text frame (new connection)", "close 1007",
                    await closed_by(engine, "bad-frames-utf8",
                                    b'{"t": "event", "id": "u-1", "kind": "pageview", '
                                    b'"data": {"url": "http://127.0.0.1:8000/\xff\xfe"}}')))
    await asyncio.sleep(1.0)
    stop.set()
    await drain([neighbour], [task], 30.0)
    for name, expected, got in results:
        checks.expect(got == expected, f"bad frames: {name} got {got}, not {expected}")
    lat = [x for _, x in neighbour.latency]
    ok = neighbour.generated == len(neighbour.acked) and not neighbour.errors
    checks.expect(ok, f"bad frames: the neighbour got {len(neighbour.acked)} acks for "
                  f"{neighbour.generated} events, errors {dict(neighbour.errors)}")
    return ["| frame | expected | answer |", "|---|---|---|",
            *(f"| {n} | {e} | {g}{'' if g == e else ' **(wrong)**'} |" for n, e, g in results),
            "", f"- the neighbour (5 page views/s on its own connection meanwhile): "
            f"{len(neighbour.acked)}/{neighbour.generated} acked, errors "
            f"{dict(neighbour.errors) or 'none'}, ack latency p50 {percentile(lat, 50) * 1e3:.1f} "
            f"ms, max {max(lat, default=float('nan')) * 1e3:.1f} ms"]


# -- 6. Churn


async def churn_one(engine: Engine, visitor: str, clean: bool) -> bool:
    try:
        ws = await open_socket(engine, visitor, timeout=15)
    except (OSError, InvalidHandshake, TimeoutError):
        return False
    acked = False
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        await ws.send(HELLO)
        await ws.send(pageview(f"{visitor}-1", 1))
        async with asyncio.timeout(15):
            while not acked:
                frame = json.loads(await ws.recv())
                if frame.get("t") == "error":
                    break
                acked = frame.get("t") == "ack"
    if clean:
        await ws.close()
    else:
        ws.transport.abort()  # dropped: no close frame, the TCP connection reset
    return acked


async def settle(engine: Engine) -> tuple[float, float | None, int, int]:
    """Wait for ``ondo_connections`` 0 (up to 15 s), then 1 s: (seconds it took,
    the gauge, RSS KiB, fds)."""
    start = time.monotonic()
    count = await asyncio.to_thread(engine.metric, "ondo_connections")
    while count != 0 and time.monotonic() - start < 15:
        await asyncio.sleep(0.05)
        count = await asyncio.to_thread(engine.metric, "ondo_connections")
    took = time.monotonic() - start
    await asyncio.sleep(1.0)
    return took, count, engine.status_kib("VmRSS"), engine.fds()


async def churn(engine: Engine, plan: Plan, checks: Checks) -> list[str]:
    async def waves(prefix: str, total: int) -> int:
        acked = 0
        for start in range(0, total, plan.wave):
            acked += sum(await asyncio.gather(*(
                churn_one(engine, f"{prefix}-{n:06d}", n % 2 == 0)
                for n in range(start, min(total, start + plan.wave)))))
        return acked

    await waves("churn-warm", plan.wave)
    _, _, rss0, fds0 = await settle(engine)
    rows = [f"| before (after a warm-up wave of {plan.wave}) | | {rss0 / 1024:,.1f} | | | "
            f"{fds0} | 0 |"]
    last = rss0
    for r in range(plan.churn_rounds):
        started = time.monotonic()
        acked = await waves(f"churn-{r}", plan.churn)
        seconds = time.monotonic() - started
        took, count, rss, fds = await settle(engine)
        log(f"churn round {r + 1}: {acked}/{plan.churn} acked in {seconds:.1f} s")
        checks.expect(acked == plan.churn, f"churn: {plan.churn - acked} connections without "
                      "their ack")
        checks.expect(count == 0, f"churn: ondo_connections {count} after the connections closed")
        checks.expect(fds <= fds0 + 2, f"churn: {fds - fds0} more fds open afterwards")
        if r == plan.churn_rounds - 1 and r > 0:  # warmed up: what a round still costs
            checks.expect(rss - last < plan.churn, f"churn: the last round of "
                          f"{plan.churn:,} connections grew the RSS by {(rss - last) / 1024:.1f} "
                          "MiB (over 1 KiB per connection)")
        rows.append(f"| after {plan.churn * (r + 1):,} connections ({seconds:.1f} s; "
                    f"{acked:,} acked) | {took:.2f} | {rss / 1024:,.1f} | "
                    f"{(rss - rss0) / 1024:+,.1f} | {(rss - last) / 1024:+,.1f} | {fds} | "
                    f"{'no answer' if count is None else f'{count:g}'} |")
        last = rss
    return [f"- rounds of {plan.churn:,} connections in waves of {plan.wave} at once; each "
            "says hello, sends one page view, waits for its ack, then closes (even ones with a "
            "close frame, odd ones dropped without one)", "",
            "| moment | `ondo_connections` back to 0 after, s | RSS MiB | Δ RSS since before, "
            "MiB | Δ RSS this round, MiB | open fds | `ondo_connections` |",
            "|---|---:|---:|---:|---:|---:|---:|", *rows]
