"""The delivery policy: which matched rules become actions now, and why the
others do not (pure; no I/O).

A visitor in the site's holdback (its control group) is shown nothing: every
matched rule is HELD_BACK. Otherwise, for each matched rule, in priority order,
the first reason that applies wins: OFF_PAGE (``pages``), OFF_SCHEDULE,
STOPPED (``stop_after``), CAPPED (``frequency``), HELD_OUT (``holdout``:
counted, not shown), LOST_TO (another rule already took this widget kind on
this event), FATIGUED (the site-wide budget), else SHOWN. Caps count
impressions the widget *reported* (docs/storage.md, ``caps`` and ``fatigue``),
plus what this same decision already chose.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from engine.wire.action_ids import nonce
from rules.glob import glob_match
from rules.ruleset import Rule, Ruleset, Schedule
from rules.template import render


class Reason(enum.StrEnum):
    SHOWN = "shown"
    LOST_TO = "lost_to"
    CAPPED = "capped"
    STOPPED = "stopped"
    FATIGUED = "fatigued"
    HELD_OUT = "held_out"
    OFF_SCHEDULE = "off_schedule"
    OFF_PAGE = "off_page"
    HELD_BACK = "held_back"  # the visitor is in the site's holdback: no action at all
    # The action recommends products and none could be shown (none bought with
    # these, or all in the cart or out of stock): it is not sent.
    NO_RECOMMENDATIONS = "no_recommendations"


# Enum members read once: a class attribute lookup per matched rule adds up.
(SHOWN, LOST_TO, CAPPED, STOPPED, FATIGUED, HELD_OUT, OFF_SCHEDULE, OFF_PAGE, HELD_BACK) = (
    Reason.SHOWN, Reason.LOST_TO, Reason.CAPPED, Reason.STOPPED, Reason.FATIGUED,
    Reason.HELD_OUT, Reason.OFF_SCHEDULE, Reason.OFF_PAGE, Reason.HELD_BACK)


@dataclass(frozen=True, slots=True)
class Outcome:
    rule: str
    reason: Reason
    winner: str | None = None  # for LOST_TO


@dataclass(slots=True)  # not frozen: built per event, and frozen __init__ costs 3x
class Action:
    """An action frame's content, ready to send."""

    id: str  # the action's nonce; each frame carries it signed for its visitor
    rule: str
    widget: str
    content: dict[str, Any]  # text fields; ``products``, the cards of a recommendation
    arming: dict[str, Any]


@dataclass(slots=True)
class Decision:
    """What to send for one event, and the outcome of every matched rule.

    ``reasons`` runs beside ``matched``: one reason per matched rule, in the
    same order, and ``winners`` names the rule each LOST_TO rule lost to.
    The event path counts ``reasons`` as they are: most matched rules lose,
    and an object per losing rule would cost more than the decision itself.
    ``outcomes`` pairs them up for explain and tests."""

    matched: Sequence[str] = ()
    reasons: list[Reason] = field(default_factory=list)
    winners: dict[str, str] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    # The rules whose holdout kept this visitor out, for their control group's
    # exposures: a few at most, where ``reasons`` may run to hundreds.
    held_out: list[str] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        return [Outcome(rule, reason, self.winners.get(rule))
                for rule, reason in zip(self.matched, self.reasons, strict=True)]


@dataclass(slots=True)  # not frozen: built per event, and frozen __init__ costs 3x
class Context:
    """What the policy needs to know about this event besides the profile."""

    visitor: str  # the profile key: the holdout draw's identity (one per member)
    event_id: str
    now: float
    tz: ZoneInfo
    visit: int  # the visitor's visit number (sessions)
    is_member: bool = False
    login_url: str = ""  # e.g. "/member/login.html?returnUrl={return}"
    today: str = ""  # YYYYMMDD in the site's time zone; from `now` when not given
    held_back: bool = False  # in the site's holdback (``site_group``)

    def __post_init__(self) -> None:
        if not self.today:
            self.today = datetime.fromtimestamp(self.now, self.tz).strftime("%Y%m%d")


SITE_DRAW = "@site"  # the "rule" of the site-wide holdback draw; no rule id can be this


def group(treated: bool, share: float) -> str:
    """A measurement group: "t" treated or "c" control, with the holdout share
    in percent that drew it; a changed share is a new period, never pooled."""
    return f"{'t' if treated else 'c'}{share * 100:g}"


def site_group(visitor: str, holdback: float) -> str:
    """The visitor's (or member's) group in the site-wide holdback."""
    return group(holdout_share(visitor, SITE_DRAW) >= holdback, holdback)


