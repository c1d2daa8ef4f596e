"""Every attribute of the catalogue is computed by the engine: a visitor's
journey through the real pipeline (page views from an ad, a cart, an order, a
sign-up, tags, a coupon, others on the same product) ends in a `track` event on
which a rule per attribute, each asking only that the attribute be there,
matches: all of them."""

from __future__ import annotations

from engine.flow.derive import Visitor
from engine.flow.identity import sign_member
from engine.flow.server_events import parse_event
from engine.matcher import matcher_class
from engine.profile.localtime import day_key
from engine.store.base import Store, source_version
from rules.catalogue import CATALOGUE, KEYED_READERS
from tests.conftest import SECRET
from tests.engine.flow.test_pipeline import SHOP, Shop
from tests.engine.store.stores import Run

DAY = 86_400
READS = {"coupons": 'has_coupon("WELCOME")', "params": 'param("utm_source") == "naver"',
         "event_props": 'event_prop("list") == "wish"'}


def catalogue_rules() -> str:
    assert set(READS) == {a.name for a in CATALOGUE.values() if a.internal}
    assert set(KEYED_READERS.values()) <= set(READS)
    rules = []
    for attr in CATALOGUE.values():
        condition = READS.get(attr.name, f"exists({attr.name})")
        rules.append(f"  - id: reads-{attr.name.replace('_', '-')}\n    on: track\n"
                     f"    if: '{condition}'\n    do: {{widget: popcorn_button, text: x}}\n")
    return "site: demo-shop\nrules:\n" + "".join(rules)


def test_every_attribute_reaches_the_rules(store: Store, run: Run) -> None:
    shop = Shop(store, run)
    source = catalogue_rules()
    shop.site.load(source_version(source), source, matcher_class())
    page = {"url": f"{SHOP}/product/bags/P1?utm_source=naver&utm_medium=cpc&utm_campaign=w",
            "referrer": "https://search.naver.com/", "page_type": "product",
            "product_id": "P1", "category": "bags"}
    other = Visitor(shop.site, "other-00001")
    shop.event(other, "pageview", page)
    v = Visitor(shop.site, "walker-0001")
    shop.event(v, "pageview", page)
    shop.now += 3 * DAY  # a second visit, days later
    shop.event(v, "pageview", page)
    shop.event(v, "cart", {"items": [{"product_id": "P1", "qty": 1, "price": 30_000}]})

    def server(event: dict[str, object]) -> None:
        run(shop.pipeline.apply_server_event(shop.site, parse_event(event, 0), shop.now))

    server({"type": "purchase", "order_id": "o-1", "visitor_id": "walker-0001",
            "amount": 30_000, "items": [{"product_id": "P1", "qty": 1, "price": 30_000}]})
    server({"type": "member", "id": "m-1", "member_id": "kim", "grade": "gold",
            "name": "김단골", "signed_up": True})
    shop.event(v, "identify", {"member_id": "kim", "signature": sign_member(SECRET, "kim")})
    server({"type": "tags", "id": "t-1", "member_id": "kim", "add": ["vip"]})
    server({"type": "coupon", "id": "c-1", "member_id": "kim", "code": "WELCOME",
            "action": "issued", "expires_at": int(shop.now) + DAY})
    frames = shop.event(v, "track", {"name": "wishlist", "props": {"list": "wish"}})
    run(shop.counters.flush())
    matched = run(store.stats("demo-shop", day_key(shop.now, shop.site.config.tz)))
    missing = sorted(attr for attr in CATALOGUE
                     if f"reads-{attr.replace('_', '-')}|matched" not in matched)
    assert missing == [] and len(frames) > 1
