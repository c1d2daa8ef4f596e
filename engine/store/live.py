"""The Python twin of lua/live.lua: the site's live counters kept in memory,
with no I/O (engine/store/memory.py holds one ``LiveState`` per site).

live.lua is the specification; ``apply_live`` follows it step by step, and
answers what the script answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.profile.layout import LIVE_HOURS, LIVE_WINDOW
from engine.store.base import LiveUpdate

PRUNED_PER_CALL = 50  # visitors past the window removed by one call (lua: LIMIT 0 50)


@dataclass(slots=True)
class LiveState:
    """One site's counters: visitor -> last page view, visitor -> current
    product, product -> {visitor: time}, product -> {hour: n} for orders and
    cart additions. Expiry of whole keys is left out: what an expired key held
    is past every window read here."""

    seen: dict[str, float] = field(default_factory=dict)
    at: dict[str, str] = field(default_factory=dict)
    viewers: dict[str, dict[str, float]] = field(default_factory=dict)
    orders: dict[str, dict[int, int]] = field(default_factory=dict)
    adds: dict[str, dict[int, int]] = field(default_factory=dict)


def apply_live(state: LiveState, update: LiveUpdate) -> dict[str, int]:
    now, since = update.now, update.now - LIVE_WINDOW
    hour = math.floor(now / 3600)
    gone = sorted((t, who) for who, t in state.seen.items() if t < since)[:PRUNED_PER_CALL]
    for _, who in gone:
        product = state.at.pop(who, None)
        if product is not None:
            state.viewers.get(product, {}).pop(who, None)
        del state.seen[who]

    if update.left:
        product = state.at.pop(update.left, None)
        if product is not None:
            state.viewers.get(product, {}).pop(update.left, None)
        state.seen.pop(update.left, None)

    visitor = update.visitor
    if update.page and visitor:
        state.seen[visitor] = now
        before = state.at.get(visitor)
        if before is not None and before != update.product:
            state.viewers.get(before, {}).pop(visitor, None)
        if update.product:
            state.at[visitor] = update.product
            viewers = state.viewers.setdefault(update.product, {})
            viewers[visitor] = now
            for who in [w for w, t in viewers.items() if t < since]:
                del viewers[who]
        else:
            state.at.pop(visitor, None)

    for table, ids in ((state.adds, update.added), (state.orders, update.bought)):
        for product in dict.fromkeys(ids):
            hours = table.setdefault(product, {})
            hours[hour] = hours.get(hour, 0) + 1
            for old in [h for h in hours if h <= hour - LIVE_HOURS]:
                del hours[old]

    if not update.read:
        return {}
    figures = {"site_visitors_now": sum(1 for t in state.seen.values() if t >= since)}
    wanted = update.read_product
    if wanted:
        last_day = hour - LIVE_HOURS
        figures.update({
            "product_viewers_now": sum(1 for who, t in state.viewers.get(wanted, {}).items()
                                       if t >= since and who != visitor),
            "product_purchases_24h": sum(n for h, n in state.orders.get(wanted, {}).items()
                                         if h > last_day),
            "product_cart_adds_24h": sum(n for h, n in state.adds.get(wanted, {}).items()
                                         if h > last_day)})
    return figures
