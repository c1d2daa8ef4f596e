"""Product cards for an action that recommends (pure): from the products most
bought with the page's product or the cart's, the first ``count`` the shop's
feed has in stock and the cart does not hold, as the widget shows them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from engine.store.base import Product
from rules.ruleset import Recommend


def seeds(recommend: Recommend, profile: Mapping[str, Any]) -> list[str]:
    """The products whose partners to offer: the page's, or the cart's."""
    if recommend.of == "cart":
        return [str(p) for p in profile.get("cart_items") or ()]
    product = profile.get("product_id")
    return [str(product)] if product else []


def cards(recommend: Recommend, partners: Sequence[str], feed: Mapping[str, Product],
          in_cart: Collection[str]) -> list[dict[str, Any]]:
    out = []
    for product_id in partners:
        product = feed.get(product_id)
        if product is None or not product.in_stock or product_id in in_cart:
            continue
        out.append({"id": product.id, "name": product.name, "price": product.price,
                    "price_text": f"{product.price:,}원", "image": product.image,
                    "link": product.url})
        if len(out) == recommend.count:
            break
    return out
