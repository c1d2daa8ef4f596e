from __future__ import annotations

import pytest

from rules.ruleset import TemplateVar
from rules.template import compile_template, render


def compiled(text: str) -> tuple[object, ...]:
    parts, errors = compile_template(text)
    assert errors == []
    return parts


def test_variables_and_filters_compile_to_parts() -> None:
    assert compiled("{{ member_name | default('고객') }}님, {{ cart_total | won }}") == (
        TemplateVar("member_name", (("default", "고객"),)), "님, ",
        TemplateVar("cart_total", (("won", None),)))


@pytest.mark.parametrize(("text", "profile", "expected"), [
    ("{{ member_name | default('고객') }}님", {}, "고객님"),
    ("{{ member_name | default('고객') }}님", {"member_name": "김단골"}, "김단골님"),
    ("{{ cart_total | won }}", {"cart_total": 30000}, "30,000원"),
    ("{{ purchase_total | number }}", {"purchase_total": 1234567}, "1,234,567"),
    ("{{ visit_count }}번째 방문", {"visit_count": 3}, "3번째 방문"),
    ("{{ product_viewers_now | default(5) | number }}명", {}, "5명"),
    ("<img src=x onerror=alert(1)>", {}, "<img src=x onerror=alert(1)>"),
])
def test_render(text: str, profile: dict[str, object], expected: str) -> None:
    assert render(compiled(text), profile) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("{{ member_nam }}", "unknown variable 'member_nam' in template"),
    ("{{ member_name }}", "'member_name' may be missing for a visitor"),
    ("{{ visit_count | upper }}", "unknown filter 'upper'"),
    ("{{ traffic_source | won }}", "filter 'won' needs a number; 'traffic_source' is a string"),
    ("{{ visit_count", "unterminated '{{'"),
    ("{{ coupons }}", "unknown variable 'coupons' in template"),
])
def test_template_errors(text: str, message: str) -> None:
    _, errors = compile_template(text)
    assert [e.message for e in errors] == [message]
