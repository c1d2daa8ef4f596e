"""Shopping journeys a simulated visitor walks through: arrival from a traffic
source (with the referrer and utm/ad parameters that source really sends),
category, product, add to cart, cart page, sometimes checkout; then again.
Like the widget, a visitor reports every action it is sent as shown, and now
and then clicks or closes it; those reports feed the caps and fatigue."""

from __future__ import annotations

import random

SHOP = "https://shop.example.com"
ARRIVALS = (
    ("?n_media=27758&n_query=%EA%B0%80%EB%B0%A9&n_rank=1", "https://search.naver.com/"),
    ("?gclid=Cj0KCQiA", "https://www.google.com/"),
    ("?utm_source=kakao&utm_medium=cpc&utm_campaign=winter", ""),
    ("", "https://search.naver.com/search.naver?query=가방"),
    ("", ""),
    ("?utm_source=newsletter&utm_medium=email", ""),
    ("", "https://www.instagram.com/"),
)


class Journey:
    def __init__(self, rng: random.Random, visitor: str) -> None:
        self.rng = rng
        self.visitor = f"bench-{visitor}"[:64]
        self.n = 0
        self.cart: list[dict[str, object]] = []
        self.steps: list[tuple[str, dict[str, object]]] = []

    def hello(self) -> dict[str, object]:
        return {"t": "hello", "page": {"url": SHOP + "/"}}

    def _plan(self) -> None:
        query, referrer = self.rng.choice(ARRIVALS)
        category = f"c{self.rng.randrange(20)}"
        product = f"{self.rng.randrange(500)}"
        self.steps = [
            ("pageview", {"url": f"{SHOP}/{query}", "referrer": referrer}),
            ("pageview", {"url": f"{SHOP}/product/list.html?cate_no={category}",
                          "page_type": "category", "category": category}),
            ("pageview", {"url": f"{SHOP}/product/{category}/{product}/",
                          "page_type": "product", "product_id": product}),
        ]
        if self.rng.random() < 0.5:
            item = {"product_id": product, "qty": 1, "price": self.rng.randrange(5, 80) * 1000}
            self.cart = [*self.cart[-5:], item]
            self.steps += [("cart", {"items": list(self.cart)}),
                           ("pageview", {"url": f"{SHOP}/order/basket.html",
                                         "page_type": "cart"})]
        self.steps.reverse()

    def shown(self, action: str, rule: str) -> None:
        """An action arrived: report it next, as the widget does once it renders."""
        reports: list[tuple[str, dict[str, object]]] = [
            ("report", {"action": action, "rule": rule, "what": "shown"})]
        draw = self.rng.random()
        if draw < 0.05:
            reports.append(("report", {"action": action, "rule": rule, "what": "clicked"}))
        elif draw < 0.2:
            reports.append(("report", {"action": action, "rule": rule, "what": "closed"}))
        self.steps += reversed(reports)

    def next_event(self) -> tuple[str, dict[str, object]]:
        if not self.steps:
            self._plan()
        kind, data = self.steps.pop()
        self.n += 1
        event_id = f"{self.visitor}-{self.n}"
        return event_id, {"t": "event", "id": event_id, "kind": kind, "at": 0, "data": data}
