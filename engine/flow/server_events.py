"""Server-to-server events (orders, members, coupons, carts): typed and
validated, with errors naming the field (HTTP 422).

Body: ``{"events": [ ... ]}``, at most 1,000. Each event has a ``type``:

- ``purchase``: ``order_id``, ``member_id`` or ``visitor_id``, ``amount`` (KRW,
  a whole number ≥ 0), optional ``items`` ([{product_id, qty ≥ 1, price}], at
  most 100; the profile keeps the products bought). Its id is the order id: an
  order counts once.
  Optional ``ordered_at`` (unix seconds): the order counts on that day of the
  site's calendar (its day buckets, its attribution), not on its arrival.
- ``member``: ``member_id``, optional ``grade``, ``name``, ``signed_up`` (bool:
  the member signed up, at ``signed_up_at`` (unix seconds) or now; the first
  sign-up time is kept, for ``days_since_signup``).
- ``coupon``: ``member_id`` or ``visitor_id``, ``code``, ``action`` (issued |
  used | expired), ``expires_at`` (unix seconds; required when issued).
- ``cart_reset``: ``member_id`` or ``visitor_id``.
- ``tags``: ``member_id`` or ``visitor_id``, ``add`` and/or ``remove``: lists of
  tags (1-64 characters each, at most 50); rules read them as ``tags contains "x"``.

Every event except purchase carries an ``id`` of the shop's choosing, used to
drop duplicates for 24 h.

Every number has a domain, so none can overflow what stores or sums it:

- ``amount`` and an item's ``price``: 0 to ``Limits.max_amount`` won
  (100,000,000,000); an item's ``qty``: 1 to ``Limits.max_quantity`` (100,000).
- ``ordered_at``, ``signed_up_at``, ``expires_at``: unix seconds from
  2000-01-01 to 2100-01-01 (946,684,800 to 4,102,444,800, exclusive).

A ``visitor_id`` is one the widget could have made (``protocol.VISITOR_ID``, the
pattern the socket and the beacon accept): a member's profile is reached by
``member_id`` only, never by naming its key (``m:…``) as a visitor.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from engine.wire.protocol import LIMITS, VISITOR_ID, Limits, valid_visitor_id

MAX_EVENTS = 1000
MAX_ORDER_ITEMS = LIMITS.max_cart_items
# Unix seconds: 2000-01-01 (inclusive) to 2100-01-01 (exclusive), UTC.
FIRST_MOMENT, END_OF_MOMENTS = 946_684_800, 4_102_444_800
TYPES = ("purchase", "member", "coupon", "cart_reset", "tags")
MAX_TAGS = 50


class EventError(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ServerEvent:
    id: str  # dedupe id ("order:<order_id>" for purchases)
    type: str
    profile: str  # the stored profile it applies to: a visitor id or "m:<member_id>"
    payload: dict[str, Any]
    digest: str


def _text(raw: dict[str, Any], name: str, where: str, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 128:
        raise EventError(f"{where}.{name}", f"{name} must be a string of 1-128 characters")
    return value


def _target(raw: dict[str, Any], where: str) -> str:
    member = _text(raw, "member_id", where, required=False)
    if member is not None:
        return "m:" + member
    visitor = raw.get("visitor_id")
    if visitor is None:
        raise EventError(f"{where}.member_id", "member_id or visitor_id is required")
    if not valid_visitor_id(visitor):
        raise EventError(f"{where}.visitor_id", "visitor_id must be the widget's visitor id "
                         f"({VISITOR_ID}); name a member by member_id")
    return visitor


def _whole(value: Any, field: str, most: int) -> int:
    name = field.rsplit(".", 1)[-1]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value != int(value) or value < 0:
        raise EventError(field, f"{name} must be a whole number ≥ 0")
    if value > most:
        raise EventError(field, f"{name} must be at most {most:,}")
    return int(value)


def _moment(value: Any, field: str) -> int:
    """Unix seconds in the domain above: a date a shop's server can mean."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value != int(value) or not FIRST_MOMENT <= value < END_OF_MOMENTS:
        raise EventError(field, f"{field.rsplit('.', 1)[-1]} must be a time in unix seconds "
                         "from 2000-01-01 to 2100-01-01")
    return int(value)


