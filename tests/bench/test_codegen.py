"""The generated-function evaluator (bench/codegen.py) returns what the reference
evaluator returns: on the benchmark's generated rulesets and population, on a
hand-written file using every kind of condition the language has, and on
arbitrary compiled rulesets with hostile profiles (same ids, same errors)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import rules
from bench.codegen import MAX_DEPTH, CodegenEvaluator
from bench.workload import population, rule_file
from rules.errors import ProfileError, UnknownTriggerError
from rules.ruleset import Action, Arming, Code, Op, Predicate, Rule, Ruleset
from tests.engine import rulesets as compiled
from tests.rules import strategies

PEOPLE = population(300)

HAND_WRITTEN = """\
site: codegen-test
segments:
  loyal: visit_count >= 10 and purchase_total >= 30만
  paid: traffic_source in ["naver_ads", "google_ads", "kakao_ads"]
rules:
  - {id: numbers, if: 'visit_count == 3 or cart_total between 1만 and 5만 or
      session_seconds < 60 or days_since_last_visit != 7', do: {widget: push_note, title: t}}
  - {id: number-lists, if: 'session_pageviews in [1, 2, 12] and visit_count not in [0, 1]',
     do: {widget: push_note, title: t}}
  - {id: strings, priority: 3, if: 'traffic_source == "organic" and member_grade != "vip"',
     do: {widget: push_note, title: t}}
  - {id: string-lists, if: 'not paid and traffic_source not in ["direct"]',
     do: {widget: push_note, title: t}}
  - {id: globs, on: [pageview, cart], if: 'page_path matches "/product/*" or
      page_path matches "*/2" or page_path matches "*가방*" or page_path matches "/?*/*"
      or page_path matches "/cart"', do: {widget: push_note, title: t}}
  - {id: text, if: 'page_path starts_with "/category" or page_path contains "가방"',
     do: {widget: push_note, title: t}}
  - {id: sets, if: 'tags contains "vip" or in_cart("P2")', do: {widget: push_note, title: t}}
  - {id: bools, priority: 1, if: 'is_member and not is_first_visit', do: {widget: push_note,
     title: t}}
  - {id: bool-false, if: 'is_member == false', do: {widget: push_note, title: t}}
  - {id: missing, if: 'not exists(member_grade) and exists(days_since_last_visit)',
     do: {widget: push_note, title: t}}
  - {id: coupons, on: [pageview, purchase], if: 'has_coupon("LOYAL15") or
      coupon_expires_within("X", 1d) or coupon_expires_within(3d)',
     do: {widget: push_note, title: t}}
  - {id: params, if: 'param("utm_source") == "naver" or event_prop("q") contains "가방"',
     do: {widget: push_note, title: t}}
  - {id: nested, priority: 2, if: 'loyal and not (has_coupon("X") or (is_member and
      (visit_count > 20 or not paid)))', do: {widget: push_note, title: t}}
  - {id: always, do: {widget: push_note, title: t}}
  - {id: off, enabled: false, if: 'visit_count >= 0', do: {widget: push_note, title: t}}
"""


def outcome(match: Any, *args: Any) -> Any:
    try:
        return ("ok", match(*args))
    except ProfileError as exc:
        return ("ProfileError", exc.attribute)
    except UnknownTriggerError as exc:
        return ("UnknownTriggerError", exc.trigger)


@pytest.mark.parametrize("size", [1, 10, 100, 400])
def test_agrees_with_the_reference_on_the_generated_workload(size: int) -> None:
    ruleset = rules.load(rule_file(size))
    codegen = CodegenEvaluator(ruleset)
    for trigger in ("pageview", "cart", "track"):
        for profile in PEOPLE:
            assert codegen.match(profile, trigger) == rules.evaluate(ruleset, profile, trigger)


def test_without_reordering_too() -> None:
    ruleset = rules.load(rule_file(100))
    codegen = CodegenEvaluator(ruleset, reorder=False)
    assert [codegen.match(p) for p in PEOPLE] == [rules.evaluate(ruleset, p) for p in PEOPLE]


def test_one_function_reading_each_attribute_once() -> None:
    codegen = CodegenEvaluator(rules.load(rule_file(50)))
    assert codegen.source.startswith("def match(p, trigger='pageview'):")
    assert codegen.source.count("def ") == 1
    assert codegen.source.count("g('visit_count')") == 1
    assert "a_visit_count >= " in codegen.source  # numbers compare as floats, inline
    assert "_pv(" not in codegen.source and "_rule(" not in codegen.source  # no fallback


HAND_PROFILES: list[dict[str, Any]] = [
    {},
    {"visit_count": 3, "traffic_source": "organic", "page_path": "/product/가방/2",
     "is_member": True, "is_first_visit": False, "tags": ["vip"], "now": 1_790_000_000,
     "coupons": {"LOYAL15": 1_790_000_100, "X": 1_790_050_000}},
    {"visit_count": 12, "purchase_total": 300_000, "traffic_source": "naver_ads",
     "member_grade": "vip", "session_pageviews": 12, "days_since_last_visit": 7,
     "params": {"utm_source": "naver"}, "event_props": {"q": "큰 가방"}, "is_member": False},
    {"visit_count": 25.0, "purchase_total": 1e6, "cart_total": 10_000, "cart_items": ["P2"],
     "page_path": "/cart", "is_member": True, "session_seconds": 59.5},
]
HAND_RULESET = rules.load(HAND_WRITTEN)
HAND_CODEGEN = CodegenEvaluator(HAND_RULESET)


def test_agrees_on_a_hand_written_file() -> None:
    ruleset, codegen = HAND_RULESET, HAND_CODEGEN
    for profile in HAND_PROFILES:
        for trigger in ("pageview", "cart", "purchase"):
            assert codegen.match(profile, trigger) == rules.evaluate(ruleset, profile, trigger)
    assert codegen.match(HAND_PROFILES[0]) == ["always"]
    # Only the parts the generated workload never has go through the reference:
    # both coupon_expires_within, param() and event_prop().
    assert len(set(re.findall(r"_pv\(_P\[\d+\], p\)", codegen.source))) == 4


@settings(max_examples=300, deadline=None)
@given(strategies.profiles())
def test_agrees_on_the_hand_written_file_for_any_profile(profile: dict[str, Any]) -> None:
    for trigger in ("pageview", "cart", "purchase"):
        assert HAND_CODEGEN.match(profile, trigger) == rules.evaluate(HAND_RULESET, profile,
                                                                      trigger)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compiled.rulesets(), compiled.profiles(hostile=True), compiled.profiles())
def test_agrees_on_any_ruleset_even_with_wrong_types(
        ruleset: Ruleset, hostile: dict[str, Any], profile: dict[str, Any]) -> None:
    codegen = CodegenEvaluator(ruleset)
    for sample in (profile, hostile):
        for trigger in ("pageview", "cart", "track", "purchase"):
            assert outcome(codegen.match, sample, trigger) == outcome(
                rules.evaluate, ruleset, sample, trigger)


def test_wrong_types_raise_the_reference_errors() -> None:
    ruleset = rules.load("site: s\nrules:\n  - {id: a, if: 'visit_count > 1 and is_member and "
                         "in_cart(\"P1\") and has_coupon(\"C\")', do: {widget: push_note, "
                         "title: t}}\n")
    codegen = CodegenEvaluator(ruleset)
    for bad in ({"visit_count": "2"}, {"visit_count": True}, {"visit_count": float("nan")},
                {"visit_count": 10**400}, {"visit_count": 2, "is_member": "yes"},
                {"cart_items": "P1"}, {"cart_items": ["P1", 2]}, {"coupons": {"C": "soon"}},
                {"coupons": {"C": float("inf")}}, {"now": float("-inf")}):
        assert outcome(codegen.match, bad) == outcome(rules.evaluate, ruleset, bad)
        assert outcome(codegen.match, bad)[0] == "ProfileError"
    assert outcome(codegen.match, {}, "click") == ("UnknownTriggerError", "click")
    # Unusual but valid values take the slow path and still match.
    odd = {"visit_count": 2**60 + 1, "is_member": True, "cart_items": ("P1",),
           "coupons": {"C": 2**60}, "now": 1_790_000_000}
    assert codegen.match(odd) == rules.evaluate(ruleset, odd) == ["a"]
    # Numbers compare as doubles: 2**60 - 1 and 2**60 are the same double, so the
    # coupon does not expire after `now` (as ints it would).
    doubles = {**odd, "now": 2**60 - 1}
    assert codegen.match(doubles) == rules.evaluate(ruleset, doubles) == []


def test_deeply_nested_rules_run_the_reference_program() -> None:
    program = (0, *[Code.NOT] * (2 * MAX_DEPTH + 1))  # not not ... not (visit_count > 1)
    rule = Rule(id="deep", index=0, line=1, priority=0, triggers=("pageview",),
                program=program, action=Action("push_note", {"title": ("t",)}, Arming()),
                frequency=None)
    ruleset = Ruleset("s", None, (Predicate("visit_count", Op.GT, 1),), (rule,))
    codegen = CodegenEvaluator(ruleset)
    assert "_rule(0, p)" in codegen.source
    assert codegen.match({"visit_count": 2}) == rules.evaluate(ruleset, {"visit_count": 2}) == []
    assert codegen.match({}) == rules.evaluate(ruleset, {}) == ["deep"]
