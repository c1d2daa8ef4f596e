"""The token buckets (engine/wire/rates.py) on a clock the test moves: a
visitor's beacon takes all its events' tokens or none, and says how long to
wait; the buckets kept are bounded, the least recently seen forgotten."""

from __future__ import annotations

import dataclasses

from engine.wire.protocol import LIMITS
from engine.wire.rates import ConnectLimiter, VisitorLimiter


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
