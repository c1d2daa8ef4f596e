"""The matcher agrees with the reference evaluator, always: same ids in the
same order, same exceptions. Every test runs against both implementations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import rules
from engine.matcher import MatcherLike, ReferenceMatcher, implementation, matcher_class
from rules.errors import ProfileError, UnknownTriggerError
from rules.ruleset import Ruleset
from tests.engine.rulesets import profiles, rulesets

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "matcher.json").read_text("utf-8"))


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except ProfileError as exc:
        return ("ProfileError", exc.attribute)
    except UnknownTriggerError as exc:
        return ("UnknownTriggerError", exc.trigger)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rulesets(), profiles(hostile=True), profiles())
def test_compiled_matcher_equals_reference(ruleset: Ruleset, hostile: dict[str, Any],
                                           profile: dict[str, Any]) -> None:
    compiled = matcher_class()(ruleset)
    for sample in (profile, hostile):
        for trigger in ("pageview", "cart", "track", "purchase"):
            assert outcome(compiled.match, sample, trigger) == outcome(
                rules.evaluate, ruleset, sample, trigger)


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_vectors(Matcher: type[MatcherLike], case: dict[str, Any]) -> None:
    ruleset = rules.load(case["rules"])
    matcher = Matcher(ruleset)
    got = matcher.match(case["profile"], case.get("trigger", "pageview"))
    assert got == case["expect"]
    assert rules.evaluate(ruleset, case["profile"], case.get("trigger", "pageview")) == got


def test_wrong_types_raise_the_same_profile_error(Matcher: type[MatcherLike]) -> None:
    ruleset = rules.load("site: s\nrules:\n  - {id: a, if: 'visit_count > 1 and is_member',"
                         " do: {widget: push_note, title: t}}\n")
    matcher = Matcher(ruleset)
    for bad in ({"visit_count": "2"}, {"visit_count": True}, {"visit_count": float("nan")},
                {"visit_count": 10**400}, {"visit_count": 2, "is_member": "yes"}):
        with pytest.raises(ProfileError) as info:
            matcher.match(bad)
        assert info.value.attribute == next(iter(k for k in bad if not (
            k == "visit_count" and bad[k] == 2)))


def test_unknown_trigger(Matcher: type[MatcherLike]) -> None:
    matcher = Matcher(rules.load("site: s\nrules:\n  - {id: a, do: {widget: push_note, "
                                 "title: t}}\n"))
    with pytest.raises(UnknownTriggerError):
        matcher.match({}, "click")


def test_many_rules_keep_priority_order(Matcher: type[MatcherLike]) -> None:
    body = "".join(
        f"  - {{id: r{i}, priority: {i % 7}, if: 'visit_count >= {i % 5} and traffic_source == "
        f"\"{['direct', 'naver_ads'][i % 2]}\"', do: {{widget: push_note, title: t}}}}\n"
        for i in range(300))
    ruleset = rules.load("site: s\nrules:\n" + body)
    profile = {"visit_count": 3, "traffic_source": "naver_ads"}
    assert Matcher(ruleset).match(profile) == rules.evaluate(ruleset, profile)
    assert len(Matcher(ruleset).match(profile)) == 120


def test_the_compiled_matcher_is_the_one_that_runs() -> None:
    # CI runs without ONDO_PUREPYTHON: a missing or broken extension fails here
    # instead of silently serving the slow path.
    cls = matcher_class()
    assert implementation(cls) == "cython"
    assert cls is not ReferenceMatcher
    assert cls.__module__ == "engine.matcher.compiled"
    import engine.matcher.compiled

    assert engine.matcher.compiled.__file__.endswith(".so")
