"""The syntax tree of a condition, and its printer.

Nodes carry ``start``/``end`` offsets into the expression text for error
positions; offsets do not take part in equality, so a printed and re-parsed
tree compares equal to the original. ``and``/``or`` chains are n-ary, so a
generated chain of 10,000 terms is one node, not a tree 10,000 deep; the
parser bounds every other kind of depth (``rules.limits.MAX_NESTING``), so
functions over a tree may recurse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Name:
    """An attribute or a segment; the compiler decides which."""

    name: str
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Number:
    value: int | float
    duration: bool = False  # written as 30s / 10m / 3d: the value is in seconds
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class String:
    value: str
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ListOf:
    items: tuple[Expr, ...]
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Expr, ...]
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Compare:
    """``left OP right`` with OP one of COMPARISONS."""

    op: str
    left: Expr
    right: Expr
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Between:
    subject: Expr
    low: Expr
    high: Expr
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """``a and b and c``: two or more items, flat however long the chain. An item
    is never an unparenthesised ``and``: ``a and (b and c)`` keeps its group."""

    items: tuple[Expr, ...]
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    """``a or b or c``: two or more items, as ``And``."""

    items: tuple[Expr, ...]
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


Expr: TypeAlias = (
    Name | Number | String | Bool | ListOf | Call | Compare | Between | And | Or | Not
)

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "matches",
               "starts_with")

# Binding strength, loosest first: or < and < not < comparison < operand.
_PREC = {Or: 1, And: 2, Not: 3, Compare: 4, Between: 4}


def _prec(node: Expr) -> int:
    return _PREC.get(type(node), 5)


def to_text(node: Expr) -> str:
    """Print a tree as condition text that parses back to the same tree."""
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Number):
        return _number_text(node)
    if isinstance(node, String):
        return json.dumps(node.value, ensure_ascii=False)
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    if isinstance(node, ListOf):
        return "[" + ", ".join(to_text(item) for item in node.items) + "]"
    if isinstance(node, Call):
        return f"{node.function}(" + ", ".join(to_text(a) for a in node.args) + ")"
    if isinstance(node, Compare):
        return f"{_wrap(node.left, 5)} {node.op} {_wrap(node.right, 5)}"
    if isinstance(node, Between):
        return (f"{_wrap(node.subject, 5)} between {_wrap(node.low, 5)} "
                f"and {_wrap(node.high, 5)}")
    if isinstance(node, And):  # an `and` or `or` item keeps its parentheses
        return " and ".join(_wrap(item, 3) for item in node.items)
    if isinstance(node, Or):
        return " or ".join(_wrap(item, 2) for item in node.items)
    return f"not {_wrap(node.operand, 3)}"


def _wrap(node: Expr, minimum: int) -> str:
    text = to_text(node)
    return f"({text})" if _prec(node) < minimum else text


def _number_text(node: Number) -> str:
    value = node.value
    if node.duration:
        for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
            if value % size == 0 and value >= size:
                return f"{int(value // size)}{unit}"
        return f"{_plain(value)}s"
    return _plain(value)


def _plain(value: int | float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return str(int(value))
