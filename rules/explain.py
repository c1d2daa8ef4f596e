"""Why a rule matched or not: every rule with each of its predicates' values.

This is what ``ondo rules explain`` prints and what the admin API's explain
endpoint returns (the engine adds the delivery decision on top).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.catalogue import keyed_label
from rules.evaluate import check_profile, predicate_value, run_program
from rules.ruleset import Predicate, Ruleset


@dataclass(frozen=True, slots=True)
class PredicateValue:
    text: str
    value: bool
    actual: Any  # the profile value the predicate read (None when missing)


@dataclass(frozen=True, slots=True)
class RuleExplanation:
    rule: str
    line: int
    matched: bool
    reason: str  # "" when matched; otherwise why it is not a candidate
    predicates: tuple[PredicateValue, ...]

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "line": self.line, "matched": self.matched,
                "reason": self.reason,
                "predicates": [{"text": p.text, "value": p.value, "actual": p.actual}
                               for p in self.predicates]}


_OPS = {"EQ": "==", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">=", "IN": "in",
        "NOT_IN": "not in", "CONTAINS": "contains", "MATCHES": "matches",
        "STARTS_WITH": "starts_with"}


def describe(pred: Predicate) -> str:
    """A predicate as condition text."""
    subject = keyed_label(pred.attribute, pred.key)
    name = pred.op.name
    arg = pred.arg
    if name == "IS_TRUE":
        return subject
    if name == "EXISTS":
        return f"exists({subject})"
    if name == "HAS_COUPON":
        return f'has_coupon("{arg}")'
    if name == "EXPIRES_WITHIN":
        assert isinstance(arg, list)
        code = f'"{arg[0]}", ' if arg[0] is not None else ""
        return f"coupon_expires_within({code}{arg[1]}s)"
    if pred.attribute == "cart_items" and name == "CONTAINS":
        return f'in_cart("{arg}")'
    if name == "BETWEEN":
        assert isinstance(arg, list)
        return f"{subject} between {arg[0]} and {arg[1]}"
    import json

    return f"{subject} {_OPS[name]} {json.dumps(arg, ensure_ascii=False)}"


def _actual(pred: Predicate, profile: Mapping[str, Any]) -> Any:
    value = profile.get(pred.attribute)
    if pred.key is not None and isinstance(value, Mapping):
        return value.get(pred.key)
    if pred.attribute == "coupons" and isinstance(value, Mapping):
        return dict(value)
    return value


def explain(ruleset: Ruleset, profile: Mapping[str, Any],
            trigger: str = "pageview") -> list[RuleExplanation]:
    """Every rule of the file, in file order."""
    check_profile(ruleset, profile)
    truth = [predicate_value(p, profile) for p in ruleset.predicates]
    out = []
    for rule in ruleset.rules:
        used = sorted({c for c in rule.program if c >= 0})
        values = tuple(PredicateValue(describe(ruleset.predicates[i]), truth[i],
                                      _actual(ruleset.predicates[i], profile)) for i in used)
        holds = run_program(rule.program, truth)
        reason = ""
        if not rule.enabled:
            reason = "disabled"
        elif trigger not in rule.triggers:
            reason = f"not triggered by {trigger} (on: {', '.join(rule.triggers)})"
        elif not holds:
            reason = "condition is false"
        out.append(RuleExplanation(rule.id, rule.line, holds and not reason, reason, values))
    return out
