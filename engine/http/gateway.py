"""The websocket gateway: handshake checks, frame limits, rate, the bounded
send queue. Thin: every event goes through engine.events.EventFlow.

Outcomes of each limit (docs/protocol.md): unknown site, bad origin or bad
visitor id -> the handshake is refused (HTTP 403); a frame over the size limit
-> close 1009 and invalid UTF-8 -> close 1007 (both by the websocket layer,
configured in engine/http/app.py); a bad frame -> an error frame naming the field,
and after too many, close 4400; over the event rate -> error rate_limited
(the event is not stored: the client resends it), and after repeated
breaches close 1008; a client that stops reading -> close 4008; storage down
-> error unavailable instead of an ack.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from engine.flow.pipeline import EventFlow, Visitor
from engine.runtime.site import LiveSite
from engine.store.base import StoreUnavailable
from engine.wire.action_ids import signed_frame
from engine.wire.frames import FrameError, Hello, decode, encode, parse_frame
from engine.wire.protocol import (
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    VERSION,
    CloseCode,
    ErrorCode,
    EventKind,
    Limits,
    ServerFrame,
    valid_visitor_id,
)


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class ConnectLimiter:
    """New sockets per client address: a client reconnecting after every
    close would otherwise get a fresh event burst each time. One bucket per
    address, the least recently seen dropped past ``max_addresses``."""

    def __init__(self, limits: Limits, max_addresses: int = 65_536) -> None:
        self.rate, self.burst = limits.connects_per_second, limits.connect_burst
        self.max_addresses = max_addresses
        self._buckets: collections.OrderedDict[str, TokenBucket] = collections.OrderedDict()

    def allow(self, address: str) -> bool:
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(address)
        return bucket.take()


class SlowConsumer(Exception):
    pass


class Connection:
    """One socket's outgoing side: a bounded queue of frames and the task that
    writes them, so that a client that stops reading never blocks its reader
    (or a push from another node) and is closed once the queue is full."""

    def __init__(self, websocket: WebSocket, binary: bool, limits: Limits,
                 visitor: Visitor) -> None:
        self.websocket = websocket
        self.visitor = visitor
        self.binary = binary
        self.limit = limits.send_queue
        self.keys: set[tuple[str, str]] = set()
        self.overflowed = False
        # A deque and one future, not an asyncio.Queue: two frames go out per
        # event, and the Queue's bookkeeping cost more than the frames.
        self._frames: collections.deque[dict[str, Any] | None] = collections.deque()
        self._wake: asyncio.Future[None] | None = None

    def send(self, frame: dict[str, Any]) -> None:
        if len(self._frames) >= self.limit:
            raise SlowConsumer
        self._queue(frame)

    def finish(self) -> None:
        """Let the writer send what it has, then stop."""
        self._queue(None)

    def _queue(self, frame: dict[str, Any] | None) -> None:
        self._frames.append(frame)
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def writer(self) -> None:
        frames, websocket, binary = self._frames, self.websocket, self.binary
        loop = asyncio.get_running_loop()
        while True:
            while frames:
                frame = frames.popleft()
                if frame is None:
                    return
                data = encode(frame, binary)
                if isinstance(data, bytes):
                    await websocket.send_bytes(data)
                else:
                    await websocket.send_text(data)
            self._wake = loop.create_future()
            await self._wake
            self._wake = None


class Registry:
    """This node's sockets by (site, profile key), for pushes that start
    elsewhere (an order posted to another node, reaching us by pub/sub)."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], set[Connection]] = {}

    def add(self, site: str, key: str, conn: Connection) -> None:
        self._by_key.setdefault((site, key), set()).add(conn)
        conn.keys.add((site, key))

    def remove(self, conn: Connection) -> None:
        for key in conn.keys:
            holders = self._by_key.get(key)
            if holders is not None:
                holders.discard(conn)
                if not holders:
                    del self._by_key[key]
        conn.keys.clear()

    def push(self, site: str, key: str, frames: list[dict[str, Any]]) -> int:
        """Queue frames on every local socket of that profile; how many got them."""
        sent = 0
        for conn in list(self._by_key.get((site, key), ())):
            action_key, recipient = conn.visitor.site.action_key, conn.visitor.id
            try:
                for frame in frames:
                    conn.send(signed_frame(frame, action_key, recipient)
                              if frame.get("t") == ServerFrame.ACTION else frame)
                sent += 1
            except SlowConsumer:
                conn.overflowed = True
                asyncio.get_running_loop().create_task(
                    conn.websocket.close(code=CloseCode.SLOW_CONSUMER))
        return sent


def allowed_origin(site: LiveSite, origin: str | None) -> bool:
    # Exact string comparison: no suffix or prefix matching, no "null".
    return origin is not None and origin in site.config.origins


