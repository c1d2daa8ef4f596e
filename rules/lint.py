"""Warnings for rules that compile but probably do not do what the marketer
means: a rule that can never match, one that always matches, one shadowed by
a higher-priority rule. Warnings never reject a file.

The analysis is over each rule's top-level conjunction (``a and b and …``,
through parenthesised groups and segments):
numeric bounds per attribute are intersected (``visit_count < 1 and
visit_count > 5`` is empty; ``is_first_visit`` pins ``visit_count`` to 1).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping

from rules.conditions import FALSE, TRUE, Cond
from rules.options import Report
from rules.ruleset import Op, Predicate, Rule, Ruleset
from rules.source import MappingNode

_Interval = tuple[float, bool, float, bool]  # low, low inclusive, high, high inclusive


def conjuncts(cond: Cond) -> list[Cond]:
    """The top-level conjuncts, in order: the items of an ``and``, and of each
    ``and`` among them (a parenthesised group, a segment), else the condition."""
    out: list[Cond] = []
    todo = [cond]
    while todo:
        part = todo.pop()
        if part[0] == "and":
            todo.extend(reversed(part[1:]))
        else:
            out.append(part)
    return out


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
    for rule, earlier in _shadowed(ordered, conditions):
        report.warn(nodes[rule.id],
                    f"rule '{rule.id}' is shadowed by '{earlier.id}' (line {earlier.line})"
                    f": same widget, earlier or higher priority, weaker condition",
                    f"it shows only when '{earlier.id}' is capped or off schedule; "
                    "raise its priority or narrow "
                    f"'{by_id[earlier.id].id}'")


def _shadowed(ordered: list[Rule], conditions: Mapping[str, Cond]) -> Iterator[tuple[Rule, Rule]]:
    """Each enabled rule shadowed by a rule before it in ``ordered``, with the first such.

    A rule that can shadow is filed under its widget and its rarest conjunct (TRUE
    if it has none): a rule it shadows has that conjunct too, so each rule is
    compared with the rules filed under its own conjuncts only, not with all before it.
    """
    parts = {rule.id: frozenset(conjuncts(conditions[rule.id])) | {TRUE} for rule in ordered}
    counts = Counter(part for rule in ordered for part in parts[rule.id])
    position = {rule.id: n for n, rule in enumerate(ordered)}
    filed: dict[tuple[str, Cond], list[Rule]] = {}
    for rule in ordered:
        widget, mine = rule.action.widget, parts[rule.id]
        if rule.enabled:
            firsts = (next((e for e in filed.get((widget, part), ())
                            if _shadows(e, rule, parts[e.id], mine)), None) for part in mine)
            first = min((e for e in firsts if e is not None), key=lambda e: position[e.id],
                        default=None)
            if first is not None:
                yield rule, first
        if _can_shadow(rule):
            key = min(mine - {TRUE}, key=counts.__getitem__, default=TRUE)
            filed.setdefault((widget, key), []).append(rule)


def _can_shadow(earlier: Rule) -> bool:
    return (earlier.enabled and earlier.pages is None and earlier.schedule is None
            and earlier.holdout == 0)


def _shadows(earlier: Rule, later: Rule, earlier_parts: frozenset[Cond],
             later_parts: frozenset[Cond]) -> bool:
    """Parts are a rule's conjuncts and TRUE."""
    return (_can_shadow(earlier)
            and earlier.action.widget == later.action.widget
            and bool(set(earlier.triggers) & set(later.triggers))
            and earlier_parts <= later_parts)
