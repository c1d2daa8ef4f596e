"""A site's live counters spread over several slots (site config
``live_shards``) answer what one slot answers: each visitor is kept in one
shard and the figures are summed over all, on one Redis and on a cluster.
Exactly, when every read reaches every shard; with the node's cache of the
other shards' figures (a second by default), those lag by up to that much."""

from __future__ import annotations

import random
import time

import pytest

from engine.profile.layout import live_shard
from engine.store.base import LiveUpdate
from engine.store.memory import MemoryStore
from engine.store.redis import RedisStore
from tests.engine.store.stores import MIN, T0, Run, open_store

SHARDS = 4


@pytest.fixture(params=["redis", "cluster"])
def spread(request: pytest.FixtureRequest, run: Run) -> RedisStore:
    """A store that reads every shard on every read (no cache)."""
    store = open_store(request.param, request)
    assert isinstance(store, RedisStore)
    store.live_cache = 0.0
    request.addfinalizer(lambda: run(store.close()))
    return store


def walk(seed: int, steps: int) -> list[LiveUpdate]:
    """Visitors viewing products, adding to carts, buying, signing in and
    asking for figures, over a quarter of an hour."""
    rng = random.Random(seed)
    visitors = [f"v{n}" for n in range(30)]
    products = ["P1", "P2", "P3", ""]
    updates, now = [], T0
    for _ in range(steps):
        now += rng.uniform(0, 6)
        who = rng.choice(visitors)
        roll = rng.random()
        if roll < 0.6:
            update = LiveUpdate(now, who, page=True, product=rng.choice(products), read=True,
                                read_product=rng.choice(products))
        elif roll < 0.75:
            update = LiveUpdate(now, who, added=(rng.choice(products[:3]),), read=True,
                                read_product=rng.choice(products[:3]))
        elif roll < 0.85:
            update = LiveUpdate(now, "", bought=tuple(rng.sample(products[:3], 2)))
        elif roll < 0.95:
            member = f"m:{who}"
            update = LiveUpdate(now, member, page=True, product=rng.choice(products),
                                left=who, read=True, read_product=rng.choice(products))
        else:
            update = LiveUpdate(now, read=True, read_product=rng.choice(products))
        updates.append(update)
    return updates


@pytest.mark.parametrize("seed", [1, 2])
def test_spread_counters_answer_what_one_slot_answers(spread: RedisStore, run: Run,
                                                      seed: int) -> None:
    one_slot = MemoryStore()
    for step, update in enumerate(walk(seed, 300)):
        expected = run(one_slot.live("s", update))
        assert run(spread.live("s", update, SHARDS)) == expected, (step, update)


def test_visitors_spread_over_every_shard() -> None:
    shards = {live_shard(f"visitor-{n}", SHARDS) for n in range(100)}
    assert shards == set(range(SHARDS))
    assert live_shard("anyone", 1) is None  # one slot: today's keys


def test_a_visitor_who_signs_in_leaves_the_shard_they_were_counted_in(
        spread: RedisStore, run: Run) -> None:
    anonymous = next(f"a{n}" for n in range(100) if live_shard(f"a{n}", SHARDS) == 0)
    member = next(f"m:{n}" for n in range(100) if live_shard(f"m:{n}", SHARDS) == 1)
    run(spread.live("s", LiveUpdate(T0, anonymous, page=True, product="P1"), SHARDS))
    figures = run(spread.live("s", LiveUpdate(T0 + MIN, member, page=True, product="P1",
                                              left=anonymous, read=True,
                                              read_product="P1"), SHARDS))
    assert (figures["site_visitors_now"], figures["product_viewers_now"]) == (1, 0)


def test_the_other_shards_figures_are_read_at_most_once_a_second(
        spread: RedisStore, run: Run) -> None:
    spread.live_cache = 1.0
    in_shard = {shard: [f"v{n}" for n in range(200) if live_shard(f"v{n}", SHARDS) == shard]
                for shard in range(SHARDS)}
    asker, first, second = in_shard[0][0], in_shard[1][0], in_shard[1][1]

    def viewers() -> int:
        figures = run(spread.live("s", LiveUpdate(T0, asker, page=True, product="P1",
                                                  read=True, read_product="P1"), SHARDS))
        return figures["product_viewers_now"]

    run(spread.live("s", LiveUpdate(T0, first, page=True, product="P1"), SHARDS))
    assert viewers() == 1
    run(spread.live("s", LiveUpdate(T0, second, page=True, product="P1"), SHARDS))
    assert viewers() == 1  # shard 1 as this node read it a moment ago
    time.sleep(1.05)
    assert viewers() == 2
