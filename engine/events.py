"""One event's way through: derive -> store (one Redis call) -> profile view
-> matcher -> delivery -> frames. Shared by the websocket gateway and the
beacon endpoint; the transport only moves frames."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.config import SiteConfig
from engine.counters import Counters
from engine.delivery import Context, Decision, Reason, deliver
from engine.device import device_of
from engine.frames import Event
from engine.identity import verify_member
from engine.metrics import Metrics
from engine.page import page_of
from engine.profile import flat_profile
from engine.protocol import ErrorCode, EventKind, ServerFrame
from engine.redis_store import flat_days
from engine.site import ActiveRules, LiveSite
from engine.store import Applied, Result, Store, StoredEvent
from engine.traffic import classify

TRIGGER_OF = {EventKind.PAGEVIEW: "pageview", EventKind.CART: "cart",
              EventKind.TRACK: "track", EventKind.IDENTIFY: "identify"}
_STOPS = {"clicked": "click", "closed": "close"}


@dataclass
class Visitor:
    """What the engine knows about one connection's visitor."""

    site: LiveSite
    id: str
    user_agent: str = ""
    member_id: str | None = None
    key: str = ""  # the stored profile events apply to: the visitor's, or "m:<member id>"

    def __post_init__(self) -> None:
        self.key = self.key or self.id


def decide(rules: ActiveRules, site: SiteConfig, stored: Mapping[str, Any],
           profile: Mapping[str, Any], matched: Sequence[str], key: str, event_id: str,
           now: float) -> Decision:
    """The delivery decision for matched rules, from the stored caps and fatigue."""
    ctx = Context(key, event_id, now, site.tz, int(stored.get("visit_count", 1) or 1),
                  bool(profile.get("is_member")), site.login_url)
    caps, fatigue = stored.get("caps"), stored.get("fatigue")
    return deliver(rules.ruleset, rules.by_id, matched, profile,
                   caps if isinstance(caps, dict) else {},
                   fatigue if isinstance(fatigue, dict) else {}, ctx)


def action_frames(decision: Decision) -> list[dict[str, Any]]:
    return [{"t": ServerFrame.ACTION, "id": a.id, "rule": a.rule, "widget": a.widget,
             "content": a.content, "arming": a.arming} for a in decision.actions]


def derive(visitor: Visitor, event: Event) -> dict[str, Any] | None:
    """The payload the store applies (pure), or None for a forged identify."""
    data = event.data
    if event.kind is EventKind.PAGEVIEW:
        url = data["url"]
        page = page_of(url, data.get("page_type"), data.get("product_id"), data.get("category"))
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        arrival = classify(url, data.get("referrer", ""), host)
        return {
            "page_url": url, "page_path": page.path, "page_type": page.page_type,
            "product_id": page.product_id, "category": page.category, "params": page.params,
            "landing_url": url, "traffic_source": arrival.traffic_source,
            "utm_source": arrival.utm_source, "utm_medium": arrival.utm_medium,
            "utm_campaign": arrival.utm_campaign, "is_ad": arrival.is_ad,
            "device": device_of(visitor.user_agent),
        }
    if event.kind is EventKind.CART:
        return {"items": data["items"]}
    if event.kind is EventKind.REPORT:
        rules = visitor.site.rules
        rule = rules.by_id.get(data["rule"]) if rules else None
        stop = bool(rule and _STOPS.get(data["what"]) in rule.stop_after)
        return {"rule": data["rule"], "what": data["what"], "stop": stop}
    if event.kind is EventKind.IDENTIFY:
        if not verify_member(visitor.site.config.secret, data["member_id"], data["signature"]):
            return None
        return {"member_id": data["member_id"]}
    return {}


class EventFlow:
    def __init__(self, store: Store, metrics: Metrics, counters: Counters) -> None:
        self.store = store
        self.metrics = metrics
        self.counters = counters

    async def identified(self, visitor: Visitor, member_id: str, anonymous: dict[str, Any],
                         event: StoredEvent) -> Result:
        """A verified identify: merge the anonymous profile into the member's
        (once), and apply this connection's next events to the member's."""
        visitor.member_id = member_id
        visitor.key = "m:" + member_id
        payload: dict[str, Any] = {}
        kind = "track"
        if anonymous.get("merge_needed"):
            full = await self.store.profile(visitor.site.config.id, visitor.id)
            history = {k: v for k, v in full.items() if k not in ("days", "caps", "windows")}
            kind, payload = "merge", {"anon": history,
                                      "days": flat_days(full.get("days") or {}),
                                      "caps": full.get("caps") or {}}
        merge = StoredEvent.at(f"merge:{visitor.id}:{member_id}", kind, "merge", event.now,
                               visitor.site.config.tz, payload)
        return await self.store.apply(visitor.site.config.id, visitor.key, merge)

    async def handle(self, visitor: Visitor, event: Event, now: float) -> list[dict[str, Any]]:
        """The frames to send back, ack first. Raises StoreUnavailable when the
        event could not be stored (the caller answers `unavailable`)."""
        site = visitor.site
        tz = site.config.tz
        started = time.perf_counter()
        payload = derive(visitor, event)
        kind = event.kind
        if payload is None:
            # A forged or missing signature: the visitor stays anonymous.
            self.metrics.forged_identities += 1
            kind, payload = EventKind.TRACK, {}
        stored = StoredEvent.at(event.id, kind, event.digest, now, tz, payload,
                                windows=site.rules is None or site.rules.reads_windows)
        key = visitor.id if kind is EventKind.IDENTIFY else visitor.key
        result = await self.store.apply(site.config.id, key, stored)
        self.metrics.stage("store", time.perf_counter() - started)
        self.metrics.events[event.kind] += 1
        if result.status is Applied.CONFLICT:
            self.metrics.errors[ErrorCode.ID_CONFLICT] += 1
            return [{"t": ServerFrame.ERROR, "code": ErrorCode.ID_CONFLICT, "id": event.id,
                     "message": "this event id was already used for other content"}]
        frames: list[dict[str, Any]] = [{"t": ServerFrame.ACK, "id": event.id}]
        if result.status is Applied.DUPLICATE:
            return frames
        if kind is EventKind.IDENTIFY:
            result = await self.identified(visitor, payload["member_id"], result.profile,
                                           stored)
        if kind is EventKind.REPORT:
            self.counters.add(site.config.id, stored.day,
                              {f"{payload['rule']}|{payload['what']}": 1})
        trigger = TRIGGER_OF.get(kind)
        rules = site.rules
        if trigger is None or rules is None:
            return frames
        matched_at = time.perf_counter()
        profile = flat_profile(result.profile, now, tz, cart_period=site.config.cart_period)
        matched = rules.matcher.match(profile, trigger)
        self.metrics.stage("match", time.perf_counter() - matched_at)
        if not matched:
            return frames
        decision = decide(rules, site.config, result.profile, profile, matched, visitor.id,
                          event.id, now)
        counts: dict[str, int] = {}
        site_id = site.config.id
        by_rule = self.metrics.rules
        for outcome in decision.outcomes:
            by_rule[(site_id, outcome.rule, outcome.reason)] += 1
            counts[outcome.rule + "|matched"] = 1
            if outcome.reason is Reason.SHOWN:
                counts[outcome.rule + "|sent"] = 1
            elif outcome.reason is Reason.HELD_OUT:
                counts[outcome.rule + "|held_out"] = 1
        self.counters.add(site.config.id, stored.day, counts)
        frames.extend(action_frames(decision))
        self.metrics.stage("event", time.perf_counter() - started)
        return frames
