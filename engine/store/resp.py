"""The event path's Redis connection: one socket, every command pipelined.

A command is packed (hiredis, in C) and queued for the socket as soon as it is
issued; the commands of one event-loop tick leave in one write, and replies
are parsed (hiredis) and handed to their callers in order. Concurrent events
therefore share round trips, and the client's cost per command is one C pack
and one C parse: redis-py's pipelines spent more Python per event than the
matcher and the delivery policy together (bench/RESULTS.md, "Load").

Errors, for each command's caller:
- ``ReplyError`` (``NoScriptError`` for NOSCRIPT): Redis answered this
  command with an error; the connection and the other commands are fine.
- ``ConnectionError``: the connection could not be made, was lost, or a reply
  took longer than ``timeout`` (then the connection is dropped, failing every
  command waiting on it). The next command connects again; after a failed
  connect, commands fail at once for ``retry_after`` seconds so that an outage
  does not turn into a connect storm.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Awaitable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import hiredis


class ReplyError(Exception):
    """Redis answered this command with an error reply."""


class NoScriptError(ReplyError):
    """EVALSHA of a script Redis does not hold (a restart empties its cache)."""


def _reply_error(message: str) -> ReplyError:
    # hiredis builds an error reply with the class it was given, from the message.
    return NoScriptError(message) if message.startswith("NOSCRIPT") else ReplyError(message)


class _Reply(Exception):
    """What hiredis makes of an error reply; ``_reply_error`` raises the right type."""


class _Protocol(asyncio.Protocol):
    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe

    def data_received(self, data: bytes) -> None:
        self.pipe._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pipe._lost(self, exc)


class Pipe:
    def __init__(self, url: str, *, connect_timeout: float = 1.0, timeout: float = 2.0,
                 retry_after: float = 0.1) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"not a Redis URL: {url!r} (redis://, rediss:// or unix://)")
        query = dict(parse_qsl(parts.query))
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.path = parts.path if parts.scheme == "unix" else None
        self.tls = parts.scheme == "rediss"
        db = int(query.get("db") or (parts.path.strip("/") if self.path is None else "") or 0)
        password = unquote(parts.password or "") or query.get("password")
        self.setup: list[tuple[Any, ...]] = []  # sent first on every connection
        if password:
            user = unquote(parts.username or "")
            self.setup.append(("AUTH", user, password) if user else ("AUTH", password))
        if db:
            self.setup.append(("SELECT", db))
        self.connect_timeout, self.timeout, self.retry_after = connect_timeout, timeout, \
            retry_after
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None
        self._reader = hiredis.Reader(replyError=_Reply)
        self._waiting: collections.deque[tuple[asyncio.Future[Any], float]] = \
            collections.deque()
        self._out: list[bytes] = []
        self._connecting: asyncio.Future[None] | None = None
        self._failed_at = -1e9
        self._watchdog: asyncio.TimerHandle | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- issuing commands

    def call(self, *args: Any, key: object = None) -> Awaitable[Any]:
        """Send one command; await the reply. ``key`` routes a command on a
        cluster (engine/store/cluster.py); one server takes every key."""
        if self._transport is None:
            return self._call_after_connect(args)
        return self._send(args)

    async def call_asking(self, *args: Any) -> Any:
        """ASKING, then the command, back to back on this connection: Redis
        Cluster's answer to an ASK redirection (a slot being migrated)."""
        if self._transport is None:
            await self._connect()
        asking = (self._send(("ASKING",)), self._send(args))
        outcomes: tuple[Any, ...] = await asyncio.gather(*asking, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return outcomes[1]

    async def _call_after_connect(self, args: tuple[Any, ...]) -> Any:
        await self._connect()
        return await self._send(args)

    def _send(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        # The loop the connection was opened on (asking asyncio for the running
        # loop costs a getpid() system call on Python 3.11).
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((future, loop.time() + self.timeout))
        out = self._out
        out.append(hiredis.pack_command(args))
        if len(out) == 1:
            loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.timeout, self._check_deadline)
        return future

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and self._transport is not None:
            self._transport.write(b"".join(out))

    # -- replies

    def _received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiting = self._waiting
        while (reply := reader.gets()) is not False:
            if not waiting:  # a reply nobody asked for: the stream is out of step
                self._drop(ConnectionError("unexpected reply from Redis"))
                return
            future, _ = waiting.popleft()
            if future.done():  # its caller was cancelled
                continue
            if isinstance(reply, _Reply):
                future.set_exception(_reply_error(str(reply)))
            else:
                future.set_result(reply)

    def _check_deadline(self) -> None:
        self._watchdog = None
        if not self._waiting:
            return
        loop = asyncio.get_running_loop()
        deadline = self._waiting[0][1]
        if loop.time() >= deadline:
            self._drop(ConnectionError(f"no reply from Redis within {self.timeout:g} s"))
        else:
            self._watchdog = loop.call_at(deadline, self._check_deadline)

    # -- the connection

    async def _connect(self) -> None:
        if self._closed:
            raise ConnectionError("the connection is closed")
        loop = asyncio.get_running_loop()
        if self._connecting is None:
            if loop.time() - self._failed_at < self.retry_after:
                raise ConnectionError("Redis is unreachable (retrying shortly)")
            self._connecting = loop.create_future()
            task = loop.create_task(self._open())
            task.add_done_callback(self._opened)
        await asyncio.shield(self._connecting)

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        protocol = _Protocol(self)
        context = ssl.create_default_context() if self.tls else None
        async with asyncio.timeout(self.connect_timeout):
            if self.path:
                transport, _ = await loop.create_unix_connection(lambda: protocol, self.path)
            else:
                transport, _ = await loop.create_connection(
                    lambda: protocol, self.host, self.port, ssl=context)
        self._reader = hiredis.Reader(replyError=_Reply)
        self._transport, self._protocol, self._loop = transport, protocol, loop
        if self.setup:
            async with asyncio.timeout(self.connect_timeout):
                for command in self.setup:
                    await self._send(command)

    def _opened(self, task: asyncio.Task[None]) -> None:
        connecting, self._connecting = self._connecting, None
        assert connecting is not None
        exc = task.exception() if not task.cancelled() else ConnectionError("cancelled")
        if exc is None:
            connecting.set_result(None)
            return
        self._failed_at = asyncio.get_running_loop().time()
        error = exc if isinstance(exc, ConnectionError) else ConnectionError(
            f"cannot connect to Redis: {exc!r}")
        self._drop(error)
        connecting.set_exception(error)
        connecting.exception()  # retrieved: the callers may all have gone

    def _lost(self, protocol: _Protocol, exc: Exception | None) -> None:
        if protocol is self._protocol:
            self._drop(ConnectionError(f"connection to Redis lost: {exc!r}" if exc else
                                       "connection to Redis closed"))

    def _drop(self, exc: Exception) -> None:
        """Close the connection and fail every command waiting on it."""
        transport, self._transport, self._protocol = self._transport, None, None
        self._out = []
        waiting, self._waiting = self._waiting, collections.deque()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if transport is not None:
            transport.abort()
        for future, _ in waiting:
            if not future.done():
                future.set_exception(exc)

    async def close(self) -> None:
        self._closed = True
        self._drop(ConnectionError("the connection is closed"))
