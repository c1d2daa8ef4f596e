"""What an event means for the stored profile, derived before the store call
(pure): the page and where the visit came from for a page view, a cart's items,
a report's rule and whether it stops the rule, a verified member id; for an
event of the shop's server, the day an order counts on and a sign-up's time.

``Visitor`` is what the engine knows of one socket's (or beacon's) visitor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.delivery.policy import group
from engine.flow.device import device_of
from engine.flow.identity import verify_member
from engine.flow.page import page_of
from engine.flow.server_events import ServerEvent
from engine.flow.traffic import classify
from engine.runtime.site import LiveSite
from engine.wire import action_ids
from engine.wire.frames import Event, FrameError
from engine.wire.protocol import ErrorCode, EventKind

_STOPS = {"clicked": "click", "closed": "close"}  # a report -> the stop_after it meets


@dataclass
class Visitor:
    """What the engine knows about one connection's visitor."""

    site: LiveSite
    id: str
    user_agent: str = ""
    member_id: str | None = None
    key: str = ""  # the stored profile events apply to: the visitor's, or "m:<member id>"
    device: str = ""  # from the user agent, which a connection keeps
    # Until when this connection knows the visit to be open: the store starts
    # a visit only after session_timeout of silence, and this connection's
    # last stored event was that recent, so the arrival need not be derived.
    open_until: float = 0.0

    def __post_init__(self) -> None:
        self.key = self.key or self.id
        self.device = device_of(self.user_agent)


def check_event(visitor: Visitor, event: Event) -> None:
    """Raise FrameError for a well-formed event this visitor may not send: a
    report on an action it was not sent. Reports feed the statistics and the
    caps, so only what the engine sent can be reported (engine/wire/action_ids.py)."""
    if event.kind is EventKind.REPORT:
        data = event.data
        if not action_ids.verify(visitor.site.action_key, visitor.id, data["rule"],
                                 data["action"]):
            raise FrameError(ErrorCode.BAD_FIELD, "data.action is not an action of this rule "
                             "sent to this visitor", "data.action", event.id)


def derive(visitor: Visitor, event: Event, now: float = 0.0) -> dict[str, Any] | None:
    """The payload the store applies (pure), or None for a forged identify."""
    data = event.data
    if event.kind is EventKind.PAGEVIEW:
        url = data["url"]
        page = page_of(url, data.get("page_type"), data.get("product_id"), data.get("category"))
        payload = {"page_url": url, "page_path": page.path, "page_type": page.page_type,
                   "product_id": page.product_id, "category": page.category,
                   "params": page.params}
        if now >= visitor.open_until:  # this page view may start a visit: where from?
            try:
                host = urlsplit(url).hostname or ""
            except ValueError:
                host = ""
            arrival = classify(url, data.get("referrer", ""), host)
            payload.update({
                "landing_url": url, "traffic_source": arrival.traffic_source,
                "utm_source": arrival.utm_source, "utm_medium": arrival.utm_medium,
                "utm_campaign": arrival.utm_campaign, "is_ad": arrival.is_ad,
                "device": visitor.device})
        return payload
    if event.kind is EventKind.CART:
        return {"items": data["items"]}
    if event.kind is EventKind.REPORT:
        check_event(visitor, event)
        site = visitor.site
        rule = site.rules.by_id.get(data["rule"]) if site.rules else None
        stop = bool(rule and _STOPS.get(data["what"]) in rule.stop_after)
        # What the store remembers of a shown action, for the attribution of
        # purchases: its measurement group, for the attribution window.
        return {"rule": data["rule"], "what": data["what"], "action": data["action"],
                "stop": stop, "group": group(True, rule.holdout if rule else 0.0),
                "window": site.config.attribution}
    if event.kind is EventKind.IDENTIFY:
        if not verify_member(visitor.site.config.secret, data["member_id"], data["signature"]):
            return None
        return {"member_id": data["member_id"]}
    return {}


def server_payload(site: LiveSite, event: ServerEvent, now: float) -> tuple[dict[str, Any], float]:
    """What the store applies for a server event, and when it happened: an
    order at its ``ordered_at`` (never later than now) on that day of the site's
    calendar; a sign-up at its ``signed_up_at``, or now."""
    payload = dict(event.payload)
    at = now
    if "ordered_at" in payload:
        at = min(float(payload["ordered_at"]), now)
        payload["ordered_at"] = at
        payload["day"] = site.calendar.at(at).day
    if payload.pop("signed_up", False):
        payload["signed_up_at"] = min(float(payload.get("signed_up_at", now)), now)
    return payload, at


def track_facts(data: dict[str, Any]) -> dict[str, Any]:
    """What rules read of a `track` event: its name, and its flat properties
    as text (nested values are left out): event_prop("price") == "30000"."""
    props = {}
    for name, value in (data.get("props") or {}).items():
        if isinstance(value, bool):
            props[name] = "true" if value else "false"
        elif isinstance(value, int):
            props[name] = str(value)
        elif isinstance(value, float):
            props[name] = str(int(value)) if value.is_integer() else repr(value)
        elif isinstance(value, str):
            props[name] = value
    return {"event_name": data["name"], "event_props": props}
