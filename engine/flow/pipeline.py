"""One event's way through: derive -> store (one Redis call) -> profile view
-> matcher -> delivery -> frames. Shared by the websocket gateway and the
beacon endpoint; the transport only moves frames."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.delivery.counters import Counters
from engine.delivery.policy import Context, Decision, deliver
from engine.flow.device import device_of
from engine.flow.identity import verify_member
from engine.flow.page import page_of
from engine.flow.traffic import classify
from engine.profile.view import flat_days, flat_profile
from engine.runtime.metrics import Metrics
from engine.runtime.site import ActiveRules, LiveSite
from engine.store.base import Applied, Result, Store, StoredEvent
from engine.wire import action_ids
from engine.wire.action_ids import signed_frame
from engine.wire.frames import Event, FrameError
from engine.wire.protocol import ErrorCode, EventKind, ServerFrame

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
    device: str = ""  # from the user agent, which a connection keeps
    # Until when this connection knows the visit to be open: the store starts
    # a visit only after session_timeout of silence, and this connection's
    # last stored event was that recent, so the arrival need not be derived.
    open_until: float = 0.0

    def __post_init__(self) -> None:
        self.key = self.key or self.id
        self.device = device_of(self.user_agent)


def decide(rules: ActiveRules, site: LiveSite, stored: Mapping[str, Any],
           profile: Mapping[str, Any], matched: Sequence[str], key: str, event_id: str,
           now: float) -> Decision:
    """The delivery decision for matched rules, from the stored caps and fatigue."""
    config = site.config
    ctx = Context(key, event_id, now, site.tz(rules), int(stored.get("visit_count", 1) or 1),
                  bool(profile.get("is_member")), config.login_url, site.calendar.at(now).day)
    caps, fatigue = stored.get("caps"), stored.get("fatigue")
    return deliver(rules.policy, matched, profile, caps if isinstance(caps, Mapping) else {},
                   fatigue if isinstance(fatigue, dict) else {}, ctx)


def profile_view(rules: ActiveRules, site: LiveSite, stored: Mapping[str, Any],
                 now: float) -> dict[str, Any]:
    """The flat profile the ruleset reads, on the site's calendar and the
    ruleset's clock."""
    local = site.calendar.at(now)
    clock = rules.calendar.at(now) if rules.calendar is not None else local
    return flat_profile(stored, now, local, clock=clock, cart_period=site.config.cart_period)


def action_frames(decision: Decision) -> list[dict[str, Any]]:
    """The decision's action frames, each ``id`` still the action's nonce: sign
    it for the visitor it goes to (``engine.action_ids.signed_frame``)."""
    return [{"t": ServerFrame.ACTION, "id": a.id, "rule": a.rule, "widget": a.widget,
             "content": a.content, "arming": a.arming} for a in decision.actions]


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
        rules = visitor.site.rules
        rule = rules.by_id.get(data["rule"]) if rules else None
        stop = bool(rule and _STOPS.get(data["what"]) in rule.stop_after)
        return {"rule": data["rule"], "what": data["what"], "action": data["action"],
                "stop": stop}
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
        site = visitor.site
        if anonymous.get("merge_needed"):
            full = await self.store.profile(site.config.id, visitor.id)
            history = {k: v for k, v in full.items() if k not in ("days", "caps", "windows")}
            kind, payload = "merge", {"anon": history,
                                      "days": flat_days(full.get("days") or {}),
                                      "caps": dict(full.get("caps") or {})}
        merge = StoredEvent.at(f"merge:{visitor.id}:{member_id}", kind, "merge", event.now,
                               site.calendar.at(event.now), payload,
                               session_timeout=site.config.session_timeout)
        return await self.store.apply(site.config.id, visitor.key, merge)

    async def handle(self, visitor: Visitor, event: Event, now: float) -> list[dict[str, Any]]:
        """The frames to send back, ack first. Raises StoreUnavailable when the
        event could not be stored (the caller answers `unavailable`), and
        FrameError for an event that is well formed but not acceptable (a
        report on an action this visitor was not sent)."""
        site = visitor.site
        config = site.config
        metrics = self.metrics
        started = time.perf_counter()
        payload = derive(visitor, event, now)
        kind = event.kind
        if payload is None:
            # A forged or missing signature: the visitor stays anonymous.
            metrics.forged_identities += 1
            kind, payload = EventKind.TRACK, {}
        rules = site.rules  # this event keeps the ruleset it started with
        local = site.calendar.at(now)
        # A report counts once per action and outcome, whatever its event id.
        stored_id = f"report:{payload['action']}:{payload['what']}" \
            if kind is EventKind.REPORT else event.id
        stored = StoredEvent.at(stored_id, kind, event.digest, now, local, payload,
                                windows=rules is None or rules.reads_windows,
                                session_timeout=config.session_timeout)
        key = visitor.id if kind is EventKind.IDENTIFY else visitor.key
        result = await self.store.apply(config.id, key, stored)
        metrics.stage("store", time.perf_counter() - started)
        metrics.events[event.kind] += 1
        if result.status is Applied.CONFLICT:
            metrics.errors[ErrorCode.ID_CONFLICT] += 1
            return [{"t": ServerFrame.ERROR, "code": ErrorCode.ID_CONFLICT, "id": event.id,
                     "message": "this event id was already used for other content"}]
        frames: list[dict[str, Any]] = [{"t": ServerFrame.ACK, "id": event.id}]
        if result.status is Applied.DUPLICATE:
            return frames
        visitor.open_until = now + config.session_timeout
        if kind is EventKind.IDENTIFY:
            result = await self.identified(visitor, payload["member_id"], result.profile,
                                           stored)
        if kind is EventKind.REPORT:
            self.counters.add(config.id, local.day, {f"{payload['rule']}|{payload['what']}": 1})
        trigger = TRIGGER_OF.get(kind)
        if trigger is None or rules is None:
            return frames
        matched_at = time.perf_counter()
        profile = profile_view(rules, site, result.profile, now)
        matched = rules.matcher.match(profile, trigger)
        metrics.stage("match", time.perf_counter() - matched_at)
        if not matched:
            return frames
        decision = decide(rules, site, result.profile, profile, matched, visitor.key, event.id,
                          now)
        self.counters.decided(config.id, local.day, decision)
        frames.extend(signed_frame(frame, site.action_key, visitor.id)
                      for frame in action_frames(decision))
        metrics.stage("event", time.perf_counter() - started)
        return frames
