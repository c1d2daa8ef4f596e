"""Rule-file text -> YAML nodes that remember where they came from.

PyYAML's node API (``yaml.compose``) keeps a start mark on every node; this
module adds what the rest of the compiler needs on top of it:

- ``Located``: a (line, column) pair, 1-based, as printed in errors;
- ``ScalarText``: the decoded text of a scalar plus a map from an offset in that
  text to its real position in the file, so an error inside an expression points
  at the character, whether the scalar is plain, quoted or a block (``|``/``>``);
- plain Python values for scalars (``scalar_value``) resolved by YAML's tags;
- the limits of composing (``rules.limits``): lists and mappings nested more than
  ``MAX_YAML_DEPTH`` deep, and aliases repeating more text than a file may hold,
  are refused with a ``YamlSyntaxError`` at the alias or collection that goes over.

JSON is accepted because JSON is YAML.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Protocol

import yaml
from yaml.events import AliasEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rules.errors import Problem
from rules.limits import MAX_FILE_BYTES, MAX_YAML_DEPTH

__all__ = [
    "Located",
    "MappingNode",
    "Node",
    "ScalarNode",
    "ScalarText",
    "SequenceNode",
    "Source",
    "YamlSyntaxError",
]


@dataclass(frozen=True, slots=True)
class Located:
    line: int
    column: int


class YamlSyntaxError(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.format())


class _Mark(Protocol):
    """Where PyYAML saw an event (0-based), whichever of its two Mark types."""

    line: int
    column: int


class _Refused(Exception):
    """A limit of rule files met while composing, at a YAML mark."""

    def __init__(self, mark: _Mark | None, message: str, hint: str) -> None:
        self.where = Located(mark.line + 1, mark.column + 1) if mark else Located(1, 1)
        self.message, self.hint = message, hint
        super().__init__(message)


class _Loader(yaml.SafeLoader):
    """SafeLoader that composes only (constructing is done per scalar), within the
    limits of a rule file: at most ``MAX_YAML_DEPTH`` levels of lists and mappings
    (PyYAML composes them recursively), and aliases that repeat no more text than
    a file may hold (each alias is read again wherever it is used)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.repeatable = MAX_FILE_BYTES - len(stream)

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            return self.alias(event.start_mark, super().compose_node(parent, index))
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        if self.depth >= MAX_YAML_DEPTH:
            raise _Refused(event.start_mark,
                           f"too deeply nested: expected at most {MAX_YAML_DEPTH} levels of "
                           "lists and mappings",
                           "a rule file needs a few levels (rules, a rule, its do); look for "
                           "a run of '[', '{' or '-' left by a generator")
        self.depth += 1
        node = super().compose_node(parent, index)
        self.depth -= 1
        return node

    def alias(self, mark: _Mark | None, node: Node | None) -> Node | None:
        if node is None:
            return None
        if node.end_mark is None:  # a list or mapping still being composed
            raise _Refused(mark, "an alias cannot repeat the list or mapping it is inside",
                           "write the repeated part out")
        self.repeatable -= node.end_mark.index - node.start_mark.index
        if self.repeatable < 0:
            raise _Refused(mark, "aliases repeat too much text: expanded, the file is over "
                           f"the size limit ({MAX_FILE_BYTES:,} bytes)",
                           "repeat less through aliases; a condition many rules share can be "
                           "a segment")
        return node


_constructor = yaml.SafeLoader("")


class Source:
    """One rule file's text and its YAML node tree."""

    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self._line_starts = [0]
        for index, char in enumerate(text):
            if char == "\n":
                self._line_starts.append(index + 1)

    def compose(self) -> Node | None:
        """The root node, or None for an empty file. Raises YamlSyntaxError."""
        try:
            return yaml.compose(self.text, Loader=_Loader)
        except _Refused as exc:
            raise YamlSyntaxError(self.problem(exc.where, exc.message, exc.hint)) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            message = f"invalid YAML: {exc.problem or exc.context or 'syntax error'}"
            hint = ""
            if exc.context and exc.problem:
                hint = f"YAML says: {exc.context}"
            if "'\\t'" in str(exc.problem):
                hint = "YAML does not allow tabs for indentation: use spaces"
            elif "expected <block end>" in str(exc.problem):
                hint = "check the indentation of this line against the lines above"
            raise YamlSyntaxError(Problem(self.name, line, column, message, hint)) from None
        except yaml.YAMLError as exc:
            raise YamlSyntaxError(Problem(self.name, 1, 1, f"invalid YAML: {exc}")) from None

    def position(self, index: int) -> Located:
        """Line and column (1-based) of a character index in the text."""
        line = bisect.bisect_right(self._line_starts, index) - 1
        return Located(line + 1, index - self._line_starts[line] + 1)

    def at(self, node: Node) -> Located:
        return self.position(node.start_mark.index)

    def problem(self, where: Node | Located, message: str, hint: str = "") -> Problem:
        loc = where if isinstance(where, Located) else self.at(where)
        return Problem(self.name, loc.line, loc.column, message, hint)

    def scalar_text(self, node: ScalarNode) -> ScalarText:
        return ScalarText(self, node)


def scalar_value(node: ScalarNode) -> Any:
    """The Python value YAML gives a scalar (int, float, bool, None or str)."""
    return _constructor.construct_object(node, deep=True)


def is_string(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str"


_SPACE = " \t\r\n"


class ScalarText:
    """A scalar's decoded text with the file position of each of its characters.

    The decoded text is aligned with the raw source greedily: equal characters
    match; escapes (``\\n``, ``''``) and folded line breaks with their
    indentation consume several raw characters for one decoded character.
    """

    def __init__(self, source: Source, node: ScalarNode) -> None:
        self.source = source
        self.text: str = node.value
        raw = source.text
        start, end = node.start_mark.index, node.end_mark.index
        style = node.style
        p = start
        if style in ("|", ">"):
            newline = raw.find("\n", start)
            p = end if newline < 0 else newline + 1
        elif style in ('"', "'"):
            p = start + 1
        self._index: list[int] = []
        for char in self.text:
            while p < end and raw[p] in _SPACE and char not in _SPACE and raw[p] != char:
                p += 1
            self._index.append(min(p, max(end - 1, start)))
            if p >= end:
                continue
            if style == "'" and char == "'" and raw.startswith("''", p):
                p += 2
            elif style == '"' and raw[p] == "\\" and char != "\\":
                p += _escape_length(raw, p)
            elif style == '"' and raw.startswith("\\\\", p):
                p += 2
            else:
                p += 1
        self._end = p

    def position(self, offset: int) -> Located:
        """File position of the character at ``offset`` in the decoded text
        (``len(text)`` gives the position just after the last character)."""
        if not self._index:
            return self.source.position(self._end)
        if offset >= len(self._index):
            return self.source.position(self._index[-1] + 1)
        return self.source.position(self._index[max(offset, 0)])


def _escape_length(raw: str, p: int) -> int:
    kind = raw[p + 1 : p + 2]
    width = {"x": 2, "u": 4, "U": 8}.get(kind)
    if width is not None:
        return 2 + width
    if kind in ("\n", "\r"):
        q = p + 2
        while q < len(raw) and raw[q] in " \t":
            q += 1
        return q - p
    return 2
