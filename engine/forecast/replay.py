"""Replay: a draft ruleset against recorded traffic (pure; docs/forecast.md).

Each recorded evaluation is matched by the draft's matcher and decided by the
same delivery policy as live traffic (``engine.delivery.policy.deliver``),
visitor by visitor in time order, with the caps and fatigue the draft's own
actions would have left. What the recording cannot know is assumed and said:

- A visitor's caps and fatigue when the window opens are those recorded with
  their first evaluation in it.
- An action the live engine also sent at that event meets the widget reports
  that were recorded for it (shown, or a click that met ``stop_after``). An
  action only the draft sends is assumed shown at once, and never clicked.
- A report on an action sent before the window counts as it did live (before
  the visitor's first evaluation in the window, it is in the caps recorded there).
- A rule that recommends products is assumed to find some, unless live it
  found none at that same event.

The invariant that proves the replay right: a draft identical to the live
ruleset forecasts exactly the actions that were sent (tests/engine/forecast).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from engine.delivery.policy import Context, Decision, Reason, deliver
from engine.forecast.recording import Evaluated, Merged, Purchased, Reported
from engine.profile.localtime import Calendar
from engine.runtime.site import ActiveRules
from engine.store.event import count_shown
from engine.wire.action_ids import nonce

HOURS = 24


@dataclass(frozen=True, slots=True)
class Settings:
    """What a replay needs of the site besides the draft."""

    tz: ZoneInfo  # the site's: days, hours of the report
    attribution: float  # seconds: a purchase this long after a show counts
    live_rules: frozenset[str]  # the ids of the ruleset live now
    login_url: str = ""


@dataclass(slots=True)
class _Visitor:
    caps: dict[str, Any]
    fatigue: dict[Any, Any]
    shown: dict[str, float] = field(default_factory=dict)  # rule -> last forecast show
    matched: set[str] = field(default_factory=set)  # the rules that ever matched
    bought_after: set[str] = field(default_factory=set)  # shown, then bought in the window


@dataclass(slots=True)
class LiveFigures:
    """One rule that sent actions live: what the draft does to it."""

    sent: int = 0  # actions sent live over the window
    kept: int = 0  # of those, still sent by the draft at the same event
    taken_by: Counter[str] = field(default_factory=Counter)  # rule -> its sends it took
    lost_for: Counter[str] = field(default_factory=Counter)  # other reason -> sends lost


@dataclass(slots=True)
class Forecast:
    """The tallies of a replay. Each is a Counter updated once per event from
    the decision's own lists (counting in C): most matched rules lose, and a
    Python step per matched rule would cost more than the decision."""

    outcomes: Counter[tuple[str, Reason]] = field(default_factory=Counter)
    lost_to: Counter[tuple[str, str]] = field(default_factory=Counter)  # (loser, winner)
    matched_by_hour: list[Counter[str]] = field(
        default_factory=lambda: [Counter() for _ in range(HOURS)])
    shown_by_hour: list[Counter[str]] = field(
        default_factory=lambda: [Counter() for _ in range(HOURS)])
    revenue: Counter[str] = field(default_factory=Counter)
    live: dict[str, LiveFigures] = field(default_factory=dict)
    events: int = 0  # evaluations replayed
    reports: int = 0
    purchases: int = 0
    changed: int = 0  # evaluations whose actions differ from those sent live
    sent_before: int = 0
    sent_after: int = 0
    first: float | None = None
    last: float | None = None

    def as_json(self, draft: ActiveRules, settings: Settings,
                visitors: Mapping[str, _Visitor]) -> dict[str, Any]:
        """The forecast as the API answers it (docs/forecast.md)."""
        matched_visitors: Counter[str] = Counter()
        shown_visitors: Counter[str] = Counter()
        buyers: Counter[str] = Counter()
        for visitor in visitors.values():
            matched_visitors.update(visitor.matched)
            shown_visitors.update(visitor.shown.keys())  # a dict would add its values
            buyers.update(visitor.bought_after)
        outcomes: dict[str, dict[str, int]] = {}
        for (rule, reason), n in sorted(self.outcomes.items()):
            outcomes.setdefault(rule, {})[str(reason)] = n
        lost_to: dict[str, Counter[str]] = {}
        for (rule, winner), n in self.lost_to.items():
            lost_to.setdefault(rule, Counter())[winner] = n

        def figures(rule: str) -> dict[str, Any]:
            by_reason = outcomes.get(rule, {})
            return {
                "rule": rule, "new": rule not in settings.live_rules,
                "matched": sum(by_reason.values()),
                "matched_visitors": matched_visitors[rule],
                "shown": sum(hour[rule] for hour in self.shown_by_hour),
                "shown_visitors": shown_visitors[rule],
                "matched_by_hour": [hour[rule] for hour in self.matched_by_hour],
                "shown_by_hour": [hour[rule] for hour in self.shown_by_hour],
                "outcomes": by_reason,
                "lost_to": dict(lost_to.get(rule, Counter()).most_common()),
                "buyers": buyers[rule], "revenue": self.revenue[rule],
            }

        return {
            "events": self.events, "reports": self.reports, "purchases": self.purchases,
            "visitors": len(visitors), "first": self.first, "last": self.last,
            "sent": {"live": self.sent_before, "draft": self.sent_after},
            "changed_events": self.changed,
            "fatigued": sum(n for (_, reason), n in self.outcomes.items()
                            if reason is Reason.FATIGUED),
            "rules": [figures(rule.id) for rule in draft.ruleset.rules],
            "live_rules": [self._live_json(rule, draft) for rule in sorted(self.live)],
            "buyers_note": "buyers: visitors the rule was shown to who bought within the "
                           "attribution window after; a baseline, not a causal estimate",
        }

    def _live_json(self, rule: str, draft: ActiveRules) -> dict[str, Any]:
        f = self.live[rule]
        return {"rule": rule, "in_draft": rule in draft.by_id, "sent": f.sent,
                "kept": f.kept, "lost": f.sent - f.kept,
                "taken_by": dict(f.taken_by.most_common()),
                "lost_for": {str(k): n for k, n in f.lost_for.most_common()}}


class Replay:
    """A draft replayed entry by entry; entries must come in time order."""

    def __init__(self, draft: ActiveRules, settings: Settings) -> None:
        self.draft = draft
        self.settings = settings
        self.site = Calendar(settings.tz)
        self.clock = draft.calendar or self.site  # hour_of_day and weekday, as live
        self.tz = draft.calendar.tz if draft.calendar is not None else settings.tz
        self.forecast = Forecast()
        self._visitors: dict[str, _Visitor] = {}
        self._sent_live: set[str] = set()  # nonces of live actions of the window
        self._sent_draft: set[str] = set()  # nonces of the draft's actions the live sent too
        self._ctx = Context("", "", 0.0, self.tz, 1, login_url=settings.login_url, today="-")

    def result(self) -> dict[str, Any]:
        return self.forecast.as_json(self.draft, self.settings, self._visitors)

    def feed(self, entries: Iterable[Evaluated | Reported | Purchased | Merged]) -> None:
        for entry in entries:
            if isinstance(entry, Evaluated):
                self.evaluated(entry)
            elif isinstance(entry, Reported):
                self.reported(entry)
            elif isinstance(entry, Purchased):
                self.purchased(entry)
            else:
                self.merged(entry)

    def evaluated(self, e: Evaluated) -> None:
        forecast = self.forecast
        forecast.events += 1
        if forecast.first is None:
            forecast.first = e.now
        forecast.last = e.now
        visitor = self._visitors.get(e.key)
        if visitor is None:
            visitor = self._visitors[e.key] = _Visitor(dict(e.caps), dict(e.fatigue))
        profile = e.profile
        clock = self.clock.at(e.now)
        profile["hour_of_day"], profile["weekday"] = clock.hour, clock.weekday
        local = self.site.at(e.now) if self.clock is not self.site else clock
        matched = self.draft.match(profile, e.triggers)
        shown: list[str] = []
        decision: Decision | None = None
        if matched:
            # One Context, refilled: the policy reads it and keeps nothing of it.
            ctx = self._ctx
            ctx.visitor, ctx.event_id, ctx.now, ctx.today, ctx.held_back = \
                e.key, e.event_id, e.now, local.day, e.held_back
            ctx.visit = int(profile.get("visit_count", 1) or 1)
            ctx.is_member = bool(profile.get("is_member"))
            decision = deliver(self.draft.policy, matched, profile, visitor.caps,
                               visitor.fatigue, ctx)
            if e.no_products:
                self._no_products(decision, e.no_products)
            self._count(decision, e, visitor, local.hour, local.day)
            shown = [action.rule for action in decision.actions]
        if e.sent or shown:
            self._compare(e, shown, decision)

    def _no_products(self, decision: Decision, rules: tuple[str, ...]) -> None:
        for action in list(decision.actions):
            if action.rule in rules:
                decision.actions.remove(action)
                decision.reasons[decision.matched.index(action.rule)] = \
                    Reason.NO_RECOMMENDATIONS

    def _count(self, decision: Decision, e: Evaluated, visitor: _Visitor, hour: int,
               day: str) -> None:
        forecast = self.forecast
        matched = decision.matched
        forecast.outcomes.update(zip(matched, decision.reasons, strict=True))
        forecast.matched_by_hour[hour].update(matched)
        visitor.matched.update(matched)
        if decision.winners:
            forecast.lost_to.update(decision.winners.items())
        for action in decision.actions:
            forecast.shown_by_hour[hour][action.rule] += 1
            visitor.shown[action.rule] = e.now
            if action.rule in e.sent:
                self._sent_draft.add(action.id)  # its recorded reports will count
            else:
                count_shown(visitor.caps, visitor.fatigue, action.rule,
                            e.profile.get("visit_count"), day, e.now)

    def _compare(self, e: Evaluated, shown: list[str], decision: Decision | None) -> None:
        forecast = self.forecast
        forecast.sent_before += len(e.sent)
        forecast.sent_after += len(shown)
        if set(shown) != set(e.sent):
            forecast.changed += 1
        for rule in e.sent:
            self._sent_live.add(nonce(e.event_id, rule))
            figures = forecast.live.get(rule)
            if figures is None:
                figures = forecast.live[rule] = LiveFigures()
            figures.sent += 1
            if rule in shown:
                figures.kept += 1
            elif decision is not None and rule in decision.winners:
                figures.taken_by[decision.winners[rule]] += 1
            elif decision is not None and rule in decision.matched:
                figures.lost_for[decision.reasons[decision.matched.index(rule)]] += 1
            else:
                figures.lost_for["not_matched" if rule in self.draft.by_id
                                 else "not_in_draft"] += 1

    def reported(self, r: Reported) -> None:
        self.forecast.reports += 1
        if r.action in self._sent_live and r.action not in self._sent_draft:
            return  # the draft did not send this action: its report never happens
        visitor = self._visitors.get(r.key)
        if visitor is None:
            # Not evaluated yet in the window: the caps recorded with their first
            # evaluation already count this report (and all before it).
            return
        if r.what == "shown":
            count_shown(visitor.caps, visitor.fatigue, r.rule, r.visit, r.day, r.now)
        if r.stop:
            cap = dict(visitor.caps.get(r.rule) or {"n": 0, "sn": 0, "dn": 0})
            cap["stop"] = True
            visitor.caps[r.rule] = cap

    def purchased(self, p: Purchased) -> None:
        self.forecast.purchases += 1
        visitor = self._visitors.get(p.key)
        if visitor is None:
            return
        window = self.settings.attribution
        for rule, at in visitor.shown.items():
            if 0 <= p.now - at <= window:
                visitor.bought_after.add(rule)
                self.forecast.revenue[rule] += p.amount

    def merged(self, m: Merged) -> None:
        anonymous, member = self._visitors.get(m.anonymous), self._visitors.get(m.key)
        if anonymous is None or member is None:
            # The member's first evaluation brings the merged caps with it.
            return
        for rule, cap in anonymous.caps.items():
            member.caps.setdefault(rule, cap)  # the member's own cap wins, as stored
        for rule, at in anonymous.shown.items():
            member.shown[rule] = max(at, member.shown.get(rule, at))
        member.matched.update(anonymous.matched)
        member.bought_after.update(anonymous.bought_after)
