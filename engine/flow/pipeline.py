"""One event's way through the engine, whatever door it came in by: derive ->
store (one call) -> profile view -> matcher -> delivery -> counters -> frames.

- ``Pipeline.handle``: a visitor's event from the socket or the beacon; the
  answer is its frames (ack first, then the actions, signed for that visitor).
- ``Pipeline.apply_server_event``: an order, a member's grade, a coupon from the
  shop's server; the actions it causes are pushed to every socket of that
  visitor or member, on whichever node holds them.

Both evaluate and decide in ``evaluate``, which is where matches are counted
per rule (engine/delivery/counters.py) and the stage times recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from engine.delivery.attribution import credited
from engine.delivery.counters import SITE, Counters, field
from engine.delivery.policy import Context, Decision, Reason, deliver, group
from engine.delivery.recommend import cards, seeds
from engine.flow.derive import Visitor, derive, server_payload, track_facts
from engine.flow.server_events import ServerEvent
from engine.forecast.recorder import Recorder
from engine.profile.layout import LIVE_HOURS, flat_days
from engine.profile.view import flat_profile
from engine.runtime.metrics import Metrics
from engine.runtime.site import ActiveRules, LiveSite
from engine.store.base import (
    PUSH_CHANNEL,
    Applied,
    LiveUpdate,
    Result,
    Store,
    StoredEvent,
    StoreUnavailable,
)
from engine.wire.action_ids import signed_frame
from engine.wire.frames import Event
from engine.wire.protocol import SIGNALS, ErrorCode, EventKind, Frame, ServerFrame

log = logging.getLogger("ondo.pipeline")
RECENT = 300.0  # seconds: a control exposure remembered this recently is not written again
CART_ADDS_COUNTED = 10  # of one cart change, for the live counters

# The rule triggers an event evaluates. A fact from the shop's server also
# re-evaluates the visitor's current page: a purchase may end an upsell.
TRIGGERS: dict[str, tuple[str, ...]] = {
    EventKind.PAGEVIEW: ("pageview",), EventKind.CART: ("cart",),
    EventKind.TRACK: ("track",), EventKind.IDENTIFY: ("identify",),
    "purchase": ("purchase", "pageview"), "member": ("member", "pageview"),
    "coupon": ("coupon", "pageview"), "cart_reset": ("cart",), "tags": ("pageview",),
}
SIGNAL_TRIGGERS = {name: (name,) for name in SIGNALS}  # a widget signal is its own trigger


def decide(rules: ActiveRules, site: LiveSite, stored: Mapping[str, Any],
           profile: Mapping[str, Any], matched: Sequence[str], key: str, event_id: str,
           now: float) -> Decision:
    """The delivery decision for matched rules, from the stored caps and
    fatigue; ``key`` is the profile key, the holdout draw's identity."""
    config = site.config
    ctx = Context(key, event_id, now, site.tz(rules), int(stored.get("visit_count", 1) or 1),
                  bool(profile.get("is_member")), config.login_url, site.calendar.at(now).day,
                  site.held_back(key))
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


def _remembers(exposures: object, rule: str, label: str, now: float) -> bool:
    if not isinstance(exposures, Mapping):
        return False
    exposure = exposures.get(rule)
    return isinstance(exposure, Mapping) and exposure.get("g") == label and \
        isinstance(exposure.get("t"), int | float) and now - exposure["t"] < RECENT


def action_frames(decision: Decision) -> list[Frame]:
    """The decision's action frames, each ``id`` still the action's nonce: sign
    it for the visitor it goes to (``engine.wire.action_ids.signed_frame``)."""
    return [{"t": ServerFrame.ACTION, "id": a.id, "rule": a.rule, "widget": a.widget,
             "content": a.content, "arming": a.arming} for a in decision.actions]


