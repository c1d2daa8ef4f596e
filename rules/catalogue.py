"""The attribute catalogue: every fact about a visitor that a rule can read.

This table is the single source of truth. The compiler type-checks expressions
against it, the engine's store builds the flat profile it describes, and
``docs/attributes.md`` is generated from it (``python -m rules.docs``; a test
checks the file is current).

A *flat profile* is the mapping ``rules.evaluate`` and the matcher read: one key
per attribute name below, with a value of the attribute's kind (see ``Kind``).
A key that is absent means "missing": every comparison with it is false.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """What an attribute's value is in a flat profile."""

    NUMBER = "number"  # int or float (never bool)
    STRING = "string"  # str
    BOOL = "bool"  # bool
    STRING_SET = "string set"  # list/tuple/set/frozenset of str
    COUPONS = "coupons"  # mapping code -> expiry (epoch seconds, number)
    PARAMS = "params"  # mapping name -> str (the page's query parameters)


class Scope(enum.Enum):
    LIFETIME = "lifetime"
    WINDOWED = "windowed"
    SESSION = "session"
    PAGE = "page"
    CART = "cart"
    LIVE = "live"
    CLOCK = "clock"
    EVENT = "event"


class Unit(enum.Enum):
    NONE = ""
    COUNT = "count"
    KRW = "KRW"
    SECONDS = "seconds"
    DAYS = "days"
    EPOCH_SECONDS = "epoch seconds"
    HOUR = "hour (0-23)"


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    kind: Kind
    scope: Scope
    meaning: str
    unit: Unit = Unit.NONE
    # Always present in a profile the engine builds; otherwise it may be missing
    # (a template using it then needs `| default(...)`).
    always: bool = True
    # Closed set of values, where there is one (checked at compile time).
    values: tuple[str, ...] = ()
    # Readable by functions only (param(), has_coupon(), ...), not by name.
    internal: bool = False


TRAFFIC_SOURCES = (
    "direct",
    "organic",
    "naver_ads",
    "google_ads",
    "kakao_ads",
    "social",
    "email",
    "referral",
)
DEVICES = ("desktop", "mobile", "tablet")
PAGE_TYPES = ("home", "category", "product", "cart", "checkout", "order_complete", "search",
              "member", "other")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MEMBER_GRADES_HINT = "shop-defined, e.g. 'vip', 'gold'"

# Windowed attributes are sums over daily buckets kept in the profile.
WINDOW_DAYS = (7, 30, 90)
_WINDOWED_METRICS: tuple[tuple[str, Unit, str], ...] = (
    ("visits", Unit.COUNT, "visits"),
    ("pageviews", Unit.COUNT, "page views"),
    ("purchase_count", Unit.COUNT, "purchases"),
    ("purchase_total", Unit.KRW, "purchase amount"),
)
WINDOWED_METRICS = tuple(metric for metric, _, _ in _WINDOWED_METRICS)

L, W, S, P, C, LV, CK = (Scope.LIFETIME, Scope.WINDOWED, Scope.SESSION, Scope.PAGE, Scope.CART,
                         Scope.LIVE, Scope.CLOCK)
N, STR, B = Kind.NUMBER, Kind.STRING, Kind.BOOL

