"""The websocket gateway: the handshake's checks, then each message through
the socket's ``Session`` (engine/wire/session.py) and each event through the
pipeline (engine/flow/pipeline.py). Thin: it only moves messages and frames.

Outcomes of each limit (docs/protocol.md): unknown site, bad origin or bad
visitor id -> the handshake is refused (HTTP 403); too many new sockets from
one address -> HTTP 429; a frame over the size limit -> close 1009 and invalid
UTF-8 -> close 1007 (both by the websocket layer, configured in
engine/runtime/serving.py); a bad frame -> an error frame naming the field,
and after too many, close 4400; over the event rate -> error rate_limited
(the event is not stored: the client resends it), and after repeated
breaches close 1008; a client that stops reading -> close 4008; storage down
-> error unavailable instead of an ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from engine.flow.derive import Visitor
from engine.http.connections import Connection, SlowConsumer
from engine.http.services import Services, services
from engine.runtime.site import LiveSite
from engine.store.base import StoreUnavailable
from engine.wire.frames import FrameError
from engine.wire.protocol import (
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    CloseCode,
    EventKind,
    valid_visitor_id,
)
from engine.wire.session import Session

log = logging.getLogger("ondo.gateway")


def allowed_origin(site: LiveSite, origin: str | None) -> bool:
    # Exact string comparison: no suffix or prefix matching, no "null".
    return origin is not None and origin in site.config.origins


async def serve_socket(websocket: WebSocket) -> None:
    found = services(websocket)
    site: LiveSite | None = found.sites.get(websocket.query_params.get("site", ""))
    visitor_id = websocket.query_params.get("visitor", "")
    metrics = found.metrics
    if site is None or not allowed_origin(site, websocket.headers.get("origin")) or \
            not valid_visitor_id(visitor_id):
        metrics.closes[403] += 1
        await websocket.close(code=CloseCode.FORBIDDEN)  # before accept: HTTP 403
        return
    address = websocket.client.host if websocket.client else ""
    if not found.connect_limiter.allow(address):
        metrics.closes[429] += 1
        await _refuse(websocket, 429, "address", "too many new connections from this address; "
                      "reconnect later", {"Retry-After": "1"})
        return
    offered = websocket.scope.get("subprotocols") or []
    binary = SUBPROTOCOL_MSGPACK in offered
    chosen = SUBPROTOCOL_MSGPACK if binary else (SUBPROTOCOL_JSON if SUBPROTOCOL_JSON in offered
                                                  else None)
    await websocket.accept(subprotocol=chosen)
    limits = found.config.limits
    visitor = Visitor(site, visitor_id, websocket.headers.get("user-agent", ""))
    conn = Connection(websocket, binary, limits, visitor)
    session = Session(visitor_id, limits, binary=binary,
                      signals=lambda: site.rules.signals if site.rules else ())
    metrics.connections += 1
    found.sockets.add(websocket)
    writer = asyncio.create_task(conn.writer())
    found.registry.add(site.config.id, visitor.key, conn)
    try:
        code = await _read_loop(websocket, conn, visitor, session, found)
    except Exception:
        # A bug on one socket must not leave it counted and registered: the
        # widget is told to come back (1011) and the others go on.
        log.exception("an unexpected error on a websocket of %s; closing it with 1011",
                      site.config.id)
        code = CloseCode.INTERNAL
    finally:
        found.registry.remove(conn)
        metrics.connections -= 1
        found.sockets.discard(websocket)
    conn.finish()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer, timeout=1.0)
    writer.cancel()
    code = code if code is not None else conn.failed
    if code is not None:
        metrics.closes[int(code)] += 1
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
                     session: Session, found: Services) -> int | None:
    pipeline, clock, metrics, registry = found.pipeline, found.clock, found.metrics, \
        found.registry
    site = visitor.site.config.id
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
            step = session.receive(raw, clock.now())
            event = step.event
            if event is not None:
                try:
                    step.frames = await pipeline.handle(visitor, event, clock.now())
                except FrameError as exc:
                    step = session.rejected(exc)
                except StoreUnavailable:
                    step = session.unavailable(event)
                if event.kind is EventKind.IDENTIFY and (site, visitor.key) not in conn.keys:
                    registry.add(site, visitor.key, conn)  # now a member
            metrics.sent(step.frames)
            for frame in step.frames:
                conn.send(frame)
            if step.close is not None:
                return step.close
    except SlowConsumer:
        return CloseCode.SLOW_CONSUMER
    except WebSocketDisconnect:
        return None
