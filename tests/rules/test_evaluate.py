"""The reference evaluator over the compiled form agrees with a direct
interpretation of the syntax tree, and follows DESIGN's missing-attribute rules."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from hypothesis import given, settings

import rules
from rules.errors import ProfileError, UnknownTriggerError
from rules.tree import (
    And,
    Between,
    Bool,
    Call,
    Compare,
    Expr,
    ListOf,
    Name,
    Not,
    Number,
    Or,
    String,
    to_text,
)
from tests.rules.strategies import conditions, profiles

FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def one_rule(condition: str, **options: str) -> rules.Ruleset:
    extra = "".join(f"\n    {k}: {v}" for k, v in options.items())
    return rules.load(f"""site: test
rules:
  - id: r
    if: {json.dumps(condition, ensure_ascii=False)}
    do: {{widget: bookmark_prompt, text: "hi"}}{extra}
""")


def constant(node: Expr) -> Any:
    if isinstance(node, ListOf):
        return [constant(i) for i in node.items]
    assert isinstance(node, Number | String | Bool)
    return node.value


def subject(node: Expr, profile: dict[str, Any]) -> Any:
    if isinstance(node, Call):  # param("k"), event_prop("k")
        mapping = {"param": "params", "event_prop": "event_props"}[node.function]
        return (profile.get(mapping) or {}).get(constant(node.args[0]))
    assert isinstance(node, Name)
    return profile.get(node.name)


def interpret(node: Expr, profile: dict[str, Any]) -> bool:
    """DESIGN's semantics, written directly over the tree."""
    if isinstance(node, Bool):
        return node.value
    if isinstance(node, And):
        return all(interpret(item, profile) for item in node.items)
    if isinstance(node, Or):
        return any(interpret(item, profile) for item in node.items)
    if isinstance(node, Not):
        return not interpret(node.operand, profile)
    if isinstance(node, Name):
        return profile.get(node.name) is True
    if isinstance(node, Between):
        value = subject(node.subject, profile)
        return value is not None and constant(node.low) <= value <= constant(node.high)
    if isinstance(node, Call):
        args = [constant(a) if not isinstance(a, Name) else a.name for a in node.args]
        coupons, now = profile.get("coupons"), profile.get("now")
        if node.function == "exists":
            return profile.get(args[0]) is not None
        if node.function == "in_cart":
            return args[0] in (profile.get("cart_items") or [])
        if coupons is None or now is None:
            return False
        if node.function == "has_coupon":
            return args[0] in coupons and coupons[args[0]] > now
        code, seconds = (None, args[0]) if len(args) == 1 else args
        return any(now < expiry <= now + seconds for c, expiry in coupons.items()
                   if code is None or c == code)
    assert isinstance(node, Compare)
    op, left, right = node.op, node.left, node.right
    if isinstance(left, Number):
        op, left, right = FLIP[op], right, left
    value, const = subject(left, profile), constant(right)
    if value is None:
        return False
    return {
        "==": lambda: value == const, "!=": lambda: value != const,
        "<": lambda: value < const, "<=": lambda: value <= const,
        ">": lambda: value > const, ">=": lambda: value >= const,
        "in": lambda: value in const, "not in": lambda: value not in const,
        "contains": lambda: const in value,
        "matches": lambda: fnmatch.fnmatchcase(value, const),
        "starts_with": lambda: value.startswith(const),
    }[op]()


@settings(max_examples=250, deadline=None)
@given(conditions(), profiles())
def test_evaluator_agrees_with_the_tree(tree: Expr, profile: dict[str, Any]) -> None:
    ruleset = one_rule(to_text(tree), frequency="always")
    assert (rules.evaluate(ruleset, profile) == ["r"]) == interpret(tree, profile)


@pytest.mark.parametrize(("condition", "expected"), [
    ('member_grade == "vip"', False),
    ('member_grade != "vip"', False),
    ('not member_grade == "vip"', True),
    ('member_grade not in ["vip"]', False),
    ("exists(member_grade)", False),
    ("not exists(member_grade)", True),
    ("days_since_last_visit < 3", False),
])
def test_a_missing_attribute_makes_every_comparison_false(condition: str, expected: bool) -> None:
    assert (rules.evaluate(one_rule(condition), {"visit_count": 1}) == ["r"]) is expected


def test_numbers_compare_as_numbers_whatever_their_python_type() -> None:
    ruleset = one_rule("cart_total >= 3만")
    assert rules.evaluate(ruleset, {"cart_total": 30000.0}) == ["r"]
    assert rules.evaluate(ruleset, {"cart_total": 29999}) == []


def test_a_wrongly_typed_value_is_a_profile_error_not_a_silent_false() -> None:
    ruleset = one_rule("visit_count >= 2 and is_member")
    with pytest.raises(ProfileError) as info:
        rules.evaluate(ruleset, {"visit_count": "3", "is_member": True})
    assert info.value.attribute == "visit_count"
    with pytest.raises(ProfileError):
        rules.evaluate(ruleset, {"visit_count": True})
    with pytest.raises(ProfileError):
        rules.evaluate(ruleset, {"visit_count": float("nan")})


def test_unknown_trigger_is_an_error() -> None:
    with pytest.raises(UnknownTriggerError):
        rules.evaluate(one_rule("is_member"), {}, "click")


def test_rules_come_back_by_priority_then_file_order_and_per_trigger() -> None:
    ruleset = rules.load("""site: test
rules:
  - {id: low, if: is_member, do: {widget: push_note, title: a}}
  - {id: high, if: is_member, priority: 5, do: {widget: push_note, title: b}}
  - {id: cart-only, on: cart, if: is_member, do: {widget: push_note, title: c}}
  - {id: off, enabled: false, if: is_member, do: {widget: push_note, title: d}}
  - {id: low-2, if: is_member, do: {widget: popcorn_button, text: e}}
""")
    assert rules.evaluate(ruleset, {"is_member": True}) == ["high", "low", "low-2"]
    assert rules.evaluate(ruleset, {"is_member": True}, "cart") == ["cart-only"]