_ATTRIBUTES: list[Attribute] = [
    # lifetime
    Attribute("visit_count", N, L, "number of visits, this one included", Unit.COUNT),
    Attribute("is_first_visit", B, L, "true during the visitor's first visit"),
    Attribute("first_seen", N, L, "time of the first event", Unit.EPOCH_SECONDS),
    Attribute("last_seen", N, L, "time of the previous event", Unit.EPOCH_SECONDS),
    Attribute("days_since_last_visit", N, L,
              "whole days between the previous visit and this one (missing on a first visit)",
              Unit.DAYS, always=False),
    Attribute("pageviews_total", N, L, "page views over the visitor's lifetime", Unit.COUNT),
    Attribute("purchase_count", N, L, "purchases over the visitor's lifetime", Unit.COUNT),
    Attribute("purchase_total", N, L, "amount purchased over the lifetime", Unit.KRW),
    Attribute("purchased_items", Kind.STRING_SET, L,
              "product ids bought, the last 50 distinct (`purchased_items contains \"P1\"`)"),
    Attribute("days_since_last_purchase", N, L,
              "whole days since the last purchase (missing if none)", Unit.DAYS, always=False),
    Attribute("is_member", B, L, "the visitor is a verified, logged-in member"),
    Attribute("member_grade", STR, L, f"the member's grade ({MEMBER_GRADES_HINT})",
              always=False),
    Attribute("member_name", STR, L, "the member's display name", always=False),
    Attribute("days_since_signup", N, L, "whole days since the member signed up (missing "
              "if the shop's server never said)", Unit.DAYS, always=False),
    Attribute("coupons", Kind.COUPONS, L,
              "coupons held: code -> expiry; read with has_coupon() and "
              "coupon_expires_within()", internal=True),
    Attribute("ad_visit_count", N, L, "visits that arrived from a paid ad", Unit.COUNT),
    Attribute("tags", Kind.STRING_SET, L, "tags set by the shop's server (`tags contains \"x\"`)"),
    # session
    Attribute("session_pageviews", N, S, "page views in this session", Unit.COUNT),
    Attribute("session_seconds", N, S, "seconds since the session started", Unit.SECONDS),
    Attribute("landing_url", STR, S, "the first URL of this session"),
    Attribute("traffic_source", STR, S, "where this session came from", values=TRAFFIC_SOURCES),
    Attribute("utm_source", STR, S, "utm_source of the landing URL", always=False),
    Attribute("utm_medium", STR, S, "utm_medium of the landing URL", always=False),
    Attribute("utm_campaign", STR, S, "utm_campaign of the landing URL", always=False),
    Attribute("device", STR, S, "device class from the user agent", values=DEVICES),
    # page
    Attribute("page_path", STR, P, "path of the current page, no host or query "
              "(what `matches` and `pages` globs see)"),
    Attribute("page_url", STR, P, "the full URL of the current page"),
    Attribute("page_type", STR, P, "kind of page, as the shop describes it", values=PAGE_TYPES),
    Attribute("product_id", STR, P, "product shown on this page", always=False),
    Attribute("category", STR, P, "category shown on this page", always=False),
    Attribute("params", Kind.PARAMS, P, "query parameters of the current page; read with "
              "param(\"name\")", internal=True),
    # cart
    Attribute("cart_items", Kind.STRING_SET, C, "product ids in the cart (`in_cart(\"P1\")`)"),
    Attribute("cart_count", N, C, "units in the cart", Unit.COUNT),
    Attribute("cart_total", N, C, "value of the cart", Unit.KRW),
    # live
    Attribute("product_viewers_now", N, LV, "other visitors whose current page is this "
              "product, viewed in the last 5 minutes (on every engine node; the visitor "
              "themselves left out)",
              Unit.COUNT, always=False),
    Attribute("site_visitors_now", N, LV, "visitors on the site in the last 5 minutes", Unit.COUNT,
              always=False),
    Attribute("product_purchases_24h", N, LV, "orders of this page's product in the last 24 "
              "hours", Unit.COUNT, always=False),
    Attribute("product_cart_adds_24h", N, LV, "times this page's product was added to a cart "
              "in the last 24 hours", Unit.COUNT, always=False),
    # clock
    Attribute("now", N, CK, "the event's time", Unit.EPOCH_SECONDS),
    Attribute("hour_of_day", N, CK, "hour in the site's time zone", Unit.HOUR),
    Attribute("weekday", STR, CK, "day of the week in the site's time zone", values=WEEKDAYS),
    # event
    Attribute("event_name", STR, Scope.EVENT, "the name of a `track` event "
              "(`ondo('track', 'wishlist', {...})`; missing on other events)", always=False),
    Attribute("event_props", Kind.PARAMS, Scope.EVENT, "a `track` event's properties, each "
              "as text; read with event_prop(\"name\")", internal=True, always=False),
]

for _metric, _unit, _what in _WINDOWED_METRICS:
    for _days in WINDOW_DAYS:
        _ATTRIBUTES.append(
            Attribute(f"{_metric}_{_days}d", N, W, f"{_what} over the last {_days} days "
                      "(today included)", _unit)
        )

CATALOGUE: dict[str, Attribute] = {a.name: a for a in _ATTRIBUTES}
"""Every attribute by name, in documentation order."""

if len(CATALOGUE) != len(_ATTRIBUTES):
    raise RuntimeError("duplicate attribute name in the catalogue")


def readable_names() -> list[str]:
    """Names a rule may use directly (for did-you-mean hints)."""
    return [a.name for a in CATALOGUE.values() if not a.internal]


# Functions that read one key of a mapping attribute: param("utm_term") reads
# params["utm_term"]. Their value is a string.
KEYED_READERS: dict[str, str] = {"param": "params", "event_prop": "event_props"}
READER_OF: dict[str, str] = {attribute: reader for reader, attribute in KEYED_READERS.items()}


def keyed_label(attribute: str, key: str | None) -> str:
    """How a rule writes a read: the attribute, or its reader with the key."""
    return attribute if key is None else f'{READER_OF[attribute]}("{key}")'
