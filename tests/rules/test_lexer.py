from __future__ import annotations

import pytest

from rules.lexer import LexError, T, tokenize


def values(text: str) -> list[object]:
    return [t.value for t in tokenize(text) if t.kind in (T.NUMBER, T.DURATION, T.STRING)]


@pytest.mark.parametrize(("text", "value"), [
    ("300000", 300000), ("300_000", 300000), ("30만", 300000), ("5천", 5000),
    ("1.5만", 15000), ("3억", 300000000), ("3만5천", 35000), ("100원", 100),
    ("30만원", 300000), ("2.5", 2.5),
])
def test_numbers_with_korean_units(text: str, value: float) -> None:
    assert values(text) == [value]


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("10m", 600), ("2h", 7200), ("3d", 259200), ("2w", 1209600),
])
def test_durations_are_seconds(text: str, seconds: int) -> None:
    (token, _end) = tokenize(text)
    assert token.kind is T.DURATION
    assert token.value == seconds


def test_strings_take_both_quotes_and_escapes() -> None:
    assert values('"단골" \'a\\\'b\' "x\\ny"') == ["단골", "a'b", "x\ny"]


def test_keywords_and_operators() -> None:
    kinds = [t.kind for t in tokenize("a >= 1 and not b in [1, 2]")]
    assert kinds == [T.NAME, T.OP, T.NUMBER, T.KEYWORD, T.KEYWORD, T.NAME, T.KEYWORD,
                     T.LBRACKET, T.NUMBER, T.COMMA, T.NUMBER, T.RBRACKET, T.END]


@pytest.mark.parametrize(("text", "message", "offset"), [
    ('a == "open', "unterminated string", 5),
    ("a >= 10x", "invalid number '10x'", 5),
    ("a = 1", "unexpected character '='", 2),
    ("a && b", "unexpected character '&'", 2),
])
def test_lex_errors_say_where(text: str, message: str, offset: int) -> None:
    with pytest.raises(LexError) as info:
        tokenize(text)
    assert info.value.message == message
    assert info.value.offset == offset
