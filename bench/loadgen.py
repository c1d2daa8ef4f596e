"""A cheap websocket load generator: raw asyncio Protocols speaking just enough
RFC 6455 (client handshake, masked text frames with a zero mask key, server
text/close/ping frames), so the generator does not measure itself.

One process runs many visitors; ``run_process`` is its entry point and returns
a ``Tally`` (histogram + counts) for the parent to merge.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import random
import struct
import time
from dataclasses import dataclass, field
from typing import Any, cast

import msgpack

from bench.histogram import Histogram
from bench.journeys import Journey
from engine.wire.protocol import LIMITS

_ZERO_MASK = b"\x00\x00\x00\x00"
MIN_GAP = 1.05 / LIMITS.events_per_second  # closed loop: a paced visitor's fastest pace


def text_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client frame (text by default), masked with the zero key (so the
    payload goes as is)."""
    size = len(payload)
    first = 0x80 | opcode
    if size < 126:
        header = struct.pack("!BB", first, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, size)
    return header + _ZERO_MASK + payload


def encoder(binary: bool) -> Any:
    """Frame bytes for a message dict: JSON text frames or msgpack binary frames."""
    if binary:
        return lambda message: text_frame(msgpack.packb(message), 0x2)
    return lambda message: text_frame(json.dumps(message, ensure_ascii=False).encode())


WINDOWS_PER_SECOND = 10  # the timeline's windows: 100 ms


@dataclass
class Tally:
    latency: Histogram = field(default_factory=Histogram)
    sent: int = 0
    acked: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    closed: int = 0
    since: float = float("inf")  # events sent before this moment are warm-up, not counted
    # Latencies (µs) by the 100 ms window their event was due in, for the plot of
    # latency over time (what stalls the server, and when).
    timeline: dict[int, list[float]] = field(default_factory=dict)


