"""Hypothesis strategies for well-typed conditions and matching profiles."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

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
)

NUMBER_ATTRS = ("visit_count", "cart_total", "session_pageviews", "purchase_total",
                "days_since_last_visit", "session_seconds")
SOURCES = ("direct", "organic", "naver_ads", "google_ads", "kakao_ads")
PATHS = ("/", "/product/1", "/product/가방/2", "/cart", "/category/shoes")
CODES = ("LOYAL15", "첫구매", "X")
PRODUCTS = ("P1", "P2", "상품3")
NOW = 1_790_000_000

numbers = st.one_of(st.integers(-3, 12), st.sampled_from([0, 30_000, 300_000, 10**12]))


def _num(value: int) -> Number:
    return Number(value)


number_compare = st.builds(
    lambda attr, op, v: Compare(op, Name(attr), _num(v)),
    st.sampled_from(NUMBER_ATTRS), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), numbers)
flipped_compare = st.builds(
    lambda attr, op, v: Compare(op, _num(v), Name(attr)),
    st.sampled_from(NUMBER_ATTRS), st.sampled_from(["<", ">="]), numbers)
between = st.builds(
    lambda attr, a, b: Between(Name(attr), _num(min(a, b)), _num(max(a, b))),
    st.sampled_from(NUMBER_ATTRS), numbers, numbers)
number_in = st.builds(
    lambda attr, op, vs: Compare(op, Name(attr), ListOf(tuple(_num(v) for v in vs))),
    st.sampled_from(NUMBER_ATTRS), st.sampled_from(["in", "not in"]),
    st.lists(numbers, min_size=1, max_size=3))
source_compare = st.builds(
    lambda op, v: Compare(op, Name("traffic_source"), String(v)),
    st.sampled_from(["==", "!="]), st.sampled_from(SOURCES))
source_in = st.builds(
    lambda op, vs: Compare(op, Name("traffic_source"), ListOf(tuple(String(v) for v in vs))),
    st.sampled_from(["in", "not in"]), st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3))
path_test = st.builds(
    lambda op, v: Compare(op, Name("page_path"), String(v)),
    st.sampled_from(["matches", "starts_with", "contains", "=="]),
    st.sampled_from(["/product/*", "/product/", "*", "/cart", "/?*/*", "가방", "/"]))
tags_contains = st.builds(lambda v: Compare("contains", Name("tags"), String(v)),
                          st.sampled_from(["vip", "신규"]))
bools = st.builds(Name, st.sampled_from(["is_member", "is_first_visit"]))
coupon = st.one_of(
    st.builds(lambda c: Call("has_coupon", (String(c),)), st.sampled_from(CODES)),
    st.builds(lambda d: Call("coupon_expires_within", (Number(d, True),)),
              st.sampled_from([3600, 86_400, 259_200])),
    st.builds(lambda c, d: Call("coupon_expires_within", (String(c), Number(d, True))),
              st.sampled_from(CODES), st.sampled_from([3600, 259_200])),
)
in_cart = st.builds(lambda p: Call("in_cart", (String(p),)), st.sampled_from(PRODUCTS))
exists = st.builds(lambda a: Call("exists", (Name(a),)),
                   st.sampled_from(["member_grade", "days_since_last_visit", "utm_source"]))
param = st.builds(lambda f, k, op, v: Compare(op, Call(f, (String(k),)), String(v)),
                  st.sampled_from(["param", "event_prop"]), st.sampled_from(["utm_source", "q"]),
                  st.sampled_from(["==", "!=", "contains"]), st.sampled_from(["naver", "가방", ""]))
constants = st.builds(Bool, st.booleans())

atoms = st.one_of(number_compare, flipped_compare, between, number_in, source_compare, source_in,
                  path_test, tags_contains, bools, coupon, in_cart, exists, param, constants)


def _chain(node: type[And] | type[Or], inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    # An item may be a chain of the same operator: a group the printer must keep.
    return st.builds(lambda items: node(tuple(items)), st.lists(inner, min_size=2, max_size=4))


def conditions(max_leaves: int = 12) -> st.SearchStrategy[Expr]:
    return st.recursive(
        atoms,
        lambda inner: st.one_of(_chain(And, inner), _chain(Or, inner), st.builds(Not, inner)),
        max_leaves=max_leaves)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    candidates: dict[str, st.SearchStrategy[Any]] = {
        **{a: st.one_of(numbers, st.floats(-1e6, 1e6, allow_nan=False)) for a in NUMBER_ATTRS},
        "traffic_source": st.sampled_from(SOURCES),
        "page_path": st.sampled_from(PATHS),
        "tags": st.lists(st.sampled_from(["vip", "신규", "x"]), max_size=3),
        "is_member": st.booleans(),
        "is_first_visit": st.booleans(),
        "member_grade": st.sampled_from(["vip", "gold"]),
        "utm_source": st.sampled_from(["naver", "google"]),
        "coupons": st.dictionaries(st.sampled_from(CODES),
                                   st.integers(NOW - 100_000, NOW + 400_000), max_size=3),
        "cart_items": st.lists(st.sampled_from(PRODUCTS), max_size=3),
        "params": st.dictionaries(st.sampled_from(["utm_source", "q"]),
                                  st.sampled_from(["naver", "가방", "", "x"]), max_size=2),
        "event_props": st.dictionaries(st.sampled_from(["utm_source", "q"]),
                                       st.sampled_from(["naver", "가방", "", "x"]), max_size=2),
        "now": st.just(NOW),
    }
    profile = {}
    for name, strategy in candidates.items():
        value = draw(_maybe(strategy))
        if value is not None:
            profile[name] = value
    return profile