class Pipeline:
    def __init__(self, store: Store, metrics: Metrics, counters: Counters,
                 recorder: Recorder) -> None:
        self.store = store
        self.metrics = metrics
        self.counters = counters
        self.recorder = recorder

    async def evaluate(self, rules: ActiveRules, site: LiveSite, stored: Mapping[str, Any],
                       triggers: tuple[str, ...], key: str, event_id: str, now: float,
                       day: str, facts: Mapping[str, Any] | None = None) -> Decision | None:
        """Match and decide for the stored profile after an event (and the
        event's own ``facts``: a track event's name, live counters); the
        outcome of every matched rule is counted. None when nothing matched."""
        matched_at = time.perf_counter()
        profile = profile_view(rules, site, stored, now)
        if facts:
            profile.update(facts)
        matched = rules.match(profile, triggers)
        self.metrics.stage("match", time.perf_counter() - matched_at)
        if not matched:
            self.recorder.evaluated(site.config, now, key, event_id, triggers,
                                    site.held_back(key), profile, stored, None)
            return None
        decision = decide(rules, site, stored, profile, matched, key, event_id, now)
        if decision.actions and rules.recommends:
            await self.recommend(rules, site, decision, profile)
        self.counters.decided(site.config.id, day, decision)
        self.recorder.evaluated(site.config, now, key, event_id, triggers, site.held_back(key),
                                profile, stored, decision)
        return decision

    async def recommend(self, rules: ActiveRules, site: LiveSite, decision: Decision,
                        profile: Mapping[str, Any]) -> None:
        """Fill the product cards of the actions that recommend; an action with
        none to show is dropped, its rule counted as NO_RECOMMENDATIONS. The
        store unreachable: the same, the event itself is stored."""
        catalog = self.store.catalog
        in_cart = set(profile.get("cart_items") or ())
        for action in list(decision.actions):
            wanted = rules.by_id[action.rule].action.recommend
            if wanted is None:
                continue
            found: list[dict[str, Any]] = []
            try:
                products = await catalog.recommend(site.config.id, seeds(wanted, profile),
                                                   in_cart, wanted.count)
                found = cards(wanted, [p.id for p in products], {p.id: p for p in products},
                              in_cart)
            except StoreUnavailable as exc:
                log.warning("no recommendations for %s: %s", action.rule, exc)
            if found:
                action.content["products"] = found
            else:
                decision.actions.remove(action)
                decision.reasons[decision.matched.index(action.rule)] = \
                    Reason.NO_RECOMMENDATIONS

    async def handle(self, visitor: Visitor, event: Event, now: float) -> list[Frame]:
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
        # A forged identify is stored as a nameless track event: it triggers nothing.
        triggers = None if event.kind is EventKind.IDENTIFY and kind is EventKind.TRACK \
            else SIGNAL_TRIGGERS.get(event.data.get("name", "")) \
            if kind is EventKind.SIGNAL else TRIGGERS.get(kind)
        reads_live = rules is not None and triggers is not None and \
            not rules.live_triggers.isdisjoint(triggers)
        facts: dict[str, Any] = {}
        if kind is EventKind.PAGEVIEW and rules is not None and rules.live_triggers:
            # Who is on which page is kept while some rule reads it. The page's
            # live counters need nothing the profile's call answers: both calls
            # go out together, one round trip.
            product = str(payload.get("product_id") or "")
            result, facts = await asyncio.gather(
                self.store.apply(config.id, key, stored),
                self.live(site, LiveUpdate(now, key, page=True, product=product,
                                           read=reads_live, read_product=product)))
        else:
            result = await self.store.apply(config.id, key, stored)
        metrics.stage("store", time.perf_counter() - started)
        metrics.event(config.id, event.kind)
        if result.status is Applied.CONFLICT:
            return [{"t": ServerFrame.ERROR, "code": ErrorCode.ID_CONFLICT, "id": event.id,
                     "message": "this event id was already used for other content"}]
        frames: list[Frame] = [{"t": ServerFrame.ACK, "id": event.id}]
        if result.status is Applied.DUPLICATE:
            if kind is EventKind.IDENTIFY:
                # Resent after an outage that may have cut the merge short: the
                # merge has its own id, so running it again is safe.
                await self.identified(visitor, payload["member_id"], result.profile, stored)
            return frames
        visitor.open_until = now + config.session_timeout
        counters, day = self.counters, local.day
        if kind is EventKind.IDENTIFY:
            anonymous = visitor.key
            result = await self.identified(visitor, payload["member_id"], result.profile,
                                           stored)
            if rules is not None and rules.live_triggers and visitor.key != anonymous:
                # Signed in: on the live counters the member replaces the anonymous
                # visitor, on the same page, rather than being counted twice.
                await self.live(site, LiveUpdate(
                    now, visitor.key, page=True, left=anonymous,
                    product=str(result.profile.get("product_id") or "")))
        counters.seen(config.id, day, field(SITE, "visitors", site.group(visitor.key)),
                      visitor.key)
        if kind is EventKind.REPORT:
            counters.add(config.id, day, {field(payload["rule"], payload["what"]): 1})
            if payload["what"] == "shown":  # an exposure of the treated group
                counters.seen(config.id, day, field(payload["rule"], "exposed",
                                                    payload["group"]), visitor.key)
            self.recorder.reported(config, now, visitor.key, payload,
                                   int(result.profile.get("visit_count") or 0), day)
        elif kind is EventKind.TRACK and config.goal_event is not None and \
                event.data.get("name") == config.goal_event:
            counters.converted(config.id, day, visitor.key,
                               credited(result.profile.get("x"), now, config.attribution), 0,
                               site.group(visitor.key))
        if kind is not EventKind.PAGEVIEW:
            # Cart additions come from browsers: counted while some rule reads the
            # live counters, and only the first few of one change.
            facts = await self.live(site, LiveUpdate(
                now, visitor.key, added=tuple(result.profile.get("cart_added") or ())
                [:CART_ADDS_COUNTED] if kind is EventKind.CART and rules is not None and
                rules.live_triggers else (), read=reads_live,
                read_product=str(result.profile.get("product_id") or "")))
        if triggers is None or rules is None:
            return frames
        if kind is EventKind.TRACK and "name" in event.data:
            facts.update(track_facts(event.data))
        decision = await self.evaluate(rules, site, result.profile, triggers, visitor.key,
                                       event.id, now, day, facts)
        if decision is not None:
            frames.extend(signed_frame(frame, site.action_key, visitor.id)
                          for frame in action_frames(decision))
            await self.held_out(rules, site, visitor.key, decision, result.profile, event.id,
                                now)
        metrics.stage("event", time.perf_counter() - started)
        return frames

    async def live(self, site: LiveSite, update: LiveUpdate) -> dict[str, Any]:
        """Write what the event changes in the site's live counters and read the
        figures its rules need (one store call, only when there is either). An
        outage loses this event's share of the counters, not the event."""
        if not (update.page or update.added or update.bought or update.read or update.left):
            return {}
        started = time.perf_counter()
        try:
            figures: dict[str, Any] = dict(await self.store.live(
                site.config.id, update, site.config.live_shards))
        except StoreUnavailable as exc:
            log.warning("the live counters of %s were not updated: %s", site.config.id, exc)
            return {}
        self.metrics.stage("live", time.perf_counter() - started)
        return figures

    async def held_out(self, rules: ActiveRules, site: LiveSite, key: str, decision: Decision,
                       stored: Mapping[str, Any], event_id: str, now: float) -> None:
        """Rules whose holdout kept this visitor from their action: an exposure
        of their control group, counted and remembered for the attribution of
        purchases. The store is written only when the profile does not already
        remember the same exposure from the last few minutes: a control visitor
        matches again on every page."""
        if not decision.held_out:
            return
        held = {rule: group(False, rules.by_id[rule].holdout) for rule in decision.held_out}
        config, local = site.config, site.calendar.at(now)
        for rule, label in held.items():
            self.counters.seen(config.id, local.day, field(rule, "exposed", label), key)
        remembered = stored.get("x")
        fresh = {rule: label for rule, label in held.items()
                 if not _remembers(remembered, rule, label, now)}
        if not fresh:
            return
        exposure = StoredEvent.at(f"x:{event_id}", "exposure", "x", now, local,
                                  {"rules": fresh, "window": config.attribution}, windows=False,
                                  session_timeout=config.session_timeout)
        try:
            await self.store.apply(config.id, key, exposure)
        except StoreUnavailable as exc:
            # The event itself is stored; only this exposure's memory is lost.
            log.warning("a control exposure of %s was not remembered: %s", key, exc)

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
            self.recorder.merged(site.config, event.now, visitor.key, visitor.id)
        merge = StoredEvent.at(f"merge:{visitor.id}:{member_id}", kind, "merge", event.now,
                               site.calendar.at(event.now), payload,
                               session_timeout=site.config.session_timeout)
        return await self.store.apply(site.config.id, visitor.key, merge)

    async def apply_server_event(self, site: LiveSite, event: ServerEvent,
                                 now: float) -> Applied:
        """Store one verified server event; if it is new, push the actions it
        causes. Raises StoreUnavailable when it could not be stored."""
        started = time.perf_counter()
        rules = site.rules
        local = site.calendar.at(now)
        payload, at = server_payload(site, event, now)
        stored = StoredEvent.at(event.id, event.type, event.digest, now, local, payload,
                                windows=rules is None or rules.reads_windows,
                                session_timeout=site.config.session_timeout)
        result = await self.store.apply(site.config.id, event.profile, stored)
        self.metrics.stage("store", time.perf_counter() - started)
        self.metrics.event(site.config.id, event.type)
        if result.status is Applied.NEW and event.type == "purchase":
            # Once per order: a duplicate is never NEW, on any node.
            # Counted on the order's day, credited to the exposures before it.
            self.counters.converted(
                site.config.id, site.calendar.at(at).day, event.profile,
                credited(result.profile.get("x"), at, site.config.attribution),
                int(event.payload.get("amount") or 0), site.group(event.profile))
            self.recorder.purchased(site.config, at, event.profile,
                                    int(event.payload.get("amount") or 0))
            bought = [str(item["product_id"]) for item in payload.get("items", ())]
            if len(bought) > 1:
                try:
                    await self.store.catalog.add_order(site.config.id, bought, at)
                except StoreUnavailable as exc:
                    log.warning("order %s not counted as bought together: %s", event.id, exc)
        triggers = TRIGGERS.get(event.type)
        if result.status is not Applied.NEW:
            return result.status
        # An order from more than a day ago is no part of the last 24 hours.
        facts = await self.live(site, LiveUpdate(
            now, bought=tuple(str(item["product_id"]) for item in payload.get("items", ()))
            if event.type == "purchase" and now - at < LIVE_HOURS * 3600 else (),
            read=rules is not None and triggers is not None and
            not rules.live_triggers.isdisjoint(triggers),
            read_product=str(result.profile.get("product_id") or "")))
        if rules is None or triggers is None:
            return result.status
        decision = await self.evaluate(rules, site, result.profile, triggers, event.profile,
                                       event.id, now, local.day, facts)
        if decision is not None:
            await self.held_out(rules, site, event.profile, decision, result.profile,
                                event.id, now)
        if decision is not None and decision.actions:
            await self.push(site.config.id, event.profile, action_frames(decision))
        self.metrics.stage("event", time.perf_counter() - started)
        return result.status

    async def push(self, site: str, profile_key: str, frames: list[Frame]) -> None:
        """Send frames to every socket of a profile, on every node. Actions are
        at most once: a push lost to a storage outage is logged, not retried."""
        message = json.dumps({"site": site, "profile": profile_key, "frames": frames},
                             ensure_ascii=False)
        try:
            await self.store.broker.publish(PUSH_CHANNEL, message)
        except StoreUnavailable as exc:
            log.warning("a push to %s was lost: storage unavailable (%s)", profile_key, exc)
