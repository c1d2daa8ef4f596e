"""The recipe library: every file compiles cleanly, and every sample profile
in rules/library/tests matches exactly the rules its case expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import rules

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"
CASE_FILES = sorted((LIBRARY / "tests").glob("*.test.yaml"))


def _cases() -> list[Any]:
    out = []
    for case_file in CASE_FILES:
        spec = yaml.safe_load(case_file.read_text(encoding="utf-8"))
        for case in spec["cases"]:
            name = f"{case_file.stem}: {case['name']}"
            out.append(pytest.param(spec["rule_file"], case, id=name))
    return out


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.yaml")), ids=lambda p: p.name)
def test_library_file_has_no_errors_or_warnings(path: Path) -> None:
    compiled = rules.check_file(path)
    assert [p.format() for p in compiled.problems] == []
    assert compiled.ruleset is not None


def test_every_library_file_has_sample_profiles() -> None:
    tested = {yaml.safe_load(f.read_text(encoding="utf-8"))["rule_file"] for f in CASE_FILES}
    assert tested == {p.name for p in LIBRARY.glob("*.yaml")}


def test_library_has_at_least_ten_recipes() -> None:
    ids = [r.id for p in LIBRARY.glob("*.yaml") for r in rules.load(p).rules]
    assert len(ids) >= 10
    assert {"loyal-coupon", "first-visit-signup-nudge", "upsell-free-shipping",
            "bookmark-ad-returners"} <= set(ids)


def test_recipe_ids_are_unique_across_the_library() -> None:
    # A shop combines recipes into one file; a shared id would not compile there.
    ids = [r.id for p in LIBRARY.glob("*.yaml") for r in rules.load(p).rules]
    assert sorted(i for i in set(ids) if ids.count(i) > 1) == []


@pytest.mark.parametrize(("rule_file", "case"), _cases())
def test_sample_profile(rule_file: str, case: dict[str, Any]) -> None:
    ruleset = rules.load(LIBRARY / rule_file)
    matched = rules.evaluate(ruleset, case["profile"], case.get("trigger", "pageview"))
    assert matched == case["expect"]
