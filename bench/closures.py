"""The fastest pure-Python evaluator we could write, as a benchmark reference
(not product code): each predicate becomes a closure, each rule a closure over
its program, evaluated with short-circuits and a per-event predicate cache."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from rules.glob import compile_glob
from rules.ruleset import Code, Op, Predicate, Ruleset

Test = Callable[[Mapping[str, Any]], bool]


def _predicate(p: Predicate) -> Test:
    name, arg, op = p.attribute, p.arg, p.op
    if p.key is not None:
        key = p.key
        inner = _predicate(Predicate("__v", op, arg))
        return lambda prof: inner({"__v": (prof.get(name) or {}).get(key)})
    if op is Op.EQ:
        return lambda prof: (v := prof.get(name)) is not None and v == arg
    if op is Op.NE:
        return lambda prof: (v := prof.get(name)) is not None and v != arg
    if op is Op.LT:
        return lambda prof: (v := prof.get(name)) is not None and v < arg
    if op is Op.LE:
        return lambda prof: (v := prof.get(name)) is not None and v <= arg
    if op is Op.GT:
        return lambda prof: (v := prof.get(name)) is not None and v > arg
    if op is Op.GE:
        return lambda prof: (v := prof.get(name)) is not None and v >= arg
    if op is Op.BETWEEN:
        low, high = cast(list[float], arg)
        return lambda prof: (v := prof.get(name)) is not None and low <= v <= high
    if op in (Op.IN, Op.NOT_IN):
        values = frozenset(cast(list[Any], arg))
        want = op is Op.IN
        return lambda prof: (v := prof.get(name)) is not None and (v in values) == want
    if op is Op.CONTAINS:
        return lambda prof: (v := prof.get(name)) is not None and arg in v
    if op is Op.MATCHES:
        fullmatch = compile_glob(str(arg)).fullmatch
        return lambda prof: (v := prof.get(name)) is not None and fullmatch(v) is not None
    if op is Op.STARTS_WITH:
        return lambda prof: (v := prof.get(name)) is not None and v.startswith(arg)
    if op is Op.IS_TRUE:
        return lambda prof: prof.get(name) is True
    if op is Op.EXISTS:
        return lambda prof: prof.get(name) is not None
    if op is Op.HAS_COUPON:
        def has_coupon(prof: Mapping[str, Any]) -> bool:
            coupons, now = prof.get("coupons"), prof.get("now")
            if not coupons or now is None:
                return False
            return bool(coupons.get(arg, now) > now)
        return has_coupon
    code, seconds = cast(list[Any], arg)

    def expires(prof: Mapping[str, Any]) -> bool:
        coupons, now = prof.get("coupons"), prof.get("now")
        if not coupons or now is None:
            return False
        expiries = coupons.values() if code is None else [coupons.get(code)]
        return any(e is not None and now < e <= now + seconds for e in expiries)
    return expires


def _and(a: Test, b: Test) -> Test:
    return lambda prof: a(prof) and b(prof)


def _or(a: Test, b: Test) -> Test:
    return lambda prof: a(prof) or b(prof)


def _not(a: Test) -> Test:
    return lambda prof: not a(prof)


def _constant(value: bool) -> Test:
    return lambda prof: value


def _rule(program: tuple[int, ...], preds: list[Test]) -> Test:
    stack: list[Test] = []
    for code in program:
        if code >= 0:
            stack.append(preds[code])
        elif code == Code.AND:
            b, a = stack.pop(), stack.pop()
            stack.append(_and(a, b))
        elif code == Code.OR:
            b, a = stack.pop(), stack.pop()
            stack.append(_or(a, b))
        elif code == Code.NOT:
            stack.append(_not(stack.pop()))
        else:
            stack.append(_constant(code == Code.TRUE))
    return stack[0]


class ClosureEvaluator:
    def __init__(self, ruleset: Ruleset) -> None:
        preds = [_predicate(p) for p in ruleset.predicates]
        self._by_trigger = {
            trigger: [(ruleset.rules[i].id, _rule(ruleset.rules[i].program, preds))
                      for i in order]
            for trigger, order in ruleset.by_trigger.items()}

    def match(self, profile: Mapping[str, Any], trigger: str = "pageview") -> list[str]:
        return [rule_id for rule_id, test in self._by_trigger[trigger] if test(profile)]
