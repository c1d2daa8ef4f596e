"""The token buckets (engine/wire/rates.py) on a clock the test moves: a
visitor's beacon takes all its events' tokens or none, and says how long to
wait; the buckets kept are bounded, the least recently seen forgotten."""

from __future__ import annotations

import dataclasses

from engine.wire.protocol import LIMITS
from engine.wire.rates import ConnectLimiter, VisitorLimiter, client_key


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_visitors_events_are_taken_all_or_none() -> None:
    clock = Clock()
    limiter = VisitorLimiter(LIMITS, clock=clock)  # 20/s, bursts of 40
    assert limiter.take("shop", "visitor-1", 30) == 0
    assert limiter.take("shop", "visitor-1", 20) == 0.5  # 10 left: 10 more in 0.5 s
    assert limiter.take("shop", "visitor-1", 10) == 0  # the refused 20 took nothing
    assert limiter.take("shop", "visitor-2", 40) == 0  # a bucket per visitor
    assert limiter.take("other-shop", "visitor-1", 40) == 0  # and per site
    clock.t = 1.0
    assert limiter.take("shop", "visitor-1", 20) == 0


def test_the_buckets_kept_are_bounded() -> None:
    clock = Clock()
    limiter = ConnectLimiter(dataclasses.replace(LIMITS, connect_burst=1), max_addresses=2,
                             clock=clock)
    assert limiter.allow("10.0.0.1") and not limiter.allow("10.0.0.1")
    assert limiter.allow("10.0.0.2") and limiter.allow("10.0.0.3")
    assert len(limiter) == 2
    assert limiter.allow("10.0.0.1")  # forgotten, so a full bucket again


def test_an_ipv6_client_fills_one_bucket_wherever_it_moves_in_its_64() -> None:
    limiter = ConnectLimiter(dataclasses.replace(LIMITS, connect_burst=3), clock=lambda: 0.0)
    moves = [f"2001:db8:1:2::{n:x}" for n in range(1, 5)]
    assert [limiter.allow(address) for address in moves] == [True, True, True, False]
    assert limiter.allow("2001:db8:1:3::1")  # another /64: another subscriber
    assert client_key("::ffff:203.0.113.9") == client_key("203.0.113.9") == "203.0.113.9"
    assert client_key("unknown") == "unknown"
