"""The event path's connections to a Redis Cluster: one pipelined connection
(engine/store/resp.py ``Pipe``) per master, each command sent to the master
that owns its key's slot.

Every key of one call shares a hash tag (docs/storage.md), so a call is routed
by its first key. The slot map comes from CLUSTER SLOTS and is refreshed when
Redis says it is stale:

- ``MOVED slot host:port``: the slot has a new owner for good (a finished
  migration, a failover). The slot is pointed at the new owner at once, the
  command is sent there, and the whole map is read again in the background.
- ``ASK slot host:port``: the slot is being migrated and this key has already
  left. The command goes to the target once, preceded by ASKING; the map is
  left alone, as the migration has not finished.
- ``TRYAGAIN`` (a multi-key call whose keys are split by a migration) and
  ``CLUSTERDOWN``: retried after a short pause, a few times.
- a lost connection: the call fails (the engine answers ``unavailable``; the
  widget keeps the event) and the map is read again, so that once a replica has
  been promoted the next calls reach it.
- ``NOSCRIPT`` for a script the store registered (``scripts``): the node that
  said it (a promoted replica, a new master importing slots, a restarted one)
  loads it, once for all the calls that meet it there, and the call goes again.

The map is read from any node that answers: the seeds of the URL first, then
every node the last map named.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from redis.crc import key_slot

from engine.store.resp import Pipe, ReplyError

SLOTS = 16_384
SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS
_REDIRECTS = 8  # MOVED/ASK/TRYAGAIN followed per call before it fails
_REFRESH_EVERY = 0.2  # seconds: at most one map refresh this often
log = logging.getLogger("ondo.store")

Address = tuple[str, int]


class ClusterURLError(ValueError):
    """A ``redis+cluster://`` URL that cannot be read."""


@dataclass(frozen=True)
class ClusterURL:
    """``redis+cluster://[user:password@]host:port[,host:port…][?password=…]``:
    the seeds are nodes to ask for the slot map, not necessarily masters."""

    seeds: tuple[Address, ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> ClusterURL:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in SCHEMES:
            raise ClusterURLError(f"not a Redis Cluster URL: {url!r} (redis+cluster://host:port"
                                  "[,host:port…])")
        netloc, _, query = rest.partition("?")
        netloc = netloc.split("/", 1)[0]
        credentials, at, hosts = netloc.rpartition("@")
        if not at:
            credentials, hosts = "", netloc
        username, _, password = credentials.partition(":") if ":" in credentials else \
            ("", "", credentials)
        password = unquote(password) or dict(parse_qsl(query)).get("password", "")
        seeds = []
        for item in filter(None, hosts.split(",")):
            host, colon, port = item.rpartition(":")
            if not colon or not host or not port.isdigit():
                raise ClusterURLError(f"{item!r} in {url!r} is not host:port")
            seeds.append((host.strip("[]"), int(port)))
        if not seeds:
            raise ClusterURLError(f"no host:port in {url!r}")
        return cls(tuple(seeds), unquote(username) or None, password or None, SCHEMES[scheme])

    def node_url(self, address: Address) -> str:
        """A plain URL of one node, for its own pipelined connection."""
        host, port = address
        auth = ""
        if self.password:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password, safe='')}@"
        return f"{'rediss' if self.tls else 'redis'}://{auth}{host}:{port}"


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0] in SCHEMES


