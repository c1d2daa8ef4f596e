"""A site's product feed and what its products are bought with (contract,
both stores): a feed is replaced whole; orders make partners, the recent ones
weigh more, each product keeps its best fifty."""

from __future__ import annotations

from engine.store.base import TOGETHER_HALF_LIFE, TOGETHER_KEPT, Product, Store
from tests.engine.store.stores import DAY, T0, Run

BAG = Product("P1", "가죽 토트백", 129_000, "/product/P1", "https://cdn.example.com/p1.jpg",
              "bags")
WALLET = Product("P2", "반지갑", 39_000, "/product/P2", in_stock=False)


def test_a_feed_is_replaced_whole(store: Store, run: Run) -> None:
    catalog = store.catalog
    assert run(catalog.feed("s")) is None
    first = run(catalog.replace("s", [BAG, WALLET], T0))
    assert (first.products, first.updated_at) == (2, T0)
    assert run(catalog.products("s", ["P1", "P2", "P9"])) == {"P1": BAG, "P2": WALLET}
    second = run(catalog.replace("s", [WALLET], T0 + DAY))
    assert run(catalog.products("s", ["P1", "P2"])) == {"P2": WALLET}  # P1 left with the old
    assert run(catalog.feed("s")) == second and second.version != first.version
    assert run(catalog.products("other", ["P2"])) == {}


def test_orders_make_partners_the_recent_weighing_more(store: Store, run: Run) -> None:
    catalog = store.catalog
    run(catalog.add_order("s", ["P1", "P2"], T0))
    run(catalog.add_order("s", ["P1", "P3", "P3"], T0 + TOGETHER_HALF_LIFE))  # twice the weight
    assert run(catalog.bought_with("s", ["P1"])) == ["P3", "P2"]
    assert run(catalog.bought_with("s", ["P2"])) == ["P1"]
    run(catalog.add_order("s", ["P4", "P2"], T0 - TOGETHER_HALF_LIFE))  # half the weight
    # Of a cart of two: their partners' weights add up, neither of the two is offered.
    assert run(catalog.bought_with("s", ["P1", "P4"])) == ["P3", "P2"]
    assert run(catalog.bought_with("s", ["P1", "P3"])) == ["P2"]
    run(catalog.add_order("s", ["P5"], T0))  # one product: no pair
    assert run(catalog.bought_with("s", ["P5"])) == []


def test_each_product_keeps_its_best_fifty_partners(store: Store, run: Run) -> None:
    catalog = store.catalog
    for n in range(TOGETHER_KEPT + 10):
        run(catalog.add_order("s", ["HUB", f"X{n:03d}"], T0 + n * DAY))
    partners = run(catalog.bought_with("s", ["HUB"]))
    assert partners == [f"X{n:03d}" for n in range(TOGETHER_KEPT + 9, 9, -1)]  # the newest


def test_recommend_is_the_best_partners_in_stock_and_not_left_out(store: Store,
                                                                   run: Run) -> None:
    catalog = store.catalog
    strap = Product("P3", "스트랩", 19_000, "/product/P3")
    scarf = Product("P4", "스카프", 59_000, "/product/P4")
    run(catalog.replace("s", [BAG, WALLET, strap, scarf], T0))
    for items in (["P1", "P2"], ["P1", "P2"], ["P1", "P3"], ["P1", "P4"], ["P1", "P9"]):
        run(catalog.add_order("s", items, T0))
    # P2 (out of stock) and P9 (not in the feed) are skipped; P3 and P4 tie, by id.
    assert run(catalog.recommend("s", ["P1"], set(), 5)) == [strap, scarf]
    assert run(catalog.recommend("s", ["P1"], {"P3"}, 5)) == [scarf]
    assert run(catalog.recommend("s", ["P1"], set(), 1)) == [strap]
    assert run(catalog.recommend("s", [], set(), 3)) == []


def test_of_equal_weights_the_larger_ids_stay_as_in_redis(store: Store, run: Run) -> None:
    catalog = store.catalog
    for n in range(TOGETHER_KEPT + 10):  # orders of the same time: equal weights
        run(catalog.add_order("s", ["HUB", f"X{n:03d}"], T0))
    partners = run(catalog.bought_with("s", ["HUB"]))
    assert partners == [f"X{n:03d}" for n in range(10, TOGETHER_KEPT + 10)]
