"""The whole ruleset compiled into ONE generated Python function: the fastest
pure-Python evaluator we know how to write, as a benchmark competitor for the
Cython matcher (not product code).

``CodegenEvaluator(ruleset).match(profile, trigger="pageview")`` returns what
``rules.evaluate`` returns and raises what it raises (``ProfileError``,
``UnknownTriggerError``). ``.source`` is the generated text; for a file of two
rules it reads::

    def match(p, trigger='pageview'):
        if trigger != 'pageview' and trigger not in _TRIGGERS:
            raise _UnknownTrigger(trigger)
        g = p.get
        try:
            _x = g('visit_count')
            if _x is None:
                a_visit_count = _NAN
            elif type(_x) is int:
                a_visit_count = float(_x)
            ...
        except OverflowError:
            _check(p)
            raise
        _out = []
        _add = _out.append
        if trigger == 'pageview':
            if a_page_type == 'product' and a_visit_count >= 3.0:
                _add('r0')
            if a_is_member is True:
                _add('r1')
        return _out

How it stays equal to the reference:

- Every attribute the ruleset reads is read once, in catalogue order, into a
  local, with a fast type test (``type(x) is int``, ...) and, for anything
  else, a call to the reference's own ``check_profile``: it raises the same
  ``ProfileError`` for the first bad attribute, or returns for an unusual but
  valid value (a tuple for a string set, an int subclass), which then goes on.
- Numbers are held as the float the reference compares (``float(value)``), and
  a missing number as NaN: every comparison with NaN is false, like every test
  of a missing value, so ``==``, ``<``, ``between`` and ``in`` need no
  ``is None`` test; ``!=`` and ``not in`` test ``x == x`` (present) first.
  Numeric constants are written as floats when that is exact, ints otherwise.
  A missing string stays None (``None == "x"`` is false), a bool stays
  None/True/False and is tested with ``is``.
- Coupon expiries are compared as they are when exact as a double (ints within
  2**53, finite floats); a map holding anything else is checked by the
  reference and copied to floats.
- Globs use the cheapest equal test (``rules.glob.glob_shape``: equality,
  ``startswith``, ``endswith``, substring) or the compiled regex.
- Each rule's condition is one inline expression: the postfix program rebuilt
  as a tree, chains of ``and``/``or`` flattened, and (``reorder=True``) the
  items of each chain ordered by a static guess of cost and selectivity from
  the catalogue (the same kind of guess the Cython index makes). Reordering
  cannot change a result: after the type checks no predicate raises or has an
  effect, and each is evaluated at most as often as written.

Fallbacks, for what the generated workload (bench/workload.py) never produces:
query-parameter / event-property reads (``param("q") == "x"``),
``coupon_expires_within``, and any operator on an attribute kind the compiler
does not emit are one call of the reference's ``predicate_value`` for that
predicate; a rule whose program does not rebuild (malformed) or nests deeper
than ``MAX_DEPTH`` groups runs the reference's ``run_program``. So the evaluator
is correct for any ruleset, only slower on those parts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from rules.catalogue import CATALOGUE, Kind, Unit
from rules.errors import UnknownTriggerError
from rules.evaluate import check_profile, predicate_value, run_program
from rules.glob import compile_glob, glob_shape
from rules.ruleset import TRIGGERS, Code, Op, Predicate, Ruleset

MAX_DEPTH = 40
"""Groups nested deeper than this (alternating and/or/not) use the reference."""

EXACT = 2**53
"""Ints within this magnitude convert to a double exactly."""

Node = tuple[Any, ...]  # ("pred", i) | ("const", bool) | ("not", node) | ("and"|"or", [nodes])


class TooDeep(Exception):
    pass


def _number_literal(value: object) -> str | None:
    """A Python literal comparing with a float exactly as ``value`` does, or
    None when there is none (bools, non-finite floats, non-numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    try:
        as_float = float(value)
    except OverflowError:
        return repr(value)
    return repr(as_float) if as_float == value else repr(value)


def _set_literal(items: list[str]) -> str:
    return "{" + ", ".join(sorted(set(items))) + "}"


class _Writer:
    """Generates the source of ``match`` and the namespace it runs in."""

    def __init__(self, ruleset: Ruleset, reorder: bool) -> None:
        self.ruleset = ruleset
        self.reorder = reorder
        self.local = {name: f"a_{name}" for name in ruleset.attributes}
        self.namespace: dict[str, Any] = {
            "_NAN": math.nan,
            "_TRIGGERS": frozenset(TRIGGERS),
            "_UnknownTrigger": UnknownTriggerError,
            "_check": lambda profile: check_profile(ruleset, profile),
            "_join": "".join,
            "_pv": predicate_value,
            "_P": ruleset.predicates,
            "_rule": self._reference_rule,
        }
        self.predicates = [self._predicate(i, pred) for i, pred in enumerate(ruleset.predicates)]

    # -- one-time reads -------------------------------------------------------------

    def hoist(self, name: str) -> list[str]:
        """Statements reading attribute ``name`` into its local, type-checked."""
        v, kind, quoted = self.local[name], CATALOGUE[name].kind, repr(name)
        if kind is Kind.NUMBER:
            return [f"_x = g({quoted})",
                    "if _x is None:", f"    {v} = _NAN",
                    "elif type(_x) is int:", f"    {v} = float(_x)",
                    "elif type(_x) is float and not _x - _x:", f"    {v} = _x",
                    "else:", "    _check(p)", f"    {v} = float(_x)"]
        lines = [f"{v} = g({quoted})"]
        if kind is Kind.STRING:
            return [*lines, f"if {v} is not None and type({v}) is not str:", "    _check(p)"]
        if kind is Kind.BOOL:
            return [*lines, f"if {v} is not True and {v} is not False and {v} is not None:",
                    "    _check(p)"]
        if kind is Kind.COUPONS:
            exact = f"-{EXACT} <= _e <= {EXACT}"
            copy = f"{v} = {{_k: float(_e) for _k, _e in {v}.items()}}"
            return [*lines, f"if {v} is not None:",
                    f"    if type({v}) is dict:",
                    f"        for _k, _e in {v}.items():",
                    "            if type(_k) is not str or not (type(_e) is int and "
                    f"{exact} or type(_e) is float and not _e - _e):",
                    "                _check(p)",
                    f"                {copy}",
                    "                break",
                    "    else:", "        _check(p)", f"        {copy}"]
        joins = f"_join({v})" if kind is Kind.STRING_SET else f"_join({v}); _join({v}.values())"
        container = "list" if kind is Kind.STRING_SET else "dict"
        return [*lines, f"if {v} is not None:",
                f"    if type({v}) is {container}:",
                "        try:", f"            {joins}",
                "        except TypeError:", "            _check(p)",
                "    else:", "        _check(p)"]

    # -- predicates -----------------------------------------------------------------

    def _predicate(self, i: int, pred: Predicate) -> tuple[str, float, float]:
        """(expression, guessed share of profiles where it holds, relative cost)."""
        inline = None if pred.key is not None or pred.attribute not in self.local else (
            self._inline(i, pred))
        if inline is None:
            return f"_pv(_P[{i}], p)", 0.5, 20.0
        return inline

    def _inline(self, i: int, pred: Predicate) -> tuple[str, float, float] | None:
        attribute = CATALOGUE[pred.attribute]
        v, kind, op, arg = self.local[pred.attribute], attribute.kind, pred.op, pred.arg
        present = f"{v} == {v}" if kind is Kind.NUMBER else f"{v} is not None"
        if op is Op.EXISTS:
            return present, 0.9, 1.0
        if kind is Kind.NUMBER:
            return self._number(v, op, arg, attribute.unit)
        if kind is Kind.BOOL and op in (Op.IS_TRUE, Op.EQ, Op.NE):
            if op is not Op.IS_TRUE and not isinstance(arg, bool):
                return None
            want = True if op is Op.IS_TRUE else arg if op is Op.EQ else not arg
            return f"{v} is {want}", 0.5, 1.0
        if not isinstance(arg, str | list):
            return None
        if kind is Kind.STRING_SET and op is Op.CONTAINS and isinstance(arg, str):
            return f"({present} and {arg!r} in {v})", 0.1, 2.0
        if kind is Kind.COUPONS and op is Op.HAS_COUPON and isinstance(arg, str):
            return (f"({present} and (_e := {v}.get({arg!r})) is not None and _e > a_now)",
                    0.1, 3.0)
        if kind is not Kind.STRING:
            return None
        share = 1 / len(attribute.values) if attribute.values else 0.05
        if isinstance(arg, list):
            if not all(isinstance(a, str) for a in arg) or op not in (Op.IN, Op.NOT_IN):
                return None
            if not arg:
                return ("False", 0.0, 0.0) if op is Op.IN else (present, 0.9, 1.0)
            values = _set_literal([repr(a) for a in arg])
            if op is Op.IN:
                return f"{v} in {values}", min(1.0, share * len(arg)), 1.2
            return f"({present} and {v} not in {values})", 0.9, 1.5
        if op is Op.EQ:
            return f"{v} == {arg!r}", share, 1.0
        if op is Op.NE:
            return f"({present} and {v} != {arg!r})", 0.9, 1.5
        if op is Op.CONTAINS:
            return f"({present} and {arg!r} in {v})", 0.1, 2.0
        if op is Op.STARTS_WITH:
            return f"({present} and {v}.startswith({arg!r}))", 0.1, 3.0
        if op is not Op.MATCHES:
            return None
        shape, literal = glob_shape(arg)
        if shape == "equal":
            return f"{v} == {literal!r}", share, 1.0
        if shape == "infix":
            return f"({present} and {literal!r} in {v})", 0.1, 2.0
        if shape in ("prefix", "suffix"):
            method = "startswith" if shape == "prefix" else "endswith"
            return f"({present} and {v}.{method}({literal!r}))", 0.1, 3.0
        self.namespace[f"_glob{i}"] = compile_glob(arg).fullmatch
        return f"({present} and _glob{i}({v}) is not None)", 0.1, 6.0

    @staticmethod
    def _number(v: str, op: Op, arg: Any, unit: Unit) -> tuple[str, float, float] | None:
        if op in (Op.IN, Op.NOT_IN) and isinstance(arg, list):
            literals = [_number_literal(a) for a in arg]
            if None in literals:
                return None
            if not literals:
                return ("False", 0.0, 0.0) if op is Op.IN else (f"{v} == {v}", 0.9, 1.0)
            values = _set_literal([lit for lit in literals if lit is not None])
            if op is Op.IN:
                return f"{v} in {values}", min(1.0, 0.05 * len(arg)), 1.2
            return f"({v} == {v} and {v} not in {values})", 0.9, 1.5
        if op is Op.BETWEEN and isinstance(arg, list) and len(arg) == 2:
            low, high = _number_literal(arg[0]), _number_literal(arg[1])
            if low is None or high is None:
                return None
            return f"{low} <= {v} <= {high}", 0.3, 1.2
        literal = _number_literal(arg)
        if literal is None:
            return None
        if op is Op.NE:
            return f"({v} == {v} and {v} != {literal})", 0.9, 1.5
        symbol = {Op.EQ: "==", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">="}.get(op)
        if symbol is None:
            return None
        if op in (Op.GT, Op.GE):
            scale = 10_000.0 if unit is Unit.KRW else 1.0
            share = min(0.9, scale / max(float(arg), 0.5))
        else:
            share = 0.05 if op is Op.EQ else 0.6
        return f"{v} {symbol} {literal}", share, 1.0

    # -- rules ------------------------------------------------------------------------

    @staticmethod
    def tree(program: tuple[int, ...]) -> Node:
        """The postfix program as a tree, same-operator chains flattened."""
        stack: list[Node] = []
        for code in program:
            if code >= 0:
                stack.append(("pred", code))
            elif code in (Code.AND, Code.OR):
                b, a = stack.pop(), stack.pop()
                op = "and" if code == Code.AND else "or"
                items = a[1] if a[0] == op else [a]
                items.extend(b[1] if b[0] == op else [b])
                stack.append((op, items))
            elif code == Code.NOT:
                stack.append(("not", stack.pop()))
            elif code in (Code.TRUE, Code.FALSE):
                stack.append(("const", code == Code.TRUE))
            else:
                raise ValueError(f"unknown opcode {code}")
        (root,) = stack
        return root

    def render(self, node: Node, depth: int = 0) -> tuple[str, float, float]:
        """(expression, guessed share true, cost) of a tree. A chain comes back
        bare (``a and b``); its parent puts it in parentheses."""
        if depth > MAX_DEPTH:
            raise TooDeep
        kind = node[0]
        if kind == "pred":
            return self.predicates[node[1]]
        if kind == "const":
            return repr(node[1]), float(node[1]), 0.0
        if kind == "not":
            text, share, cost = self.render(node[1], depth + 1)
            return f"not {_group(node[1], text)}", 1.0 - share, cost
        items = [(_group(item, text), share, cost) for item in node[1]
                 for text, share, cost in [self.render(item, depth + 1)]]
        conj = kind == "and"
        if self.reorder:
            # Cheapest way to a decision first: cost per chance of ending the chain.
            items.sort(key=lambda it: it[2] / max(1e-3, (1.0 - it[1]) if conj else it[1]))
        share, cost, reach = (1.0 if conj else 0.0), 0.0, 1.0
        for _, s, c in items:
            cost += reach * c
            reach *= s if conj else 1.0 - s
            share = share * s if conj else share + s - share * s
        return f" {kind} ".join(t for t, _, _ in items), share, cost

    def _reference_rule(self, index: int, profile: Mapping[str, Any]) -> bool:
        program = self.ruleset.rules[index].program
        truth = [False] * len(self.ruleset.predicates)
        for code in {c for c in program if c >= 0}:
            truth[code] = predicate_value(self.ruleset.predicates[code], profile)
        return run_program(program, truth)

    def condition(self, index: int) -> str | None:
        """The inline test of rule ``index`` (None: always true)."""
        try:
            text, _, _ = self.render(self.tree(self.ruleset.rules[index].program))
        except (TooDeep, ValueError, IndexError):
            return f"_rule({index}, p)"
        return None if text == "True" else text

    def source(self) -> str:
        lines = ["def match(p, trigger='pageview'):",
                 "    if trigger != 'pageview' and trigger not in _TRIGGERS:",
                 "        raise _UnknownTrigger(trigger)",
                 "    g = p.get"]
        if self.local:
            lines.append("    try:")
            for name in self.ruleset.attributes:
                lines += ["        " + line for line in self.hoist(name)]
            lines += ["    except OverflowError:", "        _check(p)", "        raise"]
        lines += ["    _out = []", "    _add = _out.append"]
        branch = "if"
        for trigger, order in self.ruleset.by_trigger.items():
            body = []
            for index in order:
                test = self.condition(index)
                add = f"_add({self.ruleset.rules[index].id!r})"
                if test is None:
                    body.append(f"        {add}")
                elif test != "False":
                    body += [f"        if {test}:", f"            {add}"]
            if body:
                lines += [f"    {branch} trigger == {trigger!r}:", *body]
                branch = "elif"
        lines.append("    return _out")
        return "\n".join(lines) + "\n"


def _group(node: Node, text: str) -> str:
    """``text`` as an operand of ``not``/``and``/``or``: a chain in parentheses
    (predicate expressions are already safe operands)."""
    return f"({text})" if node[0] in ("and", "or") else text


class CodegenEvaluator:
    """``match(profile, trigger="pageview") -> list[str]``, the reference's
    result, from one generated function per ruleset (see the module doc)."""

    def __init__(self, ruleset: Ruleset, reorder: bool = True) -> None:
        writer = _Writer(ruleset, reorder)
        self.ruleset = ruleset
        self.source = writer.source()
        namespace = writer.namespace
        exec(compile(self.source, f"<codegen {ruleset.site}>", "exec"), namespace)
        self.match: Callable[..., list[str]] = namespace["match"]
