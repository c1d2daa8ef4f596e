"""Warnings for rules that compile but probably do not do what the marketer
means: a rule that can never match, one that always matches, one shadowed by
a higher-priority rule. Warnings never reject a file.

The analysis is over each rule's top-level conjunction (``a and b and …``):
numeric bounds per attribute are intersected (``visit_count < 1 and
visit_count > 5`` is empty; ``is_first_visit`` pins ``visit_count`` to 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rules.conditions import FALSE, TRUE, Cond
from rules.options import Report
from rules.ruleset import Op, Predicate, Rule, Ruleset
from rules.source import MappingNode

_Interval = tuple[float, bool, float, bool]  # low, low inclusive, high, high inclusive


def conjuncts(cond: Cond) -> list[Cond]:
    if cond[0] == "and":
        return conjuncts(cond[1]) + conjuncts(cond[2])
    return [cond]


def _bounds(pred: Predicate) -> tuple[str, _Interval] | None:
    inf = math.inf
    arg = pred.arg
    if pred.key is not None:
        return None
    if pred.op is Op.IS_TRUE and pred.attribute == "is_first_visit":
        return "visit_count", (1, True, 1, True)
    if not isinstance(arg, int | float) or isinstance(arg, bool):
        if pred.op is Op.BETWEEN and isinstance(arg, list):
            return pred.attribute, (arg[0], True, arg[1], True)
        return None
    table: dict[Op, _Interval] = {
        Op.LT: (-inf, False, arg, False), Op.LE: (-inf, False, arg, True),
        Op.GT: (arg, False, inf, False), Op.GE: (arg, True, inf, False),
        Op.EQ: (arg, True, arg, True),
    }
    return (pred.attribute, table[pred.op]) if pred.op in table else None


def _empty(i: _Interval) -> bool:
    low, low_in, high, high_in = i
    return low > high or (low == high and not (low_in and high_in))


def _intersect(a: _Interval, b: _Interval) -> _Interval:
    low, low_in = max((a[0], a[1]), (b[0], b[1]), key=lambda x: (x[0], not x[1]))
    high, high_in = min((a[2], a[3]), (b[2], b[3]), key=lambda x: (x[0], x[1]))
    return low, low_in, high, high_in


def never_matches(cond: Cond, predicates: tuple[Predicate, ...]) -> str | None:
    """Why a condition can never hold, or None."""
    if cond == FALSE:
        return "its condition is always false"
    ranges: dict[str, _Interval] = {}
    for part in conjuncts(cond):
        if part[0] != "pred":
            continue
        bound = _bounds(predicates[part[1]])
        if bound is None:
            continue
        attribute, interval = bound
        ranges[attribute] = _intersect(ranges.get(attribute, (-math.inf, False, math.inf,
                                                               False)), interval)
        if _empty(ranges[attribute]):
            return f"its conditions on {attribute} contradict each other"
    return None


def lint(ruleset: Ruleset, conditions: Mapping[str, Cond], explicit_if: set[str],
         nodes: Mapping[str, MappingNode], report: Report) -> None:
    by_id = {rule.id: rule for rule in ruleset.rules}
    for rule in ruleset.rules:
        cond = conditions[rule.id]
        why = never_matches(cond, ruleset.predicates)
        if why:
            report.warn(nodes[rule.id], f"rule '{rule.id}' can never match: {why}")
        elif cond == TRUE and rule.id in explicit_if:
            report.warn(nodes[rule.id], f"rule '{rule.id}' always matches: its condition is "
                        "always true", "leave `if` out to show to everyone on purpose")
    ordered = sorted(ruleset.rules, key=lambda r: (-r.priority, r.index))
    for position, rule in enumerate(ordered):
        if not rule.enabled:
            continue
        mine = set(conjuncts(conditions[rule.id]))
        for earlier in ordered[:position]:
            if _shadows(earlier, rule, set(conjuncts(conditions[earlier.id])), mine):
                report.warn(nodes[rule.id],
                            f"rule '{rule.id}' is shadowed by '{earlier.id}' (line {earlier.line})"
                            f": same widget, earlier or higher priority, weaker condition",
                            f"it shows only when '{earlier.id}' is capped or off schedule; "
                            "raise its priority or narrow "
                            f"'{by_id[earlier.id].id}'")
                break


def _shadows(earlier: Rule, later: Rule, earlier_parts: set[Cond], later_parts: set[Cond]) -> bool:
    return (earlier.enabled
            and earlier.action.widget == later.action.widget
            and bool(set(earlier.triggers) & set(later.triggers))
            and earlier.pages is None and earlier.schedule is None and earlier.holdout == 0
            and earlier_parts <= later_parts | {TRUE})