async def serve_socket(websocket: WebSocket) -> None:
    state = websocket.app.state
    site: LiveSite | None = state.sites.get(websocket.query_params.get("site", ""))
    visitor_id = websocket.query_params.get("visitor", "")
    if site is None or not allowed_origin(site, websocket.headers.get("origin")) or \
            not valid_visitor_id(visitor_id):
        state.metrics.closes[403] += 1
        await websocket.close(code=CloseCode.FORBIDDEN)  # before accept: HTTP 403
        return
    address = websocket.client.host if websocket.client else ""
    if not state.connect_limiter.allow(address):
        state.metrics.closes[429] += 1
        await _refuse(websocket, 429, "address", "too many new connections from this address; "
                      "reconnect later", {"Retry-After": "1"})
        return
    offered = websocket.scope.get("subprotocols") or []
    binary = SUBPROTOCOL_MSGPACK in offered
    chosen = SUBPROTOCOL_MSGPACK if binary else (SUBPROTOCOL_JSON if SUBPROTOCOL_JSON in offered
                                                  else None)
    await websocket.accept(subprotocol=chosen)
    limits: Limits = state.config.limits
    visitor = Visitor(site, visitor_id, websocket.headers.get("user-agent", ""))
    conn = Connection(websocket, binary, limits, visitor)
    state.metrics.connections += 1
    state.connections.add(websocket)
    writer = asyncio.create_task(conn.writer())
    registry: Registry = state.registry
    registry.add(site.config.id, visitor.key, conn)
    try:
        code = await _read_loop(websocket, conn, visitor, state.flow, state.clock, limits,
                                state.metrics, registry)
    finally:
        registry.remove(conn)
    conn.finish()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer, timeout=1.0)
    writer.cancel()
    state.metrics.connections -= 1
    state.connections.discard(websocket)
    if code is not None:
        state.metrics.closes[int(code)] += 1
        if websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(code=int(code))


async def _refuse(websocket: WebSocket, status: int, field: str, message: str,
                  headers: dict[str, str]) -> None:
    """Refuse the handshake with an HTTP answer (or a plain 403 where the
    server cannot send one)."""
    try:
        await websocket.send_denial_response(JSONResponse(
            {"error": message, "field": field}, status_code=status, headers=headers))
    except RuntimeError:
        await websocket.close(code=CloseCode.FORBIDDEN)


async def _read_loop(websocket: WebSocket, conn: Connection, visitor: Visitor,
                     flow: EventFlow, clock: Any, limits: Limits, metrics: Any,
                     registry: Registry) -> int | None:
    bucket = TokenBucket(limits.events_per_second, limits.event_burst)
    rate_strikes = protocol_strikes = 0
    greeted = False
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes")
                if raw is None:
                    continue
            try:
                frame = parse_frame(decode(raw, conn.binary), limits)
            except FrameError as exc:
                metrics.errors[exc.code] += 1
                conn.send(exc.frame())
                protocol_strikes += 1
                if protocol_strikes >= limits.protocol_strikes:
                    return CloseCode.PROTOCOL
                continue
            if isinstance(frame, Hello):
                greeted = True
                conn.send({"t": ServerFrame.WELCOME, "v": VERSION, "visitor": visitor.id,
                           "server_time": clock.now()})
                continue
            if not greeted:
                conn.send({"t": ServerFrame.ERROR, "code": ErrorCode.NOT_READY, "id": frame.id,
                           "message": "send hello first"})
                continue
            if not bucket.take():
                metrics.errors[ErrorCode.RATE_LIMITED] += 1
                rate_strikes += 1
                conn.send({"t": ServerFrame.ERROR, "code": ErrorCode.RATE_LIMITED, "id": frame.id,
                           "message": f"over {limits.events_per_second:g} events per second"})
                if rate_strikes >= limits.rate_strikes:
                    return CloseCode.POLICY
                continue
            try:
                frames = await flow.handle(visitor, frame, clock.now())
            except FrameError as exc:
                metrics.errors[exc.code] += 1
                conn.send(exc.frame())
                protocol_strikes += 1
                if protocol_strikes >= limits.protocol_strikes:
                    return CloseCode.PROTOCOL
                continue
            except StoreUnavailable:
                metrics.redis_errors += 1
                metrics.errors[ErrorCode.UNAVAILABLE] += 1
                conn.send({"t": ServerFrame.ERROR, "code": ErrorCode.UNAVAILABLE, "id": frame.id,
                           "message": "storage unavailable; keep the event and resend it"})
                continue
            for out in frames:
                conn.send(out)
            if frame.kind is EventKind.IDENTIFY and (visitor.site.config.id,
                                                     visitor.key) not in conn.keys:
                registry.add(visitor.site.config.id, visitor.key, conn)  # now a member
    except SlowConsumer:
        return CloseCode.SLOW_CONSUMER
    except WebSocketDisconnect:
        return None
