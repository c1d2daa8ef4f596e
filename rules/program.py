"""A lowered condition (``rules.conditions.Cond``) -> the postfix program of
``rules.ruleset``, without recursion.

A chain is written left-associative (``a b AND c AND``), so its length does not
deepen the evaluation stack. A node shared by several parents (a segment named
several times) is written out at each use: ``program_size`` counts the result
without writing it, so that the file compiler can hold a file to
``MAX_PROGRAM_STEPS`` before any of it is built.
"""

from __future__ import annotations

from rules.conditions import Cond
from rules.ruleset import Code


def program_size(cond: Cond) -> int:
    """The length of ``emit(cond)``, counted without writing it out: a node shared
    by several parents (a segment named many times) is counted once."""
    sizes: dict[int, int] = {}  # by id: every node is alive, held by ``cond``
    todo = [cond]
    while todo:
        node = todo[-1]
        if id(node) in sizes:
            pass
        elif len(node) < 2 or node[0] == "pred":
            sizes[id(node)] = 1
        else:
            missing = [sub for sub in node[1:] if id(sub) not in sizes]
            if missing:
                todo += missing
                continue
            ops = 1 if node[0] == "not" else len(node) - 2
            sizes[id(node)] = ops + sum(sizes[id(sub)] for sub in node[1:])
        todo.pop()
    return sizes[id(cond)]


def emit(cond: Cond) -> list[int]:
    """The postfix program of an IR node."""
    out: list[int] = []
    todo: list[Cond | Code] = [cond]  # popped from the end: an IR node, or an opcode
    while todo:
        item = todo.pop()
        if isinstance(item, Code):
            out.append(item)
            continue
        kind = item[0]
        if kind == "pred":
            out.append(item[1])
        elif kind == "true":
            out.append(Code.TRUE)
        elif kind == "false":
            out.append(Code.FALSE)
        elif kind == "not":
            todo += (Code.NOT, item[1])
        else:
            code = Code.AND if kind == "and" else Code.OR
            for sub in reversed(item[2:]):
                todo += (code, sub)
            todo.append(item[1])
    return out
