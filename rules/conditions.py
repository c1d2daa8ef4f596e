"""Type-check a condition tree against the catalogue and lower it to predicates.

``Lowering.lower(tree)`` returns a ``Cond`` (a small boolean IR over predicate
indices, with constants folded) and records ``ConditionError``s rather than
stopping at the first, so one run reports every mistake of a file. Segments
are inlined by name through the ``segments`` callback: the file compiler has
lowered them already (in dependency order, see ``rules.segments``), so lowering
one condition never lowers another.

``and``/``or`` are n-ary, as the parser builds them: a chain of any length is
one node. A parenthesised group or a segment stays one item of its chain and is
not copied into it, so a segment named many times is one shared tuple and
lowering takes time linear in the file's text (``rules.program`` writes each
use out in full).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from rules.catalogue import (
    CATALOGUE,
    KEYED_READERS,
    Attribute,
    Kind,
    Unit,
    keyed_label,
    readable_names,
)
from rules.ruleset import Constant, Op, Predicate
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

# The boolean IR: ("pred", i) | ("true",) | ("false",) | ("not", c)
#                 | ("and", c1, c2, ...) | ("or", c1, c2, ...)
# An "and" or "or" has two or more items, none of them a constant.
Cond: TypeAlias = tuple[Any, ...]
TRUE: Cond = ("true",)
FALSE: Cond = ("false",)

FUNCTIONS: dict[str, str] = {
    "has_coupon": "has_coupon(code)",
    "coupon_expires_within": "coupon_expires_within([code,] duration)",
    "in_cart": "in_cart(product_id)",
    "param": "param(name)",
    "event_prop": "event_prop(name)",
    "exists": "exists(attribute)",
}

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_ORDER_OPS = {"<": Op.LT, "<=": Op.LE, ">": Op.GT, ">=": Op.GE}
_SIMPLE_OPS = {"==": Op.EQ, "!=": Op.NE, **_ORDER_OPS, "in": Op.IN, "not in": Op.NOT_IN,
               "contains": Op.CONTAINS, "matches": Op.MATCHES, "starts_with": Op.STARTS_WITH}


@dataclass(frozen=True, slots=True)
class ConditionError:
    message: str
    start: int
    hint: str = ""


def did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def simplify(op: str, *args: Cond) -> Cond:
    """Build an IR node, folding constants."""
    if op == "not":
        (a,) = args
        if a == TRUE:
            return FALSE
        if a == FALSE:
            return TRUE
        if a[0] == "not":
            return a[1]  # type: ignore[no-any-return]
        return ("not", a)
    absorbing, neutral = (FALSE, TRUE) if op == "and" else (TRUE, FALSE)
    if absorbing in args:
        return absorbing
    items = [a for a in args if a != neutral]
    if not items:
        return neutral
    if len(items) == 1:
        return items[0]
    return (op, *items)


def _normalise_number(value: int | float) -> int | float:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


@dataclass
class PredicateTable:
    """Distinct predicates of a whole file, in order of first use."""

    predicates: list[Predicate] = field(default_factory=list)
    _index: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def add(self, predicate: Predicate) -> int:
        arg = predicate.arg
        key = (predicate.attribute, predicate.op, repr(arg), predicate.key)
        if key not in self._index:
            self._index[key] = len(self.predicates)
            self.predicates.append(predicate)
        return self._index[key]


class Lowering:
    def __init__(self, table: PredicateTable,
                 segments: Callable[[str, int], Cond | None],
                 segment_names: Collection[str]) -> None:
        self.table = table
        self.segments = segments
        self.segment_names = segment_names
        self.errors: list[ConditionError] = []

    def error(self, node: Expr, message: str, hint: str = "") -> Cond:
        self.errors.append(ConditionError(message, node.start, hint))
        return FALSE

    def pred(self, attribute: str, op: Op, arg: Constant = None, key: str | None = None) -> Cond:
        return ("pred", self.table.add(Predicate(attribute, op, arg, key)))

    # -- conditions ---------------------------------------------------------------

    def lower(self, node: Expr) -> Cond:
        if isinstance(node, And):
            return simplify("and", *map(self.lower, node.items))
        if isinstance(node, Or):
            return simplify("or", *map(self.lower, node.items))
        if isinstance(node, Not):
            return simplify("not", self.lower(node.operand))
        if isinstance(node, Bool):
            return TRUE if node.value else FALSE
        if isinstance(node, Name):
            return self.name_condition(node)
        if isinstance(node, Call):
            return self.call_condition(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Between):
            return self.between(node)
        return self.error(node, f"expected a condition, found the value {to_text(node)}",
                          "compare it with an attribute, e.g. visit_count >= 2")

    def name_condition(self, node: Name) -> Cond:
        if node.name in self.segment_names:
            cond = self.segments(node.name, node.start)
            return FALSE if cond is None else cond
        attr = self.attribute(node)
        if attr is None:
            return FALSE
        if attr.kind is Kind.BOOL:
            return self.pred(attr.name, Op.IS_TRUE)
        example = f"{attr.name} >= 1" if attr.kind is Kind.NUMBER else f"exists({attr.name})"
        return self.error(node, f"'{attr.name}' is a {attr.kind.value}, not a condition",
                          f"compare it, e.g. {example}")

    def attribute(self, node: Name) -> Attribute | None:
        attr = CATALOGUE.get(node.name)
        if attr is None or attr.internal:
            hint = did_you_mean(node.name, readable_names() + list(self.segment_names)
                                + list(FUNCTIONS))
            if attr is not None and attr.internal:
                hint = {"coupons": "use has_coupon(code) or coupon_expires_within(3d)",
                        "params": 'use param("name")',
                        "event_props": 'use event_prop("name")'}.get(attr.name, hint)
                self.errors.append(ConditionError(
                    f"'{node.name}' cannot be read directly", node.start, hint))
                return None
            self.errors.append(ConditionError(
                f"unknown attribute or segment '{node.name}'", node.start,
                hint or "see docs/attributes.md for the attributes rules can read"))
            return None
        return attr

    def call_condition(self, node: Call) -> Cond:
        name, args = node.function, node.args
        if name not in FUNCTIONS:
            return self.error(node, f"unknown function '{name}'",
                              did_you_mean(name, list(FUNCTIONS))
                              or "functions are " + ", ".join(FUNCTIONS.values()))
        if name in KEYED_READERS:
            return self.error(node, f"{name}(name) is a value, not a condition",
                              f'compare it, e.g. {name}("{_first_string(args) or "name"}") '
                              '== "value"')
        if name == "exists":
            if len(args) != 1 or not isinstance(args[0], Name):
                return self.arity(node)
            if args[0].name in self.segment_names:
                return self.error(args[0], "exists() takes an attribute, not a segment")
            attr = self.attribute(args[0])
            return FALSE if attr is None else self.pred(attr.name, Op.EXISTS)
        if name in ("has_coupon", "in_cart"):
            if len(args) != 1 or not isinstance(args[0], String):
                return self.arity(node)
            if name == "has_coupon":
                return self.pred("coupons", Op.HAS_COUPON, args[0].value)
            return self.pred("cart_items", Op.CONTAINS, args[0].value)
        # coupon_expires_within([code,] duration)
        code: str | None = None
        if len(args) == 2 and isinstance(args[0], String):
            code, rest = args[0].value, args[1]
        elif len(args) == 1:
            rest = args[0]
        else:
            return self.arity(node)
        if not isinstance(rest, Number) or not rest.duration:
            return self.error(rest, "expected a duration such as 3d or 12h",
                              "coupon_expires_within(3d) or coupon_expires_within(\"CODE\", 3d)")
        return self.pred("coupons", Op.EXPIRES_WITHIN, [code, _normalise_number(rest.value)])

    def arity(self, node: Call) -> Cond:
        return self.error(node, f"wrong arguments for {node.function}()",
                          f"write {FUNCTIONS[node.function]}")

    # -- comparisons --------------------------------------------------------------

    def subject(self, node: Expr) -> tuple[Attribute, str | None] | None:
        """The attribute (and param key) a comparison reads, or None if ``node``
        is not an attribute-like operand. Records an error for bad ones."""
        if isinstance(node, Name):
            if node.name in self.segment_names:
                self.errors.append(ConditionError(
                    f"'{node.name}' is a segment (a condition), it cannot be compared",
                    node.start, f"use it alone: {node.name} and ..."))
                return None
            attr = self.attribute(node)
            return None if attr is None else (attr, None)
        if isinstance(node, Call) and node.function in KEYED_READERS:
            if len(node.args) != 1 or not isinstance(node.args[0], String):
                self.arity(node)
                return None
            return CATALOGUE[KEYED_READERS[node.function]], node.args[0].value
        if isinstance(node, Call):
            self.errors.append(ConditionError(
                f"{node.function}() is a condition, it cannot be compared", node.start,
                f"use it alone: {node.function}(...) or not {node.function}(...)"))
            return None
        return None

    def compare(self, node: Compare) -> Cond:
        op = node.op
        left_is_value = isinstance(node.left, Number | String | Bool | ListOf)
        right_is_value = isinstance(node.right, Number | String | Bool | ListOf)
        if left_is_value and right_is_value:
            return self.error(node, "comparison of two constants",
                              "one side must be an attribute, e.g. visit_count >= 2")
        if left_is_value and op in _FLIP:
            node = Compare(_FLIP[op], node.right, node.left, node.start, node.end)
            op = node.op
        elif left_is_value:
            hint = ""
            if op == "in" and isinstance(node.left, String):
                hint = f'write {to_text(node.right)} contains {to_text(node.left)}'
            return self.error(node.left, f"expected an attribute on the left of '{op}'", hint)
        subject = self.subject(node.left)
        if subject is None:
            if not isinstance(node.left, Name | Call):
                return self.error(node.left, f"expected an attribute on the left of '{op}'")
            return FALSE
        attr, key = subject
        if not isinstance(node.right, Number | String | Bool | ListOf):
            return self.error(node.right, "expected a value (number, string, list, true/false)",
                              "attributes are compared with constants, not with each other")
        kind = Kind.STRING if key is not None else attr.kind
        return self.typed(node, attr, key, kind, op)

    def typed(self, node: Compare, attr: Attribute, key: str | None, kind: Kind,
              op: str) -> Cond:
        right = node.right
        label = keyed_label(attr.name, key)
        if op in ("in", "not in"):
            if not isinstance(right, ListOf):
                return self.error(right, f"expected a list after '{op}'",
                                  f'write {label} {op} ["a", "b"]')
            if kind not in (Kind.NUMBER, Kind.STRING):
                return self.error(node, f"'{op}' needs a number or string attribute; "
                                  f"'{label}' is a {kind.value}",
                                  f"use {label} contains \"...\"" if kind is Kind.STRING_SET
                                  else "")
            values = [self.constant(item, attr, kind) for item in right.items]
            if any(v is None for v in values):
                return FALSE
            arg = sorted(set(values), key=lambda v: (str(type(v)), v))
            return self.pred(attr.name, _SIMPLE_OPS[op], arg, key)
        if op == "contains":
            if kind not in (Kind.STRING, Kind.STRING_SET):
                return self.error(node, f"'contains' needs a string or a list attribute; "
                                  f"'{label}' is a {kind.value}")
            if not isinstance(right, String):
                return self.error(right, "expected a string after 'contains'")
            return self.pred(attr.name, Op.CONTAINS, right.value, key)
        if op in ("matches", "starts_with"):
            if kind is not Kind.STRING:
                return self.error(node, f"'{op}' needs a string attribute; '{label}' is a "
                                  f"{kind.value}")
            if not isinstance(right, String):
                return self.error(right, f"expected a string after '{op}'",
                                  f'e.g. {label} {op} "/product/*"')
            return self.pred(attr.name, _SIMPLE_OPS[op], right.value, key)
        if isinstance(right, ListOf):
            return self.error(right, f"a list cannot be compared with '{op}'",
                              f"write {label} in [...]" if op == "==" else "")
        if op in _ORDER_OPS and kind is not Kind.NUMBER:
            return self.error(node, f"'{op}' compares numbers; '{label}' is a {kind.value}")
        if kind in (Kind.STRING_SET,):
            return self.error(node, f"'{label}' is a list; use contains",
                              f'{label} contains "..."')
        value = self.constant(right, attr, kind)
        if value is None:
            return FALSE
        return self.pred(attr.name, _SIMPLE_OPS[op], value, key)

    def between(self, node: Between) -> Cond:
        subject = self.subject(node.subject)
        if subject is None:
            if not isinstance(node.subject, Name | Call):
                return self.error(node.subject, "expected an attribute before 'between'")
            return FALSE
        attr, key = subject
        if key is not None or attr.kind is not Kind.NUMBER:
            return self.error(node, "'between' compares numbers; "
                              f"'{keyed_label(attr.name, key)}' is not a number")
        low = self.constant(node.low, attr, Kind.NUMBER)
        high = self.constant(node.high, attr, Kind.NUMBER)
        if low is None or high is None:
            return FALSE
        assert isinstance(low, int | float) and isinstance(high, int | float)
        if low > high:
            return self.error(node.low, f"empty range: {low} is greater than {high}",
                              f"write between {high} and {low}")
        return self.pred(attr.name, Op.BETWEEN, [low, high])

    def constant(self, node: Expr, attr: Attribute, kind: Kind) -> Constant:
        """The constant a value node stands for, checked against the attribute."""
        name = attr.name
        if kind is Kind.NUMBER:
            if not isinstance(node, Number):
                self.errors.append(ConditionError(
                    f"'{name}' is a number, found {_describe(node)}", node.start,
                    "remove the quotes" if isinstance(node, String) else ""))
                return None
            if node.duration and attr.unit is not Unit.SECONDS:
                hint = ""
                if attr.unit is Unit.DAYS:
                    hint = f"{name} counts days: write {int(node.value // 86_400)}, not " \
                           f"{to_text(node)}"
                unit = attr.unit.value or "no unit"
                self.errors.append(ConditionError(
                    f"a duration cannot be compared with '{name}' ({unit})", node.start, hint))
                return None
            return _normalise_number(node.value)
        if kind is Kind.BOOL:
            if not isinstance(node, Bool):
                self.errors.append(ConditionError(
                    f"'{name}' is true or false, found {_describe(node)}", node.start,
                    f"use {name} or not {name}"))
                return None
            return node.value
        if not isinstance(node, String):
            self.errors.append(ConditionError(
                f"'{name}' is a string, found {_describe(node)}", node.start,
                f'put the value in quotes: "{to_text(node)}"' if isinstance(node, Number)
                else ""))
            return None
        if attr.values and node.value not in attr.values:
            hint = did_you_mean(node.value, list(attr.values))
            self.errors.append(ConditionError(
                f"{node.value!r} is not a value of '{name}'", node.start,
                hint.replace("'", '"') if hint else "one of: " + ", ".join(attr.values)))
            return None
        return node.value


def _describe(node: Expr) -> str:
    kinds = {Number: "a number", String: "a string", Bool: "true/false", ListOf: "a list"}
    what = kinds.get(type(node), "an expression")
    return f"{what} {to_text(node)}"


def _first_string(args: tuple[Expr, ...]) -> str | None:
    return next((a.value for a in args if isinstance(a, String)), None)
