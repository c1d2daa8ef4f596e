"""Per-rule daily counters, written to a real Redis: what each rule matched,
what became of it, what the widget reported; nothing lost to an outage."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from engine.delivery.counters import Counters
from engine.delivery.policy import Decision, Reason
from engine.runtime.embedded import EmbeddedRedis
from engine.runtime.metrics import Metrics
from engine.store.redis import RedisStore

DAY = "20261118"
T = TypeVar("T")


def decision(*outcomes: tuple[str, Reason]) -> Decision:
    return Decision([rule for rule, _ in outcomes], [reason for _, reason in outcomes])


def test_outcomes_and_reports_land_in_the_days_hash(redis_url: str) -> None:
    async def go() -> dict[str, int]:
        store = RedisStore(redis_url)
        counters = Counters(store)
        for _ in range(3):
            counters.decided("shop", DAY, decision(("welcome", Reason.SHOWN),
                                                   ("upsell", Reason.LOST_TO)))
        counters.decided("shop", DAY, decision(("upsell", Reason.CAPPED)))
        counters.add("shop", DAY, {"welcome|shown": 2, "welcome|clicked": 1})
        await counters.flush()
        stats = await store.stats("shop", DAY)
        await store.close()
        return stats

    assert run(go()) == {
        "welcome|matched": 3, "welcome|sent": 3, "welcome|shown": 2, "welcome|clicked": 1,
        "upsell|matched": 4, "upsell|lost_to": 3, "upsell|capped": 1}


def test_totals_since_start_are_on_metrics(redis_url: str) -> None:
    async def go() -> Counters:
        store = RedisStore(redis_url)
        counters = Counters(store)
        counters.decided("shop", DAY, decision(("welcome", Reason.SHOWN),
                                               ("upsell", Reason.HELD_OUT)))
        counters.add("shop", DAY, {"welcome|closed": 1})
        await counters.flush()
        await store.close()
        return counters

    text = Metrics().render(run(go()).totals)
    assert 'ondo_rule_matched_total{site="shop",rule="upsell"} 1' in text
    assert 'ondo_rule_outcomes_total{site="shop",rule="welcome",outcome="sent"} 1' in text
    assert 'ondo_rule_outcomes_total{site="shop",rule="upsell",outcome="held_out"} 1' in text
    assert 'ondo_rule_reports_total{site="shop",rule="welcome",what="closed"} 1' in text


def test_counts_wait_out_an_outage_and_are_written_once(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()

    async def go() -> tuple[dict[str, int], int]:
        store = RedisStore(server.url)
        counters = Counters(store)
        counters.decided("shop", DAY, decision(("welcome", Reason.SHOWN)))
        server.stop()
        await counters.flush()  # kept
        counters.decided("shop", DAY, decision(("welcome", Reason.SHOWN)))
        await counters.flush()  # kept, with the new one
        server.start()
        await asyncio.sleep(0.2)  # past the connection's retry pause
        await counters.flush()
        await counters.flush()  # nothing left: no double write
        stats = await store.stats("shop", DAY)
        await store.close()
        return stats, counters.totals[("shop", "welcome|sent")]

    try:
        stats, total = run(go())
    finally:
        server.stop()
    assert stats == {"welcome|matched": 2, "welcome|sent": 2}
    assert total == 2


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def test_a_flush_of_thousands_of_rules_lands_whole(redis_url: str) -> None:
    async def go() -> dict[str, int]:
        store = RedisStore(redis_url)
        counters = Counters(store)
        counters.decided("shop", DAY, decision(*((f"r{n}", Reason.FATIGUED)
                                                  for n in range(1200))))
        await counters.flush()
        stats = await store.stats("shop", DAY)
        await store.close()
        return stats

    stats = run(go())
    assert len(stats) == 2400
    assert stats["r1199|fatigued"] == stats["r0|matched"] == 1
