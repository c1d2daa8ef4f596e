"""Condition text -> syntax tree, by precedence climbing.

Grammar, loosest first::

    expr       := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | comparison
    comparison := operand [ OP operand | "in" operand | "not" "in" operand
                          | "contains" operand | "matches" operand
                          | "starts_with" operand | "between" operand "and" operand ]
    operand    := NUMBER | DURATION | STRING | "true" | "false" | list
                | NAME [ "(" [expr ("," expr)*] ")" ] | "(" expr ")"
    list       := "[" [operand ("," operand)*] [","] "]"

``not member_grade == "vip"`` is ``not (member_grade == "vip")``. A chain of
``or`` (or of ``and``) is one n-ary node. Parentheses, ``not``, calls and lists
nest at most ``MAX_NESTING`` levels, counted together: deeper is a ``ParseError``
at the token that goes over, long before Python's recursion limit.
"""

from __future__ import annotations

from rules.errors import RulesError
from rules.lexer import LexError, T, Token, tokenize
from rules.limits import MAX_NESTING
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


class ParseError(RulesError):
    """A condition does not parse; ``offset`` is where, in the condition text."""

    def __init__(self, message: str, offset: int, hint: str = "") -> None:
        self.message, self.offset, self.hint = message, offset, hint
        super().__init__(message)


_WORD_OPS = ("in", "contains", "matches", "starts_with")


def parse(text: str) -> Expr:
    try:
        tokens = tokenize(text)
    except LexError as exc:
        raise ParseError(exc.message, exc.offset, exc.hint) from None
    parser = _Parser(tokens)
    if tokens[0].kind is T.END:
        raise ParseError("expected a condition, found nothing", 0,
                         "write a condition such as visit_count >= 2, or leave `if` out")
    tree = parser.expr()
    parser.expect_end()
    return tree


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0  # parentheses, `not`, calls and lists open around the token

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at(self, kind: T) -> bool:
        return self.tok.kind is kind

    def at_keyword(self, word: str) -> bool:
        return self.tok.kind is T.KEYWORD and self.tok.text == word

    def fail(self, expected: str, hint: str = "") -> ParseError:
        tok = self.tok
        if not hint and tok.kind is T.OP and tok.text == "=":
            hint = "use == to compare"
        return ParseError(f"expected {expected}, found {tok.describe()}", tok.start, hint)

    def nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ParseError(f"too deeply nested: expected at most {MAX_NESTING} levels of "
                             "parentheses, 'not', calls and lists", token.start,
                             "drop parentheses and double 'not's that change nothing, or name "
                             "inner parts as segments")

    def expect_end(self) -> None:
        if self.tok.kind is not T.END:
            hint = ""
            if self.tok.kind in (T.NAME, T.STRING, T.NUMBER):
                hint = "join conditions with 'and' or 'or'"
            raise self.fail("'and', 'or' or the end of the condition", hint)

    def expr(self) -> Expr:
        first = self.conjunction()
        if not self.at_keyword("or"):
            return first
        items = [first]
        while self.at_keyword("or"):
            self.take()
            items.append(self.conjunction())
        return Or(tuple(items), first.start, items[-1].end)

    def conjunction(self) -> Expr:
        first = self.unary()
        if not self.at_keyword("and"):
            return first
        items = [first]
        while self.at_keyword("and"):
            self.take()
            items.append(self.unary())
        return And(tuple(items), first.start, items[-1].end)

    def unary(self) -> Expr:
        if self.at_keyword("not"):
            token = self.take()
            self.nest(token)
            operand = self.unary()
            self.depth -= 1
            return Not(operand, token.start, operand.end)
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.operand()
        tok = self.tok
        if tok.kind is T.OP:
            self.take()
            right = self.operand()
            return Compare(tok.text, left, right, left.start, right.end)
        if tok.kind is T.KEYWORD and tok.text in _WORD_OPS:
            self.take()
            right = self.operand()
            return Compare(tok.text, left, right, left.start, right.end)
        if self.at_keyword("not") and self.tokens[self.i + 1].text == "in":
            self.take()
            self.take()
            right = self.operand()
            return Compare("not in", left, right, left.start, right.end)
        if self.at_keyword("between"):
            self.take()
            low = self.operand()
            if not self.at_keyword("and"):
                raise self.fail("'and' in 'between … and …'")
            self.take()
            high = self.operand()
            return Between(left, low, high, left.start, high.end)
        return left

    def operand(self) -> Expr:
        tok = self.tok
        if tok.kind is T.NUMBER or tok.kind is T.DURATION:
            self.take()
            assert isinstance(tok.value, int | float)
            return Number(tok.value, tok.kind is T.DURATION, tok.start, tok.end)
        if tok.kind is T.STRING:
            self.take()
            assert isinstance(tok.value, str)
            return String(tok.value, tok.start, tok.end)
        if tok.kind is T.KEYWORD and tok.text in ("true", "false"):
            self.take()
            return Bool(tok.text == "true", tok.start, tok.end)
        if tok.kind is T.LBRACKET:
            return self.list_literal()
        if tok.kind is T.LPAREN:
            self.take()
            self.nest(tok)
            inner = self.expr()
            if self.tok.kind is not T.RPAREN:
                raise self.fail("')'")
            self.take()
            self.depth -= 1
            return inner
        if tok.kind is T.NAME:
            self.take()
            if self.tok.kind is T.LPAREN:
                return self.call(tok)
            return Name(tok.text, tok.start, tok.end)
        hint = ""
        if tok.kind is T.KEYWORD:
            hint = f"'{tok.text}' is a keyword and cannot start a condition here"
        raise self.fail("an attribute, a value or '('", hint)

    def call(self, name: Token) -> Expr:
        self.nest(self.take())  # (
        args: list[Expr] = []
        if self.tok.kind is not T.RPAREN:
            args.append(self.expr())
            while self.tok.kind is T.COMMA:
                self.take()
                args.append(self.expr())
        if self.tok.kind is not T.RPAREN:
            raise self.fail("',' or ')'")
        end = self.take().end
        self.depth -= 1
        return Call(name.text, tuple(args), name.start, end)

    def list_literal(self) -> Expr:
        bracket = self.take()
        self.nest(bracket)
        items: list[Expr] = []
        while not self.at(T.RBRACKET):
            items.append(self.operand())
            if self.at(T.COMMA):
                self.take()
            elif not self.at(T.RBRACKET):
                raise self.fail("',' or ']'")
        end = self.take().end  # ]
        self.depth -= 1
        return ListOf(tuple(items), bracket.start, end)
