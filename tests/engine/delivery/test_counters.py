"""Per-rule daily counters, written to the store (the Lua store on a real
Redis, and the in-memory store): what each rule matched, what became of it,
what the widget reported; nothing lost to an outage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
import redis

from engine.delivery.attribution import Credit
from engine.delivery.counters import Counters
from engine.delivery.policy import Decision, Reason
from engine.runtime.embedded import EmbeddedRedis
from engine.runtime.metrics import Metrics
from engine.stats.report import build
from engine.store.base import Store
from engine.store.memory import MemoryStore
from engine.store.redis import RedisStore
from tests.engine.store.stores import STORES, Run

DAY = "20261118"


def decision(*outcomes: tuple[str, Reason]) -> Decision:
    return Decision([rule for rule, _ in outcomes], [reason for _, reason in outcomes])


def test_outcomes_and_reports_land_in_the_days_hash(store: Store, run: Run) -> None:
    counters = Counters(store)
    for _ in range(3):
        counters.decided("shop", DAY, decision(("welcome", Reason.SHOWN),
                                               ("upsell", Reason.LOST_TO)))
    counters.decided("shop", DAY, decision(("upsell", Reason.CAPPED)))
    counters.add("shop", DAY, {"welcome|shown": 2, "welcome|clicked": 1})
    run(counters.flush())
    assert run(store.stats("shop", DAY)) == {
        "welcome|matched": 3, "welcome|sent": 3, "welcome|shown": 2, "welcome|clicked": 1,
        "upsell|matched": 4, "upsell|lost_to": 3, "upsell|capped": 1}
    assert run(store.stats("shop", "20261119")) == run(store.stats("other", DAY)) == {}


def test_counts_add_up_across_flushes_and_nodes(store: Store, run: Run) -> None:
    for node in (Counters(store), Counters(store)):
        node.add("shop", DAY, {"welcome|shown": 2})
        run(node.flush())
    assert run(store.stats("shop", DAY)) == {"welcome|shown": 4}


def test_totals_since_start_are_on_metrics(store: Store, run: Run) -> None:
    counters = Counters(store)
    counters.decided("shop", DAY, decision(("welcome", Reason.SHOWN),
                                           ("upsell", Reason.HELD_OUT)))
    counters.add("shop", DAY, {"welcome|closed": 1})
    run(counters.flush())
    text = Metrics().render(counters.totals)
    assert 'ondo_rule_matched_total{site="shop",rule="upsell"} 1' in text
    assert 'ondo_rule_outcomes_total{site="shop",rule="welcome",outcome="sent"} 1' in text
    assert 'ondo_rule_outcomes_total{site="shop",rule="upsell",outcome="held_out"} 1' in text
    assert 'ondo_rule_reports_total{site="shop",rule="welcome",what="closed"} 1' in text


def test_a_flush_of_thousands_of_rules_lands_whole(store: Store, run: Run) -> None:
    counters = Counters(store)
    counters.decided("shop", DAY, decision(*((f"r{n}", Reason.FATIGUED) for n in range(1200))))
    run(counters.flush())
    stats = run(store.stats("shop", DAY))
    assert len(stats) == 2400
    assert stats["r1199|fatigued"] == stats["r0|matched"] == 1


class Outage(Protocol):
    store: Store

    def begin(self) -> None: ...

    def end(self) -> None: ...


class RedisOutage:
    """A Redis of the test's own, stopped and started again."""

    def __init__(self, server: EmbeddedRedis) -> None:
        self.server = server
        self.store: Store = RedisStore(server.url)

    def begin(self) -> None:
        self.server.stop()

    def end(self) -> None:
        self.server.start()
        time.sleep(0.2)  # past the connection's retry pause (engine/store/resp.py)


class MemoryOutage:
    def __init__(self) -> None:
        self.memory = MemoryStore()
        self.store: Store = self.memory

    def begin(self) -> None:
        self.memory.down = True

    def end(self) -> None:
        self.memory.down = False


