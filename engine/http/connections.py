"""This node's sockets: each one's bounded send queue and writer, and the
registry by (site, profile key) that pushes from other nodes go through."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging

from starlette.websockets import WebSocket

from engine.flow.derive import Visitor
from engine.wire.action_ids import signed_frame
from engine.wire.frames import encode
from engine.wire.protocol import CloseCode, Frame, Limits, ServerFrame

log = logging.getLogger("ondo.gateway")


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
        self.failed: CloseCode | None = None  # the writer closed the socket with this
        # A deque and one future, not an asyncio.Queue: two frames go out per
        # event, and the Queue's bookkeeping cost more than the frames.
        self._frames: collections.deque[Frame | None] = collections.deque()
        self._wake: asyncio.Future[None] | None = None

    def send(self, frame: Frame) -> None:
        if len(self._frames) >= self.limit:
            raise SlowConsumer
        self._queue(frame)

    def finish(self) -> None:
        """Let the writer send what it has, then stop."""
        self._queue(None)

    def _queue(self, frame: Frame | None) -> None:
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
                try:
                    data = encode(frame, binary)
                except Exception as exc:  # a value no frame can carry: never left mute
                    await self._fail(frame, exc)
                    return
                if isinstance(data, bytes):
                    await websocket.send_bytes(data)
                else:
                    await websocket.send_text(data)
            self._wake = loop.create_future()
            await self._wake
            self._wake = None


    async def _fail(self, frame: Frame, exc: Exception) -> None:
        """A frame that cannot be written: the socket is closed with 1011 (the
        widget reconnects; its events are stored, the next one re-evaluates),
        and the cause logged."""
        self.failed = CloseCode.INTERNAL
        log.error("a %s frame to a visitor of %s could not be encoded (%s: %s); closing "
                  "the socket with 1011", frame.get("t"), self.visitor.site.config.id,
                  type(exc).__name__, exc)
        with contextlib.suppress(Exception):
            await self.websocket.close(code=CloseCode.INTERNAL)


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

    def figures(self, site: str) -> tuple[int, int]:
        """This node's open sockets of ``site`` and the profiles they belong to."""
        sockets: set[Connection] = set()
        for (held_site, _), holders in self._by_key.items():
            if held_site == site:
                sockets |= holders
        return len(sockets), len({conn.visitor.key for conn in sockets})

    def push(self, site: str, key: str, frames: list[Frame]) -> int:
        """Queue frames on every local socket of that profile, each action
        signed for that socket's visitor; how many sockets got them."""
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
