"""Token buckets: the event rate of one socket, new sockets and beacons per
client address, and the events one visitor's beacons may bring
(docs/protocol.md, "Limits"). Pure; the clock is injected."""

from __future__ import annotations

import collections
import ipaddress
import math
import time
from collections.abc import Callable, Hashable

from engine.wire.protocol import Limits

Clock = Callable[[], float]


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def take(self, n: int = 1) -> bool:
        """Take ``n`` tokens, or none at all when fewer are left."""
        self._refill()
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False

    def wait(self, n: int = 1) -> float:
        """Seconds until ``n`` tokens are there (inf past the bucket's size)."""
        if n > self.burst:
            return math.inf
        self._refill()
        return max(0.0, (n - self.tokens) / self.rate)


class _Buckets:
    """One bucket per key, the least recently seen forgotten past ``max_keys``
    (forgetting one hands its owner a full bucket again, so the bound is set
    well above the keys seen within a bucket's refill time)."""

    def __init__(self, rate: float, burst: int, max_keys: int, clock: Clock) -> None:
        self.rate, self.burst = rate, burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: collections.OrderedDict[Hashable, TokenBucket] = \
            collections.OrderedDict()

    def bucket(self, key: Hashable) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.clock)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def __len__(self) -> int:
        return len(self._buckets)


class ConnectLimiter(_Buckets):
    """New sockets per client address: a client reconnecting after every
    close would otherwise get a fresh event burst each time. Each beacon takes
    a token too: a client posting beacons instead of opening sockets meets the
    same limit (and its beacons count against its sockets, and back)."""

    def __init__(self, limits: Limits, max_addresses: int = 65_536,
                 clock: Clock = time.monotonic) -> None:
        super().__init__(limits.connects_per_second, limits.connect_burst, max_addresses, clock)

    def allow(self, address: str) -> bool:
        return self.bucket(client_key(address)).take()


def client_key(address: str) -> str:
    """Whose bucket a client address fills: an IPv4 address itself, an IPv6
    address its /64 (one subscriber's network: a client can move within it at
    will, and each address would otherwise get a fresh burst)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


class VisitorLimiter(_Buckets):
    """The events one visitor's beacons may bring, per (site, visitor id), at
    a socket's rate and burst: a beacon's events are taken all at once or the
    beacon is refused whole."""

    def __init__(self, limits: Limits, max_visitors: int = 65_536,
                 clock: Clock = time.monotonic) -> None:
        super().__init__(limits.events_per_second, limits.event_burst, max_visitors, clock)

    def take(self, site: str, visitor: str, events: int) -> float:
        """0 when the events may go; otherwise the seconds to wait (nothing taken)."""
        bucket = self.bucket((site, visitor))
        return 0.0 if bucket.take(events) else bucket.wait(events)