@pytest.fixture(params=STORES)
def outage(request: pytest.FixtureRequest, tmp_path: Path, run: Run) -> Iterator[Outage]:
    if request.param == "memory":
        yield MemoryOutage()
        return
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    try:
        down = RedisOutage(server)
        yield down
        run(down.store.close())
    finally:
        server.stop()


def test_counts_wait_out_an_outage_and_are_written_once(outage: Outage, run: Run) -> None:
    counters = Counters(outage.store)
    counters.decided("shop", DAY, decision(("welcome", Reason.SHOWN)))
    outage.begin()
    run(counters.flush())  # kept
    counters.decided("shop", DAY, decision(("welcome", Reason.SHOWN)))
    run(counters.flush())  # kept, with the new one
    outage.end()
    run(counters.flush())
    run(counters.flush())  # nothing left: no double write
    assert run(outage.store.stats("shop", DAY)) == {"welcome|matched": 2, "welcome|sent": 2}
    assert counters.totals[("shop", "welcome|sent")] == 2
    assert outage.store.errors == 2


def test_a_sum_past_64_bit_integers_is_refused_alone_and_never_blocks_the_rest(
        store: Store, run: Run) -> None:
    refused: list[int] = []
    counters = Counters(store, on_refused=refused.append)
    counters.add("shop", DAY, {"big|revenue": 8_000_000_000_000_000_000})
    run(counters.flush())
    # 2 * 10**18 more would pass 2^63: that count alone is refused; the rest of
    # the same flush is written, and nothing of it lingers to fail the next.
    counters.add("shop", DAY, {"big|revenue": 2 * 10**18, "big|conversions": 1,
                               **{f"r{n}|shown": 1 for n in range(600)}})
    run(counters.flush())
    counters.add("shop", DAY, {"big|conversions": 1})
    run(counters.flush())
    stats = run(store.stats("shop", DAY))
    assert stats["big|revenue"] == 8_000_000_000_000_000_000
    assert stats["big|conversions"] == 2 and stats["r599|shown"] == 1
    assert refused == [1]  # one count refused


def test_a_counter_that_holds_no_integer_is_refused_and_nothing_is_counted_twice(
        redis_url: str, run: Run) -> None:
    """Someone wrote text into one field of the day's hash: that field is
    refused alone, and the others of the same call are written once, however
    many flushes follow (Redis never undoes a script's writes)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    key = f"ondo:{{shop}}:stats:{DAY}"
    client.hset(key, "b|shown", "not-a-number")
    store = RedisStore(redis_url)
    refused: list[int] = []
    counters = Counters(store, on_refused=refused.append)
    counters.add("shop", DAY, {"a|shown": 1, "b|shown": 1, "c|shown": 1})
    for _ in range(3):
        run(counters.flush())
    run(store.close())
    assert client.hgetall(key) == {"a|shown": "1", "b|shown": "not-a-number", "c|shown": "1"}
    client.close()
    assert refused == [1]


def test_squares_of_huge_orders_stay_exact(store: Store, run: Run) -> None:
    """One order of 3,100,000,000 won and ten of 1,000,000,000 in a day: their
    squares (9.6e18, 1e19 together) would leave Redis's integers as one sum."""
    amounts = [3_100_000_000] + [1_000_000_000] * 10 + [29_900]
    counters = Counters(store)
    for n, amount in enumerate(amounts):
        counters.converted("shop", DAY, f"buyer-{n}", [Credit("welcome", "t50", False)],
                           amount, "t0")
    run(counters.flush())
    site, (welcome,) = build({DAY: run(store.stats("shop", DAY))}, {}, {}, ["welcome"])
    treated = welcome.periods["50"].group("t", "exposed")
    assert (treated.conversions, treated.revenue) == (len(amounts), sum(amounts))
    assert treated.revenue_sq == sum(a * a for a in amounts)
    assert site.periods["0"].group("t", "visitors").revenue_sq == sum(a * a for a in amounts)
    assert welcome.days[DAY]["revenue_sq_t50"] == sum(a * a for a in amounts)
