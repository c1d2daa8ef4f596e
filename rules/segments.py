"""A file's segments (named conditions) and the lowering of its conditions through them.

A condition names a segment to inline it. Each segment is parsed and lowered
once, after the segments it names: ``resolve`` walks the references depth first
with an explicit stack, so a chain of 10,000 segments each naming the previous
one costs no recursion. Lowering a condition then finds every segment it names
already lowered, and never lowers another condition inside it.

Reported here: a segment cycle (at the segment where the cycle closes, naming
it), and segments nested deeper than ``MAX_SEGMENT_DEPTH`` (at the name that goes
over). With ``MAX_NESTING`` this bounds the depth of every lowered condition.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rules.catalogue import CATALOGUE
from rules.conditions import Cond, Lowering, PredicateTable
from rules.lexer import KEYWORDS
from rules.limits import MAX_SEGMENT_DEPTH
from rules.options import Report, kind_of
from rules.parse import ParseError, parse
from rules.source import MappingNode, Node, ScalarNode, ScalarText, is_string
from rules.tree import And, Expr, Name, Not, Or

_NAME = re.compile(r"[A-Za-z_]\w*")


class Segments:
    def __init__(self, report: Report, table: PredicateTable) -> None:
        self.report = report
        self.table = table
        self.nodes: dict[str, ScalarNode] = {}
        self.used: set[str] = set()
        # Filled by resolve, for every segment it has reached:
        self.trees: dict[str, tuple[ScalarText, Expr] | None] = {}  # None: did not parse
        self.refs: dict[str, list[Name]] = {}  # the segments it names, in text order
        self.conds: dict[str, Cond | None] = {}  # lowered; None: has errors (reported)
        self.depth: dict[str, int] = {}  # segments in its longest chain of names, itself too
        self.deepest: dict[str, str] = {}  # the segment it names that has that chain
        self.open: set[str] = set()  # on resolve's path, not lowered yet
        self.cyclic: set[str] = set()

    def collect(self, node: Node) -> None:
        """Read ``segments:``: name -> condition text."""
        if not isinstance(node, MappingNode):
            self.report.error(node, f"expected segments as name: condition, found {kind_of(node)}")
            return
        for key_node, value in node.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                self.report.error(key_node, "a segment name must be a word like loyal_buyers")
                continue
            if name in self.nodes:
                self.report.error(key_node, f"segment '{name}' is defined twice")
                continue
            if name in CATALOGUE or name in KEYWORDS:
                self.report.error(key_node, f"segment name '{name}' is taken by an attribute "
                                  "or keyword", "choose another name")
                continue
            if not is_string(value):
                self.report.error(value, f"expected a condition for segment '{name}', "
                                  f"found {kind_of(value)}")
                continue
            self.nodes[name] = value

    def finish(self) -> None:
        """Lower the segments no rule named, and warn about those nothing names."""
        for name, node in self.nodes.items():
            self.segment(name, None)
            if name not in self.used:
                self.report.warn(node, f"segment '{name}' is never used")

    # -- conditions ---------------------------------------------------------------

    def condition(self, node: ScalarNode) -> Cond | None:
        """A condition of the file, lowered; None after reporting its errors."""
        parsed = self.parse(node)
        return None if parsed is None else self.lower(*parsed)

    def parse(self, node: ScalarNode) -> tuple[ScalarText, Expr] | None:
        text = self.report.source.scalar_text(node)
        try:
            return text, parse(text.text)
        except ParseError as exc:
            self.report.error(text.position(exc.offset), exc.message, exc.hint)
            return None

    def lower(self, text: ScalarText, tree: Expr) -> Cond | None:
        lowering = Lowering(self.table, self.segment, self.nodes.keys())
        cond = lowering.lower(tree)
        for err in lowering.errors:
            self.report.error(text.position(err.start), err.message, err.hint)
        return None if lowering.errors else cond

    def segment(self, name: str, used_at: int | None) -> Cond | None:
        """A segment's lowered condition, for a condition naming it at offset
        ``used_at`` (None: asked by ``finish``). None if the segment has errors, or
        while it is being lowered (a cycle, reported by ``resolve``)."""
        if used_at is not None:
            self.used.add(name)
        if name not in self.conds and name not in self.open:
            self.resolve(name)
        return self.conds.get(name)

    # -- resolving ----------------------------------------------------------------

    def resolve(self, root: str) -> None:
        """Lower ``root`` after every segment it names, depth first, without recursion."""
        path = [root]
        names = [iter(self.references(root))]
        self.open.add(root)
        while path:
            for ref in names[-1]:
                if ref.name in self.conds or ref.name in self.cyclic:
                    continue
                if ref.name in self.open:
                    cycle = [*path[path.index(ref.name):], ref.name]
                    self.report.error(self.nodes[ref.name], "segment cycle: " + " -> ".join(cycle),
                                      "a segment cannot refer to itself, directly or through "
                                      "others")
                    self.cyclic.add(ref.name)
                    continue
                path.append(ref.name)
                names.append(iter(self.references(ref.name)))
                self.open.add(ref.name)
                break
            else:
                names.pop()
                name = path.pop()
                self.conds[name] = self.lower_segment(name)
                self.open.discard(name)

    def references(self, name: str) -> list[Name]:
        """Parse a segment; the segments it names (and so uses), in text order."""
        parsed = self.trees[name] = self.parse(self.nodes[name])
        refs = self.refs[name] = []
        todo = [parsed[1]] if parsed is not None else []
        while todo:  # the nodes Lowering.lower takes as conditions
            node = todo.pop()
            if isinstance(node, And | Or):
                todo.extend(reversed(node.items))
            elif isinstance(node, Not):
                todo.append(node.operand)
            elif isinstance(node, Name) and node.name in self.nodes:
                refs.append(node)
                self.used.add(node.name)
        return refs

    def lower_segment(self, name: str) -> Cond | None:
        """Lower a segment once those it names are lowered (or open: a cycle)."""
        parsed = self.trees[name]
        if parsed is None:
            return None
        text, tree = parsed
        deepest = max((ref for ref in self.refs[name] if ref.name in self.depth),
                      key=lambda ref: self.depth[ref.name], default=None)
        self.depth[name] = 1
        if deepest is not None:
            self.depth[name] += self.depth[deepest.name]
            self.deepest[name] = deepest.name
            if self.depth[name] == MAX_SEGMENT_DEPTH + 1:  # where it goes over: report once
                self.report.error(text.position(deepest.start),
                                  "too deeply nested segments: expected at most "
                                  f"{MAX_SEGMENT_DEPTH} levels, found "
                                  + " -> ".join(self.chain(name)),
                                  "write the condition of one of them out where it is used")
            if self.depth[name] > MAX_SEGMENT_DEPTH:
                return None
        cond = self.lower(text, tree)
        return None if name in self.cyclic else cond

    def chain(self, name: str) -> Iterator[str]:
        yield name
        while name in self.deepest:
            name = self.deepest[name]
            yield name
