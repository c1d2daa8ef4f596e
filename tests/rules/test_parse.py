"""The parser: precedence, positions, errors, and print/re-parse round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from rules.parse import ParseError, parse
from rules.tree import (
    And,
    Between,
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
from tests.rules.strategies import conditions


def test_and_binds_tighter_than_or() -> None:
    assert parse("a or b and c") == Or((Name("a"), And((Name("b"), Name("c")))))


def test_a_chain_is_one_node_and_parentheses_keep_a_group() -> None:
    assert parse("a or b or c") == Or((Name("a"), Name("b"), Name("c")))
    assert parse("a or (b or c)") == Or((Name("a"), Or((Name("b"), Name("c")))))
    assert parse("(a and b) and c") == And((And((Name("a"), Name("b"))), Name("c")))
    assert to_text(parse("a or (b or c) and d")) == "a or (b or c) and d"


def test_not_applies_to_the_whole_comparison() -> None:
    # DESIGN: `not member_grade == "vip"` is true for a non-member.
    assert parse('not member_grade == "vip"') == Not(
        Compare("==", Name("member_grade"), String("vip")))


def test_between_and_lists_and_calls() -> None:
    assert parse("cart_total between 2만 and 49_999") == Between(
        Name("cart_total"), Number(20000), Number(49999))
    assert parse('traffic_source not in ["naver_ads", "kakao_ads"]') == Compare(
        "not in", Name("traffic_source"), ListOf((String("naver_ads"), String("kakao_ads"))))
    assert parse('coupon_expires_within("X", 3d)') == Call(
        "coupon_expires_within", (String("X"), Number(259200, True)))


def test_nodes_remember_their_offsets() -> None:
    tree = parse("visit_count >= 2 and  is_member")
    assert isinstance(tree, And)
    assert (tree.items[1].start, tree.items[1].end) == (22, 31)
    assert (tree.start, tree.end) == (0, 31)


@pytest.mark.parametrize(("text", "message", "offset"), [
    ("visit_count >=", "expected an attribute, a value or '(', found the end of the expression",
     14),
    ("(a and b", "expected ')', found the end of the expression", 8),
    ("a b", "expected 'and', 'or' or the end of the condition, found 'b'", 2),
    ("a between 1 or 2", "expected 'and' in 'between … and …', found 'or'", 12),
    ("", "expected a condition, found nothing", 0),
    ("[1, 2", "expected ',' or ']', found the end of the expression", 5),
])
def test_errors_name_what_was_expected_and_where(text: str, message: str, offset: int) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert (info.value.message, info.value.offset) == (message, offset)


@pytest.mark.parametrize(("text", "offset"), [
    ("(" * 900 + "a" + ")" * 900, 32),
    ("not " * 1_000 + "a", 128),
    ("f(" * 1_000 + "a" + ")" * 1_000, 65),
    ("[" * 1_000 + "]" * 1_000, 32),
    ("(not [f(" * 100, 64),  # 4 levels each
])
def test_nesting_deeper_than_32_levels_is_an_error_at_the_33rd(text: str, offset: int) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.message == ("too deeply nested: expected at most 32 levels of "
                                  "parentheses, 'not', calls and lists")
    assert info.value.offset == offset
    assert info.value.hint


def test_32_levels_parse() -> None:
    assert parse("(" * 32 + "a" + ")" * 32) == Name("a")
    assert parse("(" * 16 + "a" + ")" * 16 + " and " + "not " * 32 + "b") == And(
        (Name("a"), parse("not " * 32 + "b")))


def test_a_chain_of_10000_terms_is_one_node_and_prints_back() -> None:
    text = " or ".join(f"visit_count == {n}" for n in range(10_000))
    tree = parse(text)
    assert isinstance(tree, Or) and len(tree.items) == 10_000
    assert to_text(tree) == text


@settings(max_examples=300)
@given(conditions())
def test_printing_then_parsing_gives_the_same_tree(tree: Expr) -> None:
    assert parse(to_text(tree)) == tree
