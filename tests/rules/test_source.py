"""Positions: an error inside an expression points at the character, in the
file's own line and column, whatever the YAML scalar style."""

from __future__ import annotations

import pytest

import rules
from rules.errors import RuleFileError


def first_error(text: str) -> tuple[int, int, str]:
    with pytest.raises(RuleFileError) as info:
        rules.load(text, name="f.yaml")
    problem = info.value.errors[0]
    return problem.line, problem.column, problem.message


HEAD = "site: s\nrules:\n  - id: r\n    do: {widget: bookmark_prompt, text: x}\n"


@pytest.mark.parametrize(("if_text", "line", "column"), [
    ("    if: is_member and vist_count > 1\n", 5, 23),
    ("    if: 'is_member and vist_count > 1'\n", 5, 24),
    ('    if: "is_member and \\"a\\" == vist_count"\n', 5, 33),
    ("    if: |\n      is_member and\n        vist_count > 1\n", 7, 9),
    ("    if: >-\n      is_member\n      and vist_count > 1\n", 7, 11),
    ("    if: is_member and\n      vist_count > 1\n", 6, 7),
])
def test_error_column_points_inside_the_scalar(if_text: str, line: int, column: int) -> None:
    assert first_error(HEAD + if_text)[:2] == (line, column)


def test_korean_text_before_the_error_counts_as_one_column_per_character() -> None:
    text = HEAD + '    if: member_name == "김단골" and vist_count > 1\n'
    assert first_error(text)[:2] == (5, 34)


def test_json_is_accepted_because_it_is_yaml() -> None:
    ruleset = rules.load('{"site": "s", "rules": [{"id": "r", "if": "is_member", '
                         '"do": {"widget": "bookmark_prompt", "text": "x"}}]}')
    assert [r.id for r in ruleset.rules] == ["r"]


def test_yaml_syntax_errors_use_yamls_position() -> None:
    line, column, message = first_error("site: s\nrules: [\n")
    assert (line, column) == (3, 1)
    assert message.startswith("invalid YAML")