class ClusterPipe:
    """``Pipe.call`` for a cluster: ``call(*command, key=...)`` sends the command
    to the master owning ``key``'s slot (any master when there is no key)."""

    def __init__(self, url: ClusterURL, *, connect_timeout: float = 1.0, timeout: float = 2.0,
                 retry_after: float = 0.1) -> None:
        self.url = url
        self.connect_timeout, self.timeout, self.retry_after = connect_timeout, timeout, \
            retry_after
        self._slots: list[Address | None] = [None] * SLOTS
        self._nodes: list[Address] = []  # every node of the last map, masters first
        self._pipes: dict[Address, Pipe] = {}
        self._refreshing: asyncio.Task[None] | None = None
        self._refreshed_at = -1e9
        self._closed = False
        self.refreshes = 0
        self.redirects = 0  # MOVED, ASK and TRYAGAIN followed
        self.scripts: dict[str, str] = {}  # SHA -> source, loaded where NOSCRIPT says
        self._loads: dict[tuple[Address, str], asyncio.Future[Any]] = {}

    # -- commands

    async def call(self, *args: Any, key: str | bytes | None = None) -> Any:
        slot = key_slot(key.encode() if isinstance(key, str) else key) if key is not None \
            else None
        asking: Address | None = None
        for attempt in range(_REDIRECTS):
            node = asking or await self._owner(slot)
            pipe = self._pipe(node)
            try:
                return await (pipe.call_asking(*args) if asking else pipe.call(*args))
            except ReplyError as exc:
                message = str(exc)
                kind = message.split(" ", 1)[0]
                if kind in ("MOVED", "ASK", "TRYAGAIN"):
                    self.redirects += 1
                if kind == "MOVED":
                    moved_slot, address = _redirect(message, node)
                    self._slots[moved_slot] = address
                    self.refresh_soon()
                    asking = None
                    if attempt:  # the nodes disagree while a move is being told
                        await asyncio.sleep(0.02 * attempt)
                elif kind == "ASK":
                    _, asking = _redirect(message, node)
                elif kind in ("TRYAGAIN", "CLUSTERDOWN"):
                    self.refresh_soon()
                    asking = None
                    await asyncio.sleep(0.05 * (attempt + 1))
                elif kind == "NOSCRIPT" and args[0] == "EVALSHA" and args[1] in self.scripts:
                    await self._load(node, str(args[1]))
                else:
                    raise
            except ConnectionError:
                self.refresh_soon()
                raise
        raise ConnectionError(f"Redis Cluster kept redirecting the call ({_REDIRECTS} times)")

    async def _load(self, node: Address, sha: str) -> None:
        loading = self._loads.get((node, sha))
        if loading is None or loading.done():
            loading = self._loads[(node, sha)] = asyncio.ensure_future(
                self._pipe(node).call("SCRIPT", "LOAD", self.scripts[sha]))
        await asyncio.shield(loading)

    async def each_master(self, *args: Any, return_exceptions: bool = False) -> list[Any]:
        """The command on every master (SCRIPT LOAD, FLUSHALL, PING)."""
        await self._ensure_map()
        return list(await asyncio.gather(*(self._pipe(node).call(*args)
                                           for node in self.masters()),
                                         return_exceptions=return_exceptions))

    def masters(self) -> list[Address]:
        return list(dict.fromkeys(node for node in self._slots if node is not None))

    @property
    def covered(self) -> bool:
        """Whether the last map gives every slot a master."""
        return all(node is not None for node in self._slots)

    async def healthy(self) -> bool:
        """Every slot has a master, and every master answers PING."""
        self.refresh_soon()
        with contextlib.suppress(ConnectionError, ReplyError):
            await self._ensure_map()
            if self._refreshing is not None:
                await asyncio.shield(self._refreshing)
            return self.covered and all(
                reply in (b"PONG", "PONG") for reply in await self.each_master("PING"))
        return False

    # -- the slot map

    async def _owner(self, slot: int | None) -> Address:
        if slot is None:
            await self._ensure_map()
            masters = self.masters()
            if not masters:
                raise ConnectionError("Redis Cluster has no master serving slots")
            return masters[0]
        node = self._slots[slot]
        if node is None:
            await self._ensure_map(force=True)
            node = self._slots[slot]
            if node is None:
                raise ConnectionError(f"slot {slot} has no master: the cluster does not cover "
                                      "every slot")
        return node

    def _pipe(self, node: Address) -> Pipe:
        pipe = self._pipes.get(node)
        if pipe is None:
            pipe = self._pipes[node] = Pipe(
                self.url.node_url(node), connect_timeout=self.connect_timeout,
                timeout=self.timeout, retry_after=self.retry_after)
        return pipe

    async def _ensure_map(self, force: bool = False) -> None:
        if self._nodes and not force:
            return
        if force:
            self.refresh_soon()
        elif self._refreshing is None:
            self._start_refresh()
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)
        if not self._nodes:
            raise ConnectionError("no Redis Cluster node answered CLUSTER SLOTS (tried "
                                  f"{', '.join(f'{h}:{p}' for h, p in self.url.seeds)})")

    def refresh_soon(self) -> None:
        """Read the slot map again, unless a refresh runs or ran a moment ago."""
        if self._closed or self._refreshing is not None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._refreshed_at < _REFRESH_EVERY:
            return
        self._start_refresh()

    def _start_refresh(self) -> None:
        task = asyncio.get_running_loop().create_task(self._refresh())
        self._refreshing = task
        task.add_done_callback(self._refreshed)

    def _refreshed(self, task: asyncio.Task[None]) -> None:
        self._refreshing = None
        self._refreshed_at = asyncio.get_running_loop().time()
        if not task.cancelled() and task.exception() is not None:
            log.warning("reading the Redis Cluster slot map failed: %s", task.exception())

    async def _refresh(self) -> None:
        tried = []
        for node in dict.fromkeys([*self._nodes, *self.url.seeds]):
            try:
                reply = await self._pipe(node).call("CLUSTER", "SLOTS")
            except (ConnectionError, ReplyError) as exc:
                tried.append(f"{node[0]}:{node[1]} ({exc})")
                continue
            slots: list[Address | None] = [None] * SLOTS
            masters: list[Address] = []
            replicas: list[Address] = []
            for start, end, master, *others in reply:
                address = _address(master, node)
                slots[int(start):int(end) + 1] = [address] * (int(end) - int(start) + 1)
                masters.append(address)
                replicas += (_address(other, node) for other in others)
            self._slots = slots
            self._nodes = list(dict.fromkeys([*masters, *replicas]))
            self.refreshes += 1
            # Pipes to nodes the map no longer names stay: a master importing
            # slots is named only once it owns one, and ASK sends calls there.
            return
        raise ConnectionError("no Redis Cluster node answered: " + "; ".join(tried))

    async def close(self) -> None:
        self._closed = True
        if self._refreshing is not None:
            self._refreshing.cancel()
        pipes, self._pipes = list(self._pipes.values()), {}
        for pipe in pipes:
            await pipe.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _address(entry: Sequence[Any], asked: Address) -> Address:
    """A node of CLUSTER SLOTS' reply; an empty host means the node asked."""
    host = _text(entry[0]) or asked[0]
    return host, int(entry[1])


def _redirect(message: str, asked: Address) -> tuple[int, Address]:
    """``MOVED 3999 127.0.0.1:6381`` -> (3999, ("127.0.0.1", 6381)); an empty
    host (``MOVED 3999 :6381``) is the host of the node that answered."""
    _, slot, where = message.split(" ")[:3]
    host, _, port = where.rpartition(":")
    return int(slot), (host.strip("[]") or asked[0], int(port))