@functools.lru_cache(maxsize=65_536)
def holdout_share(visitor: str, rule: str) -> float:
    """A stable [0, 1) draw per (visitor, rule): the same visitor is always in
    or out of one rule's control group, independently across rules (kept for
    the visitors of the moment: each matches the same rules page after page)."""
    digest = hashlib.blake2b(f"{visitor}\x00{rule}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def on_page(rule: Rule, path: str) -> bool:
    pages = rule.pages
    if pages is None:
        return True
    if pages.include and not any(glob_match(g, path) for g in pages.include):
        return False
    return not any(glob_match(g, path) for g in pages.exclude)


def in_schedule(schedule: Schedule | None, now: float, tz: ZoneInfo) -> bool:
    if schedule is None:
        return True
    return _in_schedule(schedule, int(now // 60), tz)


@functools.lru_cache(maxsize=4096)
def _in_schedule(schedule: Schedule, minute: int, tz: ZoneInfo) -> bool:
    # A schedule is read to the minute: every event of one minute gets the
    # same answer, computed once (a local time costs microseconds).
    local = datetime.fromtimestamp(minute * 60, tz)
    stamp = local.replace(tzinfo=None).isoformat(timespec="minutes")
    if schedule.starts and stamp < schedule.starts:
        return False
    if schedule.ends and stamp >= schedule.ends:
        return False
    minute = local.hour * 60 + local.minute
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    if not schedule.hours:
        return not schedule.weekdays or weekday in schedule.weekdays
    for start, end in schedule.hours:
        if start < end and start <= minute < end:
            day = weekday
        elif start >= end and minute >= start:
            day = weekday  # the evening part of a window crossing midnight
        elif start >= end and minute < end % 1440:
            # After midnight: the window belongs to the previous day's schedule.
            day = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")[local.weekday()]
        else:
            continue
        if not schedule.weekdays or day in schedule.weekdays:
            return True
    return False


def capped(rule: Rule, cap: Mapping[str, Any], ctx: Context) -> bool:
    freq = rule.frequency
    if freq is None or not cap:
        return False
    if freq.per == "visitor":
        shown = int(cap.get("n", 0))
    elif freq.per == "session":
        shown = int(cap.get("sn", 0)) if cap.get("s") == ctx.visit else 0
    elif freq.per == "day":
        shown = int(cap.get("dn", 0)) if cap.get("d") == ctx.today else 0
    else:
        shown = sum(1 for t in cap.get("t", ()) if t > ctx.now - freq.seconds)
    return shown >= freq.max


def fatigued(ruleset: Ruleset, fatigue: Mapping[str, Any], chosen: int, ctx: Context) -> bool:
    budget = ruleset.fatigue
    if budget.max_per_session is not None:
        this_visit = int(fatigue.get("sn", 0)) if fatigue.get("s") == ctx.visit else 0
        if this_visit + chosen >= budget.max_per_session:
            return True
    if budget.max_per_day is not None:
        day = int(fatigue.get("dn", 0)) if fatigue.get("d") == ctx.today else 0
        if day + chosen >= budget.max_per_day:
            return True
    if budget.min_interval:
        if chosen:
            return True
        last = fatigue.get("t")
        if last is not None and ctx.now - float(last) < budget.min_interval:
            return True
    return False


def login_link(link: str, template: str) -> str:
    """The shop's login URL with ``link`` as the URL-encoded return URL."""
    if not template:
        return link
    return template.replace("{return}", quote(link, safe=""))


def render_action(rule: Rule, profile: Mapping[str, Any], ctx: Context) -> Action:
    content = {name: render(parts, profile) for name, parts in rule.action.content.items()}
    if rule.action.login_required and not ctx.is_member and "link" in content:
        content["link"] = login_link(content["link"], ctx.login_url)
    arming = rule.action.arming
    return Action(nonce(ctx.event_id, rule.id), rule.id, rule.action.widget, content,
                  {"delay": arming.delay, "scroll": arming.scroll,
                   "exit_intent": arming.exit_intent, "idle": arming.idle})


@dataclass(frozen=True, slots=True)
class Policy:
    """A ruleset as the delivery policy reads it, laid out once per upload:
    for each rule id, the rule, its widget kind, whether it reads a cap (it
    has a frequency or stop_after), and whether it has a gate to check
    (pages, a schedule or a holdout). Most matched rules have no gate and
    lose to a rule of higher priority, in a few operations each."""

    ruleset: Ruleset
    rules: Mapping[str, tuple[Rule, str, bool, bool]]

    @classmethod
    def of(cls, ruleset: Ruleset) -> Policy:
        return cls(ruleset, {rule.id: (
            rule, rule.action.widget, rule.frequency is not None or bool(rule.stop_after),
            rule.pages is not None or rule.schedule is not None or bool(rule.holdout))
            for rule in ruleset.rules})


def deliver(policy: Policy, matched: Sequence[str], profile: Mapping[str, Any],
            caps: Mapping[str, Mapping[str, Any]], fatigue: Mapping[str, Any],
            ctx: Context) -> Decision:
    """The actions to send for one event and the outcome of every matched rule."""
    decision = Decision(matched)
    if ctx.held_back:
        decision.reasons.extend(HELD_BACK for _ in matched)
        return decision
    reasons, actions, winners = decision.reasons, decision.actions, decision.winners
    table = policy.rules
    taken: dict[str, str] = {}  # widget kind -> rule that took it
    tired: bool | None = None  # the fatigue verdict, until another action is chosen
    path = str(profile.get("page_path", "/"))
    for rule_id in matched:
        rule, widget, reads_cap, gated = table[rule_id]
        # Only a frequency or stop_after reads a cap (a stop recorded under an
        # earlier version of the rule that had stop_after no longer applies).
        cap = caps[rule_id] if reads_cap and rule_id in caps else None
        if gated or cap:
            reason = None
            if rule.pages is not None and not on_page(rule, path):
                reason = OFF_PAGE
            elif rule.schedule is not None and not in_schedule(rule.schedule, ctx.now, ctx.tz):
                reason = OFF_SCHEDULE
            elif cap and cap.get("stop"):
                reason = STOPPED
            elif cap and capped(rule, cap, ctx):
                reason = CAPPED
            elif rule.holdout and holdout_share(ctx.visitor, rule.id) < rule.holdout:
                reason = HELD_OUT
                decision.held_out.append(rule_id)
            if reason is not None:
                reasons.append(reason)
                continue
        if widget in taken:
            reasons.append(LOST_TO)
            winners[rule_id] = taken[widget]
        elif tired if tired is not None else (
                tired := fatigued(policy.ruleset, fatigue, len(actions), ctx)):
            reasons.append(FATIGUED)
        else:
            reasons.append(SHOWN)
            taken[widget] = rule_id
            actions.append(render_action(rule, profile, ctx))
            tired = None
    return decision