class Client(asyncio.Protocol):
    def __init__(self, tally: Tally, on_open: asyncio.Future[None],
                 journey: Journey | None = None) -> None:
        self.tally = tally
        self.on_open = on_open
        self.journey = journey
        self.buffer = b""
        self.open = False
        self.transport: asyncio.Transport | None = None
        self.pending: dict[str, float] = {}  # event id -> intended send time
        self.acked = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.tally.refused += 1
                if not self.on_open.done():
                    self.on_open.set_exception(ConnectionRefusedError(head[:60].decode()))
                return
            self.open = True
            if not self.on_open.done():
                self.on_open.set_result(None)
        while len(self.buffer) >= 2:
            first, second = self.buffer[0], self.buffer[1]
            size, offset = second & 0x7F, 2
            if size == 126:
                if len(self.buffer) < 4:
                    return
                size, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
            elif size == 127:
                if len(self.buffer) < 10:
                    return
                size, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
            if len(self.buffer) < offset + size:
                return
            payload = self.buffer[offset:offset + size]
            self.buffer = self.buffer[offset + size:]
            opcode = first & 0x0F
            if opcode in (1, 2):
                self.frame(payload, opcode == 2)
            elif opcode == 8:
                self.tally.closed += 1
                if self.transport:
                    self.transport.close()
            elif opcode == 9 and self.transport:
                self.transport.write(struct.pack("!BB", 0x8A, 0x80 | len(payload)) + _ZERO_MASK
                                     + payload)

    def frame(self, payload: bytes, binary: bool = False) -> None:
        message = msgpack.unpackb(payload) if binary else json.loads(payload)
        kind = message.get("t")
        if kind == "action":
            rule = message.get("rule", "?")
            self.tally.actions[rule] = self.tally.actions.get(rule, 0) + 1
            if self.journey is not None:
                self.journey.shown(message.get("id", ""), rule)
            return
        event_id = message.get("id")
        started = self.pending.pop(event_id, None) if event_id else None
        if started is None:
            return
        self.acked.set()
        if started < self.tally.since:
            return
        if kind == "error":
            code = message.get("code", "?")
            self.tally.errors[code] = self.tally.errors.get(code, 0) + 1
        else:
            micros = (time.perf_counter() - started) * 1e6
            self.tally.acked += 1
            self.tally.latency.record(micros)
            window = int((started - self.tally.since) * WINDOWS_PER_SECOND)
            self.tally.timeline.setdefault(window, []).append(micros)

    def send(self, event_id: str, frame: bytes, intended: float) -> None:
        self.pending[event_id] = intended
        if intended >= self.tally.since:
            self.tally.sent += 1
        assert self.transport is not None
        self.transport.write(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if not self.on_open.done():
            self.on_open.set_exception(exc or ConnectionResetError())


async def connect(host: str, port: int, path: str, origin: str, tally: Tally,
                  subprotocol: str = "ondo.v1", journey: Journey | None = None) -> Client:
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[None] = loop.create_future()
    _, client = await loop.create_connection(lambda: Client(tally, opened, journey), host,
                                             port)
    key = base64.b64encode(os.urandom(16)).decode()
    assert client.transport is not None
    client.transport.write((
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {subprotocol}\r\nOrigin: {origin}\r\n\r\n").encode())
    await asyncio.wait_for(opened, timeout=30)
    return client


@dataclass
class Plan:
    host: str
    port: int
    site: str
    origin: str
    visitors: int
    duration: float
    rate: float  # events per second for this process; 0 = closed loop
    seed: int
    think: float = 0.0  # mean think time in closed loop (exponential), seconds
    msgpack: bool = False  # binary msgpack frames (subprotocol ondo.v1.msgpack)
    warmup: float = 2.0  # seconds of load before the measured window
    paced: bool = True  # closed loop within the protocol's event rate (the references have none)


async def _arrive(plan: Plan, index: int, tally: Tally,
                  rng: random.Random) -> tuple[Client, Journey]:
    """Connect one visitor and say hello (before the measured window opens)."""
    journey = Journey(rng, f"p{plan.seed}v{index}")
    path = f"/v1/ws?site={plan.site}&visitor={journey.visitor}"
    client = await connect(plan.host, plan.port, path, plan.origin, tally,
                           "ondo.v1.msgpack" if plan.msgpack else "ondo.v1", journey)
    assert client.transport is not None
    client.transport.write(encoder(plan.msgpack)(journey.hello()))
    return client, journey


async def _visitor(plan: Plan, client: Client, journey: Journey, deadline: float,
                   rng: random.Random) -> None:
    assert client.transport is not None
    encode = encoder(plan.msgpack)
    interval = plan.visitors / plan.rate if plan.rate else 0.0
    next_at = time.perf_counter() + rng.random() * interval
    while time.perf_counter() < deadline and client.open:
        event_id, message = journey.next_event()
        frame = encode(message)
        if interval:
            if next_at >= deadline:
                break
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # Latency counts from the intended send time: no coordinated omission.
            client.send(event_id, frame, next_at)
            next_at += interval
        else:
            if plan.paced:
                # As fast as acks come, but within the protocol's per-connection rate
                # (the engine answers more with rate_limited, which measures nothing).
                now = time.perf_counter()
                if now < next_at:
                    await asyncio.sleep(next_at - now)
                next_at = max(now, next_at) + MIN_GAP
            client.acked.clear()
            client.send(event_id, frame, time.perf_counter())
            try:
                await asyncio.wait_for(client.acked.wait(), timeout=max(0.1, deadline -
                                                                          time.perf_counter()))
            except TimeoutError:
                break
            if plan.think:
                await asyncio.sleep(rng.expovariate(1 / plan.think))
    await asyncio.sleep(0.5 if interval else 0)  # let the last acks arrive
    client.transport.close()


async def _run(plan: Plan) -> Tally:
    """Every visitor connects first; then the measured window of ``duration``
    opens for all at once (a connect storm inside it would be measured too)."""
    tally = Tally()
    rng = random.Random(plan.seed)
    arrivals = []
    for index in range(plan.visitors):
        arrivals.append(asyncio.create_task(_arrive(plan, index, tally,
                                                    random.Random(rng.random()))))
        if index % 50 == 49:
            await asyncio.sleep(0)  # do not storm the accept queue
    arrived = await asyncio.gather(*arrivals, return_exceptions=True)
    visitors = [a for a in arrived if not isinstance(a, BaseException)]
    if len(visitors) < len(arrived):
        tally.errors["connect"] = len(arrived) - len(visitors)
    await asyncio.sleep(0.2)  # the welcomes
    # A warm-up under load, not counted: the first collections of the cyclic GC
    # after a thousand connections arrive, caches filling, Redis's script cache.
    tally.since = time.perf_counter() + plan.warmup
    deadline = tally.since + plan.duration
    results = await asyncio.gather(*(
        _visitor(plan, client, journey, deadline, random.Random(rng.random()))
        for client, journey in visitors), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        tally.errors["lost"] = tally.errors.get("lost", 0) + len(failures)
    return tally


def run_process(plan: Plan, cpu: int | None = None) -> dict[str, Any]:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    # A bounded run: no cyclic GC pauses in the measuring client (its garbage is
    # freed by reference counting; a collection stalled reading acks for ms).
    gc.disable()
    tally = asyncio.run(_run(plan))
    return {"counts": tally.latency.counts, "total": tally.latency.total,
            "max": tally.latency.max_us, "sent": tally.sent, "acked": tally.acked,
            "errors": tally.errors, "actions": tally.actions, "refused": tally.refused,
            "closed": tally.closed, "timeline": tally.timeline}
