"""The limits of a rule file (rules/limits.py): going over one is a single error at
the place that goes over, with a hint, never a RecursionError; long generated
chains are well within them, and compile and evaluate like short ones."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import rules
from engine.matcher import matcher_class, pure_requested
from rules import limits
from rules.errors import Problem

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
DO = "do: {widget: bookmark_prompt, text: x}"


def one_rule(condition: str, segments: str = "") -> str:
    """A file whose one rule has ``condition`` on line 5 (with no segments), from column 10."""
    return f"site: s\n{segments}rules:\n  - id: r\n    {DO}\n    if: \"{condition}\"\n"


def only_error(text: str) -> Problem:
    compiled = rules.check(text, "f.yaml")
    assert compiled.ruleset is None
    (problem,) = compiled.errors
    assert problem.hint
    return problem


def at(problem: Problem) -> tuple[int, int]:
    return problem.line, problem.column


# -- YAML ---------------------------------------------------------------------------

YAML_TOO_DEEP = "too deeply nested: expected at most 32 levels of lists and mappings"


@pytest.mark.parametrize(("text", "line", "column"), [
    # The file is level 1 and `rules:` level 2, so the 32nd bracket is level 33.
    ("site: s\nrules: " + "[" * 10_000 + "]" * 10_000, 2, 8 + 31),
    ("site: s\nrules: " + "{a: " * 10_000 + "1" + "}" * 10_000, 2, 8 + 4 * 31),
    ("site: s\nrules:\n" + "- " * 10_000 + "x\n", 3, 1 + 2 * 31),
    ("site: s\nrules:\n" + "".join(" " * n + "a:\n" for n in range(1, 1_000)), 34, 33),
], ids=["flow-lists", "flow-mappings", "block-lists", "block-mappings"])
def test_yaml_nested_too_deep_is_an_error_where_it_goes_over(text: str, line: int,
                                                             column: int) -> None:
    problem = only_error(text)
    assert (problem.message, at(problem)) == (YAML_TOO_DEEP, (line, column))


def test_yaml_at_the_depth_limit_is_read() -> None:
    (problem,) = rules.check("site: s\nrules: " + "[" * 31 + "]" * 31).errors
    assert problem.message == "expected a rule (a mapping with id, if, do), found a list"


def test_an_alias_is_read_again_wherever_it_is_used_within_the_file_size() -> None:
    ruleset = rules.load(f"site: s\nrules:\n  - {{id: a, if: &c is_member, {DO}}}\n"
                         f"  - {{id: b, if: *c, {DO}}}\n")
    assert [r.program for r in ruleset.rules] == [(0,), (0,)]
    title = "x" * (3 * 1024 * 1024)
    problem = only_error(f"site: s\nrules:\n  - {{id: a, do: &d {{widget: push_note, title: "
                         f"{title}}}}}\n  - {{id: b, do: *d}}\n  - {{id: c, do: *d}}\n")
    assert (problem.message, at(problem)) == (
        "aliases repeat too much text: expanded, the file is over the size limit "
        "(8,388,608 bytes)", (5, 17))


def test_an_alias_inside_what_it_names_is_an_error() -> None:
    problem = only_error("site: s\nrules: &all [*all]\n")
    assert (problem.message, at(problem)) == (
        "an alias cannot repeat the list or mapping it is inside", (2, 14))


# -- conditions ---------------------------------------------------------------------

NESTED = "too deeply nested: expected at most 32 levels of parentheses, 'not', calls and lists"


@pytest.mark.parametrize(("condition", "offset"), [
    ("(" * 900 + "visit_count > 1" + ")" * 900, 32),
    ("not " * 1_000 + "is_member", 4 * 32),
    ("not (" * 500 + "is_member" + ")" * 500, 5 * 16),  # the 17th `not` is the 33rd level
    ("exists(" * 1_000 + "member_grade" + ")" * 1_000, 7 * 32 + 6),  # the 33rd `(`
    ("visit_count in " + "[" * 1_000 + "1" + "]" * 1_000, 15 + 32),
], ids=["parentheses", "nots", "not-parentheses", "calls", "lists"])
def test_a_condition_nested_too_deep_is_an_error_where_it_goes_over(condition: str,
                                                                     offset: int) -> None:
    problem = only_error(one_rule(condition))
    assert (problem.message, at(problem)) == (NESTED, (5, 10 + offset))


def test_a_condition_at_the_nesting_limit_compiles() -> None:
    ruleset = rules.load(one_rule("(" * 17 + "not " * 15 + "is_member" + ")" * 17))
    assert rules.evaluate(ruleset, {"is_member": False}) == ["r"]


@pytest.fixture(params=["cython", "python"])
def match(request: pytest.FixtureRequest) -> str:
    if request.param == "cython" and pure_requested():
        pytest.skip("ONDO_PUREPYTHON=1 forces the pure-Python matcher")
    return str(request.param)


@pytest.mark.parametrize("terms", [1_000, 10_000])
def test_a_long_generated_or_chain_compiles_and_evaluates(terms: int, match: str) -> None:
    chain = " or ".join(f"visit_count == {n}" for n in range(1, terms + 1))
    compiled = rules.check(one_rule(chain), "f.yaml")
    assert compiled.problems == [] and compiled.ruleset is not None
    assert len(compiled.ruleset.rules[0].program) == 2 * terms - 1
    matcher = matcher_class(pure=match == "python")(compiled.ruleset)
    for visits, expected in ((1, ["r"]), (terms, ["r"]), (terms + 1, []), (0, [])):
        assert matcher.match({"visit_count": visits}, "pageview") == expected
        assert rules.evaluate(compiled.ruleset, {"visit_count": visits}) == expected


@pytest.mark.parametrize("terms", [1_000, 10_000])
def test_a_long_generated_and_chain_compiles_and_evaluates(terms: int, match: str) -> None:
    chain = " and ".join(f"visit_count != {n}" for n in range(1, terms + 1))
    compiled = rules.check(one_rule(chain), "f.yaml")
    assert compiled.problems == [] and compiled.ruleset is not None
    matcher = matcher_class(pure=match == "python")(compiled.ruleset)
    for visits, expected in ((0, ["r"]), (terms + 1, ["r"]), (1, []), (terms, [])):
        assert matcher.match({"visit_count": visits}, "pageview") == expected
        assert rules.evaluate(compiled.ruleset, {"visit_count": visits}) == expected


def test_a_long_and_chain_is_still_linted() -> None:
    chain = " and ".join(f"visit_count > {n}" for n in range(10_000)) + " and visit_count < 5"
    (warning,) = rules.check(one_rule(chain), "f.yaml").warnings
    assert warning.message == ("rule 'r' can never match: its conditions on visit_count "
                               "contradict each other")


# -- segments -----------------------------------------------------------------------


def segment_chain(length: int) -> str:
    """s0 .. s{length-1}, each naming the one before; the rule names the last."""
    body = "".join(f"  s{n}: s{n - 1} and visit_count != {n}\n" for n in range(1, length))
    return one_rule(f"s{length - 1}", "segments:\n  s0: is_member\n" + body)


def test_segments_nested_deeper_than_the_limit_are_one_error_where_they_go_over() -> None:
    problem = only_error(segment_chain(10_000))
    # s8 names s7, the 9th segment of the chain: line 11, at `s7`.
    assert (problem.message, at(problem)) == (
        "too deeply nested segments: expected at most 8 levels, found "
        "s8 -> s7 -> s6 -> s5 -> s4 -> s3 -> s2 -> s1 -> s0", (11, 7))


def test_segments_at_the_depth_limit_compile() -> None:
    ruleset = rules.load(segment_chain(8))
    assert rules.evaluate(ruleset, {"is_member": True, "visit_count": 0}) == ["r"]
    assert rules.evaluate(ruleset, {"is_member": True, "visit_count": 7}) == []


def test_segments_that_multiply_are_refused_before_they_are_written_out() -> None:
    # Each segment names the one before ten times: s7 would take 10^7 steps.
    body = "".join(f"  s{n}: " + " or ".join([f"s{n - 1}"] * 10) + "\n" for n in range(1, 8))
    problem = only_error(one_rule("s7", "segments:\n  s0: is_member\n" + body))
    assert (problem.message, at(problem)) == (
        "conditions too large: with segments inlined, the file's conditions take over "
        "4,000,000 steps", (14, 9))


# -- margins ------------------------------------------------------------------------


@contextmanager
def headroom(frames: int) -> Iterator[None]:
    """Run with only ``frames`` frames left before Python's recursion limit."""
    depth, frame = 0, sys._getframe()
    while frame.f_back is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def test_the_deepest_file_the_limits_allow_compiles_in_a_few_hundred_frames() -> None:
    def deep(inner: str) -> str:
        for n in range(32):  # an `or`, an `and` and a parenthesis per level
            inner = f"is_member or visit_count > {n} and ({inner})"
        return inner

    segments = "segments:\n  s0: " + json.dumps(deep("is_first_visit")) + "\n" + "".join(
        f"  s{n}: {json.dumps(deep(f's{n - 1}'))}\n" for n in range(1, 8))
    text = f"site: s\n{segments}rules:\n  - id: r\n    {DO}\n    if: {json.dumps(deep('s7'))}\n"
    with headroom(400):
        ruleset = rules.load(text)
    assert rules.evaluate(ruleset, {"is_member": True}) == ["r"]


def test_every_limit_is_documented_with_its_value() -> None:
    section = DOC.read_text(encoding="utf-8").split("## Limits", 1)[1]
    values = {name: value for name, value in vars(limits).items() if name.startswith("MAX_")}
    assert len(values) == 6
    for name, value in values.items():
        shown = "8 MiB" if name == "MAX_FILE_BYTES" else f"{value:,}"
        assert re.search(rf"\| {re.escape(shown)} \|", section), name
