"""Tokens of the condition language.

Numbers take ``_`` separators and Korean units (``30만`` = 300,000, ``5천``,
``1.5만``, ``3억``, ``3만5천``, a trailing ``원``); durations are a number with
``s m h d w`` (``30s``, ``10m``, ``3d``) and mean seconds.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from rules.errors import RulesError


class T(enum.Enum):
    NUMBER = "number"
    DURATION = "duration"
    STRING = "string"
    NAME = "name"
    KEYWORD = "keyword"
    OP = "operator"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACKET = "'['"
    RBRACKET = "']'"
    COMMA = "','"
    END = "end of expression"


KEYWORDS = frozenset(
    {"and", "or", "not", "in", "contains", "matches", "starts_with", "between", "true", "false"}
)

KOREAN_UNITS = {"천": 1_000, "만": 10_000, "억": 100_000_000}
DURATION_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}

_DIGITS = r"\d(?:[\d_]*\d)?(?:\.\d+)?"
_KOREAN = re.compile(rf"(?:{_DIGITS}[천만억])+(?:{_DIGITS})?원?|{_DIGITS}원")
_KOREAN_PART = re.compile(rf"({_DIGITS})([천만억]?)")
_DURATION = re.compile(rf"({_DIGITS})([smhdw])(?![\w가-힣])")
_NUMBER = re.compile(rf"{_DIGITS}(?![\w가-힣])")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = ("==", "!=", "<=", ">=", "<", ">")
_PUNCT = {"(": T.LPAREN, ")": T.RPAREN, "[": T.LBRACKET, "]": T.RBRACKET, ",": T.COMMA}
_BEFORE_NEGATIVE = frozenset({T.OP, T.KEYWORD, T.LPAREN, T.LBRACKET, T.COMMA})
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: T
    text: str
    start: int
    end: int
    value: object = None

    def describe(self) -> str:
        if self.kind is T.END:
            return "the end of the expression"
        return f"{self.text!r}"


class LexError(RulesError):
    def __init__(self, message: str, offset: int, hint: str = "") -> None:
        self.message, self.offset, self.hint = message, offset, hint
        super().__init__(message)


def _number(text: str) -> int | float:
    value = float(text.replace("_", ""))
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def korean_number(text: str) -> int | float:
    """``3만5천`` -> 35000; ``1.5만`` -> 15000; ``30,000원`` is not a literal."""
    total: float = 0
    for digits, unit in _KOREAN_PART.findall(text.rstrip("원")):
        total += float(digits.replace("_", "")) * KOREAN_UNITS.get(unit, 1)
    return int(total) if total.is_integer() else total


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t\r\n":
            i += 1
            continue
        negative = (char == "-" and text[i + 1 : i + 2].isdigit()
                    and (not tokens or tokens[-1].kind in _BEFORE_NEGATIVE))
        if negative:
            i += 1
            char = text[i]
        if char.isdigit():
            start = i - 1 if negative else i
            sign = -1 if negative else 1
            m = _KOREAN.match(text, i)
            if m:
                tokens.append(Token(T.NUMBER, text[start:m.end()], start, m.end(),
                                    sign * korean_number(m.group())))
                i = m.end()
                continue
            m = _DURATION.match(text, i)
            if m:
                if negative:
                    raise LexError("a duration cannot be negative", start)
                seconds = _number(m.group(1)) * DURATION_UNITS[m.group(2)]
                tokens.append(Token(T.DURATION, m.group(), i, m.end(), seconds))
                i = m.end()
                continue
            m = _NUMBER.match(text, i)
            if m:
                tokens.append(Token(T.NUMBER, text[start:m.end()], start, m.end(),
                                    sign * _number(m.group())))
                i = m.end()
                continue
            bad = re.match(r"[\w가-힣.]+", text[i:])
            word = bad.group() if bad else char
            raise LexError(f"invalid number {word!r}", start,
                           "numbers look like 300000, 300_000, 30만, 5천; durations like "
                           "30s, 10m, 3h, 3d, 2w")
        if char in "\"'":
            tokens.append(_string(text, i))
            i = tokens[-1].end
            continue
        m = _NAME.match(text, i)
        if m:
            word = m.group()
            kind = T.KEYWORD if word in KEYWORDS else T.NAME
            tokens.append(Token(kind, word, i, m.end()))
            i = m.end()
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op:
            tokens.append(Token(T.OP, op, i, i + len(op)))
            i += len(op)
            continue
        if char in _PUNCT:
            tokens.append(Token(_PUNCT[char], char, i, i + 1))
            i += 1
            continue
        hint = ""
        if char == "=":
            hint = "use == to compare"
        elif char in "&|":
            hint = "use the words 'and' / 'or'"
        elif char == "!":
            hint = "use 'not' or !="
        raise LexError(f"unexpected character {char!r}", i, hint)
    tokens.append(Token(T.END, "", n, n))
    return tokens


def _string(text: str, start: int) -> Token:
    quote = text[start]
    i = start + 1
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise LexError(f"unknown escape '\\{nxt}' in string", i,
                               "escapes are \\\\, \\\", \\', \\n, \\t")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        if char == quote:
            return Token(T.STRING, text[start : i + 1], start, i + 1, "".join(out))
        if char == "\n":
            break
        out.append(char)
        i += 1
    raise LexError("unterminated string", start, f"close the string with {quote}")
