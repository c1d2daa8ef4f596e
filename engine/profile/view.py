"""The profile view: a visitor's stored state (docs/storage.md) -> the flat
profile of rules/catalogue.py that the matcher and templates read (pure).

Time is passed in, with what the site's calendar makes of it (days, hours and
weekdays in the site's time zone: engine/profile/localtime.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.profile.layout import BUCKETS
from engine.profile.localtime import LocalTime
from rules.catalogue import WINDOW_DAYS

DAY = 86_400.0

# Stored field -> flat attribute, copied as they are when present.
_COPIED = ("visit_count", "first_seen", "pageviews_total", "purchase_count", "purchase_total",
           "member_grade", "member_name", "ad_visit_count", "landing_url", "traffic_source",
           "utm_source", "utm_medium", "utm_campaign", "device", "page_path", "page_url",
           "page_type", "product_id", "category")
_NO_WINDOWS = {f"{metric}_{window}d": 0 for window in WINDOW_DAYS for metric in BUCKETS}


def flat_profile(stored: Mapping[str, Any], now: float, local: LocalTime, *,
                 cart_period: float = 30 * DAY, clock: LocalTime | None = None,
                 live: Mapping[str, float] | None = None) -> dict[str, Any]:
    """``local`` is the site's calendar (day buckets); ``clock``, when the rule
    file names its own time zone, gives ``hour_of_day`` and ``weekday``."""
    get = stored.get
    clock = clock or local
    visits = int(get("visit_count") or 0)
    profile: dict[str, Any] = {
        # Defaults, overwritten below by what the store holds.
        "pageviews_total": 0, "purchase_count": 0, "purchase_total": 0, "ad_visit_count": 0,
        "first_seen": now, "traffic_source": "direct", "device": "desktop",
        "landing_url": get("page_url", ""), "page_path": "/", "page_url": "",
        "page_type": "other",
    }
    for name in _COPIED:
        value = get(name)
        if value is not None:
            profile[name] = value
    cart = get("cart") or []
    if now - float(get("cart_updated_at", now)) > cart_period:
        cart = []
    profile.update({
        "now": now, "hour_of_day": clock.hour, "weekday": clock.weekday,
        "visit_count": visits, "is_first_visit": visits <= 1,
        "last_seen": get("last_seen", now), "is_member": bool(get("is_member")),
        "coupons": dict(get("coupons") or {}), "tags": list(get("tags") or []),
        "session_pageviews": int(get("session_pageviews") or 0),
        "session_seconds": max(0.0, now - float(get("visit_started", now))),
        "params": dict(get("params") or {}),
        "cart_items": [str(item.get("product_id")) for item in cart],
        "purchased_items": list(get("purchased") or []),
        "cart_count": sum(int(item.get("qty", 1)) for item in cart),
        "cart_total": sum(int(item.get("qty", 1)) * float(item.get("price", 0))
                          for item in cart),
    })
    previous = get("prev_visit_last_seen")
    if previous is not None:
        profile["days_since_last_visit"] = int((now - previous) // DAY)
    signed_up = get("signed_up_at")
    if signed_up is not None:
        profile["days_since_signup"] = int((now - signed_up) // DAY)
    last_purchase = get("last_purchase_at")
    if last_purchase is not None:
        profile["days_since_last_purchase"] = int((now - last_purchase) // DAY)
    windows = get("windows")
    days = get("days")
    if isinstance(windows, dict):  # summed by the store, next to the buckets
        profile.update(windows)
    elif not days:
        profile.update(_NO_WINDOWS)
    else:
        for window, since in zip(WINDOW_DAYS, local.window_starts, strict=True):
            recent = [bucket for key, bucket in days.items() if key >= since]
            for metric, field in BUCKETS.items():
                profile[f"{metric}_{window}d"] = sum(b.get(field, 0) for b in recent)
    if live:
        profile.update(live)
    return profile

