"""The delivery policy, without a server: each reason, in order."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import rules
from engine.delivery.policy import Context, Policy, Reason, deliver, holdout_share, in_schedule
from rules.ruleset import Ruleset, Schedule

SEOUL = ZoneInfo("Asia/Seoul")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL).timestamp()


NOW = at("2026-11-18T20:00")  # a Wednesday evening in Seoul


def ruleset(body: str, head: str = "") -> Ruleset:
    return rules.load(f"site: s\n{head}rules:\n{body}")


def decide(rs: Ruleset, profile: dict[str, Any] | None = None, *, caps: Any = None,
           fatigue: Any = None, now: float = NOW, visit: int = 3, visitor: str = "v1",
           member: bool = False) -> list[tuple[str, Reason, str | None]]:
    profile = profile if profile is not None else {"page_path": "/product/1"}
    matched = rules.evaluate(rs, {**profile, "now": now})
    ctx = Context(visitor, "e1", now, SEOUL, visit, member, "/login?next={return}")
    decision = deliver(Policy.of(rs), matched, profile, caps or {}, fatigue or {}, ctx)
    return [(o.rule, o.reason, o.winner) for o in decision.outcomes]


TWO = """  - {id: a, priority: 2, do: {widget: push_note, title: A}}
  - {id: b, priority: 1, do: {widget: push_note, title: B}}
  - {id: c, do: {widget: bookmark_prompt, text: C}}
"""


def test_one_action_per_widget_kind_the_higher_priority_wins() -> None:
    assert decide(ruleset(TWO)) == [("a", Reason.SHOWN, None), ("b", Reason.LOST_TO, "a"),
                                     ("c", Reason.SHOWN, None)]


def test_frequency_caps_count_reported_shows() -> None:
    rs = ruleset("  - {id: a, do: {widget: push_note, title: A}, frequency: once_per_session}\n"
                 "  - {id: d, do: {widget: bookmark_prompt, text: D}, frequency: once_per_day}\n"
                 "  - {id: w, do: {widget: round_floating, text: W},"
                 " frequency: {max: 2, per: 7d}}\n")
    caps = {"a": {"n": 1, "s": 3, "sn": 1}, "d": {"n": 1, "d": "20261118", "dn": 1},
            "w": {"n": 2, "t": [NOW - 6 * 86_400, NOW - 3600]}}
    assert [r for _, r, _ in decide(rs, caps=caps)] == [Reason.CAPPED] * 3
    # A new visit, a new day, an old show outside the window: shown again.
    later = NOW + 86_400
    assert [r for _, r, _ in decide(rs, caps=caps, visit=4, now=later)] == [Reason.SHOWN] * 3


def test_stop_after_click_or_close() -> None:
    rs = ruleset("  - {id: a, do: {widget: push_note, title: A}, stop_after: [click, close],"
                 " frequency: always}\n")
    assert decide(rs, caps={"a": {"stop": True}}) == [("a", Reason.STOPPED, None)]


def test_a_rule_uploaded_again_without_stop_after_ignores_its_old_stop() -> None:
    rs = ruleset("  - {id: a, do: {widget: push_note, title: A}, frequency: always}\n")
    assert decide(rs, caps={"a": {"stop": True, "n": 9, "sn": 9, "s": 3}}) == [
        ("a", Reason.SHOWN, None)]


def test_site_fatigue_budget() -> None:
    rs = ruleset("  - {id: a, do: {widget: push_note, title: A}}\n"
                 "  - {id: c, do: {widget: bookmark_prompt, text: C}}\n",
                 "fatigue: {max_per_session: 2, min_interval: 30s}\n")
    # min_interval: a second action in the same moment is too soon.
    assert decide(rs) == [("a", Reason.SHOWN, None), ("c", Reason.FATIGUED, None)]
    assert decide(rs, fatigue={"s": 3, "sn": 2, "t": NOW - 600})[0][1] is Reason.FATIGUED
    assert decide(rs, fatigue={"s": 3, "sn": 1, "t": NOW - 10})[0][1] is Reason.FATIGUED
    assert decide(rs, fatigue={"s": 3, "sn": 1, "t": NOW - 60})[0][1] is Reason.SHOWN


def test_pages_globs_on_the_path() -> None:
    rs = ruleset("  - {id: a, do: {widget: push_note, title: A},"
                 " pages: {include: ['/product/*'], exclude: ['/product/9*']}}\n")
    assert decide(rs, {"page_path": "/product/1"})[0][1] is Reason.SHOWN
    assert decide(rs, {"page_path": "/product/99"})[0][1] is Reason.OFF_PAGE
    assert decide(rs, {"page_path": "/cart"})[0][1] is Reason.OFF_PAGE


@pytest.mark.parametrize(("when", "shown"), [
    ("2026-11-20T22:30", True),   # Friday night
    ("2026-11-21T01:30", True),   # after midnight: still Friday's window
    ("2026-11-21T02:30", False),
    ("2026-11-21T22:30", False),  # Saturday night is not in the schedule
    ("2026-11-20T21:59", False),
])
def test_schedule_window_crossing_midnight_in_seoul(when: str, shown: bool) -> None:
    schedule = Schedule(weekdays=("fri",), hours=((22 * 60, 2 * 60),))
    assert in_schedule(schedule, at(when), SEOUL) is shown


def test_schedule_dates_are_local() -> None:
    schedule = Schedule(starts="2026-12-01T00:00", ends="2026-12-26T00:00")
    assert not in_schedule(schedule, at("2026-11-30T23:59"), SEOUL)
    assert in_schedule(schedule, at("2026-12-01T00:00"), SEOUL)
    assert not in_schedule(schedule, at("2026-12-26T00:00"), SEOUL)


def test_holdout_share_is_stable_and_within_two_points() -> None:
    visitors = [f"visitor-{n}" for n in range(10_000)]
    held = sum(holdout_share(v, "rule-x") < 0.1 for v in visitors)
    assert 800 <= held <= 1200
    assert holdout_share("visitor-1", "rule-x") == holdout_share("visitor-1", "rule-x")
    rs = ruleset("  - {id: a, do: {widget: push_note, title: A}, holdout: 10%}\n")
    outcomes = [decide(rs, visitor=v)[0][1] for v in visitors[:2000]]
    assert 160 <= outcomes.count(Reason.HELD_OUT) <= 240


def test_templates_render_and_login_links_get_the_return_url() -> None:
    rs = ruleset("  - id: a\n    do: {widget: popcorn_button, text: \"{{ member_name |"
                 " default('고객') }}님 {{ cart_total | won }}\", link: '/coupon?code=A',"
                 " login_required: true}\n")
    profile = {"page_path": "/", "cart_total": 30000}
    matched = rules.evaluate(rs, profile)
    ctx = Context("v", "e", NOW, SEOUL, 1, False, "/login?next={return}")
    action = deliver(Policy.of(rs), matched, profile, {}, {}, ctx).actions[0]
    assert action.content == {"text": "고객님 30,000원", "link": "/login?next=%2Fcoupon%3Fcode%3DA"}
    member = Context("v", "e", NOW, SEOUL, 1, True, "/login?next={return}")
    action = deliver(Policy.of(rs), matched, {**profile, "member_name": "김단골"}, {}, {},
                     member).actions[0]
    assert action.content == {"text": "김단골님 30,000원", "link": "/coupon?code=A"}
