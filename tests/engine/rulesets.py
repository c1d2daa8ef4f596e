"""Hypothesis strategies for compiled Rulesets built directly from the
dataclasses (every operator, nested programs) and for hostile profiles."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from rules.ruleset import (
    TRIGGERS,
    Action,
    Arming,
    Code,
    Frequency,
    Op,
    Predicate,
    Rule,
    Ruleset,
)

NOW = 1_790_000_000
NUMBERS = ("visit_count", "cart_total", "purchase_total", "session_seconds", "now")
BOOLS = ("is_member", "is_first_visit")
STRINGS = ("traffic_source", "page_path", "member_grade", "category")
SETS = ("tags", "cart_items")
WORDS = ("", "a", "ab", "/product/1", "/product/가방", "naver_ads", "vip", "단골", "*", "/p?")
GLOBS = ("*", "/product/*", "/product/?", "*가방*", "/", "a*b", "")
CODES = ("A", "B", "첫구매")

constant_numbers = st.one_of(
    st.integers(-5, 20), st.sampled_from([0, 30_000, 2**53 - 1, -(2**53) + 1]),
    st.floats(-1e15, 1e15, allow_nan=False).map(
        lambda f: int(f) if f.is_integer() and abs(f) < 2**53 else f))


@st.composite
def predicates(draw: st.DrawFn) -> Predicate:
    family = draw(st.sampled_from(["num", "bool", "str", "set", "coupon", "param", "exists"]))
    if family == "num":
        attr = draw(st.sampled_from(NUMBERS))
        op = draw(st.sampled_from([Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE, Op.BETWEEN, Op.IN,
                                   Op.NOT_IN]))
        if op is Op.BETWEEN:
            a, b = sorted([draw(constant_numbers), draw(constant_numbers)])
            return Predicate(attr, op, [a, b])
        if op in (Op.IN, Op.NOT_IN):
            return Predicate(attr, op, sorted(set(draw(st.lists(constant_numbers, min_size=1,
                                                                 max_size=4)))))
        return Predicate(attr, op, draw(constant_numbers))
    if family == "bool":
        attr = draw(st.sampled_from(BOOLS))
        op = draw(st.sampled_from([Op.IS_TRUE, Op.EQ, Op.NE]))
        return Predicate(attr, op, None if op is Op.IS_TRUE else draw(st.booleans()))
    if family == "str":
        attr = draw(st.sampled_from(STRINGS))
        op = draw(st.sampled_from([Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.CONTAINS, Op.MATCHES,
                                   Op.STARTS_WITH]))
        if op in (Op.IN, Op.NOT_IN):
            return Predicate(attr, op, sorted(set(draw(st.lists(st.sampled_from(WORDS),
                                                                 min_size=1, max_size=4)))))
        if op is Op.MATCHES:
            return Predicate(attr, op, draw(st.sampled_from(GLOBS)))
        return Predicate(attr, op, draw(st.sampled_from(WORDS)))
    if family == "set":
        return Predicate(draw(st.sampled_from(SETS)), Op.CONTAINS, draw(st.sampled_from(WORDS)))
    if family == "coupon":
        if draw(st.booleans()):
            return Predicate("coupons", Op.HAS_COUPON, draw(st.sampled_from(CODES)))
        code = draw(st.one_of(st.none(), st.sampled_from(CODES)))
        return Predicate("coupons", Op.EXPIRES_WITHIN, [code, draw(st.sampled_from([60, 86400,
                                                                                   259200]))])
    if family == "param":
        op = draw(st.sampled_from([Op.EQ, Op.NE, Op.CONTAINS, Op.MATCHES, Op.STARTS_WITH,
                                   Op.IN, Op.NOT_IN]))
        arg: Any = draw(st.sampled_from(WORDS))
        if op in (Op.IN, Op.NOT_IN):
            arg = sorted({arg, draw(st.sampled_from(WORDS))})
        return Predicate(draw(st.sampled_from(["params", "event_props"])), op, arg,
                         draw(st.sampled_from(["q", "utm_source"])))
    attr = draw(st.sampled_from(NUMBERS + BOOLS + STRINGS + SETS + ("coupons",)))
    return Predicate(attr, Op.EXISTS)


def _program(tree: Any) -> list[int]:
    if isinstance(tree, int):
        return [tree]
    if tree[0] == "not":
        return [*_program(tree[1]), Code.NOT]
    if tree[0] == "const":
        return [Code.TRUE if tree[1] else Code.FALSE]
    return [*_program(tree[1]), *_program(tree[2]), Code.AND if tree[0] == "and" else Code.OR]


def programs(n_predicates: int) -> st.SearchStrategy[list[int]]:
    leaves = st.one_of(st.integers(0, n_predicates - 1),
                       st.tuples(st.just("const"), st.booleans()))
    trees = st.recursive(leaves, lambda inner: st.one_of(
        st.tuples(st.sampled_from(["and", "and", "or"]), inner, inner),
        st.tuples(st.just("not"), inner)), max_leaves=6)
    return trees.map(_program)


@st.composite
def rulesets(draw: st.DrawFn, max_rules: int = 12) -> Ruleset:
    preds = draw(st.lists(predicates(), min_size=1, max_size=16, unique_by=repr))
    n_rules = draw(st.integers(0, max_rules))
    rules = []
    for index in range(n_rules):
        triggers = tuple(t for t in TRIGGERS if t in draw(
            st.lists(st.sampled_from(TRIGGERS[:3]), min_size=1, max_size=3)))
        rules.append(Rule(
            id=f"r{index}", index=index, line=index + 1,
            priority=draw(st.integers(-2, 2)), triggers=triggers,
            program=tuple(draw(programs(len(preds)))),
            action=Action("push_note", {"title": ("t",)}, Arming()),
            frequency=Frequency(1, "session"), enabled=draw(st.booleans()) or index % 3 != 0))
    return Ruleset("test", "Asia/Seoul", tuple(preds), tuple(rules))


def _wrong() -> st.SearchStrategy[Any]:
    return st.sampled_from(["3", True, 1.5, None, float("inf"), 10**400, ["x"], {"a": 1}, 7])


@st.composite
def profiles(draw: st.DrawFn, hostile: bool = False) -> dict[str, Any]:
    values: dict[str, st.SearchStrategy[Any]] = {
        **{a: st.one_of(constant_numbers, st.integers(-(10**18), 10**18)) for a in NUMBERS},
        **{a: st.booleans() for a in BOOLS},
        **{a: st.one_of(st.sampled_from(WORDS), st.text(max_size=4)) for a in STRINGS},
        **{a: st.lists(st.sampled_from(WORDS), max_size=300) for a in SETS},
        "coupons": st.dictionaries(st.sampled_from(CODES),
                                   st.integers(NOW - 300_000, NOW + 300_000), max_size=3),
        "params": st.dictionaries(st.sampled_from(["q", "utm_source"]), st.sampled_from(WORDS),
                                  max_size=2),
        "event_props": st.dictionaries(st.sampled_from(["q", "utm_source"]),
                                       st.sampled_from(WORDS), max_size=2),
    }
    profile: dict[str, Any] = {}
    for name, strategy in values.items():
        if draw(st.integers(0, 4)) == 0:
            continue
        profile[name] = draw(strategy)
    if draw(st.booleans()):
        profile["now"] = NOW
    if hostile and draw(st.integers(0, 3)) == 0:
        profile[draw(st.sampled_from(sorted(values)))] = draw(_wrong())
    return profile
