"""The profile view: a visitor's stored state (docs/storage.md) -> the flat
profile of rules/catalogue.py that the matcher and templates read (pure).

Time is passed in; the site's time zone decides days, hours and weekdays.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rules.catalogue import WEEKDAYS, WINDOW_DAYS

DAY = 86_400.0

# Stored field -> flat attribute, copied as they are when present.
_COPIED = ("visit_count", "first_seen", "pageviews_total", "purchase_count", "purchase_total",
           "member_grade", "member_name", "ad_visit_count", "landing_url", "traffic_source",
           "utm_source", "utm_medium", "utm_campaign", "device", "page_path", "page_url",
           "page_type", "product_id", "category")
_WINDOWED = {"visits": "v", "pageviews": "pv", "purchase_count": "pc", "purchase_total": "pt"}


def day_key(when: float, tz: ZoneInfo) -> str:
    """``YYYYMMDD`` of an instant in the site's time zone: the day buckets' key."""
    return datetime.fromtimestamp(when, tz).strftime("%Y%m%d")


def oldest_day_kept(now: float, tz: ZoneInfo) -> str:
    return window_start(now, tz, max(WINDOW_DAYS))


def window_start(now: float, tz: ZoneInfo, days: int) -> str:
    """The first day key of a window of ``days`` days ending today."""
    today = datetime.fromtimestamp(now, tz).date()
    return (today - timedelta(days=days - 1)).strftime("%Y%m%d")


def window_starts(now: float, tz: ZoneInfo) -> tuple[str, str]:
    return window_start(now, tz, WINDOW_DAYS[0]), window_start(now, tz, WINDOW_DAYS[1])


def flat_profile(stored: Mapping[str, Any], now: float, tz: ZoneInfo, *,
                 cart_period: float = 30 * DAY,
                 live: Mapping[str, float] | None = None) -> dict[str, Any]:
    profile: dict[str, Any] = {k: stored[k] for k in _COPIED if stored.get(k) is not None}
    profile["now"] = now
    local = datetime.fromtimestamp(now, tz)
    profile["hour_of_day"] = local.hour
    profile["weekday"] = WEEKDAYS[local.weekday()]
    visits = int(stored.get("visit_count") or 0)
    profile["visit_count"] = visits
    profile["is_first_visit"] = visits <= 1
    profile.setdefault("pageviews_total", 0)
    profile.setdefault("purchase_count", 0)
    profile.setdefault("purchase_total", 0)
    profile.setdefault("ad_visit_count", 0)
    profile["last_seen"] = stored.get("last_seen", now)
    profile.setdefault("first_seen", now)
    previous = stored.get("prev_visit_last_seen")
    if previous is not None:
        profile["days_since_last_visit"] = int((now - previous) // DAY)
    last_purchase = stored.get("last_purchase_at")
    if last_purchase is not None:
        profile["days_since_last_purchase"] = int((now - last_purchase) // DAY)
    profile["is_member"] = bool(stored.get("is_member"))
    profile["coupons"] = dict(stored.get("coupons") or {})
    profile["tags"] = list(stored.get("tags") or [])
    profile["session_pageviews"] = int(stored.get("session_pageviews") or 0)
    profile["session_seconds"] = max(0.0, now - float(stored.get("visit_started", now)))
    profile.setdefault("traffic_source", "direct")
    profile.setdefault("device", "desktop")
    profile.setdefault("landing_url", stored.get("page_url", ""))
    profile.setdefault("page_path", "/")
    profile.setdefault("page_url", "")
    profile.setdefault("page_type", "other")
    profile["params"] = dict(stored.get("params") or {})
    cart = stored.get("cart") or []
    if now - float(stored.get("cart_updated_at", now)) > cart_period:
        cart = []
    profile["cart_items"] = [str(item.get("product_id")) for item in cart]
    profile["cart_count"] = sum(int(item.get("qty", 1)) for item in cart)
    profile["cart_total"] = sum(int(item.get("qty", 1)) * float(item.get("price", 0))
                                for item in cart)
    windows = stored.get("windows")
    if isinstance(windows, dict):  # summed by the store, next to the buckets
        profile.update(windows)
    days = stored.get("days") or {}
    for window in WINDOW_DAYS if not isinstance(windows, dict) else ():
        since = (local.date() - timedelta(days=window - 1)).strftime("%Y%m%d")
        recent = [bucket for key, bucket in days.items() if key >= since]
        for metric, field in _WINDOWED.items():
            profile[f"{metric}_{window}d"] = sum(b.get(field, 0) for b in recent)
    for name, value in (live or {}).items():
        profile[name] = value
    return profile