def _items(items: Any, where: str, limits: Limits) -> list[dict[str, Any]]:
    """An order's items as the profile keeps them (its bought products)."""
    if not isinstance(items, list):
        raise EventError(where, "items must be a list of {product_id, qty, price}")
    if len(items) > MAX_ORDER_ITEMS:
        raise EventError(where, f"an order holds at most {MAX_ORDER_ITEMS} items")
    clean = []
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise EventError(at, "an item is an object {product_id, qty, price}")
        qty = _whole(item.get("qty", 1), f"{at}.qty", limits.max_quantity)
        if qty < 1:
            raise EventError(f"{at}.qty", "qty must be a whole number ≥ 1")
        clean.append({"product_id": _text(item, "product_id", at), "qty": qty,
                      "price": _whole(item.get("price", 0), f"{at}.price", limits.max_amount)})
    return clean


def _tags(tags: Any, where: str) -> list[str]:
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise EventError(where, f"a list of at most {MAX_TAGS} tags")
    for index, tag in enumerate(tags):
        if not isinstance(tag, str) or not 0 < len(tag) <= 64:
            raise EventError(f"{where}[{index}]", "a tag is a string of 1-64 characters")
    return list(dict.fromkeys(tags))


def parse_event(raw: Any, index: int, limits: Limits = LIMITS) -> ServerEvent:
    """One event of a batch, checked against the engine's ``limits``."""
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise EventError(where, "an event is an object with a type")
    kind = raw.get("type")
    if kind not in TYPES:
        raise EventError(f"{where}.type", f"type must be one of {', '.join(TYPES)}")
    payload: dict[str, Any]
    if kind == "purchase":
        order = _text(raw, "order_id", where)
        payload = {"amount": _whole(raw.get("amount"), f"{where}.amount", limits.max_amount)}
        payload["items"] = _items(raw.get("items", []), f"{where}.items", limits)
        if raw.get("ordered_at") is not None:
            payload["ordered_at"] = _moment(raw["ordered_at"], f"{where}.ordered_at")
        event_id = f"order:{order}"
    else:
        event_id = str(_text(raw, "id", where))
        payload = {}
    if kind == "member":
        for name in ("grade", "name"):
            value = _text(raw, name, where, required=False)
            if value is not None:
                payload[name] = value
        signed = raw.get("signed_up")
        if signed is not None and not isinstance(signed, bool):
            raise EventError(f"{where}.signed_up", "signed_up must be true or false")
        if signed:
            payload["signed_up"] = True
            if raw.get("signed_up_at") is not None:
                payload["signed_up_at"] = _moment(raw["signed_up_at"], f"{where}.signed_up_at")
    if kind == "tags":
        payload["add"] = _tags(raw.get("add", []), f"{where}.add")
        payload["remove"] = _tags(raw.get("remove", []), f"{where}.remove")
        if not payload["add"] and not payload["remove"]:
            raise EventError(f"{where}.add", "tags to add or to remove")
    if kind == "coupon":
        payload["code"] = _text(raw, "code", where)
        action = raw.get("action")
        if action not in ("issued", "used", "expired"):
            raise EventError(f"{where}.action", "action must be issued, used or expired")
        payload["action"] = action
        if action == "issued":
            payload["expires_at"] = _moment(raw.get("expires_at"), f"{where}.expires_at")
    # Whose profile it changes, once what changes is known to be sound.
    target = "m:" + str(_text(raw, "member_id", where)) if kind == "member" else \
        _target(raw, where)
    digest = hashlib.sha1(json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()
                          ).hexdigest()[:20]
    return ServerEvent(event_id, str(kind), target, payload, digest)


def parse_batch(body: Any, limits: Limits = LIMITS) -> list[ServerEvent]:
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise EventError("events", 'the body is {"events": [...]}')
    events = body["events"]
    if not events or len(events) > MAX_EVENTS:
        raise EventError("events", f"between 1 and {MAX_EVENTS} events")
    return [parse_event(raw, index, limits) for index, raw in enumerate(events)]
