"""The reference evaluator: the readable specification of what a Ruleset means.

It is deliberately plain. The Cython matcher (``engine.matcher.compiled``) must return
exactly what this returns, and raise exactly what this raises, for every
ruleset and profile; the differential tests check that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rules.catalogue import CATALOGUE, Kind
from rules.errors import ProfileError, UnknownTriggerError
from rules.glob import glob_match
from rules.ruleset import Code, Op, Predicate, Ruleset

_MISSING = object()

_EXPECTED = {
    Kind.NUMBER: "a finite number",
    Kind.STRING: "a string",
    Kind.BOOL: "a boolean",
    Kind.STRING_SET: "a list of strings",
    Kind.COUPONS: "a mapping of coupon code to expiry time",
    Kind.PARAMS: "a mapping of parameter name to string",
}


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def check_value(attribute: str, value: object) -> None:
    """Raise ``ProfileError`` unless ``value`` fits the attribute's kind."""
    kind = CATALOGUE[attribute].kind
    ok: bool
    if kind is Kind.NUMBER:
        ok = _is_number(value)
    elif kind is Kind.STRING:
        ok = isinstance(value, str)
    elif kind is Kind.BOOL:
        ok = isinstance(value, bool)
    elif kind is Kind.STRING_SET:
        ok = isinstance(value, list | tuple | set | frozenset) and all(
            isinstance(v, str) for v in value)
    elif kind is Kind.COUPONS:
        ok = isinstance(value, Mapping) and all(
            isinstance(k, str) and _is_number(v) for k, v in value.items())
    else:
        ok = isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    if not ok:
        raise ProfileError(attribute, _EXPECTED[kind], value)


def check_profile(ruleset: Ruleset, profile: Mapping[str, Any]) -> None:
    """Type-check, in catalogue order, every attribute the ruleset reads."""
    for attribute in ruleset.attributes:
        value = profile.get(attribute)
        if value is not None:
            check_value(attribute, value)


def predicate_value(pred: Predicate, profile: Mapping[str, Any]) -> bool:
    """The truth value of one predicate for a (type-checked) profile."""
    value: Any = profile.get(pred.attribute)
    if value is not None and pred.key is not None:
        value = value.get(pred.key)
    if value is None:
        return False
    op, arg = pred.op, pred.arg
    if op is Op.EXISTS:
        return True
    if op is Op.IS_TRUE:
        return value is True
    if op in (Op.HAS_COUPON, Op.EXPIRES_WITHIN):
        now = profile.get("now")
        if now is None:
            return False
        now = float(now)
        if op is Op.HAS_COUPON:
            expiry = value.get(arg)
            return expiry is not None and float(expiry) > now
        assert isinstance(arg, list)
        code, seconds = arg
        expiries = value.values() if code is None else [value.get(code)]
        return any(e is not None and now < float(e) <= now + seconds for e in expiries)
    if isinstance(value, bool | str) or not isinstance(value, int | float):
        subject: Any = value
    else:
        subject = float(value)
    if op is Op.EQ:
        return bool(subject == arg)
    if op is Op.NE:
        return bool(subject != arg)
    if op is Op.LT:
        return bool(subject < arg)
    if op is Op.LE:
        return bool(subject <= arg)
    if op is Op.GT:
        return bool(subject > arg)
    if op is Op.GE:
        return bool(subject >= arg)
    if op is Op.BETWEEN:
        assert isinstance(arg, list)
        return bool(arg[0] <= subject <= arg[1])
    if op is Op.IN:
        assert isinstance(arg, list)
        return subject in arg
    if op is Op.NOT_IN:
        assert isinstance(arg, list)
        return subject not in arg
    if op is Op.CONTAINS:
        return arg in subject
    if op is Op.MATCHES:
        assert isinstance(arg, str)
        return glob_match(arg, subject)
    if op is Op.STARTS_WITH:
        assert isinstance(arg, str)
        return bool(subject.startswith(arg))
    raise AssertionError(f"unknown operator {op!r}")


def run_program(program: tuple[int, ...], truth: list[bool]) -> bool:
    stack: list[bool] = []
    for code in program:
        if code >= 0:
            stack.append(truth[code])
        elif code == Code.AND:
            b = stack.pop()
            stack.append(stack.pop() and b)
        elif code == Code.OR:
            b = stack.pop()
            stack.append(stack.pop() or b)
        elif code == Code.NOT:
            stack.append(not stack.pop())
        elif code == Code.TRUE:
            stack.append(True)
        elif code == Code.FALSE:
            stack.append(False)
        else:
            raise AssertionError(f"unknown opcode {code}")
    (result,) = stack
    return result


def evaluate(ruleset: Ruleset, profile: Mapping[str, Any], trigger: str = "pageview") -> list[str]:
    """Ids of the rules whose condition holds for ``profile`` on ``trigger``,
    highest priority first, then file order. Disabled rules never match.

    Raises ``ProfileError`` for a value of the wrong type (checked in catalogue
    order over the attributes the ruleset reads) and ``UnknownTriggerError``
    for a trigger the language does not know.
    """
    order = ruleset.by_trigger.get(trigger)
    if order is None:
        raise UnknownTriggerError(trigger)
    check_profile(ruleset, profile)
    truth = [predicate_value(p, profile) for p in ruleset.predicates]
    return [ruleset.rules[i].id for i in order if run_program(ruleset.rules[i].program, truth)]
