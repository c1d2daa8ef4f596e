"""Token buckets: the event rate of one socket, and new sockets per client
address (docs/protocol.md, "Limits"). Pure; the clock is injected."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

from engine.wire.protocol import Limits

Clock = Callable[[], float]


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
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

    def __init__(self, limits: Limits, max_addresses: int = 65_536,
                 clock: Clock = time.monotonic) -> None:
        self.rate, self.burst = limits.connects_per_second, limits.connect_burst
        self.max_addresses = max_addresses
        self.clock = clock
        self._buckets: collections.OrderedDict[str, TokenBucket] = collections.OrderedDict()

    def allow(self, address: str) -> bool:
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = TokenBucket(self.rate, self.burst, self.clock)
            if len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(address)
        return bucket.take()
