"""A scripted day of a small shop, sent through the real pipeline: visitors
browse, fill carts, see actions and report them (shown, now and then closed
or clicked), some sign in, some buy. The forecast tests replay drafts over
what it recorded."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import rules
from engine.delivery.counters import Counters
from engine.flow.derive import Visitor
from engine.flow.identity import sign_member
from engine.flow.pipeline import Pipeline
from engine.flow.server_events import parse_event
from engine.forecast.recorder import Recorder
from engine.matcher import matcher_class
from engine.runtime.config import Config, SiteConfig
from engine.runtime.metrics import Metrics
from engine.runtime.site import ActiveRules, LiveSite, load_sites
from engine.store.base import Store, source_version
from engine.wire.frames import Event, parse_frame
from engine.wire.protocol import LIMITS
from tests.conftest import SECRET, site_config
from tests.engine.store.stores import Run

SITE = "demo-shop"
SHOP = "https://shop.example.com"
DAY_START = 1_795_014_000.0  # 2026-11-19 00:00 in Seoul

LIVE = """\
version: 1
site: demo-shop
fatigue: { max_per_session: 3 }
rules:
  - id: browse-nudge
    if: session_pageviews >= 2
    do: { widget: push_note, title: "둘러보세요", body: "이번 주 신상품", link: /new }
    frequency: { max: 2, per: session }
    priority: 5
  - id: product-popcorn
    if: page_type == "product"
    do: { widget: popcorn_button, text: "이 상품 5% 쿠폰", link: /coupon }
    frequency: { max: 3, per: day }
    stop_after: [close]
    priority: 3
  - id: cart-floating
    on: [pageview, cart]
    if: cart_total >= 10000
    do: { widget: round_floating, text: "무료배송까지 조금 남았어요" }
    holdout: "20%"
  - id: welcome-back
    if: visit_count >= 2
    do: { widget: popcorn_button, text: "다시 오셨네요", link: /best }
    frequency: { max: 1, per: session }
    priority: 1
  - id: member-bookmark
    if: is_member
    do: { widget: bookmark_prompt, text: "즐겨찾기에 추가하세요" }
    frequency: once_per_visitor
"""


@dataclass
class Day:
    """What the scripted day did, as the shop saw it."""

    sent: dict[str, int] = field(default_factory=dict)  # rule -> actions received
    keys: set[str] = field(default_factory=set)
    until: float = DAY_START


class Shop:
    def __init__(self, store: Store, run: Run, config: SiteConfig | None = None,
                 source: str = LIVE) -> None:
        config = config or site_config(None)
        self.site: LiveSite = load_sites(Config(sites={SITE: config}), matcher_class())[SITE]
        self.site.swap(ActiveRules.build(rules.load(source), matcher_class(),
                                         source_version(source), source))
        self.store, self.run = store, run
        self.recorder = Recorder(store)
        self.counters = Counters(store)
        self.pipeline = Pipeline(store, Metrics(), self.counters, self.recorder)
        self.n = 0

    def event(self, visitor: Visitor, kind: str, data: dict[str, Any], now: float
              ) -> list[dict[str, Any]]:
        self.n += 1
        frame = parse_frame({"t": "event", "id": f"e{self.n}", "kind": kind, "data": data},
                            LIMITS)
        assert isinstance(frame, Event)
        return self.run(self.pipeline.handle(visitor, frame, now))

    def purchase(self, visitor: Visitor, amount: int, now: float) -> None:
        self.n += 1
        who = {"member_id": visitor.member_id} if visitor.member_id else \
            {"visitor_id": visitor.id}
        event = parse_event({"type": "purchase", "order_id": f"o{self.n}", **who,
                             "amount": amount,
                             "items": [{"product_id": "P1", "qty": 1, "price": amount}]}, 0)
        self.run(self.pipeline.apply_server_event(self.site, event, now))

    def flush(self, now: float) -> None:
        self.run(self.recorder.flush(now))
        self.run(self.counters.flush())


def play(shop: Shop, visitors: int = 60, seed: int = 7) -> Day:
    """Each visitor comes one to three times in the day, at random hours;
    their visits interleave with the others' in time order."""
    rng = random.Random(seed)
    day = Day()
    script: list[tuple[float, int, str]] = []  # (time, visitor, what)
    for n in range(visitors):
        for visit in range(rng.randint(1, 3)):
            at = DAY_START + rng.uniform(0, 23 * 3600) + visit * 0.001
            for step in range(rng.randint(1, 8)):
                script.append((at + step * 40, n, rng.choice(
                    ["home", "category", "product", "product", "cart", "signin", "buy"]
                    if step else ["home"])))
    script.sort()
    people = [Visitor(shop.site, f"visitor-{n:04d}") for n in range(visitors)]
    for at, n, what in script:
        v = people[n]
        day.keys.add(v.key)
        if what == "cart":
            frames = shop.event(v, "cart", {"items": [
                {"product_id": "P1", "qty": rng.randint(1, 3), "price": 8_000}]}, at)
        elif what == "signin" and v.member_id is None and n % 3 == 0:
            member = f"member-{n}"
            frames = shop.event(v, "identify", {"member_id": member,
                                                "signature": sign_member(SECRET, member)}, at)
            day.keys.add(v.key)
        elif what == "buy" and n % 2 == 0:
            shop.purchase(v, 24_000, at)
            frames = []
        else:
            path = {"home": "/", "category": "/category/outer",
                    "product": f"/product/P{rng.randint(1, 5)}"}.get(what, "/")
            data = {"url": SHOP + path}
            if what == "product":
                data.update({"page_type": "product", "product_id": path[-2:]})
            frames = shop.event(v, "pageview", data, at)
        for action in (f for f in frames if f.get("t") == "action"):
            day.sent[action["rule"]] = day.sent.get(action["rule"], 0) + 1
            if rng.random() < 0.8:  # most actions are seen
                shop.event(v, "report", {"action": action["id"], "rule": action["rule"],
                                         "what": "shown"}, at + 1)
                if rng.random() < 0.3:
                    shop.event(v, "report", {"action": action["id"], "rule": action["rule"],
                                             "what": rng.choice(["closed", "clicked"])}, at + 2)
        day.until = max(day.until, at + 3)
    shop.flush(day.until)
    return day
