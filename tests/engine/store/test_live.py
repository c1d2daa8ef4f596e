"""The site's live counters (contract, both stores): who is on a product's
page now, who is on the site, and a product's orders and cart additions over the
last 24 hours; bounded as visitors and products come and go."""

from __future__ import annotations

import redis

from engine.store.base import LiveUpdate, Store
from engine.store.redis import RedisStore
from tests.engine.store.stores import HOUR, MIN, T0, Run


def view(store: Store, run: Run, visitor: str, product: str = "", at: float = T0) -> None:
    run(store.live("s", LiveUpdate(at, visitor, page=True, product=product)))


def figures(store: Store, run: Run, product: str = "", at: float = T0) -> dict[str, int]:
    return run(store.live("s", LiveUpdate(at, read=True, read_product=product)))


def test_viewers_now_are_those_whose_current_page_is_the_product(store: Store,
                                                                  run: Run) -> None:
    for visitor in ("a", "b", "c"):
        view(store, run, visitor, "P1")
    view(store, run, "d", "P2")
    assert figures(store, run, "P1") == {"site_visitors_now": 4, "product_viewers_now": 3,
                                          "product_purchases_24h": 0,
                                          "product_cart_adds_24h": 0}
    view(store, run, "a", "P2", T0 + MIN)  # moves on to another product
    view(store, run, "b", "", T0 + MIN)  # and to a page with none
    assert figures(store, run, "P1", T0 + MIN)["product_viewers_now"] == 1
    assert figures(store, run, "P2", T0 + MIN)["product_viewers_now"] == 2
    assert figures(store, run, at=T0 + MIN) == {"site_visitors_now": 4}


def test_visitors_leave_the_figures_five_minutes_after_their_last_page(store: Store,
                                                                        run: Run) -> None:
    view(store, run, "a", "P1")
    view(store, run, "b", "P1", T0 + 3 * MIN)
    assert figures(store, run, "P1", T0 + 5 * MIN)["product_viewers_now"] == 2
    later = figures(store, run, "P1", T0 + 5 * MIN + 1)
    assert (later["product_viewers_now"], later["site_visitors_now"]) == (1, 1)
    assert figures(store, run, "P1", T0 + 9 * MIN)["site_visitors_now"] == 0


def test_orders_and_cart_additions_count_over_the_last_24_hours(store: Store,
                                                                run: Run) -> None:
    run(store.live("s", LiveUpdate(T0, bought=("P1", "P2", "P1"))))  # one order
    run(store.live("s", LiveUpdate(T0 + HOUR, bought=("P1",))))
    run(store.live("s", LiveUpdate(T0, visitor="a", added=("P1",))))
    now = figures(store, run, "P1", T0 + 2 * HOUR)
    assert (now["product_purchases_24h"], now["product_cart_adds_24h"]) == (2, 1)
    # Whole hours: a day later, the first order's hour has left, the second's not yet.
    assert figures(store, run, "P1", T0 + 24 * HOUR)["product_purchases_24h"] == 1
    assert figures(store, run, "P1", T0 + 26 * HOUR)["product_purchases_24h"] == 0


def test_the_visitor_asking_is_not_among_the_viewers(store: Store, run: Run) -> None:
    view(store, run, "a", "P1")
    mine = run(store.live("s", LiveUpdate(T0, "b", page=True, product="P1", read=True,
                                          read_product="P1")))
    assert (mine["product_viewers_now"], mine["site_visitors_now"]) == (1, 2)


def test_a_visitor_who_signs_in_is_counted_once(store: Store, run: Run) -> None:
    view(store, run, "anon-1", "P1")
    view(store, run, "b", "P1")
    run(store.live("s", LiveUpdate(T0 + 1, "m:kim", page=True, product="P1", left="anon-1")))
    assert figures(store, run, "P1", T0 + 2) == {
        "site_visitors_now": 2, "product_viewers_now": 2, "product_purchases_24h": 0,
        "product_cart_adds_24h": 0}
    view(store, run, "m:kim", "P2", T0 + 3)  # the member moves on: P1 keeps only b
    assert figures(store, run, "P1", T0 + 4)["product_viewers_now"] == 1


def test_a_write_alone_answers_nothing(store: Store, run: Run) -> None:
    assert run(store.live("s", LiveUpdate(T0, "a", page=True, product="P1"))) == {}


def test_every_live_key_in_redis_expires(redis_url: str, run: Run) -> None:
    # Products come and go: nothing the counters write may stay for good.
    store = RedisStore(redis_url)
    try:
        for n in range(20):
            run(store.live("s", LiveUpdate(T0, f"v{n}", page=True, product=f"P{n}")))
            run(store.live("s", LiveUpdate(T0, f"v{n}", added=(f"P{n}",))))
            run(store.live("s", LiveUpdate(T0, bought=(f"P{n}", f"Q{n}"))))
            run(store.catalog.add_order("s", [f"P{n}", f"Q{n}"], T0))
    finally:
        run(store.close())
    with redis.Redis.from_url(redis_url) as client:
        keys = [k.decode() for pattern in ("ondo:{s:live}:*", "ondo:{s:products}:bt:*")
                for k in client.scan_iter(match=pattern)]
        assert len(keys) > 60
        ttls = {key: client.ttl(key) for key in keys}
    assert [key for key, ttl in ttls.items() if ttl < 0] == []
    assert max(ttl for key, ttl in ttls.items() if ":p:" in key) <= 600
